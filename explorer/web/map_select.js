// The latent map's projector tools (joined with latent_map.js and map_pointer.js): box and lasso selection,
// the marks Python sends (highlighted labels, the selection, neighbour lines, an attribute path) and the hover
// label with the test image itself. A finished selection goes to Python as one trigger: {ids: [...]}.
// Header numbers: highlight = labels to keep bright (the rest fade); sel = selected indices; lines_latent,
// lines_pixel = x0, y0, x1, y1 per line; path = x, y per point (the middle one is strength 0).
function addSelectTools(S, tools) {
  S.tool = "pan";
  S.toolButtons = {};
  const first = tools.firstChild;  // pan, box, lasso go ahead of the zoom buttons
  for (const [key, label, title] of [["pan", "pan", "drag to pan"], ["box", "box", "drag a rectangle to select"],
    ["lasso", "lasso", "draw around the points to select"]]) {
    const b = document.createElement("button");
    b.className = "vx-btn vx-tool" + (key === "pan" ? " on" : ""); b.textContent = label; b.title = title;
    b.dataset.tool = key;
    b.onclick = () => setTool(S, key);
    tools.insertBefore(b, first);
    S.toolButtons[key] = b;
  }
  S.tip = document.createElement("div"); S.tip.className = "vx-tip"; S.tip.style.display = "none";
  S.tipCanvas = document.createElement("canvas"); S.tipCanvas.className = "vx-tip-img";
  S.tipText = document.createElement("div");
  S.tip.appendChild(S.tipCanvas); S.tip.appendChild(S.tipText);
  S.over.parentElement.appendChild(S.tip);
}

function setTool(S, key) {
  S.tool = key;
  for (const [k, b] of Object.entries(S.toolButtons)) b.classList.toggle("on", k === key);
  S.over.style.cursor = key === "pan" ? "crosshair" : "cell";
}

function loadMarks(S, p) {
  const h = p.header;
  S.highlight = new Set(h.highlight || []);
  S.sel = new Set((h.sel || []).filter((i) => i >= 0 && i < S.n));
  // 4-bit grey levels, two pixels a byte (web_payload.thumb_words)
  S.thumbs = p.arrays.thumbs ? new Uint8Array(p.arrays.thumbs.data.buffer, p.arrays.thumbs.data.byteOffset,
                                              Math.ceil(S.n * S.model.pixels / 2)) : null;
}

// how bright a dot is: faded when its label is not highlighted, or when a selection leaves it out
function dotAlpha(S, i, lab) {
  if (S.highlight && S.highlight.size && !S.highlight.has(lab)) return 0.06;
  if (S.sel && S.sel.size) return S.sel.has(i) ? 0.9 : 0.12;
  return 0.7;
}

function drawMarks(S, ctx) {
  const h = S.header, line = (a, color, dash) => {
    ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.setLineDash(dash);
    for (let i = 0; i + 3 < a.length; i += 4) {
      ctx.beginPath(); ctx.moveTo(sx(S, a[i]), sy(S, a[i + 1])); ctx.lineTo(sx(S, a[i + 2]), sy(S, a[i + 3])); ctx.stroke();
    }
    ctx.setLineDash([]);
  };
  if (S.sel && S.sel.size && S.sel.size <= 300) {  // a few: outlined too; many are told apart by the fading
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
    for (const i of S.sel) ctx.strokeRect(sx(S, S.coords[2 * i]) - 3, sy(S, S.coords[2 * i + 1]) - 3, 6, 6);
  }
  if (h.lines_pixel) line(h.lines_pixel, "rgba(200,0,0,0.9)", [4, 3]);
  if (h.lines_latent) line(h.lines_latent, "rgba(0,0,0,0.9)", []);
  if (h.path && h.path.length >= 4) {
    ctx.strokeStyle = "#7a00cc"; ctx.lineWidth = 2; ctx.beginPath();
    for (let i = 0; i + 1 < h.path.length; i += 2) (i ? ctx.lineTo : ctx.moveTo).call(ctx, sx(S, h.path[i]), sy(S, h.path[i + 1]));
    ctx.stroke(); ctx.fillStyle = "#7a00cc";
    for (let i = 0; i + 1 < h.path.length; i += 2) { ctx.beginPath(); ctx.arc(sx(S, h.path[i]), sy(S, h.path[i + 1]), 3, 0, 2 * Math.PI); ctx.fill(); }
    const e = h.path.length - 2;
    ctx.beginPath(); ctx.arc(sx(S, h.path[e]), sy(S, h.path[e + 1]), 6, 0, 2 * Math.PI); ctx.stroke();  // +2 end
  }
  drawKey(S, ctx);
  if (S.drag && S.drag.poly.length > 1) {
    ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.setLineDash([5, 4]); ctx.fillStyle = "rgba(0,0,0,0.06)";
    ctx.beginPath(); S.drag.poly.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath();
    ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
  }
}

// what the lines on the map are: one key entry per kind drawn (its own line style and words), bottom left
const KEYS = [["lines_latent", "rgba(0,0,0,0.9)", [], "latent neighbours (nearest codes)"],
  ["lines_pixel", "rgba(200,0,0,0.9)", [4, 3], "pixel neighbours (nearest images)"],
  ["path", "#7a00cc", [], "attribute vector, strength −2 … +2 (ring: +2)"]];
function drawKey(S, ctx) {
  const sc = S.sc || 1, rows = KEYS.filter(([k]) => S.header[k] && S.header[k].length >= 4), lh = 16 * sc;
  S.keyShown = rows.map((r) => r[3]);  // for tests: the entries the key shows now
  if (!rows.length) return;
  ctx.font = `${11 * sc}px sans-serif`;
  const w = 30 * sc + Math.max(...rows.map((r) => ctx.measureText(r[3]).width)), x = S.M.l + 6 * sc;
  const y = S.h - S.M.b - 6 * sc - rows.length * lh;
  ctx.fillStyle = "rgba(255,255,255,0.9)"; ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
  ctx.fillRect(x, y - 4 * sc, w + 10 * sc, rows.length * lh + 6 * sc); ctx.strokeRect(x, y - 4 * sc, w + 10 * sc, rows.length * lh + 6 * sc);
  rows.forEach(([, color, dash, text], i) => {
    const yy = y + i * lh + lh / 2;
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash);
    ctx.beginPath(); ctx.moveTo(x + 5 * sc, yy); ctx.lineTo(x + 27 * sc, yy); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#222"; ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.fillText(text, x + 32 * sc, yy);
  });
  ctx.textBaseline = "alphabetic";
}

// a box or lasso gesture in screen px: start, extend, finish (the selection goes to Python)
function selectStart(S, p) { S.drag = { kind: S.tool, x0: p.px, y0: p.py, poly: [[p.px, p.py]] }; }
function selectMove(S, p) {
  const d = S.drag;
  if (d.kind === "box") d.poly = [[d.x0, d.y0], [p.px, d.y0], [p.px, p.py], [d.x0, p.py]];
  else d.poly.push([p.px, p.py]);
  overlay(S);
}
function selectEnd(S) {
  const poly = S.drag.poly; S.drag = null;
  if (poly.length < 3) { overlay(S); return; }
  const ids = [];
  for (let i = 0; i < S.n; i++) {
    if (S.hidden.has(S.labels[i])) continue;
    if (inside(poly, sx(S, S.coords[2 * i]), sy(S, S.coords[2 * i + 1]))) ids.push(i);
  }
  S.sel = new Set(ids); redraw(S);
  S.setTrigger("select", { ids });
}

// even-odd rule: is (x, y) inside the polygon?
function inside(poly, x, y) {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

// the hover label: the test image under the pointer (when the page has thumbnails), its index and label
function showTip(S, i, px, py) {
  if (i < 0 || !S.thumbs) { S.tip.style.display = "none"; return; }
  const P = S.model.pixels, img = new Float32Array(P);
  for (let k = 0, j = i * P; k < P; k++, j++) {
    const b = S.thumbs[j >> 1];
    img[k] = ((j & 1) ? b >> 4 : b & 15) / 15;
  }
  const scale = Math.max(1, Math.round(56 / S.model.W));
  S.tipCanvas.width = S.model.W * scale; S.tipCanvas.height = S.model.H * scale;
  drawImage(S.tipCanvas, img, S.model.C, S.model.H, S.model.W);
  S.tipText.textContent = `image ${i + (S.header.index_offset || 0)} · label ${S.labels[i]}`;
  S.tip.style.display = "block";
  S.tip.style.left = Math.min(px + 14, S.w - 80) + "px"; S.tip.style.top = Math.max(py - 80, 0) + "px";
  S.tipIndex = i;
}
