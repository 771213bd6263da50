// Pen strokes on a 2-D canvas: round-capped, round-joined lines of one width and colour. The drawing
// component (draw.js) and tests/test_draw.py draw with these same calls, so the test's pixels are the
// component's.
// Exports: clear(ctx, background), dot(ctx, p, width, color), segment(ctx, a, b, width, color),
// polyline(ctx, points, width, color).
export function clear(ctx, background = "#ffffff") {
  ctx.save();
  ctx.globalCompositeOperation = "copy";  // opaque everywhere: getImageData equals the PNG's pixels
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.restore();
}

// A pen-down with no movement yet: a round dot the width of the line.
export function dot(ctx, p, width, color = "#000000") {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(p[0], p[1], width / 2, 0, 2 * Math.PI);
  ctx.fill();
}

export function segment(ctx, a, b, width, color = "#000000") {
  Object.assign(ctx, { strokeStyle: color, lineWidth: width, lineCap: "round", lineJoin: "round" });
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
}

// A whole stroke, as the component draws it event by event: a dot, then one segment per move.
export function polyline(ctx, points, width, color = "#000000") {
  if (!points.length) return;
  dot(ctx, points[0], width, color);
  for (let i = 1; i < points.length; i++) segment(ctx, points[i - 1], points[i], width, color);
}
