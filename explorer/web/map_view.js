// The latent map's picture: its size and fitted view, the points (under them the prior's holes), the axes,
// and the overlay of marks, the chosen star, a drawing's posterior and the pointer's cross.
import { MAP_AXES, MAP_NEAREST } from "./codes.js";
import { sx, sy } from "./map_coords.js";
import { drawHoles } from "./map_holes.js";
import { drawMarks } from "./map_marks.js";
import { drawPoints } from "./map_points.js";
import { drawTiles } from "./map_tiles.js";
import { ellipse, niceTicks, star } from "./marks.js";

function bounds(S) {  // the points' extent, from their grid (map_grid.js)
  const G = S.grid, x0 = G.x0, x1 = G.x0 + G.g * G.cw, y0 = G.y0, y1 = G.y0 + G.g * G.ch;
  const px = 0.05 * (x1 - x0 || 1), py = 0.05 * (y1 - y0 || 1);
  return { x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py };
}

const M0 = { l: 44, r: 10, t: 10, b: 28 };  // plot margins at scale 1, CSS px
const vxScale = (S) => parseFloat(getComputedStyle(S.root).getPropertyValue("--vx-scale")) || 1;  // presenter: 2

// the map's height: the header's, or (0) the window below the map's top, so the map and its axes sit above
// the fold; never taller than wide, and in presenter mode never below 0.7 of its width
function fitHeight(S, w) {
  if (S.header.height) return S.header.height;
  let top = S.plot.getBoundingClientRect().top;
  for (let e = S.plot; e; e = e.parentElement || (e.getRootNode && e.getRootNode().host)) top += e.scrollTop || 0;
  const h = window.innerHeight - top - S.info.offsetHeight - 16, sc = vxScale(S);
  return Math.round(Math.min(w, Math.max(320, h, sc > 1 ? 0.7 * w : 0)));
}

export function resize(S) {
  const sc = vxScale(S), w = Math.max(300, S.plot.clientWidth || 600), r = window.devicePixelRatio || 1;
  // fitted again when the width changes, not the window's height alone (a tall full-page screenshot)
  if (!S.fitH || S.fitW !== w) { S.fitH = fitHeight(S, w); S.fitW = w; }
  const h = Math.min(S.fitH, S.header.height ? Infinity : w);
  for (const c of [S.base, S.over]) { c.width = w * r; c.height = h * r; c.style.width = w + "px"; c.style.height = h + "px"; }
  // a user's view keeps its centre and its px per unit; else the data is fitted afresh
  const k = S.view && S.userView ? (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0) : 0;
  S.w = w; S.h = h; S.r = r; S.sc = sc;
  S.M = { l: M0.l * sc, r: M0.r * sc, t: M0.t * sc, b: M0.b * sc };
  S.view = k ? equalize(S, S.view, k) : null;
  redraw(S);
}

// pad the shorter range so one unit of the map is as many px across as up (k: keep this px per unit)
function equalize(S, v, k = 0) {
  const W = S.w - S.M.l - S.M.r, H = S.h - S.M.t - S.M.b, cx = (v.x0 + v.x1) / 2, cy = (v.y0 + v.y1) / 2;
  k = k || Math.min(W / (v.x1 - v.x0), H / (v.y1 - v.y0));
  return { x0: cx - W / k / 2, x1: cx + W / k / 2, y0: cy - H / k / 2, y1: cy + H / k / 2 };
}

// a map drawn once, with no overlay and no tools (the side-by-side maps): the points' extent fitted with equal
// scales, the axes and the dots, as the main map draws them
export function drawStill(S) {
  S.view = equalize(S, bounds(S));
  const ctx = axes(S);
  ctx.save(); ctx.beginPath(); ctx.rect(S.M.l, S.M.t, S.w - S.M.l - S.M.r, S.h - S.M.t - S.M.b); ctx.clip();
  drawPoints(S, ctx);
  ctx.restore();
}

export function redraw(S) {
  const t0 = performance.now();
  S.snap = null;  // a pan's picture (panRedraw) is stale once the whole map is drawn again
  if (!S.view) S.view = equalize(S, bounds(S));
  const ctx = axes(S);
  ctx.save(); ctx.beginPath(); ctx.rect(S.M.l, S.M.t, S.w - S.M.l - S.M.r, S.h - S.M.t - S.M.b); ctx.clip();
  drawHoles(S, ctx);  // under the points
  if (!drawTiles(S, ctx, () => redraw(S))) drawPoints(S, ctx);  // few points in view: their pictures
  ctx.restore();
  S.drawMs = performance.now() - t0; S.drawnView = S.view;
  overlay(S);
}

// A pan of a map whose full picture is slow to draw (a million points: about 25 ms) moves the picture drawn
// when the pan began instead of drawing every point on every move; the full picture follows when the pan ends
// or rests (endPan). The axes are drawn afresh on each move; newly uncovered ground stays empty until then.
const SLOW_MS = 1000 / 60;  // a picture that takes longer than a display period to draw moves instead

export function panRedraw(S) {
  if (!S.snap && !(S.drawMs > SLOW_MS)) { redraw(S); return; }
  if (!S.snap) {
    const c = document.createElement("canvas");
    c.width = S.base.width; c.height = S.base.height;
    c.getContext("2d").drawImage(S.base, 0, 0);
    S.snap = { canvas: c, view: S.drawnView, w: S.w, h: S.h };  // the view it was drawn at, not the pan's new one
  }
  const v = S.snap.view, kx = (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0);
  const ky = (S.h - S.M.t - S.M.b) / (S.view.y1 - S.view.y0);
  const ctx = axes(S);
  ctx.save(); ctx.beginPath(); ctx.rect(S.M.l, S.M.t, S.w - S.M.l - S.M.r, S.h - S.M.t - S.M.b); ctx.clip();
  const px = (d) => Math.round(d * S.r) / S.r;  // whole device pixels: a copy, not a blurred resample
  ctx.drawImage(S.snap.canvas, px((v.x0 - S.view.x0) * kx), px((S.view.y1 - v.y1) * ky), S.snap.w, S.snap.h);
  ctx.restore();
  overlay(S);
}

export function endPan(S) {
  if (S.snap) redraw(S);
}

// the white ground, the grid and the tick labels of the current view; the base canvas's context, scaled
function axes(S) {
  const ctx = S.base.getContext("2d");
  ctx.setTransform(S.r, 0, 0, S.r, 0, 0);
  ctx.clearRect(0, 0, S.w, S.h);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, S.w, S.h);
  const m = S.M, sc = S.sc, ticks = (len) => Math.max(3, Math.round(len / (70 * sc)));  // a tick per ~70 px
  ctx.strokeStyle = "#e5e5e5"; ctx.fillStyle = "#555"; ctx.font = `${11 * sc}px sans-serif`; ctx.lineWidth = 1;
  for (const t of niceTicks(S.view.x0, S.view.x1, ticks(S.w - m.l - m.r))) {
    const x = sx(S, t); ctx.beginPath(); ctx.moveTo(x, m.t); ctx.lineTo(x, S.h - m.b); ctx.stroke();
    ctx.textAlign = "center"; ctx.fillText(+t.toPrecision(4), x, S.h - m.b + 14 * sc);
  }
  for (const t of niceTicks(S.view.y0, S.view.y1, ticks(S.h - m.t - m.b))) {
    const y = sy(S, t); ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(S.w - m.r, y); ctx.stroke();
    ctx.textAlign = "right"; ctx.fillText(+t.toPrecision(4), m.l - 4 * sc, y + 4 * sc);
  }
  return ctx;
}

export function overlay(S) {
  const ctx = S.over.getContext("2d"), h = S.header;
  ctx.setTransform(S.r, 0, 0, S.r, 0, 0);
  ctx.clearRect(0, 0, S.w, S.h);
  drawMarks(S, ctx);
  const kx = (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0), ky = (S.h - S.M.t - S.M.b) / (S.view.y1 - S.view.y0);
  const mark = (xy, cov, color, shape) => {
    const x = sx(S, xy[0]), y = sy(S, xy[1]);
    ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    if (cov && cov.some((v) => v > 0)) { ellipse(ctx, x, y, cov, kx, ky, 1); ctx.setLineDash([3, 3]); ellipse(ctx, x, y, cov, kx, ky, 2); ctx.setLineDash([]); }
    ctx.fillStyle = color; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1;
    if (shape === "star") star(ctx, x, y, 9);
    else { ctx.fillStyle = "#fff"; ctx.strokeStyle = color; ctx.lineWidth = 2.5; ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke(); }
  };
  if (h.selected_xy) mark(h.selected_xy, h.selected_cov, "#000", "star");
  if (S.drawn) mark(S.drawn.xy, S.drawn.cov, "#111", "dot");  // the drawing: a white dot ringed in black
  if (S.hover) {
    ctx.strokeStyle = "rgba(0,0,0,0.6)"; ctx.lineWidth = 1;
    const [x, y] = S.hover.screen;
    ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.moveTo(x - 9, y); ctx.lineTo(x + 9, y); ctx.moveTo(x, y - 9); ctx.lineTo(x, y + 9); ctx.stroke();
  }
}

// a drawing's posterior (from the draw component) placed on this map: linear maps only
export function project(S, q) {
  if (!q || S.header.mode === MAP_NEAREST || q.mu.length !== S.model.latent) return null;
  const D = q.mu.length, s2 = q.sigma.map((s) => s * s);
  if (S.header.mode === MAP_AXES) return { xy: [q.mu[0], D > 1 ? q.mu[1] : 0], cov: [s2[0], 0, 0, D > 1 ? s2[1] : 0] };
  const xy = [0, 0], cov = [0, 0, 0, 0];
  for (let d = 0; d < D; d++) {
    const u = S.U[d], v = S.U[D + d], m = q.mu[d] - S.mean[d];
    xy[0] += u * m; xy[1] += v * m; cov[0] += u * u * s2[d]; cov[1] += u * v * s2[d]; cov[3] += v * v * s2[d];
  }
  cov[2] = cov[1];
  return { xy, cov };
}
