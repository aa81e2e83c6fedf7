// SPDX-License-Identifier: MIT
/**
 * Keypoint metrics (PCK, PCKh, MPJPE, PA-MPJPE, mean error) and the σ calibration report of an RLE model.
 *
 * Arrays are [N, K, D] (N instances, K joints, D coordinates), row-major, given as tfjs tensors,
 * `{shape, data}`, nested arrays, or flat typed arrays (then pass `opts.shape`, or a `visible` of shape
 * [N, K], or, for PCK, a per-sample normaliser that fixes N). Everything is computed in float64.
 * `visible` is [N, K]: a joint counts when its flag is > 0 (or `true`); `null`/omitted means all visible.
 * Non-finite coordinates are allowed at invisible joints only (datasets often store NaN there).
 *
 * Residual sign: rlepose's loss (like both reference implementations) feeds the flow
 * x̄ = (μ̂ − μ) / σ, prediction minus ground truth. So the model's density of the ground truth is that
 * of μ = μ̂ − σ ⊙ x with x ~ flow; everything below uses that sign. For a symmetric flow the sign does
 * not matter, for a learned one it does.
 */
import type { RealNVP } from '../flow/realnvp.js';
import { fmtShape, isTensorLike, type ShapedArray, type TensorLike } from '../util/arrays.js';

/** An [N, K, D] (or [N, K], [N], [N, D]) numeric input. */
export type MetricArray = ArrayLike<number> | number[][] | number[][][] | ShapedArray | TensorLike;
/** Visibility flags [N, K]: numbers (> 0 = visible) or booleans; null/undefined = all visible. */
export type VisibleInput = ArrayLike<number | boolean> | (number | boolean)[][] | ShapedArray | TensorLike | null | undefined;

export interface ShapeOptions {
  /** [N, K, D] when the arrays are flat and nothing else fixes the shape. */
  shape?: readonly [number, number, number] | readonly number[];
}

interface F64 {
  data: Float64Array;
  shape: number[] | null;
}

// ---------------------------------------------------------------------------------------------------
// Input handling

function isShaped(x: unknown): x is ShapedArray {
  return typeof x === 'object' && x !== null && !isTensorLike(x) && !ArrayBuffer.isView(x) && !Array.isArray(x) &&
    Array.isArray((x as ShapedArray).shape) && (x as ShapedArray).data !== undefined;
}

function toF64(op: string, arg: string, x: unknown): F64 {
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    return { data: Float64Array.from(x as unknown as ArrayLike<number>), shape: null };
  }
  if (isTensorLike(x)) return { data: Float64Array.from(x.dataSync()), shape: x.shape.slice() };
  if (isShaped(x)) {
    const shape = x.shape.slice();
    const n = shape.reduce((a, b) => a * b, 1);
    if (!x.data || typeof x.data.length !== 'number') throw new TypeError(`${op}: ${arg}.data must be an array of numbers, got ${typeof x.data}`);
    if (x.data.length !== n) throw new RangeError(`${op}: ${arg} has shape ${fmtShape(shape)} (${n} values) but its data holds ${x.data.length}`);
    return { data: Float64Array.from(x.data, Number), shape };
  }
  if (Array.isArray(x)) {
    const shape: number[] = [];
    let cur: unknown = x;
    while (Array.isArray(cur)) { shape.push(cur.length); cur = cur[0]; }
    const flat = (x as unknown[]).flat(Infinity) as unknown[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== n) throw new RangeError(`${op}: ${arg} is a ragged nested array (shape ${fmtShape(shape)} expects ${n} values, got ${flat.length})`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v === 'number') out[i] = v;
      else if (typeof v === 'boolean') out[i] = v ? 1 : 0;
      else throw new TypeError(`${op}: ${arg} must contain numbers, got ${typeof v} at flat index ${i}`);
    }
    return { data: out, shape };
  }
  throw new TypeError(`${op}: ${arg} must be a typed array, a nested number array, a {shape, data} object or a tfjs tensor, got ${x === null ? 'null' : typeof x}`);
}

interface Prepared {
  N: number;
  K: number;
  D: number;
  arrays: Float64Array[];
  vis: Uint8Array;
  /** The per-sample array (norm / head size) when one was given. */
  perSample: F64 | null;
}

/**
 * Converts and checks the [N,K,D] arrays of one call. `named` lists the [N,K,D] inputs in order;
 * `perSample` (optional) is an [N] or [N,D] array. The shape comes from opts.shape, else the first input
 * with a shape, else visible [N,K] / perSample [N] and `defaultD`.
 */
function prepare(op: string, named: [string, unknown][], visible: VisibleInput, opts: ShapeOptions | undefined,
  perSample?: [string, unknown], defaultD?: number): Prepared {
  const conv = named.map(([name, v]) => {
    if (v === undefined || v === null) throw new TypeError(`${op}: ${name} is required`);
    return toF64(op, name, v);
  });
  const vis = visible === null || visible === undefined ? null : toF64(op, 'visible', visible);
  const ps = perSample ? toF64(op, perSample[0], perSample[1]) : null;
  let shape: number[] | null = null;
  let from = '';
  if (opts?.shape) { shape = Array.from(opts.shape); from = 'opts.shape'; }
  else {
    for (let i = 0; i < conv.length; i++) if (conv[i].shape) { shape = conv[i].shape; from = named[i][0]; break; }
  }
  if (shape) {
    if (shape.length !== 3 || shape.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new RangeError(`${op}: ${from} must have shape [N,K,D], got ${fmtShape(shape)}`);
    }
  } else {
    const len = conv[0].data.length;
    let N: number | undefined, D: number | undefined;
    if (vis?.shape && vis.shape.length === 2) N = vis.shape[0];
    else if (ps) N = ps.shape && ps.shape.length >= 1 ? ps.shape[0] : undefined;
    if (vis) D = vis.data.length > 0 ? len / vis.data.length : undefined;
    D ??= defaultD;
    if (N === undefined && ps && !ps.shape && D !== undefined) N = ps.data.length; // a flat [N] normaliser
    if (N === undefined || D === undefined || !Number.isInteger(D) || D < 1 || N < 1 || len % (N * D) !== 0) {
      throw new RangeError(`${op}: ${named[0][0]} is a flat array of ${len} values and its [N,K,D] shape cannot be inferred: pass opts.shape, nested arrays or {shape, data}`);
    }
    shape = [N, len / (N * D), D];
  }
  const [N, K, D] = shape;
  const n = N * K * D;
  conv.forEach((c, i) => {
    const name = named[i][0];
    if (c.shape) {
      if (c.shape.length !== 3 || c.shape[0] !== N || c.shape[1] !== K || c.shape[2] !== D) {
        throw new RangeError(`${op}: ${name} must have shape [N,K,D] = ${fmtShape(shape)}, got ${fmtShape(c.shape)}`);
      }
    } else if (c.data.length !== n) {
      throw new RangeError(`${op}: ${name} must hold N·K·D = ${N}·${K}·${D} = ${n} values (shape ${fmtShape(shape)}), got ${c.data.length}`);
    }
  });
  const v = new Uint8Array(N * K);
  if (vis) {
    if (vis.shape ? vis.shape.length !== 2 || vis.shape[0] !== N || vis.shape[1] !== K : vis.data.length !== N * K) {
      throw new RangeError(`${op}: visible must have shape [N,K] = [${N},${K}], got ${vis.shape ? fmtShape(vis.shape) : `${vis.data.length} values`}`);
    }
    for (let i = 0; i < N * K; i++) {
      const f = vis.data[i];
      if (Number.isNaN(f)) throw new RangeError(`${op}: visible must not contain NaN, got NaN at index [${Math.floor(i / K)},${i % K}]`);
      v[i] = f > 0 ? 1 : 0;
    }
  } else v.fill(1);
  // Coordinates must be finite where they are used.
  conv.forEach((c, a) => {
    for (let j = 0; j < N * K; j++) {
      if (!v[j]) continue;
      for (let d = 0; d < D; d++) {
        const x = c.data[j * D + d];
        if (!Number.isFinite(x)) {
          throw new RangeError(`${op}: ${named[a][0]} must be finite at visible joints, got ${x} at index [${Math.floor(j / K)},${j % K},${d}]`);
        }
      }
    }
  });
  return { N, K, D, arrays: conv.map((c) => c.data), vis: v, perSample: ps };
}

function checkFiniteNumber(op: string, name: string, x: unknown, positive = false): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || (positive && x <= 0)) {
    throw new RangeError(`${op}: ${name} must be a finite${positive ? ' positive' : ''} number, got ${String(x)}`);
  }
  return x;
}

// ---------------------------------------------------------------------------------------------------
// PCK / PCKh

export interface PckResult {
  /** The headline figure (see the function: MMPose's mean of per-joint PCK, or MPII's count-weighted mean). */
  pck: number;
  /** Correct / visible over all joints (count-weighted). */
  overall: number;
  /** Per-joint PCK; NaN for a joint without any counted instance. */
  perJoint: number[];
  /** Counted instances per joint. */
  counts: number[];
  /** Total counted keypoints. */
  count: number;
  alpha: number;
}

export interface PckOptions extends ShapeOptions {}

/**
 * PCK@α as MMPose's `keypoint_pck_accuracy` / `PCKAccuracy(norm_item='bbox')`: a visible keypoint is
 * correct when ‖(pred − gt) / norm‖ < α (strict). `norm` is per sample: [N] (MMPose's bbox PCK uses
 * max(w, h) of the instance's box, see `bboxNorm`) or [N, D] per-axis factors. Samples with norm 0 are
 * skipped, as in MMPose; negative or non-finite norms are rejected (MMPose silently turns negatives
 * into 1e6). `pck` is MMPose's `avg_acc`: the mean of the per-joint accuracies over joints that have
 * at least one counted instance; `overall` is the count-weighted fraction.
 */
export function pck(pred: MetricArray, gt: MetricArray, visible: VisibleInput, norm: MetricArray, alpha = 0.05, opts?: PckOptions): PckResult {
  const op = 'pck';
  checkFiniteNumber(op, 'alpha', alpha, true);
  const p = prepare(op, [['pred', pred], ['gt', gt]], visible, opts, ['norm', norm], 2);
  const { N, K, D } = p;
  const nf = perSampleFactors(op, 'norm', p.perSample!, N, D, true);
  return pckCore(p, nf, alpha, (e) => e < alpha, 'joints', []);
}

/** max(w, h) per box, for boxes [N, 4] as COCO's [x, y, w, h] (the normaliser of MMPose's bbox PCK). */
export function bboxNorm(bboxes: MetricArray): Float64Array {
  const b = toF64('bboxNorm', 'bboxes', bboxes);
  if (b.shape ? b.shape.length !== 2 || b.shape[1] !== 4 : b.data.length % 4 !== 0) {
    throw new RangeError(`bboxNorm: bboxes must have shape [N,4] (x, y, w, h), got ${b.shape ? fmtShape(b.shape) : `${b.data.length} values`}`);
  }
  const n = b.data.length / 4;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(b.data[i * 4 + 2], b.data[i * 4 + 3]);
  return out;
}

export interface PckhOptions extends ShapeOptions {
  /**
   * Factor applied to `headSize` (default 0.6, MPII's SC_BIAS): the MPII evaluation
   * (`evaluatePCKh.m`, and MMPose's `MpiiPCKAccuracy`) uses 0.6 × the diagonal of the annotated head
   * box. Pass 1 when `headSize` already is the normalising length.
   */
  headScale?: number;
  /** Joints left out of the headline mean (MPII leaves out pelvis and thorax, indices 6 and 7). */
  exclude?: number[];
}

/**
 * PCKh@α with the MPII convention: a visible joint is correct when ‖pred − gt‖ ≤ α · headScale ·
 * headSize (≤, as MPII), with `headSize` [N] the diagonal length of each person's head box and
 * headScale 0.6 by default. `pck` is MPII's "Mean": correct / visible over the joints not in
 * `opts.exclude` (= the per-joint PCKh weighted by each joint's count).
 */
export function pckh(pred: MetricArray, gt: MetricArray, visible: VisibleInput, headSize: MetricArray, alpha = 0.5, opts?: PckhOptions): PckResult {
  const op = 'pckh';
  checkFiniteNumber(op, 'alpha', alpha, true);
  const scale = checkFiniteNumber(op, 'opts.headScale', opts?.headScale ?? 0.6, true);
  const p = prepare(op, [['pred', pred], ['gt', gt]], visible, opts, ['headSize', headSize], 2);
  const { N, D, K } = p;
  const hs = p.perSample!;
  if (hs.shape ? hs.shape.length !== 1 || hs.shape[0] !== N : hs.data.length !== N) {
    throw new RangeError(`${op}: headSize must have shape [N] = [${N}], got ${hs.shape ? fmtShape(hs.shape) : `${hs.data.length} values`}`);
  }
  for (let i = 0; i < N; i++) {
    const h = hs.data[i];
    if (!Number.isFinite(h) || h <= 0) throw new RangeError(`${op}: headSize must be finite and positive, got ${h} at index [${i}]`);
  }
  const exclude = opts?.exclude ?? [];
  for (const j of exclude) if (!Number.isInteger(j) || j < 0 || j >= K) throw new RangeError(`${op}: opts.exclude must hold joint indices in [0,${K}), got ${j}`);
  const nf = new Float64Array(N * D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) nf[i * D + d] = hs.data[i] * scale;
  return pckCore(p, nf, alpha, (e) => e <= alpha, 'count', exclude);
}

function perSampleFactors(op: string, name: string, f: F64, N: number, D: number, allowZero: boolean): Float64Array {
  const ok1 = f.shape ? f.shape.length === 1 && f.shape[0] === N : f.data.length === N;
  const ok2 = f.shape ? f.shape.length === 2 && f.shape[0] === N && f.shape[1] === D : f.data.length === N * D && N * D !== N;
  if (!ok1 && !ok2) {
    throw new RangeError(`${op}: ${name} must have shape [N] = [${N}] or [N,D] = [${N},${D}], got ${f.shape ? fmtShape(f.shape) : `${f.data.length} values`}`);
  }
  const out = new Float64Array(N * D);
  for (let i = 0; i < N; i++) {
    for (let d = 0; d < D; d++) {
      const v = ok1 ? f.data[i] : f.data[i * D + d];
      if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
        throw new RangeError(`${op}: ${name} must be finite and ${allowZero ? 'non-negative' : 'positive'}, got ${v} at index [${i}${ok1 ? '' : `,${d}`}]`);
      }
      out[i * D + d] = v;
    }
  }
  return out;
}

function pckCore(p: Prepared, nf: Float64Array, alpha: number, hit: (e: number) => boolean,
  headline: 'joints' | 'count', exclude: number[]): PckResult {
  const { N, K, D, vis } = p;
  const [a, b] = p.arrays;
  const counts = new Array<number>(K).fill(0);
  const correct = new Array<number>(K).fill(0);
  for (let i = 0; i < N; i++) {
    let skip = false;
    for (let d = 0; d < D; d++) if (nf[i * D + d] === 0) skip = true; // MMPose: a zero factor masks the sample
    if (skip) continue;
    for (let k = 0; k < K; k++) {
      const j = i * K + k;
      if (!vis[j]) continue;
      let s = 0;
      for (let d = 0; d < D; d++) { const e = (a[j * D + d] - b[j * D + d]) / nf[i * D + d]; s += e * e; }
      counts[k]++;
      if (hit(Math.sqrt(s))) correct[k]++;
    }
  }
  const perJoint = counts.map((c, k) => (c > 0 ? correct[k] / c : NaN));
  const count = counts.reduce((x, y) => x + y, 0);
  const overall = count > 0 ? correct.reduce((x, y) => x + y, 0) / count : NaN;
  let headlineValue: number;
  if (headline === 'joints') {
    const valid = perJoint.filter((v) => !Number.isNaN(v));
    headlineValue = valid.length > 0 ? valid.reduce((x, y) => x + y, 0) / valid.length : 0; // MMPose returns 0 then
  } else {
    let c = 0, t = 0;
    for (let k = 0; k < K; k++) if (!exclude.includes(k)) { c += correct[k]; t += counts[k]; }
    headlineValue = t > 0 ? c / t : NaN;
  }
  return { pck: headlineValue, overall, perJoint, counts, count, alpha };
}

// ---------------------------------------------------------------------------------------------------
// Errors: mean error, MPJPE, PA-MPJPE

export interface ErrorResult {
  /** Mean Euclidean error over visible joints (NaN when none). */
  mean: number;
  /** Per-joint mean (NaN for a joint never visible). */
  perJoint: number[];
  counts: number[];
  count: number;
  /** Per-sample mean over its visible joints (NaN for a sample without any). */
  perSample: Float64Array;
}

export interface MeanErrorResult extends ErrorResult {
  /** Mean absolute error per coordinate (|Δx|, |Δy|, ...), over visible joints. */
  perCoord: number[];
  /** Mean of |Δ| over every visible coordinate. */
  meanAbs: number;
}

function errorCore(N: number, K: number, D: number, a: Float64Array, b: Float64Array, vis: Uint8Array): ErrorResult {
  const sums = new Array<number>(K).fill(0);
  const counts = new Array<number>(K).fill(0);
  const perSample = new Float64Array(N);
  let total = 0, count = 0;
  for (let i = 0; i < N; i++) {
    let ss = 0, sc = 0;
    for (let k = 0; k < K; k++) {
      const j = i * K + k;
      if (!vis[j]) continue;
      let s = 0;
      for (let d = 0; d < D; d++) { const e = a[j * D + d] - b[j * D + d]; s += e * e; }
      const e = Math.sqrt(s);
      sums[k] += e; counts[k]++; ss += e; sc++;
    }
    perSample[i] = sc > 0 ? ss / sc : NaN;
    total += ss; count += sc;
  }
  return { mean: count > 0 ? total / count : NaN, perJoint: sums.map((s, k) => (counts[k] > 0 ? s / counts[k] : NaN)), counts, count, perSample };
}

/** Mean Euclidean error (MMPose's EPE) for any D, with per-joint, per-sample and per-coordinate means. */
export function meanError(pred: MetricArray, gt: MetricArray, visible?: VisibleInput, opts?: ShapeOptions): MeanErrorResult {
  const p = prepare('meanError', [['pred', pred], ['gt', gt]], visible, opts);
  const { N, K, D, vis } = p;
  const [a, b] = p.arrays;
  const r = errorCore(N, K, D, a, b, vis);
  const perCoord = new Array<number>(D).fill(0);
  for (let j = 0; j < N * K; j++) if (vis[j]) for (let d = 0; d < D; d++) perCoord[d] += Math.abs(a[j * D + d] - b[j * D + d]);
  const pc = perCoord.map((s) => (r.count > 0 ? s / r.count : NaN));
  return { ...r, perCoord: pc, meanAbs: r.count > 0 ? pc.reduce((x, y) => x + y, 0) / D : NaN };
}

export interface MpjpeOptions extends ShapeOptions {
  /** Subtract this joint from pred and gt first (root-relative MPJPE, as Human3.6M protocol 1). */
  rootJoint?: number;
}

/**
 * MPJPE: the mean Euclidean distance between predicted and true joints, over visible joints, for any D
 * (in the units of the inputs, usually mm). With `rootJoint`, both skeletons are translated so that the
 * root is at the origin first; a sample whose root is not visible is skipped.
 */
export function mpjpe(pred: MetricArray, gt: MetricArray, visible?: VisibleInput, opts?: MpjpeOptions): ErrorResult {
  const op = 'mpjpe';
  const p = prepare(op, [['pred', pred], ['gt', gt]], visible, opts);
  const { N, K, D } = p;
  let [a, b] = p.arrays;
  let vis = p.vis;
  if (opts?.rootJoint !== undefined) {
    const r = opts.rootJoint;
    if (!Number.isInteger(r) || r < 0 || r >= K) throw new RangeError(`${op}: opts.rootJoint must be a joint index in [0,${K}), got ${r}`);
    a = a.slice(); b = b.slice(); vis = vis.slice();
    for (let i = 0; i < N; i++) {
      const rj = i * K + r;
      if (!vis[rj]) { vis.fill(0, i * K, (i + 1) * K); continue; }
      for (let k = 0; k < K; k++) {
        for (let d = 0; d < D; d++) {
          a[(i * K + k) * D + d] -= p.arrays[0][rj * D + d];
          b[(i * K + k) * D + d] -= p.arrays[1][rj * D + d];
        }
      }
    }
  }
  return errorCore(N, K, D, a, b, vis);
}

/**
 * PA-MPJPE: MPJPE after aligning each predicted skeleton to its ground truth by the similarity
 * transform (scale, rotation, translation) that minimises the squared error over its visible joints
 * (Umeyama / orthogonal Procrustes via the SVD of the D×D cross-covariance). Reflections are not
 * allowed: the rotation has det +1 (the last singular direction is flipped when needed), as in the
 * usual `compute_similarity_transform`. A sample with one visible joint aligns by translation (error 0).
 */
export function paMpjpe(pred: MetricArray, gt: MetricArray, visible?: VisibleInput, opts?: ShapeOptions): ErrorResult {
  const p = prepare('paMpjpe', [['pred', pred], ['gt', gt]], visible, opts);
  const { N, K, D, vis } = p;
  const [a, b] = p.arrays;
  const aligned = a.slice();
  for (let i = 0; i < N; i++) {
    const idx: number[] = [];
    for (let k = 0; k < K; k++) if (vis[i * K + k]) idx.push(i * K + k);
    if (idx.length === 0) continue;
    const X = new Float64Array(idx.length * D), Y = new Float64Array(idx.length * D);
    idx.forEach((j, r) => { for (let d = 0; d < D; d++) { X[r * D + d] = a[j * D + d]; Y[r * D + d] = b[j * D + d]; } });
    const t = similarityTransform(X, Y, D);
    const Z = applySimilarity(t, X, D);
    idx.forEach((j, r) => { for (let d = 0; d < D; d++) aligned[j * D + d] = Z[r * D + d]; });
  }
  return errorCore(N, K, D, aligned, b, vis);
}

export interface SimilarityTransform {
  /** Scale s. */
  scale: number;
  /** Rotation R [D×D] row-major, det +1. */
  rotation: Float64Array;
  /** Translation t [D]. */
  translation: Float64Array;
}

/**
 * The similarity transform y ≈ s R x + t minimising Σ‖s R x_i + t − y_i‖² over point pairs
 * (X, Y: [n·D] row-major), with R a proper rotation. With centred points and H = Σ x_i y_iᵀ = U S Vᵀ:
 * R = V Z Uᵀ, Z = diag(1, …, 1, sign det(V Uᵀ)), s = tr(S Z) / Σ‖x_i‖², t = ȳ − s R x̄.
 */
export function similarityTransform(X: Float64Array, Y: Float64Array, D: number): SimilarityTransform {
  const n = X.length / D;
  const mx = new Float64Array(D), my = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) { mx[d] += X[r * D + d] / n; my[d] += Y[r * D + d] / n; }
  const H = new Float64Array(D * D);
  let varX = 0;
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < D; a++) {
      const xa = X[r * D + a] - mx[a];
      varX += xa * xa;
      for (let b = 0; b < D; b++) H[a * D + b] += xa * (Y[r * D + b] - my[b]);
    }
  }
  const R = new Float64Array(D * D);
  let scale = 0;
  if (varX > 0) {
    const { U, S, V } = svdSmall(H, D);
    // det(V Uᵀ) = det V · det U.
    const sign = det(V, D) * det(U, D) < 0 ? -1 : 1;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < D; b++) {
        let s = 0;
        for (let c = 0; c < D; c++) s += V[a * D + c] * (c === D - 1 ? sign : 1) * U[b * D + c];
        R[a * D + b] = s;
      }
    }
    let tr = 0;
    for (let c = 0; c < D; c++) tr += S[c] * (c === D - 1 ? sign : 1);
    scale = tr / varX;
  } else {
    for (let a = 0; a < D; a++) R[a * D + a] = 1; // all points coincide: only the translation is defined
  }
  const t = new Float64Array(D);
  for (let a = 0; a < D; a++) {
    let s = 0;
    for (let b = 0; b < D; b++) s += R[a * D + b] * mx[b];
    t[a] = my[a] - scale * s;
  }
  return { scale, rotation: R, translation: t };
}

/** s R x + t for every row of X [n·D]. */
export function applySimilarity(tr: SimilarityTransform, X: Float64Array, D: number): Float64Array {
  const n = X.length / D;
  const out = new Float64Array(X.length);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < D; a++) {
      let s = 0;
      for (let b = 0; b < D; b++) s += tr.rotation[a * D + b] * X[r * D + b];
      out[r * D + a] = tr.scale * s + tr.translation[a];
    }
  }
  return out;
}

function det(M: Float64Array, D: number): number {
  // Gaussian elimination with partial pivoting on a copy (D is tiny).
  const A = M.slice();
  let d = 1;
  for (let c = 0; c < D; c++) {
    let piv = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(A[r * D + c]) > Math.abs(A[piv * D + c])) piv = r;
    if (A[piv * D + c] === 0) return 0;
    if (piv !== c) { for (let k = 0; k < D; k++) { const t = A[c * D + k]; A[c * D + k] = A[piv * D + k]; A[piv * D + k] = t; } d = -d; }
    d *= A[c * D + c];
    for (let r = c + 1; r < D; r++) {
      const f = A[r * D + c] / A[c * D + c];
      for (let k = c; k < D; k++) A[r * D + k] -= f * A[c * D + k];
    }
  }
  return d;
}

/**
 * SVD of a small square matrix A [D×D] (row-major) by one-sided Jacobi: A = U diag(S) Vᵀ with S sorted
 * descending, U and V orthogonal. Columns of U for zero singular values are completed to an orthonormal
 * basis (so det U is defined even for rank-deficient A, e.g. planar point sets).
 */
export function svdSmall(A: Float64Array, D: number): { U: Float64Array; S: Float64Array; V: Float64Array } {
  const W = A.slice(); // columns get orthogonalised in place: W = A V
  const V = new Float64Array(D * D);
  for (let i = 0; i < D; i++) V[i * D + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < D - 1; p++) {
      for (let q = p + 1; q < D; q++) {
        let al = 0, be = 0, ga = 0;
        for (let i = 0; i < D; i++) {
          const wp = W[i * D + p], wq = W[i * D + q];
          al += wp * wp; be += wq * wq; ga += wp * wq;
        }
        if (ga === 0 || Math.abs(ga) <= 1e-15 * Math.sqrt(al * be)) continue;
        rotated = true;
        const zeta = (be - al) / (2 * ga);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < D; i++) {
          const wp = W[i * D + p], wq = W[i * D + q];
          W[i * D + p] = c * wp - s * wq; W[i * D + q] = s * wp + c * wq;
          const vp = V[i * D + p], vq = V[i * D + q];
          V[i * D + p] = c * vp - s * vq; V[i * D + q] = s * vp + c * vq;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: D }, (_, c) => {
    let s = 0;
    for (let i = 0; i < D; i++) s += W[i * D + c] * W[i * D + c];
    return Math.sqrt(s);
  });
  const order = norms.map((_, i) => i).sort((x, y) => norms[y] - norms[x]);
  const S = new Float64Array(D), U = new Float64Array(D * D), Vs = new Float64Array(D * D);
  const tol = (norms[order[0]] || 0) * D * 1e-13;
  const filled: number[] = [];
  order.forEach((c, k) => {
    S[k] = norms[c];
    for (let i = 0; i < D; i++) Vs[i * D + k] = V[i * D + c];
    if (norms[c] > tol && norms[c] > 0) {
      for (let i = 0; i < D; i++) U[i * D + k] = W[i * D + c] / norms[c];
      filled.push(k);
    }
  });
  // Complete U with Gram–Schmidt on the standard basis.
  for (let k = 0; k < D; k++) {
    if (filled.includes(k)) continue;
    for (let e = 0; e < D; e++) {
      const v = new Float64Array(D);
      v[e] = 1;
      for (const f of filled) {
        let dot = 0;
        for (let i = 0; i < D; i++) dot += U[i * D + f] * v[i];
        for (let i = 0; i < D; i++) v[i] -= dot * U[i * D + f];
      }
      let nv = 0;
      for (let i = 0; i < D; i++) nv += v[i] * v[i];
      nv = Math.sqrt(nv);
      if (nv > 1e-6) {
        for (let i = 0; i < D; i++) U[i * D + k] = v[i] / nv;
        filled.push(k);
        break;
      }
    }
  }
  return { U, S, V: Vs };
}

// ---------------------------------------------------------------------------------------------------
// Distribution helpers

/** log Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised lower incomplete gamma P(a, x) (series below a + 1, Lentz continued fraction above). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  if (x === Infinity) return 1;
  const lg = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a, term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.min(1, sum * Math.exp(-x + a * Math.log(x) - lg));
  }
  const tiny = 1e-300;
  let b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.max(0, 1 - Math.exp(-x + a * Math.log(x) - lg) * h);
}

function invert(f: (r: number) => number, p: number): number {
  let lo = 0, hi = 1;
  while (f(hi) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (f(mid) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * Radius of the central mass-p region of D independent standard Laplaces (density ∝ exp(−Σ|x_d|)):
 * the region is the L1 ball Σ|x_d| ≤ r, and Σ|x_d| ~ Gamma(D, 1), so P(D, r) = p.
 */
export function laplaceRegionRadius(p: number, D: number): number {
  return invert((r) => gammaP(D, r), p);
}

/** Radius of the central mass-p region of a standard D-dim Gaussian: ‖x‖² ~ χ²_D, P(D/2, r²/2) = p. */
export function gaussianRegionRadius(p: number, D: number): number {
  return invert((r) => gammaP(D / 2, (r * r) / 2), p);
}

// ---------------------------------------------------------------------------------------------------
// The flow's highest-density regions

const CHUNK = 16384;

/** flow.logProb over [n·D] rows in chunks; non-finite rows get −∞ (outside every region). */
export function flowLogProb(flow: RealNVP, x: Float32Array | Float64Array): Float64Array {
  const D = flow.dim;
  const n = x.length / D;
  const out = new Float64Array(n).fill(-Infinity);
  const rowsIdx: number[] = [];
  for (let r = 0; r < n; r++) {
    let ok = true;
    for (let d = 0; d < D; d++) if (!Number.isFinite(x[r * D + d]) || Math.abs(x[r * D + d]) > 3e38) ok = false;
    if (ok) rowsIdx.push(r);
  }
  for (let s = 0; s < rowsIdx.length; s += CHUNK) {
    const m = Math.min(CHUNK, rowsIdx.length - s);
    const buf = new Float32Array(m * D);
    for (let r = 0; r < m; r++) for (let d = 0; d < D; d++) buf[r * D + d] = x[rowsIdx[s + r] * D + d];
    const lp = flow.logProb(buf);
    for (let r = 0; r < m; r++) out[rowsIdx[s + r]] = Number.isFinite(lp[r]) ? lp[r] : -Infinity;
  }
  return out;
}

export interface FlowThresholds {
  levels: number[];
  /** t_p per level: the region {x : log p(x) ≥ t_p} holds mass ≈ p. */
  thresholds: number[];
  /** The samples used (for callers that need them, e.g. to size a plotting box). */
  samples: Float32Array;
  /** Their log-densities, in sample order (−∞ for a non-finite sample). */
  logProb: Float64Array;
  /** The same, sorted ascending. */
  sortedLogProb: Float64Array;
}

function checkLevels(op: string, levels: unknown): number[] {
  if (!Array.isArray(levels) || levels.length === 0) throw new RangeError(`${op}: levels must be a non-empty array of numbers in (0,1), got ${JSON.stringify(levels)}`);
  for (const p of levels) {
    if (typeof p !== 'number' || !(p > 0 && p < 1)) throw new RangeError(`${op}: levels must be numbers in (0,1), got ${String(p)}`);
  }
  return levels.slice() as number[];
}

/**
 * Log-density thresholds of the flow's highest-density regions: draw M samples from the flow, and for
 * each level p take t_p = the (1 − p) quantile of their log-densities, so that ≈ p of the flow's mass
 * has log p(x) ≥ t_p. (The lower empirical quantile: the sorted value at index ⌊(1 − p) M⌋.)
 */
export function flowRegionThresholds(flow: RealNVP, levels: number[], samples = 20000, seed = 0): FlowThresholds {
  const op = 'flowRegionThresholds';
  const lv = checkLevels(op, levels);
  if (!Number.isInteger(samples) || samples < 10) throw new RangeError(`${op}: samples must be an integer ≥ 10, got ${samples}`);
  const xs = flow.sample(samples, seed);
  const lp = flowLogProb(flow, xs);
  const sorted = lp.slice().sort();
  const thresholds = lv.map((p) => sorted[Math.min(samples - 1, Math.floor((1 - p) * samples))]);
  return { levels: lv, thresholds, samples: xs, logProb: lp, sortedLogProb: sorted };
}

// ---------------------------------------------------------------------------------------------------
// σ calibration

export interface CalibrationOptions extends ShapeOptions {
  /** The flow of the model (its dim must be D). */
  flow: RealNVP;
  /** Predicted means μ̂ [N,K,D]. */
  pred: MetricArray;
  /** Ground truth μ [N,K,D]. */
  gt: MetricArray;
  /** Predicted σ [N,K,D] (after the sigmoid), > 0 at visible joints. */
  sigma: MetricArray;
  visible?: VisibleInput;
  /** Mass levels p in (0, 1). Default [0.5, 0.8, 0.9, 0.95]. */
  levels?: number[];
  /** Flow samples M used for the thresholds. Default 20000. */
  samples?: number;
  seed?: number;
  /**
   * Laplace scale b in units of σ for the Laplace comparison. Default 1: Laplace(μ̂, σ), the Q of
   * MMPose's `mmpose_laplace` (log 2σ + |x̄|). The official code's Q, |err| / (√2 σ), is b = √2.
   */
  laplaceScale?: number;
  keypointNames?: string[];
}

export interface RegionCoverage {
  /** Fraction of visible ground truths inside the central region, per level (ideal: = level). */
  coverage: number[];
  /** [level][joint]; NaN for a joint without visible instances. */
  perJoint: number[][];
  /**
   * The region boundary per level: for `flow` the log-density threshold t_p; for `laplace` the L1
   * radius of Σ|x̄_d|/b; for `gaussian` the L2 radius of x̄.
   */
  thresholds: number[];
  /** Mean |coverage − level| over the levels. */
  calibrationError: number;
}

export interface CalibrationReport {
  levels: number[];
  samples: number;
  dim: number;
  numJoints: number;
  /** Visible joints counted. */
  count: number;
  counts: number[];
  keypointNames?: string[];
  /** Regions of the model's own learned density: μ = μ̂ − σ ⊙ x, x ~ flow. */
  flow: RegionCoverage;
  /** Regions of the same mass of Laplace(μ̂, b σ) per coordinate. */
  laplace: RegionCoverage;
  laplaceScale: number;
  /** Regions of the same mass of Gaussian(μ̂, σ) per coordinate. */
  gaussian: RegionCoverage;
  /** Mean |μ̂ − μ| over visible coordinates. */
  meanAbsError: number;
  /** Mean σ over visible coordinates. */
  meanSigma: number;
  /** meanAbsError / meanSigma (≈ E|x̄| if σ were the error scale; the density, not raw σ, is calibrated). */
  errorToSigma: number;
  perJointErrorToSigma: number[];
}

/**
 * How often the ground truth falls inside the central p region of the model's own density, for each
 * level p, overall and per joint; the ideal is coverage ≈ p. The region is the highest-density region
 * (HDR) of the learned density of μ = μ̂ − σ ⊙ x, x ~ flow: with t_p from `flowRegionThresholds`, a
 * ground truth is inside when log φ(x̄) ≥ t_p, x̄ = (μ̂ − μ) / σ.
 *
 * Why the comparison can be made in normalised space: the image-space density of one joint is
 * p(μ) = φ((μ̂ − μ)/σ) / Π_d σ_d. The Jacobian factor Π_d σ_d is the same for every point μ of that
 * joint's density, so the level sets of p are exactly the images of the level sets of φ, and the
 * mass-p HDR of p is the image of the mass-p HDR of φ. One threshold on log φ therefore serves every
 * joint and every sample, whatever its σ.
 *
 * For comparison, the same-mass central regions of Laplace(μ̂, bσ) (an L1 ball: Σ|x̄_d| ≤ b r_p, with
 * r_p from Gamma(D, 1)) and of Gaussian(μ̂, σ) (an L2 ball, from χ²_D), and the ratio of mean |error|
 * to mean σ: RLE's σ is a scale of the flow's density, not the error itself (with the official loss
 * raw σ drifts to several times the typical error), so only the flow regions should be calibrated.
 */
export function calibrationReport(opts: CalibrationOptions): CalibrationReport {
  const op = 'calibrationReport';
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${op}: expected an options object`);
  const { flow } = opts;
  if (!flow || typeof (flow as RealNVP).logProb !== 'function' || typeof (flow as RealNVP).sample !== 'function') {
    throw new TypeError(`${op}: opts.flow must be a RealNVP`);
  }
  const levels = checkLevels(op, opts.levels ?? [0.5, 0.8, 0.9, 0.95]);
  const M = opts.samples ?? 20000;
  const b = checkFiniteNumber(op, 'opts.laplaceScale', opts.laplaceScale ?? 1, true);
  const p = prepare(op, [['pred', opts.pred], ['gt', opts.gt], ['sigma', opts.sigma]], opts.visible, opts, undefined, flow.dim);
  const { N, K, D, vis } = p;
  if (D !== flow.dim) throw new RangeError(`${op}: the arrays have D = ${D} coordinates but the flow has dim ${flow.dim}`);
  if (opts.keypointNames && opts.keypointNames.length !== K) {
    throw new RangeError(`${op}: keypointNames must have K = ${K} names, got ${opts.keypointNames.length}`);
  }
  const [mu, g, sg] = p.arrays;
  const idx: number[] = [];
  for (let j = 0; j < N * K; j++) {
    if (!vis[j]) continue;
    for (let d = 0; d < D; d++) {
      const s = sg[j * D + d];
      if (!(s > 0)) throw new RangeError(`${op}: sigma must be positive at visible joints, got ${s} at index [${Math.floor(j / K)},${j % K},${d}]`);
    }
    idx.push(j);
  }
  const n = idx.length;
  const xbar = new Float64Array(n * D);
  let sumAbs = 0, sumSig = 0;
  const jAbs = new Array<number>(K).fill(0), jSig = new Array<number>(K).fill(0);
  const counts = new Array<number>(K).fill(0);
  idx.forEach((j, r) => {
    counts[j % K]++;
    for (let d = 0; d < D; d++) {
      const e = mu[j * D + d] - g[j * D + d];
      xbar[r * D + d] = e / sg[j * D + d];
      sumAbs += Math.abs(e); sumSig += sg[j * D + d];
      jAbs[j % K] += Math.abs(e); jSig[j % K] += sg[j * D + d];
    }
  });
  const th = flowRegionThresholds(flow, levels, M, opts.seed ?? 0);
  const lp = flowLogProb(flow, xbar);
  const l1 = new Float64Array(n), l2 = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let a = 0, q = 0;
    for (let d = 0; d < D; d++) { const x = xbar[r * D + d]; a += Math.abs(x); q += x * x; }
    l1[r] = a / b; l2[r] = Math.sqrt(q);
  }
  const cover = (inside: (r: number, li: number) => boolean, thresholds: number[]): RegionCoverage => {
    const coverage: number[] = [], perJoint: number[][] = [];
    levels.forEach((_, li) => {
      const hits = new Array<number>(K).fill(0);
      let tot = 0;
      idx.forEach((j, r) => { if (inside(r, li)) { hits[j % K]++; tot++; } });
      coverage.push(n > 0 ? tot / n : NaN);
      perJoint.push(hits.map((h, k) => (counts[k] > 0 ? h / counts[k] : NaN)));
    });
    const calibrationError = levels.reduce((s, lvl, i) => s + Math.abs(coverage[i] - lvl), 0) / levels.length;
    return { coverage, perJoint, thresholds, calibrationError };
  };
  const lapR = levels.map((q) => laplaceRegionRadius(q, D));
  const gauR = levels.map((q) => gaussianRegionRadius(q, D));
  return {
    levels,
    samples: M,
    dim: D,
    numJoints: K,
    count: n,
    counts,
    keypointNames: opts.keypointNames?.slice(),
    flow: cover((r, li) => lp[r] >= th.thresholds[li], th.thresholds),
    laplace: cover((r, li) => l1[r] <= lapR[li], lapR),
    laplaceScale: b,
    gaussian: cover((r, li) => l2[r] <= gauR[li], gauR),
    meanAbsError: n > 0 ? sumAbs / (n * D) : NaN,
    meanSigma: n > 0 ? sumSig / (n * D) : NaN,
    errorToSigma: sumSig > 0 ? sumAbs / sumSig : NaN,
    perJointErrorToSigma: jAbs.map((a, k) => (jSig[k] > 0 ? a / jSig[k] : NaN)),
  };
}

function fmt(v: number, digits = 3): string {
  return Number.isNaN(v) ? '—' : v.toFixed(digits);
}

function table(header: string[], rows: string[][]): string {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((s, c) => (c === 0 ? s.padEnd(w[c]) : s.padStart(w[c]))).join('  ');
  return [line(header), w.map((x) => '-'.repeat(x)).join('  '), ...rows.map(line)].join('\n');
}

/** A plain-text table of a calibration report (per-joint rows of the flow coverage with `perJoint`). */
export function formatCalibration(report: CalibrationReport, opts: { perJoint?: boolean } = {}): string {
  const r = report;
  const out: string[] = [];
  out.push(`σ calibration: ${r.count} visible joints (K = ${r.numJoints}, D = ${r.dim}); flow regions from M = ${r.samples} flow samples`);
  out.push(`coverage = fraction of ground truths inside the central p region of each density (ideal: = p)`);
  const lapName = r.laplaceScale === 1 ? 'Laplace(μ̂,σ)' : `Laplace(μ̂,${r.laplaceScale.toFixed(3)}σ)`;
  out.push(table(['p', 'flow (learned)', lapName, 'Gaussian(μ̂,σ)'], [
    ...r.levels.map((p, i) => [p.toFixed(2), fmt(r.flow.coverage[i]), fmt(r.laplace.coverage[i]), fmt(r.gaussian.coverage[i])]),
    ['mean |cov − p|', fmt(r.flow.calibrationError), fmt(r.laplace.calibrationError), fmt(r.gaussian.calibrationError)],
  ]));
  out.push(`mean |error| = ${r.meanAbsError.toPrecision(4)}, mean σ = ${r.meanSigma.toPrecision(4)}, ratio = ${fmt(r.errorToSigma)} ` +
    `(raw σ is a scale of the learned density, not the error; the flow regions are what should match p)`);
  if (opts.perJoint) {
    const names = r.keypointNames ?? Array.from({ length: r.numJoints }, (_, k) => `joint ${k}`);
    out.push('');
    out.push('flow-region coverage per joint:');
    out.push(table(['joint', 'n', ...r.levels.map((p) => `p=${p.toFixed(2)}`), '|err|/σ'],
      names.map((nm, k) => [nm, String(r.counts[k]), ...r.levels.map((_, i) => fmt(r.flow.perJoint[i][k])), fmt(r.perJointErrorToSigma[k])])));
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Density contours (marching squares)

export interface ContourLine {
  /** Points [x, y] in normalised residual space x̄ = (μ̂ − μ) / σ. */
  points: [number, number][];
  /** True when the line closes on itself (false only if it ran into the grid's edge). */
  closed: boolean;
}

export interface DensityContours {
  levels: number[];
  /** Log-density threshold per level (see flowRegionThresholds). */
  thresholds: number[];
  /** The grid box [xmin, xmax, ymin, ymax] in normalised residual space. */
  box: [number, number, number, number];
  /** Nodes per axis. */
  gridSize: number;
  /** flow.logProb at the grid nodes, row-major: value (i, j) at x = xmin + i·dx, y = ymin + j·dy is [j·gridSize + i]. */
  logProb: Float64Array;
  /** Per level, the contour lines of {log p ≥ t_p}. */
  contours: { level: number; threshold: number; lines: ContourLine[] }[];
}

export interface DensityContourOptions {
  /** Flow samples for the thresholds and the box. Default 20000. */
  samples?: number;
  seed?: number;
  /**
   * Fixed box [xmin, xmax, ymin, ymax]. Default: the extent of the flow samples that lie inside the
   * largest requested region (so every contour fits), widened by `margin` on each side; with
   * `boxMass` instead, the per-axis central `boxMass` quantile range of all samples (e.g. 0.999).
   */
  box?: [number, number, number, number];
  /** Fraction of the box size added on each side. Default 0.15. */
  margin?: number;
  /** Size the box by this central mass of all samples per axis instead of by the largest region. */
  boxMass?: number;
}

/**
 * Contour polylines of the flow's central p regions (2-D flows), in normalised residual space, from
 * marching squares on a gridSize × gridSize grid of flow.logProb over a box that spans the flow samples
 * inside the largest requested region, plus a margin (so that every contour closes inside the grid and
 * the grid's resolution is spent where the contours are; heavy tails would make a 99.9 % box several
 * times larger: `opts.boxMass: 0.999` gives that box). Saddle cells are resolved by the cell-centre average.
 *
 * To draw the region of joint k in the image: the ground truth is μ = μ̂ − σ ⊙ x̄, so each contour
 * point c maps to μ̂_k − σ_k ⊙ c (see `contourToImage`).
 */
export function densityContours(flow: RealNVP, levels: number[] = [0.5, 0.8, 0.95], gridSize = 100, opts: DensityContourOptions = {}): DensityContours {
  const op = 'densityContours';
  if (!flow || typeof flow.logProb !== 'function') throw new TypeError(`${op}: flow must be a RealNVP`);
  if (flow.dim !== 2) throw new RangeError(`${op}: the flow must be 2-D, got dim ${flow.dim}`);
  if (!Number.isInteger(gridSize) || gridSize < 3 || gridSize > 2048) throw new RangeError(`${op}: gridSize must be an integer in [3, 2048], got ${gridSize}`);
  const th = flowRegionThresholds(flow, levels, opts.samples ?? 20000, opts.seed ?? 0);
  let box = opts.box;
  if (box) {
    if (box.length !== 4 || box.some((v) => !Number.isFinite(v)) || !(box[1] > box[0] && box[3] > box[2])) {
      throw new RangeError(`${op}: opts.box must be [xmin, xmax, ymin, ymax] with xmin < xmax, ymin < ymax, got ${JSON.stringify(box)}`);
    }
  } else {
    const margin = opts.margin ?? 0.15;
    const S = th.samples;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    if (opts.boxMass !== undefined) {
      const m = opts.boxMass;
      if (!(m > 0 && m < 1)) throw new RangeError(`${op}: opts.boxMass must be in (0,1), got ${m}`);
      const q = (d: number) => {
        const v = Float64Array.from({ length: S.length / 2 }, (_, r) => S[r * 2 + d]).filter(Number.isFinite).sort();
        return [v[Math.floor(((1 - m) / 2) * (v.length - 1))], v[Math.ceil((1 - (1 - m) / 2) * (v.length - 1))]];
      };
      [x0, x1] = q(0); [y0, y1] = q(1);
    } else {
      // The samples inside the largest region (the lowest threshold) span it: the box holds every contour.
      const tMin = Math.min(...th.thresholds);
      const lp = th.logProb;
      for (let r = 0; r < lp.length; r++) {
        if (!(lp[r] >= tMin)) continue;
        x0 = Math.min(x0, S[2 * r]); x1 = Math.max(x1, S[2 * r]);
        y0 = Math.min(y0, S[2 * r + 1]); y1 = Math.max(y1, S[2 * r + 1]);
      }
    }
    const mx = (x1 - x0) * margin, my = (y1 - y0) * margin;
    box = [x0 - mx, x1 + mx, y0 - my, y1 + my];
  }
  const [xmin, xmax, ymin, ymax] = box;
  const G = gridSize;
  const dx = (xmax - xmin) / (G - 1), dy = (ymax - ymin) / (G - 1);
  const pts = new Float64Array(G * G * 2);
  for (let j = 0; j < G; j++) for (let i = 0; i < G; i++) { pts[(j * G + i) * 2] = xmin + i * dx; pts[(j * G + i) * 2 + 1] = ymin + j * dy; }
  const f = flowLogProb(flow, pts);
  const contours = th.levels.map((level, li) => ({
    level,
    threshold: th.thresholds[li],
    lines: marchingSquares(f, G, G, th.thresholds[li], (i) => xmin + i * dx, (j) => ymin + j * dy),
  }));
  return { levels: th.levels, thresholds: th.thresholds, box: [xmin, xmax, ymin, ymax], gridSize: G, logProb: f, contours };
}

/** Maps a contour in normalised residual space to the image: μ̂ − σ ⊙ c for every point (see the module note on the sign). */
export function contourToImage(line: ContourLine | [number, number][], mu: [number, number] | ArrayLike<number>, sigma: [number, number] | ArrayLike<number>): [number, number][] {
  const pts = Array.isArray(line) ? line : line.points;
  return pts.map(([x, y]) => [mu[0] - sigma[0] * x, mu[1] - sigma[1] * y]);
}

/**
 * Iso-lines {f = t} of a grid f [ny·nx] (row j, column i), as polylines of points (X(i), Y(j)) with
 * linear interpolation along cell edges; "inside" is f ≥ t. Exported for tests.
 */
export function marchingSquares(f: ArrayLike<number>, nx: number, ny: number, t: number,
  X: (i: number) => number = (i) => i, Y: (j: number) => number = (j) => j): ContourLine[] {
  const H = (nx - 1) * ny; // horizontal edges come first, then vertical ones
  const hId = (i: number, j: number) => j * (nx - 1) + i;
  const vId = (i: number, j: number) => H + j * nx + i;
  const inside = (v: number) => v >= t;
  const pointCache = new Map<number, [number, number]>();
  const edgePoint = (e: number): [number, number] => {
    let p = pointCache.get(e);
    if (p) return p;
    let ia: number, ja: number, ib: number, jb: number;
    if (e < H) { ja = Math.floor(e / (nx - 1)); ia = e % (nx - 1); ib = ia + 1; jb = ja; }
    else { const q = e - H; ja = Math.floor(q / nx); ia = q % nx; ib = ia; jb = ja + 1; }
    const fa = f[ja * nx + ia], fb = f[jb * nx + ib];
    let s = fa === fb ? 0.5 : (t - fa) / (fb - fa);
    if (!Number.isFinite(s)) s = inside(fa) ? 1 : 0; // one end is −∞: put the crossing next to the finite end
    s = Math.min(1, Math.max(0, s));
    p = [X(ia) + s * (X(ib) - X(ia)), Y(ja) + s * (Y(jb) - Y(ja))];
    pointCache.set(e, p);
    return p;
  };
  const segs: [number, number][] = [];
  for (let j = 0; j < ny - 1; j++) {
    for (let i = 0; i < nx - 1; i++) {
      const v0 = f[j * nx + i], v1 = f[j * nx + i + 1], v2 = f[(j + 1) * nx + i + 1], v3 = f[(j + 1) * nx + i];
      const c = (inside(v0) ? 1 : 0) | (inside(v1) ? 2 : 0) | (inside(v2) ? 4 : 0) | (inside(v3) ? 8 : 0);
      if (c === 0 || c === 15) continue;
      const e0 = hId(i, j), e1 = vId(i + 1, j), e2 = hId(i, j + 1), e3 = vId(i, j);
      if (c === 5 || c === 10) {
        const centre = 0.25 * (v0 + v1 + v2 + v3);
        const cin = inside(centre);
        // Case 5: v0, v2 inside. Centre inside joins them, cutting off v1 and v3; else v0 and v2 are cut off.
        if ((c === 5) === cin) { segs.push([e0, e1], [e2, e3]); } else { segs.push([e3, e0], [e1, e2]); }
        continue;
      }
      const cross: number[] = [];
      if (inside(v0) !== inside(v1)) cross.push(e0);
      if (inside(v1) !== inside(v2)) cross.push(e1);
      if (inside(v3) !== inside(v2)) cross.push(e2);
      if (inside(v0) !== inside(v3)) cross.push(e3);
      segs.push([cross[0], cross[1]]);
    }
  }
  // Link segments through their shared edges (each crossed edge belongs to at most two cells).
  const byEdge = new Map<number, number[]>();
  segs.forEach(([a, b], s) => {
    for (const e of [a, b]) { const l = byEdge.get(e); if (l) l.push(s); else byEdge.set(e, [s]); }
  });
  const used = new Uint8Array(segs.length);
  const next = (edge: number, from: number): number => {
    const l = byEdge.get(edge)!;
    for (const s of l) if (s !== from && !used[s]) return s;
    return -1;
  };
  const lines: ContourLine[] = [];
  for (let s0 = 0; s0 < segs.length; s0++) {
    if (used[s0]) continue;
    used[s0] = 1;
    const startEdge = segs[s0][0];
    const chain: number[] = [segs[s0][0], segs[s0][1]];
    let closed = false;
    // forward
    let cur = s0, edge = segs[s0][1];
    for (;;) {
      if (edge === startEdge) { closed = true; break; }
      const s = next(edge, cur);
      if (s < 0) break;
      used[s] = 1;
      edge = segs[s][0] === edge ? segs[s][1] : segs[s][0];
      chain.push(edge);
      cur = s;
    }
    if (closed) chain.pop();
    else {
      // backward from the start
      cur = s0; edge = startEdge;
      for (;;) {
        const s = next(edge, cur);
        if (s < 0) break;
        used[s] = 1;
        edge = segs[s][0] === edge ? segs[s][1] : segs[s][0];
        chain.unshift(edge);
        cur = s;
      }
    }
    lines.push({ points: chain.map(edgePoint), closed });
  }
  return lines;
}
