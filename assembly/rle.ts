// SPDX-License-Identifier: MIT
// RLE loss variants (values and gradients) on top of the RealNVP kernels. See shared golden README
// for the formulas. The io block holds six [N, D] arrays (N = B·K joints), each padded to 4 floats:
//   pred | sigmaLogit | target | weight | gradPred (out) | gradSigmaLogit (out)
import { bind, flowInverse, flowBackward, flowLogProbFwdBwd, flowPackedFloats, flowWsOffset,
         WS_IN, WS_Z, WS_LD, WS_LP, WS_W, WS_G, WS_GLD, WS_SIG, DESC_D, DESC_H, DESC_C, DESC_GRADS } from './realnvp';

export const RLE_OFFICIAL = 0;
export const RLE_MMPOSE_LAPLACE = 1;
export const RLE_MMPOSE_GAUSSIAN = 2;
export const RLE_NO_RESIDUAL = 3;
export const RLE_DIRECT = 4;
export const LOSS_L1 = 5;
export const LOSS_L2 = 6;

/** Below this σ the residual (μ̂−μ)/σ is no longer representable in float32: σ is clamped here. */
export const SIGMA_MIN: f64 = 1e-6;
const EPS: f64 = 1e-9;
const SQRT2: f64 = 1.4142135623730951;
const LOG_AMP: f64 = -0.9189385332046727; // log(1/sqrt(2π))
const HALF_LOG_2PI: f64 = 0.9189385332046727;
const LOG2: f64 = 0.6931471805599453;

@inline function ld32(p: usize, i: i32): f64 { return <f64>load<f32>(p + ((<usize>i) << 2)); }
@inline function st32(p: usize, i: i32, v: f64): void { store<f32>(p + ((<usize>i) << 2), <f32>v); }
@inline function sgn(x: f64): f64 { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

/** σ = sigmoid(l) clamped below at SIGMA_MIN; returns σ and writes dσ/dl (0 where clamped). */
@inline function sigmoid(l: f64): f64 {
  return l >= 0 ? 1.0 / (1.0 + Math.exp(-l)) : Math.exp(l) / (1.0 + Math.exp(l));
}

export function rleLoss(desc: usize, variant: i32, B: i32, K: i32, io: usize, wantGrad: i32): f64 {
  bind(desc);
  const D = load<i32>(desc, DESC_D << 2);
  const N = B * K, ND = N * D;
  const stride = (<usize>((ND + 3) & ~3)) << 2;
  const pred = io, sl = io + stride, tgt = io + 2 * stride, w = io + 3 * stride;
  const gp = io + 4 * stride, gsl = io + 5 * stride;
  const invB: f64 = 1.0 / <f64>B;
  const inp = ws(desc, WS_IN), z = ws(desc, WS_Z), ld = ws(desc, WS_LD), lp = ws(desc, WS_LP);
  const wv = ws(desc, WS_W), g = ws(desc, WS_G), gld = ws(desc, WS_GLD), sig = ws(desc, WS_SIG);
  let loss: f64 = 0;

  if (variant == LOSS_L1 || variant == LOSS_L2) {
    for (let i = 0; i < ND; i++) {
      const e = ld32(pred, i) - ld32(tgt, i), wi = ld32(w, i);
      if (variant == LOSS_L1) {
        loss += wi * Math.abs(e);
        if (wantGrad) st32(gp, i, wi * invB * sgn(e));
      } else {
        loss += wi * e * e;
        if (wantGrad) st32(gp, i, 2.0 * wi * invB * e);
      }
      if (wantGrad) st32(gsl, i, 0);
    }
    if (wantGrad) zeroGrads(desc);
    return loss * invB;
  }

  // σ in float64, clamped (see SIGMA_MIN); the sigmoid's derivative is stored beside it.
  for (let i = 0; i < ND; i++) {
    const s = Math.max(sigmoid(ld32(sl, i)), SIGMA_MIN);
    st32(sig, i, s);
  }

  if (variant == RLE_DIRECT) {
    memory.copy(inp, tgt, (<usize>ND) << 2);
    flowInverse(desc, N);
    for (let j = 0; j < N; j++) {
      const w0 = ld32(w, j * D);
      let nll: f64 = -ld32(ld, j);
      for (let d = 0; d < D; d++) {
        const i = j * D + d;
        const s = sigmoid(ld32(sl, i)), sc = Math.max(s, SIGMA_MIN);
        const r = ld32(z, i) - ld32(pred, i);
        nll += r * r / (2.0 * sc * sc) + Math.log(sc) + HALF_LOG_2PI;
        if (wantGrad) {
          const c = w0 * invB;
          st32(g, i, c * r / (sc * sc));
          st32(gp, i, -c * r / (sc * sc));
          const dsig = c * (1.0 / sc - r * r / (sc * sc * sc));
          st32(gsl, i, s >= SIGMA_MIN ? dsig * s * (1.0 - s) : 0.0);
        }
      }
      if (wantGrad) st32(gld, j, -w0 * invB);
      loss += w0 * nll;
    }
    if (wantGrad) flowBackward(desc, N);
    return loss * invB;
  }

  const mm = variant != RLE_OFFICIAL;
  for (let i = 0; i < ND; i++) {
    const s = ld32(sig, i);
    st32(inp, i, (ld32(pred, i) - ld32(tgt, i)) / (mm ? s + EPS : s));
  }
  // The weights of Σ w_n log p(x_n) depend on the target weights only, so the flow's inverse and
  // backward passes run in one chunked call before the loss is summed from its log-probabilities.
  if (wantGrad) {
    for (let j = 0; j < N; j++) {
      let wsum: f64 = 0;
      for (let d = 0; d < D; d++) wsum += ld32(w, j * D + d);
      st32(wv, j, -(variant == RLE_OFFICIAL ? <f64>D * ld32(w, j * D) : wsum) * invB);
    }
    flowLogProbFwdBwd(desc, N, 1);
  } else {
    flowInverse(desc, N);
  }
  for (let j = 0; j < N; j++) {
    const lphi = ld32(lp, j);
    const w0 = ld32(w, j * D);
    for (let d = 0; d < D; d++) {
      const i = j * D + d;
      const s = ld32(sig, i), wi = ld32(w, i), logs = Math.log(s);
      if (variant == RLE_OFFICIAL) {
        const err = Math.abs(ld32(tgt, i) - ld32(pred, i));
        loss += (logs - lphi) * w0 + (logs - LOG_AMP + err / (SQRT2 * s + EPS)) * wi;
      } else {
        const bar = ld32(inp, i);
        let q: f64 = 0;
        if (variant == RLE_MMPOSE_LAPLACE) q = LOG2 + logs + Math.abs(bar);
        else if (variant == RLE_MMPOSE_GAUSSIAN) q = logs + HALF_LOG_2PI + 0.5 * bar * bar;
        loss += (logs - lphi + q) * wi;
      }
    }
  }
  if (!wantGrad) return loss * invB;

  for (let j = 0; j < N; j++) {
    const w0 = ld32(w, j * D);
    for (let d = 0; d < D; d++) {
      const i = j * D + d;
      const sRaw = sigmoid(ld32(sl, i));
      const s = ld32(sig, i), wi = ld32(w, i) * invB;
      const den = mm ? s + EPS : s;
      const bar = ld32(inp, i);
      let gbar = ld32(g, i);
      let dsig: f64 = 0, dp: f64 = 0;
      if (variant == RLE_OFFICIAL) {
        const e = ld32(pred, i) - ld32(tgt, i);
        const q = SQRT2 * s + EPS;
        dp = gbar / den + wi * sgn(e) / q;
        dsig = w0 * invB / s - gbar * bar / den + wi * (1.0 / s - SQRT2 * Math.abs(e) / (q * q));
      } else {
        dsig = wi / s;
        if (variant == RLE_MMPOSE_LAPLACE) { gbar += wi * sgn(bar); dsig += wi / s; }
        else if (variant == RLE_MMPOSE_GAUSSIAN) { gbar += wi * bar; dsig += wi / s; }
        dp = gbar / den;
        dsig -= gbar * bar / den;
      }
      st32(gp, i, dp);
      st32(gsl, i, sRaw >= SIGMA_MIN ? dsig * sRaw * (1.0 - sRaw) : 0.0);
    }
  }
  return loss * invB;
}

@inline function ws(desc: usize, slot: i32): usize {
  return load<usize>(desc, 9 << 2) + flowWsOffset(desc, slot);
}

function zeroGrads(desc: usize): void {
  const gr = load<usize>(desc, DESC_GRADS << 2);
  const n = flowPackedFloats(load<i32>(desc, DESC_D << 2), load<i32>(desc, DESC_H << 2), load<i32>(desc, DESC_C << 2));
  memory.fill(gr, 0, (<usize>n) << 2);
}
