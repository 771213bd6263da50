// The latent map drawn in the page: a canvas scatter of the encoded test set (zoom, pan, a legend that hides
// labels), the decoder run under the pointer every animation frame, and a click that picks the nearest dot
// (or, on empty space, that z). Knows no host: an adapter passes it blobs and callbacks.
// Header numbers (explorer/web/payload.py map_payload): mode MAP_AXES = the latent's own axes, MAP_PCA
// (z = mean + p U), MAP_NEAREST = a non-invertible map (t-SNE, UMAP: the nearest encoded point is decoded).
import { canInflate, inflate, sameBytes } from "./bytes.js";
import { loadHoles } from "./map_holes.js";
import { applyMarks, loadMarks } from "./map_marks.js";
import { sx, sy } from "./map_coords.js";
import { attach, latentAt, reset, savePng, showHover, zoom } from "./map_pointer.js";
import { addSelectTools } from "./map_select.js";
import { buildGrid } from "./map_grid.js";
import { indexLabels, PALETTE, rgb } from "./map_points.js";
import { loadTiles, TILE_MAX, TILE_NAMES, tileSource } from "./map_tiles.js";
import { overlay, project, redraw, resize } from "./map_view.js";
import * as VAENet from "./vaenet.js";

function build(root, pointTool) {
  root.innerHTML = "";  // our own static markup only; every number below is set with textContent
  const el = (tag, cls, parent = root) => { const e = document.createElement(tag); e.className = cls; parent.appendChild(e); return e; };
  const S = { root, view: null, hidden: new Set(), hover: null, stats: { frame: [], decode: [], shown: [] }, decodes: 0, drawn: null };
  const wrap = el("div", "vx-wrap");
  const bar = el("div", "vx-bar", wrap);  // the legend and the tools sit above the map, off its data
  S.legend = el("div", "vx-legend", bar);
  const tools = el("div", "vx-tools", bar);
  for (const [label, f] of [["+", () => zoom(S, 1 / 1.5)], ["−", () => zoom(S, 1.5)], ["reset", () => reset(S)], ["PNG", () => savePng(S)]]) {
    const b = el("button", "vx-btn", tools); b.textContent = label; b.onclick = f;
  }
  S.tileSelect = el("select", "vx-btn vx-tiles", tools);
  S.tileSelect.title = `Zoomed in, with ${TILE_MAX} points or fewer in view, each point is drawn as a picture: `
    + "images: the data's own image (16 grey levels); decoded: this page's decoder on the point's own posterior mean";
  S.tileSelect.onchange = () => { S.tiles.choice = Number(S.tileSelect.value); redraw(S); };
  S.plot = el("div", "vx-plot", wrap);
  S.base = el("canvas", "vx-base", S.plot); S.over = el("canvas", "vx-over", S.plot);
  S.card = el("div", "vx-card", S.plot);  // the decoded preview floats over the map while the pointer is on it
  S.preview = el("canvas", "vx-preview", S.card);
  S.info = el("div", "vx-info", wrap);
  S.info.textContent = "Point at the map: the decoder draws the image there.";
  addSelectTools(S, tools, pointTool);
  // for tests and benchmarks: where each dot is on screen (CSS px, relative to the map canvas)
  S.decodeAt = (z) => Array.from(VAENet.decode(S.model, z));  // the page's current decoder at a fixed z
  S.screenCoords = () => Array.from({ length: S.n }, (_, i) => [sx(S, S.coords[2 * i]), sy(S, S.coords[2 * i + 1])]);
  S.toScreen = (x, y) => [sx(S, x), sy(S, y)];  // the page's own map -> CSS px transform
  attach(S);
  return S;
}

function load(S, blob) {
  const p = VAENet.parse(blob), h = p.header;
  // the same map (shape and layout) keeps the user's zoom and pan, if they made any; a new model or a
  // training's next payload is fitted afresh
  const same = S.header && JSON.stringify(S.header.arrays) === JSON.stringify(h.arrays) && S.header.mode === h.mode;
  S.header = h; S.model = p.model; S.coords = p.arrays.coords.data; S.labels = p.arrays.labels.data;
  S.mu = p.arrays.mu ? p.arrays.mu.data : null; S.mean = p.arrays.pca_mean ? p.arrays.pca_mean.data : null;
  S.U = p.arrays.pca_components ? p.arrays.pca_components.data : null;
  S.n = p.arrays.coords.shape[0]; S.payloadBytes = blob.byteLength;
  indexLabels(S); S.grid = buildGrid(S.coords, S.n);  // once per blob: what every redraw and pick reads
  loadMarks(S, p); loadHoles(S, p); loadTiles(S, p); tileOptions(S);
  if (p.arrays.thumbs_z) inflateThumbs(S, p);
  if (!same) S.hidden.clear();
  if (!same || !S.userView) { S.view = null; S.userView = false; }
  S.drawn = S.q ? project(S, S.q) : null;
  const C = S.model.C, H = S.model.H, W = S.model.W, scale = Math.max(1, Math.round(160 / W));
  if (S.preview.width !== W * scale || S.preview.height !== H * scale) { S.preview.width = W * scale; S.preview.height = H * scale; }
  legend(S);
  resize(S);
  S.drawMs = undefined;  // a new blob's first draw is slower than the rest (the page's code warming up): not a measure
  if (S.hover) showHover(S, { px: S.hover.screen[0], py: S.hover.screen[1], t: performance.now() });  // new weights
}

// thumbnails sent deflated (payload.py map_parts) join the map once inflated (native code, off the main
// thread): the map is drawn first; a newer blob by then takes their place. The same bytes as the last blob's
// (another blob of the same points) reuse the last pictures at once; a browser without DecompressionStream
// (Safari before 16.4) draws the map without them and says so
function inflateThumbs(S, p) {
  const h = p.header, z = p.arrays.thumbs_z.data, bytes = new Uint8Array(z.buffer, z.byteOffset, h.thumbs_z_bytes);
  if (S.inflated && sameBytes(S.inflated.bytes, bytes)) { S.thumbs = S.inflated.thumbs; loadTiles(S, p); tileOptions(S); return; }
  if (!canInflate()) {
    S.info.textContent = "This browser cannot unpack the map's pictures (no DecompressionStream): the map works without them.";
    return;
  }
  S.thumbsReady = inflate(bytes).then((thumbs) => {
    if (S.header !== h) return;
    S.thumbs = thumbs;
    S.inflated = { bytes: bytes.slice(), thumbs };
    loadTiles(S, p); tileOptions(S); redraw(S);
  }).catch((err) => { if (S.header === h) S.info.textContent = "The map's pictures could not be unpacked: " + err.message; });
}

// the zoomed-in sources this blob can give, the one drawn chosen; no choice to make: no control
function tileOptions(S) {
  const sel = S.tileSelect;
  sel.replaceChildren();
  for (const [code, name] of TILE_NAMES) {
    if (!S.tiles.sources.includes(code)) continue;
    const o = document.createElement("option"); o.value = String(code); o.textContent = "zoomed in: " + name; sel.appendChild(o);
  }
  sel.value = String(tileSource(S));
  sel.hidden = S.tiles.sources.length < 2;
}

function legend(S) {
  S.legend.innerHTML = "";
  const labs = S.header.unlabelled ? [] : S.labs;  // no labels given: nothing to name or hide
  for (const lab of labs) {
    const b = document.createElement("button");
    b.className = "vx-chip" + (S.hidden.has(lab) ? " off" : "");
    b.style.setProperty("--c", rgb(PALETTE[lab % PALETTE.length]));
    b.textContent = String(lab);
    b.title = "click: hide or show this label; double-click: show only this label";
    b.onclick = () => { S.hidden.has(lab) ? S.hidden.delete(lab) : S.hidden.add(lab); legend(S); redraw(S); };
    b.ondblclick = () => { S.hidden = new Set(labs.filter((l) => l !== lab)); legend(S); redraw(S); };
    S.legend.appendChild(b);
  }
}

// Mounts a latent map into root (its content replaced; root gets the class vx-root the CSS styles) and returns
// its handle. callbacks: onPick({index} | {z}) after a click, onSelect({ids}) when a box or lasso ends.
// pointTool: a "point" tool first and chosen, under which a drag (a finger's too) decodes instead of panning.
//   load(blob): a blob from explorer/web/payload.py map_payload; true, or false with the reason shown on the map
//   setMarks(marks): the star and marks sent apart from the blob (payload.py map_marks), replacing the blob's
//   setSelected(xy, cov): the star at xy (map units; cov [a, b, b, d] or null), xy null: no star
//   showDrawn(q): a drawing's posterior {mu, sigma} as a ringed dot (linear maps only), null: none
//   watch() -> stop: fit the canvas to root's width whenever it changes, until stop() is called
//   latentAt(px, py): {z, index, xy} under a canvas point (CSS px); state: the map's state (also root.__map)
export function mountMap(root, { onPick = () => {}, onSelect = () => {}, pointTool = false } = {}) {
  root.classList.add("vx-root");
  const S = build(root, pointTool);
  Object.assign(S, { onPick, onSelect });
  root.__map = S;  // for tests and benchmarks
  return {
    state: S,
    load(blob) {
      try { load(S, blob); root.dataset.ready = "1"; return true; }
      catch (err) { S.info.textContent = "The map could not be drawn in this page: " + err.message; return false; }
    },
    setMarks(marks) {
      if (!S.header) return;
      if (applyMarks(S, marks || {})) redraw(S); else overlay(S);
    },
    setSelected(xy, cov = null) {
      if (!S.header) return;
      S.header.selected_xy = xy; S.header.selected_cov = xy ? cov : null; overlay(S);
    },
    showDrawn(q) { S.q = q; if (S.header) { S.drawn = project(S, q); overlay(S); } },
    watch() { S.observer.observe(S.plot); return () => S.observer.disconnect(); },
    latentAt: (px, py) => latentAt(S, px, py),
  };
}
