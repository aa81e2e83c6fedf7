// SPDX-License-Identifier: MIT
// Difficulty probe for the synthetic benchmark: trains a small RegressFlow (RLE loss) on it for a few
// steps and reports COCO keypoint AP on its val split with ground-truth boxes. Not part of the tests.
//   node scripts/synthetic-probe.mjs [steps=300] [images=2000] [backend=wasm] [trunk=small]
import { generateSynthetic, syntheticImageProvider } from '../dist/src/data/synthetic.js';
import { loadCocoKeypoints } from '../dist/src/data/coco.js';
import { TopDownDataset } from '../dist/src/data/dataset.js';
import { init, tf, RegressFlowNet, TRUNK_PRESETS, Trainer, evaluateCocoKeypoints, formatCocoStats, Rng } from '../dist/src/index.js';

const steps = Number(process.argv[2] ?? 300), numImages = Number(process.argv[3] ?? 2000);
const backend = process.argv[4] ?? 'wasm', trunk = process.argv[5] ?? 'small';
const B = 32, inputSize = [128, 96];
let t = performance.now();
const data = await generateSynthetic({ numImages, seed: 1, valFraction: 0.1 });
console.log(`generated ${numImages} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const train = loadCocoKeypoints(data.train.coco), val = loadCocoKeypoints(data.val.coco);
await init({ backend });
const net = RegressFlowNet.create(tf, { layout: 'official', trunk: TRUNK_PRESETS[trunk], numJoints: 17 }, 0);
const tr = new Trainer(net, { lr: 1e-3, milestones: [Math.round(steps * 0.8)], warmupSteps: Math.min(100, steps / 10) });
const ds = new TopDownDataset(train.samples, syntheticImageProvider(data.train), { inputSize, convention: 'official', augment: true, seed: 1 });
const rng = new Rng(1);
let step = 0, epoch = 0, lossAvg = 0, tData = 0;
t = performance.now();
outer: for (;;) {
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
