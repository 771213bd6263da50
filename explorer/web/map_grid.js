// A uniform grid over the latent map's points (map units), built once per blob: the nearest visible dot to the
// pointer and the dots in a box or lasso's bounding box are found by visiting the few cells near them, not by a
// scan of every point per event. Cells are sorted by a counting sort: order lists the points cell by cell,
// start[c] .. start[c + 1] are cell c's.

export function buildGrid(coords, n) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = coords[2 * i], y = coords[2 * i + 1];
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  if (!n) { x0 = y0 = 0; x1 = y1 = 1; }
  const g = Math.max(1, Math.min(1024, Math.round(Math.sqrt(n / 4))));  // about four points a cell
  const cw = (x1 - x0) / g || 1, ch = (y1 - y0) / g || 1;
  const cellOf = new Uint32Array(n), start = new Uint32Array(g * g + 1), order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const cx = Math.min(g - 1, Math.floor((coords[2 * i] - x0) / cw)), cy = Math.min(g - 1, Math.floor((coords[2 * i + 1] - y0) / ch));
    cellOf[i] = cx + cy * g; start[cellOf[i] + 1]++;
  }
  for (let c = 0; c < g * g; c++) start[c + 1] += start[c];
  const fill = start.slice(0, g * g);
  for (let i = 0; i < n; i++) order[fill[cellOf[i]]++] = i;
  return { x0, y0, cw, ch, g, start, order };
}

const clampCell = (G, v) => Math.max(0, Math.min(G.g - 1, v));

// the point nearest (x, y) in map units, distances weighed kx, ky px per unit, skipping skip(i): [index, px]
export function nearestInGrid(G, coords, x, y, kx, ky, skip) {
  const qx = clampCell(G, Math.floor((x - G.x0) / G.cw)), qy = clampCell(G, Math.floor((y - G.y0) / G.ch));
  const cellPx = Math.min(G.cw * Math.abs(kx), G.ch * Math.abs(ky));
  let best = -1, bd = Infinity;
  const visit = (cx, cy) => {
    const c = cx + cy * G.g;
    for (let k = G.start[c]; k < G.start[c + 1]; k++) {
      const i = G.order[k];
      if (skip(i)) continue;
      const dx = (coords[2 * i] - x) * kx, dy = (coords[2 * i + 1] - y) * ky, d = dx * dx + dy * dy;
      if (d < bd || (d === bd && i < best)) { bd = d; best = i; }
    }
  };
  for (let r = 0; r < G.g; r++) {
    for (let cx = qx - r; cx <= qx + r; cx++) {
      if (cx < 0 || cx >= G.g) continue;
      const edge = cx === qx - r || cx === qx + r;
      for (let cy = qy - r; cy <= qy + r; cy += edge ? 1 : 2 * r || 1) if (cy >= 0 && cy < G.g) visit(cx, cy);
    }
    if (best >= 0 && Math.sqrt(bd) <= r * cellPx) break;  // every cell not yet visited is farther than r cells
  }
  return [best, Math.sqrt(bd)];
}

// the cells [c0, c1] x [r0, r1] that meet the box [xa, xb] x [ya, yb] (map units)
function cellsOf(G, xa, xb, ya, yb) {
  return [clampCell(G, Math.floor((Math.min(xa, xb) - G.x0) / G.cw)), clampCell(G, Math.floor((Math.max(xa, xb) - G.x0) / G.cw)),
    clampCell(G, Math.floor((Math.min(ya, yb) - G.y0) / G.ch)), clampCell(G, Math.floor((Math.max(ya, yb) - G.y0) / G.ch))];
}

// how many points those cells hold, counted up to just past cap: a bound read from the cells alone, so a view
// of many points stops after a few rows of cells without visiting one
export function countNear(G, xa, xb, ya, yb, cap) {
  const [c0, c1, r0, r1] = cellsOf(G, xa, xb, ya, yb);
  let n = 0;
  for (let cy = r0; cy <= r1 && n <= cap; cy++) n += G.start[cy * G.g + c1 + 1] - G.start[cy * G.g + c0];
  return n;
}

// the points whose cells meet the box [xa, xb] x [ya, yb] (map units), cell by cell
export function pointsNear(G, xa, xb, ya, yb, f) {
  const [c0, c1, r0, r1] = cellsOf(G, xa, xb, ya, yb);
  for (let cy = r0; cy <= r1; cy++) {
    for (let cx = c0; cx <= c1; cx++) {
      const c = cx + cy * G.g;
      for (let k = G.start[c]; k < G.start[c + 1]; k++) f(G.order[k]);
    }
  }
}
