// SPDX-License-Identifier: MIT
// conv2d input gradient (Conv2DBackpropInput): our WASM kernel (SIMD, scalar twin, and as the tfjs 'wasm'
// kernel that replaces tfjs-wasm's) against tfjs-cpu on random shapes; the class plan; heap balance;
// the override's registration and fallback; a small conv net's gradients on 'wasm' vs 'cpu'.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';
import { geometryFromConvInfo, type ConvGeometry } from '../src/backend/conv_backprop.js';
import { axisClasses, conv2dBackpropInput, convInputPlan } from '../src/backend/conv_input.js';
import {
  registerWasmSpeedKernels, replacedWasmKernel, unregisterWasmSpeedKernels, WASM_SPEED_KERNELS,
} from '../src/backend/wasm_speed_kernels.js';
import { relErr } from './helpers/util.js';

import { rng, int, randn } from './helpers/random.js';
import { onWasm } from './helpers/tfjs.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

const TOL = 1e-4;

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = TOL): void {
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

interface Case { x: Shape4; filter: Shape4; strides: [number, number]; dilations: [number, number]; pad: Pad }

const convInfo = (c: Case) => tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad);
const describeCase = (c: Case): string =>
  `x=[${c.x}] filter=[${c.filter}] strides=[${c.strides}] dil=[${c.dilations}] pad=${JSON.stringify(c.pad)}`;

function randomCase(r: () => number, dilation: boolean): Case {
  for (;;) {
    const k = [1, 3, 7, int(r, 1, 5)][int(r, 0, 3)];
    const KH = k, KW = r() < 0.8 ? k : int(r, 1, 5);
    const p = (): number => int(r, 0, Math.max(2, (k - 1) >> 1) + 1);
    const kind = int(r, 0, 2);
    const pad: Pad = kind === 0 ? 'same' : kind === 1 ? 'valid' : [[0, 0], [p(), p()], [p(), p()], [0, 0]];
    const strides: [number, number] = [int(r, 1, 2), int(r, 1, 2)];
    const dil: [number, number] = dilation && strides[0] === 1 && strides[1] === 1 ? [int(r, 1, 3), int(r, 1, 2)] : [1, 1];
    const c: Case = {
      x: [int(r, 1, 8), int(r, 1, 15), int(r, 1, 15), int(r, 1, 20)], filter: [KH, KW, 0, int(r, 1, 20)],
      strides, dilations: dil, pad,
    };
    c.filter[2] = c.x[3];
    const info = convInfo(c);
    if (info.outHeight > 0 && info.outWidth > 0) return c;
  }
}

function inputsFor(c: Case, seed: number): { dy: Float32Array; w: Float32Array; g: ConvGeometry; outShape: number[] } {
  const r = rng(seed);
  const info = convInfo(c);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return { dy: randn(r, size(info.outShape)), w: randn(r, size(c.filter)), g: geometryFromConvInfo(info), outShape: info.outShape };
}

/** tfjs-cpu's Conv2DBackpropInput; dilations by inflating the filter with zeros (same convolution). */
function oracle(c: Case, dy: Float32Array, w: Float32Array, outShape: number[]): Float32Array {
  const [KH, KW, C, L] = c.filter;
  const [dh, dw] = c.dilations;
  const big: Shape4 = [(KH - 1) * dh + 1, (KW - 1) * dw + 1, C, L];
  const wBig = new Float32Array(big[0] * big[1] * C * L);
  for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
    wBig.set(w.subarray((kh * KW + kw) * C * L, (kh * KW + kw + 1) * C * L), ((kh * dh) * big[1] + kw * dw) * C * L);
  }
  const prev = tf.getBackend();
  tf.setBackend('cpu');
  try {
    return tf.tidy(() => (tf.engine().runKernel('Conv2DBackpropInput',
      { dy: tf.tensor4d(dy, outShape as Shape4), filter: tf.tensor4d(wBig, big) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor)
      .dataSync() as Float32Array);
  } finally {
    tf.setBackend(prev);
  }
}

/** Runs a kernel on backend 'wasm' (ours while the overrides are registered) and returns its values. */

before(async () => {
  await ready();
  await tf.setBackend('wasm');
  await tf.setBackend('cpu');
});

describe('conv2d input gradient (Conv2DBackpropInput)', () => {
  it('matches tfjs-cpu on random shapes: kernels 1/3/7, strides 1-2, all paddings, batch 1-8 (SIMD, scalar, chunked, tfjs wasm kernel)', () => {
    const r = rng(11);
    for (let i = 0; i < 48; i++) {
      const c = randomCase(r, false);
      const { dy, w, g, outShape } = inputsFor(c, 1000 + i);
      const ref = oracle(c, dy, w, outShape);
      const what = describeCase(c);
      const simd = conv2dBackpropInput(dy, w, g);
      close(simd, ref, `SIMD ${what}`);
      close(conv2dBackpropInput(dy, w, g, { simd: false }), ref, `scalar ${what}`);
      close(conv2dBackpropInput(dy, w, g, { chunkBytes: 1 }), simd, `one image per chunk ${what}`, 1e-7);
      close(onWasm('Conv2DBackpropInput', { dy: { v: dy, s: outShape }, filter: { v: w, s: c.filter } },
        { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x }), ref, `tfjs wasm kernel ${what}`);
    }
  });

  it('handles dilations 1-3 (direct API; tfjs never asks for them)', () => {
    const r = rng(12);
    for (let i = 0; i < 16; i++) {
      const c = randomCase(r, true);
      const { dy, w, g, outShape } = inputsFor(c, 1100 + i);
      const ref = oracle(c, dy, w, outShape);
      close(conv2dBackpropInput(dy, w, g), ref, `SIMD ${describeCase(c)}`);
      close(conv2dBackpropInput(dy, w, g, { simd: false }), ref, `scalar ${describeCase(c)}`);
    }
  });

  it('SIMD matches the scalar twin on shapes that hit every tile height, channel tail and run merge', () => {
    const shapes: [Shape4, Shape4, [number, number], [number, number], Pad][] = [
      [[1, 5, 5, 8], [3, 3, 8, 8], [1, 1], [1, 1], 'same'],          // classes of 1, 3, 9 pixels: tiles 1-4
      [[2, 6, 7, 13], [3, 3, 13, 5], [1, 1], [1, 1], 'same'],        // Cin 13: a half panel
      [[3, 7, 9, 17], [3, 3, 17, 3], [2, 2], [1, 1], 'same'],        // stride 2 phases, Cin 17
      [[2, 9, 8, 8], [1, 1, 8, 24], [2, 2], [1, 1], 'valid'],        // 1x1 s2: 3/4 of dx is zero
      [[1, 11, 10, 6], [7, 7, 6, 9], [2, 2], [1, 1], [[0, 0], [3, 3], [3, 3], [0, 0]]], // 7x7/2 stem
      [[2, 3, 3, 4], [7, 7, 4, 5], [1, 1], [1, 1], 'same'],          // filter larger than the image
      [[1, 9, 9, 8], [3, 3, 8, 7], [1, 1], [2, 2], 'same'],          // dilation: taps never contiguous
      [[2, 8, 9, 5], [4, 2, 5, 11], [2, 1], [1, 1], [[0, 0], [2, 0], [0, 1], [0, 0]]],
      [[1, 4, 3, 256], [3, 3, 256, 256], [1, 1], [1, 1], 'same'],     // the trunk's last layer
    ];
    shapes.forEach(([xs, fs, st, dil, pad], i) => {
      const c: Case = { x: xs, filter: fs, strides: st, dilations: dil, pad };
      const { dy, w, g, outShape } = inputsFor(c, 1200 + i);
      const simd = conv2dBackpropInput(dy, w, g);
      close(simd, conv2dBackpropInput(dy, w, g, { simd: false }), describeCase(c), 1e-5);
      close(simd, oracle(c, dy, w, outShape), `vs cpu ${describeCase(c)}`);
    });
  });

  it('groups pixels by their valid taps and merges taps that are adjacent in dy and in the packed filter', () => {
    // 3x3, stride 1, pad 1 on 6 columns: left edge {0,1}, interior {0,1,2}, right edge {1,2}.
    assert.deepEqual(axisClasses(6, 6, 3, 1, 1, 1).map((c) => [c.taps, c.positions]),
      [[[0, 1], [0]], [[0, 1, 2], [1, 2, 3, 4]], [[1, 2], [5]]]);
    // Stride 2: even and odd input positions see different taps (sub-pixel phases).
    assert.deepEqual(axisClasses(6, 3, 3, 2, 1, 1).map((c) => [c.taps, c.positions]),
      [[[1], [0, 2, 4]], [[0, 2], [1, 3]], [[2], [5]]]);
    const g = geometryFromConvInfo(tf.backend_util.computeConv2DInfo([1, 6, 6, 8], [3, 3, 8, 16], 1, 1, 'same'));
    const plan = convInputPlan(g, 8);
    // The interior class: one run per filter row, K = 3 taps x 16 channels.
    const interior = plan.calls.find((c) => c.nRows === 4 && c.nCols === 4)!;
    assert.equal(interior.nRuns, 3);
    for (let t = 0; t < 3; t++) assert.equal(plan.table[interior.runs + 3 * t + 2], 48);
    const g2 = geometryFromConvInfo(tf.backend_util.computeConv2DInfo([1, 6, 6, 8], [3, 3, 8, 16], 2, 1, 'same'));
    const p2 = convInputPlan(g2, 8);
    const even = p2.calls.find((c) => c.nRuns > 0 && c.nRows === 2 && c.nCols === 2)!;   // kh, kw in {0, 2}
    assert.equal(even.nRuns, 2);
  });

  it('gives zeros for empty tensors without touching WASM', () => {
    const g: ConvGeometry = {
      batchSize: 2, inHeight: 0, inWidth: 5, inChannels: 3, outHeight: 0, outWidth: 5, outChannels: 6,
      filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1,
      padTop: 1, padLeft: 1,
    };
    assert.deepEqual(conv2dBackpropInput(new Float32Array(0), new Float32Array(3 * 3 * 3 * 6), g), new Float32Array(0));
    assert.throws(() => conv2dBackpropInput(new Float32Array(3), new Float32Array(3 * 3 * 3 * 6), { ...g, inHeight: 4, outHeight: 4 }), RangeError);
  });

  it('holds the same heap before and after, on success and on rejected input', () => {
    const k = getKernels();
    const c: Case = { x: [3, 9, 7, 13], filter: [3, 3, 13, 10], strides: [2, 1], dilations: [1, 1], pad: 'same' };
    const { dy, w, g, outShape } = inputsFor(c, 1300);
    const before = k.heapInUse();
    conv2dBackpropInput(dy, w, g);
    conv2dBackpropInput(dy, w, g, { simd: false, chunkBytes: 1 });
    assert.equal(k.heapInUse(), before, 'direct');
    assert.throws(() => conv2dBackpropInput(dy.subarray(1), w, g), RangeError);
    assert.throws(() => conv2dBackpropInput(dy, w, { ...g, strideHeight: 0 }), RangeError);
    assert.equal(k.heapInUse(), before, 'after rejected inputs');
    onWasm('Conv2DBackpropInput', { dy: { v: dy, s: outShape }, filter: { v: w, s: c.filter } },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x });
    assert.equal(k.heapInUse(), before, 'tfjs kernel');
  });
});

describe('registerWasmSpeedKernels', () => {
  it('replaces tfjs-wasm kernels once, keeps the originals reachable, and unregister puts them back', () => {
    const again = registerWasmSpeedKernels(tf);
    assert.deepEqual(again.overridden, []);
    assert.deepEqual([...again.alreadyRegistered].sort(), [...WASM_SPEED_KERNELS].sort());
    for (const name of WASM_SPEED_KERNELS) assert.ok(replacedWasmKernel(tf, name), `${name} replaced a tfjs-wasm kernel`);
    const ours = tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc;
    const original = replacedWasmKernel(tf, 'Conv2DBackpropInput')!;
    assert.deepEqual([...unregisterWasmSpeedKernels(tf)].sort(), [...WASM_SPEED_KERNELS].sort());
    assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc, original.kernelFunc);
    const re = registerWasmSpeedKernels(tf);
    assert.deepEqual(re.overridden.map((o) => o.kernelName), [...WASM_SPEED_KERNELS]);
    assert.ok(re.overridden.every((o) => o.fallback && o.reason.length > 20));
    assert.notEqual(tf.getKernel('Conv2DBackpropInput', 'wasm')!.kernelFunc, ours);
  });

  it('sends NCHW to the replaced tfjs-wasm kernel (same answer as tfjs-cpu, no error)', () => {
    const r = rng(13);
    const dy = randn(r, 2 * 5 * 4 * 3), w = randn(r, 3 * 3 * 6 * 5);   // NCHW: dy [2,5,4,3], x [2,6,7,5]
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW', inputShape: [2, 6, 7, 5] };
    const viaWasm = onWasm('Conv2DBackpropInput', { dy: { v: dy, s: [2, 5, 4, 3] }, filter: { v: w, s: [3, 3, 6, 5] } }, attrs);
    const ref = tf.tidy(() => (tf.engine().runKernel('Conv2DBackpropInput',
      { dy: tf.tensor4d(dy, [2, 5, 4, 3]), filter: tf.tensor4d(w, [3, 3, 6, 5]) },
      attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync());
    close(viaWasm, ref, 'NCHW via fallback');
  });
});

describe('end to end: gradients of a small ResNet-like net on backend wasm (overrides in place)', () => {
  it('conv 7x7/2 -> max-pool 3x3/2 -> basic block with 1x1/2 downsample -> avg-pool -> mean: matches tfjs-cpu', () => {
    const r = rng(14);
    const xv = randn(r, 3 * 17 * 13 * 3);
    const shapes: Record<string, Shape4> = {
      stem: [7, 7, 3, 8], c1: [3, 3, 8, 16], c2: [3, 3, 16, 16], ds: [1, 1, 8, 16],
    };
    const init = Object.fromEntries(Object.entries(shapes).map(([k, s]) =>
      [k, randn(r, s.reduce((a, b) => a * b, 1)).map((v) => v * 0.2)])) as Record<string, Float32Array>;
    const target = randn(r, 3 * 16);

    function gradsOn(backend: string): Record<string, Float32Array> {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xv, [3, 17, 13, 3]);
        const ws = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor4d(init[k], s)]));
        const names = ['x', ...Object.keys(shapes)];
        const f = (xx: tf.Tensor, stem: tf.Tensor, c1: tf.Tensor, c2: tf.Tensor, ds: tf.Tensor): tf.Scalar => {
          let h: tf.Tensor4D = tf.relu(tf.conv2d(xx as tf.Tensor4D, stem as tf.Tensor4D, 2, [[0, 0], [3, 3], [3, 3], [0, 0]]));
          h = tf.maxPool(h, 3, 2, 1);
          let y = tf.relu(tf.conv2d(h as tf.Tensor4D, c1 as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]));
          y = tf.conv2d(y as tf.Tensor4D, c2 as tf.Tensor4D, 1, 'same');
          const skip = tf.conv2d(h as tf.Tensor4D, ds as tf.Tensor4D, 2, 'valid');
          h = tf.avgPool(tf.relu(tf.add(y, skip)) as tf.Tensor4D, 2, 1, 'same');
          const pooled = tf.mean(h, [1, 2]);
          return tf.mean(tf.square(tf.sub(pooled, tf.tensor2d(target, [3, 16])))) as tf.Scalar;
        };
        const gs = tf.grads(f as unknown as (...a: tf.Tensor[]) => tf.Tensor)([x, ws.stem, ws.c1, ws.c2, ws.ds]);
        return Object.fromEntries(gs.map((g, i) => [names[i], g.dataSync() as Float32Array]));
      });
    }
    const heapBefore = getKernels().heapInUse();
    const gCpu = gradsOn('cpu');
    const gWasm = gradsOn('wasm');
    for (const k of Object.keys(gCpu)) close(gWasm[k], gCpu[k], `dL/d${k}`);
    assert.equal(getKernels().heapInUse(), heapBefore, 'our heap after the backward pass');
    for (const name of WASM_SPEED_KERNELS) assert.ok(replacedWasmKernel(tf, name), `${name} is ours during the check`);
    tf.setBackend('cpu');
  });
});
