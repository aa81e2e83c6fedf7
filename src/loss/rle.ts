// SPDX-License-Identifier: MIT
// The RLE loss family, values and gradients computed in WASM (assembly/rle.ts).
import { RealNVP, type NamedTensor } from '../flow/realnvp.js';
import { toFloat32, assertFinite, fmtShape, type ArrayInput } from '../util/arrays.js';
import { recordOp } from '../backend/report.js';

/**
 * Loss variants (formulas in the golden README):
 * - `official`: the RLE paper's code (Laplace Q, flow term weighted by the first coordinate's weight).
 * - `mmpose_laplace`, `mmpose_gaussian`: MMPose's RLELoss with Laplace / Gaussian Q.
 * - `no_residual`: design (b) of the paper, the reparameterised flow alone.
 * - `direct`: design (a), the flow deforms N(μ̂, σ) and is evaluated at the target.
 * - `l1`, `l2`: plain regression baselines, Σ w|μ̂−μ| / B and Σ w(μ̂−μ)² / B (σ and the flow unused).
 */
export type RleVariant = 'official' | 'mmpose_laplace' | 'mmpose_gaussian' | 'no_residual' | 'direct' | 'l1' | 'l2';

export const RLE_VARIANTS: readonly RleVariant[] = ['official', 'mmpose_laplace', 'mmpose_gaussian', 'no_residual', 'direct', 'l1', 'l2'];

/** σ below this is clamped (the residual (μ̂−μ)/σ would overflow float32); the logit gets zero gradient there. */
export const SIGMA_MIN = 1e-6;

export interface RleLossInput {
  /** Predicted means μ̂ [B,K,D]. */
  pred: ArrayInput;
  /** Logits of σ [B,K,D]; σ = sigmoid(sigmaLogit). */
  sigmaLogit: ArrayInput;
  /** Ground truth μ [B,K,D]. */
  target: ArrayInput;
  /** Per-coordinate weights (visibility) [B,K,D]; default all ones. */
  weight?: ArrayInput;
  /** The flow (its dim must equal D). Not used by 'l1' / 'l2' but still required for the shape. */
  flow: RealNVP;
  variant?: RleVariant;
  /** [B,K,D] when the arrays are flat Float32Arrays. */
  shape?: [number, number, number];
  /** Compute gradients (default true). */
  grad?: boolean;
}

export interface RleLossResult {
  loss: number;
  /** dL/dμ̂ [B·K·D] (null when grad is false). */
  gradPred: Float32Array | null;
  /** dL/d sigmaLogit [B·K·D]. */
  gradSigmaLogit: Float32Array | null;
  /** dL/d flow parameters, PyTorch names (zeros for 'l1' / 'l2'). */
  gradParams: Record<string, NamedTensor> | null;
  /** σ = sigmoid(sigmaLogit) (clamped below at SIGMA_MIN). */
  sigma: Float32Array;
}

const VARIANT_ID: Record<RleVariant, number> = {
  official: 0, mmpose_laplace: 1, mmpose_gaussian: 2, no_residual: 3, direct: 4, l1: 5, l2: 6,
};

/**
 * The RLE loss and its gradients.
 * @example
 * ```ts
 * await ready();
 * const flow = RealNVP.create({ dim: 2 });
 * const { loss, gradPred, gradSigmaLogit } = rleLoss({ pred, sigmaLogit, target, flow, shape: [32, 17, 2] });
 * ```
 */
export function rleLoss(input: RleLossInput): RleLossResult {
  const op = 'rleLoss';
  if (typeof input !== 'object' || input === null) throw new TypeError(`${op}: expected an options object, got ${input === null ? 'null' : typeof input}`);
  const variant = input.variant ?? 'official';
  if (!Object.prototype.hasOwnProperty.call(VARIANT_ID, variant)) {
    throw new RangeError(`${op}: unknown variant '${String(variant)}'; expected one of ${RLE_VARIANTS.join(', ')}`);
  }
  const flow = input.flow;
  if (!(flow instanceof RealNVP)) throw new TypeError(`${op}: flow must be a RealNVP, got ${flow === null ? 'null' : typeof flow}`);
  if (flow.isDisposed) throw new Error(`${op}: the flow has been disposed`);
  const pred = toFloat32(op, 'pred', input.pred);
  let shape: number[] | null = input.shape ? input.shape.slice() : pred.shape;
  if (!shape) throw new RangeError(`${op}: pred is a flat array: pass shape: [B,K,D]`);
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${op}: shape must be [B,K,D] with positive integers, got ${fmtShape(shape)}`);
  }
  const [B, K, D] = shape;
  if (D !== flow.dim) throw new RangeError(`${op}: the last dimension D must equal the flow's dim ${flow.dim}, got ${fmtShape(shape)}`);
  const n = B * K * D;
  const get = (name: string, v: ArrayInput | undefined): Float32Array => {
    if (v === undefined) return new Float32Array(n).fill(1);
    const a = name === 'pred' ? pred : toFloat32(op, name, v);
    const ok = a.shape ? a.shape.length === 3 && a.shape.every((d, i) => d === shape![i]) : a.data.length === n;
    if (!ok) throw new RangeError(`${op}: ${name} must have shape [B,K,D] = ${fmtShape(shape)}, got ${fmtShape(a.shape ?? [a.data.length])}`);
    assertFinite(op, name, a.data, shape);
    return a.data;
  };
  const p = get('pred', input.pred);
  const sl = get('sigmaLogit', input.sigmaLogit);
  const t = get('target', input.target);
  const w = get('weight', input.weight);
  for (let i = 0; i < n; i++) {
    if (w[i] < 0) throw new RangeError(`${op}: weight must be non-negative, got ${w[i]} at flat index ${i}`);
  }
  const wantGrad = input.grad ?? true;
  const k = flow._kernels;
  const stride = ((n + 3) & ~3) * 4;
  flow._ensure(B * K);
  const io = flow._io(stride * 6);
  k.writeF32(io, p);
  k.writeF32(io + stride, sl);
  k.writeF32(io + 2 * stride, t);
  k.writeF32(io + 3 * stride, w);
  recordOp('rleLoss', 'rlepose');
  const loss = k.exports.rleLoss(flow._desc, VARIANT_ID[variant], B, K, io, wantGrad ? 1 : 0);
  const sigma = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = sl[i];
    const s = l >= 0 ? 1 / (1 + Math.exp(-l)) : Math.exp(l) / (1 + Math.exp(l));
    sigma[i] = Math.max(s, SIGMA_MIN);
  }
  if (!wantGrad) return { loss, gradPred: null, gradSigmaLogit: null, gradParams: null, sigma };
  return {
    loss,
    gradPred: k.readF32(io + 4 * stride, n),
    gradSigmaLogit: k.readF32(io + 5 * stride, n),
    gradParams: flow.gradients(),
    sigma,
  };
}
