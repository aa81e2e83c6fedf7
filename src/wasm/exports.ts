// SPDX-License-Identifier: MIT
// The raw exports of assembly/index.ts. Pointers and sizes are plain numbers (u32 on the WASM side).

export interface WasmExports {
  memory: WebAssembly.Memory;
  alloc(bytes: number): number;
  free(ptr: number): void;
  heapInUse(): number;
  gemmF32x4(A: number, sm: number, sk: number, B: number, ldb: number, C: number, ldc: number,
    M: number, Nc: number, K: number, mode: number, bias: number, act: number, slope: number): void;
  gemmScalar(A: number, sm: number, sk: number, B: number, ldb: number, C: number, ldc: number,
    M: number, Nc: number, K: number, mode: number, bias: number, act: number, slope: number): void;
  rowsDotF32x4(X: number, ldx: number, W: number, ldw: number, Y: number, ldy: number,
    N: number, Dout: number, K: number, bias: number): void;
  rowsDotScalar(X: number, ldx: number, W: number, ldw: number, Y: number, ldy: number,
    N: number, Dout: number, K: number, bias: number): void;
  EPI_STORE: WebAssembly.Global; EPI_BIAS_LEAKY: WebAssembly.Global; EPI_LEAKY_GRAD: WebAssembly.Global; EPI_BIAS: WebAssembly.Global;
  setSimd(on: number): void;
  getSimd(): number;
  flowPackedFloats(D: number, H: number, C: number): number;
  flowDerivedFloats(D: number, H: number, C: number): number;
  flowCanonicalFloats(D: number, H: number, C: number): number;
  flowWorkspaceBytes(D: number, H: number, C: number, N: number): number;
  flowWsOffset(desc: number, slot: number): number;
  flowPack(desc: number, canon: number, dst: number): void;
  flowUnpack(desc: number, src: number, canon: number): void;
  flowSync(desc: number): void;
  flowInverse(desc: number, N: number): void;
  flowBackward(desc: number, N: number): void;
  flowLogProbFwdBwd(desc: number, N: number, useW: number): void;
  flowForward(desc: number, N: number): void;
  vmathTest(x: number, outExp: number, outTanh: number, n: number): void;
  rleLoss(desc: number, variant: number, B: number, K: number, io: number, wantGrad: number): number;
  adamStep(p: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number,
    eps: number, wd: number, bc1: number, bc2: number, decoupled: number, gradScale: number): void;
  sgdStep(p: number, g: number, mom: number, n: number, lr: number, momentum: number, wd: number, gradScale: number): void;
}

/** Descriptor slots (i32), mirrored from assembly/realnvp.ts. */
export const DESC = { D: 0, H: 1, HP: 2, C: 3, SLOPE: 4, MASKS: 5, PARAMS: 6, DERIVED: 7, GRADS: 8, WS: 9, CAP: 10, SLOTS: 12 } as const;
/** Workspace slots for flowWsOffset. */
export const WS = { IN: 0, Z: 1, OUT: 2, LD: 3, LP: 4, W: 5, G: 6, GLD: 7, AUX: 8, SIG: 9 } as const;

/** Convolution gradients of assembly/conv_backprop.ts (geometry: see that file's header). */
export interface ConvBackpropExports {
  conv2dBackpropFilterF32x4(x: number, dy: number, dW: number, N: number, H: number, W: number, Cin: number,
    OH: number, OW: number, Cout: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number, accumulate: number): void;
  conv2dBackpropFilterScalar(x: number, dy: number, dW: number, N: number, H: number, W: number, Cin: number,
    OH: number, OW: number, Cout: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number, accumulate: number): void;
  restrideRowsF32(buf: number, rows: number, fromLd: number, toLd: number, cols: number): void;
  depthwiseBackpropFilterF32x4(x: number, dy: number, dW: number, N: number, H: number, W: number, C: number,
    OH: number, OW: number, M: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number, scratch: number, accumulate: number): void;
  depthwiseBackpropFilterScalar(x: number, dy: number, dW: number, N: number, H: number, W: number, C: number,
    OH: number, OW: number, M: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number, accumulate: number): void;
  depthwiseBackpropFilterScratch(H: number, W: number, C: number, M: number): number;
  depthwiseBackpropInputF32x4(dy: number, w: number, dx: number, N: number, H: number, W: number, C: number,
    OH: number, OW: number, M: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number, scratch: number): void;
  depthwiseBackpropInputScalar(dy: number, w: number, dx: number, N: number, H: number, W: number, C: number,
    OH: number, OW: number, M: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number): void;
  depthwiseBackpropInputScratch(W: number, C: number, M: number): number;
}

/** conv2d input gradient of assembly/conv_input.ts (see that file's header). */
export interface ConvInputExports {
  conv2dBackpropInputPackedFloats(T: number, Cin: number, Cout: number): number;
  conv2dBackpropInputPack(w: number, wp: number, tapOf: number, T: number, Cin: number, Cout: number): void;
  conv2dBackpropInputClassF32x4(dy: number, wp: number, dx: number, nImg: number, imgDyB: number, imgDxB: number,
    rows: number, nRows: number, cols: number, nCols: number, runs: number, nRuns: number,
    nPanels: number, panelB: number): void;
  conv2dBackpropInputScalar(dy: number, w: number, dx: number, N: number, H: number, W: number, Cin: number,
    OH: number, OW: number, Cout: number, KH: number, KW: number, sh: number, sw: number, dh: number, dw: number,
    pt: number, pl: number): void;
}

/** Pooling gradients of assembly/pool_grad.ts (see that file's header). */
export interface PoolGradExports {
  maxPoolArgmaxF32x4(x: number, idx: number, N: number, H: number, W: number, C: number, OH: number, OW: number,
    KH: number, KW: number, sh: number, sw: number, pt: number, pl: number): void;
  maxPoolArgmaxScalar(x: number, idx: number, N: number, H: number, W: number, C: number, OH: number, OW: number,
    KH: number, KW: number, sh: number, sw: number, pt: number, pl: number): void;
  poolGradF32x4(dy: number, idx: number, dx: number, N: number, H: number, W: number, C: number, OH: number,
    OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, mult: number): void;
  poolGradScalar(dy: number, idx: number, dx: number, N: number, H: number, W: number, C: number, OH: number,
    OW: number, KH: number, KW: number, sh: number, sw: number, pt: number, pl: number, mult: number): void;
}

/** Training-mode BatchNorm kernels of assembly/batchnorm.ts (see that file's header). */
export interface BatchNormExports {
  channelSumsF32x4(a: number, sa: number, b: number, sb: number, P: number, C: number, s1: number, s2: number, part: number): void;
  channelSumsScalar(a: number, sa: number, b: number, sb: number, P: number, C: number, s1: number, s2: number, part: number): void;
  channelAffineF32x4(a: number, b: number, P: number, C: number, k1: number, k2: number, k3: number, out: number): void;
  channelAffineScalar(a: number, b: number, P: number, C: number, k1: number, k2: number, k3: number, out: number): void;
}
