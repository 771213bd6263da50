// Marks on a 2-D plot canvas: axis ticks at round numbers, Gaussian contour ellipses, a star.
export function niceTicks(lo, hi, n) {
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) out.push(Math.abs(t) < step / 1e6 ? 0 : t);
  return out;
}

export function ellipse(ctx, cx, cy, cov, sx, sy, k) {
  // cov in map units -> screen: principal axes of [[a, b], [b, d]]
  const [a, b, , d] = cov, tr = (a + d) / 2, det = Math.sqrt(Math.max(0, ((a - d) / 2) ** 2 + b * b));
  const l1 = tr + det, l2 = Math.max(0, tr - det), th = Math.atan2(l1 - a, b || 1e-30);
  ctx.beginPath();
  for (let i = 0; i <= 72; i++) {
    const t = (i / 72) * 2 * Math.PI, u = k * Math.sqrt(l1) * Math.cos(t), v = k * Math.sqrt(l2) * Math.sin(t);
    const x = cx + (u * Math.cos(th) - v * Math.sin(th)) * sx, y = cy - (u * Math.sin(th) + v * Math.cos(th)) * sy;
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  }
  ctx.stroke();
}

export function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? r * 0.45 : r;
    i ? ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a)) : ctx.moveTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath(); ctx.fill(); ctx.stroke();
}
