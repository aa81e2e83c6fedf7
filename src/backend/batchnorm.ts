// SPDX-License-Identifier: MIT
// Training-mode BatchNorm on our WASM kernels (assembly/batchnorm.ts), over channels-last data viewed as
// P rows of C channels. Forward: batch mean and (biased) variance, y = γ·(x − mean)/√(var + ε) + β.
// Backward: dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy. Data streams through
// our memory in chunks of rows (the tfjs kernels pass heap views in and write the output tensor directly).
import { getKernels, type WasmKernels } from '../wasm/loader.js';
import type { BatchNormExports } from '../wasm/exports.js';
import { asF32, checkLength, DEFAULT_CHUNK_BYTES } from './conv_backprop.js';

type Kernels = WasmKernels & { exports: WasmKernels['exports'] & BatchNormExports };

export interface BatchNormRunOptions {
  /** SIMD kernels (default) or their scalar twins. */
  simd?: boolean;
  /** Bytes staged per kernel call (default DEFAULT_CHUNK_BYTES); at least one row. */
  chunkBytes?: number;
}

export interface BatchNormStats {
  /** Per-channel batch mean (float64). */
  mean: Float64Array;
  /** Per-channel biased batch variance (float64; divide by n, as the normalisation does). */
  variance: Float64Array;
}

const MAX_FLOATS = 2 ** 29;

function checkArgs(op: string, C: number, n: number, eps: number): void {
  if (!Number.isInteger(C) || C < 1) throw new RangeError(`${op}: channels must be a positive integer, got ${C}`);
  if (n % C !== 0) throw new RangeError(`${op}: x has ${n} elements, not a multiple of ${C} channels`);
  if (n > MAX_FLOATS) throw new RangeError(`${op}: tensors above ${MAX_FLOATS} elements are not supported, got ${n}`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`${op}: epsilon must be a finite number >= 0, got ${eps}`);
}

/** Runs `fn` with scratch buffers in our memory (freed afterwards, also on error). */
function withBuffers<T>(k: Kernels, sizes: number[], fn: (ptrs: number[]) => T): T {
  const ptrs: number[] = [];
  try {
    for (const s of sizes) ptrs.push(k.alloc(Math.max(16, s)));
    return fn(ptrs);
  } finally {
    for (const p of ptrs) k.free(p);
  }
}

/**
 * Streams (a, b) through our memory in chunks of rows, accumulating per channel
 * s1 = Σ (a − sa) and s2 = Σ (a − sa)(b − sb) in float64. `b` null means b = a.
 */
function channelSums(k: Kernels, a: Float32Array, sa: Float32Array, b: Float32Array | null, sb: Float32Array,
    C: number, simd: boolean, chunkBytes: number): { s1: Float64Array; s2: Float64Array } {
  const P = a.length / C;
  const rows = Math.max(1, Math.floor(chunkBytes / (C * 4 * (b ? 2 : 1))));
  return withBuffers(k, [rows * C * 4, b ? rows * C * 4 : 0, C * 4, C * 4, C * 8, C * 8, C * 8], ([pa, pb, psa, psb, ps1, ps2, part]) => {
    const e = k.exports;
    k.writeF32(psa, sa);
    k.writeF32(psb, sb);
    new Float64Array(e.memory.buffer, ps1, C).fill(0);
    new Float64Array(e.memory.buffer, ps2, C).fill(0);
    for (let r0 = 0; r0 < P; r0 += rows) {
      const r = Math.min(rows, P - r0);
      k.writeF32(pa, a.subarray(r0 * C, (r0 + r) * C));
      if (b) k.writeF32(pb, b.subarray(r0 * C, (r0 + r) * C));
      (simd ? e.channelSumsF32x4 : e.channelSumsScalar)(pa, psa, b ? pb : pa, psb, r, C, ps1, ps2, part);
    }
    return { s1: new Float64Array(e.memory.buffer, ps1, C).slice(), s2: new Float64Array(e.memory.buffer, ps2, C).slice() };
  });
}

/** Streams a (and b) through out = k1·a + k2·b + k3 per channel, handing each chunk to `write`. */
function channelAffine(k: Kernels, a: Float32Array, b: Float32Array | null, C: number, k1: Float32Array, k2: Float32Array,
    k3: Float32Array, simd: boolean, chunkBytes: number, write: (offset: number, v: Float32Array) => void): void {
  const P = a.length / C;
  const rows = Math.max(1, Math.floor(chunkBytes / (C * 4 * (b ? 2 : 1))));
  withBuffers(k, [rows * C * 4, b ? rows * C * 4 : 0, C * 4, C * 4, C * 4], ([pa, pb, pk1, pk2, pk3]) => {
    const e = k.exports;
    k.writeF32(pk1, k1); k.writeF32(pk2, k2); k.writeF32(pk3, k3);
    for (let r0 = 0; r0 < P; r0 += rows) {
      const r = Math.min(rows, P - r0);
      k.writeF32(pa, a.subarray(r0 * C, (r0 + r) * C));
      if (b) k.writeF32(pb, b.subarray(r0 * C, (r0 + r) * C));
      (simd ? e.channelAffineF32x4 : e.channelAffineScalar)(pa, b ? pb : 0, r, C, pk1, pk2, pk3, pa);
      write(r0 * C, k.f32(pa, r * C));
    }
  });
}

function perChannel(op: string, name: string, v: ArrayLike<number>, C: number): Float32Array {
  checkLength(op, name, v, C, [C]);
  return asF32(op, name, v);
}

/**
 * Forward of training-mode BatchNorm: returns the batch statistics and hands y (chunk by chunk, a view
 * valid only during the call) to `write` with its float offset. Needs `await ready()`.
 */
export function runBatchNormForward(x: ArrayLike<number>, C: number, gamma: ArrayLike<number>, beta: ArrayLike<number>,
    eps: number, write: (offset: number, y: Float32Array) => void, opts: BatchNormRunOptions = {}): BatchNormStats {
  const op = 'batchNormTrain';
  checkArgs(op, C, x.length, eps);
  const xs = asF32(op, 'x', x), g = perChannel(op, 'gamma', gamma, C), bt = perChannel(op, 'beta', beta, C);
  const P = xs.length / C;
  if (P === 0) return { mean: new Float64Array(C).fill(NaN), variance: new Float64Array(C).fill(NaN) };
  const k = getKernels() as Kernels;
  const simd = opts.simd ?? true, chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  // Pivot: the first row, close to the mean in scale, keeps Σ(x − K)² free of cancellation.
  const pivot = xs.slice(0, C);
  const { s1, s2 } = channelSums(k, xs, pivot, null, pivot, C, simd, chunk);
  const mean = new Float64Array(C), variance = new Float64Array(C);
  const k1 = new Float32Array(C), k3 = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const d = s1[c] / P;
    mean[c] = pivot[c] + d;
    variance[c] = Math.max(0, s2[c] / P - d * d);
    const a = g[c] / Math.sqrt(variance[c] + eps);
    k1[c] = a;
    k3[c] = bt[c] - a * mean[c];
  }
  channelAffine(k, xs, null, C, k1, k1, k3, simd, chunk, write);
  return { mean, variance };
}

/**
 * Backward of training-mode BatchNorm given the forward's batch statistics: hands dx to `write` chunk by
 * chunk and returns dγ = Σ dy·x̂ and dβ = Σ dy. Needs `await ready()`.
 */
export function runBatchNormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, C: number, gamma: ArrayLike<number>,
    mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number, write: (offset: number, dx: Float32Array) => void,
    opts: BatchNormRunOptions = {}): { dgamma: Float32Array; dbeta: Float32Array } {
  const op = 'batchNormTrain (backward)';
  checkArgs(op, C, x.length, eps);
  checkLength(op, 'dy', dy, x.length, [x.length / C, C]);
  const xs = asF32(op, 'x', x), dys = asF32(op, 'dy', dy), g = perChannel(op, 'gamma', gamma, C);
  const mu = perChannel(op, 'mean', mean, C), v = perChannel(op, 'variance', variance, C);
  const P = xs.length / C;
  if (P === 0) return { dgamma: new Float32Array(C), dbeta: new Float32Array(C) };
  const k = getKernels() as Kernels;
  const simd = opts.simd ?? true, chunk = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const { s1, s2 } = channelSums(k, dys, new Float32Array(C), xs, mu, C, simd, chunk);
  const k1 = new Float32Array(C), k2 = new Float32Array(C), k3 = new Float32Array(C);
  const dgamma = new Float32Array(C), dbeta = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const rstd = 1 / Math.sqrt(v[c] + eps);
    dgamma[c] = rstd * s2[c];
    dbeta[c] = s1[c];
    const a = g[c] * rstd, b = -a * rstd * rstd * s2[c] / P;
    k1[c] = a;
    k2[c] = b;
    k3[c] = -a * s1[c] / P - b * mu[c];
  }
  channelAffine(k, dys, xs, C, k1, k2, k3, simd, chunk, write);
  return { dgamma, dbeta };
}
