// SPDX-License-Identifier: MIT
/**
 * COCO keypoint annotations → one sample per person, validated the way a user's own file needs: every problem
 * is reported with its JSON path, annotations that the pipeline cannot use are skipped and counted by reason,
 * boxes reaching outside the image are clipped and counted. K comes from the keypoint category's names
 * (COCO 17, MPII 16, anything else). Only own properties are read and ids go into Maps, so keys such as
 * `__proto__` or `constructor` in the file are plain data and can pollute nothing.
 *
 * Runtime-agnostic except loadCocoDataset, which imports node:fs lazily.
 */
import { decodeImage, type RgbImage, type DecodeOptions } from './image.js';

export type CocoId = number | string;

export interface CocoImageInfo {
  id: CocoId;
  file_name: string;
  width: number;
  height: number;
}

/** One person annotation. */
export interface KeypointSample {
  annId: CocoId;
  imageId: CocoId;
  /** The image's file_name. */
  file: string;
  imageWidth: number;
  imageHeight: number;
  /** [x, y, w, h], clipped to the image [0, width] × [0, height]. */
  bbox: [number, number, number, number];
  /** [K, 3] flattened: x, y, v (0 unlabelled, 1 labelled but occluded, 2 visible). */
  keypoints: Float32Array;
  /** The annotation's area (segment area in COCO; the box area when missing). Used by OKS. */
  area: number;
  /** Labelled joints (v > 0), recounted from the keypoints. */
  numKeypoints: number;
}

export interface SkipCount {
  reason: string;
  count: number;
}

export interface CocoKeypointsData {
  images: Map<CocoId, CocoImageInfo>;
  samples: KeypointSample[];
  categoryId: CocoId;
  keypointNames: string[];
  /** Left/right pairs (0-based) from names 'left_*' / 'right_*' (also 'l_*' / 'r_*', any case); [] if none. */
  flipPairs: [number, number][];
  /** Limbs as 0-based joint pairs (COCO files store them 1-based). */
  skeleton: [number, number][];
  /** Annotations skipped, by reason, in order of first occurrence. */
  skipped: SkipCount[];
  /** Boxes clipped to their image. */
  clipped: number;
}

export interface LoadCocoOptions {
  /** Expected K; a RangeError if the category's names say otherwise. */
  numKeypoints?: number;
  /** Minimum labelled joints (v > 0) for a sample (default 1). */
  requireVisible?: number;
  /** The keypoint category to use when the file has several. */
  categoryId?: CocoId;
  /**
   * What to do with malformed annotations (missing fields, wrong lengths, non-finite numbers, unknown image
   * ids): 'throw' (default) lists them all in one error; 'skip' counts them under 'invalid annotation: …'.
   */
  invalid?: 'throw' | 'skip';
}

/** Skip reasons (the `reason` strings of `skipped`). */
export const SKIP_REASONS = Object.freeze({
  crowd: 'iscrowd',
  otherCategory: 'other category',
  zeroArea: 'zero-area box (after clipping to the image)',
  noKeypoints: 'no labelled keypoint',
  fewKeypoints: (n: number) => `fewer than ${n} labelled keypoints`,
  missingImage: 'image file missing',
});

interface Issue { path: string; kind: 'type' | 'range'; problem: string; got?: string }

/** A TypeError or RangeError (by the first problem's kind) listing every problem found, with `issues` attached. */
export type CocoFormatError = (TypeError | RangeError) & { issues: readonly string[] };

function cocoFormatError(op: string, issues: Issue[], hint = ''): CocoFormatError {
  const shown = issues.slice(0, 5).map(formatIssue).join('; ');
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  const msg = `${op}: ${issues.length === 1 ? '1 problem' : `${issues.length} problems`}: ${shown}${more}${hint}`;
  const e = (issues[0]?.kind === 'type' ? new TypeError(msg) : new RangeError(msg)) as CocoFormatError;
  e.issues = issues.map(formatIssue);
  return e;
}

function formatIssue(i: Issue): string {
  return `${i.path}: ${i.problem}${i.got !== undefined ? `, got ${i.got}` : ''}`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object') return 'an object';
  return typeof v;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property or undefined (never an inherited one). */
function own(o: Record<string, unknown>, k: string): unknown {
  return hasOwn(o, k) ? o[k] : undefined;
}

function isId(v: unknown): v is CocoId {
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length > 0);
}

function leftRightKey(name: string): [side: 'l' | 'r', rest: string] | null {
  const m = /^(left|right)[_\-\s.]?(.+)$/i.exec(name) ?? /^(l|r)[_\-\s.](.+)$/i.exec(name);
  if (!m) return null;
  return [m[1][0].toLowerCase() as 'l' | 'r', m[2].toLowerCase()];
}

/** Left/right pairs from joint names (first left index, then right). */
export function flipPairsFromNames(names: readonly string[]): [number, number][] {
  const left = new Map<string, number>(), right = new Map<string, number>();
  names.forEach((n, i) => {
    const lr = leftRightKey(n);
    if (lr) (lr[0] === 'l' ? left : right).set(lr[1], i);
  });
  const pairs: [number, number][] = [];
  for (const [rest, li] of left) {
    const ri = right.get(rest);
    if (ri !== undefined) pairs.push([li, ri]);
  }
  return pairs.sort((a, b) => Math.min(a[0], a[1]) - Math.min(b[0], b[1]));
}

const OP = 'loadCocoKeypoints';

function pickCategory(cats: unknown, opts: LoadCocoOptions, issues: Issue[]): { id: CocoId; names: string[]; skeleton: [number, number][] } | null {
  if (!Array.isArray(cats)) { issues.push({ path: 'categories', kind: 'type', problem: 'expected an array', got: describe(cats) }); return null; }
  const withKps: { idx: number; c: Record<string, unknown> }[] = [];
  cats.forEach((c, idx) => {
    if (!isRecord(c)) { issues.push({ path: `categories[${idx}]`, kind: 'type', problem: 'expected an object', got: describe(c) }); return; }
    if (!isId(own(c, 'id'))) issues.push({ path: `categories[${idx}].id`, kind: 'type', problem: 'expected a number or string', got: describe(own(c, 'id')) });
    else if (own(c, 'keypoints') !== undefined) withKps.push({ idx, c });
  });
  if (issues.length) return null;
  let chosen: { idx: number; c: Record<string, unknown> } | undefined;
  if (opts.categoryId !== undefined) {
    chosen = withKps.find((x) => own(x.c, 'id') === opts.categoryId);
    if (!chosen) { issues.push({ path: 'categories', kind: 'range', problem: `no keypoint category with id ${JSON.stringify(opts.categoryId)}`, got: `ids [${withKps.map((x) => JSON.stringify(own(x.c, 'id'))).join(', ')}]` }); return null; }
  } else if (withKps.length === 0) {
    issues.push({ path: 'categories', kind: 'range', problem: 'no category has keypoint names (categories[].keypoints)' });
    return null;
  } else if (withKps.length > 1) {
    issues.push({ path: 'categories', kind: 'range', problem: `${withKps.length} categories have keypoints; pass {categoryId} to choose`, got: `ids [${withKps.map((x) => JSON.stringify(own(x.c, 'id'))).join(', ')}]` });
    return null;
  } else chosen = withKps[0];
  const base = `categories[${chosen.idx}]`;
  const kp = own(chosen.c, 'keypoints');
  if (!Array.isArray(kp) || kp.length === 0) { issues.push({ path: `${base}.keypoints`, kind: 'type', problem: 'expected a non-empty array of joint names', got: describe(kp) }); return null; }
  const names: string[] = [];
  const seen = new Set<string>();
  kp.forEach((n, i) => {
    if (typeof n !== 'string' || n.length === 0) issues.push({ path: `${base}.keypoints[${i}]`, kind: 'type', problem: 'expected a joint name', got: describe(n) });
    else if (seen.has(n)) issues.push({ path: `${base}.keypoints[${i}]`, kind: 'range', problem: `duplicate joint name ${JSON.stringify(n)}` });
    else { seen.add(n); names.push(n); }
  });
  if (issues.length) return null;
  const K = names.length;
  if (opts.numKeypoints !== undefined && opts.numKeypoints !== K) {
    issues.push({ path: `${base}.keypoints`, kind: 'range', problem: `expected ${opts.numKeypoints} joint names (numKeypoints)`, got: String(K) });
    return null;
  }
  const skeleton: [number, number][] = [];
  const sk = own(chosen.c, 'skeleton');
  if (sk !== undefined) {
    if (!Array.isArray(sk)) issues.push({ path: `${base}.skeleton`, kind: 'type', problem: 'expected an array of 1-based joint pairs', got: describe(sk) });
    else sk.forEach((p, i) => {
      if (!Array.isArray(p) || p.length !== 2 || !p.every((j) => Number.isInteger(j) && j >= 1 && j <= K)) {
        issues.push({ path: `${base}.skeleton[${i}]`, kind: 'range', problem: `expected a pair of 1-based joint indices in 1..${K}`, got: Array.isArray(p) ? JSON.stringify(p) : describe(p) });
      } else skeleton.push([p[0] - 1, p[1] - 1]);
    });
  }
  if (issues.length) return null;
  return { id: own(chosen.c, 'id') as CocoId, names, skeleton };
}

function readImages(imgs: unknown, issues: Issue[]): Map<CocoId, CocoImageInfo> {
  const images = new Map<CocoId, CocoImageInfo>();
  const seen = new Set<CocoId>();
  if (!Array.isArray(imgs)) { issues.push({ path: 'images', kind: 'type', problem: 'expected an array', got: describe(imgs) }); return images; }
  imgs.forEach((im, i) => {
    const p = `images[${i}]`;
    if (!isRecord(im)) { issues.push({ path: p, kind: 'type', problem: 'expected an object', got: describe(im) }); return; }
    const id = own(im, 'id'), file = own(im, 'file_name'), w = own(im, 'width'), h = own(im, 'height');
    let ok = true;
    if (!isId(id)) { issues.push({ path: `${p}.id`, kind: 'type', problem: 'expected a number or string', got: describe(id) }); ok = false; }
    if (typeof file !== 'string' || file.length === 0) { issues.push({ path: `${p}.file_name`, kind: 'type', problem: 'expected a non-empty string', got: describe(file) }); ok = false; }
    for (const [k, v] of [['width', w], ['height', h]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        issues.push({ path: `${p}.${k}`, kind: typeof v === 'number' ? 'range' : 'type', problem: 'expected a positive finite number', got: describe(v) });
        ok = false;
      }
    }
    if (isId(id)) {
      if (seen.has(id)) { issues.push({ path: `${p}.id`, kind: 'range', problem: `duplicate image id ${JSON.stringify(id)}` }); ok = false; }
      seen.add(id);
    }
    if (!ok) return;
    images.set(id as CocoId, { id: id as CocoId, file_name: file as string, width: w as number, height: h as number });
  });
  return images;
}

/**
 * Reads a parsed COCO keypoint file (an object with images, annotations and categories). Structural problems
 * (missing arrays, bad images or categories) always throw a CocoFormatError (a TypeError or RangeError by the
 * first problem's kind) listing every problem with its path; malformed annotations throw too unless
 * `invalid: 'skip'`. Crowd annotations, other categories, zero-area boxes and people with too few labelled
 * joints are skipped and counted.
 */
export function loadCocoKeypoints(json: unknown, opts: LoadCocoOptions = {}): CocoKeypointsData {
  const requireVisible = opts.requireVisible ?? 1;
  if (!Number.isInteger(requireVisible) || requireVisible < 0) throw new RangeError(`${OP}: requireVisible must be an integer ≥ 0, got ${requireVisible}`);
  if (opts.invalid !== undefined && opts.invalid !== 'throw' && opts.invalid !== 'skip') throw new TypeError(`${OP}: invalid must be 'throw' or 'skip', got ${describe(opts.invalid)}`);
  if (!isRecord(json)) throw new TypeError(`${OP}: expected a COCO object with images, annotations and categories, got ${describe(json)}`);
  const issues: Issue[] = [];
  const images = readImages(own(json, 'images'), issues);
  const cat = pickCategory(own(json, 'categories'), opts, issues);
  const anns = own(json, 'annotations');
  if (!Array.isArray(anns)) issues.push({ path: 'annotations', kind: 'type', problem: 'expected an array', got: describe(anns) });
  if (issues.length || !cat || !Array.isArray(anns)) throw cocoFormatError(OP, issues);

  const K = cat.names.length;
  const samples: KeypointSample[] = [];
  const skipped = new Map<string, number>();
  const skip = (r: string) => skipped.set(r, (skipped.get(r) ?? 0) + 1);
  const annIssues: Issue[] = [];
  const annIds = new Set<CocoId>();
  let clipped = 0;
  const fewReason = requireVisible <= 1 ? SKIP_REASONS.noKeypoints : SKIP_REASONS.fewKeypoints(requireVisible);

  for (let i = 0; i < anns.length; i++) {
    const a = anns[i];
    const p = `annotations[${i}]`;
    const bad: Issue[] = [];
    if (!isRecord(a)) {
      bad.push({ path: p, kind: 'type', problem: 'expected an object', got: describe(a) });
    } else {
      const id = own(a, 'id'), imageId = own(a, 'image_id'), bbox = own(a, 'bbox'), kps = own(a, 'keypoints');
      const catId = own(a, 'category_id'), crowd = own(a, 'iscrowd'), area = own(a, 'area');
      if (!isId(id)) bad.push({ path: `${p}.id`, kind: 'type', problem: 'expected a number or string', got: describe(id) });
      else if (annIds.has(id)) bad.push({ path: `${p}.id`, kind: 'range', problem: `duplicate annotation id ${JSON.stringify(id)}` });
      if (!isId(imageId)) bad.push({ path: `${p}.image_id`, kind: 'type', problem: 'expected a number or string', got: describe(imageId) });
      else if (!images.has(imageId)) bad.push({ path: `${p}.image_id`, kind: 'range', problem: 'unknown image id', got: JSON.stringify(imageId) });
      if (catId !== undefined && !isId(catId)) bad.push({ path: `${p}.category_id`, kind: 'type', problem: 'expected a number or string', got: describe(catId) });
      else if (catId !== undefined && catId !== cat.id && bad.length === 0) {
        // another category (a dog, a car): its fields are not ours to check
        annIds.add(id as CocoId);
        skip(SKIP_REASONS.otherCategory);
        continue;
      }
      if (!Array.isArray(bbox) || bbox.length !== 4) bad.push({ path: `${p}.bbox`, kind: Array.isArray(bbox) ? 'range' : 'type', problem: 'expected [x, y, w, h]', got: describe(bbox) });
      else if (!bbox.every((v) => typeof v === 'number' && Number.isFinite(v))) bad.push({ path: `${p}.bbox`, kind: 'range', problem: 'expected 4 finite numbers', got: JSON.stringify(bbox) });
      else if (bbox[2] < 0 || bbox[3] < 0) bad.push({ path: `${p}.bbox`, kind: 'range', problem: 'width and height must be ≥ 0', got: JSON.stringify(bbox) });
      if (!Array.isArray(kps)) bad.push({ path: `${p}.keypoints`, kind: 'type', problem: `expected an array of ${K * 3} numbers (${K} keypoints × 3)`, got: describe(kps) });
      else if (kps.length !== K * 3) bad.push({ path: `${p}.keypoints`, kind: 'range', problem: `expected ${K * 3} numbers (${K} keypoints × 3)`, got: String(kps.length) });
      else {
        const at = kps.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
        if (at >= 0) bad.push({ path: `${p}.keypoints[${at}]`, kind: 'range', problem: 'expected a finite number', got: describe(kps[at]) });
        else {
          const vAt = kps.findIndex((v, j) => j % 3 === 2 && v !== 0 && v !== 1 && v !== 2);
          if (vAt >= 0) bad.push({ path: `${p}.keypoints[${vAt}]`, kind: 'range', problem: 'visibility must be 0, 1 or 2', got: String(kps[vAt]) });
        }
      }
      if (crowd !== undefined && crowd !== 0 && crowd !== 1 && crowd !== true && crowd !== false) bad.push({ path: `${p}.iscrowd`, kind: 'range', problem: 'expected 0 or 1', got: describe(crowd) });
      if (area !== undefined && (typeof area !== 'number' || !Number.isFinite(area) || area < 0)) bad.push({ path: `${p}.area`, kind: 'range', problem: 'expected a finite number ≥ 0', got: describe(area) });

      if (bad.length === 0) {
        annIds.add(id as CocoId);
        if (crowd === 1 || crowd === true) { skip(SKIP_REASONS.crowd); continue; }
        const im = images.get(imageId as CocoId)!;
        const [bx, by, bw, bh] = bbox as number[];
        const x0 = Math.max(0, bx), y0 = Math.max(0, by);
        const x1 = Math.min(im.width, bx + bw), y1 = Math.min(im.height, by + bh);
        if (!(x1 > x0 && y1 > y0)) { skip(SKIP_REASONS.zeroArea); continue; }
        const kp = Float32Array.from(kps as number[]);
        let nk = 0;
        for (let k = 0; k < K; k++) if (kp[3 * k + 2] > 0) nk++;
        if (nk < Math.max(1, requireVisible)) { skip(fewReason); continue; }
        if (x0 !== bx || y0 !== by || x1 !== bx + bw || y1 !== by + bh) clipped++;
        samples.push({
          annId: id as CocoId, imageId: imageId as CocoId, file: im.file_name, imageWidth: im.width, imageHeight: im.height,
          bbox: [x0, y0, x1 - x0, y1 - y0], keypoints: kp, area: area === undefined ? bw * bh : (area as number), numKeypoints: nk,
        });
        continue;
      }
    }
    if (opts.invalid === 'skip') skip(`invalid annotation: ${bad[0].problem}`);
    else annIssues.push(...bad);
  }
  if (annIssues.length) {
    throw cocoFormatError(OP, annIssues, " (pass {invalid: 'skip'} to skip malformed annotations)");
  }
  return {
    images, samples, categoryId: cat.id, keypointNames: cat.names, flipPairs: flipPairsFromNames(cat.names), skeleton: cat.skeleton,
    skipped: [...skipped].map(([reason, count]) => ({ reason, count })), clipped,
  };
}

export interface LoadCocoDatasetOptions extends LoadCocoOptions {
  /** Annotations whose image file is absent: 'throw' (default, listing the first few) or 'skip' (counted). */
  missingImages?: 'throw' | 'skip';
  /** Passed to decodeImage by readImage. */
  decode?: DecodeOptions;
}

export interface CocoDataset extends CocoKeypointsData {
  imageDir: string;
  /** Files referenced by annotations but absent (only with missingImages: 'skip'). */
  missingFiles: string[];
  /** Reads and decodes one image of this dataset (an image provider for TopDownDataset). */
  readImage: (file: string) => Promise<RgbImage>;
}

/**
 * Node: reads and validates `annFile`, then checks that every image referenced by a sample exists under
 * `imageDir` (file names may not escape it). Missing files throw, listing the first five, unless
 * `missingImages: 'skip'`, which drops their samples and counts them as 'image file missing'.
 */
export async function loadCocoDataset(annFile: string, imageDir: string, opts: LoadCocoDatasetOptions = {}): Promise<CocoDataset> {
  const op = 'loadCocoDataset';
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let text: string;
  try { text = await fs.readFile(annFile, 'utf8'); } catch (e) { throw new Error(`${op}: cannot read ${annFile}: ${(e as Error).message}`); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new Error(`${op}: ${annFile} is not valid JSON: ${(e as Error).message}`); }
  const data = loadCocoKeypoints(json, opts);
  const root = path.resolve(imageDir);
  const resolveFile = (file: string): string => {
    const full = path.resolve(root, file);
    const rel = path.relative(root, full);
    if (path.isAbsolute(file) || rel.startsWith('..') || path.isAbsolute(rel)) throw new RangeError(`${op}: image file_name ${JSON.stringify(file)} is outside imageDir`);
    return full;
  };
  const files = [...new Set(data.samples.map((s) => s.file))];
  const missing = new Set<string>();
  const CONCURRENCY = 32;
  for (let i = 0; i < files.length; i += CONCURRENCY) {
    await Promise.all(files.slice(i, i + CONCURRENCY).map(async (f) => {
      try { if (!(await fs.stat(resolveFile(f))).isFile()) missing.add(f); } catch (e) { if (e instanceof RangeError) throw e; missing.add(f); }
    }));
  }
  const missingFiles = files.filter((f) => missing.has(f));
  if (missingFiles.length) {
    if ((opts.missingImages ?? 'throw') === 'throw') {
      const first = missingFiles.slice(0, 5).map((f) => JSON.stringify(f)).join(', ');
      throw new Error(`${op}: ${missingFiles.length} of ${files.length} image files referenced by annotations are missing under ${root} (first: ${first}); pass {missingImages: 'skip'} to skip their annotations`);
    }
    const before = data.samples.length;
    data.samples = data.samples.filter((s) => !missing.has(s.file));
    data.skipped.push({ reason: SKIP_REASONS.missingImage, count: before - data.samples.length });
  }
  return {
    ...data, imageDir: root, missingFiles,
    readImage: async (file: string) => decodeImage(new Uint8Array(await fs.readFile(resolveFile(file))), opts.decode),
  };
}
