// SPDX-License-Identifier: MIT
// Kernels tfjs-backend-wasm 4.22 HAS but runs slowly, replaced by ours for backend 'wasm' — only those
// measured faster (bench/conv.ts), each with the reason. The replaced kernel stays reachable: anything
// ours does not support (NCHW, other dtypes) goes to it, so an override never gives a different kind
// of answer, only a faster one; unregisterWasmSpeedKernels puts the originals back.
import type * as tfjs from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { getKernels } from '../wasm/loader.js';
import { DEFAULT_CHUNK_BYTES, geometryFromConvInfo, type Conv2DInfoLike } from './conv_backprop.js';
import { runConv2dBackpropInput } from './conv_input.js';
import { geometryFromPoolInfo, runPoolGrad, type Pool2DInfoLike } from './pool_grad.js';

const BACKEND = 'wasm';

/**
 * The overrides, in the order they are registered, with why. Speed-ups: batch 32, 1 thread, Node 20
 * (bench/conv.ts has the per-shape figures).
 */
export const WASM_SPEED_OVERRIDES = [
  {
    kernelName: 'Conv2DBackpropInput',
    reason: 'tfjs-wasm 4.22 computes it in a direct scalar loop at 2.5-5 GFLOP/s; ours (assembly/conv_input.ts, ' +
      'indirect GEMM with 4x8 SIMD tiles) runs the ResNet trunk shapes at 38-73 GFLOP/s (heap copies included), ' +
      '14-15x faster and 1.1-1.9x the FLOP rate of XNNPACK\'s forward convolution. Falls back for NCHW and non-float32.',
  },
  {
    kernelName: 'MaxPoolGrad',
    reason: 'tfjs-wasm 4.22: 87 ms for [32,64,48,32] 3x3/2; ours (assembly/pool_grad.ts, SIMD argmax + gather) ' +
      '6.8 ms, 11-13x faster, bit-identical to tfjs-cpu (first maximum in window order, float64 sums). ' +
      'Falls back for non-float32.',
  },
  {
    kernelName: 'AvgPoolGrad',
    reason: 'tfjs-wasm 4.22: 44 ms for [32,64,48,32] 3x3/2; ours 2.7 ms, 11-17x faster, bit-identical to ' +
      'tfjs-cpu. Falls back for non-float32.',
  },
] as const;
export type WasmSpeedKernelName = typeof WASM_SPEED_OVERRIDES[number]['kernelName'];
export const WASM_SPEED_KERNELS: readonly WasmSpeedKernelName[] = WASM_SPEED_OVERRIDES.map((o) => o.kernelName);

/** What registerWasmSpeedKernels needs from the tfjs namespace. */
export type TfSpeedRegistry = Pick<typeof tfjs, 'registerKernel' | 'unregisterKernel' | 'getKernel' | 'backend_util'>;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
}

type Shape4 = [number, number, number, number];
type PadAttr = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = number | [number, number];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type ConvInfoFn = (inShape: Shape4, filterShape: Shape4, strides: Pair, dilations: Pair, pad: PadAttr,
  roundingMode?: Rounding, depthwise?: boolean, dataFormat?: 'channelsFirst' | 'channelsLast') => Conv2DInfoLike & { outShape: number[] };
type PoolInfoFn = (inShape: Shape4, filterSize: Pair, strides: Pair, dilations: Pair, pad: PadAttr,
  roundingMode?: Rounding) => Pool2DInfoLike & { outShape: number[] };

function fail(kernel: string, reason: string, Kind: ErrorConstructor = Error): never {
  throw new Kind(`${kernel} on backend '${BACKEND}' (rlepose): ${reason}`);
}

const isF32x4 = (t: TensorInfo | undefined): t is TensorInfo & { shape: Shape4 } =>
  t !== undefined && t.dtype === 'float32' && t.shape.length === 4;

function wasmBackend(b: unknown): WasmBackendLike | null {
  const o = b as Partial<WasmBackendLike> | null;
  return o && typeof o.makeOutput === 'function' && typeof o.typedArrayFromHeap === 'function' &&
    typeof o.disposeData === 'function' ? o as WasmBackendLike : null;
}

function sameShape(kernel: string, name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    fail(kernel, `${name} must have shape [${want.join(',')}] for this ${kernel}, got [${got.join(',')}]`, RangeError);
  }
}

/** Allocates the output, lets `fill` write it chunk by chunk, disposes it if `fill` throws. */
function filled(b: WasmBackendLike, shape: number[], fill: (write: (offset: number, v: Float32Array) => void) => void): TensorInfo {
  const out = b.makeOutput(shape, 'float32');
  try {
    // No tfjs allocation happens meanwhile, so the heap view stays valid; each chunk takes a fresh one anyway.
    fill((offset, v) => (b.typedArrayFromHeap(out) as Float32Array).set(v, offset));
  } catch (e) {
    b.disposeData(out.dataId, true);
    throw e;
  }
  return out;
}

type Impl = (inputs: NamedTensorInfoMap, attrs: NamedAttrMap, b: WasmBackendLike) => TensorInfo;
type Support = (inputs: NamedTensorInfoMap, attrs: NamedAttrMap) => string | null;

function implementations(tf: TfSpeedRegistry): Record<WasmSpeedKernelName, { supports: Support; run: Impl }> {
  const computeConv2DInfo = tf.backend_util.computeConv2DInfo as unknown as ConvInfoFn;
  const computePool2DInfo = tf.backend_util.computePool2DInfo as unknown as PoolInfoFn;
  const poolSupport: Support = (inputs) =>
    !isF32x4(inputs.dy) ? 'dy is not a float32 rank-4 tensor' : !isF32x4(inputs.input) ? 'input is not a float32 rank-4 tensor' : null;
  return {
    Conv2DBackpropInput: {
      supports: (inputs, attrs) => {
        if (!isF32x4(inputs.dy) || !isF32x4(inputs.filter)) return 'dy and filter must be float32 rank-4 tensors';
        const df = attrs.dataFormat as string | undefined;
        if (df !== undefined && df !== 'NHWC') return `dataFormat '${df}' (only NHWC is implemented)`;
        const s = attrs.inputShape;
        if (!Array.isArray(s) || s.length !== 4 || !s.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) return 'inputShape is not 4 integers';
        return null;
      },
      run: (inputs, attrs, b) => {
        const K = 'Conv2DBackpropInput';
        const dy = inputs.dy as TensorInfo & { shape: Shape4 }, filter = inputs.filter as TensorInfo & { shape: Shape4 };
        const inputShape = attrs.inputShape as Shape4;
        if (filter.shape[2] !== inputShape[3] || filter.shape[3] !== dy.shape[3]) {
          fail(K, `filter [${filter.shape.join(',')}] must be [KH,KW,${inputShape[3]},${dy.shape[3]}] (inputShape and dy channels)`, RangeError);
        }
        // Conv2DBackpropInput has no dilations attribute: tfjs computes it for dilation 1 only.
        const info = computeConv2DInfo(inputShape, filter.shape, attrs.strides as Pair, 1, attrs.pad as PadAttr,
          attrs.dimRoundingMode as Rounding, false, 'channelsLast');
        sameShape(K, 'dy', dy.shape, info.outShape);
        return filled(b, inputShape, (write) => runConv2dBackpropInput(b.typedArrayFromHeap(dy), b.typedArrayFromHeap(filter),
          geometryFromConvInfo(info), true, DEFAULT_CHUNK_BYTES, write));
      },
    },
    MaxPoolGrad: {
      supports: poolSupport,
      run: (inputs, attrs, b) => {
        const dy = inputs.dy as TensorInfo & { shape: Shape4 }, x = inputs.input as TensorInfo & { shape: Shape4 };
        const info = computePool2DInfo(x.shape, attrs.filterSize as Pair, attrs.strides as Pair, 1, attrs.pad as PadAttr,
          attrs.dimRoundingMode as Rounding);
        sameShape('MaxPoolGrad', 'dy', dy.shape, info.outShape);
        return filled(b, x.shape, (write) => runPoolGrad(b.typedArrayFromHeap(dy), b.typedArrayFromHeap(x),
          geometryFromPoolInfo(info), true, DEFAULT_CHUNK_BYTES, write));
      },
    },
    AvgPoolGrad: {
      supports: poolSupport,
      run: (inputs, attrs, b) => {
        const dy = inputs.dy as TensorInfo & { shape: Shape4 }, x = inputs.input as TensorInfo & { shape: Shape4 };
        // As tfjs-cpu: no rounding mode for the gradient's geometry.
        const info = computePool2DInfo(x.shape, attrs.filterSize as Pair, attrs.strides as Pair, 1, attrs.pad as PadAttr);
        sameShape('AvgPoolGrad', 'dy', dy.shape, info.outShape);
        return filled(b, x.shape, (write) => runPoolGrad(b.typedArrayFromHeap(dy), null,
          geometryFromPoolInfo(info), true, DEFAULT_CHUNK_BYTES, write));
      },
    },
  };
}

export interface WasmSpeedOverride {
  kernelName: WasmSpeedKernelName;
  reason: string;
  /** The replaced tfjs-wasm kernel serves what ours does not support (false: none was registered). */
  fallback: boolean;
}

export interface WasmSpeedKernelReport {
  /** Replaced (or, with no tfjs kernel of that name, added) by this call. */
  overridden: WasmSpeedOverride[];
  /** Ours already, from an earlier call. */
  alreadyRegistered: WasmSpeedKernelName[];
}

// Our kernel functions -> the config they replaced (undefined: there was none), per tfjs registry.
const replaced = new WeakMap<KernelFunc, KernelConfig | undefined>();

function checkTf(fn: string, tf: TfSpeedRegistry): void {
  if (typeof tf?.registerKernel !== 'function' || typeof tf.unregisterKernel !== 'function' ||
      typeof tf.getKernel !== 'function' || typeof tf.backend_util?.computePool2DInfo !== 'function') {
    throw new TypeError(`${fn}: expected the tfjs namespace (import * as tf from '@tensorflow/tfjs')`);
  }
}

/**
 * Replaces tfjs-wasm's Conv2DBackpropInput, MaxPoolGrad and AvgPoolGrad with our WebAssembly SIMD
 * kernels (see WASM_SPEED_OVERRIDES for why each). Call after `await ready()` (ready() does); idempotent.
 * The originals keep their setup (so they work whether or not backend 'wasm' has started) and serve as
 * the fallback for inputs ours does not handle. `only` limits the overrides to some kernel names.
 */
export function registerWasmSpeedKernels(tf: TfSpeedRegistry, only?: readonly WasmSpeedKernelName[]): WasmSpeedKernelReport {
  checkTf('registerWasmSpeedKernels', tf);
  getKernels(); // throws with a clear message unless ready() has resolved
  const impls = implementations(tf);
  const report: WasmSpeedKernelReport = { overridden: [], alreadyRegistered: [] };
  for (const { kernelName, reason } of WASM_SPEED_OVERRIDES) {
    if (only && !only.includes(kernelName)) continue;
    const existing = tf.getKernel(kernelName, BACKEND);
    if (existing && replaced.has(existing.kernelFunc)) {
      report.alreadyRegistered.push(kernelName);
      continue;
    }
    const original = existing ? { ...existing } : undefined;
    const { supports, run } = impls[kernelName];
    const kernelFunc: KernelFunc = (args) => {
      const attrs: NamedAttrMap = args.attrs ?? {};
      const b = wasmBackend(args.backend);
      const why = b ? supports(args.inputs, attrs) : 'not a tfjs-backend-wasm 4.x backend';
      if (why === null) return run(args.inputs, attrs, b!);
      if (original) return original.kernelFunc(args);
      return fail(kernelName, `unsupported input: ${why}`, TypeError);
    };
    if (existing) tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc,
      setupFunc: original?.setupFunc, disposeFunc: original?.disposeFunc });
    replaced.set(kernelFunc, original);
    report.overridden.push({ kernelName, reason, fallback: original !== undefined });
  }
  return report;
}

/** Puts back the kernels registerWasmSpeedKernels replaced (for A/B benchmarks and tests). Returns their names. */
export function unregisterWasmSpeedKernels(tf: TfSpeedRegistry): WasmSpeedKernelName[] {
  checkTf('unregisterWasmSpeedKernels', tf);
  const restored: WasmSpeedKernelName[] = [];
  for (const { kernelName } of WASM_SPEED_OVERRIDES) {
    const existing = tf.getKernel(kernelName, BACKEND);
    if (!existing || !replaced.has(existing.kernelFunc)) continue;
    const original = replaced.get(existing.kernelFunc);
    tf.unregisterKernel(kernelName, BACKEND);
    if (original) tf.registerKernel(original);
    restored.push(kernelName);
  }
  return restored;
}

/** The tfjs-wasm kernel an override replaced (undefined when ours is not registered or replaced nothing). */
export function replacedWasmKernel(tf: TfSpeedRegistry, kernelName: WasmSpeedKernelName): KernelConfig | undefined {
  const existing = tf.getKernel(kernelName, BACKEND);
  return existing ? replaced.get(existing.kernelFunc) : undefined;
}
