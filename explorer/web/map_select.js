// The latent map's projector tools: pan, box and lasso (a finished selection goes to S.onSelect({ids})), and
// the hover label with the test image itself.
import { mx, my, sx, sy } from "./map_coords.js";
import { pointsNear } from "./map_grid.js";
import { overlay, redraw } from "./map_view.js";
import { drawImage, thumbPixels } from "./pixels.js";

// pointTool: a "point" tool ahead of them, chosen: a drag decodes under the pointer (a finger has no hover)
export function addSelectTools(S, tools, pointTool = false) {
  S.tool = pointTool ? "point" : "pan";
  S.toolButtons = {};
  const first = tools.firstChild;  // pan, box, lasso go ahead of the zoom buttons
  const kinds = [["pan", "pan", "drag to pan"], ["box", "box", "drag a rectangle to select"],
    ["lasso", "lasso", "draw around the points to select"]];
  if (pointTool) kinds.unshift(["point", "point", "drag to decode under the pointer; tap to choose"]);
  for (const [key, label, title] of kinds) {
    const b = document.createElement("button");
    b.className = "vx-btn vx-tool" + (key === S.tool ? " on" : ""); b.textContent = label; b.title = title;
    b.dataset.tool = key;
    b.onclick = () => setTool(S, key);
    tools.insertBefore(b, first);
    S.toolButtons[key] = b;
  }
  S.tip = document.createElement("div"); S.tip.className = "vx-tip"; S.tip.style.display = "none";
  S.tipCanvas = document.createElement("canvas"); S.tipCanvas.className = "vx-tip-img";
  S.tipText = document.createElement("div");
  S.tip.appendChild(S.tipCanvas); S.tip.appendChild(S.tipText);
  S.over.parentElement.appendChild(S.tip);
}

function setTool(S, key) {
  S.tool = key;
  for (const [k, b] of Object.entries(S.toolButtons)) b.classList.toggle("on", k === key);
  S.over.style.cursor = key === "pan" || key === "point" ? "crosshair" : "cell";
}

// a box or lasso gesture in screen px: start, extend, finish (the selection goes to Python)
export function selectStart(S, p) { S.drag = { kind: S.tool, x0: p.px, y0: p.py, poly: [[p.px, p.py]] }; }
export function selectMove(S, p) {
  const d = S.drag;
  if (d.kind === "box") d.poly = [[d.x0, d.y0], [p.px, d.y0], [p.px, p.py], [d.x0, p.py]];
  else d.poly.push([p.px, p.py]);
  overlay(S);
}
export function selectEnd(S) {
  const poly = S.drag.poly; S.drag = null;
  if (poly.length < 3) { overlay(S); return; }
  const ids = [], xs = poly.map((p) => p[0]), ys = poly.map((p) => p[1]);
  // the grid's cells under the polygon's bounding box, then the even-odd test on screen as before
  pointsNear(S.grid, mx(S, Math.min(...xs)), mx(S, Math.max(...xs)), my(S, Math.min(...ys)), my(S, Math.max(...ys)), (i) => {
    if (!S.hidden.has(S.labels[i]) && inside(poly, sx(S, S.coords[2 * i]), sy(S, S.coords[2 * i + 1]))) ids.push(i);
  });
  ids.sort((a, b) => a - b);
  S.sel = new Set(ids); redraw(S);
  S.onSelect({ ids });
}

// even-odd rule: is (x, y) inside the polygon?
function inside(poly, x, y) {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

// the hover label: the test image under the pointer (when the page has thumbnails), its index and label
export function showTip(S, i, px, py) {
  if (i < 0 || !S.thumbs) { S.tip.style.display = "none"; return; }
  const img = thumbPixels(S.thumbs, i, S.model.pixels);
  const scale = Math.max(1, Math.round(56 / S.model.W));
  S.tipCanvas.width = S.model.W * scale; S.tipCanvas.height = S.model.H * scale;
  drawImage(S.tipCanvas, img, S.model.C, S.model.H, S.model.W);
  const label = S.header.unlabelled ? "" : ` · label ${S.labels[i]}`;  // images given without labels: none
  S.tipText.textContent = `image ${i + (S.header.index_offset || 0)}${label}`;
  S.tip.style.display = "block";
  S.tip.style.left = Math.min(px + 14, S.w - 80) + "px"; S.tip.style.top = Math.max(py - 80, 0) + "px";
  S.tipIndex = i;
}
