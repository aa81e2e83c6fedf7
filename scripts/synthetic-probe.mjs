// SPDX-License-Identifier: MIT
// Difficulty probe for the synthetic benchmark: trains a small RegressFlow (RLE loss) on it for a few
// steps and reports COCO keypoint AP on its val split with ground-truth boxes. Not part of the tests.
//   node scripts/synthetic-probe.mjs [steps=300] [images=2000] [backend=wasm] [trunk=small] [difficulty=0.5] [checkpoint]
// With a checkpoint path that exists, it is loaded instead of training; otherwise the trained net is saved there.
// Env: PROBE_MAX_PEOPLE (default 3), PROBE_AUGMENT=0 to train without augmentation.
import { generateSynthetic, syntheticImageProvider } from '../dist/src/data/synthetic.js';
import { loadCocoKeypoints } from '../dist/src/data/coco.js';
import { TopDownDataset } from '../dist/src/data/dataset.js';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { init, tf, RegressFlowNet, TRUNK_PRESETS, Trainer, evaluateCocoKeypoints, formatCocoStats, Rng, stateDictFromSafetensors, safetensorsFromStateDict } from '../dist/src/index.js';

const steps = Number(process.argv[2] ?? 300), numImages = Number(process.argv[3] ?? 2000);
const backend = process.argv[4] ?? 'wasm', trunk = process.argv[5] ?? 'small';
const difficulty = Number.isNaN(Number(process.argv[6])) ? process.argv[6] : Number(process.argv[6] ?? 0.5);
const B = 32, inputSize = [128, 96];
let t = performance.now();
const maxPeople = Number(process.env.PROBE_MAX_PEOPLE ?? 3);
const data = await generateSynthetic({ numImages, seed: 1, valFraction: 0.1, difficulty, maxPeople });
console.log(`generated ${numImages} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const train = loadCocoKeypoints(data.train.coco), val = loadCocoKeypoints(data.val.coco);
await init({ backend });
const ckpt = process.argv[7];
const loaded = ckpt && existsSync(ckpt);
const net = loaded
  ? RegressFlowNet.fromStateDict(tf, stateDictFromSafetensors(new Uint8Array(readFileSync(ckpt))).stateDict)
  : RegressFlowNet.create(tf, { layout: 'official', trunk: TRUNK_PRESETS[trunk], numJoints: 17 }, 0);
const tr = new Trainer(net, { lr: 1e-3, milestones: [Math.round(steps * 0.8)], warmupSteps: Math.min(100, steps / 10) });
const ds = new TopDownDataset(train.samples, syntheticImageProvider(data.train), { inputSize, convention: 'official', augment: process.env.PROBE_AUGMENT !== '0', seed: 1 });
const rng = new Rng(1);
let step = 0, epoch = 0, lossAvg = 0, tData = 0;
t = performance.now();
outer: for (; !loaded;) {
  for (const idx of ds.epoch(B, rng, { dropLast: true })) {
    const t0 = performance.now();
    const b = await ds.batch(idx, { epoch });
    tData += performance.now() - t0;
    const x = tf.tensor4d(b.images, [B, inputSize[0], inputSize[1], 3]);
    const r = await tr.trainStep(x, b.target, b.weight);
    x.dispose();
    lossAvg = step === 0 ? r.loss : 0.95 * lossAvg + 0.05 * r.loss;
    step++;
    if (step % 50 === 0) console.log(`step ${step} loss ${lossAvg.toFixed(3)} ${((performance.now() - t) / step).toFixed(0)} ms/step (data ${(tData / step).toFixed(0)} ms)`);
    if (step >= steps) break outer;
  }
  epoch++;
}
if (ckpt && !loaded) writeFileSync(ckpt, safetensorsFromStateDict(net.stateDict()));

/** Mean joint error in crop units (visible joints), eval-mode and batch-statistics BN, and of the mean pose. */
async function errors(split, samples, label) {
  const d = new TopDownDataset(samples, syntheticImageProvider(split), { inputSize, convention: 'official', augment: false, seed: 0 });
  let eEval = 0, eBatch = 0, eMean = 0, n = 0;
  const idx = [...Array(Math.min(256, samples.length)).keys()];
  const mean = new Float64Array(34), cnt = new Float64Array(34);
  const batches = [];
  for (let i = 0; i < idx.length; i += B) {
    const b = await d.batch(idx.slice(i, i + B));
    batches.push(b);
    for (let j = 0; j < b.target.length; j++) if (b.weight[j]) { mean[j % 34] += b.target[j]; cnt[j % 34]++; }
  }
  for (const b of batches) {
    const x = tf.tensor4d(b.images, [b.batchSize, inputSize[0], inputSize[1], 3]);
    const p = net.predict(x);
    const pb = tf.tidy(() => net.heads(net.features(x, true, false), true, false).pred.dataSync());
    x.dispose();
    for (let j = 0; j < b.target.length; j += 2) {
      if (!b.weight[j]) continue;
      const e = (a) => Math.hypot(a[j] - b.target[j], a[j + 1] - b.target[j + 1]);
      eEval += e(p.pred); eBatch += e(pb);
      eMean += Math.hypot(mean[j % 34] / cnt[j % 34] - b.target[j], mean[(j + 1) % 34] / cnt[(j + 1) % 34] - b.target[j + 1]);
      n++;
    }
  }
  console.log(`${label}: mean joint error (crop units) eval-BN ${(eEval / n).toFixed(4)}, batch-BN ${(eBatch / n).toFixed(4)}, mean pose ${(eMean / n).toFixed(4)}`);
}
await errors(data.train, train.samples, 'train');
await errors(data.val, val.samples, 'val');

// evaluation on val with ground-truth boxes, no flip test
const vds = new TopDownDataset(val.samples, syntheticImageProvider(data.val), { inputSize, convention: 'official', augment: false, seed: 0 });
const results = [];
for (let i = 0; i < val.samples.length; i += B) {
  const idx = [...Array(Math.min(B, val.samples.length - i)).keys()].map((j) => i + j);
  const b = await vds.batch(idx);
  const x = tf.tensor4d(b.images, [idx.length, inputSize[0], inputSize[1], 3]);
  const p = net.predict(x);
  x.dispose();
  for (let j = 0; j < idx.length; j++) {
    const xy = vds.toImage(p.pred.subarray(j * 34, j * 34 + 34), b.crops[j]);
    const kp = [];
    let sc = 0;
    for (let k = 0; k < 17; k++) { kp.push(xy[2 * k], xy[2 * k + 1], p.scores[j * 17 + k]); sc += p.scores[j * 17 + k] / 17; }
    const s = val.samples[idx[j]];
    results.push({ image_id: s.imageId, category_id: 1, keypoints: kp, score: sc });
  }
}
const ev = evaluateCocoKeypoints(data.val.coco, results);
console.log(formatCocoStats(ev));
