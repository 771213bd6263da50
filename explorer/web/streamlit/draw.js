// Draw your own as a Streamlit component (explorer/ui/widgets/draw_panel.py): each encoding is announced as a
// "vaex:drawn" event on document for the map on the same page; "Use it" sends the state value "image" (a nonce
// tells a new use from the value a state keeps on every later rerun).
import { mountDraw } from "../draw.js";

const announce = (q) => document.dispatchEvent(new CustomEvent("vaex:drawn", { detail: q }));

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".vaex-draw");
  if (!root) {
    root = document.createElement("div"); parentElement.appendChild(root);
    const onUse = (im) => {
      root.__setState("image", { pixels: Array.from(im.pixels), inverted: im.inverted, nonce: Date.now() });
      return "Sent to the app.";
    };
    root.__st = mountDraw(root, { onEncode: announce, onUse });
  }
  root.__setState = setStateValue;  // this render's
  root.__st.load(data);
}
