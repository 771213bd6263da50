// The latent map's dots, drawn in one pass over typed arrays at any number of points: each dot adds its optical
// depth -ln(1 - alpha) and its colour weighed by it to the pixel at its corner, a running-sum box filter spreads
// that over the dot's 4 x 4 CSS px, and each pixel becomes alpha 1 - exp(-depth) in the mean colour: one dot
// looks as a canvas rectangle at that alpha would, many overlapping ones a density. No canvas call per point.
import { HOLE_DOTS } from "./map_holes.js";

export const PALETTE = [0x636EFA, 0xEF553B, 0x00CC96, 0xAB63FA, 0xFFA15A, 0x19D3F3, 0xFF6692, 0xB6E880, 0xFF97FF, 0xFECB52];
export const rgb = (c, a = 1) => `rgba(${(c >> 16) & 255},${(c >> 8) & 255},${c & 255},${a})`;
const DOT = 4;  // CSS px across

// once per blob: each point's label as a small class number (cls), the labels in order (labs)
export function indexLabels(S) {
  const labs = [...new Set(S.labels)].sort((a, b) => a - b), of = new Map(labs.map((l, k) => [l, k]));
  const cls = labs.length <= 256 ? new Uint8Array(S.n) : new Uint16Array(S.n);
  for (let i = 0; i < S.n; i++) cls[i] = of.get(S.labels[i]);
  S.labs = labs; S.cls = cls; S.selMask = null;
}

// per class: the optical depth of a dot, unselected [0] and selected [1] (map_marks.js dotAlpha's levels)
function depths(S) {
  const fade = S.holes ? HOLE_DOTS : 1, sel = S.sel && S.sel.size > 0, out = [];
  for (const lab of S.labs) {
    const low = S.highlight && S.highlight.size && !S.highlight.has(lab);
    const a = (x) => (S.hidden.has(lab) ? 0 : -Math.log(1 - x * fade));
    out.push(low ? [a(0.06), a(0.06)] : sel ? [a(0.12), a(0.9)] : [a(0.7), a(0.7)]);
  }
  return out;
}

function selMask(S) {
  if (!S.sel || !S.sel.size) return null;
  if (S.selFor !== S.sel) {
    S.selMask = new Uint8Array(S.n); for (const i of S.sel) S.selMask[i] = 1; S.selFor = S.sel;
  }
  return S.selMask;
}

// the dots as an image the size of the canvas (device px), drawn onto ctx at (0, 0) in CSS px
export function drawPoints(S, ctx) {
  const r = S.r, W = Math.round(S.w * r), H = Math.round(S.h * r), B = Math.max(1, Math.round(DOT * r)), N = W * H;
  if (!S.acc || S.acc.N !== N) S.acc = { N, f: new Float32Array(4 * N), canvas: document.createElement("canvas") };
  const f = S.acc.f, direct = S.n * B * B < N / 2;  // few dots: each is splatted whole, no filter
  f.fill(0);
  const dep = depths(S), mask = selMask(S), col = S.labs.map((l) => PALETTE[l % PALETTE.length]);
  const d0 = Float32Array.from(dep, (x) => x[0]), d1 = Float32Array.from(dep, (x) => x[1]);
  const R = Float32Array.from(col, (x) => (x >> 16) & 255), G = Float32Array.from(col, (x) => (x >> 8) & 255), Bl = Float32Array.from(col, (x) => x & 255);
  const v = S.view, kx = ((S.w - S.M.l - S.M.r) / (v.x1 - v.x0)) * r, ky = ((S.h - S.M.t - S.M.b) / (v.y1 - v.y0)) * r;
  const ox = (S.M.l - DOT / 2) * r - v.x0 * kx, oy = (S.h - S.M.b - DOT / 2) * r + v.y0 * ky;
  const xy = S.coords, cls = S.cls;
  for (let i = 0; i < S.n; i++) {
    const ix = Math.floor(ox + xy[2 * i] * kx), iy = Math.floor(oy - xy[2 * i + 1] * ky);
    if (ix < 0 || iy < 0 || ix >= W || iy >= H) continue;
    const k = cls[i], a = mask && mask[i] ? d1[k] : d0[k];
    if (!a) continue;
    const rr = a * R[k], gg = a * G[k], bb = a * Bl[k];
    if (!direct) { const j = 4 * (iy * W + ix); f[j] += a; f[j + 1] += rr; f[j + 2] += gg; f[j + 3] += bb; continue; }
    for (let y = iy; y < Math.min(H, iy + B); y++) {
      for (let x = ix, j = 4 * (y * W + ix); x < Math.min(W, ix + B); x++, j += 4) { f[j] += a; f[j + 1] += rr; f[j + 2] += gg; f[j + 3] += bb; }
    }
  }
  if (!direct) spread(f, W, H, B);
  const cv = S.acc.canvas;
  if (cv.width !== W || cv.height !== H) { cv.width = W; cv.height = H; }
  const cctx = cv.getContext("2d"), img = cctx.createImageData(W, H), px = new Uint32Array(img.data.buffer);
  for (let p = 0, j = 0; p < N; p++, j += 4) {
    const dj = f[j];
    if (dj <= 1e-7) continue;
    const al = 255 * (1 - Math.exp(-dj)) + 0.5;  // RGBA bytes, little-endian
    px[p] = ((al << 24) | ((f[j + 3] / dj + 0.5) << 16) | ((f[j + 2] / dj + 0.5) << 8) | (f[j + 1] / dj + 0.5)) >>> 0;
  }
  cctx.putImageData(img, 0, 0);
  ctx.drawImage(cv, 0, 0, S.w, S.h);
}

// each pixel (4 channels) becomes the sum of the B x B splats above and left of it, itself included: in place,
// walking back so the values read are not yet summed
function spread(f, W, H, B) {
  for (let y = 0; y < H; y++) {
    for (let x = W - 1, j = 4 * (y * W + x); x > 0; x--, j -= 4) {
      for (let k = 1; k < B && k <= x; k++) { const o = j - 4 * k; f[j] += f[o]; f[j + 1] += f[o + 1]; f[j + 2] += f[o + 2]; f[j + 3] += f[o + 3]; }
    }
  }
  const row = 4 * W;
  for (let y = H - 1; y > 0; y--) {
    for (let k = 1; k < B && k <= y; k++) {
      for (let j = y * row, o = (y - k) * row, e = j + row; j < e; j++, o++) f[j] += f[o];
    }
  }
}
