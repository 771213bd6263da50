// A component's blob, served by URL (explorer/ui/widgets/served.py): fetched once per URL, however often a rerun
// sends the same data. follow(st, data, load): load(bytes) for data.url when it differs from the last one asked
// for; resolves true once data.url's blob is the one loaded (a newer data's url wins), false otherwise.
export async function follow(st, data, load) {
  st.want = data;
  if (data.url !== st.url) {
    st.url = data.url;
    let blob = null;
    try {
      const r = await fetch(new URL(String(data.url).replace(/^\//, ""), document.baseURI));
      if (r.ok) blob = new Uint8Array(await r.arrayBuffer());
    } catch (err) { blob = null; }
    if (st.want.url !== data.url) return false;  // a newer blob came meanwhile: its own call loads it
    if (!blob) { st.url = null; return false; }  // the next rerun's data tries again
    st.loaded = load(blob) === false ? null : data.url;
  }
  return st.loaded === st.want.url;
}
