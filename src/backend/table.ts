// SPDX-License-Identifier: MIT
// THE op table: every operation rlepose runs, its candidate backends in order of preference, and why.
// Data, not scattered ifs: read this file to know who serves what.
//
// Backends: 'webgpu' | 'wasm' | 'cpu' are tfjs backends (the network's tensors live on one of them);
// 'rlepose' is our AssemblyScript SIMD module (flow, loss, optimizer; and the conv backprops we register
// into tfjs-wasm, where tfjs has none or a slow one); 'tfjs-ops' is the flow written as plain tfjs ops
// (TfjsFlow), the fallback when our WASM module cannot start (e.g. an engine without WASM SIMD).

export type TfBackend = 'webgpu' | 'wasm' | 'cpu';
export type BackendName = TfBackend | 'rlepose' | 'tfjs-ops';
export type OpFamily = 'conv' | 'dense' | 'norm' | 'pool' | 'activation' | 'flow' | 'loss' | 'optimizer';

export interface Candidate {
  backend: BackendName;
  why: string;
  /** For tfjs backends: the tfjs kernel name(s) that must be registered there (ours count). */
  kernels?: string[];
}

export interface OpEntry {
  op: string;
  family: OpFamily;
  candidates: Candidate[];
}

const GPU_FIRST = 'WebGPU when an adapter exists and calibration (if run) says it is faster';
const WASM = 'tfjs-wasm (XNNPACK, SIMD) is the fastest CPU path';
const CPU = 'tfjs-cpu: always available, slowest';

function tfOp(op: string, family: OpFamily, kernel: string, wasmWhy = WASM): OpEntry {
  return {
    op, family, candidates: [
      { backend: 'webgpu', why: GPU_FIRST, kernels: [kernel] },
      { backend: 'wasm', why: wasmWhy, kernels: [kernel] },
      { backend: 'cpu', why: CPU, kernels: [kernel] },
    ],
  };
}

const OURS_IN_WASM = 'tfjs-wasm has no kernel: rlepose registers its AssemblyScript SIMD kernel under the tfjs name';
const OURS_OVER_WASM = 'tfjs-wasm\'s own kernel is slow (a scalar loop): rlepose replaces it with its AssemblyScript ' +
  'SIMD kernel (registerWasmSpeedKernels, 11-15x faster), which hands NCHW and other dtypes back to it';

export const OP_TABLE: readonly OpEntry[] = [
  tfOp('conv2d', 'conv', 'Conv2D'),
  tfOp('conv2d.backpropInput', 'conv', 'Conv2DBackpropInput', OURS_OVER_WASM),
  tfOp('conv2d.backpropFilter', 'conv', 'Conv2DBackpropFilter', OURS_IN_WASM),
  tfOp('depthwiseConv2d', 'conv', 'DepthwiseConv2dNative'),
  tfOp('depthwiseConv2d.backpropInput', 'conv', 'DepthwiseConv2dNativeBackpropInput', OURS_IN_WASM),
  tfOp('depthwiseConv2d.backpropFilter', 'conv', 'DepthwiseConv2dNativeBackpropFilter', OURS_IN_WASM),
  tfOp('matmul', 'dense', 'BatchMatMul'),
  tfOp('batchNorm', 'norm', 'FusedBatchNorm'),
  {
    op: 'batchNorm.train', family: 'norm', candidates: [
      { backend: 'wasm', kernels: ['RleposeBatchNormTrain', 'RleposeBatchNormTrainGrad'],
        why: 'training-mode BatchNorm (batch statistics, running averages, backward) in two rlepose SIMD kernels ' +
          'registered into tfjs-wasm: 2 passes over the activations each way instead of a dozen tfjs ops' },
      { backend: 'tfjs-ops', why: 'moments, normalisation and a hand-written backward as tfjs ops on the network backend' },
    ],
  },
  tfOp('maxPool', 'pool', 'MaxPool'),
  tfOp('maxPool.backprop', 'pool', 'MaxPoolGrad', OURS_OVER_WASM),
  tfOp('mean', 'pool', 'Mean'),
  tfOp('relu', 'activation', 'Relu'),
  tfOp('sigmoid', 'activation', 'Sigmoid'),
  {
    op: 'flow.logProb', family: 'flow', candidates: [
      { backend: 'rlepose', why: 'AssemblyScript SIMD RealNVP: register-blocked GEMMs, no per-call allocation' },
      { backend: 'tfjs-ops', why: 'the same flow as tfjs ops on the network backend (when WASM SIMD is missing)' },
    ],
  },
  {
    op: 'flow.backward', family: 'flow', candidates: [
      { backend: 'rlepose', why: 'analytic backward in WASM (tfjs autograd of the flow is ~15× slower on wasm)' },
      { backend: 'tfjs-ops', why: 'tfjs autograd of the flow (when WASM SIMD is missing)' },
    ],
  },
  {
    op: 'rleLoss', family: 'loss', candidates: [
      { backend: 'rlepose', why: 'every variant with analytic gradients in WASM, float64 accumulation' },
    ],
  },
  {
    op: 'optimizer.flow', family: 'optimizer', candidates: [
      { backend: 'rlepose', why: 'Adam/SGD in place on the packed flow parameters in WASM' },
    ],
  },
  {
    op: 'optimizer.network', family: 'optimizer', candidates: [
      { backend: 'webgpu', why: 'the network variables live on the network backend' },
      { backend: 'wasm', why: 'the network variables live on the network backend' },
      { backend: 'cpu', why: 'the network variables live on the network backend' },
    ],
  },
];

export function findOp(op: string): OpEntry | undefined {
  return OP_TABLE.find((e) => e.op === op);
}
