// The latent map as a Streamlit component (st.components.v2, explorer/ui/map/canvas.py): a click and a finished
// box or lasso come back as triggers "pick" and "select"; a drawing encoded by the draw component on the same
// page arrives as a "vaex:drawn" event on document. The data is the blob (model and points), the same bytes on
// every click's rerun, so Streamlit sends a reference to the copy the browser holds; the marks (the star, the
// selection, lines: a few numbers) come from their own component (./map_marks.js) as a "vaex:marks" event.
import { sameBytes } from "../bytes.js";
import { mountMap } from "../latent_map.js";
import { marksFor } from "./map_marks.js";

// the widget key Streamlit gives the element that holds this component (class st-key-<key>), or ""
function widgetKey(el) {
  const host = el.getRootNode().host || el;
  const box = host.closest ? host.closest("[class*='st-key-']") : null;
  const m = box ? /(?:^|\s)st-key-(\S+)/.exec(box.className) : null;
  return m ? m[1] : "";
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".vx-root");
  if (!root) {
    root = document.createElement("div"); parentElement.appendChild(root);
    const send = (name) => (value) => root.__trigger(name, value);  // this render's setTriggerValue
    const map = mountMap(root, { onPick: send("pick"), onSelect: send("select") });
    const key = widgetKey(parentElement);
    const onMarks = (e) => { if (e.detail === key) map.setMarks(marksFor(key)); };
    root.__st = { map, key, onDrawn: (e) => map.showDrawn(e.detail), onMarks };
  }
  const { map, key, onDrawn, onMarks } = root.__st;
  root.__trigger = setTriggerValue;
  const blob = data instanceof Uint8Array ? data : new Uint8Array(data || []);
  if (!sameBytes(blob, root.__blob)) {  // a rerun re-renders with the same bytes: parse and index them once
    root.__blob = map.load(blob) ? blob : null;
    const marks = marksFor(key);
    if (marks) map.setMarks(marks);
  }
  // (re)attached on every render and detached by its cleanup: safe if Streamlit calls a cleanup early
  document.removeEventListener("vaex:drawn", onDrawn);
  document.addEventListener("vaex:drawn", onDrawn);
  document.removeEventListener("vaex:marks", onMarks);
  document.addEventListener("vaex:marks", onMarks);
  const stop = map.watch();
  return () => { document.removeEventListener("vaex:drawn", onDrawn); document.removeEventListener("vaex:marks", onMarks); stop(); };
}
