// The explorer as an anywidget (explorer/notebook/widget.py): the core's map, sliders and drawing pad mounted in
// the widget's element and wired to its traitlets. Hover, slider moves and pen strokes stay in this page; the
// kernel hears a click (chosen), a finished box or lasso (selection), a let-go slider (slider_values) and "Use
// it" (_drawing). From the kernel: the blobs (_map, _sliders, _draw) and the star (_star, moved without
// sending the map again). anywidget hands binary traitlets over as DataViews.
import { mountSliders } from "../decoder_sliders.js";
import { mountDraw } from "../draw.js";
import { mountMap } from "../latent_map.js";

const bytes = (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

function tabs(el, names) {
  const bar = document.createElement("div"); bar.className = "vxw-tabs";
  const panes = names.map(() => { const p = document.createElement("div"); p.className = "vxw-pane"; return p; });
  const show = (k) => panes.forEach((p, i) => { p.hidden = i !== k; bar.children[i].classList.toggle("on", i === k); });
  names.forEach((name, k) => {
    const b = document.createElement("button"); b.className = "vxw-tab"; b.textContent = name;
    b.onclick = () => show(k); bar.appendChild(b);
  });
  el.append(bar, ...panes); show(0);
  return panes;
}

function render({ model, el }) {
  el.classList.add("vxw");
  const mapRoot = document.createElement("div"); el.replaceChildren(mapRoot);
  const [slidersRoot, drawRoot] = tabs(el, ["Decoder sliders", "Draw your own"]);
  const send = (name, value) => { model.set(name, value); model.save_changes(); };
  const map = mountMap(mapRoot, {
    onPick: (p) => send("chosen", "index" in p ? p.index : p.z),
    onSelect: (s) => send("selection", s.ids),
  });
  const sliders = mountSliders(slidersRoot, { onChange: (c) => send("slider_values", c) });
  const draw = mountDraw(drawRoot, {
    onEncode: (q) => map.showDrawn(q),  // the drawing's point moves on the map as the pen moves
    onUse: (im) => {
      send("_drawing", { pixels: Array.from(im.pixels), inverted: im.inverted, nonce: Date.now() });
      return "Sent to the kernel: the widget's drawing.";
    },
  });
  const star = () => {
    const s = model.get("_star");
    map.setSelected(s.length ? [s[0], s[1]] : null, s.length ? [s[2], s[3], s[3], s[4]] : null);
  };
  const loadMap = () => { map.load(bytes(model.get("_map"))); star(); };
  const loadSliders = () => sliders.load(bytes(model.get("_sliders")));
  const loadDraw = () => draw.load(bytes(model.get("_draw")));
  const on = [["change:_map", loadMap], ["change:_star", star], ["change:_sliders", loadSliders],
    ["change:_draw", loadDraw]];
  for (const [event, f] of on) model.on(event, f);
  loadMap(); loadSliders(); loadDraw();
  const stop = map.watch();
  return () => { stop(); for (const [event, f] of on) model.off(event, f); };
}

export default { render };
