// SPDX-License-Identifier: MIT
// The same flow as plain tfjs ops on tfjs-cpu (the oracle) agrees with the golden values and with our kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready, RealNVP } from '../src/index.js';
import { TfjsFlow } from '../src/flow/tfjs_flow.js';
import { readJSON, relErr } from './helpers/util.js';

await ready();

test('tfjs-cpu flow (oracle) matches the golden file and our WASM kernels', async () => {
  await tf.setBackend('cpu');
  for (const file of ['realnvp2d.json', 'realnvp3d.json']) {
    const j = readJSON(file);
    const flow = RealNVP.fromJSON(j.flow);
    const tfl = new TfjsFlow(tf, flow);
    try {
      for (const c of j.cases) {
        const x = tf.tensor2d(c.x.data, c.x.shape);
        const g = tfl.logProbGrad(x);
        const ours = flow.logProbGrad(c.x);
        const lp = tfl.logProb(x).dataSync();
        assert.ok(relErr(lp, c.log_prob.data) < 1e-4);
        assert.ok(relErr(ours.logProb, lp) < 1e-5);
        assert.ok(relErr(ours.gradX, g.gradX.dataSync()) < 1e-5);
        for (const [name, t] of g.gradParams) {
          assert.ok(relErr(ours.gradParams[name].data, t.dataSync()) < 1e-4, name);
        }
        x.dispose(); g.value.dispose(); g.gradX.dispose(); for (const t of g.gradParams.values()) t.dispose();
      }
    } finally {
      tfl.dispose();
      flow.dispose();
    }
  }
});

test('the tfjs-ops RLE loss matches the golden loss file for every variant (value and gradients)', async () => {
  await tf.setBackend('cpu');
  const { rleLossTf } = await import('../src/loss/rle_tf.js');
  const j = readJSON('rle2d.json');
  const flow = RealNVP.fromJSON(j.flow);
  const tfl = new TfjsFlow(tf, flow);
  try {
    for (const c of j.cases) {
      const T = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape);
      const [p, s, t, w] = [T(c.pred), T(c.sigma_logit), T(c.target), T(c.weight)];
      const { value, grads } = tf.valueAndGrads((pp: any, ss: any) => rleLossTf(tf, tfl, c.variant, pp, ss, t, w))([p, s]);
      assert.ok(Math.abs(value.dataSync()[0] - c.loss) / Math.abs(c.loss) < 1e-5, `${c.variant} loss`);
      assert.ok(relErr(grads[0].dataSync(), c.grad_pred.data) < 1e-4, `${c.variant} grad_pred`);
      assert.ok(relErr(grads[1].dataSync(), c.grad_sigma_logit.data) < 1e-4, `${c.variant} grad_sigma_logit`);
      tf.dispose([p, s, t, w, value, ...grads]);
    }
  } finally {
    tfl.dispose();
    flow.dispose();
  }
});
