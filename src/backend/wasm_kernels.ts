// SPDX-License-Identifier: MIT
// Training kernels tfjs-backend-wasm 4.22 lacks, registered under tfjs's own kernel names so that
// tf.grad / optimizers on backend 'wasm' find them. Inputs are copied from the backend's heap into our
// module's memory once, the result is copied into a tensor the backend allocates (makeOutput) once.
import type * as tfjs from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';
import { getKernels } from '../wasm/loader.js';
import {
  DEFAULT_CHUNK_BYTES, geometryFromConvInfo, runConv2dBackpropFilter, runDepthwiseBackpropFilter,
  runDepthwiseBackpropInput, type Conv2DInfoLike,
} from './conv_backprop.js';
import { runBatchNormBackward, runBatchNormForward } from './batchnorm.js';

/** What registerWasmTrainingKernels needs from the tfjs namespace (the union package or tfjs-core). */
export type TfKernelRegistry = Pick<typeof tfjs, 'registerKernel' | 'getKernel' | 'backend_util'>;

/** The part of tfjs-backend-wasm's BackendWasm these kernels use (public methods in 4.x). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
}

const BACKEND = 'wasm';
/** Our own kernel names (tfjs has no training-mode BatchNorm kernel): see batchNormTrain in model/regressflow.ts. */
export const BN_TRAIN_KERNEL = 'RleposeBatchNormTrain';
export const BN_TRAIN_GRAD_KERNEL = 'RleposeBatchNormTrainGrad';
export const WASM_TRAINING_KERNELS = [
  'Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput',
  BN_TRAIN_KERNEL, BN_TRAIN_GRAD_KERNEL,
] as const;
export type WasmTrainingKernelName = typeof WASM_TRAINING_KERNELS[number];

type PadAttr = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = number | [number, number];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type ConvInfoFn = (inShape: [number, number, number, number], filterShape: [number, number, number, number],
  strides: Pair, dilations: Pair, pad: PadAttr, roundingMode?: Rounding, depthwise?: boolean,
  dataFormat?: 'channelsFirst' | 'channelsLast') => Conv2DInfoLike & { outShape: number[] };

function fail(kernel: string, reason: string, Kind: ErrorConstructor = Error): never {
  throw new Kind(`${kernel} on backend '${BACKEND}' (rlepose): ${reason}`);
}

function asBackend(kernel: string, b: unknown): WasmBackendLike {
  const o = b as Partial<WasmBackendLike> | null;
  if (!o || typeof o.makeOutput !== 'function' || typeof o.typedArrayFromHeap !== 'function' ||
      typeof o.disposeData !== 'function') {
    fail(kernel, 'the backend has no makeOutput / typedArrayFromHeap / disposeData: not a tfjs-backend-wasm 4.x backend');
  }
  return o as WasmBackendLike;
}

/** A float32 input of a kernel, of the given rank if one is given. */
function f32Input(kernel: string, inputs: NamedTensorInfoMap, name: string, rank?: number): TensorInfo {
  const t = inputs[name];
  if (!t) fail(kernel, `input '${name}' is missing`, TypeError);
  if (t.dtype !== 'float32') fail(kernel, `input '${name}' must be float32, got ${t.dtype}`, TypeError);
  if (rank !== undefined && t.shape.length !== rank) {
    fail(kernel, `input '${name}' must be rank ${rank}${rank === 4 ? ' (NHWC)' : ''}, got shape [${t.shape.join(',')}]`, RangeError);
  }
  return t;
}

function input(kernel: string, inputs: NamedTensorInfoMap, name: string): TensorInfo & { shape: [number, number, number, number] } {
  return f32Input(kernel, inputs, name, 4) as TensorInfo & { shape: [number, number, number, number] };
}

function shape4(kernel: string, name: string, v: unknown, min = 1): [number, number, number, number] {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((d) => Number.isInteger(d) && d >= min)) {
    fail(kernel, `attribute ${name} must be 4 integers >= ${min}, got ${JSON.stringify(v)}`, RangeError);
  }
  return v as [number, number, number, number];
}

function sameShape(kernel: string, name: string, got: readonly number[], want: readonly number[]): void {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
    fail(kernel, `${name} must have shape [${want.join(',')}] for this convolution, got [${got.join(',')}]`, RangeError);
  }
}

function checkNoNchw(kernel: string, attrs: NamedAttrMap): void {
  const df = attrs.dataFormat as string | undefined;
  if (df !== undefined && df !== 'NHWC') {
    fail(kernel, `dataFormat '${df}' is not supported: only NHWC (channels last) is implemented`);
  }
}

function makeKernels(tf: TfKernelRegistry): KernelConfig[] {
  const computeConv2DInfo = tf.backend_util.computeConv2DInfo as unknown as ConvInfoFn;

  const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs: maybeAttrs }) => {
    const K = 'Conv2DBackpropFilter';
    const b = asBackend(K, backend);
    const attrs: NamedAttrMap = maybeAttrs ?? {};
    const x = input(K, inputs, 'x'), dy = input(K, inputs, 'dy');
    checkNoNchw(K, attrs);
    const filterShape = shape4(K, 'filterShape', attrs.filterShape);
    if (filterShape[2] !== x.shape[3] || filterShape[3] !== dy.shape[3]) {
      fail(K, `filterShape [${filterShape.join(',')}] must be [KH,KW,${x.shape[3]},${dy.shape[3]}] (x and dy channels)`, RangeError);
    }
    // Conv2DBackpropFilter has no dilations attribute: tfjs computes it for dilation 1 only.
    const info = computeConv2DInfo(x.shape, filterShape, attrs.strides as Pair, 1, attrs.pad as PadAttr,
      attrs.dimRoundingMode as Rounding, false, 'channelsLast');
    sameShape(K, 'dy', dy.shape, info.outShape);
    return runConv2dBackpropFilter(b.typedArrayFromHeap(x), b.typedArrayFromHeap(dy), geometryFromConvInfo(info),
      true, DEFAULT_CHUNK_BYTES, (dW) => b.makeOutput(filterShape, 'float32', undefined, dW));
  };

  const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs: maybeAttrs }) => {
    const K = 'DepthwiseConv2dNativeBackpropFilter';
    const b = asBackend(K, backend);
    const attrs: NamedAttrMap = maybeAttrs ?? {};
    const x = input(K, inputs, 'x'), dy = input(K, inputs, 'dy');
    checkNoNchw(K, attrs);
    const filterShape = shape4(K, 'filterShape', attrs.filterShape);
    if (filterShape[2] !== x.shape[3]) {
      fail(K, `filterShape [${filterShape.join(',')}] must have ${x.shape[3]} input channels (x)`, RangeError);
    }
    // Unlike tfjs-cpu's kernel, which ignores dilations in its loops, dilations are honoured here.
    const info = computeConv2DInfo(x.shape, filterShape, attrs.strides as Pair, (attrs.dilations ?? 1) as Pair,
      attrs.pad as PadAttr, attrs.dimRoundingMode as Rounding, true);
    sameShape(K, 'dy', dy.shape, info.outShape);
    return runDepthwiseBackpropFilter(b.typedArrayFromHeap(x), b.typedArrayFromHeap(dy), geometryFromConvInfo(info),
      true, DEFAULT_CHUNK_BYTES, (dW) => b.makeOutput(filterShape, 'float32', undefined, dW));
  };

  const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs: maybeAttrs }) => {
    const K = 'DepthwiseConv2dNativeBackpropInput';
    const b = asBackend(K, backend);
    const attrs: NamedAttrMap = maybeAttrs ?? {};
    const dy = input(K, inputs, 'dy'), filter = input(K, inputs, 'filter');
    checkNoNchw(K, attrs);
    const inputShape = shape4(K, 'inputShape', attrs.inputShape, 0);
    if (filter.shape[2] !== inputShape[3]) {
      fail(K, `filter [${filter.shape.join(',')}] must have ${inputShape[3]} input channels (inputShape)`, RangeError);
    }
    const info = computeConv2DInfo(inputShape, filter.shape, attrs.strides as Pair, (attrs.dilations ?? 1) as Pair,
      attrs.pad as PadAttr, attrs.dimRoundingMode as Rounding, true);
    sameShape(K, 'dy', dy.shape, info.outShape);
    // The output is allocated first and filled chunk by chunk; no tfjs allocation happens meanwhile,
    // so the heap views stay valid, but each chunk takes a fresh one anyway.
    const out = b.makeOutput(inputShape, 'float32');
    try {
      runDepthwiseBackpropInput(b.typedArrayFromHeap(dy), b.typedArrayFromHeap(filter), geometryFromConvInfo(info),
        true, DEFAULT_CHUNK_BYTES, (offset, dx) => (b.typedArrayFromHeap(out) as Float32Array).set(dx, offset));
    } catch (e) {
      b.disposeData(out.dataId, true);
      throw e;
    }
    return out;
  };

  const channelsOf = (K: string, x: TensorInfo): number => {
    if (x.shape.length < 1) fail(K, 'x must have a channel axis (rank >= 1), got a scalar', RangeError);
    return x.shape[x.shape.length - 1];
  };
  const epsilon = (K: string, attrs: NamedAttrMap | undefined): number => {
    const e = attrs?.varianceEpsilon;
    if (typeof e !== 'number' || !(e >= 0)) fail(K, `attribute varianceEpsilon must be a number >= 0, got ${JSON.stringify(e)}`, RangeError);
    return e as number;
  };
  /** Which part of `out` a channel vector of C floats is, for the per-channel inputs. */
  const vecC = (K: string, inputs: NamedTensorInfoMap, name: string, C: number): TensorInfo => {
    const t = f32Input(K, inputs, name, 1);
    if (t.shape[0] !== C) fail(K, `${name} must have shape [${C}] (the channels of x), got [${t.shape.join(',')}]`, RangeError);
    return t;
  };

  // Training-mode BatchNorm over the last axis: outputs y, the batch mean and the biased batch variance.
  const bnTrain: KernelFunc = ({ inputs, backend, attrs }) => {
    const K = BN_TRAIN_KERNEL;
    const b = asBackend(K, backend);
    const x = f32Input(K, inputs, 'x'), C = channelsOf(K, x);
    const gamma = vecC(K, inputs, 'gamma', C), beta = vecC(K, inputs, 'beta', C);
    const out = b.makeOutput(x.shape.slice(), 'float32');
    let st;
    try {
      st = runBatchNormForward(b.typedArrayFromHeap(x), C, b.typedArrayFromHeap(gamma), b.typedArrayFromHeap(beta),
        epsilon(K, attrs), (offset, y) => (b.typedArrayFromHeap(out) as Float32Array).set(y, offset));
    } catch (e) {
      b.disposeData(out.dataId, true);
      throw e;
    }
    return [out, b.makeOutput([C], 'float32', undefined, Float32Array.from(st.mean)),
      b.makeOutput([C], 'float32', undefined, Float32Array.from(st.variance))];
  };

  // Its backward: inputs dy, x, gamma and the forward's mean and variance; outputs dx, dγ, dβ.
  const bnTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
    const K = BN_TRAIN_GRAD_KERNEL;
    const b = asBackend(K, backend);
    const x = f32Input(K, inputs, 'x'), dy = f32Input(K, inputs, 'dy'), C = channelsOf(K, x);
    sameShape(K, 'dy', dy.shape, x.shape);
    const gamma = vecC(K, inputs, 'gamma', C), mean = vecC(K, inputs, 'mean', C), variance = vecC(K, inputs, 'variance', C);
    const out = b.makeOutput(x.shape.slice(), 'float32');
    let r;
    try {
      r = runBatchNormBackward(b.typedArrayFromHeap(dy), b.typedArrayFromHeap(x), C, b.typedArrayFromHeap(gamma),
        b.typedArrayFromHeap(mean), b.typedArrayFromHeap(variance), epsilon(K, attrs),
        (offset, dx) => (b.typedArrayFromHeap(out) as Float32Array).set(dx, offset));
    } catch (e) {
      b.disposeData(out.dataId, true);
      throw e;
    }
    return [out, b.makeOutput([C], 'float32', undefined, r.dgamma), b.makeOutput([C], 'float32', undefined, r.dbeta)];
  };

  return [
    { kernelName: BN_TRAIN_KERNEL, backendName: BACKEND, kernelFunc: bnTrain },
    { kernelName: BN_TRAIN_GRAD_KERNEL, backendName: BACKEND, kernelFunc: bnTrainGrad },
    { kernelName: 'Conv2DBackpropFilter', backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName: BACKEND, kernelFunc: depthwiseBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: BACKEND, kernelFunc: depthwiseBackpropInput },
  ];
}

export interface WasmTrainingKernelReport {
  /** Registered by this call. */
  registered: WasmTrainingKernelName[];
  /** Ours already, from an earlier call (registration is idempotent). */
  alreadyRegistered: WasmTrainingKernelName[];
  /** Left alone because the backend has its own kernel (a newer tfjs-backend-wasm, or another library's). */
  skipped: { kernelName: WasmTrainingKernelName; reason: string }[];
}

// Kernel functions we registered, per tfjs registry (so a second call, or a second tfjs copy, is safe).
const ours = new WeakSet<KernelFunc>();

/**
 * Registers Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and
 * DepthwiseConv2dNativeBackpropInput (and our training-mode BatchNorm pair, RleposeBatchNormTrain /
 * RleposeBatchNormTrainGrad) for backend 'wasm' in `tf`'s kernel registry, backed by our
 * WebAssembly SIMD kernels. Call after `await ready()`; safe to call more than once; never replaces
 * a kernel the backend already has. NHWC float32 only (tfjs-backend-wasm is NHWC throughout).
 */
export function registerWasmTrainingKernels(tf: TfKernelRegistry): WasmTrainingKernelReport {
  if (typeof tf?.registerKernel !== 'function' || typeof tf.getKernel !== 'function' ||
      typeof tf.backend_util?.computeConv2DInfo !== 'function') {
    throw new TypeError('registerWasmTrainingKernels: expected the tfjs namespace (import * as tf from \'@tensorflow/tfjs\')');
  }
  getKernels(); // throws with a clear message unless ready() has resolved
  const report: WasmTrainingKernelReport = { registered: [], alreadyRegistered: [], skipped: [] };
  for (const config of makeKernels(tf)) {
    const name = config.kernelName as WasmTrainingKernelName;
    const existing = tf.getKernel(name, BACKEND);
    if (existing && ours.has(existing.kernelFunc)) {
      report.alreadyRegistered.push(name);
    } else if (existing) {
      report.skipped.push({ kernelName: name, reason: `backend '${BACKEND}' already has a ${name} kernel` });
    } else {
      tf.registerKernel(config);
      ours.add(config.kernelFunc);
      report.registered.push(name);
    }
  }
  return report;
}
