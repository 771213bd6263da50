// The decoder sliders as a Streamlit component (explorer/ui/pages/decoder.py): the values of the sliders come
// back as the state value "c" when a slider is let go.
import { mountSliders } from "../decoder_sliders.js";

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".vd-root");
  if (!root) {
    root = document.createElement("div"); parentElement.appendChild(root);
    root.__st = mountSliders(root, { onChange: (values) => root.__setState("c", values) });
  }
  root.__setState = setStateValue;  // this render's
  root.__st.load(data);
}
