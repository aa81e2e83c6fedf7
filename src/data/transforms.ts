// SPDX-License-Identifier: MIT
/**
 * The top-down crop pipeline of SimpleBaseline/HRNet as the RLE code and MMPose use it: a person box becomes
 * a center and a scale (aspect fixed to the network input, padded ×1.25), a similarity transform maps the
 * (rotated) box onto the input, the crop is sampled bilinearly and normalised, and the joints become
 * regression targets normalised by the input size.
 *
 * Coordinate convention (one everywhere, both directions): integer coordinates are pixel centres, as in
 * OpenCV's warpAffine and the COCO keypoints the reference code feeds to it. Crop pixel (u, v) samples the
 * image at M⁻¹·(u, v); the box center maps to (outW/2, outH/2) as in HRNet's get_affine_transform. A
 * horizontal flip mirrors the crop about its pixel grid, u ↦ outW − 1 − u, which is the mirror that
 * RegressFlowNet.predict's flip test undoes (official −x − 1/W, MMPose 1 − x − 1/W).
 * Targets: 'official' t = u/outW − 0.5 (the RLE code, range [−0.5, 0.5]); 'mmpose' t = u/outW (RegressionLabel,
 * range [0, 1]); the same for v with outH.
 */

/** A 2×3 affine [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = Float64Array;

export type Convention = 'official' | 'mmpose';

export interface Normalization {
  /** Per-channel mean of RGB in [0, 1]. */
  mean: readonly [number, number, number];
  /** Per-channel std of RGB in [0, 1]. */
  std: readonly [number, number, number];
}

/** ImageNet statistics (torchvision, MMPose's data preprocessor). The default. */
export const IMAGENET_NORM: Normalization = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406]) as readonly [number, number, number],
  std: Object.freeze([0.229, 0.224, 0.225]) as readonly [number, number, number],
});

/** The official RLE code's COCO normalisation as we read it: RGB/255 minus (0.406, 0.457, 0.480), no std division. */
export const RLE_OFFICIAL_NORM: Normalization = Object.freeze({
  mean: Object.freeze([0.406, 0.457, 0.48]) as readonly [number, number, number],
  std: Object.freeze([1, 1, 1]) as readonly [number, number, number],
});

export interface CenterScale {
  center: [number, number];
  /** Box width and height in image pixels after the aspect fix and padding (scale[0]/scale[1] = aspect). */
  scale: [number, number];
}

function checkFinite(op: string, name: string, v: number): void {
  if (!Number.isFinite(v)) throw new RangeError(`${op}: ${name} must be finite, got ${v}`);
}

/**
 * COCO box [x, y, w, h] → center and scale: the center of the box; the shorter side grown until w/h equals
 * `aspect` (input width / height), then both multiplied by `padding`.
 */
export function boxToCenterScale(bbox: ArrayLike<number>, aspect: number, padding = 1.25): CenterScale {
  const op = 'boxToCenterScale';
  if (bbox.length !== 4) throw new RangeError(`${op}: bbox must be [x, y, w, h], got length ${bbox.length}`);
  for (let i = 0; i < 4; i++) checkFinite(op, `bbox[${i}]`, bbox[i]);
  if (!(aspect > 0) || !Number.isFinite(aspect)) throw new RangeError(`${op}: aspect must be a positive number, got ${aspect}`);
  if (!(padding > 0) || !Number.isFinite(padding)) throw new RangeError(`${op}: padding must be a positive number, got ${padding}`);
  const [x, y] = [bbox[0], bbox[1]];
  let w = bbox[2], h = bbox[3];
  if (w < 0 || h < 0) throw new RangeError(`${op}: bbox width and height must be ≥ 0, got ${w}×${h}`);
  const center: [number, number] = [x + w * 0.5, y + h * 0.5];
  if (w > aspect * h) h = w / aspect;
  else if (w < aspect * h) w = h * aspect;
  if (!(w > 0)) throw new RangeError(`${op}: bbox has zero size`);
  return { center, scale: [w * padding, h * padding] };
}

/**
 * Image → crop transform: rotate by `rotationDeg` about `center`, scale so that `scale` (its width; a
 * number means the width) spans outW pixels, put the center at (outW/2, outH/2); with `flip`, mirror the
 * crop (u ↦ outW − 1 − u). Positive rotations turn the content counter-clockwise on screen, as HRNet's.
 */
export function cropMatrix(
  center: ArrayLike<number>,
  scale: number | ArrayLike<number>,
  rotationDeg: number,
  outW: number,
  outH: number,
  flip = false,
): Affine {
  const op = 'cropMatrix';
  const sw = typeof scale === 'number' ? scale : scale[0];
  checkFinite(op, 'center[0]', center[0]); checkFinite(op, 'center[1]', center[1]); checkFinite(op, 'rotationDeg', rotationDeg);
  if (!(sw > 0) || !Number.isFinite(sw)) throw new RangeError(`${op}: scale must be positive, got ${sw}`);
  if (!(outW > 0) || !(outH > 0)) throw new RangeError(`${op}: output size must be positive, got ${outW}×${outH}`);
  const k = outW / sw;
  const r = (rotationDeg * Math.PI) / 180;
  const c = Math.cos(r) * k, s = Math.sin(r) * k;
  const cx = center[0], cy = center[1];
  // u = c·(x−cx) + s·(y−cy) + outW/2 ; v = −s·(x−cx) + c·(y−cy) + outH/2
  const M = new Float64Array([c, s, outW / 2 - c * cx - s * cy, -s, c, outH / 2 + s * cx - c * cy]);
  if (flip) { M[0] = -M[0]; M[1] = -M[1]; M[2] = outW - 1 - M[2]; }
  return M;
}

/** Inverse of an affine. */
export function invertAffine(M: ArrayLike<number>): Affine {
  const [a, b, c, d, e, f] = [M[0], M[1], M[2], M[3], M[4], M[5]];
  const det = a * e - b * d;
  if (!(Math.abs(det) > 1e-300) || !Number.isFinite(det)) throw new RangeError(`invertAffine: matrix is singular (det = ${det})`);
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  return new Float64Array([ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)]);
}

/** Crop → image transform (the inverse of cropMatrix with the same arguments). */
export function cropMatrixInverse(
  center: ArrayLike<number>, scale: number | ArrayLike<number>, rotationDeg: number, outW: number, outH: number, flip = false,
): Affine {
  return invertAffine(cropMatrix(center, scale, rotationDeg, outW, outH, flip));
}

export function applyAffine(M: ArrayLike<number>, x: number, y: number): [number, number] {
  return [M[0] * x + M[1] * y + M[2], M[3] * x + M[4] * y + M[5]];
}

export interface WarpOptions {
  /** Default IMAGENET_NORM. */
  normalization?: Normalization;
  /** Write into this array at `outOffset` (a batch buffer) instead of allocating. */
  out?: Float32Array;
  outOffset?: number;
}

/**
 * Samples the crop (u, v) ↦ image M⁻¹·(u, v) bilinearly from packed 8-bit RGB and normalises it:
 * (p/255 − mean)/std, HWC float32. Image pixels outside the image count as 0 after normalisation (so a
 * sample half outside blends towards 0), the convention of padding with the mean colour.
 */
export function warpAffineBilinear(
  rgb: Uint8Array, w: number, h: number, M: ArrayLike<number>, outW: number, outH: number, opts: WarpOptions = {},
): Float32Array {
  const op = 'warpAffineBilinear';
  if (rgb.length !== w * h * 3) throw new RangeError(`${op}: rgb must have length w*h*3 = ${w * h * 3}, got ${rgb.length}`);
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW <= 0 || outH <= 0) {
    throw new RangeError(`${op}: output size must be positive integers, got ${outW}×${outH}`);
  }
  const norm = opts.normalization ?? IMAGENET_NORM;
  const n = outW * outH * 3;
  const off = opts.outOffset ?? 0;
  const out = opts.out ?? new Float32Array(n);
  if (off < 0 || off + n > out.length) throw new RangeError(`${op}: out is too small: need ${off + n} elements, got ${out.length}`);
  const inv = invertAffine(M);
  const sA0 = 1 / (255 * norm.std[0]), sA1 = 1 / (255 * norm.std[1]), sA2 = 1 / (255 * norm.std[2]);
  const sB0 = -norm.mean[0] / norm.std[0], sB1 = -norm.mean[1] / norm.std[1], sB2 = -norm.mean[2] / norm.std[2];
  const [ia, ib, ic, id, ie, ifo] = [inv[0], inv[1], inv[2], inv[3], inv[4], inv[5]];
  const row = w * 3;
  let o = off;
  for (let v = 0; v < outH; v++) {
    let x = ib * v + ic, y = ie * v + ifo;
    for (let u = 0; u < outW; u++, x += ia, y += id, o += 3) {
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
        const p = y0 * row + x0 * 3, q = p + row;
        const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        out[o] = (w00 * rgb[p] + w01 * rgb[p + 3] + w10 * rgb[q] + w11 * rgb[q + 3]) * sA0 + sB0;
        out[o + 1] = (w00 * rgb[p + 1] + w01 * rgb[p + 4] + w10 * rgb[q + 1] + w11 * rgb[q + 4]) * sA1 + sB1;
        out[o + 2] = (w00 * rgb[p + 2] + w01 * rgb[p + 5] + w10 * rgb[q + 2] + w11 * rgb[q + 5]) * sA2 + sB2;
        continue;
      }
      if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) { out[o] = 0; out[o + 1] = 0; out[o + 2] = 0; continue; }
      let r = 0, g = 0, b = 0, wsum = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = y0 + dy;
        if (yy < 0 || yy >= h) continue;
        const wy = dy ? fy : 1 - fy;
        for (let dx = 0; dx < 2; dx++) {
          const xx = x0 + dx;
          if (xx < 0 || xx >= w) continue;
          const wt = wy * (dx ? fx : 1 - fx);
          const p = yy * row + xx * 3;
          r += wt * rgb[p]; g += wt * rgb[p + 1]; b += wt * rgb[p + 2]; wsum += wt;
        }
      }
      out[o] = r * sA0 + wsum * sB0;
      out[o + 1] = g * sA1 + wsum * sB1;
      out[o + 2] = b * sA2 + wsum * sB2;
    }
  }
  return out;
}

export interface Target {
  /** [K, 2] in the convention's units. */
  target: Float32Array;
  /** [K, 2]: 1 for a labelled joint (v > 0) inside the crop, else 0 (same for x and y). */
  weight: Float32Array;
}

function checkConvention(op: string, c: unknown): asserts c is Convention {
  if (c !== 'official' && c !== 'mmpose') throw new TypeError(`${op}: convention must be 'official' or 'mmpose', got ${JSON.stringify(c)}`);
}

/**
 * Keypoints [K, 3] (x, y, v in image pixels) → regression targets in the crop given by M (image → crop).
 * A joint is inside when its crop position lies on the pixel grid, 0 ≤ u ≤ outW − 1 and 0 ≤ v ≤ outH − 1
 * (MMPose's RegressionLabel rule); unlabelled (v = 0) or outside joints get weight 0 and target 0.
 */
export function keypointsToTarget(kps: ArrayLike<number>, M: ArrayLike<number>, outW: number, outH: number, convention: Convention): Target {
  const op = 'keypointsToTarget';
  checkConvention(op, convention);
  if (kps.length % 3 !== 0) throw new RangeError(`${op}: keypoints must be [K, 3] flattened, got length ${kps.length}`);
  const K = kps.length / 3;
  const target = new Float32Array(K * 2), weight = new Float32Array(K * 2);
  const shift = convention === 'official' ? 0.5 : 0;
  for (let k = 0; k < K; k++) {
    if (!(kps[3 * k + 2] > 0)) continue;
    const x = kps[3 * k], y = kps[3 * k + 1];
    const u = M[0] * x + M[1] * y + M[2], v = M[3] * x + M[4] * y + M[5];
    if (!(u >= 0 && u <= outW - 1 && v >= 0 && v <= outH - 1)) continue;
    target[2 * k] = u / outW - shift;
    target[2 * k + 1] = v / outH - shift;
    weight[2 * k] = 1; weight[2 * k + 1] = 1;
  }
  return { target, weight };
}

/** Predictions [K, 2] in the convention's units → image pixels through Minv (crop → image). */
export function targetToImage(pred: ArrayLike<number>, convention: Convention, Minv: ArrayLike<number>, outW: number, outH: number): Float32Array {
  const op = 'targetToImage';
  checkConvention(op, convention);
  if (pred.length % 2 !== 0) throw new RangeError(`${op}: pred must be [K, 2] flattened, got length ${pred.length}`);
  const shift = convention === 'official' ? 0.5 : 0;
  const out = new Float32Array(pred.length);
  for (let i = 0; i < pred.length; i += 2) {
    const u = (pred[i] + shift) * outW, v = (pred[i + 1] + shift) * outH;
    out[i] = Minv[0] * u + Minv[1] * v + Minv[2];
    out[i + 1] = Minv[3] * u + Minv[4] * v + Minv[5];
  }
  return out;
}

/**
 * Swaps the rows of each flip pair in a [K, stride] array (a copy), e.g. keypoints (stride 3) when the crop
 * is mirrored, or predictions (stride 2) to undo it.
 */
export function swapFlipPairs<T extends Float32Array | Float64Array>(arr: T, pairs: ReadonlyArray<readonly [number, number]>, stride: number): T {
  const out = arr.slice() as T;
  const K = arr.length / stride;
  for (const [a, b] of pairs) {
    if (!(a >= 0 && b >= 0 && a < K && b < K)) throw new RangeError(`swapFlipPairs: pair [${a},${b}] out of range for K = ${K}`);
    for (let d = 0; d < stride; d++) { out[a * stride + d] = arr[b * stride + d]; out[b * stride + d] = arr[a * stride + d]; }
  }
  return out;
}
