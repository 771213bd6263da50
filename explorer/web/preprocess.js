// A drawing's RGBA pixels -> the model's input, exactly as the server prepares an uploaded PNG of it:
// explorer.data.decode.image_from_bytes (alpha onto white, RGB -> L or RGB, ImageOps.fit with LANCZOS)
// then match_background (invert a grey picture whose border is far from the data set's). Pillow's
// integer arithmetic is reproduced step by step (libImaging/AlphaComposite.c, Convert.c, Resample.c),
// so the page's encoding of a drawing is the server's to the last bit. Pure functions, no DOM:
// tests/test_draw.py holds them against Pillow in Chromium.
// Exports: toModelImage(image, C, H, W, refBorder) -> {pixels, inverted}; fitBox, lanczosResize and borderMean
// (its steps, for tests).
const f32 = Math.fround;  // Pillow passes the resize box to C as floats
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS, HALF = 2 ** (PRECISION_BITS - 1);

const sinc = (x) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
const lanczos = (x) => (-3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0);
const clip8 = (ss) => Math.min(255, Math.max(0, ss >> PRECISION_BITS));  // ss fits an int32, as in C

// Resample.c precompute_coeffs + normalize_coeffs_8bpc: per output pixel, its first input pixel, how
// many, and the Lanczos weights normalised to sum 1 then rounded to fixed point.
function coeffs(inSize, in0, in1, outSize) {
  const scale = f32(in1 - in0) / outSize, filterscale = Math.max(scale, 1);
  const support = 3 * filterscale, ksize = Math.ceil(support) * 2 + 1, inv = 1 / filterscale;
  const bounds = new Int32Array(outSize * 2), kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - center + 0.5) * inv); ww += k[x]; }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[2 * xx] = xmin; bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

// One 8-bit plane (w x h) through Pillow's two passes: horizontal over the rows the vertical pass
// reads, then vertical; each pass rounds to uint8 (clip8).
export function lanczosResize(src, w, h, box, ow, oh) {
  const needH = ow !== w || box[0] !== 0 || box[2] !== ow;
  const needV = oh !== h || box[1] !== 0 || box[3] !== oh;
  const V = coeffs(h, box[1], box[3], oh);
  let img = src, iw = w;
  if (needH) {
    const H = coeffs(w, box[0], box[2], ow);
    const first = V.bounds[0], last = V.bounds[2 * oh - 2] + V.bounds[2 * oh - 1];
    const tmp = new Uint8Array(ow * (last - first));
    for (let yy = 0; yy < last - first; yy++) {
      const row = (yy + first) * w;
      for (let xx = 0; xx < ow; xx++) {
        const xmin = H.bounds[2 * xx], n = H.bounds[2 * xx + 1], kb = xx * H.ksize;
        let ss = HALF;
        for (let x = 0; x < n; x++) ss += src[row + xmin + x] * H.kk[kb + x];
        tmp[yy * ow + xx] = clip8(ss);
      }
    }
    for (let yy = 0; yy < oh; yy++) V.bounds[2 * yy] -= first;
    img = tmp; iw = ow;
  }
  if (!needV) return img === src ? Uint8Array.from(src) : img;
  const out = new Uint8Array(iw * oh);
  for (let yy = 0; yy < oh; yy++) {
    const ymin = V.bounds[2 * yy], n = V.bounds[2 * yy + 1], kb = yy * V.ksize;
    for (let xx = 0; xx < iw; xx++) {
      let ss = HALF;
      for (let y = 0; y < n; y++) ss += img[(ymin + y) * iw + xx] * V.kk[kb + y];
      out[yy * iw + xx] = clip8(ss);
    }
  }
  return out;
}

// ImageOps.fit(centering 0.5, no bleed): the centred box of the target's aspect ratio, in doubles as
// Python computes it, then as C floats.
export function fitBox(w, h, ow, oh) {
  const live = w / h, ratio = ow / oh;
  let cw = w, ch = h;
  if (live !== ratio) { if (live >= ratio) cw = ratio * h; else ch = w / ratio; }
  const left = (w - cw) * 0.5, top = (h - ch) * 0.5;
  return [f32(left), f32(top), f32(left + cw), f32(top + ch)];
}

// _imaging.c _resize: a box of integer offset and the target's size is a plain crop; else Resample.c.
function fit(plane, w, h, ow, oh) {
  const b = fitBox(w, h, ow, oh);
  if (Number.isInteger(b[0]) && f32(b[2] - b[0]) === ow && Number.isInteger(b[1]) && f32(b[3] - b[1]) === oh) {
    const out = new Uint8Array(ow * oh);
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[y * ow + x] = plane[(y + b[1]) * w + x + b[0]];
    return out;
  }
  return lanczosResize(plane, w, h, b, ow, oh);
}

// AlphaComposite.c onto opaque white (7 bits of precision, SHIFTFORDIV255), then the colour planes:
// L = Convert.c's L24 >> 16, or R, G, B.
function planes(rgba, n, C) {
  const out = Array.from({ length: C }, () => new Uint8Array(n));
  const div255 = (a) => (((a >>> 8) + a) >>> 8);
  for (let i = 0; i < n; i++) {
    let r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    const a = rgba[4 * i + 3];
    if (a === 0) { r = g = b = 255; } else {
      const outa255 = a * 255 + 255 * (255 - a);
      const coef1 = Math.floor((a * 255 * 255 * 128) / outa255), coef2 = 255 * 128 - coef1;
      const mix = (v) => div255(v * coef1 + 255 * coef2 + (0x80 << 7)) >>> 7;
      r = mix(r); g = mix(g); b = mix(b);
    }
    if (C === 1) out[0][i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >>> 16;
    else { out[0][i] = r; out[1][i] = g; out[2][i] = b; }
  }
  return out;
}

// match_background's _border_mean: the outermost rows and columns (corners counted twice).
export function borderMean(x, H, W) {
  let s = 0;
  for (let j = 0; j < W; j++) s += x[j] + x[(H - 1) * W + j];
  for (let i = 0; i < H; i++) s += x[i * W] + x[i * W + W - 1];
  return s / (2 * W + 2 * H);
}

// image: {data: RGBA bytes, width, height} (a canvas's ImageData). refBorder: the data set's border
// mean (match_background's reference), or null for no inversion. Returns {pixels: Float32Array
// (C*H*W) in [0, 1], inverted}.
export function toModelImage(image, C, H, W, refBorder) {
  if (C !== 1 && C !== 3) throw new Error(`a model with ${C} channels cannot take a drawing`);
  const ps = planes(image.data, image.width * image.height, C);
  const pixels = new Float32Array(C * H * W);
  ps.forEach((p, c) => {
    const small = fit(p, image.width, image.height, W, H);
    for (let i = 0; i < H * W; i++) pixels[c * H * W + i] = small[i] / 255;  // stored as float32
  });
  let inverted = false;
  if (C === 1 && refBorder !== null && refBorder !== undefined && Math.abs(borderMean(pixels, H, W) - refBorder) > 0.5) {
    for (let i = 0; i < pixels.length; i++) pixels[i] = 1 - pixels[i];
    inverted = true;
  }
  return { pixels, inverted };
}
