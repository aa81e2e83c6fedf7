// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/backend/tf.js';
import { ready } from '../src/index.js';
import { RegressFlowNet } from '../src/model/regressflow.js';
import { Trainer } from '../src/train/trainer.js';
import { serializeCheckpoint, restoreCheckpoint, saveCheckpointFile, loadCheckpointFile } from '../src/train/checkpoint.js';
import { Rng } from '../src/util/rng.js';

await ready();

function batch(rng: Rng, B: number, K: number): { x: import('@tensorflow/tfjs').Tensor4D; t: Float32Array } {
  const x = tf.tensor4d(Float32Array.from({ length: B * 64 * 48 * 3 }, () => rng.normal()), [B, 64, 48, 3]);
  const t = Float32Array.from({ length: B * K * 2 }, () => rng.uniform(-0.4, 0.4));
  return { x, t };
}

function snapshot(net: RegressFlowNet): Float32Array[] {
  return [...net.stateDict().values()].map((t) => t.data);
}

for (const backend of ['cpu', 'wasm']) {
  test(`a resumed run continues bit-identically on tfjs-${backend} (model, flow, both optimizers, step, RNG)`, async () => {
    await tf.setBackend(backend);
    const cfg = { layout: 'official' as const, numJoints: 3, trunk: { block: 'basic' as const, stem: 8, widths: [8, 8, 16, 16], depths: [1, 1, 1, 1] }, flow: { hidden: 16, couplings: 2 } };
    const net = RegressFlowNet.create(tf, cfg, 11);
    const tr = new Trainer(net, { lr: 2e-3, warmupSteps: 4, milestones: [5], clipNorm: 100 });
    const rng = new Rng(5);
    for (let s = 0; s < 3; s++) { const b = batch(rng, 2, 3); await tr.trainStep(b.x, b.t); b.x.dispose(); }
    const ckpt = serializeCheckpoint(tr, { rng: rng.getState(), note: 'mid-run' });
    const losses: number[] = [];
    for (let s = 0; s < 4; s++) { const b = batch(rng, 2, 3); losses.push((await tr.trainStep(b.x, b.t)).loss); b.x.dispose(); }
    const a = snapshot(net);
    tr.dispose(); net.dispose();

    const r = restoreCheckpoint(tf, ckpt);
    assert.equal(r.trainer.step, 3);
    assert.deepEqual((r.meta.extra as { note: string }).note, 'mid-run');
    const rng2 = new Rng(0);
    rng2.setState((r.meta.extra as { rng: ReturnType<Rng['getState']> }).rng);
    const losses2: number[] = [];
    for (let s = 0; s < 4; s++) { const b = batch(rng2, 2, 3); losses2.push((await r.trainer.trainStep(b.x, b.t)).loss); b.x.dispose(); }
    assert.deepEqual(losses2, losses, 'same losses, bit for bit');
    const b2 = snapshot(r.net);
    assert.equal(b2.length, a.length);
    for (let i = 0; i < a.length; i++) assert.deepEqual(b2[i], a[i]);
    r.trainer.dispose(); r.net.dispose();
  });
}

test('checkpoint files are written atomically: a failed save leaves the good file intact', async () => {
  await tf.setBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'rlepose-ckpt-'));
  try {
    const net = RegressFlowNet.create(tf, { layout: 'official', numJoints: 2, trunk: { block: 'basic', stem: 8, widths: [8, 8, 8, 8], depths: [1, 1, 1, 1] }, flow: { hidden: 8, couplings: 2 } }, 1);
    const tr = new Trainer(net);
    const file = join(dir, 'ckpt.safetensors');
    await saveCheckpointFile(file, tr, { epoch: 1 });
    const good = readFileSync(file);
    tr.flowOpt.dispose(); // the next save fails half-way (reading the disposed optimizer)
    await assert.rejects(saveCheckpointFile(file, tr, { epoch: 2 }));
    assert.deepEqual(readFileSync(file), good, 'the previous checkpoint is untouched');
    const back = await loadCheckpointFile(tf, file);
    assert.deepEqual(back.meta.extra, { epoch: 1 });
    back.trainer.dispose(); back.net.dispose();
    writeFileSync(join(dir, 'bad.safetensors'), new Uint8Array([1, 2, 3]));
    await assert.rejects(loadCheckpointFile(tf, join(dir, 'bad.safetensors')), /safetensors/);
    net.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainLoop: seeded order, periodic atomic checkpoints, and a resumed loop that matches the uninterrupted one', async () => {
  await tf.setBackend('cpu');
  const { trainLoop } = await import('../src/train/loop.js');
  const K = 2;
  const data = {
    size: 7,
    async batch(idx: number[]) {
      const images = new Float32Array(idx.length * 64 * 48 * 3), target = new Float32Array(idx.length * K * 2), weight = new Float32Array(idx.length * K * 2).fill(1);
      idx.forEach((i, b) => {
        const r = new Rng(100 + i);
        for (let j = 0; j < 64 * 48 * 3; j++) images[b * 64 * 48 * 3 + j] = r.normal();
        for (let j = 0; j < K * 2; j++) target[b * K * 2 + j] = r.uniform(-0.4, 0.4);
      });
      return { images, target, weight };
    },
  };
  const cfg = { layout: 'official' as const, numJoints: K, trunk: { block: 'basic' as const, stem: 8, widths: [8, 8, 8, 8], depths: [1, 1, 1, 1] }, flow: { hidden: 8, couplings: 2 } };
  const dir = mkdtempSync(join(tmpdir(), 'rlepose-loop-'));
  try {
    const netA = RegressFlowNet.create(tf, cfg, 2);
    const trA = new Trainer(netA);
    const full = await trainLoop(tf, trA, data, { steps: 6, batchSize: 3, inputSize: [64, 48], seed: 4 });
    assert.equal(full.step, 6);
    assert.equal(full.epoch, 2, '18 samples drawn from 7: two reshuffles');
    const netB = RegressFlowNet.create(tf, cfg, 2);
    const trB = new Trainer(netB);
    const file = join(dir, 'c.safetensors');
    let stops = 0;
    await trainLoop(tf, trB, data, { steps: 6, batchSize: 3, inputSize: [64, 48], seed: 4, checkpointPath: file, checkpointEvery: 2, shouldStop: () => ++stops >= 3 });
    const back = await loadCheckpointFile(tf, file);
    const loop = (back.meta.extra as { loop: import('../src/train/loop.js').LoopState }).loop;
    assert.equal(loop.step, 3);
    const rest = await trainLoop(tf, back.trainer, data, { steps: 6, batchSize: 3, inputSize: [64, 48], seed: 4, resume: loop });
    assert.deepEqual(rest.history, full.history, 'the resumed run has the same losses, bit for bit');
    for (const [a, b] of [[snapshot(netA), snapshot(back.net)]]) for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i]);
    for (const t of [trA, trB, back.trainer]) t.dispose();
    for (const n of [netA, netB, back.net]) n.dispose();
    await assert.rejects(trainLoop(tf, trA, { size: 0, batch: data.batch }, { steps: 1, batchSize: 1, inputSize: [64, 48] }), /the dataset is empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
