// SPDX-License-Identifier: MIT
/**
 * Top-down training / evaluation batches: for each person sample, a crop of the input size around its box
 * (with the random crop parameters of augment.ts when training), normalised, plus its regression targets
 * and weights, and what is needed to map predictions back to the image.
 *
 * Determinism: a sample's augmentation comes from its own Rng, seeded from (seed, epoch key, sample index),
 * so a batch does not depend on which batches were assembled before it or in which order. The epoch key is
 * `opts.epoch` when given, else a counter of batch() calls.
 */
import { Rng } from '../util/rng.js';
import type { RgbImage } from './image.js';
import type { KeypointSample } from './coco.js';
import { resolveAugmentOptions, sampleCropParams, type AugmentOptions } from './augment.js';
import {
  boxToCenterScale, cropMatrix, invertAffine, keypointsToTarget, swapFlipPairs, targetToImage, warpAffineBilinear,
  IMAGENET_NORM, type Affine, type Convention, type Normalization,
} from './transforms.js';

/** Returns a decoded image for a file name (sync or async). */
export type ImageProvider = (file: string) => RgbImage | Promise<RgbImage>;

export interface TopDownDatasetOptions {
  /** Network input [H, W], e.g. [256, 192] (paper) or [128, 96] (demo). */
  inputSize: [number, number];
  convention: Convention;
  /** false: the padded box, no randomness (evaluation). true or options: training augmentation. */
  augment: boolean | AugmentOptions;
  seed: number;
  /** Keep decoded images: true (up to 512 MiB) or a byte budget; least recently used are dropped first. */
  cacheImages?: boolean | { maxBytes: number };
  /** Box padding (default 1.25). */
  padding?: number;
  /** Default IMAGENET_NORM. */
  normalization?: Normalization;
  /** Left/right pairs (default COCO's for K = 17; also taken from augment.flipPairs). */
  flipPairs?: ReadonlyArray<readonly [number, number]>;
}

/** How one crop was made: enough to map its predictions back to the image. */
export interface CropInfo {
  sampleIndex: number;
  center: [number, number];
  scale: [number, number];
  rotation: number;
  flip: boolean;
  halfBody: boolean;
  /** Image → crop. */
  matrix: Affine;
  /** Crop → image. */
  inverse: Affine;
}

export interface Batch {
  /** [B, H, W, 3] normalised. */
  images: Float32Array;
  /** [B, K, 2] in the convention's units. */
  target: Float32Array;
  /** [B, K, 2]. */
  weight: Float32Array;
  crops: CropInfo[];
  batchSize: number;
  inputSize: [number, number];
  numJoints: number;
}

export interface BatchOptions {
  /** Epoch key of the per-sample Rngs (default: the number of earlier batch() calls). */
  epoch?: number;
}

/** A 32-bit mix of integers (splitmix-style), for per-sample seeds. */
function mixSeed(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

export class TopDownDataset {
  readonly samples: readonly KeypointSample[];
  readonly numJoints: number;
  readonly inputSize: [number, number];
  readonly convention: Convention;
  readonly flipPairs: ReadonlyArray<readonly [number, number]>;
  private readonly provider: ImageProvider;
  private readonly aug: Required<AugmentOptions> | null;
  private readonly seed: number;
  private readonly padding: number;
  private readonly norm: Normalization;
  private readonly cacheMax: number;
  private readonly cache = new Map<string, RgbImage>();
  private readonly pending = new Map<string, Promise<RgbImage>>();
  private cacheBytes = 0;
  private calls = 0;

  constructor(samples: readonly KeypointSample[], images: ImageProvider, opts: TopDownDatasetOptions) {
    const op = 'TopDownDataset';
    if (!Array.isArray(samples) || samples.length === 0) throw new RangeError(`${op}: samples must be a non-empty array, got ${Array.isArray(samples) ? 'length 0' : typeof samples}`);
    if (typeof images !== 'function') throw new TypeError(`${op}: images must be a function (file) => image, got ${typeof images}`);
    const [H, W] = opts.inputSize ?? [];
    if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0) throw new RangeError(`${op}: inputSize must be [H, W] positive integers, got ${JSON.stringify(opts.inputSize)}`);
    if (opts.convention !== 'official' && opts.convention !== 'mmpose') throw new TypeError(`${op}: convention must be 'official' or 'mmpose', got ${JSON.stringify(opts.convention)}`);
    if (!Number.isFinite(opts.seed)) throw new TypeError(`${op}: seed must be a number, got ${opts.seed}`);
    const K = samples[0].keypoints.length / 3;
    samples.forEach((s, i) => {
      if (s.keypoints.length !== K * 3) throw new RangeError(`${op}: samples[${i}].keypoints must have length ${K * 3}, got ${s.keypoints.length}`);
    });
    this.samples = samples;
    this.numJoints = K;
    this.inputSize = [H, W];
    this.convention = opts.convention;
    this.provider = images;
    this.seed = opts.seed >>> 0;
    this.padding = opts.padding ?? 1.25;
    this.norm = opts.normalization ?? IMAGENET_NORM;
    const augOpts = opts.augment === true ? {} : opts.augment === false ? null : opts.augment;
    this.aug = augOpts ? resolveAugmentOptions({ ...augOpts, flipPairs: augOpts.flipPairs ?? opts.flipPairs }, K) : null;
    this.flipPairs = this.aug?.flipPairs ?? opts.flipPairs ?? resolveAugmentOptions({}, K).flipPairs;
    const c = opts.cacheImages;
    this.cacheMax = c === true ? 512 * 2 ** 20 : c && typeof c === 'object' ? c.maxBytes : 0;
  }

  get length(): number { return this.samples.length; }

  /** Shuffled index batches of one epoch (a Fisher–Yates permutation from `rng`); the last may be short unless dropLast. */
  epoch(batchSize: number, rng: Rng, opts: { dropLast?: boolean } = {}): number[][] {
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`TopDownDataset.epoch: batchSize must be a positive integer, got ${batchSize}`);
    const n = this.samples.length;
    const perm = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    const out: number[][] = [];
    for (let i = 0; i < n; i += batchSize) {
      if (opts.dropLast && i + batchSize > n) break;
      out.push(perm.slice(i, i + batchSize));
    }
    return out;
  }

  private image(file: string): Promise<RgbImage> {
    const hit = this.cache.get(file);
    if (hit) { this.cache.delete(file); this.cache.set(file, hit); return Promise.resolve(hit); }
    // one read per file at a time, however many samples of a batch share it
    let p = this.pending.get(file);
    if (!p) {
      p = this.load(file).finally(() => this.pending.delete(file));
      this.pending.set(file, p);
    }
    return p;
  }

  private async load(file: string): Promise<RgbImage> {
    const img = await this.provider(file);
    if (!img || img.data.length !== img.width * img.height * 3) {
      throw new RangeError(`TopDownDataset: image provider returned a bad image for ${JSON.stringify(file)} (expected RGB width*height*3 bytes)`);
    }
    if (this.cacheMax > 0 && img.data.byteLength <= this.cacheMax) {
      this.cache.set(file, img);
      this.cacheBytes += img.data.byteLength;
      for (const [k, v] of this.cache) {
        if (this.cacheBytes <= this.cacheMax) break;
        this.cache.delete(k); this.cacheBytes -= v.data.byteLength;
      }
    }
    return img;
  }

  /** The crop parameters of sample `index` under epoch key `epoch` (what batch() uses). */
  cropParams(index: number, epoch: number): Omit<CropInfo, 'matrix' | 'inverse'> {
    const s = this.samples[index];
    if (!s) throw new RangeError(`TopDownDataset: index ${index} out of range [0, ${this.samples.length})`);
    const [H, W] = this.inputSize;
    const box = boxToCenterScale(s.bbox, W / H, this.padding);
    if (!this.aug) return { sampleIndex: index, center: box.center, scale: box.scale, rotation: 0, flip: false, halfBody: false };
    const rng = new Rng(mixSeed(this.seed, epoch >>> 0, index));
    const p = sampleCropParams(rng, s.keypoints, box, W / H, this.aug);
    return { sampleIndex: index, ...p };
  }

  /** Assembles the crops, targets and weights of `indices`. */
  async batch(indices: readonly number[], opts: BatchOptions = {}): Promise<Batch> {
    const epochKey = opts.epoch ?? this.calls;
    this.calls++;
    const [H, W] = this.inputSize;
    const K = this.numJoints, B = indices.length;
    const images = new Float32Array(B * H * W * 3);
    const target = new Float32Array(B * K * 2), weight = new Float32Array(B * K * 2);
    const crops: CropInfo[] = [];
    const decoded = await Promise.all(indices.map((i) => {
      const s = this.samples[i];
      if (!s) throw new RangeError(`TopDownDataset.batch: index ${i} out of range [0, ${this.samples.length})`);
      return this.image(s.file);
    }));
    for (let b = 0; b < B; b++) {
      const idx = indices[b];
      const s = this.samples[idx];
      const p = this.cropParams(idx, epochKey);
      const M = cropMatrix(p.center, p.scale, p.rotation, W, H, p.flip);
      const img = decoded[b];
      warpAffineBilinear(img.data, img.width, img.height, M, W, H, { normalization: this.norm, out: images, outOffset: b * H * W * 3 });
      const kps = p.flip ? swapFlipPairs(s.keypoints, this.flipPairs, 3) : s.keypoints;
      const t = keypointsToTarget(kps, M, W, H, this.convention);
      target.set(t.target, b * K * 2);
      weight.set(t.weight, b * K * 2);
      crops.push({ ...p, matrix: M, inverse: invertAffine(M) });
    }
    return { images, target, weight, crops, batchSize: B, inputSize: [H, W], numJoints: K };
  }

  /**
   * Predictions [K, 2] of one crop (in the convention's units) → image pixels [K, 2], undoing the flip's
   * left/right swap so joint k is joint k of the annotation.
   */
  toImage(pred: ArrayLike<number>, crop: CropInfo): Float32Array {
    const [H, W] = this.inputSize;
    const xy = targetToImage(pred, this.convention, crop.inverse, W, H);
    return crop.flip ? swapFlipPairs(xy, this.flipPairs, 2) : xy;
  }
}
