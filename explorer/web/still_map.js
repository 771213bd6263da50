// A still latent map: the dots of one encoded data set, coloured by label, on equal axes, drawn once per size
// (the side-by-side maps under the main one). No decoder and no tools: a canvas costs the page a few ms, where a
// WebGL chart each cost the page more than the rest of the map page together. Knows no host.
import { buildGrid } from "./map_grid.js";
import { indexLabels } from "./map_points.js";
import { drawStill } from "./map_view.js";
import * as VAENet from "./vaenet.js";

const M0 = { l: 44, r: 10, t: 10, b: 28 };  // as the main map's, CSS px at scale 1
const ASPECT = 0.85;  // height / width: a column is narrow, a square would push its caption far down

// mounts into root (content replaced); load(blob): a blob of coords (n, 2) and labels (n) from
// explorer/ui/map/still.py; watch() -> stop: redraw when root's width changes
export function mountStill(root) {
  root.classList.add("vx-still");
  root.innerHTML = "";
  const base = document.createElement("canvas");
  root.appendChild(base);
  const S = { root, base, hidden: new Set(), highlight: null, sel: null, holes: null, n: 0 };
  root.__still = S;  // for tests
  const draw = () => {
    if (!S.n) return;
    const sc = parseFloat(getComputedStyle(root).getPropertyValue("--vx-scale")) || 1, r = window.devicePixelRatio || 1;
    const w = Math.max(160, root.clientWidth || 300), h = Math.round(w * ASPECT);
    base.width = w * r; base.height = h * r; base.style.width = w + "px"; base.style.height = h + "px";
    Object.assign(S, { w, h, r, sc, M: { l: M0.l * sc, r: M0.r * sc, t: M0.t * sc, b: M0.b * sc } });
    drawStill(S);
    root.dataset.ready = "1";
  };
  const observer = new ResizeObserver(() => { if (root.clientWidth !== S.w) draw(); });
  return {
    state: S,
    load(blob) {
      const p = VAENet.parse(blob);
      S.coords = p.arrays.coords.data; S.labels = p.arrays.labels.data; S.n = p.arrays.coords.shape[0];
      indexLabels(S); S.grid = buildGrid(S.coords, S.n);
      draw();
    },
    watch() { observer.observe(root); return () => observer.disconnect(); },
  };
}
