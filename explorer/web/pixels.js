// Pixels on a canvas: a model's image (C*H*W floats in [0, 1], C = 1 or 3), enlarged without smoothing.

// the image as a W x H canvas of its own (grey for C = 1), to be drawn scaled
export function imageCanvas(pixels, C, H, W, canvas = document.createElement("canvas")) {
  canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(W, H), plane = H * W;
  for (let i = 0; i < plane; i++) {
    const g = (c) => Math.round(255 * Math.min(1, Math.max(0, pixels[c * plane + i])));
    img.data[4 * i] = g(0); img.data[4 * i + 1] = g(C === 3 ? 1 : 0); img.data[4 * i + 2] = g(C === 3 ? 2 : 0);
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

export function drawImage(canvas, pixels, C, H, W) {
  const tmp = imageCanvas(pixels, C, H, W, canvas.__tmp || (canvas.__tmp = document.createElement("canvas")));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

// image i of the blob's thumbnails (4-bit grey levels, two pixels a byte: payload.py thumb_words) as P floats
export function thumbPixels(thumbs, i, P) {
  const img = new Float32Array(P);
  for (let k = 0, j = i * P; k < P; k++, j++) {
    const b = thumbs[j >> 1];
    img[k] = ((j & 1) ? b >> 4 : b & 15) / 15;
  }
  return img;
}
