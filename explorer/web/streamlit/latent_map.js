// The latent map as a Streamlit component (st.components.v2, explorer/ui/map/canvas.py): a click and a finished
// box or lasso come back as triggers "pick" and "select"; a drawing encoded by the draw component on the same
// page arrives as a "vaex:drawn" event on document.
import { mountMap } from "../latent_map.js";

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".vx-root");
  if (!root) {
    root = document.createElement("div"); parentElement.appendChild(root);
    const send = (name) => (value) => root.__trigger(name, value);  // this render's setTriggerValue
    const map = mountMap(root, { onPick: send("pick"), onSelect: send("select") });
    root.__st = { map, onDrawn: (e) => map.showDrawn(e.detail) };
  }
  const { map, onDrawn } = root.__st;
  root.__trigger = setTriggerValue;
  map.load(data);
  // (re)attached on every render and detached by its cleanup: safe if Streamlit calls a cleanup early
  document.removeEventListener("vaex:drawn", onDrawn);
  document.addEventListener("vaex:drawn", onDrawn);
  const stop = map.watch();
  return () => { document.removeEventListener("vaex:drawn", onDrawn); stop(); };
}
