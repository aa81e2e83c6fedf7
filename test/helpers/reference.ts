// SPDX-License-Identifier: MIT
// A plain float64 RealNVP and RLE loss (values only), written straight from the golden README's
// formulas. Used as the oracle for finite-difference gradient checks on random configurations.

export interface RefFlow {
  dim: number;
  hidden: number;
  masks: number[][];
  slope: number;
  /** Canonical order as flowParamSpecs: per coupling, s then t: W1 [H,D], b1, W2 [H,H], b2, W3 [D,H], b3. */
  params: Float64Array;
}

function linear(W: Float64Array, wOff: number, b: Float64Array, bOff: number, x: number[], out: number): number[] {
  const inp = x.length;
  const y = new Array<number>(out);
  for (let o = 0; o < out; o++) {
    let s = b[bOff + o];
    for (let i = 0; i < inp; i++) s += W[wOff + o * inp + i] * x[i];
    y[o] = s;
  }
  return y;
}

function mlp(f: RefFlow, off: number, x: number[], tanh: boolean): { y: number[]; next: number } {
  const { dim: D, hidden: H, params: P, slope } = f;
  const leaky = (v: number) => (v > 0 ? v : v * slope);
  let o = off;
  const h1 = linear(P, o, P, o + H * D, x, H).map(leaky); o += H * D + H;
  const h2 = linear(P, o, P, o + H * H, h1, H).map(leaky); o += H * H + H;
  let y = linear(P, o, P, o + D * H, h2, D); o += D * H + D;
  if (tanh) y = y.map(Math.tanh);
  return { y, next: o };
}

function netOffsets(f: RefFlow): number[] {
  const { dim: D, hidden: H } = f;
  const per = 2 * H * D + H * H + 2 * H + D;
  return f.masks.map((_, c) => c * 2 * per);
}

/** Data → latent for one sample; returns z and log|det|. */
export function refInverse(f: RefFlow, x: number[]): { z: number[]; logDet: number } {
  const offs = netOffsets(f);
  let z = x.slice();
  let ld = 0;
  for (let c = f.masks.length - 1; c >= 0; c--) {
    const m = f.masks[c];
    const zm = z.map((v, d) => v * m[d]);
    const sNet = mlp(f, offs[c], zm, true);
    const tNet = mlp(f, sNet.next, zm, false);
    const s = sNet.y.map((v, d) => v * (1 - m[d]));
    const t = tNet.y.map((v, d) => v * (1 - m[d]));
    z = z.map((v, d) => (1 - m[d]) * (v - t[d]) * Math.exp(-s[d]) + zm[d]);
    ld -= s.reduce((a, b) => a + b, 0);
  }
  return { z, logDet: ld };
}

export function refLogProb(f: RefFlow, x: number[]): number {
  const { z, logDet } = refInverse(f, x);
  return -0.5 * z.reduce((a, v) => a + v * v, 0) - 0.5 * f.dim * Math.log(2 * Math.PI) + logDet;
}

const sigmoid = (l: number) => 1 / (1 + Math.exp(-l));

/** The loss of the golden README for arrays [B,K,D] (flat). */
export function refLoss(f: RefFlow, variant: string, B: number, K: number, pred: ArrayLike<number>, sl: ArrayLike<number>,
  target: ArrayLike<number>, w: ArrayLike<number>): number {
  const D = f.dim;
  let loss = 0;
  for (let j = 0; j < B * K; j++) {
    const idx = (d: number) => j * D + d;
    const sig = Array.from({ length: D }, (_, d) => sigmoid(sl[idx(d)]));
    const w0 = w[idx(0)];
    if (variant === 'l1' || variant === 'l2') {
      for (let d = 0; d < D; d++) { const e = pred[idx(d)] - target[idx(d)]; loss += w[idx(d)] * (variant === 'l1' ? Math.abs(e) : e * e); }
      continue;
    }
    if (variant === 'direct') {
      const { z, logDet } = refInverse(f, Array.from({ length: D }, (_, d) => target[idx(d)]));
      let nll = -logDet;
      for (let d = 0; d < D; d++) {
        const r = z[d] - pred[idx(d)];
        nll += r * r / (2 * sig[d] * sig[d]) + Math.log(sig[d]) + 0.5 * Math.log(2 * Math.PI);
      }
      loss += nll * w0;
      continue;
    }
    const mm = variant !== 'official';
    const bar = Array.from({ length: D }, (_, d) => (pred[idx(d)] - target[idx(d)]) / (mm ? sig[d] + 1e-9 : sig[d]));
    const lphi = refLogProb(f, bar);
    for (let d = 0; d < D; d++) {
      const s = sig[d], wi = w[idx(d)];
      const nf = Math.log(s) - lphi;
      if (variant === 'official') {
        const q = Math.log(s * Math.sqrt(2 * Math.PI)) + Math.abs(target[idx(d)] - pred[idx(d)]) / (Math.SQRT2 * s + 1e-9);
        loss += nf * w0 + q * wi;
      } else if (variant === 'mmpose_laplace') loss += (nf + Math.log(2 * s) + Math.abs(bar[d])) * wi;
      else if (variant === 'mmpose_gaussian') loss += (nf + Math.log(s * Math.sqrt(2 * Math.PI)) + 0.5 * bar[d] * bar[d]) * wi;
      else if (variant === 'no_residual') loss += nf * wi;
      else throw new Error(`refLoss: unknown variant ${variant}`);
    }
  }
  return loss / B;
}
