// Pixels on a canvas: a model's image (C*H*W floats in [0, 1], C = 1 or 3), enlarged without smoothing.
export function drawImage(canvas, pixels, C, H, W) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H), plane = H * W;
  for (let i = 0; i < plane; i++) {
    const g = (c) => Math.round(255 * Math.min(1, Math.max(0, pixels[c * plane + i])));
    img.data[4 * i] = g(0); img.data[4 * i + 1] = g(C === 3 ? 1 : 0); img.data[4 * i + 2] = g(C === 3 ? 2 : 0);
    img.data[4 * i + 3] = 255;
  }
  const tmp = canvas.__tmp || (canvas.__tmp = document.createElement("canvas"));
  tmp.width = W; tmp.height = H;
  tmp.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}
