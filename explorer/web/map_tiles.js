// The latent map zoomed in: where at most TILE_MAX points are in view, each is drawn as a small picture at its
// place instead of a dot, framed in its label's colour: the data's own image (the blob's thumbnails) or the
// page's decoder run on the point's own posterior mean. A tile is made once a point (cached) and at most
// BUDGET_MS of them a frame, so a pan draws at once from the cache and shows a dot where a tile is still to come.
// Header number: tiles, the source the host asks for first (codes.js TILE_*); the person's choice then stays.
import { MAP_AXES, TILE_DECODED, TILE_DOTS, TILE_IMAGE } from "./codes.js";
import { halves } from "./half.js";
import { sx, sy } from "./map_coords.js";
import { countNear, nearestInGrid, pointsNear } from "./map_grid.js";
import { PALETTE, rgb } from "./map_points.js";
import { imageCanvas, thumbPixels } from "./pixels.js";
import * as VAENet from "./vaenet.js";

// a few hundred: drawing that many cached tiles takes a few ms, and past it tiles big enough to read cover
// most of the plot anyway (BENCHMARKS.md, issue 24)
export const TILE_MAX = 300;
const BUDGET_MS = 6;  // tile-making per animation frame; the hover decode shares the frame
const KEEP = 8192;  // tiles cached (28 x 28 MNIST: 3 KB each), the least recently drawn dropped first
const MIN_PX = 28, MAX_PX = 112, FRAME = 2;  // tile sizes (CSS px; MNIST at 1:1 or more) and the label frame
export const TILE_NAMES = [[TILE_DOTS, "dots"], [TILE_IMAGE, "images"], [TILE_DECODED, "decoded"]];

// once per blob: the sources this blob can give, the points' means (a PCA map's come as float16), and the
// caches kept only if every number of the blob's data is the one they were made from (new weights: redone)
export function loadTiles(S, p) {
  const T = S.tiles || (S.tiles = { cache: new Map(), choice: null, drawn: [], missing: [] });
  if (!S.mu && p.arrays.mu16) S.mu = halves(p.arrays.mu16.data, S.n * S.model.latent);
  const decodable = S.mu || (S.header.mode === MAP_AXES && S.model.latent <= 2);
  T.sources = [TILE_DOTS, ...(S.thumbs ? [TILE_IMAGE] : []), ...(decodable ? [TILE_DECODED] : [])];
  if (!sameWords(T.data, p.data)) { T.cache.clear(); T.spacing = undefined; }
  T.data = p.data;
}

function sameWords(a, b) {
  if (!a || a.length !== b.length) return false;
  const x = new Int32Array(a.buffer, a.byteOffset, a.length), y = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// what the map draws zoomed in: the person's choice, else the host's, else the first source that exists
export function tileSource(S) {
  const T = S.tiles, want = T.choice ?? S.header.tiles ?? TILE_IMAGE;
  return T.sources.includes(want) ? want : T.sources[T.sources.length - 1];
}

// the visible points in view, ascending (drawn in that order), or null when there are more than cap
function inView(S, cap) {
  const v = S.view, G = S.grid;
  if (countNear(G, v.x0, v.x1, v.y0, v.y1, 20 * cap) > 20 * cap) return null;
  const ids = [], xy = S.coords;
  pointsNear(G, v.x0, v.x1, v.y0, v.y1, (i) => {
    const x = xy[2 * i], y = xy[2 * i + 1];
    if (x >= v.x0 && x <= v.x1 && y >= v.y0 && y <= v.y1 && !S.hidden.has(S.labels[i])) ids.push(i);
  });
  return ids.length > cap ? null : ids.sort((a, b) => a - b);
}

// a tile's side: the points' median distance to their nearest neighbour (map units, from a sample) twice over,
// at this zoom; so tiles grow as the person zooms in and keep their size while they pan
function tileSize(S) {
  const T = S.tiles;
  if (T.spacing === undefined) {
    const d = [], step = Math.max(1, Math.floor(S.n / 200));
    for (let i = 0; i < S.n; i += step) d.push(nearestInGrid(S.grid, S.coords, S.coords[2 * i], S.coords[2 * i + 1], 1, 1, (j) => j === i)[1]);
    d.sort((a, b) => a - b);
    T.spacing = d.length ? d[d.length >> 1] : 0;
  }
  const k = (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0);
  return Math.round(Math.min(MAX_PX, Math.max(MIN_PX, 2 * k * T.spacing)));
}

function zOf(S, i) {
  const D = S.model.latent;
  return S.mu ? S.mu.subarray(i * D, (i + 1) * D) : S.coords.subarray(2 * i, 2 * i + D);  // MAP_AXES: the map is z
}

function make(S, src, i) {
  const m = S.model, px = src === TILE_IMAGE ? thumbPixels(S.thumbs, i, m.pixels) : VAENet.decode(m, zOf(S, i));
  return imageCanvas(px, m.C, m.H, m.W);
}

function cached(T, key) {
  const t = T.cache.get(key);
  if (t) { T.cache.delete(key); T.cache.set(key, t); }  // now the newest
  return t;
}

// per label: the tiles' opacity, unselected [0] and selected [1] (as the dots fade: map_points.js depths)
function opacity(S) {
  const sel = S.sel && S.sel.size > 0;
  return S.labs.map((lab) => (S.highlight && S.highlight.size && !S.highlight.has(lab) ? [0.15, 0.15] : sel ? [0.3, 1] : [1, 1]));
}

// draws the tiles when few enough points are in view and says so (false: draw the dots instead); again()
// redraws the map once more tiles are made
export function drawTiles(S, ctx, again) {
  const T = S.tiles, src = tileSource(S), ids = src === TILE_DOTS ? null : inView(S, TILE_MAX);
  T.on = !!ids; T.source = src; T.drawn = []; T.missing = [];
  if (!ids) return false;
  const s = (T.size = tileSize(S)), op = opacity(S), sel = S.sel;
  ctx.imageSmoothingEnabled = false;
  for (const i of ids) {
    const k = S.cls[i], x = Math.round(sx(S, S.coords[2 * i]) - s / 2), y = Math.round(sy(S, S.coords[2 * i + 1]) - s / 2);
    const tile = cached(T, src * S.n + i), color = rgb(PALETTE[S.labels[i] % PALETTE.length]);
    ctx.globalAlpha = op[k][sel && sel.has(i) ? 1 : 0];
    ctx.fillStyle = color;
    if (!tile) { T.missing.push(i); ctx.fillRect(x + s / 2 - 2, y + s / 2 - 2, 4, 4); continue; }  // its dot, for now
    ctx.fillRect(x - FRAME, y - FRAME, s + 2 * FRAME, s + 2 * FRAME);
    ctx.drawImage(tile, x, y, s, s);
    T.drawn.push([i, x, y, s]);  // for tests: what is drawn where (CSS px), in drawing order
  }
  ctx.globalAlpha = 1;
  if (T.missing.length && !T.raf) T.raf = requestAnimationFrame(() => { T.raf = 0; fill(S, src); again(); });
  return true;
}

// makes the missing tiles, nearest the view's middle first, until this frame's budget is spent
function fill(S, src) {
  const T = S.tiles, t0 = performance.now(), cx = (S.view.x0 + S.view.x1) / 2, cy = (S.view.y0 + S.view.y1) / 2;
  const d = (i) => (S.coords[2 * i] - cx) ** 2 + (S.coords[2 * i + 1] - cy) ** 2;
  const todo = T.missing.sort((a, b) => d(a) - d(b));
  for (let k = 0; k < todo.length && performance.now() - t0 < BUDGET_MS; k++) {
    T.cache.set(src * S.n + todo[k], make(S, src, todo[k]));
    if (T.cache.size > KEEP) T.cache.delete(T.cache.keys().next().value);
  }
}
