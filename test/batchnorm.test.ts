// SPDX-License-Identifier: MIT
// Training-mode BatchNorm on our fused WASM kernels: values and gradients against a float64 reference
// and against the tfjs-ops path on tfjs-cpu (random shapes, C not a multiple of 4, chunks that split the
// rows, a large mean offset), SIMD = scalar twin bit for bit, running statistics, clear errors, heap balance.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';
import { runBatchNormBackward, runBatchNormForward } from '../src/backend/batchnorm.js';
import { registerWasmTrainingKernels, BN_TRAIN_KERNEL, BN_TRAIN_GRAD_KERNEL } from '../src/backend/wasm_kernels.js';
import { batchNormTrain } from '../src/model/regressflow.js';
import { rng, int, randn } from './helpers/random.js';

const EPS = 1e-5;

before(async () => {
  await ready();
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmTrainingKernels(tf);
});

/** Float64 reference: y, dx, dγ, dβ of Σ w·BN(x) over P rows of C channels. */
function reference(x: Float32Array, C: number, g: Float32Array, b: Float32Array, w: Float32Array) {
  const P = x.length / C;
  const mean = new Float64Array(C), variance = new Float64Array(C);
  for (let i = 0; i < x.length; i++) mean[i % C] += x[i] / P;
  for (let i = 0; i < x.length; i++) variance[i % C] += (x[i] - mean[i % C]) ** 2 / P;
  const rstd = Array.from(variance, (v) => 1 / Math.sqrt(v + EPS));
  const y = new Float64Array(x.length), xh = new Float64Array(x.length);
  const sdy = new Float64Array(C), sdyx = new Float64Array(C);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    xh[i] = (x[i] - mean[c]) * rstd[c];
    y[i] = xh[i] * g[c] + b[c];
    sdy[c] += w[i];
    sdyx[c] += w[i] * xh[i];
  }
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    dx[i] = g[c] * rstd[c] * (w[i] - sdy[c] / P - xh[i] * sdyx[c] / P);
  }
  return { y, dx, dgamma: sdyx, dbeta: sdy, mean, variance };
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i] - b[i])); den = Math.max(den, Math.abs(b[i])); }
  return num / Math.max(den, 1e-30);
}

test('fused BatchNorm kernels: values and gradients equal a float64 reference on random shapes', () => {
  const r = rng(11);
  for (let t = 0; t < 24; t++) {
    const C = int(r, 1, 40), P = int(r, 1, 300);
    const offset = t % 3 === 0 ? 1000 : 0; // a mean far from zero: the pivot keeps the variance exact
    const x = randn(r, P * C).map((v) => v * (0.5 + t % 4) + offset);
    const g = randn(r, C), b = randn(r, C), w = randn(r, P * C);
    const chunkBytes = [16, 256, 1 << 20][t % 3];
    const ref = reference(x, C, g, b, w);
    for (const simd of [true, false]) {
      const y = new Float32Array(P * C), dx = new Float32Array(P * C);
      const st = runBatchNormForward(x, C, g, b, EPS, (o, v) => y.set(v, o), { simd, chunkBytes });
      // The mean's error is judged against the data's scale (a mean near 0 has no relative precision).
      const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const meanErr = st.mean.reduce((m, v, c) => Math.max(m, Math.abs(v - ref.mean[c])), 0) / scale;
      assert.ok(meanErr < 1e-6, `mean ${meanErr} (C=${C}, P=${P})`);
      assert.ok(relErr(st.variance, ref.variance) < (offset ? 1e-4 : 1e-5), `variance ${relErr(st.variance, ref.variance)} (C=${C}, P=${P}, offset ${offset})`);
      assert.ok(relErr(y, ref.y) < (offset ? 1e-3 : 1e-5), `y ${relErr(y, ref.y)} (C=${C}, P=${P})`);
      const gr = runBatchNormBackward(w, x, C, g, Float32Array.from(st.mean), Float32Array.from(st.variance), EPS, (o, v) => dx.set(v, o), { simd, chunkBytes });
      const tol = offset ? 1e-3 : 1e-4;
      assert.ok(relErr(dx, ref.dx) < tol, `dx ${relErr(dx, ref.dx)} (C=${C}, P=${P}, simd ${simd})`);
      assert.ok(relErr(gr.dgamma, ref.dgamma) < tol, `dgamma ${relErr(gr.dgamma, ref.dgamma)}`);
      assert.ok(relErr(gr.dbeta, ref.dbeta) < 1e-5, `dbeta ${relErr(gr.dbeta, ref.dbeta)}`);
    }
  }
});

test('fused BatchNorm kernels: SIMD equals the scalar twin bit for bit', () => {
  const r = rng(5);
  for (const [P, C] of [[97, 3], [130, 8], [64, 37], [1, 5]]) {
    const x = randn(r, P * C), g = randn(r, C), b = randn(r, C), w = randn(r, P * C);
    const out = [true, false].map((simd) => {
      const y = new Float32Array(P * C), dx = new Float32Array(P * C);
      const st = runBatchNormForward(x, C, g, b, EPS, (o, v) => y.set(v, o), { simd });
      const gr = runBatchNormBackward(w, x, C, g, Float32Array.from(st.mean), Float32Array.from(st.variance), EPS, (o, v) => dx.set(v, o), { simd });
      return [y, dx, gr.dgamma, gr.dbeta, Float32Array.from(st.mean), Float32Array.from(st.variance)];
    });
    for (let i = 0; i < out[0].length; i++) {
      assert.deepEqual(Array.from(out[0][i]), Array.from(out[1][i]), `output ${i} (P=${P}, C=${C})`);
    }
  }
});

test('batchNormTrain on tfjs-wasm runs the fused kernels and matches the tfjs-ops path on tfjs-cpu', () => {
  const r = rng(3);
  for (const shape of [[4, 7, 5, 12], [2, 9, 6, 3], [16, 10]] as number[][]) {
    const n = shape.reduce((a, b) => a * b), C = shape[shape.length - 1];
    const xv = randn(r, n).map((v) => v * 3 + 1), gv = randn(r, C), bv = randn(r, C), wv = randn(r, n);
    const run = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor(xv, shape), g = tf.tensor(gv, [C]), b = tf.tensor(bv, [C]), w = tf.tensor(wv, shape);
        const rm = tf.variable(tf.zeros([C])), rv = tf.variable(tf.ones([C]));
        const f = (xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(batchNormTrain(tf, xi, gi, bi, { mean: rm, variance: rv, momentum: 0.1 }), w));
        const y = batchNormTrain(tf, x, g, b, null);
        const grads = tf.grads(f as never)([x, g, b]);
        const res = [y, ...grads, rm, rv].map((t) => t.dataSync().slice());
        rm.dispose(); rv.dispose();
        return res;
      });
    };
    const kernels = tf.getKernel(BN_TRAIN_KERNEL, 'wasm')!.kernelFunc;
    let calls = 0;
    tf.unregisterKernel(BN_TRAIN_KERNEL, 'wasm');
    tf.registerKernel({ kernelName: BN_TRAIN_KERNEL, backendName: 'wasm', kernelFunc: (a) => { calls++; return kernels(a); } });
    let ours;
    try { ours = run('wasm'); } finally {
      tf.unregisterKernel(BN_TRAIN_KERNEL, 'wasm');
      tf.registerKernel({ kernelName: BN_TRAIN_KERNEL, backendName: 'wasm', kernelFunc: kernels });
    }
    assert.ok(calls >= 2, `the fused kernel ran (${calls} calls)`);
    const cpu = run('cpu');
    tf.setBackend('wasm');
    const names = ['y', 'dx', 'dgamma', 'dbeta', 'running mean', 'running variance'];
    for (let i = 0; i < names.length; i++) {
      assert.ok(relErr(ours[i], cpu[i]) < 2e-5, `${names[i]} [${shape}]: ${relErr(ours[i], cpu[i])}`);
    }
  }
});

test('fused BatchNorm: clear errors and a flat heap', () => {
  const h0 = getKernels().heapInUse();
  assert.throws(() => runBatchNormForward(new Float32Array(10), 3, new Float32Array(3), new Float32Array(3), EPS, () => {}),
    /batchNormTrain: x has 10 elements, not a multiple of 3 channels/);
  assert.throws(() => runBatchNormForward(new Float32Array(12), 3, new Float32Array(2), new Float32Array(3), EPS, () => {}),
    /batchNormTrain: gamma must have 3 elements \(shape \[3\]\), got 2/);
  assert.throws(() => runBatchNormBackward(new Float32Array(9), new Float32Array(12), 3, new Float32Array(3), new Float32Array(3), new Float32Array(3), EPS, () => {}),
    /batchNormTrain \(backward\): dy must have 12 elements/);
  assert.throws(() => tf.tidy(() => tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, { dy: tf.zeros([2, 3]), x: tf.zeros([2, 4]), gamma: tf.zeros([4]), mean: tf.zeros([4]), variance: tf.zeros([4]) }, { varianceEpsilon: EPS })),
    /RleposeBatchNormTrainGrad on backend 'wasm' \(rlepose\): dy must have shape \[2,4\]/);
  assert.throws(() => tf.tidy(() => tf.engine().runKernel(BN_TRAIN_KERNEL, { x: tf.zeros([2, 4]), gamma: tf.zeros([3]), beta: tf.zeros([4]) }, { varianceEpsilon: EPS })),
    /RleposeBatchNormTrain on backend 'wasm' \(rlepose\): gamma must have shape \[4\]/);
  const x = randn(rng(1), 600);
  runBatchNormForward(x, 6, new Float32Array(6).fill(1), new Float32Array(6), EPS, () => {});
  assert.equal(getKernels().heapInUse(), h0, 'heap in use is unchanged');
});
