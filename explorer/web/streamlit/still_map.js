// A still latent map as a Streamlit component (explorer/ui/map/still.py): data is its blob of numbers, redrawn
// only when its bytes change (a rerun re-renders with the same ones).
import { mountStill } from "../still_map.js";

const same = (a, b) => a && b && a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);

export default function (component) {
  const { data, parentElement } = component;
  let root = parentElement.querySelector(".vx-still");
  if (!root) { root = document.createElement("div"); parentElement.appendChild(root); root.__map = mountStill(root); }
  const blob = data instanceof Uint8Array ? data : new Uint8Array(data || []);
  if (blob.byteLength && !same(blob, root.__blob)) { root.__map.load(blob); root.__blob = blob; }
  return root.__map.watch();
}
