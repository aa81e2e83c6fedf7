// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tf } from '../src/backend/tf.js';
import { ready, wasmHeapInUse } from '../src/index.js';
import { RegressFlowNet, TRUNK_PRESETS, type RegressFlowConfig } from '../src/model/regressflow.js';
import { stateDictFromSafetensors, safetensorsFromStateDict } from '../src/model/checkpoint.js';
import { parityNetworkFile } from '../src/parity/network.js';
import { Trainer } from '../src/train/trainer.js';
import { fixture, readJSON, relErr } from './helpers/util.js';

await ready();

const tiny = (layout: 'official' | 'mmpose', block: 'basic' | 'bottleneck' = 'basic', numJoints = 5): RegressFlowConfig => ({
  layout, numJoints, trunk: { block, stem: 8, widths: [8, 8, 16, 16], depths: [1, 2, 1, 1] }, flow: { hidden: 16, couplings: 2 },
});

for (const backend of ['cpu', 'wasm']) {
  test(`golden parity: regressflow_official_basic on tfjs-${backend} within 1e-4`, async () => {
    await tf.setBackend(backend);
    const rep = parityNetworkFile(readJSON('regressflow_official_basic.json'), new Uint8Array(readFileSync(fixture('regressflow_official_basic.safetensors'))));
    const c = rep.cases[0];
    assert.ok(c.ok, c.error ?? c.quantities.map((q) => `${q.name}=${q.error}`).join(' '));
    assert.equal(c.quantities.length, 4);
  });
}

test('state dict problems are reported all at once; the architecture is read from the shapes', async () => {
  await tf.setBackend('cpu');
  const { stateDict } = stateDictFromSafetensors(new Uint8Array(readFileSync(fixture('regressflow_official_basic.safetensors'))));
  const ok = RegressFlowNet.fromStateDict(tf, stateDict);
  assert.deepEqual(ok.config.trunk, { block: 'basic', stem: 16, widths: [16, 32, 48, 64], depths: [1, 1, 2, 1], inChannels: 3 });
  assert.equal(ok.config.numJoints, 17);
  ok.dispose();
  const bad = new Map(stateDict);
  bad.delete('preact.layer2.0.bn1.running_var');
  bad.set('preact.layer3.1.conv2.weight', { shape: [48, 48, 1, 1], data: new Float32Array(48 * 48) });
  bad.set('preact.extra.weight', { shape: [1], data: new Float32Array(1) });
  assert.throws(() => RegressFlowNet.fromStateDict(tf, bad), (e: Error) =>
    /3 problem\(s\)/.test(e.message) && /missing 'preact\.layer2\.0\.bn1\.running_var' \[32\]/.test(e.message) &&
    /'preact\.layer3\.1\.conv2\.weight' must have shape \[48,48,3,3\], got \[48,48,1,1\]/.test(e.message) && /unexpected 'preact\.extra\.weight'/.test(e.message));
  assert.throws(() => RegressFlowNet.fromStateDict(tf, new Map([['foo', { shape: [1], data: new Float32Array(1) }]])), /cannot tell the layout/);
});

test('export → safetensors → import round-trips every layout and block type exactly', async () => {
  await tf.setBackend('cpu');
  for (const cfg of [tiny('official'), tiny('mmpose'), tiny('official', 'bottleneck', 17)]) {
    const a = RegressFlowNet.create(tf, cfg, 3);
    const bytes = safetensorsFromStateDict(a.stateDict());
    const { stateDict, counters } = stateDictFromSafetensors(bytes);
    assert.ok(counters.size > 0, 'num_batches_tracked written for PyTorch');
    const b = RegressFlowNet.fromStateDict(tf, stateDict);
    assert.deepEqual(b.config.trunk.depths, cfg.trunk.depths);
    assert.equal(b.config.layout, cfg.layout);
    const x = tf.randomNormal([2, 64, 48, 3], 0, 1, 'float32', 1) as import('@tensorflow/tfjs').Tensor4D;
    const pa = a.predict(x), pb = b.predict(x);
    assert.deepEqual(pb.pred, pa.pred);
    assert.deepEqual(pb.sigma, pa.sigma);
    assert.ok(pa.scores.every((s) => s > 0 && s < 1));
    x.dispose(); a.dispose(); b.dispose();
  }
});

test('flip test: predicting on the mirrored image gives the mirrored prediction', async () => {
  await tf.setBackend('cpu');
  for (const layout of ['official', 'mmpose'] as const) {
    const net = RegressFlowNet.create(tf, { ...tiny(layout, 'basic', 17) }, 5);
    const x = tf.randomNormal([1, 64, 48, 3], 0, 1, 'float32', 2) as import('@tensorflow/tfjs').Tensor4D;
    const xf = tf.reverse(x, 2) as import('@tensorflow/tfjs').Tensor4D;
    const a = net.predict(x, { flipTest: true }), b = net.predict(xf, { flipTest: true });
    const W = 48, off = layout === 'official' ? -1 / W : 1 - 1 / W;
    const perm = Array.from({ length: 17 }, (_, k) => k);
    for (const [p, q] of [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]]) { perm[p] = q; perm[q] = p; }
    const mirrored = new Float32Array(34);
    for (let k = 0; k < 17; k++) { mirrored[2 * k] = -b.pred[2 * perm[k]] + off; mirrored[2 * k + 1] = b.pred[2 * perm[k] + 1]; }
    assert.ok(relErr(a.pred, mirrored) < 1e-5, `${layout}: ${relErr(a.pred, mirrored)}`);
    assert.throws(() => net.predict(x, { flipTest: true, flipPairs: [[0, 17]] }), /flip pair \[0,17\] is out of range for K = 17/);
    x.dispose(); xf.dispose(); net.dispose();
  }
});

test('bad images get a clear error', async () => {
  await tf.setBackend('cpu');
  const net = RegressFlowNet.create(tf, tiny('official'), 1);
  const x1 = tf.zeros([1, 64, 48, 1]) as import('@tensorflow/tfjs').Tensor4D;
  const x2 = tf.zeros([1, 16, 48, 3]) as import('@tensorflow/tfjs').Tensor4D;
  assert.throws(() => net.predict(x1), /images must be NHWC \[B,H,W,3\], got \[1,64,48,1\]/);
  assert.throws(() => net.predict(x2), /at least 32×32/);
  x1.dispose(); x2.dispose(); net.dispose();
});

test('training on tfjs-cpu: loss falls, no tensor growth, a flat WASM heap', async () => {
  await tf.setBackend('cpu');
  const net = RegressFlowNet.create(tf, tiny('official', 'basic', 3), 7);
  const tr = new Trainer(net, { lr: 1e-3, clipNorm: 50 });
  const B = 4, K = 3, D = 2;
  const x = tf.randomNormal([B, 64, 48, 3], 0, 1, 'float32', 3) as import('@tensorflow/tfjs').Tensor4D;
  const target = Float32Array.from({ length: B * K * D }, (_, i) => ((i * 37) % 11) / 11 - 0.5);
  const first = (await tr.trainStep(x, target)).loss;
  const n0 = tf.memory().numTensors, h0 = wasmHeapInUse();
  let last = first;
  for (let s = 0; s < 25; s++) last = (await tr.trainStep(x, target)).loss;
  assert.equal(tf.memory().numTensors, n0, 'no tfjs tensor growth per step');
  assert.equal(wasmHeapInUse(), h0, 'flat WASM heap');
  assert.ok(last < first - 1, `loss ${first} → ${last}`);
  await assert.rejects(tr.trainStep(x, new Float32Array(3)), /target must have shape \[B,K,D\] = \[4,3,2\], got 3 values/);
  const bad = target.slice(); bad[4] = NaN;
  await assert.rejects(tr.trainStep(x, bad), /target must be finite, got NaN at flat index 4/);
  tr.dispose(); x.dispose(); net.dispose();
});

test('presets have the documented shapes', () => {
  assert.deepEqual(TRUNK_PRESETS.small, { block: 'basic', stem: 32, widths: [32, 64, 128, 256], depths: [1, 1, 1, 1] });
  assert.equal(TRUNK_PRESETS.resnet50.block, 'bottleneck');
});

test('training BatchNorm: hand-written backward equals autograd of the textbook formula', async () => {
  await tf.setBackend('cpu');
  const { batchNormTrain } = await import('../src/model/regressflow.js');
  const x = tf.randomNormal([3, 5, 4, 6], 0.5, 2, 'float32', 4);
  const g = tf.randomNormal([6], 1, 0.3, 'float32', 5), b = tf.randomNormal([6], 0, 0.3, 'float32', 6);
  const w = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 7);
  const ours = tf.grads((xi: any, gi: any, bi: any) => tf.sum(tf.mul(batchNormTrain(tf, xi, gi, bi, null), w)))([x, g, b]);
  const ref = tf.grads((xi: any, gi: any, bi: any) => {
    const { mean, variance } = tf.moments(xi, [0, 1, 2]);
    return tf.sum(tf.mul(tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, 1e-5))), gi), bi), w));
  })([x, g, b]);
  for (let i = 0; i < 3; i++) assert.ok(relErr(ours[i].dataSync(), ref[i].dataSync()) < 1e-5, `grad ${i}: ${relErr(ours[i].dataSync(), ref[i].dataSync())}`);
  const y = batchNormTrain(tf, x, g, b, null);
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  assert.ok(relErr(mean.dataSync(), b.dataSync()) < 1e-4);
  assert.ok(relErr(variance.dataSync(), tf.square(g).dataSync()) < 1e-3);
});
