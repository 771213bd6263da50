// The prior's holes under the latent map's points: a grid of bytes, 255 where
// the prior p(z) most exceeds the aggregate posterior q(z) (explorer/holes.py), drawn as a translucent image
// in z coordinates, so it pans and zooms with the dots. Header numbers: holes_grid = [rows, cols] (row 0 at
// the top), holes_extent = [x0, x1, y0, y1] in z, holes_mass = the share of p's mass q lacks.
import { MAP_AXES } from "./codes.js";
import { sx, sy } from "./map_coords.js";

// opacity HOLE_ALPHA * sqrt(byte / 255): the square root lifts the shallower holes between the clusters into view
const HOLE_RGB = [88, 48, 150], HOLE_ALPHA = 0.9;  // at 255 (p's peak uncovered): a violet wash
export const HOLE_DOTS = 0.6;  // the dots fade this much while the holes show, so the wash shows between them

export function loadHoles(S, p) {
  const h = p.header, a = p.arrays.holes;
  S.holes = null;
  if (a && h.mode === MAP_AXES && h.holes_grid && h.holes_extent) {
    const [rows, cols] = h.holes_grid, bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, rows * cols);
    const img = document.createElement("canvas");
    img.width = cols; img.height = rows;
    const ctx = img.getContext("2d"), pix = ctx.createImageData(cols, rows);
    for (let i = 0; i < rows * cols; i++) {
      pix.data.set(HOLE_RGB, 4 * i); pix.data[4 * i + 3] = Math.round(255 * HOLE_ALPHA * Math.sqrt(bytes[i] / 255));
    }
    ctx.putImageData(pix, 0, 0);
    S.holes = { img, extent: h.holes_extent, bytes, rows, cols };
  }
  holesKey(S, h);
}

// the key over the plot's bottom-right corner: what the shading is
function holesKey(S, h) {
  if (!S.holesKeyEl) {
    S.holesKeyEl = document.createElement("div"); S.holesKeyEl.className = "vx-holes-key";
    S.plot.appendChild(S.holesKeyEl);
  }
  S.holesKeyEl.style.display = S.holes ? "block" : "none";
  if (S.holes) {
    const pct = Math.round(100 * h.holes_mass);
    S.holesKeyEl.textContent = `shaded: p(z) > q(z), the prior's holes (${pct}% of p's mass)`;
    S.holesKeyEl.style.setProperty("--c", `rgba(${HOLE_RGB.join(",")},${HOLE_ALPHA})`);
  }
}

export function drawHoles(S, ctx) {
  if (!S.holes) return;
  const [x0, x1, y0, y1] = S.holes.extent, left = sx(S, x0), top = sy(S, y1);
  ctx.save(); ctx.imageSmoothingEnabled = true;
  ctx.drawImage(S.holes.img, left, top, sx(S, x1) - left, sy(S, y0) - top);
  ctx.restore();
}
