// Bytes as the page's modules receive them: compared, and inflated from zlib's deflate (payload.py deflates the
// map's thumbnails, page_blob.py a whole exported blob) by the browser's own DecompressionStream.

export function sameBytes(a, b) {
  if (a === b) return true;
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

// false where the browser has no DecompressionStream (Safari before 16.4, Firefox before 113)
export const canInflate = () => typeof DecompressionStream !== "undefined";

export async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
