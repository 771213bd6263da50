// The latent map's marks (the star, the selection, lines, a path: a few numbers; explorer/web/payload.py map_marks)
// as their own Streamlit component beside the map (explorer/ui/map/canvas.py). A click's rerun changes these and
// not the map's blob, so only they travel (issue 24: a click sends a click). They are kept per map widget key for a
// map that mounts later, and announced as a "vaex:marks" event on document whose detail is that key.
const kept = (window.__vxMarks ||= new Map());

export const marksFor = (key) => kept.get(key) || null;

export default function ({ data }) {
  if (!data || typeof data.map !== "string") return;
  kept.set(data.map, data.marks || {});
  document.dispatchEvent(new CustomEvent("vaex:marks", { detail: data.map }));
}
