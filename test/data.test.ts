// SPDX-License-Identifier: MIT
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { decodeImage, encodePng, sniffImageFormat } from '../src/data/image.js';
import { loadCocoKeypoints, loadCocoDataset, flipPairsFromNames, SKIP_REASONS } from '../src/data/coco.js';
import {
  applyAffine, boxToCenterScale, cropMatrix, cropMatrixInverse, invertAffine, keypointsToTarget, swapFlipPairs, targetToImage,
  warpAffineBilinear, IMAGENET_NORM, type Convention,
} from '../src/data/transforms.js';
import { AUGMENT_PRESETS, halfBodyBox, resolveAugmentOptions, resolveAugmentPreset, sampleCropParams } from '../src/data/augment.js';
import { TopDownDataset } from '../src/data/dataset.js';
import {
  generateSynthetic, renderKeypointOverlay, syntheticImageProvider, tileImages, COCO_KEYPOINT_NAMES, COCO_SKELETON_1BASED, SYNTHETIC_DIFFICULTY,
} from '../src/data/synthetic.js';
import { shapeSignedDistance } from '../src/data/raster.js';
import { Rng } from '../src/util/rng.js';

const { PNG } = pngjs;

function randomRgb(w: number, h: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  const a = new Uint8Array(w * h * 3);
  for (let i = 0; i < a.length; i++) a[i] = r.int(256);
  return a;
}

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------- image

describe('decodeImage / encodePng', () => {
  test('PNG round trip (RGB), odd sizes', () => {
    for (const [w, h] of [[1, 1], [7, 3], [33, 17]]) {
      const rgb = randomRgb(w, h, w * 100 + h);
      const png = encodePng(rgb, w, h);
      assert.equal(sniffImageFormat(png), 'png');
      const d = decodeImage(png);
      assert.equal(d.width, w); assert.equal(d.height, h);
      assert.deepEqual(d.data, rgb);
    }
  });

  test('PNG with alpha and gray PNG decode to RGB (alpha dropped, gray expanded)', () => {
    const w = 5, h = 4;
    const rgba = new PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) rgba.data.set([i, 2 * i, 3 * i, 17], i * 4);
    const a = decodeImage(new Uint8Array(PNG.sync.write(rgba)));
    for (let i = 0; i < w * h; i++) assert.deepEqual([...a.data.subarray(i * 3, i * 3 + 3)], [i, 2 * i, 3 * i]);
    const gray = new PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) gray.data.set([i * 9, i * 9, i * 9, 255], i * 4);
    const g = decodeImage(new Uint8Array(PNG.sync.write(gray, { colorType: 0 })));
    for (let i = 0; i < w * h; i++) assert.deepEqual([...g.data.subarray(i * 3, i * 3 + 3)], [i * 9, i * 9, i * 9]);
  });

  test('JPEG round trip (jpeg-js encode, quality 95) stays close', () => {
    const w = 24, h = 16;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba.set([x * 10, y * 15, 128, 255], (y * w + x) * 4);
    const jpg = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 95).data);
    assert.equal(sniffImageFormat(jpg), 'jpeg');
    const d = decodeImage(jpg);
    assert.equal(d.width, w); assert.equal(d.height, h); assert.equal(d.data.length, w * h * 3);
    let maxErr = 0;
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) maxErr = Math.max(maxErr, Math.abs(d.data[i * 3 + c] - rgba[i * 4 + c]));
    assert.ok(maxErr <= 12, `max error ${maxErr}`);
  });

  test('unknown, empty, truncated and corrupt data give clear errors', () => {
    assert.throws(() => decodeImage(new Uint8Array([0x00, 0x11, 0x22, 0x33, 4, 5, 6, 7, 8, 9])), {
      message: 'decodeImage: not a PNG or JPEG (first bytes 00 11 22 33 04 05 06 07 ..)',
    });
    assert.throws(() => decodeImage(new Uint8Array(0)), { message: 'decodeImage: not a PNG or JPEG (first bytes (empty))' });
    assert.throws(() => decodeImage('abc' as unknown as Uint8Array), TypeError);
    const png = encodePng(randomRgb(20, 10, 1), 20, 10);
    assert.throws(() => decodeImage(png.subarray(0, png.length - 20)), /^Error: decodeImage: truncated PNG \(no IEND chunk\)/);
    assert.throws(() => decodeImage(png.subarray(0, 12)), /decodeImage: truncated PNG \(12 bytes/);
    const bad = png.slice(); bad[bad.length - 20] ^= 0xff; // inside IDAT: CRC mismatch
    assert.throws(() => decodeImage(bad), /decodeImage: corrupt PNG \(pngjs: /);
    const rgba = new Uint8Array(16 * 16 * 4).fill(200);
    const jpg = new Uint8Array(jpeg.encode({ width: 16, height: 16, data: rgba }, 80).data);
    assert.throws(() => decodeImage(jpg.subarray(0, jpg.length - 40)), /decodeImage: truncated JPEG \(no end-of-image marker\)/);
    assert.throws(() => decodeImage(jpg.subarray(0, 40)), /decodeImage: truncated JPEG/);
  });

  test('size limit is checked from the header', () => {
    const png = encodePng(randomRgb(100, 100, 2), 100, 100);
    assert.throws(() => decodeImage(png, { maxMegapixels: 0.005 }), (e: Error) =>
      e instanceof RangeError && e.message === 'decodeImage: PNG of 100×100 = 0.0 MP exceeds maxMegapixels = 0.005');
    const jpg = new Uint8Array(jpeg.encode({ width: 100, height: 100, data: new Uint8Array(100 * 100 * 4) }, 50).data);
    assert.throws(() => decodeImage(jpg, { maxMegapixels: 0.005 }), /decodeImage: JPEG of 100×100 .* exceeds maxMegapixels/);
    assert.equal(decodeImage(png, { maxMegapixels: 0.01 }).width, 100);
  });

  test('encodePng validates its input', () => {
    assert.throws(() => encodePng(new Uint8Array(5), 2, 1), { name: 'RangeError', message: 'encodePng: rgb must have length width*height*3 = 6, got 5' });
    assert.throws(() => encodePng(new Uint8Array(0), 0, 1), RangeError);
  });
});

// ---------------------------------------------------------------- COCO

const NAMES17 = [...COCO_KEYPOINT_NAMES];

function kps17(fill: (k: number) => [number, number, number]): number[] {
  const out: number[] = [];
  for (let k = 0; k < 17; k++) out.push(...fill(k));
  return out;
}

function cocoFixture(): { images: unknown[]; annotations: Record<string, unknown>[]; categories: unknown[] } {
  const good = kps17((k) => [10 + k, 20 + k, 2]);
  return {
    images: [{ id: 1, file_name: 'a.png', width: 100, height: 80 }, { id: 2, file_name: 'b.jpg', width: 50, height: 50 }],
    annotations: [
      { id: 10, image_id: 1, category_id: 1, bbox: [5, 5, 40, 60], area: 900, iscrowd: 0, num_keypoints: 17, keypoints: good },
      { id: 11, image_id: 1, category_id: 1, bbox: [5, 5, 40, 60], area: 900, iscrowd: 1, num_keypoints: 0, keypoints: kps17(() => [0, 0, 0]) },
      { id: 12, image_id: 2, category_id: 1, bbox: [10, 10, 0, 20], area: 0, iscrowd: 0, keypoints: good },
      { id: 13, image_id: 2, category_id: 1, bbox: [10, 10, 20, 20], area: 300, iscrowd: 0, keypoints: kps17(() => [0, 0, 0]) },
      { id: 14, image_id: 2, category_id: 1, bbox: [-10, 30, 40, 40], area: 300, iscrowd: 0, keypoints: kps17((k) => [k, 40, k % 3 === 0 ? 1 : 2]) },
      { id: 15, image_id: 2, category_id: 2, bbox: [1, 1, 5, 5], area: 25 },
      { id: 16, image_id: 2, category_id: 1, bbox: [60, 60, 10, 10], area: 100, iscrowd: 0, keypoints: good },
    ],
    categories: [
      { id: 1, name: 'person', keypoints: NAMES17, skeleton: COCO_SKELETON_1BASED.map((p) => [...p]) },
      { id: 2, name: 'dog' },
    ],
  };
}

describe('loadCocoKeypoints', () => {
  test('a good file: samples, skips by reason, clipping, names, flip pairs, skeleton', () => {
    const d = loadCocoKeypoints(cocoFixture());
    assert.deepEqual(d.samples.map((s) => s.annId), [10, 14]);
    assert.deepEqual(d.skipped, [
      { reason: SKIP_REASONS.crowd, count: 1 },
      { reason: SKIP_REASONS.zeroArea, count: 2 },
      { reason: SKIP_REASONS.noKeypoints, count: 1 },
      { reason: SKIP_REASONS.otherCategory, count: 1 },
    ]);
    assert.equal(d.clipped, 1);
    const s14 = d.samples[1];
    assert.deepEqual(s14.bbox, [0, 30, 30, 20]);
    assert.equal(s14.file, 'b.jpg'); assert.equal(s14.imageWidth, 50);
    assert.equal(s14.numKeypoints, 17); assert.equal(s14.area, 300);
    assert.ok(s14.keypoints instanceof Float32Array && s14.keypoints.length === 51);
    assert.equal(d.keypointNames.length, 17);
    assert.deepEqual(d.flipPairs, [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]);
    assert.deepEqual(d.skeleton[0], [15, 13]);
    assert.equal(d.images.get(2)?.file_name, 'b.jpg');
    assert.equal(loadCocoKeypoints(cocoFixture(), { requireVisible: 18 }).samples.length, 0);
    assert.deepEqual(loadCocoKeypoints(cocoFixture(), { requireVisible: 18 }).skipped[0], { reason: 'fewer than 18 labelled keypoints', count: 3 });
  });

  test('structural problems are listed with their paths', () => {
    const cases: [unknown, RegExp | string, ErrorConstructor][] = [
      [[], 'loadCocoKeypoints: expected a COCO object with images, annotations and categories, got an array of length 0', TypeError],
      [null, /got null$/, TypeError],
      [{ ...cocoFixture(), annotations: undefined }, 'loadCocoKeypoints: 1 problem: annotations: expected an array, got nothing', TypeError],
      [{ ...cocoFixture(), images: [{ id: 1, file_name: 'a.png', height: 5 }] },
        'loadCocoKeypoints: 1 problem: images[0].width: expected a positive finite number, got nothing', TypeError],
      [{ ...cocoFixture(), images: [{ id: 1, file_name: 'a.png', width: -3, height: 5 }, { id: 1, file_name: 'b', width: 1, height: 1 }, { id: 2, file_name: '', width: 1, height: 1 }] },
        'loadCocoKeypoints: 3 problems: images[0].width: expected a positive finite number, got -3; images[1].id: duplicate image id 1; images[2].file_name: expected a non-empty string, got ""', RangeError],
      [{ ...cocoFixture(), categories: [{ id: 2, name: 'dog' }] }, 'loadCocoKeypoints: 1 problem: categories: no category has keypoint names (categories[].keypoints)', RangeError],
      [{ ...cocoFixture(), categories: [{ id: 1, keypoints: ['a', 'a'] }] }, /categories\[0\]\.keypoints\[1\]: duplicate joint name "a"/, RangeError],
      [{ ...cocoFixture(), categories: [{ id: 1, keypoints: NAMES17, skeleton: [[0, 1]] }] },
        'loadCocoKeypoints: 1 problem: categories[0].skeleton[0]: expected a pair of 1-based joint indices in 1..17, got [0,1]', RangeError],
      [{ ...cocoFixture(), categories: [{ id: 1, keypoints: NAMES17 }, { id: 3, keypoints: ['x'] }] }, /2 categories have keypoints; pass \{categoryId\} to choose, got ids \[1, 3\]/, RangeError],
    ];
    for (const [json, msg, cls] of cases) {
      assert.throws(() => loadCocoKeypoints(json), (e: Error) => {
        assert.ok(e instanceof cls, `${e.name} for ${String(msg)}`);
        if (typeof msg === 'string') assert.equal(e.message, msg); else assert.match(e.message, msg);
        return true;
      });
    }
    assert.throws(() => loadCocoKeypoints(cocoFixture(), { numKeypoints: 16 }), { message: 'loadCocoKeypoints: 1 problem: categories[0].keypoints: expected 16 joint names (numKeypoints), got 17' });
  });

  test('malformed annotations: each message, all listed, or skipped and counted', () => {
    const base = () => cocoFixture().annotations[0];
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base(), keypoints: (base().keypoints as number[]).slice(0, 50) }, 'annotations[0].keypoints: expected 51 numbers (17 keypoints × 3), got 50'],
      [{ ...base(), keypoints: undefined }, 'annotations[0].keypoints: expected an array of 51 numbers (17 keypoints × 3), got nothing'],
      [{ ...base(), keypoints: kps17((k) => [k === 1 ? NaN : 1, 1, 2]) }, 'annotations[0].keypoints[3]: expected a finite number, got NaN'],
      [{ ...base(), keypoints: kps17((k) => [1, k === 2 ? (null as unknown as number) : 1, 2]) }, 'annotations[0].keypoints[7]: expected a finite number, got null'],
      [{ ...base(), keypoints: kps17((k) => [1, 1, k === 4 ? 3 : 2]) }, 'annotations[0].keypoints[14]: visibility must be 0, 1 or 2, got 3'],
      [{ ...base(), image_id: 99 }, 'annotations[0].image_id: unknown image id, got 99'],
      [{ ...base(), image_id: undefined }, 'annotations[0].image_id: expected a number or string, got nothing'],
      [{ ...base(), bbox: [1, 2, 3] }, 'annotations[0].bbox: expected [x, y, w, h], got an array of length 3'],
      [{ ...base(), bbox: [1, 2, Infinity, 3] }, 'annotations[0].bbox: expected 4 finite numbers, got [1,2,null,3]'],
      [{ ...base(), bbox: [1, 2, -3, 3] }, 'annotations[0].bbox: width and height must be ≥ 0, got [1,2,-3,3]'],
      [{ ...base(), id: undefined }, 'annotations[0].id: expected a number or string, got nothing'],
      [{ ...base(), iscrowd: 'yes' }, 'annotations[0].iscrowd: expected 0 or 1, got "yes"'],
      [{ ...base(), area: -1 }, 'annotations[0].area: expected a finite number ≥ 0, got -1'],
    ];
    for (const [ann, msg] of cases) {
      const json = { ...cocoFixture(), annotations: [ann] };
      assert.throws(() => loadCocoKeypoints(json), (e: Error) => {
        assert.equal(e.message, `loadCocoKeypoints: 1 problem: ${msg} (pass {invalid: 'skip'} to skip malformed annotations)`);
        assert.ok(e instanceof RangeError || e instanceof TypeError);
        return true;
      });
      const skipped = loadCocoKeypoints(json, { invalid: 'skip' });
      assert.equal(skipped.samples.length, 0);
      assert.equal(skipped.skipped.length, 1);
      assert.match(skipped.skipped[0].reason, /^invalid annotation: /);
    }
    // every problem in one error, the first five shown
    const many = { ...cocoFixture(), annotations: Array.from({ length: 7 }, (_, i) => ({ ...base(), id: i, image_id: 100 + i })) };
    assert.throws(() => loadCocoKeypoints(many), /^RangeError: loadCocoKeypoints: 7 problems: annotations\[0\]\.image_id: unknown image id, got 100; .*annotations\[4\].* \(and 2 more\)/);
    const counted = loadCocoKeypoints(many, { invalid: 'skip' });
    assert.deepEqual(counted.skipped, [{ reason: 'invalid annotation: unknown image id', count: 7 }]);
    // duplicate annotation ids
    assert.throws(() => loadCocoKeypoints({ ...cocoFixture(), annotations: [base(), base()] }), /annotations\[1\]\.id: duplicate annotation id 10/);
  });

  test('__proto__ / constructor payloads pollute nothing and are plain data', () => {
    const text = `{
      "__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}},
      "images": [{"id": "__proto__", "file_name": "p.png", "width": 10, "height": 10, "__proto__": {"x": 1}},
                 {"id": "constructor", "file_name": "c.png", "width": 10, "height": 10}],
      "annotations": [{"id": "__proto__", "image_id": "__proto__", "bbox": [0, 0, 5, 5], "area": 25,
                       "keypoints": [1, 1, 2, 2, 2, 1], "__proto__": {"iscrowd": 1}},
                      {"id": "constructor", "image_id": "constructor", "bbox": [0, 0, 5, 5], "keypoints": [1, 1, 2, 2, 2, 1]}],
      "categories": [{"id": 1, "keypoints": ["__proto__", "constructor"], "__proto__": {"skeleton": 5}}]
    }`;
    const d = loadCocoKeypoints(JSON.parse(text));
    assert.equal(d.samples.length, 2);
    assert.deepEqual(d.keypointNames, ['__proto__', 'constructor']);
    assert.equal(d.images.get('__proto__')?.file_name, 'p.png');
    assert.equal(d.images.get('constructor')?.file_name, 'c.png');
    assert.equal(d.samples[0].area, 25); assert.equal(d.samples[1].area, 25);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.equal(Object.getPrototypeOf(d.samples[0]), Object.prototype);
    // inherited fields are not read: an annotation whose keypoints live on its prototype has none
    const inherited = Object.create({ keypoints: kps17(() => [1, 1, 2]) }) as Record<string, unknown>;
    Object.assign(inherited, { id: 1, image_id: 1, bbox: [0, 0, 5, 5] });
    assert.throws(() => loadCocoKeypoints({ ...cocoFixture(), annotations: [inherited] }), /annotations\[0\]\.keypoints: expected an array of 51 numbers \(17 keypoints × 3\), got nothing/);
  });

  test('custom K (MPII 16) from the category names, flip pairs from names', () => {
    const mpii = ['right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle', 'pelvis', 'thorax', 'upper_neck', 'head_top',
      'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist'];
    const json = {
      images: [{ id: 1, file_name: 'm.jpg', width: 64, height: 64 }],
      annotations: [{ id: 1, image_id: 1, bbox: [0, 0, 10, 10], keypoints: Array.from({ length: 48 }, (_, i) => (i % 3 === 2 ? 2 : 5)) }],
      categories: [{ id: 1, keypoints: mpii }],
    };
    const d = loadCocoKeypoints(json, { numKeypoints: 16 });
    assert.equal(d.samples[0].keypoints.length, 48);
    assert.deepEqual(d.flipPairs, [[5, 0], [4, 1], [3, 2], [15, 10], [14, 11], [13, 12]]);
    assert.deepEqual(flipPairsFromNames(['L_Eye', 'R_Eye', 'LeftHand', 'RightHand', 'nose']), [[0, 1], [2, 3]]);
  });

  test('parser fuzz: arbitrary JSON never throws anything but TypeError/RangeError', () => {
    const before = Object.keys(Object.prototype).length;
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      try { loadCocoKeypoints(v); } catch (e) { return e instanceof TypeError || e instanceof RangeError; }
      return true;
    }), { numRuns: 300, seed: 7 });
    fc.assert(fc.property(fc.record({ images: fc.jsonValue({ maxDepth: 3 }), annotations: fc.jsonValue({ maxDepth: 3 }), categories: fc.jsonValue({ maxDepth: 3 }) }), (v) => {
      try { loadCocoKeypoints(v, { invalid: 'skip' }); } catch (e) { return e instanceof TypeError || e instanceof RangeError; }
      return true;
    }), { numRuns: 300, seed: 8 });
    assert.equal(Object.keys(Object.prototype).length, before);
  });

  test('loadCocoDataset: checks image files, lists or skips the missing, refuses paths outside imageDir', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rlepose-coco-'));
    try {
      await mkdir(join(dir, 'img'));
      await writeFile(join(dir, 'img', 'a.png'), encodePng(randomRgb(100, 80, 3), 100, 80));
      const annFile = join(dir, 'ann.json');
      await writeFile(annFile, JSON.stringify(cocoFixture()));
      await assert.rejects(loadCocoDataset(annFile, join(dir, 'img')), {
        message: `loadCocoDataset: 1 of 2 image files referenced by annotations are missing under ${join(dir, 'img')} (first: "b.jpg"); pass {missingImages: 'skip'} to skip their annotations`,
      });
      const d = await loadCocoDataset(annFile, join(dir, 'img'), { missingImages: 'skip' });
      assert.deepEqual(d.samples.map((s) => s.annId), [10]);
      assert.deepEqual(d.missingFiles, ['b.jpg']);
      assert.deepEqual(d.skipped.at(-1), { reason: SKIP_REASONS.missingImage, count: 1 });
      const img = await d.readImage('a.png');
      assert.deepEqual(img.data, randomRgb(100, 80, 3));
      const evil = cocoFixture();
      (evil.images[0] as { file_name: string }).file_name = '../secret.png';
      await writeFile(annFile, JSON.stringify(evil));
      await assert.rejects(loadCocoDataset(annFile, join(dir, 'img')), { name: 'RangeError', message: 'loadCocoDataset: image file_name "../secret.png" is outside imageDir' });
      await writeFile(annFile, '{"images": [');
      await assert.rejects(loadCocoDataset(annFile, dir), /^Error: loadCocoDataset: .*ann\.json is not valid JSON/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- transforms

describe('transforms', () => {
  test('boxToCenterScale: aspect fix then ×padding', () => {
    assert.deepEqual(boxToCenterScale([10, 20, 30, 80], 0.75), { center: [25, 60], scale: [60 * 1.25, 80 * 1.25] });
    assert.deepEqual(boxToCenterScale([0, 0, 100, 40], 0.75, 1), { center: [50, 20], scale: [100, 100 / 0.75] });
    assert.throws(() => boxToCenterScale([0, 0, 0, 0], 0.75), /boxToCenterScale: bbox has zero size/);
    assert.throws(() => boxToCenterScale([0, 0, NaN, 1], 0.75), /bbox\[2\] must be finite/);
  });

  test('cropMatrix: center → (W/2, H/2), scale width → W, rotation, flip, inverse', () => {
    const M = cropMatrix([50, 40], [60, 80], 0, 96, 128);
    assert.deepEqual(applyAffine(M, 50, 40), [48, 64]);
    const [u1] = applyAffine(M, 80, 40);
    assert.ok(Math.abs(u1 - 96) < 1e-12);
    // +90° (HRNet's sense): the image point above the center lands left of the crop center
    const R = cropMatrix([0, 0], 96, 90, 96, 128);
    const [ru, rv] = applyAffine(R, 0, -10);
    assert.ok(Math.abs(ru - 38) < 1e-9 && Math.abs(rv - 64) < 1e-9, `${ru},${rv}`);
    const F = cropMatrix([50, 40], [60, 80], 17, 96, 128, true), N0 = cropMatrix([50, 40], [60, 80], 17, 96, 128);
    const [fu, fv] = applyAffine(F, 33, 21), [nu, nv] = applyAffine(N0, 33, 21);
    assert.ok(Math.abs(fu - (95 - nu)) < 1e-9 && Math.abs(fv - nv) < 1e-9);
    const inv = cropMatrixInverse([50, 40], [60, 80], 17, 96, 128, true);
    const [x, y] = applyAffine(inv, fu, fv);
    assert.ok(Math.abs(x - 33) < 1e-9 && Math.abs(y - 21) < 1e-9);
    assert.throws(() => invertAffine([0, 0, 0, 0, 0, 0]), /invertAffine: matrix is singular/);
  });

  test('property: keypoints → target → image round trip within 1e-4 px, both conventions, random boxes/rotations/flips', () => {
    const conv = fc.constantFrom<Convention>('official', 'mmpose');
    fc.assert(fc.property(
      fc.record({
        x: fc.double({ min: -200, max: 2000, noNaN: true }), y: fc.double({ min: -200, max: 2000, noNaN: true }),
        w: fc.double({ min: 2, max: 1500, noNaN: true }), h: fc.double({ min: 2, max: 1500, noNaN: true }),
        rot: fc.double({ min: -180, max: 180, noNaN: true }), flip: fc.boolean(), conv,
        sf: fc.double({ min: 0.7, max: 1.3, noNaN: true }), seed: fc.integer({ min: 0, max: 1e6 }),
      }),
      ({ x, y, w, h, rot, flip, conv: c, sf, seed }) => {
        const [H, W] = [128, 96];
        const cs = boxToCenterScale([x, y, w, h], W / H);
        const scale: [number, number] = [cs.scale[0] * sf, cs.scale[1] * sf];
        const M = cropMatrix(cs.center, scale, rot, W, H, flip), Minv = invertAffine(M);
        const r = new Rng(seed);
        const kps = new Float32Array(17 * 3);
        for (let k = 0; k < 17; k++) kps.set([x + r.uniform(-0.2, 1.2) * w, y + r.uniform(-0.2, 1.2) * h, r.int(3)], 3 * k);
        const { target, weight } = keypointsToTarget(kps, M, W, H, c);
        const back = targetToImage(target, c, Minv, W, H);
        for (let k = 0; k < 17; k++) {
          if (!weight[2 * k]) { assert.equal(target[2 * k], 0); continue; }
          const t0 = target[2 * k], t1 = target[2 * k + 1];
          const lo = c === 'official' ? -0.5 : 0;
          assert.ok(t0 >= lo && t0 <= lo + 1 && t1 >= lo && t1 <= lo + 1);
          const err = Math.hypot(back[2 * k] - kps[3 * k], back[2 * k + 1] - kps[3 * k + 1]);
          // the float32 target carries ~2^-24 relative error, times the box size in pixels
          assert.ok(err < 1e-4 + 1e-7 * Math.max(scale[0], scale[1]) * 10, `err ${err} px`);
        }
        return true;
      },
    ), { numRuns: 400, seed: 42 });
  });

  test('round trip is exact to 1e-4 px for COCO-sized boxes (≤ 600 px)', () => {
    const r = new Rng(3);
    let worst = 0, tested = 0;
    for (let i = 0; i < 300; i++) {
      const bx = r.uniform(0, 640), by = r.uniform(0, 480), bw = r.uniform(5, 600), bh = r.uniform(5, 600);
      const c: Convention = i % 2 ? 'official' : 'mmpose';
      const cs = boxToCenterScale([bx, by, bw, bh], 0.75);
      const M = cropMatrix(cs.center, cs.scale, r.uniform(-60, 60), 96, 128, i % 3 === 0);
      const kps = new Float32Array([bx + r.uniform(0, bw), by + r.uniform(0, bh), 2]);
      const t = keypointsToTarget(kps, M, 96, 128, c);
      if (!t.weight[0]) continue;
      tested++;
      const back = targetToImage(t.target, c, invertAffine(M), 96, 128);
      worst = Math.max(worst, Math.hypot(back[0] - kps[0], back[1] - kps[1]));
    }
    assert.ok(tested > 200 && worst < 1e-4, `worst ${worst} over ${tested}`);
  });

  test('keypointsToTarget: weights 0 for v = 0 and outside the crop; conventions differ by 0.5', () => {
    const M = cropMatrix([48, 64], 96, 0, 96, 128); // identity
    const kps = [0, 0, 2, 95, 127, 1, 96, 10, 2, 10, -0.01, 2, 10, 10, 0, 48, 64, 2];
    const o = keypointsToTarget(kps, M, 96, 128, 'official'), m = keypointsToTarget(kps, M, 96, 128, 'mmpose');
    assert.deepEqual([...o.weight], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert.deepEqual([...m.weight], [...o.weight]);
    assert.deepEqual([...o.target.subarray(0, 2)], [-0.5, -0.5]);
    assert.deepEqual([...m.target.subarray(10, 12)], [0.5, 0.5]);
    assert.deepEqual([...o.target.subarray(10, 12)], [0, 0]);
    assert.throws(() => keypointsToTarget(kps, M, 96, 128, 'udp' as Convention), { name: 'TypeError', message: `keypointsToTarget: convention must be 'official' or 'mmpose', got "udp"` });
  });

  test('warpAffineBilinear: identity, normalisation, fill 0 outside, flip mirrors the crop', () => {
    const w = 9, h = 7, rgb = randomRgb(w, h, 5);
    const I = new Float64Array([1, 0, 0, 0, 1, 0]);
    const out = warpAffineBilinear(rgb, w, h, I, w, h);
    for (let i = 0; i < w * h * 3; i++) {
      const c = i % 3;
      assert.ok(Math.abs(out[i] - (rgb[i] / 255 - IMAGENET_NORM.mean[c]) / IMAGENET_NORM.std[c]) < 1e-5);
    }
    const shifted = warpAffineBilinear(rgb, w, h, new Float64Array([1, 0, 5, 0, 1, 0]), w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) assert.equal(shifted[(y * w + x) * 3 + c], 0);
    const half = warpAffineBilinear(new Uint8Array(w * h * 3).fill(255), w, h, new Float64Array([1, 0, 0.5, 0, 1, 0]), w, h, { normalization: { mean: [0, 0, 0], std: [1, 1, 1] } });
    assert.ok(Math.abs(half[0] - 0.5) < 1e-6 && Math.abs(half[3] - 1) < 1e-6); // half outside blends towards 0
    const M = cropMatrix([4.3, 3.1], 8, 23, 12, 10), F = cropMatrix([4.3, 3.1], 8, 23, 12, 10, true);
    const a = warpAffineBilinear(rgb, w, h, M, 12, 10), b = warpAffineBilinear(rgb, w, h, F, 12, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 12; x++) for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(a[(y * 12 + x) * 3 + c] - b[(y * 12 + 11 - x) * 3 + c]) < 1e-4);
    }
    assert.throws(() => warpAffineBilinear(rgb, w, h, I, 4, 4, { out: new Float32Array(10) }), /out is too small/);
  });

  test('flip: pairs swap and x mirrors; undoing recovers the joints', () => {
    const pairs = resolveAugmentOptions({}, 17).flipPairs;
    const kps = new Float32Array(51);
    for (let k = 0; k < 17; k++) kps.set([10 + k, 100 + k, 2], 3 * k);
    const sw = swapFlipPairs(kps, pairs, 3);
    assert.deepEqual([...sw.subarray(3, 6)], [12, 102, 2]);
    assert.deepEqual([...sw.subarray(0, 3)], [10, 100, 2]);
    const M = cropMatrix([18, 108], 40, 0, 96, 128, true);
    const t = keypointsToTarget(sw, M, 96, 128, 'official');
    // left eye (1) of the flipped crop sits at the mirror of the right eye (2)
    const plain = keypointsToTarget(kps, cropMatrix([18, 108], 40, 0, 96, 128), 96, 128, 'official');
    assert.ok(Math.abs(t.target[2] - (-plain.target[4] - 1 / 96)) < 1e-6);
    assert.ok(Math.abs(t.target[3] - plain.target[5]) < 1e-6);
    const back = swapFlipPairs(targetToImage(t.target, 'official', invertAffine(M), 96, 128), pairs, 2);
    for (let k = 0; k < 17; k++) assert.ok(Math.abs(back[2 * k] - kps[3 * k]) < 1e-4 && Math.abs(back[2 * k + 1] - kps[3 * k + 1]) < 1e-4);
  });
});

// ---------------------------------------------------------------- augment + dataset

describe('augment', () => {
  test('seeded parameters: reproducible, within ranges, probabilities about right', () => {
    const o = resolveAugmentOptions({}, 17);
    const kps = new Float32Array(51);
    for (let k = 0; k < 17; k++) kps.set([100 + (k % 4) * 10, 50 + k * 10, 2], 3 * k);
    const box = boxToCenterScale([90, 40, 50, 180], 0.75);
    const a = sampleCropParams(new Rng(9), kps, box, 0.75, o), b = sampleCropParams(new Rng(9), kps, box, 0.75, o);
    assert.deepEqual(a, b);
    const r = new Rng(1);
    let flips = 0, rots = 0, halves = 0;
    const N = 4000;
    for (let i = 0; i < N; i++) {
      const p = sampleCropParams(r, kps, box, 0.75, o);
      if (p.flip) flips++;
      if (p.rotation !== 0) rots++;
      if (p.halfBody) halves++;
      assert.ok(Math.abs(p.rotation) <= 60);
      if (!p.halfBody) { const s = p.scale[0] / box.scale[0]; assert.ok(s >= 0.75 - 1e-12 && s <= 1.25 + 1e-12); }
    }
    assert.ok(Math.abs(flips / N - 0.5) < 0.04 && Math.abs(rots / N - 0.6) < 0.04 && Math.abs(halves / N - 0.3) < 0.04, `${flips} ${rots} ${halves}`);
    const few = kps.slice(); for (let k = 0; k < 10; k++) few[3 * k + 2] = 0;
    for (let i = 0; i < 200; i++) assert.equal(sampleCropParams(r, few, box, 0.75, o).halfBody, false);
    assert.throws(() => resolveAugmentOptions({ flipProb: 2 }, 17), /augment: flipProb must be in \[0, 1\], got 2/);
  });

  test('presets: paper = the defaults, mild and noflip are milder, none is off; unknown names are errors', () => {
    assert.deepEqual(resolveAugmentPreset('paper'), {});
    assert.equal(resolveAugmentPreset('none'), false);
    assert.equal(resolveAugmentPreset(true), true);
    const mild = resolveAugmentOptions(resolveAugmentPreset('mild') as object, 17), paper = resolveAugmentOptions({}, 17);
    assert.ok(mild.rotFactor < paper.rotFactor && mild.rotProb < paper.rotProb && mild.scaleFactor < paper.scaleFactor && mild.halfBodyProb === 0);
    assert.equal(resolveAugmentOptions(resolveAugmentPreset('noflip') as object, 17).flipProb, 0);
    assert.deepEqual(Object.keys(AUGMENT_PRESETS).sort(), ['mild', 'noflip', 'none', 'paper']);
    assert.throws(() => resolveAugmentPreset('strong'), /augment: expected one of paper, mild, noflip, none, got "strong"/);
    const r = new Rng(3), o = resolveAugmentOptions(resolveAugmentPreset('noflip') as object, 17);
    const kps = new Float32Array(51).fill(1);
    for (let i = 0; i < 500; i++) assert.equal(sampleCropParams(r, kps, boxToCenterScale([0, 0, 50, 100], 0.75), 0.75, o).flip, false);
  });

  test('half body: box around the upper or lower labelled joints, ×1.5', () => {
    const kps = new Float32Array(51);
    for (let k = 0; k < 17; k++) kps.set([k < 11 ? 10 : 30, k < 11 ? k * 2 : 100 + k, 2], 3 * k);
    const up = halfBodyBox(kps, resolveAugmentOptions({}, 17).upperBody, 1, 1.5, true)!;
    assert.deepEqual(up.center, [10, 10]);
    assert.deepEqual(up.scale, [30, 30]);
    const low = halfBodyBox(kps, resolveAugmentOptions({}, 17).upperBody, 1, 1.5, false)!;
    assert.deepEqual(low.center, [30, 113.5]);
  });
});

describe('TopDownDataset', () => {
  const W = 64, H = 80;
  const img = { width: W, height: H, data: randomRgb(W, H, 11) };
  const samples = Array.from({ length: 10 }, (_, i) => {
    const kp = new Float32Array(51);
    for (let k = 0; k < 17; k++) kp.set([10 + ((k * 7 + i) % 40), 8 + ((k * 5 + i) % 60), k % 5 === 0 ? 1 : 2], 3 * k);
    return { annId: i, imageId: 1, file: 'x.png', imageWidth: W, imageHeight: H, bbox: [5, 5, 50, 68] as [number, number, number, number], keypoints: kp, area: 1000, numKeypoints: 17 };
  });

  test('deterministic batches for a seed, independent of call order with an epoch key', async () => {
    const mk = () => new TopDownDataset(samples, () => img, { inputSize: [32, 24], convention: 'official', augment: true, seed: 5 });
    const a = mk(), b = mk();
    const x1 = await a.batch([3, 1, 4]), x2 = await b.batch([3, 1, 4]);
    assert.deepEqual(x1.images, x2.images); assert.deepEqual(x1.target, x2.target); assert.deepEqual(x1.weight, x2.weight);
    assert.equal(x1.images.length, 3 * 32 * 24 * 3);
    assert.equal(x1.target.length, 3 * 17 * 2);
    const y1 = await a.batch([3, 1, 4]);
    assert.notDeepEqual(y1.target, x1.target); // the next call draws new augmentation
    const e1 = await a.batch([7, 2], { epoch: 9 });
    await b.batch([0, 5, 6], { epoch: 1 });
    const e2 = await b.batch([2, 7], { epoch: 9 });
    assert.deepEqual(e1.images.subarray(0, 32 * 24 * 3), e2.images.subarray(32 * 24 * 3));
    const c = new TopDownDataset(samples, () => img, { inputSize: [32, 24], convention: 'official', augment: true, seed: 6 });
    assert.notDeepEqual((await c.batch([3, 1, 4], { epoch: 0 })).target, x1.target);
  });

  test('epoch: a seeded permutation in batches', () => {
    const d = new TopDownDataset(samples, () => img, { inputSize: [32, 24], convention: 'mmpose', augment: false, seed: 1 });
    const e = d.epoch(4, new Rng(3));
    assert.deepEqual(e.map((b) => b.length), [4, 4, 2]);
    assert.deepEqual(e.flat().sort((p, q) => p - q), [...Array(10).keys()]);
    assert.deepEqual(d.epoch(4, new Rng(3)), e);
    assert.deepEqual(d.epoch(4, new Rng(3), { dropLast: true }).length, 2);
    assert.throws(() => d.epoch(0, new Rng(1)), RangeError);
  });

  test('predictions map back to the image (flip and rotation undone), async provider, cache', async () => {
    let reads = 0;
    for (const convention of ['official', 'mmpose'] as const) {
      const d = new TopDownDataset(samples, async () => { reads++; return img; }, { inputSize: [128, 96], convention, augment: { halfBodyProb: 0 }, seed: 2, cacheImages: true });
      for (let rep = 0; rep < 4; rep++) {
        const b = await d.batch([0, 1, 2, 3, 4, 5]);
        for (let i = 0; i < 6; i++) {
          const xy = d.toImage(b.target.subarray(i * 34, i * 34 + 34), b.crops[i]);
          const s = samples[b.crops[i].sampleIndex];
          const wgt = b.weight.subarray(i * 34, i * 34 + 34);
          const pairs = resolveAugmentOptions({}, 17).flipPairs;
          const wOrig = b.crops[i].flip ? swapFlipPairs(Float32Array.from(wgt), pairs, 2) : wgt;
          for (let k = 0; k < 17; k++) {
            if (!wOrig[2 * k]) continue;
            assert.ok(Math.abs(xy[2 * k] - s.keypoints[3 * k]) < 1e-3 && Math.abs(xy[2 * k + 1] - s.keypoints[3 * k + 1]) < 1e-3);
          }
        }
      }
    }
    assert.equal(reads, 2); // one image, cached, once per dataset
  });

  test('validation', () => {
    assert.throws(() => new TopDownDataset([], () => img, { inputSize: [32, 24], convention: 'official', augment: false, seed: 1 }), RangeError);
    assert.throws(() => new TopDownDataset(samples, () => img, { inputSize: [32, 0], convention: 'official', augment: false, seed: 1 }), /inputSize must be \[H, W\]/);
    assert.throws(() => new TopDownDataset(samples, () => img, { inputSize: [32, 24], convention: 'x' as Convention, augment: false, seed: 1 }), TypeError);
  });
});

// ---------------------------------------------------------------- synthetic

describe('synthetic benchmark', () => {
  test('deterministic: same seed → byte-identical PNGs and JSON; another seed differs', async () => {
    const hashOf = async (seed: number) => {
      const r = await generateSynthetic({ numImages: 6, seed, valFraction: 1 / 3, keep: 'png' });
      const h = createHash('sha256');
      for (const s of [r.train, r.val]) { h.update(JSON.stringify(s.coco)); for (const im of s.images) h.update(im.png!); }
      return { hash: h.digest('hex'), r };
    };
    const a = await hashOf(123), b = await hashOf(123), c = await hashOf(124);
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
    assert.equal(a.r.train.images.length, 4); assert.equal(a.r.val.images.length, 2);
    assert.deepEqual(a.r.val.coco.images.map((i) => i.id), [5, 6]);
  });

  test('COCO JSON loads with zero skips; labels agree with occluders; visible joints inside boxes and image', async () => {
    const progress: number[] = [];
    const r = await generateSynthetic({ numImages: 24, seed: 77, valFraction: 0.25, imageSize: [160, 128], onProgress: (d, t) => { assert.equal(t, 24); progress.push(d); } });
    assert.deepEqual(progress, [...Array(24).keys()].map((i) => i + 1));
    let occludedByOccluder = 0, labelled = 0, v1 = 0;
    for (const split of [r.train, r.val]) {
      const d = loadCocoKeypoints(JSON.parse(JSON.stringify(split.coco)), { numKeypoints: 17 });
      assert.deepEqual(d.skipped, []);
      assert.equal(d.clipped, 0);
      assert.equal(d.samples.length, split.coco.annotations.length);
      assert.deepEqual(d.flipPairs, resolveAugmentOptions({}, 17).flipPairs);
      const occ = new Map(split.images.map((im) => [im.id, im.occluders]));
      for (const a of split.coco.annotations) {
        const [bx, by, bw, bh] = a.bbox;
        assert.ok(bx >= 0 && by >= 0 && bx + bw <= 128 + 1e-9 && by + bh <= 160 + 1e-9 && bw > 0 && bh > 0);
        assert.equal(a.iscrowd, 0);
        assert.ok(a.area > 0);
        let n = 0;
        for (let k = 0; k < 17; k++) {
          const [x, y, v] = a.keypoints.slice(3 * k, 3 * k + 3);
          if (v === 0) { assert.equal(x, 0); assert.equal(y, 0); continue; }
          n++; labelled++;
          if (v === 1) v1++;
          assert.ok(x >= 0 && x <= 127 && y >= 0 && y <= 159, 'labelled joints lie in the image');
          assert.ok(x >= bx && x <= bx + bw && y >= by && y <= by + bh, `joint ${k} (${x},${y}) outside box ${a.bbox}`);
          const inside = occ.get(a.image_id)!.some((s) => shapeSignedDistance(s, x, y) < 0);
          if (inside) { assert.equal(v, 1, `joint ${k} under an occluder must be v=1`); occludedByOccluder++; }
        }
        assert.equal(a.num_keypoints, n);
        assert.ok(n >= 1);
      }
    }
    assert.ok(occludedByOccluder > 0, 'some joints are hidden by occluders');
    assert.ok(v1 / labelled > 0.05 && v1 / labelled < 0.6, `occluded share ${v1 / labelled}`);
  });

  test('written to disk: the same bytes, loadable with loadCocoDataset, feeding TopDownDataset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rlepose-synth-'));
    try {
      const disk = await generateSynthetic({ outDir: dir, numImages: 4, seed: 5, valFraction: 0.25 });
      const mem = await generateSynthetic({ numImages: 4, seed: 5, valFraction: 0.25, keep: 'png' });
      assert.deepEqual((await readdir(join(dir, 'train', 'images'))).sort(), ['000001.png', '000002.png', '000003.png']);
      const onDisk = new Uint8Array(await readFile(join(dir, 'train', 'images', '000002.png')));
      assert.equal(sha(onDisk), sha(mem.train.images[1].png!));
      assert.equal(await readFile(disk.val.annFile!, 'utf8'), JSON.stringify(mem.val.coco));
      const d = await loadCocoDataset(disk.train.annFile!, disk.train.imageDir!);
      assert.deepEqual(d.skipped, []);
      const ds = new TopDownDataset(d.samples, d.readImage, { inputSize: [64, 48], convention: 'official', augment: true, seed: 1 });
      const b = await ds.batch([0, d.samples.length - 1]);
      assert.equal(b.images.length, 2 * 64 * 48 * 3);
      assert.ok(b.weight.some((w) => w > 0));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('in-memory provider, overlay and tiles', async () => {
    const r = await generateSynthetic({ numImages: 2, seed: 3, valFraction: 0 });
    const prov = syntheticImageProvider(r.train);
    const im = prov(r.train.images[0].file_name) as { width: number; height: number; data: Uint8Array };
    assert.equal(im.data.length, 160 * 128 * 3);
    const anns = r.train.coco.annotations.filter((a) => a.image_id === r.train.images[0].id);
    const o = renderKeypointOverlay(im, anns, { scale: 2 });
    assert.equal(o.width, 256); assert.equal(o.height, 320);
    assert.notDeepEqual(renderKeypointOverlay(im, anns).data, im.data);
    const t = tileImages([o, o, o], 2, 3);
    assert.equal(t.width, 2 * 256 + 9); assert.equal(t.height, 2 * 320 + 9);
    assert.throws(() => prov('nope.png'), RangeError);
    await assert.rejects(generateSynthetic({ numImages: 0, seed: 1 }), /numImages must be a positive integer/);
    await assert.rejects(generateSynthetic({ numImages: 1, seed: 1, imageSize: [16, 16] }), /imageSize must be/);
    await assert.rejects(generateSynthetic({ numImages: 1, seed: 1, difficulty: 2 }), /difficulty must be in \[0, 1\] or one of easy, medium, hard, got 2/);
  });

  test('difficulty: 0 draws no occluders, presets name numbers, medium is the default', async () => {
    const clean = await generateSynthetic({ numImages: 6, seed: 4, valFraction: 0, difficulty: 0 });
    assert.ok(clean.train.images.every((im) => im.occluders.length === 0));
    const hard = await generateSynthetic({ numImages: 6, seed: 4, valFraction: 0, difficulty: 'hard' });
    assert.ok(hard.train.images.some((im) => im.occluders.length > 0));
    assert.equal(hard.train.coco.info.difficulty, SYNTHETIC_DIFFICULTY.hard);
    const a = await generateSynthetic({ numImages: 2, seed: 4, valFraction: 0 });
    const b = await generateSynthetic({ numImages: 2, seed: 4, valFraction: 0, difficulty: 'medium' });
    assert.deepEqual(a.train.images[1].data, b.train.images[1].data);
  });
});
