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
