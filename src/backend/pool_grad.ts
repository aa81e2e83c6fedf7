// SPDX-License-Identifier: MIT
// 2D pooling gradients on our WASM kernels (assembly/pool_grad.ts): MaxPoolGrad and AvgPoolGrad with
// tfjs-cpu's exact semantics (first maximum in window order; float64 sums rounded once), NHWC float32.
import { getKernels, type WasmKernels } from '../wasm/loader.js';
import type { PoolGradExports } from '../wasm/exports.js';
import { asF32, checkLength, DEFAULT_CHUNK_BYTES } from './conv_backprop.js';

/** NHWC geometry of a 2D pooling, as tfjs's `backend_util.computePool2DInfo` resolves it (dilation 1). */
export interface PoolGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** The fields of tfjs's pool `Conv2DInfo` we read. */
export interface Pool2DInfoLike {
  batchSize: number; inHeight: number; inWidth: number; inChannels: number;
  outHeight: number; outWidth: number; filterHeight: number; filterWidth: number;
  effectiveFilterHeight: number; effectiveFilterWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padInfo: { top: number; left: number };
}

/** Geometry from `tf.backend_util.computePool2DInfo(...)`; RangeError for dilations (tfjs passes 1). */
export function geometryFromPoolInfo(info: Pool2DInfoLike): PoolGeometry {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new RangeError(`pool gradient: dilations must be 1, got [${info.dilationHeight},${info.dilationWidth}]`);
  }
  return {
    batchSize: info.batchSize, inHeight: info.inHeight, inWidth: info.inWidth, channels: info.inChannels,
    outHeight: info.outHeight, outWidth: info.outWidth, filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    strideHeight: info.strideHeight, strideWidth: info.strideWidth, padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

export interface PoolGradOptions {
  /** Run the SIMD kernels (default) or their scalar twins. */
  simd?: boolean;
  /** Bytes staged per kernel call (default DEFAULT_CHUNK_BYTES); at least one image. */
  chunkBytes?: number;
}

type Kernels = WasmKernels & { exports: WasmKernels['exports'] & PoolGradExports };

const KEYS: readonly (keyof PoolGeometry)[] = [
  'batchSize', 'inHeight', 'inWidth', 'channels', 'outHeight', 'outWidth', 'filterHeight', 'filterWidth',
  'strideHeight', 'strideWidth', 'padTop', 'padLeft',
];
const EMPTY_OK = new Set<keyof PoolGeometry>(['batchSize', 'inHeight', 'inWidth', 'channels', 'outHeight', 'outWidth']);
const MAX_FLOATS = 2 ** 29;

function checkPoolGeometry(op: string, g: PoolGeometry): void {
  for (const k of KEYS) {
    const v = g[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: geometry.${k} must be an integer, got ${String(v)}`);
    const min = k === 'padTop' || k === 'padLeft' || EMPTY_OK.has(k) ? 0 : 1;
    if (v < min) throw new RangeError(`${op}: geometry.${k} must be >= ${min}, got ${v}`);
  }
  for (const s of [g.batchSize * g.inHeight * g.inWidth * g.channels, g.batchSize * g.outHeight * g.outWidth * g.channels]) {
    if (s > MAX_FLOATS) throw new RangeError(`${op}: tensors above ${MAX_FLOATS} elements are not supported, got ${s}`);
  }
}


/**
 * Pooling input gradient: streams dy (and x, for max pooling) through our memory in chunks of images
 * and hands each chunk of dx (a view into WASM memory, valid only during the call) to `write` with its
 * float offset. `x` null means average pooling.
 */
export function runPoolGrad(dy: ArrayLike<number>, x: ArrayLike<number> | null, g: PoolGeometry,
    simd: boolean, chunkBytes: number, write: (offset: number, dx: Float32Array) => void): void {
  const op = x ? 'maxPoolGrad' : 'avgPoolGrad';
  checkPoolGeometry(op, g);
  const { batchSize: N, inHeight: H, inWidth: W, channels: C, outHeight: OH, outWidth: OW } = g;
  const xImg = H * W * C, dyImg = OH * OW * C;
  checkLength(op, 'dy', dy, N * dyImg, [N, OH, OW, C]);
  if (x) checkLength(op, 'x', x, N * xImg, [N, H, W, C]);
  if (N * xImg === 0) return;
  if (dyImg === 0) { write(0, new Float32Array(N * xImg)); return; }
  const dys = asF32(op, 'dy', dy), xs = x ? asF32(op, 'x', x) : null;
  const k = getKernels() as Kernels;
  const e = k.exports;
  // x and dx share one buffer: the argmax is taken before dx is written.
  const nb = Math.max(1, Math.min(N, Math.floor(chunkBytes / ((xImg + 2 * dyImg) * 4))));
  const geo = [H, W, C, OH, OW, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft] as const;
  const mult = 1 / (g.filterHeight * g.filterWidth);
  let pdy = 0, pidx = 0, pdx = 0;
  try {
    pdy = k.alloc(nb * dyImg * 4);
    pdx = k.alloc(nb * xImg * 4);
    if (xs) pidx = k.alloc(nb * dyImg * 4);
    const px = pdx;
    for (let n0 = 0; n0 < N; n0 += nb) {
      const n = Math.min(nb, N - n0);
      k.writeF32(pdy, dys.subarray(n0 * dyImg, (n0 + n) * dyImg));
      if (xs) {
        k.writeF32(px, xs.subarray(n0 * xImg, (n0 + n) * xImg));
        if (simd) e.maxPoolArgmaxF32x4(px, pidx, n, ...geo);
        else e.maxPoolArgmaxScalar(px, pidx, n, ...geo);
      }
      if (simd) e.poolGradF32x4(pdy, pidx, pdx, n, ...geo, mult);
      else e.poolGradScalar(pdy, pidx, pdx, n, ...geo, mult);
      write(n0 * xImg, k.f32(pdx, n * xImg));
    }
  } finally {
    k.free(pdx); k.free(pidx); k.free(pdy);
  }
}

/** dx [N,H,W,C] of a max pooling, from dy [N,OH,OW,C] and its input x [N,H,W,C]. Needs `await ready()`. */
export function maxPoolGrad(dy: ArrayLike<number>, x: ArrayLike<number>, g: PoolGeometry, opts: PoolGradOptions = {}): Float32Array {
  const out = new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.channels);
  runPoolGrad(dy, x, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, (o, v) => out.set(v, o));
  return out;
}

/** dx [N,H,W,C] of an average pooling (tfjs: dy / (KH·KW) spread over each window), from dy [N,OH,OW,C]. */
export function avgPoolGrad(dy: ArrayLike<number>, g: PoolGeometry, opts: PoolGradOptions = {}): Float32Array {
  const out = new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.channels);
  runPoolGrad(dy, null, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, (o, v) => out.set(v, o));
  return out;
}
