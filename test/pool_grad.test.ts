// SPDX-License-Identifier: MIT
// Pooling gradients (MaxPoolGrad, AvgPoolGrad): our WASM kernels (SIMD, scalar twin, and as the tfjs
// 'wasm' kernels that replace tfjs-wasm's) must equal tfjs-cpu bit for bit — ties, NaN and -Infinity in
// the windows included; heap balance.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';
import { avgPoolGrad, geometryFromPoolInfo, maxPoolGrad, type PoolGeometry } from '../src/backend/pool_grad.js';

import { rng, int } from './helpers/random.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;


/** Bitwise equality (NaN == NaN, +0 != -0): the kernels must reproduce tfjs-cpu exactly. */
function same(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, tfjs-cpu has ${b[i]}`);
  }
}

interface Case { x: Shape4; filter: [number, number]; strides: [number, number]; pad: Pad; rounding: Rounding }

function randomCase(r: () => number): Case {
  for (;;) {
    const f: [number, number] = [int(r, 1, 4), int(r, 1, 4)];
    const kind = int(r, 0, 2);
    const pad: Pad = kind === 0 ? 'same' : kind === 1 ? 'valid' : int(r, 0, Math.min(f[0], f[1]) >> 1);
    const c: Case = {
      x: [int(r, 1, 5), int(r, 1, 13), int(r, 1, 13), int(r, 1, 13)], filter: f,
      strides: [int(r, 1, 3), int(r, 1, 3)], pad, rounding: typeof pad === 'number' ? (['floor', 'ceil', 'round'] as const)[int(r, 0, 2)] : undefined,
    };
    const info = tf.backend_util.computePool2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.rounding);
    if (info.outHeight > 0 && info.outWidth > 0) return c;
  }
}

/** x with ties (values on a coarse grid), a few NaN and -Infinity; dy random. */
function inputsFor(c: Case, seed: number, special: boolean): { x: Float32Array; dy: Float32Array; outShape: Shape4; g: PoolGeometry; ga: PoolGeometry } {
  const r = rng(seed);
  const info = tf.backend_util.computePool2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.rounding);
  const infoAvg = tf.backend_util.computePool2DInfo(c.x, c.filter, c.strides, 1, c.pad);
  const x = new Float32Array(c.x.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) {
    const u = r();
    x[i] = special && u < 0.04 ? NaN : special && u < 0.08 ? -Infinity : Math.round((r() - 0.5) * 6) / 2;
  }
  const outShape = info.outShape as Shape4;
  const dy = Float32Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 3 + r() * 1e-3);
  return { x, dy, outShape, g: geometryFromPoolInfo(info), ga: geometryFromPoolInfo(infoAvg) };
}

function run(backend: string, kernel: 'MaxPoolGrad' | 'AvgPoolGrad', c: Case, x: Float32Array, dy: Float32Array, outShape: Shape4): Float32Array {
  const prev = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const xt = tf.tensor4d(x, c.x), dyt = tf.tensor4d(dy, outShape);
      const inputs: Record<string, tf.Tensor> = kernel === 'MaxPoolGrad' ? { dy: dyt, input: xt, output: dyt } : { dy: dyt, input: xt };
      const attrs = { filterSize: c.filter, strides: c.strides, pad: c.pad, dimRoundingMode: c.rounding };
      return (tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
    });
  } finally {
    tf.setBackend(prev);
  }
}

const describeCase = (c: Case): string =>
  `x=[${c.x}] filter=[${c.filter}] strides=[${c.strides}] pad=${c.pad} rounding=${c.rounding}`;

before(async () => {
  await ready();
  await tf.setBackend('wasm');
  await tf.setBackend('cpu');
});

describe('MaxPoolGrad', () => {
  it('equals tfjs-cpu bit for bit on random shapes with ties, NaN and -Infinity (SIMD, scalar, chunked, tfjs wasm kernel)', () => {
    const r = rng(21);
    for (let i = 0; i < 60; i++) {
      const c = randomCase(r);
      const { x, dy, outShape, g } = inputsFor(c, 2000 + i, i % 2 === 1);
      const ref = run('cpu', 'MaxPoolGrad', c, x, dy, outShape);
      const what = describeCase(c);
      same(maxPoolGrad(dy, x, g), ref, `SIMD ${what}`);
      same(maxPoolGrad(dy, x, g, { simd: false }), ref, `scalar ${what}`);
      same(maxPoolGrad(dy, x, g, { chunkBytes: 1 }), ref, `one image per chunk ${what}`);
      same(run('wasm', 'MaxPoolGrad', c, x, dy, outShape), ref, `tfjs wasm kernel ${what}`);
    }
  });

  it('equals tfjs-cpu on the trunk\'s max-pool ([8,64,48,32] 3x3/2 pad 1, post-ReLU zeros tie a lot)', () => {
    const c: Case = { x: [8, 64, 48, 32], filter: [3, 3], strides: [2, 2], pad: 1, rounding: undefined };
    const { x, dy, outShape, g } = inputsFor(c, 2100, false);
    for (let i = 0; i < x.length; i++) x[i] = Math.max(0, x[i]);
    const ref = run('cpu', 'MaxPoolGrad', c, x, dy, outShape);
    same(maxPoolGrad(dy, x, g), ref, 'SIMD');
    same(run('wasm', 'MaxPoolGrad', c, x, dy, outShape), ref, 'tfjs wasm kernel');
  });
});

describe('AvgPoolGrad', () => {
  it('equals tfjs-cpu bit for bit on random shapes (SIMD, scalar, chunked, tfjs wasm kernel)', () => {
    const r = rng(22);
    for (let i = 0; i < 40; i++) {
      const c = randomCase(r);
      c.rounding = undefined;   // tfjs's AvgPoolGrad ignores dimRoundingMode
      const { x, dy, outShape, ga } = inputsFor(c, 2200 + i, false);
      const ref = run('cpu', 'AvgPoolGrad', c, x, dy, outShape);
      const what = describeCase(c);
      same(avgPoolGrad(dy, ga), ref, `SIMD ${what}`);
      same(avgPoolGrad(dy, ga, { simd: false }), ref, `scalar ${what}`);
      same(avgPoolGrad(dy, ga, { chunkBytes: 1 }), ref, `one image per chunk ${what}`);
      same(run('wasm', 'AvgPoolGrad', c, x, dy, outShape), ref, `tfjs wasm kernel ${what}`);
    }
  });
});

describe('pool gradients: WASM memory', () => {
  it('holds the same heap before and after, on success and on rejected input', () => {
    const k = getKernels();
    const c: Case = { x: [3, 9, 7, 6], filter: [3, 3], strides: [2, 2], pad: 1, rounding: undefined };
    const { x, dy, outShape, g } = inputsFor(c, 2300, true);
    const before = k.heapInUse();
    maxPoolGrad(dy, x, g);
    avgPoolGrad(dy, g, { simd: false, chunkBytes: 1 });
    assert.equal(k.heapInUse(), before, 'direct');
    assert.throws(() => maxPoolGrad(dy.subarray(1), x, g), RangeError);
    assert.throws(() => avgPoolGrad(dy, { ...g, strideWidth: 0 }), RangeError);
    assert.throws(() => geometryFromPoolInfo({ ...tf.backend_util.computePool2DInfo(c.x, 3, 2, 1, 1), dilationHeight: 2 }), RangeError);
    assert.equal(k.heapInUse(), before, 'after rejected inputs');
    run('wasm', 'MaxPoolGrad', c, x, dy, outShape);
    run('wasm', 'AvgPoolGrad', c, x, dy, outShape);
    assert.equal(k.heapInUse(), before, 'tfjs kernels');
  });
});
