// float16 numbers the blob carries as bytes (explorer/web/payload.py half_words, page_blob.py for_file): every
// float16 is a float32 exactly, so widening loses nothing.

// a float16's bits as its value
export function halfValue(h) {
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

// count little-endian float16s from the bytes under a float32 array (the blob's words) as a Float32Array
export function halves(words, count) {
  const dv = new DataView(words.buffer, words.byteOffset, 2 * count), out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = halfValue(dv.getUint16(2 * i, true));
  return out;
}
