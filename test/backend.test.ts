// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as r from '../src/index.js';
import { setWarn } from '../src/backend/report.js';

test('init resolves every op of the table, says why, and counts what ran where', async () => {
  const rep = await r.init();
  assert.ok(rep.network === 'wasm' || rep.network === 'webgpu', `network backend ${rep.network}`);
  assert.equal(rep.ops.length, r.OP_TABLE.length);
  for (const o of rep.ops) assert.ok(o.why.length > 10, `${o.op} has a reason`);
  if (rep.capabilities?.webgpu.adapter?.software) {
    assert.equal(rep.network, 'wasm', 'a software adapter loses to wasm by default');
    assert.ok(rep.notes.some((n) => /software adapter/.test(n)));
  }
  const net = r.RegressFlowNet.create(r.tf, { layout: 'official', trunk: { block: 'basic', stem: 8, widths: [8, 8, 8, 8], depths: [1, 1, 1, 1] }, numJoints: 3 }, 1);
  const tr = new r.Trainer(net);
  const x = r.tf.randomNormal([2, 64, 48, 3]) as import('@tensorflow/tfjs').Tensor4D;
  await tr.trainStep(x, new Float32Array(12));
  const after = r.backendReport();
  const calls = (op: string) => after.ops.find((o) => o.op === op)!.calls;
  assert.ok(calls('conv2d') > 0 && calls('conv2d.backpropFilter') > 0 && calls('rleLoss') > 0 && calls('optimizer.flow') > 0);
  assert.equal(after.ops.find((o) => o.op === 'conv2d.backpropFilter')!.backend, rep.network);
  assert.match(r.formatBackendReport(after), /conv2d\.backpropFilter\s+wasm\s+\d+\s+tfjs-wasm has no kernel: rlepose registers/);
  x.dispose(); tr.dispose(); net.dispose();
});

test('forcing: a backend that cannot serve an op is a clear error naming the op, the backend and why', async () => {
  await assert.rejects(r.init({ force: { rleLoss: 'cpu' } }), /rleLoss: 'cpu' is not a candidate \(candidates: rlepose\)/);
  await assert.rejects(r.init({ backend: 'wasm', force: { conv2d: 'cpu' } }), /conv2d: cpu: tfjs ops run on the network backend 'wasm' \(tensors live on one backend\)/);
  const rep = await r.init({ backend: 'cpu', force: { 'flow.logProb': 'tfjs-ops' } });
  assert.equal(rep.network, 'cpu');
  assert.equal(rep.ops.find((o) => o.op === 'flow.logProb')!.backend, 'tfjs-ops');
  assert.match(rep.ops.find((o) => o.op === 'flow.logProb')!.why, /forced by the user/);
  await r.init();
});

test('when our WASM module cannot start, flow ops fall back with a warning and the rest fail listing why', async () => {
  const warnings: string[] = [];
  setWarn((m) => warnings.push(m));
  try {
    await assert.rejects(r.init({ wasm: new Uint8Array([0, 97, 115, 109, 9, 9, 9, 9]) }), (e: Error) =>
      /op\(s\) have no backend/.test(e.message) && /rleLoss: rlepose: our WASM module failed to start/.test(e.message));
    assert.ok(warnings.some((w) => /flow\.logProb falls back to tfjs-ops \(rlepose: our WASM module failed to start/.test(w)), warnings.join('\n'));
  } finally {
    setWarn((m) => console.warn(m));
    await r.init();
  }
  const f = r.RealNVP.create();
  assert.equal(f.logProb(new Float32Array(2)).length, 1, 'the working module is back after a failed override');
  f.dispose();
});
