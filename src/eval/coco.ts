// SPDX-License-Identifier: MIT
/**
 * COCO keypoint evaluation: pycocotools `COCOeval(gt, dt, iouType='keypoints')` followed by
 * `evaluate()`, `accumulate()` and `summarize()`, re-implemented in float64 with the same orderings,
 * tie rules and summation order, so the stats agree with pycocotools to about 1e-12 (the golden cases
 * in test/fixtures/coco_eval_public.json, see coco_eval_README.md, pin every behaviour).
 *
 * Where pycocotools would crash or misbehave on malformed input, this module throws instead
 * (TypeError for a wrong type, RangeError for a wrong value or length), naming the offending path.
 * Known, deliberate differences (all on inputs pycocotools does not handle):
 *  - an empty results list: pycocotools' `loadRes([])` raises IndexError; we return what COCOeval
 *    computes for a results set without detections (0 where the area range has gts, -1 elsewhere);
 *  - detections or gts whose category_id is not in gt.categories, and gts whose image_id is not in
 *    gt.images, are rejected (pycocotools drops them silently); so are duplicate gt ids, negative gt
 *    areas and non-finite numbers;
 *  - `maxDets` other than 20: pycocotools' summarize() hard-codes maxDets=20 and would report -1;
 *    we summarize at the maxDets we evaluated with.
 * Quirks kept on purpose, because published numbers include them: a detection matched to a gt whose id
 * is 0 counts as unmatched (pycocotools stores the partner id and tests it against 0); if the first
 * result has a non-empty bbox, detection areas are bbox w*h instead of the keypoints' extent (loadRes).
 * OKS values may differ from pycocotools in the last bit (Math.exp vs numpy's exp); the stats do not
 * move unless an OKS lies within ~1e-16 of a threshold.
 */

const FN = 'evaluateCocoKeypoints';

/** np.spacing(1): the eps pycocotools adds to the gt area (OKS) and to tp+fp (precision). */
const EPS = 2.220446049250313e-16;

/** numpy.linspace(start, stop, num) exactly as numpy computes it: i*step + start, the last set to stop. */
function numpyLinspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const y: number[] = [];
  for (let i = 0; i < num; i++) y.push(i * step + start);
  y[num - 1] = stop;
  return y;
}

/** The OKS sigmas of the 17 COCO person keypoints (pycocotools' kpt_oks_sigmas, each x/10 in float64). */
export const COCO_KEYPOINT_SIGMAS: readonly number[] = Object.freeze(
  [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map(
    (s) => s / 10,
  ),
);

/** OKS thresholds: np.linspace(.5, .95, 10) (element 8 is 0.8999999999999999). */
export const COCO_IOU_THRESHOLDS: readonly number[] = Object.freeze(numpyLinspace(0.5, 0.95, 10));

/** Recall thresholds: np.linspace(0, 1, 101), i.e. i*0.01 with the last set to 1 (not i/100). */
export const COCO_RECALL_THRESHOLDS: readonly number[] = Object.freeze(numpyLinspace(0, 1, 101));

export type CocoAreaLabel = 'all' | 'medium' | 'large';

/** Keypoint area ranges; both bounds are inclusive (outside means area < lo or area > hi). */
export const COCO_KEYPOINT_AREA_RANGES: readonly { readonly label: CocoAreaLabel; readonly lo: number; readonly hi: number }[] =
  Object.freeze([
    Object.freeze({ label: 'all' as const, lo: 0, hi: 1e10 }),
    Object.freeze({ label: 'medium' as const, lo: 32 * 32, hi: 96 * 96 }),
    Object.freeze({ label: 'large' as const, lo: 96 * 96, hi: 1e10 }),
  ]);

/** Names of `CocoEvalResult.stats`, in pycocotools' order. */
export const COCO_STATS_NAMES: readonly string[] = Object.freeze([
  'AP', 'AP50', 'AP75', 'APm', 'APl', 'AR', 'AR50', 'AR75', 'ARm', 'ARl',
]);

export interface CocoImage {
  id: number;
  width?: number;
  height?: number;
  file_name?: string;
}

export interface CocoKeypointAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** 0/1 (or boolean). A crowd gt is ignored and may absorb several detections. */
  iscrowd: number | boolean;
  /** The field, not a count of the keypoints: 0 makes the gt ignored. */
  num_keypoints: number;
  /** [x, y, v] * K. */
  keypoints: number[];
  area: number;
  /** [x, y, w, h]; the OKS uses it when the gt has no keypoint with v > 0. */
  bbox: number[];
  segmentation?: unknown;
}

export interface CocoKeypointCategory {
  id: number;
  name?: string;
  supercategory?: string;
  /** Keypoint names: their count sets K. */
  keypoints?: string[];
  skeleton?: number[][];
}

export interface CocoKeypointGt {
  images: CocoImage[];
  annotations: CocoKeypointAnnotation[];
  categories: CocoKeypointCategory[];
}

/** One entry of a COCO results list, as given to pycocotools' loadRes. */
export interface CocoKeypointResult {
  image_id: number;
  category_id: number;
  /** [x, y, score] * K; the keypoint scores are not used. */
  keypoints: number[];
  score: number;
  /**
   * Optional. As in pycocotools' loadRes, if the FIRST result has a non-empty bbox, every result's area
   * is bbox[2]*bbox[3] (and every result needs a bbox); otherwise the area is that of the keypoints' extent.
   */
  bbox?: number[];
}

export interface CocoEvalOptions {
  /** OKS sigmas, one per keypoint (default COCO_KEYPOINT_SIGMAS; required when K != 17). */
  sigmas?: readonly number[];
  /** Detections kept per image, highest scores first (default 20). */
  maxDets?: number;
  /** Also return the per-image OKS matrices, evalImgs and the accumulated recall/precision. */
  debug?: boolean;
}

/** pycocotools' evalImgs entry for one image, category and area range. T = 10 OKS thresholds. */
export interface CocoEvalImage {
  dtIds: number[];
  /** Non-ignored gts first, then the ignored ones (stable). */
  gtIds: number[];
  dtScores: number[];
  gtIgnore: number[];
  /** T x D: the matched gt's id, 0 for none. */
  dtMatches: number[][];
  /** T x G: the matched detection's id, 0 for none. */
  gtMatches: number[][];
  /** T x D, 0/1. */
  dtIgnore: number[][];
}

export interface CocoImageDebug {
  imageId: number;
  /** Row ids: the image's detections sorted by score (stable), at most maxDets. */
  oksDtIds: number[];
  /** Column ids: the image's gts in annotation-list order. */
  oksGtIds: number[];
  /** D x G; [] when the image has no gt or no detection (as pycocotools). */
  oks: number[][];
  /** null when the image has neither gts nor detections. */
  evalImgs: Record<CocoAreaLabel, CocoEvalImage | null>;
}

export interface CocoCategoryDebug {
  categoryId: number;
  /** Every image of gt.images, in increasing id order. */
  images: CocoImageDebug[];
  /** recall[a][t], a over all/medium/large; -1 where the range has no un-ignored gt. */
  recall: number[][];
  /** precision[a][t][r]; -1 where the range has no un-ignored gt. */
  precision: number[][][];
}

export interface CocoEvalDebug {
  iouThrs: number[];
  recThrs: number[];
  areaLabels: CocoAreaLabel[];
  sigmas: number[];
  maxDets: number;
  /** One entry per category of gt.categories, in increasing id order. */
  categories: CocoCategoryDebug[];
}

export interface CocoEvalResult {
  /** AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl (-1 when no un-ignored gt lies in the range). */
  stats: number[];
  statsNames: string[];
  /** The maxDets the stats were computed at. */
  maxDets: number;
  debug?: CocoEvalDebug;
}

// ---------------------------------------------------------------------------------------------------
// Validation helpers. Fields are read only as own properties so that `__proto__`, `constructor` or a
// polluted Object.prototype never supply a value; nothing is ever written under a user-given key.

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function field(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

function missing(o: object, key: string): string {
  return Object.hasOwn(o, key) ? '' : ' (field missing)';
}

function asObject(v: unknown, path: string): object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TypeError(`${FN}: ${path} must be an object, got ${describe(v)}`);
  }
  return v;
}

function asArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new TypeError(`${FN}: ${path} must be an array, got ${describe(v)}`);
  return v;
}

function checkFinite(v: unknown, path: string, suffix = ''): number {
  if (typeof v !== 'number') throw new TypeError(`${FN}: ${path} must be a finite number, got ${describe(v)}${suffix}`);
  if (!Number.isFinite(v)) throw new RangeError(`${FN}: ${path} must be a finite number, got ${v}`);
  return v;
}

function finiteField(o: object, key: string, path: string): number {
  return checkFinite(field(o, key), `${path}.${key}`, missing(o, key));
}

function arrayField(o: object, key: string, path: string): unknown[] {
  const v = field(o, key);
  if (!Array.isArray(v)) {
    throw new TypeError(`${FN}: ${path}.${key} must be an array, got ${describe(v)}${missing(o, key)}`);
  }
  return v;
}

/** A finite-number array of exactly `length` entries, copied into a Float64Array. */
function finiteArrayField(o: object, key: string, path: string, length: number, lengthText: string): Float64Array {
  const arr = arrayField(o, key, path);
  if (arr.length !== length) {
    throw new RangeError(`${FN}: ${path}.${key} must have length ${lengthText}, got ${arr.length}`);
  }
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = checkFinite(arr[i], `${path}.${key}[${i}]`);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// numpy's summation order.

/** numpy's pairwise summation (loops_utils.h pairwise_sum) of a[start .. start+n). */
function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    let r0 = a[start], r1 = a[start + 1], r2 = a[start + 2], r3 = a[start + 3];
    let r4 = a[start + 4], r5 = a[start + 5], r6 = a[start + 6], r7 = a[start + 7];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const b = start + i;
      r0 += a[b]; r1 += a[b + 1]; r2 += a[b + 2]; r3 += a[b + 3];
      r4 += a[b + 4]; r5 += a[b + 5]; r6 += a[b + 6]; r7 += a[b + 7];
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/**
 * np.sum of a contiguous 1-D float64 array: the identity 0 plus one pairwise sum over the whole array
 * (the reduction iterator grows its inner loop, so there is no blocking; checked against numpy up to
 * 30k elements).
 */
function numpySum(a: ArrayLike<number>, n: number): number {
  return 0 + pairwiseSum(a, 0, n);
}

// ---------------------------------------------------------------------------------------------------
// Parsed input.

interface Gt {
  id: number;
  area: number;
  /** iscrowd truthy or num_keypoints == 0. */
  ignore: boolean;
  /** int(iscrowd) != 0: may absorb several detections. */
  crowd: boolean;
  kp: Float64Array;
  labeled: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

interface Dt {
  id: number;
  score: number;
  area: number;
  kp: Float64Array;
}

interface Parsed {
  imgIds: number[];
  catIds: number[];
  K: number;
  /** Per (category, image) slot k*nImg + i: the gts in annotation-list order. */
  gts: (Gt[] | undefined)[];
  /** Per (category, image) slot: the detections in results-list order. */
  dts: (Dt[] | undefined)[];
}

function uniqueSorted(ids: number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

function parseInputs(gtIn: unknown, dtIn: unknown, sigmasOpt: readonly number[] | undefined): Parsed & { sigmas: number[] } {
  const gt = asObject(gtIn, 'gt');
  const images = arrayField(gt, 'images', 'gt');
  const annotations = arrayField(gt, 'annotations', 'gt');
  const categories = arrayField(gt, 'categories', 'gt');

  const rawImg: number[] = [];
  for (let i = 0; i < images.length; i++) {
    rawImg.push(finiteField(asObject(images[i], `gt.images[${i}]`), 'id', `gt.images[${i}]`));
  }
  const imgIds = uniqueSorted(rawImg);
  const imgIndex = new Map<number, number>();
  imgIds.forEach((id, i) => imgIndex.set(id, i));

  if (categories.length === 0) {
    throw new RangeError(`${FN}: gt.categories must list at least one category, got an empty array`);
  }
  const rawCat: number[] = [];
  let K = -1;
  let kFrom = '';
  for (let i = 0; i < categories.length; i++) {
    const path = `gt.categories[${i}]`;
    const c = asObject(categories[i], path);
    rawCat.push(finiteField(c, 'id', path));
    if (Object.hasOwn(c, 'keypoints')) {
      const n = arrayField(c, 'keypoints', path).length;
      if (K === -1) {
        K = n;
        kFrom = `${path}.keypoints`;
      } else if (n !== K) {
        throw new RangeError(`${FN}: ${path}.keypoints must have the same length as ${kFrom} (${K}), got ${n}`);
      }
    }
  }
  const catIds = uniqueSorted(rawCat);
  const catIndex = new Map<number, number>();
  catIds.forEach((id, k) => catIndex.set(id, k));

  let sigmas: number[];
  if (sigmasOpt !== undefined) {
    if (!Array.isArray(sigmasOpt)) throw new TypeError(`${FN}: opts.sigmas must be an array, got ${describe(sigmasOpt)}`);
    if (K !== -1 && sigmasOpt.length !== K) {
      throw new RangeError(`${FN}: opts.sigmas must have length K = ${K} (from ${kFrom}), got ${sigmasOpt.length}`);
    }
    sigmas = sigmasOpt.map((s, i) => {
      const v = checkFinite(s, `opts.sigmas[${i}]`);
      if (!(v > 0)) throw new RangeError(`${FN}: opts.sigmas[${i}] must be > 0, got ${v}`);
      return v;
    });
  } else {
    if (K !== -1 && K !== COCO_KEYPOINT_SIGMAS.length) {
      throw new RangeError(
        `${FN}: opts.sigmas is required when K != ${COCO_KEYPOINT_SIGMAS.length}; ${kFrom} gives K = ${K}`,
      );
    }
    sigmas = [...COCO_KEYPOINT_SIGMAS];
  }
  if (K === -1) K = sigmas.length;
  if (K < 1) throw new RangeError(`${FN}: K (the number of keypoints) must be >= 1, got ${K}`);
  const kpLen = 3 * K;
  const kpText = `3*K = ${kpLen}`;

  const nImg = imgIds.length;
  const gts: (Gt[] | undefined)[] = new Array(nImg * catIds.length);
  const seenGtIds = new Map<number, number>();
  for (let i = 0; i < annotations.length; i++) {
    const path = `gt.annotations[${i}]`;
    const a = asObject(annotations[i], path);
    const id = finiteField(a, 'id', path);
    const prev = seenGtIds.get(id);
    if (prev !== undefined) throw new RangeError(`${FN}: ${path}.id must be unique, got ${id} again (first in gt.annotations[${prev}])`);
    seenGtIds.set(id, i);
    const imageId = finiteField(a, 'image_id', path);
    const ii = imgIndex.get(imageId);
    if (ii === undefined) throw new RangeError(`${FN}: ${path}.image_id must be an id of gt.images, got ${imageId}`);
    const catId = finiteField(a, 'category_id', path);
    const k = catIndex.get(catId);
    if (k === undefined) throw new RangeError(`${FN}: ${path}.category_id must be an id of gt.categories, got ${catId}`);
    const crowdRaw = field(a, 'iscrowd');
    let iscrowd: number;
    if (typeof crowdRaw === 'boolean') iscrowd = crowdRaw ? 1 : 0;
    else iscrowd = checkFinite(crowdRaw, `${path}.iscrowd`, missing(a, 'iscrowd'));
    const numKeypoints = finiteField(a, 'num_keypoints', path);
    const area = finiteField(a, 'area', path);
    if (area < 0) throw new RangeError(`${FN}: ${path}.area must be >= 0, got ${area}`);
    const kp = finiteArrayField(a, 'keypoints', path, kpLen, kpText);
    const bb = finiteArrayField(a, 'bbox', path, 4, '4 ([x, y, w, h])');
    let labeled = 0;
    for (let j = 0; j < K; j++) if (kp[3 * j + 2] > 0) labeled++;
    const g: Gt = {
      id,
      area,
      ignore: numKeypoints === 0 || iscrowd !== 0,
      crowd: Math.trunc(iscrowd) !== 0,
      kp,
      labeled,
      x0: bb[0] - bb[2],
      x1: bb[0] + bb[2] * 2,
      y0: bb[1] - bb[3],
      y1: bb[1] + bb[3] * 2,
    };
    const slot = k * nImg + ii;
    (gts[slot] ??= []).push(g);
  }

  const dtList = asArray(dtIn, 'dt');
  // loadRes picks the area formula from the first result only.
  let bboxArea = false;
  if (dtList.length > 0) {
    const d0 = asObject(dtList[0], 'dt[0]');
    const b0 = field(d0, 'bbox');
    if (Object.hasOwn(d0, 'bbox') && !(Array.isArray(b0) && b0.length === 0)) bboxArea = true;
    else if (Object.hasOwn(d0, 'caption') || Object.hasOwn(d0, 'segmentation')) {
      throw new RangeError(
        `${FN}: dt[0] has a ${Object.hasOwn(d0, 'caption') ? 'caption' : 'segmentation'} field and no bbox, ` +
          'which makes pycocotools loadRes take a caption/mask result branch; expected keypoint results',
      );
    }
  }
  const dts: (Dt[] | undefined)[] = new Array(nImg * catIds.length);
  for (let i = 0; i < dtList.length; i++) {
    const path = `dt[${i}]`;
    const d = asObject(dtList[i], path);
    const imageId = finiteField(d, 'image_id', path);
    const ii = imgIndex.get(imageId);
    if (ii === undefined) {
      throw new RangeError(`${FN}: ${path}.image_id must be an id of gt.images (results must correspond to the gt set), got ${imageId}`);
    }
    const catId = finiteField(d, 'category_id', path);
    const k = catIndex.get(catId);
    if (k === undefined) throw new RangeError(`${FN}: ${path}.category_id must be an id of gt.categories, got ${catId}`);
    const kp = finiteArrayField(d, 'keypoints', path, kpLen, kpText);
    const score = finiteField(d, 'score', path);
    let area: number;
    if (bboxArea) {
      const bb = finiteArrayField(d, 'bbox', path, 4, '4 ([x, y, w, h]) because dt[0] has a bbox');
      area = bb[2] * bb[3];
    } else {
      let minX = kp[0], maxX = kp[0], minY = kp[1], maxY = kp[1];
      for (let j = 1; j < K; j++) {
        const x = kp[3 * j], y = kp[3 * j + 1];
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
      area = (maxX - minX) * (maxY - minY);
    }
    const slot = k * nImg + ii;
    (dts[slot] ??= []).push({ id: i + 1, score, area, kp });
  }
  return { imgIds, catIds, K, gts, dts, sigmas };
}

// ---------------------------------------------------------------------------------------------------
// evaluate()

/** Stable sort by score, highest first (np.argsort(-score, kind='mergesort')), cut to maxDet. */
function sortDts(dts: Dt[], maxDet: number): Dt[] {
  const sorted = dts.slice().sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : 0));
  return sorted.length > maxDet ? sorted.slice(0, maxDet) : sorted;
}

/** computeOks: D x G (rows = sorted detections, columns = gts in annotation order), row-major. */
function computeOks(dts: Dt[], gts: Gt[], vars: Float64Array, K: number, buf: Float64Array): Float64Array {
  const D = dts.length;
  const G = gts.length;
  const out = new Float64Array(D * G);
  for (let j = 0; j < G; j++) {
    const g = gts[j];
    const gk = g.kp;
    const denom = g.area + EPS;
    for (let i = 0; i < D; i++) {
      const dk = dts[i].kp;
      let n = 0;
      if (g.labeled > 0) {
        for (let k = 0; k < K; k++) {
          if (gk[3 * k + 2] > 0) {
            const dx = dk[3 * k] - gk[3 * k];
            const dy = dk[3 * k + 1] - gk[3 * k + 1];
            buf[n++] = Math.exp(-((dx * dx + dy * dy) / vars[k] / denom / 2));
          }
        }
      } else {
        // No labeled keypoint: distance to the gt bbox enlarged by its size on each side.
        for (let k = 0; k < K; k++) {
          const xd = dk[3 * k];
          const yd = dk[3 * k + 1];
          const dx = Math.max(0, g.x0 - xd) + Math.max(0, xd - g.x1);
          const dy = Math.max(0, g.y0 - yd) + Math.max(0, yd - g.y1);
          buf[n++] = Math.exp(-((dx * dx + dy * dy) / vars[k] / denom / 2));
        }
      }
      out[i * G + j] = numpySum(buf, n) / n;
    }
  }
  return out;
}

/** evaluateImg's result for one (image, category, area range), in compact form. */
interface EvalImg {
  /** Gt positions (annotation order) sorted with the ignored ones last. */
  gtOrder: Int32Array;
  gtIgnore: Uint8Array;
  /** T x D, the matched gt id (0 = none). */
  dtMatch: Float64Array;
  /** T x G, the matched detection id (0 = none). */
  gtMatch: Float64Array;
  /** T x D, 0/1. */
  dtIgnore: Uint8Array;
  npig: number;
}

function evaluateImg(dts: Dt[], gts: Gt[], oks: Float64Array | null, lo: number, hi: number, thrs: readonly number[]): EvalImg {
  const G = gts.length;
  const D = dts.length;
  const T = thrs.length;
  const order = new Int32Array(G);
  const gtIgnore = new Uint8Array(G);
  let n = 0;
  for (let j = 0; j < G; j++) {
    const g = gts[j];
    if (!(g.ignore || g.area < lo || g.area > hi)) order[n++] = j;
  }
  const npig = n;
  for (let j = 0; j < G; j++) {
    const g = gts[j];
    if (g.ignore || g.area < lo || g.area > hi) {
      gtIgnore[n] = 1;
      order[n++] = j;
    }
  }
  const dtMatch = new Float64Array(T * D);
  const gtMatch = new Float64Array(T * G);
  const dtIgnore = new Uint8Array(T * D);
  if (oks !== null) {
    for (let t = 0; t < T; t++) {
      const thr = Math.min(thrs[t], 1 - 1e-10);
      for (let d = 0; d < D; d++) {
        let iou = thr;
        let m = -1;
        for (let gi = 0; gi < G; gi++) {
          // A gt already taken at this threshold is skipped unless it is a crowd.
          if (gtMatch[t * G + gi] > 0 && !gts[order[gi]].crowd) continue;
          // Holding a regular gt, stop at the first ignored one.
          if (m > -1 && gtIgnore[m] === 0 && gtIgnore[gi] === 1) break;
          const v = oks[d * G + order[gi]];
          if (v < iou) continue;
          // `>=` above: on equal OKS the later gt wins.
          iou = v;
          m = gi;
        }
        if (m === -1) continue;
        dtIgnore[t * D + d] = gtIgnore[m];
        dtMatch[t * D + d] = gts[order[m]].id;
        gtMatch[t * G + m] = dts[d].id;
      }
    }
  }
  // Unmatched detections outside the area range are ignored.
  for (let d = 0; d < D; d++) {
    const a = dts[d].area;
    if (a < lo || a > hi) {
      for (let t = 0; t < T; t++) if (dtMatch[t * D + d] === 0) dtIgnore[t * D + d] = 1;
    }
  }
  return { gtOrder: order, gtIgnore, dtMatch, gtMatch, dtIgnore, npig };
}

// ---------------------------------------------------------------------------------------------------
// accumulate()

interface ImageEval {
  dts: Dt[];
  gts: Gt[];
  oks: Float64Array | null;
  /** Per area range. */
  evals: EvalImg[];
}

/**
 * Fills precision[a][t][r] and recall[a][t] (flat, a-major) for one category from its per-image results
 * (images in increasing id order, those with neither gts nor detections left out).
 */
function accumulate(
  images: ImageEval[],
  nArea: number,
  thrs: readonly number[],
  recThrs: readonly number[],
  precision: Float64Array,
  recall: Float64Array,
  pOff: number,
  rOff: number,
): void {
  const T = thrs.length;
  const R = recThrs.length;
  if (images.length === 0) return;
  let N = 0;
  for (const im of images) N += im.dts.length;
  const scores = new Float64Array(N);
  let off = 0;
  for (const im of images) for (const d of im.dts) scores[off++] = d.score;
  // Concatenated in image-id order, then a stable sort: ties keep image order, then rank in the image.
  // The order is the same in every area range (each range sees the same images and detections).
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) =>
    scores[a] > scores[b] ? -1 : scores[a] < scores[b] ? 1 : 0,
  );
  const matched = new Uint8Array(T * N);
  const ignored = new Uint8Array(T * N);
  const rc = new Float64Array(N);
  const pr = new Float64Array(N);
  for (let a = 0; a < nArea; a++) {
    let npig = 0;
    off = 0;
    for (const im of images) {
      const e = im.evals[a];
      npig += e.npig;
      const D = im.dts.length;
      for (let t = 0; t < T; t++) {
        for (let d = 0; d < D; d++) {
          matched[t * N + off + d] = e.dtMatch[t * D + d] !== 0 ? 1 : 0;
          ignored[t * N + off + d] = e.dtIgnore[t * D + d];
        }
      }
      off += D;
    }
    if (npig === 0) continue;
    for (let t = 0; t < T; t++) {
      let tp = 0;
      let fp = 0;
      for (let j = 0; j < N; j++) {
        const p = order[j];
        if (ignored[t * N + p] === 0) {
          if (matched[t * N + p] !== 0) tp++;
          else fp++;
        }
        rc[j] = tp / npig;
        pr[j] = tp / (fp + tp + EPS);
      }
      recall[rOff + a * T + t] = N > 0 ? rc[N - 1] : 0;
      for (let i = N - 1; i > 0; i--) if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
      // np.searchsorted(rc, recThrs, side='left'); precision 0 past the last detection.
      const base = pOff + (a * T + t) * R;
      let i = 0;
      for (let r = 0; r < R; r++) {
        while (i < N && rc[i] < recThrs[r]) i++;
        precision[base + r] = i < N ? pr[i] : 0;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// summarize()

function summarizeStat(
  values: Float64Array,
  nCat: number,
  nArea: number,
  T: number,
  R: number,
  area: number,
  iouThr: number | null,
  ap: boolean,
  thrs: readonly number[],
): number {
  const ts: number[] = [];
  for (let t = 0; t < T; t++) if (iouThr === null || thrs[t] === iouThr) ts.push(t);
  const sel: number[] = [];
  // The C order of precision[t, r, k] / recall[t, k] after pycocotools' indexing.
  for (const t of ts) {
    if (ap) {
      for (let r = 0; r < R; r++) {
        for (let k = 0; k < nCat; k++) {
          const v = values[((k * nArea + area) * T + t) * R + r];
          if (v > -1) sel.push(v);
        }
      }
    } else {
      for (let k = 0; k < nCat; k++) {
        const v = values[(k * nArea + area) * T + t];
        if (v > -1) sel.push(v);
      }
    }
  }
  return sel.length === 0 ? -1 : numpySum(sel, sel.length) / sel.length;
}

// ---------------------------------------------------------------------------------------------------

function toRows(flat: ArrayLike<number>, rows: number, cols: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < rows; i++) out.push(Array.from({ length: cols }, (_, j) => flat[i * cols + j]));
  return out;
}

function debugEvalImg(dts: Dt[], gts: Gt[], e: EvalImg, T: number): CocoEvalImage {
  const D = dts.length;
  const G = gts.length;
  return {
    dtIds: dts.map((d) => d.id),
    gtIds: Array.from(e.gtOrder, (j) => gts[j].id),
    dtScores: dts.map((d) => d.score),
    gtIgnore: Array.from(e.gtIgnore),
    dtMatches: toRows(e.dtMatch, T, D),
    gtMatches: toRows(e.gtMatch, T, G),
    dtIgnore: toRows(e.dtIgnore, T, D),
  };
}

/**
 * COCO keypoint evaluation, exactly as pycocotools `COCOeval(gt, dt, 'keypoints')` evaluate() +
 * accumulate() + summarize() (see the module comment for the few deliberate differences).
 *
 * @param gt a COCO keypoint ground-truth dataset (images, annotations, categories).
 * @param dt a COCO results list; detection ids are the 1-based index in this list, as loadRes assigns.
 * @returns the 10 stats (AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl), and with `debug`, the
 *   per-image OKS matrices, evalImgs and the accumulated recall/precision.
 */
export function evaluateCocoKeypoints(
  gt: CocoKeypointGt,
  dt: readonly CocoKeypointResult[],
  opts: CocoEvalOptions = {},
): CocoEvalResult {
  const o = asObject(opts, 'opts');
  const maxDetsRaw = field(o, 'maxDets');
  let maxDet = 20;
  if (maxDetsRaw !== undefined) {
    maxDet = checkFinite(maxDetsRaw, 'opts.maxDets');
    if (!Number.isInteger(maxDet) || maxDet < 1) throw new RangeError(`${FN}: opts.maxDets must be an integer >= 1, got ${maxDet}`);
  }
  const debugRaw = field(o, 'debug');
  if (debugRaw !== undefined && typeof debugRaw !== 'boolean') {
    throw new TypeError(`${FN}: opts.debug must be a boolean, got ${describe(debugRaw)}`);
  }
  const wantDebug = debugRaw === true;
  const sigmasRaw = field(o, 'sigmas');
  if (sigmasRaw !== undefined && !Array.isArray(sigmasRaw)) {
    throw new TypeError(`${FN}: opts.sigmas must be an array, got ${describe(sigmasRaw)}`);
  }

  const P = parseInputs(gt, dt, sigmasRaw as number[] | undefined);
  const { imgIds, catIds, K } = P;
  const thrs = COCO_IOU_THRESHOLDS;
  const recThrs = COCO_RECALL_THRESHOLDS;
  const areas = COCO_KEYPOINT_AREA_RANGES;
  const T = thrs.length;
  const R = recThrs.length;
  const A = areas.length;
  const nImg = imgIds.length;
  const nCat = catIds.length;
  const vars = Float64Array.from(P.sigmas, (s) => (s * 2) * (s * 2));
  const buf = new Float64Array(K);

  const precision = new Float64Array(nCat * A * T * R).fill(-1);
  const recall = new Float64Array(nCat * A * T).fill(-1);
  const catDebug: CocoCategoryDebug[] = [];

  for (let k = 0; k < nCat; k++) {
    const images: ImageEval[] = [];
    const imgDebug: CocoImageDebug[] = [];
    for (let i = 0; i < nImg; i++) {
      const slot = k * nImg + i;
      const gts = P.gts[slot] ?? [];
      const dtsAll = P.dts[slot];
      const dts = dtsAll === undefined ? [] : sortDts(dtsAll, maxDet);
      const oks = gts.length > 0 && dts.length > 0 ? computeOks(dts, gts, vars, K, buf) : null;
      let im: ImageEval | null = null;
      if (gts.length > 0 || dts.length > 0) {
        im = { dts, gts, oks, evals: areas.map((ar) => evaluateImg(dts, gts, oks, ar.lo, ar.hi, thrs)) };
        images.push(im);
      }
      if (wantDebug) {
        const ev = {} as Record<CocoAreaLabel, CocoEvalImage | null>;
        areas.forEach((ar, a) => {
          ev[ar.label] = im === null ? null : debugEvalImg(dts, gts, im.evals[a], T);
        });
        imgDebug.push({
          imageId: imgIds[i],
          oksDtIds: dts.map((d) => d.id),
          oksGtIds: gts.map((g) => g.id),
          oks: oks === null ? [] : toRows(oks, dts.length, gts.length),
          evalImgs: ev,
        });
      }
    }
    accumulate(images, A, thrs, recThrs, precision, recall, k * A * T * R, k * A * T);
    if (wantDebug) {
      const rec: number[][] = [];
      const prec: number[][][] = [];
      for (let a = 0; a < A; a++) {
        rec.push(Array.from(recall.subarray((k * A + a) * T, (k * A + a + 1) * T)));
        prec.push(toRows(precision.subarray((k * A + a) * T * R, (k * A + a + 1) * T * R), T, R));
      }
      catDebug.push({ categoryId: catIds[k], images: imgDebug, recall: rec, precision: prec });
    }
  }

  const iAll = 0;
  const iMed = 1;
  const iLarge = 2;
  const st = (ap: boolean, area: number, thr: number | null): number =>
    summarizeStat(ap ? precision : recall, nCat, A, T, R, area, thr, ap, thrs);
  const stats = [
    st(true, iAll, null),
    st(true, iAll, 0.5),
    st(true, iAll, 0.75),
    st(true, iMed, null),
    st(true, iLarge, null),
    st(false, iAll, null),
    st(false, iAll, 0.5),
    st(false, iAll, 0.75),
    st(false, iMed, null),
    st(false, iLarge, null),
  ];
  const result: CocoEvalResult = { stats, statsNames: [...COCO_STATS_NAMES], maxDets: maxDet };
  if (wantDebug) {
    result.debug = {
      iouThrs: [...thrs],
      recThrs: [...recThrs],
      areaLabels: areas.map((a) => a.label),
      sigmas: [...P.sigmas],
      maxDets: maxDet,
      categories: catDebug,
    };
  }
  return result;
}

/** Python's '{:0.3f}' (round half to even on the exact binary value; toFixed rounds ties up). */
function formatFixed3(x: number): string {
  // A double lies exactly halfway between two 3-decimal numbers only when x*16 is an odd integer.
  const x16 = x * 16;
  if (Number.isInteger(x16) && Math.abs(x16) % 2 === 1) {
    const lo = Math.floor(x * 1000);
    const n = lo % 2 === 0 ? lo : lo + 1;
    return (n / 1000).toFixed(3);
  }
  return x.toFixed(3);
}

/** The 10 summary lines pycocotools' summarize() prints for keypoints. */
export function formatCocoStats(result: CocoEvalResult): string {
  const maxDets = result.maxDets;
  const lines: string[] = [];
  const areaOf = ['all', 'all', 'all', 'medium', 'large'];
  const iouOf = ['0.50:0.95', '0.50', '0.75', '0.50:0.95', '0.50:0.95'];
  for (let i = 0; i < 10; i++) {
    const ap = i < 5;
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const type = ap ? '(AP)' : '(AR)';
    lines.push(
      ` ${title} ${type} @[ IoU=${iouOf[i % 5].padEnd(9)} | area=${areaOf[i % 5].padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${formatFixed3(result.stats[i])}`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Parity against a golden file of the coco_eval_public.json schema.

export interface CocoParityQuantity {
  name: string;
  /** Absolute error (max abs error for arrays; for evalImgs, the number of mismatching entries). */
  error: number;
  tolerance: number;
  ok: boolean;
}

export interface CocoParityCase {
  name: string;
  quantities: CocoParityQuantity[];
  ok: boolean;
  /** Set when the case could not be read or evaluated. */
  error?: string;
}

export interface CocoParityReport {
  cases: CocoParityCase[];
  ok: boolean;
}

/** Max abs difference of two nested number arrays; Infinity when their shapes differ. */
function maxAbsDiff(got: unknown, want: unknown): number {
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) return Infinity;
    let m = 0;
    for (let i = 0; i < want.length; i++) {
      const e = maxAbsDiff(got[i], want[i]);
      if (!(e <= m)) m = e;
    }
    return m;
  }
  if (typeof want !== 'number' || typeof got !== 'number') return Infinity;
  if (got === want) return 0;
  const e = Math.abs(got - want);
  return Number.isNaN(e) ? Infinity : e;
}

const EVAL_IMG_FIELDS = ['dtIds', 'gtIds', 'dtScores', 'gtIgnore', 'dtMatches', 'gtMatches', 'dtIgnore'] as const;

function evalImgMatches(got: CocoEvalImage | null | undefined, want: unknown): boolean {
  if (want === null || want === undefined) return got === null || got === undefined;
  if (got === null || got === undefined || typeof want !== 'object' || Array.isArray(want)) return false;
  for (const f of EVAL_IMG_FIELDS) {
    if (maxAbsDiff(got[f], field(want, f)) !== 0) return false;
  }
  return true;
}

function parityCase(c: unknown, index: number, tolerance: number): CocoParityCase {
  let name = `case ${index}`;
  const quantities: CocoParityQuantity[] = [];
  const push = (qname: string, error: number, tol: number): void => {
    quantities.push({ name: qname, error, tolerance: tol, ok: error <= tol });
  };
  try {
    const co = asObject(c, `json[${index}]`);
    const n = field(co, 'name');
    if (typeof n === 'string') name = n;
    const expected = asObject(field(co, 'expected'), `json[${index}].expected`);
    const want = arrayField(expected, 'stats', `json[${index}].expected`);
    if (want.length !== COCO_STATS_NAMES.length) {
      throw new RangeError(`parityCocoFile: json[${index}].expected.stats must have length 10, got ${want.length}`);
    }
    const dbg = field(expected, 'debug');
    const sigmas = field(co, 'sigmas');
    const res = evaluateCocoKeypoints(field(co, 'gt') as CocoKeypointGt, field(co, 'dt') as CocoKeypointResult[], {
      debug: dbg !== undefined,
      ...(sigmas === undefined ? {} : { sigmas: sigmas as number[] }),
    });
    COCO_STATS_NAMES.forEach((s, i) => push(s, maxAbsDiff(res.stats[i], want[i]), tolerance));
    if (dbg !== undefined) {
      const d = asObject(dbg, `json[${index}].expected.debug`);
      const cat = res.debug?.categories[0];
      const mine = new Map<number, CocoImageDebug>();
      for (const im of cat?.images ?? []) mine.set(im.imageId, im);
      const wantImages = field(d, 'images');
      let oksErr = 0;
      let evalMismatch = 0;
      if (!Array.isArray(wantImages)) {
        oksErr = Infinity;
        evalMismatch = Infinity;
      } else {
        for (const wi of wantImages) {
          const w = typeof wi === 'object' && wi !== null ? wi : {};
          const g = mine.get(field(w, 'image_id') as number);
          if (g === undefined) {
            oksErr = Infinity;
            evalMismatch++;
            continue;
          }
          const idErr = Math.max(maxAbsDiff(g.oksDtIds, field(w, 'oks_dt_ids')), maxAbsDiff(g.oksGtIds, field(w, 'oks_gt_ids')));
          const e = idErr === 0 ? maxAbsDiff(g.oks, field(w, 'oks')) : Infinity;
          if (!(e <= oksErr)) oksErr = e;
          const we = field(w, 'evalImgs');
          for (const label of ['all', 'medium', 'large'] as const) {
            const wv = typeof we === 'object' && we !== null ? field(we, label) : undefined;
            if (!evalImgMatches(g.evalImgs[label], wv)) evalMismatch++;
          }
        }
      }
      push('oks', oksErr, tolerance);
      push('evalImgs', evalMismatch, 0);
      push('recall', maxAbsDiff(cat?.recall, field(d, 'recall')), tolerance);
      push('precision', maxAbsDiff(cat?.precision, field(d, 'precision')), tolerance);
    }
    return { name, quantities, ok: quantities.every((q) => q.ok) };
  } catch (err) {
    return { name, quantities, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Runs every case of a golden file of the coco_eval_public.json schema (a list of
 * {name, gt, dt, sigmas?, expected: {stats, debug?}}; `sigmas` is passed as opts.sigmas) and reports, per case, the absolute error of each stat and,
 * for cases with `expected.debug`, the max abs error of oks/recall/precision and the number of
 * mismatching evalImgs entries (tolerance 0). Pure: no I/O, no logging.
 */
export function parityCocoFile(json: unknown, tolerance = 1e-6): CocoParityReport {
  if (!Array.isArray(json)) throw new TypeError(`parityCocoFile: json must be an array of cases, got ${describe(json)}`);
  if (typeof tolerance !== 'number' || !(tolerance >= 0)) {
    throw new RangeError(`parityCocoFile: tolerance must be a number >= 0, got ${describe(tolerance)}`);
  }
  const cases = json.map((c, i) => parityCase(c, i, tolerance));
  return { cases, ok: cases.length > 0 && cases.every((c) => c.ok) };
}
