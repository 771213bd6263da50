// The latent map's pointer: hover decodes, click picks (S.onPick({index}) or S.onPick({z})), drag pans, zoom,
// reset and PNG export.
import { KIND_VAE, MAP_AXES, MAP_NEAREST, MAP_PCA } from "./codes.js";
import { mx, my } from "./map_coords.js";
import { nearestInGrid } from "./map_grid.js";
import { selectEnd, selectMove, selectStart, showTip } from "./map_select.js";
import { endPan, overlay, panRedraw, redraw, resize } from "./map_view.js";
import { drawImage } from "./pixels.js";
import * as VAENet from "./vaenet.js";

const PICK_PX = 10;  // a click this close to a dot picks the dot
// zoomed in, a click within half a tile of a point picks it (the nearest point still wins)
const reach = (S) => (S.tiles && S.tiles.on ? Math.max(PICK_PX, S.tiles.size / 2) : PICK_PX);

function pick(S, px, py) {
  const [i, dist] = nearest(S, px, py);
  if (i >= 0 && (dist <= reach(S) || S.header.mode === MAP_NEAREST)) S.onPick({ index: i });
  else S.onPick({ z: latentAt(S, px, py).z });
}

// the visible dot nearest to a screen point: [index, distance in CSS px]
export function nearest(S, px, py) {
  const kx = (S.w - S.M.l - S.M.r) / (S.view.x1 - S.view.x0), ky = (S.h - S.M.t - S.M.b) / (S.view.y1 - S.view.y0);
  const hid = S.hidden.size ? S.labs.map((l) => S.hidden.has(l)) : null;
  return nearestInGrid(S.grid, S.coords, mx(S, px), my(S, py), kx, ky, hid ? (i) => hid[S.cls[i]] : () => false);
}

// the latent point under the pointer, and what it is (a z, or the nearest encoded image)
export function latentAt(S, px, py) {
  const p = [mx(S, px), my(S, py)], D = S.model.latent, mode = S.header.mode;
  if (mode === MAP_NEAREST) {
    const [i] = nearest(S, px, py);
    return i < 0 ? null : { z: Array.from(S.mu.subarray(i * D, (i + 1) * D)), index: i, xy: p };
  }
  const z = new Array(D).fill(0);
  if (mode === MAP_AXES) { z[0] = p[0]; if (D > 1) z[1] = p[1]; }
  else for (let d = 0; d < D; d++) z[d] = S.mean[d] + p[0] * S.U[d] + p[1] * S.U[D + d];
  return { z, index: -1, xy: p };
}

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
export function showHover(S, ev) {
  const t0 = performance.now(), at = latentAt(S, ev.px, ev.py);
  if (!at) return;
  const img = VAENet.decode(S.model, at.z);
  const t1 = performance.now();
  drawImage(S.preview, img, S.model.C, S.model.H, S.model.W);
  const zs = at.z.length <= 6 ? `z = (${at.z.map(fmt).join(", ")})` : `‖z‖ = ${fmt(Math.hypot(...at.z))} (${at.z.length}-D)`;
  const lp = S.model.kind === KIND_VAE ? ` · log p(z) = ${VAENet.logPrior(at.z).toFixed(2)} nats` : "";
  const [near, dist] = at.index >= 0 ? [at.index, 0] : nearest(S, ev.px, ev.py);
  const over = near >= 0 && dist <= reach(S) ? `over test image ${near + (S.header.index_offset || 0)} (label ${S.labels[near]}) · ` : "";
  const what = at.index >= 0 ? `nearest encoded point: test image ${at.index + (S.header.index_offset || 0)} (label ${S.labels[at.index]}) · ` : over;
  const xy = S.header.mode === MAP_PCA ? ` · map (${fmt(at.xy[0])}, ${fmt(at.xy[1])})` : "";
  S.info.textContent = `${what}${zs}${lp}${xy}`;
  showTip(S, near >= 0 && dist <= reach(S) ? near : at.index, ev.px, ev.py);
  S.hover = { screen: [ev.px, ev.py], z: at.z };
  placeCard(S, ev.px, ev.py);
  overlay(S);
  const t2 = performance.now();
  S.decodes += 1; S.root.dataset.decodes = String(S.decodes);
  const keep = (a, v) => { a.push(v); if (a.length > 2000) a.shift(); };
  keep(S.stats.decode, t1 - t0); keep(S.stats.frame, t2 - ev.t);  // frame: the event to its pixels drawn
  // shown: to the start of the next animation frame, an upper bound on when they reach the screen
  requestAnimationFrame(() => keep(S.stats.shown, performance.now() - ev.t));
}

// the preview card shows while the pointer is on the map, in the top corner away from the pointer
function placeCard(S, px, py) {
  const c = S.card, right = c.classList.contains("vx-right");
  c.classList.add("vx-on");  // shown before it is measured: a hidden card has no size
  const under = py < c.offsetTop + c.offsetHeight + 20 && (right ? px > c.offsetLeft - 20 : px < c.offsetLeft + c.offsetWidth + 20);
  if (under) c.classList.toggle("vx-right", !right);
}

export function zoom(S, f, cx, cy) {
  const v = S.view, x = cx === undefined ? (v.x0 + v.x1) / 2 : mx(S, cx), y = cy === undefined ? (v.y0 + v.y1) / 2 : my(S, cy);
  S.view = { x0: x + (v.x0 - x) * f, x1: x + (v.x1 - x) * f, y0: y + (v.y0 - y) * f, y1: y + (v.y1 - y) * f };
  S.userView = true;
  redraw(S);
}

export function reset(S) { S.view = null; S.userView = false; redraw(S); }

// what the map shows now (points, marks, zoom) as a PNG download, made in the page
export function savePng(S) {
  const out = document.createElement("canvas");
  out.width = S.base.width; out.height = S.base.height;
  const ctx = out.getContext("2d");
  ctx.drawImage(S.base, 0, 0); ctx.drawImage(S.over, 0, 0);
  out.toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = "latent_map.png"; a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
}

const REST_MS = 250;  // a pan still this long is drawn whole (map_view.js panRedraw)

export function attach(S) {
  const c = S.over;
  let pending = null, drag = null;
  const pos = (e) => { const r = c.getBoundingClientRect(); return { px: e.clientX - r.left, py: e.clientY - r.top, t: e.timeStamp }; };
  let last = -Infinity;  // performance.now() of the last hover draw
  const hoverDraw = (ev) => { last = performance.now(); showHover(S, ev); };
  c.addEventListener("pointermove", (e) => {
    const p = pos(e);
    if (S.drag) { selectMove(S, p); return; }
    if (drag) {
      const dx = mx(S, p.px) - mx(S, drag.px), dy = my(S, p.py) - my(S, drag.py);
      if (Math.abs(p.px - drag.sx) + Math.abs(p.py - drag.sy) > 4) drag.moved = true;
      if (drag.moved && S.tool === "pan") {
        S.view = { x0: S.view.x0 - dx, x1: S.view.x1 - dx, y0: S.view.y0 - dy, y1: S.view.y1 - dy }; S.userView = true;
        drag.px = p.px; drag.py = p.py; panRedraw(S);
        clearTimeout(drag.rest); drag.rest = setTimeout(() => endPan(S), REST_MS);  // a pan that rests is drawn whole
      }
    }
    if (!S.model) return;
    // a move is drawn at once (a decode takes a millisecond or two) unless one was drawn under 8 ms ago;
    // then the next animation frame draws the newest position, timed from the oldest waiting event
    if (performance.now() - last >= 8) { pending = null; hoverDraw(p); return; }
    if (!pending) requestAnimationFrame(() => { const ev = pending; pending = null; if (ev) hoverDraw(ev); });
    pending = { ...p, t: pending ? pending.t : p.t };
  });
  let clickTimer = null;  // a pick waits a moment: a double-click resets the view instead
  c.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const p = pos(e);
    if (S.tool === "box" || S.tool === "lasso") { selectStart(S, p); c.setPointerCapture(e.pointerId); return; }
    drag = { px: p.px, py: p.py, sx: p.px, sy: p.py, moved: false }; c.setPointerCapture(e.pointerId);
    if (S.tool === "point" && S.model) hoverDraw(p);  // a finger shows what is under it as it lands
  });
  c.addEventListener("pointerup", (e) => {
    if (S.drag) { selectEnd(S); return; }
    const d = drag; drag = null;
    if (d) { clearTimeout(d.rest); endPan(S); }
    if (!d || d.moved || e.button !== 0) return;
    clearTimeout(clickTimer);
    if (e.detail > 1) return;  // the second click of a double-click
    const p = pos(e);
    clickTimer = setTimeout(() => pick(S, p.px, p.py), 250);
  });
  const endDrag = () => {  // a lost capture ends a pan or a lasso
    if (drag) { clearTimeout(drag.rest); endPan(S); }
    drag = null; if (S.drag) { S.drag = null; overlay(S); }
  };
  c.addEventListener("pointercancel", endDrag);
  c.addEventListener("lostpointercapture", endDrag);
  c.addEventListener("pointerleave", () => { S.hover = null; S.tip.style.display = "none"; S.card.classList.remove("vx-on"); overlay(S); });
  c.addEventListener("dblclick", () => { clearTimeout(clickTimer); reset(S); });
  c.addEventListener("wheel", (e) => {  // Ctrl/⌘ + wheel zooms; a plain wheel scrolls the page past the map
    if (!(e.ctrlKey || e.metaKey)) return;
    e.preventDefault(); const p = pos(e); zoom(S, e.deltaY > 0 ? 1.2 : 1 / 1.2, p.px, p.py);
  }, { passive: false });
  S.observer = new ResizeObserver(() => { if (S.header) resize(S); });
}
