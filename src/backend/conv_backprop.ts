// SPDX-License-Identifier: MIT
// Convolution gradients on our WASM kernels (assembly/conv_backprop.ts), over plain Float32Arrays.
// The tfjs kernels in wasm_kernels.ts use the same runners with tfjs heap views as sources and
// the tfjs backend's output as the sink, so each tensor crosses between the modules exactly once.
import { getKernels, type WasmKernels } from '../wasm/loader.js';
import type { ConvBackpropExports } from '../wasm/exports.js';

/**
 * NHWC geometry of one 2D convolution y = conv(x, w), as tfjs's `backend_util.computeConv2DInfo`
 * resolves it (strides, dilations and 'same' / 'valid' / explicit padding already turned into pads).
 * For a depthwise convolution `outChannels` = inChannels · channelMultiplier.
 */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

/** The fields of tfjs's `Conv2DInfo` we read (a structural subset, so any tfjs 4.x object fits). */
export interface Conv2DInfoLike {
  batchSize: number; inHeight: number; inWidth: number; inChannels: number;
  outHeight: number; outWidth: number; outChannels: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  filterHeight: number; filterWidth: number;
  padInfo: { top: number; left: number };
  dataFormat?: string;
}

/** Geometry from a tfjs `Conv2DInfo` (`tf.backend_util.computeConv2DInfo(...)`). */
export function geometryFromConvInfo(info: Conv2DInfoLike): ConvGeometry {
  return {
    batchSize: info.batchSize, inHeight: info.inHeight, inWidth: info.inWidth, inChannels: info.inChannels,
    outHeight: info.outHeight, outWidth: info.outWidth, outChannels: info.outChannels,
    filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    strideHeight: info.strideHeight, strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight, dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

export interface ConvBackpropOptions {
  /** Run the SIMD kernel (default) or its scalar twin. */
  simd?: boolean;
  /** Bytes of input staged per kernel call (default DEFAULT_CHUNK_BYTES); at least one image. */
  chunkBytes?: number;
}

type Kernels = WasmKernels & { exports: WasmKernels['exports'] & ConvBackpropExports };

function kernels(): Kernels {
  return getKernels() as Kernels;
}

const GEOM_KEYS: readonly (keyof ConvGeometry)[] = [
  'batchSize', 'inHeight', 'inWidth', 'inChannels', 'outHeight', 'outWidth', 'outChannels',
  'filterHeight', 'filterWidth', 'strideHeight', 'strideWidth', 'dilationHeight', 'dilationWidth',
  'padTop', 'padLeft',
];
const EMPTY_OK = new Set<keyof ConvGeometry>(['batchSize', 'inHeight', 'inWidth', 'outHeight', 'outWidth']);
const isEmpty = (g: ConvGeometry): boolean =>
  g.batchSize * g.inHeight * g.inWidth * g.outHeight * g.outWidth === 0;
// Every buffer, and every index our kernels form, must stay below 2^31 bytes.
const MAX_FLOATS = 2 ** 29;

/** Validates a geometry; returns the channel multiplier for depthwise, 0 otherwise. */
export function checkGeometry(op: string, g: ConvGeometry, depthwise: boolean): number {
  for (const k of GEOM_KEYS) {
    const v = g[k];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new TypeError(`${op}: geometry.${k} must be an integer, got ${String(v)}`);
    }
    // Empty tensors are legal in tfjs: a zero batch or spatial size gives a zero gradient.
    const min = k === 'padTop' || k === 'padLeft' || EMPTY_OK.has(k) ? 0 : 1;
    if (v < min) throw new RangeError(`${op}: geometry.${k} must be >= ${min}, got ${v}`);
  }
  let mult = 0;
  if (depthwise) {
    if (g.outChannels % g.inChannels !== 0) {
      throw new RangeError(`${op}: outChannels (${g.outChannels}) must be a multiple of inChannels (${g.inChannels})`);
    }
    mult = g.outChannels / g.inChannels;
  }
  const sizes = [
    g.batchSize * g.inHeight * g.inWidth * g.inChannels,
    g.batchSize * g.outHeight * g.outWidth * (Math.ceil(g.outChannels / 8) * 8),
    g.filterHeight * g.filterWidth * g.inChannels * (Math.ceil(g.outChannels / 8) * 8),
  ];
  for (const s of sizes) {
    if (s > MAX_FLOATS) throw new RangeError(`${op}: tensors above ${MAX_FLOATS} elements are not supported, got ${s}`);
  }
  return mult;
}

/** RangeError naming the op and argument when a flat input has the wrong number of elements. */
export function checkLength(op: string, name: string, a: ArrayLike<number>, want: number, shape: number[]): void {
  if (a.length !== want) {
    throw new RangeError(`${op}: ${name} must have ${want} elements (shape [${shape.join(',')}]), got ${a.length}`);
  }
}

const c8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * Default bytes of input staged in our memory per kernel call. The batch is streamed through
 * buffers of about this size, a few images at a time, so each copy lands in cache right before the
 * kernel reads it and the heap holds a few hundred KiB rather than the whole tensors.
 */
export const DEFAULT_CHUNK_BYTES = 512 << 10;

function imagesPerChunk(bytesPerImage: number, N: number, chunkBytes: number): number {
  return Math.max(1, Math.min(N, Math.floor(chunkBytes / Math.max(1, bytesPerImage))));
}

/** The input as a Float32Array (no copy when it already is one). */
export function asF32(op: string, name: string, a: ArrayLike<number>): Float32Array {
  if (a instanceof Float32Array) return a;
  if (a == null || typeof a.length !== 'number') throw new TypeError(`${op}: ${name} must be a Float32Array or an array of numbers`);
  return Float32Array.from(a);
}

/**
 * conv2d filter gradient: streams x and dy through our memory in chunks of images, accumulating dW,
 * then hands dW (a view into WASM memory, valid only inside `sink`) to `sink` and frees everything.
 */
export function runConv2dBackpropFilter<T>(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry,
    simd: boolean, chunkBytes: number, sink: (dW: Float32Array) => T): T {
  const op = 'conv2dBackpropFilter';
  checkGeometry(op, g, false);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Cin, outHeight: OH, outWidth: OW, outChannels: Cout,
    filterHeight: KH, filterWidth: KW } = g;
  checkLength(op, 'x', x, N * H * W * Cin, [N, H, W, Cin]);
  checkLength(op, 'dy', dy, N * OH * OW * Cout, [N, OH, OW, Cout]);
  if (isEmpty(g)) return sink(new Float32Array(KH * KW * Cin * Cout));
  const xs = asF32(op, 'x', x), dys = asF32(op, 'dy', dy);
  const k = kernels();
  // The SIMD kernel wants Cout % 8 == 0: dy is widened in place, dW narrowed in place at the end.
  const ld = simd ? c8(Cout) : Cout;
  const xImg = H * W * Cin, dyImg = OH * OW * Cout, dyRowsImg = OH * OW, dwRows = KH * KW * Cin;
  const nb = imagesPerChunk((xImg + OH * OW * ld) * 4, N, chunkBytes);
  const f = simd ? k.exports.conv2dBackpropFilterF32x4 : k.exports.conv2dBackpropFilterScalar;
  let px = 0, pdy = 0, pdw = 0;
  try {
    px = k.alloc(nb * xImg * 4);
    pdy = k.alloc(nb * dyRowsImg * ld * 4);
    pdw = k.alloc(dwRows * ld * 4);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const n = Math.min(nb, N - n0);
      k.writeF32(px, xs.subarray(n0 * xImg, (n0 + n) * xImg));
      k.writeF32(pdy, dys.subarray(n0 * dyImg, (n0 + n) * dyImg));
      if (ld !== Cout) k.exports.restrideRowsF32(pdy, n * dyRowsImg, Cout, ld, Cout);
      f(px, pdy, pdw, n, H, W, Cin, OH, OW, ld, KH, KW, g.strideHeight, g.strideWidth,
        g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft, n0 > 0 ? 1 : 0);
    }
    if (ld !== Cout) k.exports.restrideRowsF32(pdw, dwRows, ld, Cout, Cout);
    return sink(k.f32(pdw, dwRows * Cout));
  } finally {
    k.free(pdw); k.free(pdy); k.free(px);
  }
}

/** Depthwise filter gradient runner (see runConv2dBackpropFilter). */
export function runDepthwiseBackpropFilter<T>(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry,
    simd: boolean, chunkBytes: number, sink: (dW: Float32Array) => T): T {
  const op = 'depthwiseConv2dNativeBackpropFilter';
  const M = checkGeometry(op, g, true);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW,
    filterHeight: KH, filterWidth: KW } = g;
  checkLength(op, 'x', x, N * H * W * C, [N, H, W, C]);
  checkLength(op, 'dy', dy, N * OH * OW * C * M, [N, OH, OW, C * M]);
  const outLen = KH * KW * C * M, xImg = H * W * C, dyImg = OH * OW * C * M;
  if (isEmpty(g)) return sink(new Float32Array(outLen));
  const xs = asF32(op, 'x', x), dys = asF32(op, 'dy', dy);
  const k = kernels();
  const nb = imagesPerChunk((xImg + dyImg) * 4, N, chunkBytes);
  const args = [H, W, C, OH, OW, M, KH, KW, g.strideHeight, g.strideWidth,
    g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft] as const;
  let px = 0, pdy = 0, pdw = 0, ps = 0;
  try {
    px = k.alloc(nb * xImg * 4);
    pdy = k.alloc(nb * dyImg * 4);
    pdw = k.alloc(outLen * 4);
    const scratch = simd ? k.exports.depthwiseBackpropFilterScratch(H, W, C, M) : 0;
    if (scratch > 0) ps = k.alloc(scratch * 4);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const n = Math.min(nb, N - n0), acc = n0 > 0 ? 1 : 0;
      k.writeF32(px, xs.subarray(n0 * xImg, (n0 + n) * xImg));
      k.writeF32(pdy, dys.subarray(n0 * dyImg, (n0 + n) * dyImg));
      if (simd) k.exports.depthwiseBackpropFilterF32x4(px, pdy, pdw, n, ...args, ps, acc);
      else k.exports.depthwiseBackpropFilterScalar(px, pdy, pdw, n, ...args, acc);
    }
    return sink(k.f32(pdw, outLen));
  } finally {
    k.free(ps); k.free(pdw); k.free(pdy); k.free(px);
  }
}

/**
 * Depthwise input gradient: streams dy through our memory in chunks of images and hands each chunk
 * of dx (a view into WASM memory, valid only during the call) to `write` with its float offset.
 */
export function runDepthwiseBackpropInput(dy: ArrayLike<number>, filter: ArrayLike<number>, g: ConvGeometry,
    simd: boolean, chunkBytes: number, write: (offset: number, dx: Float32Array) => void): void {
  const op = 'depthwiseConv2dNativeBackpropInput';
  const M = checkGeometry(op, g, true);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW,
    filterHeight: KH, filterWidth: KW } = g;
  checkLength(op, 'dy', dy, N * OH * OW * C * M, [N, OH, OW, C * M]);
  checkLength(op, 'filter', filter, KH * KW * C * M, [KH, KW, C, M]);
  const dxImg = H * W * C, dyImg = OH * OW * C * M;
  if (isEmpty(g)) {
    if (N * dxImg > 0) write(0, new Float32Array(N * dxImg));
    return;
  }
  const dys = asF32(op, 'dy', dy), ws = asF32(op, 'filter', filter);
  const k = kernels();
  const nb = imagesPerChunk((dxImg + dyImg) * 4, N, chunkBytes);
  const args = [H, W, C, OH, OW, M, KH, KW, g.strideHeight, g.strideWidth,
    g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft] as const;
  let pdy = 0, pw = 0, pdx = 0, ps = 0;
  try {
    pdy = k.alloc(nb * dyImg * 4);
    pw = k.alloc(ws.length * 4);
    pdx = k.alloc(nb * dxImg * 4);
    const scratch = simd ? k.exports.depthwiseBackpropInputScratch(W, C, M) : 0;
    if (scratch > 0) ps = k.alloc(scratch * 4);
    k.writeF32(pw, ws);
    for (let n0 = 0; n0 < N; n0 += nb) {
      const n = Math.min(nb, N - n0);
      k.writeF32(pdy, dys.subarray(n0 * dyImg, (n0 + n) * dyImg));
      if (simd) k.exports.depthwiseBackpropInputF32x4(pdy, pw, pdx, n, ...args, ps);
      else k.exports.depthwiseBackpropInputScalar(pdy, pw, pdx, n, ...args);
      write(n0 * dxImg, k.f32(pdx, n * dxImg));
    }
  } finally {
    k.free(ps); k.free(pdx); k.free(pw); k.free(pdy);
  }
}

const copyOut = (v: Float32Array): Float32Array => new Float32Array(v);

/** dW [KH,KW,Cin,Cout] of a conv2d, from x [N,H,W,Cin] and dy [N,OH,OW,Cout]. Needs `await ready()`. */
export function conv2dBackpropFilter(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry,
    opts: ConvBackpropOptions = {}): Float32Array {
  return runConv2dBackpropFilter(x, dy, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, copyOut);
}

/** dW [KH,KW,C,M] of a depthwise conv2d, from x [N,H,W,C] and dy [N,OH,OW,C·M]. */
export function depthwiseConv2dBackpropFilter(x: ArrayLike<number>, dy: ArrayLike<number>, g: ConvGeometry,
    opts: ConvBackpropOptions = {}): Float32Array {
  return runDepthwiseBackpropFilter(x, dy, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES, copyOut);
}

/** dx [N,H,W,C] of a depthwise conv2d, from dy [N,OH,OW,C·M] and the filter [KH,KW,C,M]. */
export function depthwiseConv2dBackpropInput(dy: ArrayLike<number>, filter: ArrayLike<number>, g: ConvGeometry,
    opts: ConvBackpropOptions = {}): Float32Array {
  const out = new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.inChannels);
  runDepthwiseBackpropInput(dy, filter, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    (offset, dx) => out.set(dx, offset));
  return out;
}

/** Multiply-adds of the forward convolution (each of these gradients costs the same; FLOPs = 2×). */
export function convMacs(g: ConvGeometry, depthwise: boolean): number {
  const perOut = g.filterHeight * g.filterWidth * (depthwise ? 1 : g.inChannels);
  return g.batchSize * g.outHeight * g.outWidth * g.outChannels * perOut;
}
