// SPDX-License-Identifier: MIT
/**
 * Random crop parameters of the top-down training pipeline (SimpleBaseline / HRNet / the RLE code): half body
 * (probability 0.3 when more than 8 joints are labelled: the box is rebuilt around the upper or the lower
 * body's joints, ×1.5), scale (×clip(1 + sf·N(0,1), 1 − sf, 1 + sf)), rotation (clip(rf·N(0,1), −2rf, 2rf),
 * applied with probability 0.6) and horizontal flip (probability 0.5: the crop is mirrored and left/right
 * joints swap). Every draw comes from the Rng passed in, in a fixed order, so a seed reproduces a run.
 */
import type { Rng } from '../util/rng.js';
import type { CenterScale } from './transforms.js';

export interface AugmentOptions {
  /** Probability of a horizontal flip (default 0.5; 0 turns flips off). */
  flipProb?: number;
  /** Rotation std in degrees (default 30); draws are clipped to ±rotClip. */
  rotFactor?: number;
  /** Rotation clip in degrees (default 2·rotFactor). */
  rotClip?: number;
  /** Probability that the rotation is applied at all (default 0.6). */
  rotProb?: number;
  /** Scale factor sf: scale ×clip(1 + sf·N(0,1), 1 − sf, 1 + sf) (default 0.25, i.e. ×[0.75, 1.25]). */
  scaleFactor?: number;
  /** Probability of the half-body crop (default 0.3; 0 turns it off). */
  halfBodyProb?: number;
  /** Half body needs more than this many labelled joints (default 8). */
  halfBodyMinJoints?: number;
  /** Padding of the half-body box (default 1.5). */
  halfBodyPadding?: number;
  /** Upper-body joint indices (default COCO 0..10). Lower body: the rest. */
  upperBody?: readonly number[];
  /** Left/right pairs swapped by a flip (default COCO's for K = 17, else none). */
  flipPairs?: ReadonlyArray<readonly [number, number]>;
}

export interface CropParams {
  center: [number, number];
  scale: [number, number];
  rotation: number;
  flip: boolean;
  halfBody: boolean;
}

export const COCO_UPPER_BODY: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
export const COCO_FLIP_PAIRS_17: ReadonlyArray<readonly [number, number]> = Object.freeze(
  [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]].map((p) => Object.freeze(p as [number, number])),
);

/**
 * Named settings. `paper`: the defaults above (made for 200+ epoch runs). `mild`: flips, ±15° rotations
 * on 20% of crops, ×[0.85, 1.15] scale, no half body — for runs of a few thousand steps, where the paper's
 * setting keeps a small network near the mean pose (docs/data.md). `noflip`: `mild` without flips.
 * `none`: no augmentation.
 */
export const AUGMENT_PRESETS: Readonly<Record<'paper' | 'mild' | 'noflip' | 'none', AugmentOptions | false>> = Object.freeze({
  paper: Object.freeze({}),
  mild: Object.freeze({ flipProb: 0.5, rotFactor: 15, rotClip: 30, rotProb: 0.2, scaleFactor: 0.15, halfBodyProb: 0 }),
  /** `mild` without flips: for data whose left and right are marked by appearance rather than by anatomy
   *  (the built-in synthetic benchmark colours left limbs lighter and warmer), where a mirrored crop with
   *  swapped labels contradicts the unmirrored ones. */
  noflip: Object.freeze({ flipProb: 0, rotFactor: 15, rotClip: 30, rotProb: 0.2, scaleFactor: 0.15, halfBodyProb: 0 }),
  none: false,
});

/** The options of a preset name (true/false/options pass through); throws naming the presets otherwise. */
export function resolveAugmentPreset(v: string | boolean | AugmentOptions): AugmentOptions | boolean {
  if (typeof v !== 'string') return v;
  if (!Object.prototype.hasOwnProperty.call(AUGMENT_PRESETS, v)) {
    throw new RangeError(`augment: expected one of ${Object.keys(AUGMENT_PRESETS).join(', ')}, got ${JSON.stringify(v)}`);
  }
  return AUGMENT_PRESETS[v as keyof typeof AUGMENT_PRESETS];
}

/** Options with defaults filled in; throws RangeError on out-of-range values. */
export function resolveAugmentOptions(opts: AugmentOptions, K: number): Required<AugmentOptions> {
  const rf = opts.rotFactor ?? 30;
  const r: Required<AugmentOptions> = {
    flipProb: opts.flipProb ?? 0.5,
    rotFactor: rf,
    rotClip: opts.rotClip ?? 2 * rf,
    rotProb: opts.rotProb ?? 0.6,
    scaleFactor: opts.scaleFactor ?? 0.25,
    halfBodyProb: opts.halfBodyProb ?? 0.3,
    halfBodyMinJoints: opts.halfBodyMinJoints ?? 8,
    halfBodyPadding: opts.halfBodyPadding ?? 1.5,
    upperBody: opts.upperBody ?? (K === 17 ? COCO_UPPER_BODY : []),
    flipPairs: opts.flipPairs ?? (K === 17 ? COCO_FLIP_PAIRS_17 : []),
  };
  for (const key of ['flipProb', 'rotProb', 'halfBodyProb'] as const) {
    if (!(r[key] >= 0 && r[key] <= 1)) throw new RangeError(`augment: ${key} must be in [0, 1], got ${r[key]}`);
  }
  if (!(r.scaleFactor >= 0 && r.scaleFactor < 1)) throw new RangeError(`augment: scaleFactor must be in [0, 1), got ${r.scaleFactor}`);
  if (!(r.rotFactor >= 0) || !(r.rotClip >= 0)) throw new RangeError(`augment: rotFactor and rotClip must be ≥ 0, got ${r.rotFactor}, ${r.rotClip}`);
  if (!(r.halfBodyPadding > 0)) throw new RangeError(`augment: halfBodyPadding must be > 0, got ${r.halfBodyPadding}`);
  for (const [a, b] of r.flipPairs) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= K || b >= K) {
      throw new RangeError(`augment: flip pair [${a},${b}] out of range for K = ${K}`);
    }
  }
  return r;
}

function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * The half-body box: the labelled joints of the upper (or, half the time, the lower) body, their extent grown
 * to `aspect` and multiplied by `padding`; null when fewer than 2 joints qualify (then the caller keeps the box).
 */
export function halfBodyBox(
  kps: ArrayLike<number>, upperBody: readonly number[], aspect: number, padding: number, preferUpper: boolean,
): CenterScale | null {
  const K = kps.length / 3;
  const isUpper = new Uint8Array(K);
  for (const j of upperBody) if (j >= 0 && j < K) isUpper[j] = 1;
  const upper: number[] = [], lower: number[] = [];
  for (let k = 0; k < K; k++) if (kps[3 * k + 2] > 0) (isUpper[k] ? upper : lower).push(k);
  const sel = (preferUpper && upper.length > 2) || lower.length <= 2 ? upper : lower;
  if (sel.length < 2) return null;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, sx = 0, sy = 0;
  for (const k of sel) {
    const x = kps[3 * k], y = kps[3 * k + 1];
    sx += x; sy += y;
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  let w = x1 - x0, h = y1 - y0;
  if (w > aspect * h) h = w / aspect;
  else if (w < aspect * h) w = h * aspect;
  if (!(w > 0)) return null;
  return { center: [sx / sel.length, sy / sel.length], scale: [w * padding, h * padding] };
}

/**
 * Draws one crop's parameters. The same six draws are taken from `rng` whatever the outcome (half-body gate and
 * side, scale, rotation gate and angle, flip), so a sample's parameters depend only on the Rng's state.
 */
export function sampleCropParams(
  rng: Rng, kps: ArrayLike<number>, box: CenterScale, aspect: number, opts: Required<AugmentOptions>,
): CropParams {
  const K = kps.length / 3;
  let labelled = 0;
  for (let k = 0; k < K; k++) if (kps[3 * k + 2] > 0) labelled++;
  const uHalf = rng.next(), uSide = rng.next();
  const nScale = rng.normal();
  const uRot = rng.next(), nRot = rng.normal();
  const uFlip = rng.next();
  let center: [number, number] = [box.center[0], box.center[1]];
  let scale: [number, number] = [box.scale[0], box.scale[1]];
  let halfBody = false;
  if (labelled > opts.halfBodyMinJoints && uHalf < opts.halfBodyProb) {
    const hb = halfBodyBox(kps, opts.upperBody, aspect, opts.halfBodyPadding, uSide < 0.5);
    if (hb) { center = hb.center; scale = hb.scale; halfBody = true; }
  }
  const sf = opts.scaleFactor;
  const s = clip(1 + sf * nScale, 1 - sf, 1 + sf);
  scale = [scale[0] * s, scale[1] * s];
  const rotation = uRot < opts.rotProb ? clip(nRot * opts.rotFactor, -opts.rotClip, opts.rotClip) : 0;
  const flip = uFlip < opts.flipProb;
  return { center, scale, rotation, flip, halfBody };
}
