// Paths between two codes, computed in the page as explorer/latent/geometry.py computes them (lerp, slerp;
// tests/test_browser_export.py holds the two together). Each returns `steps` codes, both ends included.

// t = 0, 1/(steps-1), ..., 1 (torch.linspace(0, 1, steps))
const ts = (steps) => Array.from({ length: steps }, (_, i) => (steps === 1 ? 0 : i / (steps - 1)));
const norm = (z) => Math.hypot(...z);

// the straight line from z0 to z1
export function lerp(z0, z1, steps) {
  return ts(steps).map((t) => z0.map((a, d) => (1 - t) * a + t * z1[d]));
}

// the arc from z0 to z1 (Shoemake 1985; White 2016 for generative models): near the norms a Gaussian prior
// expects, where the chord cuts through the low-norm middle. Falls back to lerp where geometry.slerp does.
export function slerp(z0, z1, steps) {
  const n0 = norm(z0), n1 = norm(z1);
  if (n0 < 1e-8 || n1 < 1e-8) return lerp(z0, z1, steps);
  let cos = 0;
  for (let d = 0; d < z0.length; d++) cos += (z0[d] / n0) * (z1[d] / n1);
  const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
  if (Math.abs(omega) < 1e-4) return lerp(z0, z1, steps);
  const s = Math.sin(omega);
  return ts(steps).map((t) => {
    const a = Math.sin((1 - t) * omega) / s, b = Math.sin(t * omega) / s;
    return z0.map((v, d) => a * v + b * z1[d]);
  });
}
