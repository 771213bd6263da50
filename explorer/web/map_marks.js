// The marks Python sends for the latent map (highlighted labels, the selection, neighbour lines, an attribute
// path, their key) and the box or lasso being drawn. Header numbers: highlight = labels to keep bright (the rest
// fade); sel = selected indices; lines_latent, lines_pixel = x0, y0, x1, y1 per line; path = x, y per point (the
// middle one is strength 0).
import { sx, sy } from "./map_coords.js";

// the marks a click changes (explorer/web/payload.py MARK_KEYS): they may come apart from the blob (applyMarks)
export const MARK_KEYS = ["selected_xy", "selected_cov", "highlight", "sel", "lines_latent", "lines_pixel", "path"];

// marks sent without the blob (payload.py map_marks) replace the blob's own; true if the dots need redrawing
// (highlight and sel fade or outline them), false if the overlay alone changed
export function applyMarks(S, marks) {
  const h = S.header, dots = JSON.stringify([h.highlight, h.sel]);
  for (const k of MARK_KEYS) { delete h[k]; if (marks[k] !== undefined) h[k] = marks[k]; }
  readMarks(S);
  return JSON.stringify([h.highlight, h.sel]) !== dots;
}

function readMarks(S) {
  const h = S.header;
  S.highlight = new Set(h.highlight || []);
  S.sel = new Set((h.sel || []).filter((i) => i >= 0 && i < S.n));
}

export function loadMarks(S, p) {
  readMarks(S);
  // 4-bit grey levels, two pixels a byte (web_payload.thumb_words)
  S.thumbs = p.arrays.thumbs ? new Uint8Array(p.arrays.thumbs.data.buffer, p.arrays.thumbs.data.byteOffset,
                                              Math.ceil(S.n * S.model.pixels / 2)) : null;
}

export function drawMarks(S, ctx) {
  const h = S.header, line = (a, color, dash) => {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.setLineDash(dash);
    for (let i = 0; i + 3 < a.length; i += 4) {
      ctx.beginPath(); ctx.moveTo(sx(S, a[i]), sy(S, a[i + 1])); ctx.lineTo(sx(S, a[i + 2]), sy(S, a[i + 3])); ctx.stroke();
    }
    ctx.setLineDash([]);
  };
  if (S.sel && S.sel.size && S.sel.size <= 300) {  // a few: outlined too; many are told apart by the fading
    const r = S.tiles && S.tiles.on ? S.tiles.size / 2 + 3 : 3;  // around the dot, or around its tile
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
    for (const i of S.sel) ctx.strokeRect(sx(S, S.coords[2 * i]) - r, sy(S, S.coords[2 * i + 1]) - r, 2 * r, 2 * r);
  }
  if (h.lines_pixel) line(h.lines_pixel, "rgba(200,0,0,0.9)", [4, 3]);
  if (h.lines_latent) line(h.lines_latent, "rgba(0,0,0,0.9)", []);
  if (h.path && h.path.length >= 4) {
    ctx.strokeStyle = "#7a00cc"; ctx.lineWidth = 2; ctx.beginPath();
    for (let i = 0; i + 1 < h.path.length; i += 2) (i ? ctx.lineTo : ctx.moveTo).call(ctx, sx(S, h.path[i]), sy(S, h.path[i + 1]));
    ctx.stroke(); ctx.fillStyle = "#7a00cc";
    for (let i = 0; i + 1 < h.path.length; i += 2) { ctx.beginPath(); ctx.arc(sx(S, h.path[i]), sy(S, h.path[i + 1]), 3, 0, 2 * Math.PI); ctx.fill(); }
    const e = h.path.length - 2;
    ctx.beginPath(); ctx.arc(sx(S, h.path[e]), sy(S, h.path[e + 1]), 6, 0, 2 * Math.PI); ctx.stroke();  // +2 end
  }
  drawKey(S, ctx);
  if (S.drag && S.drag.poly.length > 1) {
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.setLineDash([5, 4]); ctx.fillStyle = "rgba(0,0,0,0.06)";
    ctx.beginPath(); S.drag.poly.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath();
    ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
  }
}

// what the lines on the map are: one key entry per kind drawn (its own line style and words), bottom left
const KEYS = [["lines_latent", "rgba(0,0,0,0.9)", [], "latent neighbours (nearest codes)"],
  ["lines_pixel", "rgba(200,0,0,0.9)", [4, 3], "pixel neighbours (nearest images)"],
  ["path", "#7a00cc", [], "attribute vector, strength −2 … +2 (ring: +2)"]];
function drawKey(S, ctx) {
  const sc = S.sc || 1, rows = KEYS.filter(([k]) => S.header[k] && S.header[k].length >= 4), lh = 16 * sc;
  S.keyShown = rows.map((r) => r[3]);  // for tests: the entries the key shows now
  if (!rows.length) return;
  ctx.font = `${11 * sc}px sans-serif`;
  const w = 30 * sc + Math.max(...rows.map((r) => ctx.measureText(r[3]).width)), x = S.M.l + 6 * sc;
  const y = S.h - S.M.b - 6 * sc - rows.length * lh;
  ctx.fillStyle = "rgba(255,255,255,0.9)"; ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.fillRect(x, y - 4 * sc, w + 10 * sc, rows.length * lh + 6 * sc); ctx.strokeRect(x, y - 4 * sc, w + 10 * sc, rows.length * lh + 6 * sc);
  rows.forEach(([, color, dash, text], i) => {
    const yy = y + i * lh + lh / 2;
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash);
    ctx.beginPath(); ctx.moveTo(x + 5 * sc, yy); ctx.lineTo(x + 27 * sc, yy); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.fillText(text, x + 32 * sc, yy);
  });
  ctx.textBaseline = "alphabetic";
}
