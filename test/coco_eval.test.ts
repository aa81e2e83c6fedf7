// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  COCO_IOU_THRESHOLDS,
  COCO_KEYPOINT_SIGMAS,
  COCO_RECALL_THRESHOLDS,
  COCO_STATS_NAMES,
  evaluateCocoKeypoints,
  formatCocoStats,
  parityCocoFile,
  type CocoKeypointAnnotation,
  type CocoKeypointGt,
  type CocoKeypointResult,
} from '../src/eval/coco.js';

const EPS = 2.220446049250313e-16;
/** Precision of a perfect result: tp / (tp + fp + eps) with tp = 1, fp = 0. */
const P1 = 1 / (1 + EPS);

interface GoldenCase {
  name: string;
  gt: CocoKeypointGt;
  dt: CocoKeypointResult[];
  expected: { stats: number[]; stats_names: string[]; debug?: GoldenDebug };
}
interface GoldenDebug {
  images: {
    image_id: number;
    oks_dt_ids: number[];
    oks_gt_ids: number[];
    oks: number[][];
    evalImgs: Record<string, unknown>;
  }[];
  recall: number[][];
  precision: number[][][];
}

const goldenText = readFileSync(new URL('../../test/fixtures/coco_eval_public.json', import.meta.url), 'utf8');
const golden = (): GoldenCase[] => JSON.parse(goldenText) as GoldenCase[];

function maxAbs(a: unknown, b: unknown): number {
  if (Array.isArray(b)) {
    assert.ok(Array.isArray(a), 'shape mismatch');
    assert.equal(a.length, b.length, 'shape mismatch');
    let m = 0;
    for (let i = 0; i < b.length; i++) m = Math.max(m, maxAbs(a[i], b[i]));
    return m;
  }
  assert.equal(typeof a, 'number');
  return a === b ? 0 : Math.abs((a as number) - (b as number));
}

// ---------------------------------------------------------------------------------------------------
// Tiny hand-made cases.

const OFFSETS: [number, number][] = [
  [0, -4], [-0.3, -4.3], [0.3, -4.3], [-0.6, -4], [0.6, -4], [-1, -3], [1, -3], [-1.5, -1.5], [1.5, -1.5],
  [-1.8, 0], [1.8, 0], [-0.7, 0], [0.7, 0], [-0.8, 2], [0.8, 2], [-0.8, 4], [0.8, 4],
];

/** 17 keypoints [x, y, v] of a person centred at (cx, cy), about 8*s tall. */
function person(cx: number, cy: number, s: number, v = 2): number[] {
  return OFFSETS.flatMap(([dx, dy]) => [cx + dx * s, cy + dy * s, v]);
}

const CATEGORY = { id: 1, name: 'person', supercategory: 'person', keypoints: OFFSETS.map((_, i) => `kp${i}`) };

function ann(id: number, imageId: number, keypoints: number[], extra: Partial<CocoKeypointAnnotation> = {}): CocoKeypointAnnotation {
  const xs = keypoints.filter((_, i) => i % 3 === 0);
  const ys = keypoints.filter((_, i) => i % 3 === 1);
  const x0 = Math.min(...xs), y0 = Math.min(...ys);
  const w = Math.max(...xs) - x0, h = Math.max(...ys) - y0;
  return {
    id, image_id: imageId, category_id: 1, iscrowd: 0,
    num_keypoints: keypoints.filter((v, i) => i % 3 === 2 && v > 0).length,
    keypoints, area: 20000, bbox: [x0, y0, w, h], ...extra,
  };
}

function det(imageId: number, keypoints: number[], score: number): CocoKeypointResult {
  return { image_id: imageId, category_id: 1, keypoints: keypoints.map((v, i) => (i % 3 === 2 ? 0.9 : v)), score };
}

function dataset(imageIds: number[], annotations: CocoKeypointAnnotation[]): CocoKeypointGt {
  return { images: imageIds.map((id) => ({ id, width: 640, height: 480 })), annotations, categories: [CATEGORY] };
}

/** Mean over n values of which `count` equal p and the rest 0, i.e. what the stats should be to ~1 ulp. */
const share = (p: number, count: number, n: number): number => (p * count) / n;
const reachable = (recall: number): number => COCO_RECALL_THRESHOLDS.filter((r) => r <= recall).length;

// ---------------------------------------------------------------------------------------------------

test('thresholds and sigmas are the numpy values', () => {
  assert.deepEqual([...COCO_IOU_THRESHOLDS], [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
  assert.equal(COCO_RECALL_THRESHOLDS.length, 101);
  assert.equal(COCO_RECALL_THRESHOLDS[100], 1);
  for (let i = 0; i < 100; i++) assert.equal(COCO_RECALL_THRESHOLDS[i], i * 0.01);
  const differing: Record<number, number> = {
    35: 0.35000000000000003, 41: 0.41000000000000003, 47: 0.47000000000000003, 57: 0.5700000000000001,
    69: 0.6900000000000001, 70: 0.7000000000000001, 82: 0.8200000000000001, 83: 0.8300000000000001,
    94: 0.9400000000000001, 95: 0.9500000000000001,
  };
  for (let i = 0; i <= 100; i++) {
    if (i in differing) assert.equal(COCO_RECALL_THRESHOLDS[i], differing[i]);
    else assert.equal(COCO_RECALL_THRESHOLDS[i], i / 100);
  }
  assert.equal(COCO_KEYPOINT_SIGMAS.length, 17);
  assert.equal(COCO_KEYPOINT_SIGMAS[0], 0.026000000000000002);
});

test('golden: every case of coco_eval_public.json matches pycocotools stats', (t) => {
  let worst = 0;
  for (const c of golden()) {
    const r = evaluateCocoKeypoints(c.gt, c.dt);
    assert.deepEqual(r.statsNames, c.expected.stats_names);
    assert.equal(r.stats.length, 10);
    const err = maxAbs(r.stats, c.expected.stats);
    assert.ok(err <= 1e-6, `${c.name}: max stat error ${err}`);
    worst = Math.max(worst, err);
  }
  t.diagnostic(`max abs stat error over all cases: ${worst}`);
  assert.ok(worst <= 1e-12, `max stat error ${worst}`);
});

test('golden: crowd_and_ignored debug oks / evalImgs / recall / precision', () => {
  const c = golden().find((x) => x.expected.debug !== undefined);
  assert.ok(c);
  const want = c.expected.debug!;
  const r = evaluateCocoKeypoints(c.gt, c.dt, { debug: true });
  const d = r.debug!;
  assert.equal(d.categories.length, 1);
  const cat = d.categories[0];
  assert.equal(cat.images.length, c.gt.images.length);
  for (const w of want.images) {
    const g = cat.images.find((im) => im.imageId === w.image_id);
    assert.ok(g, `image ${w.image_id}`);
    assert.deepEqual(g.oksDtIds, w.oks_dt_ids);
    assert.deepEqual(g.oksGtIds, w.oks_gt_ids);
    // Math.exp and numpy's exp may differ in the last bit.
    assert.ok(maxAbs(g.oks, w.oks) <= 1e-12);
    for (const label of ['all', 'medium', 'large'] as const) {
      assert.deepEqual(g.evalImgs[label], w.evalImgs[label], `image ${w.image_id} ${label}`);
    }
  }
  assert.ok(maxAbs(cat.recall, want.recall) <= 1e-12);
  assert.ok(maxAbs(cat.precision, want.precision) <= 1e-12);
});

test('parityCocoFile reports every case and quantity', () => {
  const rep = parityCocoFile(JSON.parse(goldenText));
  assert.equal(rep.ok, true);
  assert.equal(rep.cases.length, 11);
  for (const c of rep.cases) {
    assert.equal(c.ok, true, c.name);
    assert.deepEqual(c.quantities.slice(0, 10).map((q) => q.name), [...COCO_STATS_NAMES]);
    for (const q of c.quantities) assert.ok(q.error <= q.tolerance, `${c.name} ${q.name}`);
  }
  const crowd = rep.cases.find((c) => c.name === 'crowd_and_ignored')!;
  assert.deepEqual(crowd.quantities.slice(10).map((q) => q.name), ['oks', 'evalImgs', 'recall', 'precision']);
  assert.equal(crowd.quantities.find((q) => q.name === 'evalImgs')!.error, 0);

  const bad = JSON.parse(goldenText) as GoldenCase[];
  bad[1].expected.stats[2] += 1e-3;
  bad[3].expected.debug!.images[0].evalImgs.all = null;
  delete (bad[4] as Partial<GoldenCase>).gt;
  const rep2 = parityCocoFile(bad, 1e-6);
  assert.equal(rep2.ok, false);
  const q = rep2.cases[1].quantities.find((x) => x.name === 'AP75')!;
  assert.equal(q.ok, false);
  assert.ok(Math.abs(q.error - 1e-3) < 1e-12);
  assert.equal(rep2.cases[3].quantities.find((x) => x.name === 'evalImgs')!.error, 1);
  assert.equal(rep2.cases[4].ok, false);
  assert.match(rep2.cases[4].error!, /gt must be an object, got undefined/);
  assert.equal(rep2.cases[0].ok, true);
  assert.throws(() => parityCocoFile({}), TypeError);
});

test('extra cases (pycocotools 2.0.11): gt id 0, categories, custom K, bbox areas, empty results', (t) => {
  const text = readFileSync(new URL('../../test/fixtures/coco_eval_fuzz.json', import.meta.url), 'utf8');
  const rep = parityCocoFile(JSON.parse(text), 1e-12);
  let worst = 0;
  for (const c of rep.cases) {
    assert.equal(c.error, undefined, `${c.name}: ${c.error}`);
    for (const q of c.quantities) {
      assert.ok(q.ok, `${c.name} ${q.name}: ${q.error}`);
      worst = Math.max(worst, q.error);
    }
  }
  assert.equal(rep.cases.length, 13);
  assert.equal(rep.ok, true);
  t.diagnostic(`max abs stat error: ${worst}`);
});

test('a match with a gt whose id is 0 counts as unmatched, as in pycocotools', () => {
  const kp = person(300, 200, 20);
  const r = evaluateCocoKeypoints(dataset([1], [ann(0, 1, kp)]), [det(1, kp, 0.9)], { debug: true });
  assert.deepEqual(r.stats, [0, 0, 0, -1, 0, 0, 0, 0, -1, 0]);
  const ev = r.debug!.categories[0].images[0].evalImgs.all!;
  assert.deepEqual(ev.gtMatches[0], [1]); // the gt is taken...
  assert.deepEqual(ev.dtMatches[0], [0]); // ...but the detection reads as unmatched
});

test('one perfect detection: AP = 1/(1+eps), AP50 one bit lower after numpy mean', () => {
  const kp = person(300, 200, 20);
  const r = evaluateCocoKeypoints(dataset([7], [ann(3, 7, kp)]), [det(7, kp, 0.9)]);
  assert.deepEqual(r.stats, [0.9999999999999998, 0.9999999999999999, 0.9999999999999999, -1, 0.9999999999999998, 1, 1, 1, -1, 1]);
  assert.equal(
    formatCocoStats(r).split('\n')[0],
    ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets= 20 ] = 1.000',
  );
  assert.match(formatCocoStats(r).split('\n')[8], /Average Recall {5}\(AR\) @\[ IoU=0\.50:0\.95 \| area=medium \| maxDets= 20 \] = -1\.000/);
  // Python's format rounds exact ties to even; toFixed would print 0.563 and 0.063.
  const ties = formatCocoStats({ ...r, stats: [0.5625, 0.6875, 0.0625, 0.9375, 0.1875, 0.4995, 0.12345, 0, 1, -1] });
  assert.deepEqual(
    ties.split('\n').map((l) => l.slice(l.lastIndexOf(' ') + 1)),
    ['0.562', '0.688', '0.062', '0.938', '0.188', '0.499', '0.123', '0.000', '1.000', '-1.000'],
  );
});

test('a false positive after the only true positive halves recall and precision past it', () => {
  const a = person(150, 200, 20);
  const b = person(450, 200, 20);
  const r = evaluateCocoKeypoints(dataset([1], [ann(1, 1, a), ann(2, 1, b)]), [
    det(1, a, 0.9), // TP
    det(1, person(300, 50, 5), 0.4), // FP, hits nothing
  ]);
  const n = reachable(0.5); // thresholds with recall 0.5 reached
  assert.equal(n, 51);
  assert.ok(Math.abs(r.stats[0] - share(P1, n, 101)) < 1e-15);
  assert.ok(Math.abs(r.stats[1] - share(P1, n, 101)) < 1e-15);
  assert.equal(r.stats[5], 0.5);
  assert.equal(r.stats[3], -1);
});

test('ties across images keep increasing image-id order', () => {
  // Image 5 holds a TP, image 9 an FP, both scored 0.5; the gt image list is not sorted.
  const a = person(200, 200, 20);
  const b = person(450, 200, 20);
  const mk = (tpImage: number, fpImage: number) =>
    evaluateCocoKeypoints(dataset([9, 5], [ann(1, tpImage, a), ann(2, fpImage, b)]), [
      det(fpImage, person(300, 50, 5), 0.5),
      det(tpImage, a, 0.5),
    ]);
  const n = reachable(0.5);
  // TP first: precision 1/(1+eps) up to recall 0.5.
  assert.ok(Math.abs(mk(5, 9).stats[0] - share(P1, n, 101)) < 1e-15);
  // FP first: the TP comes at precision 1/2.
  assert.ok(Math.abs(mk(9, 5).stats[0] - share(0.5, n, 101)) < 1e-15);
});

test('an ignored non-crowd gt absorbs one detection per threshold, a crowd absorbs them all', () => {
  const a = person(150, 200, 20);
  const ignoredKp = new Array<number>(51).fill(0);
  const base = { keypoints: ignoredKp, num_keypoints: 0, bbox: [500, 100, 50, 100], area: 5000 };
  // Two detections inside the ignored gt's region (OKS 1 by the bbox rule), scored above the TP.
  const dts = [det(1, person(525, 150, 5), 0.95), det(1, person(520, 160, 4), 0.92), det(1, a, 0.9)];
  const nonCrowd = evaluateCocoKeypoints(dataset([1], [ann(1, 1, a), ann(2, 1, ignoredKp, base)]), dts, { debug: true });
  // Sorted: ignored, FP (the ignored gt is taken), TP -> precision 1/(2+eps) = 0.5 everywhere.
  assert.equal(nonCrowd.stats[0], 0.5);
  const ev = nonCrowd.debug!.categories[0].images[0].evalImgs.all!;
  assert.deepEqual(ev.gtIds, [1, 2]);
  assert.deepEqual(ev.dtMatches[0], [2, 0, 1]);
  assert.deepEqual(ev.dtIgnore[0], [1, 0, 0]);

  const crowd = evaluateCocoKeypoints(dataset([1], [ann(1, 1, a), ann(2, 1, ignoredKp, { ...base, iscrowd: 1 })]), dts, {
    debug: true,
  });
  assert.equal(crowd.stats[0], 0.9999999999999998);
  const evc = crowd.debug!.categories[0].images[0].evalImgs.all!;
  assert.deepEqual(evc.dtMatches[9], [2, 2, 1]);
  assert.deepEqual(evc.dtIgnore[9], [1, 1, 0]);
});

test('a gt with num_keypoints > 0 but no labeled keypoint is matched through its bbox', () => {
  const g = ann(1, 1, new Array<number>(51).fill(0), { num_keypoints: 3, bbox: [100, 100, 60, 120], area: 7200 });
  const r = evaluateCocoKeypoints(dataset([1], [g]), [det(1, person(130, 160, 3), 0.8)]);
  assert.equal(r.stats[0], 0.9999999999999998);
  assert.equal(r.stats[3], 0.9999999999999998); // medium: 7200 lies in [1024, 9216]
  assert.equal(r.stats[4], -1);
});

test('on equal OKS the later gt wins', () => {
  const a = person(200, 200, 20);
  const r = evaluateCocoKeypoints(dataset([1], [ann(10, 1, a), ann(20, 1, a)]), [det(1, a, 0.7)], { debug: true });
  const ev = r.debug!.categories[0].images[0].evalImgs.all!;
  for (let t = 0; t < 10; t++) {
    assert.deepEqual(ev.dtMatches[t], [20]);
    assert.deepEqual(ev.gtMatches[t], [0, 1]);
  }
  assert.equal(r.stats[5], 0.5);
});

test('maxDets keeps the best-scored detections of each image', () => {
  const a = person(150, 200, 20);
  const b = person(450, 200, 20);
  const gt = dataset([1], [ann(1, 1, a), ann(2, 1, b)]);
  const dts = [det(1, a, 0.6), det(1, b, 0.8)];
  assert.equal(evaluateCocoKeypoints(gt, dts).stats[5], 1);
  const r = evaluateCocoKeypoints(gt, dts, { maxDets: 1, debug: true });
  assert.equal(r.stats[5], 0.5);
  assert.deepEqual(r.debug!.categories[0].images[0].oksDtIds, [2]);
  assert.ok(Math.abs(r.stats[0] - share(P1, reachable(0.5), 101)) < 1e-15);
});

test('an empty result list gives what COCOeval computes without detections', () => {
  // pycocotools' loadRes([]) raises IndexError; COCOeval itself gives recall 0 and precision 0 where
  // there are gts, -1 where there are none.
  const gt = dataset([1, 2], [ann(1, 1, person(200, 200, 20)), ann(2, 2, person(200, 200, 20), { area: 500 })]);
  assert.deepEqual(evaluateCocoKeypoints(gt, []).stats, [0, 0, 0, -1, 0, 0, 0, 0, -1, 0]);
  const noGt = dataset([1], []);
  assert.deepEqual(evaluateCocoKeypoints(noGt, []).stats, new Array(10).fill(-1));
});

test('custom K: the category keypoint count sets K, sigmas come from opts', () => {
  const kp = [10, 10, 2, 50, 60, 2, 90, 20, 1];
  const gt: CocoKeypointGt = {
    images: [{ id: 1 }],
    annotations: [{ id: 1, image_id: 1, category_id: 4, iscrowd: 0, num_keypoints: 3, keypoints: kp, area: 4000, bbox: [10, 10, 80, 50] }],
    categories: [{ id: 4, name: 'thing', keypoints: ['a', 'b', 'c'] }],
  };
  const dt = [{ image_id: 1, category_id: 4, keypoints: [10, 10, 1, 50, 60, 1, 90, 20, 1], score: 0.5 }];
  const r = evaluateCocoKeypoints(gt, dt, { sigmas: [0.05, 0.05, 0.1] });
  assert.equal(r.stats[0], 0.9999999999999998);
  assert.throws(() => evaluateCocoKeypoints(gt, dt), {
    name: 'RangeError',
    message: /evaluateCocoKeypoints: opts\.sigmas is required when K != 17; gt\.categories\[0\]\.keypoints gives K = 3/,
  });
  assert.throws(() => evaluateCocoKeypoints(gt, dt, { sigmas: [0.05, 0.05] }), {
    name: 'RangeError',
    message: /opts\.sigmas must have length K = 3 .*got 2/,
  });
});

test('two categories: stats average over categories', () => {
  const a = person(200, 200, 20);
  const gt = dataset([1], [ann(1, 1, a), ann(2, 1, person(450, 200, 20), { category_id: 2 })]);
  gt.categories = [CATEGORY, { ...CATEGORY, id: 2, name: 'other' }];
  const r = evaluateCocoKeypoints(gt, [det(1, a, 0.9)], { debug: true });
  assert.ok(Math.abs(r.stats[0] - P1 / 2) < 1e-15);
  assert.equal(r.stats[5], 0.5);
  assert.deepEqual(r.debug!.categories.map((c) => c.categoryId), [1, 2]);
  assert.equal(r.debug!.categories[1].recall[0][0], 0);
});

test('a bbox in the first result makes every area bbox w*h, as loadRes does', () => {
  const a = person(150, 200, 20); // large gt
  const gt = dataset([1], [ann(1, 1, a)]);
  // A false positive scored above the TP whose keypoint extent is large but whose bbox is tiny.
  const fp = det(1, person(450, 200, 20), 0.9);
  const tp = det(1, a, 0.5);
  const byKeypoints = evaluateCocoKeypoints(gt, [fp, tp]);
  const n = reachable(1);
  assert.ok(Math.abs(byKeypoints.stats[4] - share(0.5, n, 101)) < 1e-15); // FP counts in 'large'
  const byBbox = evaluateCocoKeypoints(gt, [{ ...fp, bbox: [0, 0, 10, 10] }, { ...tp, bbox: [0, 0, 200, 200] }]);
  assert.equal(byBbox.stats[4], 0.9999999999999998); // FP area 100 is outside 'large': ignored there
  assert.ok(Math.abs(byBbox.stats[0] - share(0.5, n, 101)) < 1e-15); // still an FP in 'all'
  // Only the first result decides; then every result needs a bbox.
  assert.throws(() => evaluateCocoKeypoints(gt, [{ ...fp, bbox: [0, 0, 10, 10] }, tp]), {
    name: 'TypeError',
    message: /dt\[1\]\.bbox must be an array, got undefined \(field missing\)/,
  });
  assert.deepEqual(evaluateCocoKeypoints(gt, [fp, { ...tp, bbox: [0, 0, 1, 1] }]).stats, byKeypoints.stats);
});

test('bad input: clear TypeError / RangeError naming the path', () => {
  const kp = person(200, 200, 20);
  const gt = () => dataset([1, 2], [ann(1, 1, kp), ann(2, 2, kp)]);
  const dts = () => [det(1, kp, 0.9), det(2, kp, 0.8)];
  const bad = (g: unknown, d: unknown, name: string, message: RegExp, opts?: unknown): void =>
    assert.throws(() => evaluateCocoKeypoints(g as CocoKeypointGt, d as CocoKeypointResult[], opts as undefined), { name, message });

  bad(null, [], 'TypeError', /^evaluateCocoKeypoints: gt must be an object, got null$/);
  bad(gt(), {}, 'TypeError', /dt must be an array, got an object/);
  bad({ images: [], annotations: [] }, [], 'TypeError', /gt\.categories must be an array, got undefined \(field missing\)/);
  bad({ ...gt(), categories: [] }, [], 'RangeError', /gt\.categories must list at least one category/);

  const noArea = gt();
  delete (noArea.annotations[1] as Partial<CocoKeypointAnnotation>).area;
  bad(noArea, dts(), 'TypeError', /gt\.annotations\[1\]\.area must be a finite number, got undefined \(field missing\)/);
  const shortKp = gt();
  shortKp.annotations[0].keypoints = kp.slice(0, 48);
  bad(shortKp, dts(), 'RangeError', /gt\.annotations\[0\]\.keypoints must have length 3\*K = 51, got 48/);
  const shortDt = dts();
  shortDt[1].keypoints = kp.slice(0, 50);
  bad(gt(), shortDt, 'RangeError', /dt\[1\]\.keypoints must have length 3\*K = 51, got 50/);
  const nanDt = dts();
  nanDt[0].keypoints[4] = NaN;
  bad(gt(), nanDt, 'RangeError', /dt\[0\]\.keypoints\[4\] must be a finite number, got NaN/);
  const infScore = dts();
  infScore[1].score = Infinity;
  bad(gt(), infScore, 'RangeError', /dt\[1\]\.score must be a finite number, got Infinity/);
  const strScore = dts();
  (strScore[0] as unknown as { score: string }).score = '0.9';
  bad(gt(), strScore, 'TypeError', /dt\[0\]\.score must be a finite number, got the string "0\.9"/);
  const unknownImage = dts();
  unknownImage[1].image_id = 999;
  bad(gt(), unknownImage, 'RangeError', /dt\[1\]\.image_id must be an id of gt\.images .*got 999/);
  const unknownCat = dts();
  unknownCat[0].category_id = 3;
  bad(gt(), unknownCat, 'RangeError', /dt\[0\]\.category_id must be an id of gt\.categories, got 3/);
  const dup = gt();
  dup.annotations[1].id = 1;
  bad(dup, dts(), 'RangeError', /gt\.annotations\[1\]\.id must be unique, got 1 again/);
  const orphan = gt();
  orphan.annotations[0].image_id = 42;
  bad(orphan, dts(), 'RangeError', /gt\.annotations\[0\]\.image_id must be an id of gt\.images, got 42/);
  const badBbox = gt();
  badBbox.annotations[0].bbox = [1, 2, 3];
  bad(badBbox, dts(), 'RangeError', /gt\.annotations\[0\]\.bbox must have length 4/);
  const seg = dts();
  (seg[0] as unknown as { segmentation: number[] }).segmentation = [1, 2];
  bad(gt(), seg, 'RangeError', /dt\[0\] has a segmentation field and no bbox/);
  bad(gt(), dts(), 'RangeError', /opts\.maxDets must be an integer >= 1, got 0/, { maxDets: 0 });
  bad(gt(), dts(), 'TypeError', /opts\.sigmas must be an array/, { sigmas: 'x' });
  bad(gt(), dts(), 'RangeError', /opts\.sigmas\[3\] must be > 0, got 0/, { sigmas: COCO_KEYPOINT_SIGMAS.map((s, i) => (i === 3 ? 0 : s)) });
  bad(gt(), [null], 'TypeError', /dt\[0\] must be an object, got null/);
  bad({ ...gt(), images: [{ id: 'a' }] }, [], 'TypeError', /gt\.images\[0\]\.id must be a finite number, got the string "a"/);
});

test('__proto__ / constructor keys neither pollute nor supply values', () => {
  const kp = person(200, 200, 20);
  const g = dataset([1], [ann(1, 1, kp)]);
  const text = JSON.stringify(g).replace(
    /"area":20000,/,
    '"__proto__":{"polluted":true,"area":20000},"constructor":{"prototype":{"polluted":true}},',
  );
  const parsed = JSON.parse(text) as CocoKeypointGt;
  // JSON.parse made "__proto__" an own key; the area it carries must not be read.
  assert.throws(() => evaluateCocoKeypoints(parsed, [det(1, kp, 0.9)]), {
    name: 'TypeError',
    message: /gt\.annotations\[0\]\.area must be a finite number, got undefined \(field missing\)/,
  });
  // Inherited fields are not read either.
  const inherited = Object.create({ area: 20000 }) as CocoKeypointAnnotation;
  Object.assign(inherited, { ...ann(1, 1, kp) });
  delete (inherited as Partial<CocoKeypointAnnotation>).area;
  assert.throws(() => evaluateCocoKeypoints(dataset([1], [inherited]), []), TypeError);
  // With the field present, the extra keys are harmless.
  const ok = JSON.parse(
    JSON.stringify(g).replace(/"area":20000,/, '"area":20000,"__proto__":{"polluted":true},"constructor":{"polluted":true},'),
  ) as CocoKeypointGt;
  const dtText = JSON.stringify([det(1, kp, 0.9)]).replace(/"score":0\.9/, '"score":0.9,"__proto__":{"score":0.1}');
  const r = evaluateCocoKeypoints(ok, JSON.parse(dtText) as CocoKeypointResult[], { debug: true });
  assert.equal(r.stats[0], 0.9999999999999998);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});

test('performance: random_large in milliseconds, 5000 images in seconds', (t) => {
  const big = golden().find((c) => c.name === 'random_large')!;
  evaluateCocoKeypoints(big.gt, big.dt);
  let t0 = performance.now();
  evaluateCocoKeypoints(big.gt, big.dt);
  const small = performance.now() - t0;
  t.diagnostic(`random_large (225 detections): ${small.toFixed(1)} ms`);
  assert.ok(small < 1000);

  // 5000 images, 3 people and 4 detections each (a duplicate included), deterministic.
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  const nImages = 5000;
  const annotations: CocoKeypointAnnotation[] = [];
  const dts: CocoKeypointResult[] = [];
  let id = 1;
  for (let i = 1; i <= nImages; i++) {
    for (let p = 0; p < 3; p++) {
      const s = 4 + rnd() * 20;
      const kp = person(100 + p * 200, 240, s);
      annotations.push(ann(id++, i * 3, kp, { area: 40 * s * s }));
      const jitter = kp.map((v, j) => (j % 3 === 2 ? v : v + (rnd() - 0.5) * s));
      dts.push(det(i * 3, jitter, rnd()));
      if (p === 0) dts.push(det(i * 3, jitter, rnd()));
    }
  }
  const gt = dataset(Array.from({ length: nImages }, (_, i) => (i + 1) * 3), annotations);
  t0 = performance.now();
  const r = evaluateCocoKeypoints(gt, dts);
  const large = performance.now() - t0;
  t.diagnostic(`5000 images, 15000 gts, 20000 detections: ${large.toFixed(0)} ms`);
  assert.ok(large < 30000);
  assert.ok(r.stats[0] > 0 && r.stats[0] < 1);
});
