// The exported page (explorer/web/export.py writes it into one HTML file): reads the blob inlined in the file,
// mounts the core's map, decoder sliders and drawing pad on it, and keeps the two chosen points with the
// interpolation strip between them. Nothing is fetched: the blob is base64 text in the file, inflated here.
import { canInflate, inflate } from "../bytes.js";
import { MAP_NEAREST } from "../codes.js";
import { mountSliders } from "../decoder_sliders.js";
import { mountDraw } from "../draw.js";
import { halfValue } from "../half.js";
import { lerp, slerp } from "../interpolate.js";
import { mountMap } from "../latent_map.js";
import { project } from "../map_view.js";
import { drawImage } from "../pixels.js";
import * as VAENet from "../vaenet.js";

const STEPS = 8;  // codes on each interpolation path, both ends included

// the float32 blob from the file's form of it: the ranges listed in `half` ([offset, size] in floats, in
// order) are stored as float16 (explorer/web/page_blob.py for_file); every other byte is copied as it is
function widen(raw, half) {
  if (!half.length) return raw;
  const n = raw[4] | (raw[5] << 8) | (raw[6] << 16) | (raw[7] << 24), start = 8 + n + ((4 - ((8 + n) % 4)) % 4);
  const out = new Uint8Array(raw.length + half.reduce((a, [, size]) => a + 2 * size, 0));
  const f32 = new Float32Array(out.buffer), src = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  out.set(raw.subarray(0, start));
  let at = 0, pos = start;  // floats of the data written, bytes of raw read
  for (const [off, size] of half) {
    out.set(raw.subarray(pos, pos + 4 * (off - at)), start + 4 * at);
    pos += 4 * (off - at);
    for (let i = 0; i < size; i++) f32[start / 4 + off + i] = halfValue(src.getUint16(pos + 2 * i, true));
    pos += 2 * size; at = off + size;
  }
  out.set(raw.subarray(pos), start + 4 * at);
  return out;
}

async function readBlob(el) {
  const text = atob(el.textContent.trim()), bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return widen(await inflate(bytes), JSON.parse(el.dataset.half || "[]"));
}

const el = (parent, tag, cls, text) => {
  const e = document.createElement(tag); e.className = cls;
  if (text) e.textContent = text;
  parent.appendChild(e); return e;
};

function section(root, cls, title, note) {
  const s = el(root, "section", "vp-section " + cls);
  el(s, "h2", "vp-h2", title);
  if (note) el(s, "p", "vp-note", note);
  return s;
}

// two chosen points (a dot, an empty spot, a drawing) and the paths between them, decoded here
function buildChosen(root, model) {
  const s = section(root, "vp-chosen", "Two chosen points and the paths between them",
    "Tap or click the map to choose a point (a dot chooses its test image); the last two chosen are A and B.");
  const slots = el(s, "div", "vp-slots"), C = { model, points: [], rows: {} };
  const scale = Math.max(1, Math.round(56 / model.W));
  const canvas = (parent) => { const c = el(parent, "canvas", "vp-img"); c.width = model.W * scale; c.height = model.H * scale; return c; };
  C.slots = ["A", "B"].map((name) => {
    const box = el(slots, "figure", "vp-slot");
    return { canvas: canvas(box), text: el(box, "figcaption", "vp-cap", `${name}: not chosen yet`) };
  });
  for (const [key, label] of [["lerp", "linear (lerp)"], ["slerp", "spherical (slerp)"]]) {
    const row = el(s, "div", "vp-row");
    el(row, "div", "vp-row-label", label);
    const strip = el(row, "div", "vp-strip");
    C.rows[key] = Array.from({ length: STEPS }, () => canvas(strip));
  }
  C.info = el(s, "p", "vp-note", "");
  return C;
}

function showChosen(C) {
  const m = C.model, [a, b] = C.points;
  C.points.forEach((p, k) => { drawImage(C.slots[k].canvas, VAENet.decode(m, p.z), m.C, m.H, m.W); C.slots[k].text.textContent = `${"AB"[k]}: ${p.what}`; });
  if (!b) return;
  for (const [key, path] of [["lerp", lerp(a.z, b.z, STEPS)], ["slerp", slerp(a.z, b.z, STEPS)]]) {
    path.forEach((z, i) => drawImage(C.rows[key][i], VAENet.decode(m, z), m.C, m.H, m.W));
  }
  C.info.textContent = `log p(z) at the middle of each path: lerp ${VAENet.logPrior(lerp(a.z, b.z, 3)[1]).toFixed(2)}, `
    + `slerp ${VAENet.logPrior(slerp(a.z, b.z, 3)[1]).toFixed(2)} nats`;
}

async function start() {
  const root = document.getElementById("vp-root"), blob = await readBlob(document.getElementById("vp-blob"));
  const p = VAENet.parse(blob), model = p.model, D = model.latent, h = p.header, a = p.arrays;
  root.replaceChildren();
  const mapBox = section(root, "vp-map", "The latent map", "Drag a finger or the mouse across the map: the "
    + "decoder draws the image under it, in this page. “point” decodes as you drag, “pan” moves the map.");
  const side = el(root, "div", "vp-side");
  const C = buildChosen(side, model);
  const chooser = (z, what) => {
    C.points = [...C.points, { z: Array.from(z), what }].slice(-2);
    const at = h.mode === MAP_NEAREST ? null : project(map.state, { mu: Array.from(z), sigma: new Array(D).fill(0) });
    map.setSelected(at ? at.xy : null);
    showChosen(C);
  };
  const onPick = (pick) => {
    if (pick.index === undefined) { chooser(pick.z, "a point on the map"); return; }
    const i = pick.index, label = a.labels.data[i];
    chooser(a.mu.data.subarray(i * D, (i + 1) * D), `test image ${i + (h.index_offset || 0)} (label ${label})`);
  };
  const map = mountMap(el(mapBox, "div", "vp-mount"), { onPick, pointTool: true });
  map.load(blob);
  map.watch();
  const sliders = mountSliders(el(section(side, "vp-sliders", "Decoder sliders",
    "Each slider moves z along one direction; the image is decoded as it moves."), "div", "vp-mount"));
  sliders.load(blob);
  let drawn = null;
  const draw = mountDraw(el(section(side, "vp-draw", "Draw your own",
    "The encoder runs in this page as you draw; the drawing's point is ringed on the map. “Use it” makes it a chosen point."), "div", "vp-mount"),
  { onEncode: (q) => { drawn = q; map.showDrawn(q); }, onUse: () => { if (drawn) chooser(drawn.mu, "your drawing"); return "Chosen as a point."; } });
  draw.load(blob);
  // for tests and benchmarks: the page's own model and paths
  window.__vp = { model, map, sliders, draw, chosen: C, lerp, slerp, choose: chooser,
    decode: (z) => Array.from(VAENet.decode(model, z)),
    encode: (x) => { const q = VAENet.encode(model, x); return [Array.from(q.mu), Array.from(q.sigma)]; } };
  root.dataset.ready = "1";
}

// runs in the exported file only (a page that imports the module for its tests has no blob)
if (document.getElementById("vp-blob")) start().catch((err) => {
  const root = document.getElementById("vp-root");
  root.replaceChildren();
  el(root, "p", "vp-error", "This page could not load its model: " + err.message
    + (!canInflate() ? " (this browser is too old to unpack it: use one from 2023 or later)" : ""));
});
