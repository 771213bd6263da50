// Decoder sliders in the page: each slider moves z along one direction U[:, k]; the image is decoded here
// in the same frame as the input event. The host hears the slider values once a gesture ends (onChange), for
// the traversal grid it draws. Header (explorer/ui/pages/decoder.py slider_payload): arrays z0 (D), U (D, K),
// lo, hi, c (K), label_dim (K: the latent dimension a slider moves, -1 for a principal direction), label_score
// (K); numbers score_kind (an index of SCORE_KINDS), version (a new start point resets the sliders).
import { SCORE_KINDS } from "./codes.js";
import { drawImage } from "./pixels.js";
import * as VAENet from "./vaenet.js";

function sliderLabel(h, a, k) {
  const d = a.label_dim.data[k];
  if (d < 0) return `PC ${k + 1}`;
  const kind = SCORE_KINDS[h.score_kind];
  return kind ? `z${d + 1} (${kind} ${a.label_score.data[k].toFixed(2)})` : `z${d + 1}`;
}

function buildSliders(root) {
  root.innerHTML = "";  // static markup only; labels and numbers are set with textContent
  const S = { root, inputs: [], outs: [], decodes: 0, stats: [] };
  const wrap = document.createElement("div"); wrap.className = "vd-wrap"; root.appendChild(wrap);
  S.list = document.createElement("div"); S.list.className = "vd-list"; wrap.appendChild(S.list);
  const view = document.createElement("div"); view.className = "vd-view"; wrap.appendChild(view);
  S.canvas = document.createElement("canvas"); S.canvas.className = "vd-image"; view.appendChild(S.canvas);
  S.info = document.createElement("div"); S.info.className = "vd-info"; view.appendChild(S.info);
  return S;
}

function zOf(S) {
  // z = z0 + U (c - U^T z0): the part of z0 outside span(U) stays
  const { z0, U } = S, D = z0.length, K = S.inputs.length, z = Float64Array.from(z0);
  for (let k = 0; k < K; k++) {
    let ck0 = 0;
    for (let d = 0; d < D; d++) ck0 += U[d * K + k] * z0[d];
    const delta = parseFloat(S.inputs[k].value) - ck0;
    for (let d = 0; d < D; d++) z[d] += U[d * K + k] * delta;
  }
  return Array.from(z);
}

function decodeNow(S, t0) {
  const z = zOf(S), t1 = performance.now();
  const img = VAENet.decode(S.model, z);
  const t2 = performance.now();
  drawImage(S.canvas, img, S.model.C, S.model.H, S.model.W);
  const t3 = performance.now();
  S.decodes += 1; S.root.dataset.decodes = String(S.decodes);
  S.stats.push(t3 - t0); if (S.stats.length > 2000) S.stats.shift();
  S.info.textContent = `mean of p(x | z), decoded in this page in ${(t2 - t1).toFixed(1)} ms · ‖z‖ = ${Math.hypot(...z).toFixed(2)}`;
  for (let k = 0; k < S.inputs.length; k++) S.outs[k].textContent = parseFloat(S.inputs[k].value).toFixed(2);
}

function loadSliders(S, blob) {
  const p = VAENet.parse(blob), h = p.header, a = p.arrays, K = a.c.shape[0];
  S.model = p.model; S.z0 = Array.from(a.z0.data); S.U = a.U.data;
  const scale = Math.max(1, Math.round(280 / S.model.W));
  S.canvas.width = S.model.W * scale; S.canvas.height = S.model.H * scale;
  if (S.version !== h.version || S.inputs.length !== K) {
    S.version = h.version; S.list.innerHTML = ""; S.inputs = []; S.outs = [];
    for (let k = 0; k < K; k++) {
      const row = document.createElement("label"); row.className = "vd-row";
      const name = document.createElement("span"); name.className = "vd-name"; name.textContent = sliderLabel(h, a, k);
      const input = document.createElement("input");
      Object.assign(input, { type: "range", min: a.lo.data[k], max: a.hi.data[k], step: 0.01, value: a.c.data[k] });
      input.dataset.k = String(k);
      const out = document.createElement("span"); out.className = "vd-value";
      input.addEventListener("input", (e) => decodeNow(S, e.timeStamp));  // same frame: no server asked
      input.addEventListener("change", () => S.onChange(S.inputs.map((i) => parseFloat(i.value))));
      row.append(name, input, out); S.list.appendChild(row); S.inputs.push(input); S.outs.push(out);
    }
  }
  decodeNow(S, performance.now());
}

// Mounts the sliders into root (its content replaced; root gets the class vd-root the CSS styles) and returns
// its handle. callbacks: onChange(values) when a slider is let go (one number a slider, along U's columns).
//   load(blob): a blob as slider_payload packs it; true, or false with the reason shown under the image
//   state: the sliders' state (also root.__sliders; for tests and benchmarks)
export function mountSliders(root, { onChange = () => {} } = {}) {
  root.classList.add("vd-root");
  const S = buildSliders(root);
  S.onChange = onChange;
  root.__sliders = S;
  return {
    state: S,
    load(blob) {
      try { loadSliders(S, blob); root.dataset.ready = "1"; return true; }
      catch (err) { S.info.textContent = "The decoder could not run in this page: " + err.message; return false; }
    },
  };
}
