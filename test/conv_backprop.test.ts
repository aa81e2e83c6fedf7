// SPDX-License-Identifier: MIT
// Convolution gradients: our WASM kernels (SIMD and scalar twin, direct and as tfjs 'wasm' kernels)
// against tfjs-cpu as the oracle, on random shapes; heap balance; registration; a tiny net trained on
// backend 'wasm' whose gradients match tfjs-cpu's.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';
import {
  conv2dBackpropFilter, depthwiseConv2dBackpropFilter, depthwiseConv2dBackpropInput, geometryFromConvInfo,
  type ConvGeometry,
} from '../src/backend/conv_backprop.js';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../src/backend/wasm_kernels.js';

import { rng, int, randn } from './helpers/random.js';
import { onWasm } from './helpers/tfjs.js';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

const TOL = 1e-4;


function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = TOL): void {
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

interface Case {
  x: Shape4; filter: Shape4; strides: [number, number]; dilations: [number, number]; pad: Pad; depthwise: boolean;
}

function randomPad(r: () => number): Pad {
  const k = int(r, 0, 2);
  if (k === 0) return 'same';
  if (k === 1) return 'valid';
  return [[0, 0], [int(r, 0, 2), int(r, 0, 2)], [int(r, 0, 2), int(r, 0, 2)], [0, 0]];
}

function randomCase(r: () => number, depthwise: boolean, allowDilation: boolean): Case {
  for (;;) {
    const N = int(r, 1, 8), H = int(r, 1, 13), W = int(r, 1, 13);
    const C = depthwise ? int(r, 1, 13) : int(r, 1, 20);
    const KH = int(r, 1, 5), KW = int(r, 1, 5);
    const last = depthwise ? int(r, 1, 2) : int(r, 1, 20);
    const strides: [number, number] = [int(r, 1, 2), int(r, 1, 2)];
    // tfjs allows dilation > 1 only with stride 1 (for depthwise); our kernels take both.
    const dil: [number, number] = allowDilation && strides[0] === 1 && strides[1] === 1 ? [int(r, 1, 2), int(r, 1, 2)] : [1, 1];
    const c: Case = { x: [N, H, W, C], filter: [KH, KW, C, last], strides, dilations: dil, pad: randomPad(r), depthwise };
    const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, strides, dil, c.pad, undefined, depthwise);
    if (info.outHeight > 0 && info.outWidth > 0) return c;
  }
}

function convInfo(c: Case) {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations, c.pad, undefined, c.depthwise);
}

// The effective (zero-inflated) filter of a dilated one: a dilation-1 convolution with the same output.
function inflatedShape(c: Case): Shape4 {
  const [KH, KW, C, L] = c.filter;
  return [(KH - 1) * c.dilations[0] + 1, (KW - 1) * c.dilations[1] + 1, C, L];
}

/** tfjs-cpu oracle for the three gradients; dilations by inflating the filter (cpu ignores them). */
function oracle(c: Case, x: Float32Array, dy: Float32Array, w: Float32Array): { dW: Float32Array; dx?: Float32Array } {
  const [KH, KW, C, L] = c.filter;
  const [dh, dw] = c.dilations;
  const big = inflatedShape(c);
  return tf.tidy(() => {
    const info = convInfo(c);
    const xt = tf.tensor4d(x, c.x), dyt = tf.tensor4d(dy, info.outShape);
    const kernel = c.depthwise ? 'DepthwiseConv2dNativeBackpropFilter' : 'Conv2DBackpropFilter';
    const attrs = c.depthwise
      ? { strides: c.strides, pad: c.pad, dilations: 1, filterShape: big }
      : { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: big };
    const dWbig = (tf.engine().runKernel(kernel, { x: xt, dy: dyt }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync();
    const dW = new Float32Array(KH * KW * C * L);
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const src = ((kh * dh) * big[1] + kw * dw) * C * L, dst = (kh * KW + kw) * C * L;
      dW.set(dWbig.subarray(src, src + C * L), dst);
    }
    if (!c.depthwise) return { dW };
    const wBig = new Float32Array(big[0] * big[1] * C * L);
    for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const src = (kh * KW + kw) * C * L, dst = ((kh * dh) * big[1] + kw * dw) * C * L;
      wBig.set(w.subarray(src, src + C * L), dst);
    }
    const dx = (tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy: dyt, filter: tf.tensor4d(wBig, big) },
      { strides: c.strides, pad: c.pad, dilations: 1, inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
    return { dW, dx };
  });
}

function describeCase(c: Case): string {
  return `x=[${c.x}] filter=[${c.filter}] strides=[${c.strides}] dil=[${c.dilations}] pad=${JSON.stringify(c.pad)}`;
}

function inputsFor(c: Case, seed: number): { x: Float32Array; dy: Float32Array; w: Float32Array; g: ConvGeometry } {
  const r = rng(seed);
  const info = convInfo(c);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return {
    x: randn(r, size(c.x)), dy: randn(r, size(info.outShape)), w: randn(r, size(c.filter)),
    g: geometryFromConvInfo(info),
  };
}

/** Runs a tfjs kernel on backend 'wasm' (ours after registration) and returns its values. */

before(async () => {
  await ready();
  await tf.setBackend('wasm');
  await tf.setBackend('cpu');
  registerWasmTrainingKernels(tf);
});

describe('conv2d filter gradient (Conv2DBackpropFilter)', () => {
  it('matches tfjs-cpu on random shapes (SIMD, scalar twin, and the registered wasm kernel)', () => {
    const r = rng(1);
    for (let i = 0; i < 40; i++) {
      const c = randomCase(r, false, false);
      const { x, dy, w, g } = inputsFor(c, 100 + i);
      const ref = oracle(c, x, dy, w).dW;
      const what = describeCase(c);
      const simd = conv2dBackpropFilter(x, dy, g);
      close(simd, ref, `SIMD ${what}`);
      close(conv2dBackpropFilter(x, dy, g, { simd: false }), ref, `scalar ${what}`);
      close(conv2dBackpropFilter(x, dy, g, { chunkBytes: 1 }), simd, `one image per chunk ${what}`, 1e-6);
      const viaTf = onWasm('Conv2DBackpropFilter', { x: { v: x, s: c.x }, dy: { v: dy, s: convInfo(c).outShape } },
        { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter });
      close(viaTf, ref, `tfjs wasm kernel ${what}`);
    }
  });

  it('handles dilations (not reachable through tfjs, whose conv2d gradient rejects them)', () => {
    const r = rng(2);
    for (let i = 0; i < 12; i++) {
      const c = randomCase(r, false, true);
      c.dilations = [int(r, 1, 2), int(r, 1, 2)];
      c.strides = [1, 1];
      if (convInfo(c).outHeight <= 0 || convInfo(c).outWidth <= 0) continue;
      const { x, dy, w, g } = inputsFor(c, 200 + i);
      const ref = oracle(c, x, dy, w).dW;
      close(conv2dBackpropFilter(x, dy, g), ref, `SIMD ${describeCase(c)}`);
      close(conv2dBackpropFilter(x, dy, g, { simd: false }), ref, `scalar ${describeCase(c)}`);
    }
  });

  it('SIMD matches the scalar twin on shapes that hit every GEMM tile (rows 4/3/2/1, merged and border columns, image blocks)', () => {
    const shapes: [Shape4, Shape4, number, Pad][] = [
      [[2, 9, 11, 7], [3, 3, 7, 24], 1, 'same'],      // M = 21 = 4*5 + 1
      [[1, 12, 10, 5], [3, 5, 5, 16], 2, 'same'],     // M = 25 = 4*6 + 1
      [[3, 7, 7, 9], [2, 2, 9, 8], 1, 'valid'],       // M = 18 = 4*4 + 2
      [[2, 5, 8, 5], [1, 3, 5, 8], 1, 'same'],        // M = 15 = 4*3 + 3
      [[2, 6, 9, 3], [3, 3, 3, 13], 2, [[0, 0], [2, 0], [1, 2], [0, 0]]], // Cout padded 13 -> 16
      [[1, 5, 4, 32], [1, 1, 32, 40], 1, 'valid'],    // 1x1
      [[2, 21, 17, 3], [7, 7, 3, 32], 2, [[0, 0], [3, 3], [3, 3], [0, 0]]], // the stem: M = 21, strided A
      // Small feature maps: several images per block (5, 5, 2), rows of 1-2 columns, so the tile's
      // loops are reordered (images or rows innermost).
      [[12, 4, 3, 16], [3, 3, 16, 16], 1, 'same'],
      [[11, 3, 2, 8], [3, 3, 8, 24], 2, 'same'],
      [[7, 8, 6, 12], [3, 3, 12, 8], 2, [[0, 0], [1, 1], [1, 1], [0, 0]]],
    ];
    shapes.forEach(([xs, fs, s, pad], i) => {
      const c: Case = { x: xs, filter: fs, strides: [s, s], dilations: [1, 1], pad, depthwise: false };
      const { x, dy, w, g } = inputsFor(c, 300 + i);
      const scalar = conv2dBackpropFilter(x, dy, g, { simd: false });
      close(conv2dBackpropFilter(x, dy, g), scalar, describeCase(c), 1e-5);
      close(conv2dBackpropFilter(x, dy, g, { chunkBytes: 1 }), scalar, `one image per call ${describeCase(c)}`, 1e-5);
      close(scalar, oracle(c, x, dy, w).dW, `scalar vs cpu ${describeCase(c)}`);
    });
  });
});

describe('depthwise gradients (DepthwiseConv2dNativeBackpropFilter / BackpropInput)', () => {
  it('match tfjs-cpu on random shapes, channel multiplier 1-2, dilation 1-2 (SIMD, scalar, registered kernels)', () => {
    const r = rng(3);
    for (let i = 0; i < 50; i++) {
      const c = randomCase(r, true, true);
      const { x, dy, w, g } = inputsFor(c, 400 + i);
      const ref = oracle(c, x, dy, w);
      const what = describeCase(c);
      close(depthwiseConv2dBackpropFilter(x, dy, g), ref.dW, `filter SIMD ${what}`);
      close(depthwiseConv2dBackpropFilter(x, dy, g, { simd: false }), ref.dW, `filter scalar ${what}`);
      close(depthwiseConv2dBackpropFilter(x, dy, g, { chunkBytes: 1 }), ref.dW, `filter chunked ${what}`);
      close(depthwiseConv2dBackpropInput(dy, w, g), ref.dx!, `input SIMD ${what}`);
      close(depthwiseConv2dBackpropInput(dy, w, g, { simd: false }), ref.dx!, `input scalar ${what}`);
      close(depthwiseConv2dBackpropInput(dy, w, g, { chunkBytes: 1 }), ref.dx!, `input chunked ${what}`);
      const outShape = convInfo(c).outShape;
      const attrs = { strides: c.strides, pad: c.pad, dilations: c.dilations };
      close(onWasm('DepthwiseConv2dNativeBackpropFilter', { x: { v: x, s: c.x }, dy: { v: dy, s: outShape } },
        { ...attrs, filterShape: c.filter }), ref.dW, `filter tfjs wasm kernel ${what}`);
      close(onWasm('DepthwiseConv2dNativeBackpropInput', { dy: { v: dy, s: outShape }, filter: { v: w, s: c.filter } },
        { ...attrs, inputShape: c.x }), ref.dx!, `input tfjs wasm kernel ${what}`);
    }
  });

  it('SIMD matches the scalar twin with strides and dilations together and wide channels', () => {
    const shapes: [Shape4, Shape4, [number, number], [number, number], Pad][] = [
      [[2, 11, 9, 24], [3, 3, 24, 1], [2, 2], [2, 2], 'same'],
      [[1, 13, 12, 8], [5, 4, 8, 2], [2, 1], [1, 3], 'valid'],
      [[3, 9, 10, 6], [3, 3, 6, 2], [1, 2], [2, 1], [[0, 0], [1, 2], [2, 0], [0, 0]]],
      [[2, 8, 8, 36], [7, 7, 36, 1], [1, 1], [1, 1], 'same'],
      [[1, 10, 10, 5], [3, 3, 5, 3], [2, 2], [1, 1], 'same'],  // C*M = 15: scalar tails
      // Narrow rows: 1, 2, 3 interior columns for the sliding-window paths (stride == dilation).
      [[2, 5, 3, 8], [3, 3, 8, 1], [1, 1], [1, 1], 'same'],
      [[2, 5, 4, 8], [3, 3, 8, 1], [1, 1], [1, 1], 'same'],
      [[2, 5, 5, 8], [3, 3, 8, 1], [1, 1], [1, 1], 'same'],
      [[2, 5, 4, 8], [3, 3, 8, 1], [1, 1], [1, 1], 'valid'],
      [[2, 9, 7, 8], [3, 3, 8, 1], [2, 2], [2, 2], 'same'],
      [[2, 9, 9, 4], [3, 3, 4, 2], [2, 2], [2, 2], 'valid'],
      // Stride 2, three filter columns: odd / even widths, left pad 0, 1, 2, rows of 1-3 filter rows.
      [[2, 9, 9, 8], [3, 3, 8, 1], [2, 2], [1, 1], 'same'],
      [[2, 8, 10, 8], [3, 3, 8, 1], [2, 2], [1, 1], 'same'],
      [[2, 7, 11, 12], [3, 3, 12, 1], [2, 2], [1, 1], 'valid'],
      [[1, 9, 12, 4], [5, 3, 4, 2], [2, 2], [1, 1], [[0, 0], [2, 1], [2, 1], [0, 0]]],
      [[1, 6, 3, 8], [3, 3, 8, 1], [1, 2], [1, 1], 'same'],
      // Three filter rows in one block, 3 to 7 interior columns (per-row blocks of the sliding and
      // stride-2 paths, the generic 3x3 block when dilation and stride differ).
      [[2, 7, 5, 8], [3, 3, 8, 1], [1, 1], [1, 1], 'same'],
      [[1, 6, 9, 4], [3, 3, 4, 1], [1, 1], [1, 1], 'same'],
      [[2, 9, 11, 8], [3, 3, 8, 1], [2, 2], [1, 1], 'valid'],
      [[1, 11, 12, 4], [3, 3, 4, 1], [1, 1], [2, 2], 'same'],
    ];
    shapes.forEach(([xs, fs, st, dil, pad], i) => {
      const c: Case = { x: xs, filter: fs, strides: st, dilations: dil, pad, depthwise: true };
      const { x, dy, w, g } = inputsFor(c, 500 + i);
      const ref = oracle(c, x, dy, w);
      close(depthwiseConv2dBackpropFilter(x, dy, g), depthwiseConv2dBackpropFilter(x, dy, g, { simd: false }), `filter ${describeCase(c)}`, 1e-5);
      close(depthwiseConv2dBackpropInput(dy, w, g), depthwiseConv2dBackpropInput(dy, w, g, { simd: false }), `input ${describeCase(c)}`, 1e-5);
      close(depthwiseConv2dBackpropFilter(x, dy, g), ref.dW, `filter vs cpu ${describeCase(c)}`);
      close(depthwiseConv2dBackpropInput(dy, w, g), ref.dx!, `input vs cpu ${describeCase(c)}`);
    });
  });

  it('whole-row kernels (3 filter columns, dilation 1, M = 1, C % 4 == 0) match the scalar twin at every border', () => {
    // Explicit geometries (pads 0-3 on each side independently, widths 1-13, strides 1-2 per axis,
    // 1-4 filter rows, row dilation 1-2), so the peeled border columns, uncovered columns and rows
    // with 0-3 valid filter rows all occur; a few cases fall back (stride 3, 4 filter rows).
    const r = rng(11);
    let n = 0;
    while (n < 150) {
      const C = 4 * int(r, 1, 4), KH = int(r, 1, 4), sh = int(r, 1, 2), sw = int(r, 1, 3), dh = int(r, 1, 2);
      const H = int(r, 1, 12), W = int(r, 1, 13), N = int(r, 1, 2);
      const pt = int(r, 0, 3), pb = int(r, 0, 3), pl = int(r, 0, 3), pr = int(r, 0, 3);
      const OH = Math.floor((H + pt + pb - ((KH - 1) * dh + 1)) / sh) + 1, OW = Math.floor((W + pl + pr - 3) / sw) + 1;
      if (OH < 1 || OW < 1) continue;
      n++;
      const g: ConvGeometry = {
        batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, outChannels: C,
        filterHeight: KH, filterWidth: 3, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: 1,
        padTop: pt, padLeft: pl,
      };
      const x = randn(r, N * H * W * C), dy = randn(r, N * OH * OW * C), w = randn(r, KH * 3 * C);
      const what = JSON.stringify(g);
      close(depthwiseConv2dBackpropFilter(x, dy, g), depthwiseConv2dBackpropFilter(x, dy, g, { simd: false }), `filter ${what}`, 1e-5);
      close(depthwiseConv2dBackpropInput(dy, w, g), depthwiseConv2dBackpropInput(dy, w, g, { simd: false }), `input ${what}`, 1e-5);
    }
  });
});

describe('WASM memory', () => {
  it('holds the same heap before and after each op, on success and on rejected input', () => {
    const k = getKernels();
    const c: Case = { x: [3, 9, 7, 6], filter: [3, 3, 6, 2], strides: [2, 1], dilations: [1, 1], pad: 'same', depthwise: true };
    const { x, dy, w, g } = inputsFor(c, 600);
    const cc: Case = { x: [3, 9, 7, 6], filter: [3, 3, 6, 10], strides: [1, 2], dilations: [1, 1], pad: 'valid', depthwise: false };
    const ci = inputsFor(cc, 601);
    const before = k.heapInUse();
    conv2dBackpropFilter(ci.x, ci.dy, ci.g);
    assert.equal(k.heapInUse(), before, 'conv2dBackpropFilter');
    conv2dBackpropFilter(ci.x, ci.dy, ci.g, { simd: false, chunkBytes: 1 });
    assert.equal(k.heapInUse(), before, 'conv2dBackpropFilter scalar');
    depthwiseConv2dBackpropFilter(x, dy, g);
    assert.equal(k.heapInUse(), before, 'depthwiseConv2dBackpropFilter');
    depthwiseConv2dBackpropInput(dy, w, g);
    assert.equal(k.heapInUse(), before, 'depthwiseConv2dBackpropInput');
    assert.throws(() => depthwiseConv2dBackpropInput(dy.subarray(1), w, g), RangeError);
    assert.throws(() => conv2dBackpropFilter(ci.x, ci.dy, { ...ci.g, strideHeight: 0 }), RangeError);
    assert.equal(k.heapInUse(), before, 'after rejected inputs');
    onWasm('Conv2DBackpropFilter', { x: { v: ci.x, s: cc.x }, dy: { v: ci.dy, s: convInfo(cc).outShape } },
      { strides: cc.strides, pad: cc.pad, dataFormat: 'NHWC', filterShape: cc.filter });
    onWasm('DepthwiseConv2dNativeBackpropInput', { dy: { v: dy, s: convInfo(c).outShape }, filter: { v: w, s: c.filter } },
      { strides: c.strides, pad: c.pad, dilations: 1, inputShape: c.x });
    assert.equal(k.heapInUse(), before, 'tfjs kernels');
  });
});

describe('empty tensors', () => {
  it('give zero gradients without touching WASM', () => {
    const g: ConvGeometry = {
      batchSize: 0, inHeight: 5, inWidth: 5, inChannels: 3, outHeight: 5, outWidth: 5, outChannels: 6,
      filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1,
      padTop: 1, padLeft: 1,
    };
    assert.deepEqual(conv2dBackpropFilter(new Float32Array(0), new Float32Array(0), g), new Float32Array(3 * 3 * 3 * 6));
    assert.deepEqual(depthwiseConv2dBackpropFilter(new Float32Array(0), new Float32Array(0), g), new Float32Array(3 * 3 * 3 * 2));
    assert.deepEqual(depthwiseConv2dBackpropInput(new Float32Array(0), new Float32Array(3 * 3 * 3 * 2), g), new Float32Array(0));
  });
});

describe('registerWasmTrainingKernels', () => {
  it('is idempotent and registers under tfjs kernel names for backend wasm', () => {
    const again = registerWasmTrainingKernels(tf);
    assert.deepEqual(again.registered, []);
    assert.deepEqual([...again.alreadyRegistered].sort(), [...WASM_TRAINING_KERNELS].sort());
    assert.deepEqual(again.skipped, []);
    for (const name of WASM_TRAINING_KERNELS) assert.ok(tf.getKernel(name, 'wasm'), name);
  });

  it('rejects NCHW and non-float32 inputs with an error naming the op, the backend and the reason', () => {
    const x = { v: new Float32Array(2 * 4 * 5 * 3), s: [2, 4, 5, 3] };
    const dy = { v: new Float32Array(2 * 4 * 5 * 8), s: [2, 4, 5, 8] };
    assert.throws(() => onWasm('Conv2DBackpropFilter', { x, dy },
      { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 8] }),
      (e: Error) => /Conv2DBackpropFilter/.test(e.message) && /'wasm'/.test(e.message) && /NCHW/.test(e.message));
    assert.throws(() => onWasm('Conv2DBackpropFilter', { x, dy },
      { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] }),
      (e: Error) => /Conv2DBackpropFilter/.test(e.message) && /filterShape/.test(e.message));
    const prev = tf.getBackend();
    tf.setBackend('wasm');
    try {
      assert.throws(() => tf.tidy(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter',
        { x: tf.zeros([1, 4, 4, 2], 'int32'), dy: tf.zeros([1, 4, 4, 2]) },
        { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 2, 1] } as unknown as tf.NamedAttrMap)),
        (e: Error) => e instanceof TypeError && /DepthwiseConv2dNativeBackpropFilter/.test(e.message) && /float32/.test(e.message));
    } finally {
      tf.setBackend(prev);
    }
  });
});

describe('end to end: a tiny conv net trains on backend wasm', () => {
  it('conv -> relu -> depthwise conv -> mean: gradients match tfjs-cpu, and adam lowers the loss', async () => {
    const r = rng(7);
    const xv = randn(r, 4 * 11 * 9 * 3);
    const init = { w1: randn(r, 3 * 3 * 3 * 8).map((v) => v * 0.3), w2: randn(r, 3 * 3 * 8 * 2).map((v) => v * 0.3) };
    const target = 1.5;

    function gradsOn(backend: string): Record<string, Float32Array> {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xv, [4, 11, 9, 3]);
        const w1 = tf.variable(tf.tensor4d(init.w1, [3, 3, 3, 8]), true, `g1_${backend}`);
        const w2 = tf.variable(tf.tensor4d(init.w2, [3, 3, 8, 2]), true, `g2_${backend}`);
        const { grads } = tf.variableGrads(() => {
          const h = tf.relu(tf.conv2d(x, w1, 1, 'same'));
          const y = tf.depthwiseConv2d(h, w2, [2, 2], 'same');
          return tf.square(tf.sub(tf.mean(y), target)) as tf.Scalar;
        }, [w1, w2]);
        const out = { w1: grads[w1.name].dataSync() as Float32Array, w2: grads[w2.name].dataSync() as Float32Array };
        w1.dispose(); w2.dispose();
        return out;
      });
    }
    const gCpu = gradsOn('cpu');
    const gWasm = gradsOn('wasm');
    close(gWasm.w1, gCpu.w1, 'dL/dw1 (Conv2DBackpropFilter through relu and the depthwise input gradient)');
    close(gWasm.w2, gCpu.w2, 'dL/dw2 (DepthwiseConv2dNativeBackpropFilter)');

    tf.setBackend('wasm');
    const heapBefore = getKernels().heapInUse();
    const x = tf.tensor4d(xv, [4, 11, 9, 3]);
    const w1 = tf.variable(tf.tensor4d(init.w1, [3, 3, 3, 8]));
    const w2 = tf.variable(tf.tensor4d(init.w2, [3, 3, 8, 2]));
    const opt = tf.train.adam(0.01);
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const loss = opt.minimize(() => {
        const h = tf.relu(tf.conv2d(x, w1, 1, 'same'));
        return tf.square(tf.sub(tf.mean(tf.depthwiseConv2d(h, w2, [2, 2], 'same')), target)) as tf.Scalar;
      }, true, [w1, w2]);
      losses.push((await loss!.data())[0]);
      loss!.dispose();
    }
    assert.equal(tf.getBackend(), 'wasm');
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses[4] < losses[0], `loss did not decrease: ${losses.map((l) => l.toFixed(4)).join(', ')}`);
    assert.equal(getKernels().heapInUse(), heapBefore, 'our heap after training');
    opt.dispose(); x.dispose(); w1.dispose(); w2.dispose();
    tf.setBackend('cpu');
  });
});
