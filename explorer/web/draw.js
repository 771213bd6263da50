// Draw your own: a pen canvas whose drawing is prepared as the server would prepare a PNG of it
// (Preprocess), encoded by the model in this page (VAENet) and decoded again, once per animation frame
// while the pen moves. Each encoding goes to onEncode({mu, sigma, variational}; null on Clear), so a host
// can place it on a map. The host hears the image only on "Use it" (onUse). Header
// (explorer/ui/widgets/draw_panel.py): the model; number ref_border (the data set's background level for
// match_background's inversion; absent: never invert).
import { KIND_VAE } from "./codes.js";
import { drawImage } from "./pixels.js";
import * as Preprocess from "./preprocess.js";
import * as Strokes from "./strokes.js";
import * as VAENet from "./vaenet.js";

const PEN_WIDTH = 22, SIDE = 280, SHOWN = 8;

function el(parent, tag, cls, text) {
  const e = document.createElement(tag);
  e.className = cls;
  if (text) e.textContent = text;
  parent.appendChild(e);
  return e;
}

function buildDraw(root) {
  const S = { root, encoded: 0, hasInk: false, lastImage: null, pointer: null, raf: 0, model: null };
  S.encodeAt = (x) => VAENet.encode(S.model, x);  // for tests: the pad's encoder on an image (C*H*W), as the map's decodeAt
  const pad = el(root, "div", "vxd-pad");
  S.canvas = el(pad, "canvas", "vxd-canvas");
  S.canvas.width = SIDE; S.canvas.height = SIDE;
  S.ctx = S.canvas.getContext("2d", { willReadFrequently: true });
  Strokes.clear(S.ctx);
  const buttons = el(pad, "div", "vxd-buttons");
  S.clear = el(buttons, "button", "vxd-clear", "Clear");
  S.use = el(buttons, "button", "vxd-use", "Use it");
  S.use.disabled = true;
  const side = el(root, "div", "vxd-side");
  el(side, "div", "vxd-label", "the model's reconstruction");
  S.recon = el(side, "canvas", "vxd-recon");
  S.mu = el(side, "div", "vxd-numbers");
  S.sigma = el(side, "div", "vxd-numbers");
  S.note = el(side, "div", "vxd-note", "Draw a digit on the white square.");
  listen(S);
  return S;
}

function canvasPoint(S, e) {  // CSS pixels inside the border -> canvas pixels
  const c = S.canvas, r = c.getBoundingClientRect();
  return [(e.clientX - r.left - c.clientLeft) * (c.width / c.clientWidth),
          (e.clientY - r.top - c.clientTop) * (c.height / c.clientHeight)];
}

function listen(S) {
  const c = S.canvas;
  c.addEventListener("pointerdown", (e) => {
    if (S.pointer !== null || (e.pointerType === "mouse" && e.button !== 0)) return;  // one pen at a time
    e.preventDefault();
    try { c.setPointerCapture(e.pointerId); } catch (_) { /* a pointer already gone: draw without capture */ }
    S.pointer = e.pointerId; S.last = canvasPoint(S, e);
    Strokes.dot(S.ctx, S.last, PEN_WIDTH);
    inked(S);
  });
  c.addEventListener("pointermove", (e) => {
    if (e.pointerId !== S.pointer) return;
    const moves = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const m of moves.length ? moves : [e]) {
      const p = canvasPoint(S, m);
      Strokes.segment(S.ctx, S.last, p, PEN_WIDTH);
      S.last = p;
    }
    inked(S);
  });
  const end = (e) => {
    if (e.pointerId !== S.pointer) return;
    S.pointer = null;
    if (S.raf) { cancelAnimationFrame(S.raf); S.raf = 0; }
    encodeNow(S);  // the stroke's final state, without waiting for a frame
  };
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) c.addEventListener(type, end);
  S.clear.addEventListener("click", () => clearDrawing(S));
  S.use.addEventListener("click", () => {
    const im = S.lastImage;
    if (!im || !S.onUse) return;
    const said = S.onUse({ pixels: im.pixels, inverted: im.inverted });
    if (typeof said === "string") S.note.textContent = said;
  });
}

function inked(S) {
  S.hasInk = true;
  if (!S.raf) S.raf = requestAnimationFrame(() => { S.raf = 0; encodeNow(S); });
}

function clearDrawing(S) {
  Strokes.clear(S.ctx);
  Object.assign(S, { hasInk: false, lastImage: null });
  S.use.disabled = true;
  S.recon.getContext("2d").clearRect(0, 0, S.recon.width, S.recon.height);
  S.mu.textContent = ""; S.sigma.textContent = "";
  S.note.textContent = "Draw a digit on the white square.";
  S.onEncode(null);
}

const listed = (name, v) => `${name} = ` + Array.from(v.slice(0, SHOWN), (x) => x.toFixed(2)).join(", ")
  + (v.length > SHOWN ? ` … (${v.length} dimensions)` : "");

function encodeNow(S) {
  const m = S.model;
  if (!m || !S.hasInk) return;
  try {
    const t0 = performance.now();
    const im = Preprocess.toModelImage(S.ctx.getImageData(0, 0, SIDE, SIDE), m.C, m.H, m.W, S.refBorder);
    const q = VAENet.encode(m, im.pixels);
    drawImage(S.recon, VAENet.decode(m, q.mu), m.C, m.H, m.W);
    S.lastImage = im;
    S.encoded += 1; S.root.dataset.encoded = String(S.encoded);
    S.use.disabled = false;
    const variational = m.kind === KIND_VAE;
    S.mu.textContent = listed(variational ? "μ" : "z", q.mu);
    S.sigma.textContent = variational ? listed("σ", q.sigma) : "";
    S.note.textContent = `decode(μ), encoded and decoded in this page in ${(performance.now() - t0).toFixed(1)} ms`
      + (im.inverted ? " · inverted to the data set's background" : "");
    S.onEncode({ mu: Array.from(q.mu), sigma: Array.from(q.sigma), variational });
  } catch (err) {
    S.note.textContent = "The model could not run on this drawing: " + err.message;
  }
}

function loadModel(S, blob) {
  const p = VAENet.parse(blob), m = p.model;
  if (!m) throw new Error("no model in the payload");
  if (m.C !== 1 && m.C !== 3) throw new Error(`a model with ${m.C} channels cannot take a drawing`);
  S.model = m;
  S.refBorder = typeof p.header.ref_border === "number" ? p.header.ref_border : null;
  const scale = Math.max(1, Math.round(112 / Math.max(m.W, m.H)));
  S.recon.width = m.W * scale; S.recon.height = m.H * scale;
  encodeNow(S);  // a new model (or image size) re-encodes what is on the canvas
}

// Mounts the drawing pad into root (its content replaced; root gets the class vaex-draw the CSS styles) and
// returns its handle. callbacks: onEncode(q) after each encoding ({mu, sigma, variational}; null on Clear);
// onUse({pixels: Float32Array (C*H*W) in [0, 1], inverted}) on "Use it", returning a line to show or nothing
// (onUse null: no such button).
//   load(blob): a blob with the model (payload.pack) and ref_border; true, or false with the reason shown
//   clear(): an empty pad; state: the pad's state (also root.__draw; for tests)
export function mountDraw(root, { onEncode = () => {}, onUse = null } = {}) {
  root.classList.add("vaex-draw"); root.replaceChildren();
  const S = buildDraw(root);
  Object.assign(S, { onEncode, onUse });
  if (!onUse) S.use.style.display = "none";
  root.__draw = S;
  return {
    state: S,
    load(blob) {
      try { loadModel(S, blob); root.dataset.ready = "1"; return true; }
      catch (err) { S.model = null; S.note.textContent = "Drawing cannot run in this page: " + err.message; return false; }
    },
    clear: () => clearDrawing(S),
  };
}
