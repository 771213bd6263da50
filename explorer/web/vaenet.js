// The model's forward pass in the page: plain Float32Array loops over the blob that
// explorer/web/payload.py packs (b"VAEX", uint32 header length, numbers-only JSON header, float32 data).
// Pure functions, no drawing: tests/test_web_forward.py holds them against torch in Chromium.
// Exports: parse(bytes) -> {header, data, arrays, model}; decode(model, z); encode(model, x); logPrior(z).
import { ACTIVATIONS, OP_ACT, OP_CONV, OP_CONVT, OP_GATHER, OP_LINEAR, OP_RESIZE, OUT_CLAMP, SPREADS } from "./codes.js";

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
// each activation by its name in codes.js, with its default alpha: (x, a), a the record's third number if any
const ACT = {
  relu: [(x) => (x > 0 ? x : 0), 0],
  tanh: [Math.tanh, 0],
  elu: [(x, a) => (x > 0 ? x : a * Math.expm1(x)), 1],                // alpha 1 (torch's)
  leaky_relu: [(x, a) => (x > 0 ? x : a * x), 0.01],                  // slope 0.01 (torch's)
  softplus: [(x) => (x > 20 ? x : Math.log1p(Math.exp(x))), 0],       // beta 1, threshold 20 (torch's)
  sigmoid: [sigmoid, 0],                                              // imported graphs
};
// how the encoder's second half becomes sigma, by the names in codes.js (point: none, sigma 0)
const SPREAD = { mean_logvar: (h) => Math.exp(0.5 * h), mean_logstd: Math.exp, mean_std: (h) => h, point: null };

// bytes: a Uint8Array whose offset need not be 4-aligned, so the data is copied before it is viewed.
export function parse(bytes) {
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== "VAEX") throw new Error("not a VAEX payload");
  const n = bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24);
  const header = JSON.parse(new TextDecoder("ascii").decode(bytes.subarray(8, 8 + n)));
  const start = 8 + n + ((4 - ((8 + n) % 4)) % 4);
  const copy = bytes.slice(start);  // a fresh, 4-aligned buffer
  const data = new Float32Array(copy.buffer, 0, copy.byteLength >> 2);
  const arrays = {};
  for (const [name, [off, ...shape]] of Object.entries(header.arrays || {})) {
    const size = shape.reduce((a, b) => a * b, 1);
    arrays[name] = { data: data.subarray(off, off + size), shape };
  }
  return { header, data, arrays, model: header.model ? prepare(header.model, data) : null };
}

function prepare(m, data) {
  const view = (off, size) => data.subarray(off, off + size);
  const bind = (ops) => ops.map((op) => {
    if (op[0] === OP_LINEAR) return { op: op[0], nin: op[1], nout: op[2], w: view(op[3], op[1] * op[2]), b: view(op[4], op[2]) };
    if (op[0] === OP_CONV || op[0] === OP_CONVT) {
      const [code, cin, h, w, cout, oh, ow, k, s, p, wo, bo] = op;
      return { op: code, cin, h, w, cout, oh, ow, k, s, p, w8: view(wo, cin * cout * k * k), b: view(bo, cout) };
    }
    if (op[0] === OP_ACT) {
      const [f, alpha] = ACT[ACTIVATIONS[op[1]]] || [];
      if (!f) throw new Error(`activation ${ACTIVATIONS[op[1]] || op[1]} is not implemented in the page`);
      return { op: op[0], f, a: op.length > 2 ? op[2] : alpha };
    }
    if (op[0] === OP_GATHER) return { op: op[0], n: op[1], idx: view(op[2], op[1]) };
    return { op: op[0], c: op[1], h: op[2], w: op[3], oh: op[4], ow: op[5] };
  });
  const [C, H, W] = m.image;
  return { ...m, C, H, W, pixels: C * H * W, enc: bind(m.encoder), dec: bind(m.decoder) };
}

function linear(L, x) {
  const y = new Float32Array(L.nout), w = L.w, nin = L.nin;
  for (let o = 0; o < L.nout; o++) {
    let s = L.b[o];
    const r = o * nin;
    for (let i = 0; i < nin; i++) s += w[r + i] * x[i];
    y[o] = s;
  }
  return y;
}

// torch Conv2d: weight (cout, cin, k, k)
function conv(L, x) {
  const { cin, h, w, cout, oh, ow, k, s, p } = L, y = new Float32Array(cout * oh * ow);
  for (let co = 0; co < cout; co++) {
    for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
      let acc = L.b[co];
      for (let ci = 0; ci < cin; ci++) {
        const wb = ((co * cin + ci) * k) * k, xb = ci * h * w;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            if (ix >= 0 && ix < w) acc += L.w8[wb + ky * k + kx] * x[xb + iy * w + ix];
          }
        }
      }
      y[(co * oh + oy) * ow + ox] = acc;
    }
  }
  return y;
}

// torch ConvTranspose2d: weight (cin, cout, k, k); each input pixel scatters a k x k patch
function convT(L, x) {
  const { cin, h, w, cout, oh, ow, k, s, p } = L, acc = new Float64Array(cout * oh * ow);
  for (let ci = 0; ci < cin; ci++) for (let iy = 0; iy < h; iy++) for (let ix = 0; ix < w; ix++) {
    const v = x[(ci * h + iy) * w + ix];
    if (v === 0) continue;  // after a ReLU most inputs are 0
    for (let co = 0; co < cout; co++) {
      const wb = ((ci * cout + co) * k) * k, ob = co * oh * ow;
      for (let ky = 0; ky < k; ky++) {
        const oy = iy * s - p + ky;
        if (oy < 0 || oy >= oh) continue;
        for (let kx = 0; kx < k; kx++) {
          const ox = ix * s - p + kx;
          if (ox >= 0 && ox < ow) acc[ob + oy * ow + ox] += v * L.w8[wb + ky * k + kx];
        }
      }
    }
  }
  const y = new Float32Array(cout * oh * ow);
  for (let co = 0; co < cout; co++) for (let j = 0; j < oh * ow; j++) y[co * oh * ow + j] = acc[co * oh * ow + j] + L.b[co];
  return y;
}

// F.interpolate(mode="bilinear", align_corners=False): source = (dst + 0.5) * in / out - 0.5, clamped at 0
function resize(L, x) {
  const { c, h, w, oh, ow } = L, y = new Float32Array(c * oh * ow);
  const src = (d, n, m) => {
    const t = Math.max(0, (d + 0.5) * (n / m) - 0.5), i0 = Math.floor(t);
    return [i0, i0 < n - 1 ? i0 + 1 : i0, t - i0];
  };
  for (let oy = 0; oy < oh; oy++) {
    const [y0, y1, ly] = src(oy, h, oh);
    for (let ox = 0; ox < ow; ox++) {
      const [x0, x1, lx] = src(ox, w, ow);
      for (let ch = 0; ch < c; ch++) {
        const b = ch * h * w;
        const top = (1 - lx) * x[b + y0 * w + x0] + lx * x[b + y0 * w + x1];
        const bot = (1 - lx) * x[b + y1 * w + x0] + lx * x[b + y1 * w + x1];
        y[(ch * oh + oy) * ow + ox] = (1 - ly) * top + ly * bot;
      }
    }
  }
  return y;
}

// y[i] = x[idx[i]]: a transpose or a slice of the flat data (an NHWC graph's images, a Transpose node)
function gather(L, x) {
  const y = new Float32Array(L.n), idx = L.idx;
  for (let i = 0; i < L.n; i++) y[i] = x[idx[i]];
  return y;
}

function run(ops, x) {
  for (const L of ops) {
    if (L.op === OP_LINEAR) x = linear(L, x);
    else if (L.op === OP_CONV) x = conv(L, x);
    else if (L.op === OP_CONVT) x = convT(L, x);
    else if (L.op === OP_RESIZE) x = resize(L, x);
    else if (L.op === OP_GATHER) x = gather(L, x);
    else { const y = new Float32Array(x.length), f = L.f, a = L.a; for (let i = 0; i < x.length; i++) y[i] = f(x[i], a); x = y; }
  }
  return x;
}

// The mean of p(x|z), (C*H*W) in [0, 1] from the first C channels (Gaussians with a learned variance give
// the mean first): a sigmoid of them (a native model; imported logits), or, for an imported decoder whose
// output is the mean itself (out === OUT_CLAMP), the output clamped to [0, 1] for display.
export function decode(model, z) {
  const out = run(model.dec, Float32Array.from(z)), mean = new Float32Array(model.pixels);
  if (model.out === OUT_CLAMP) for (let i = 0; i < model.pixels; i++) mean[i] = Math.min(1, Math.max(0, out[i]));
  else for (let i = 0; i < model.pixels; i++) mean[i] = sigmoid(out[i]);
  return mean;
}

// q(z|x) for x (C*H*W): {mu, sigma} from the encoder's output [mu, second]; sigma from the second half as
// model.spread says (a native VAE's is a log-variance); an autoencoder's code has sigma 0.
export function encode(model, x) {
  if (!model.enc.length) throw new Error("this payload carries the decoder only");
  const h = run(model.enc, Float32Array.from(x)), D = model.latent;
  const mu = h.slice(0, D), sigma = new Float32Array(D), f = SPREAD[SPREADS[model.spread]];
  if (f) for (let d = 0; d < D; d++) sigma[d] = f(h[D + d]);
  return { mu, sigma };
}

// log N(z; 0, I), nats
export function logPrior(z) {
  let s = 0;
  for (const v of z) s += v * v;
  return -0.5 * (z.length * Math.log(2 * Math.PI) + s);
}
