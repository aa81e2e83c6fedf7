// SPDX-License-Identifier: MIT
// conv2d input gradient on our WASM kernels (assembly/conv_input.ts), over plain Float32Arrays or tfjs
// heap views. Here the dx pixels are sorted into classes of equal valid-tap lists (the kernel's "rows
// of an indirect GEMM"); the batch streams through our memory a few images at a time.
import { getKernels, type WasmKernels } from '../wasm/loader.js';
import type { ConvBackpropExports, ConvInputExports } from '../wasm/exports.js';
import { asF32, checkGeometry, checkLength, DEFAULT_CHUNK_BYTES, type ConvBackpropOptions, type ConvGeometry } from './conv_backprop.js';

type Kernels = WasmKernels & { exports: WasmKernels['exports'] & ConvBackpropExports & ConvInputExports };

function kernels(): Kernels {
  return getKernels() as Kernels;
}

/** Positions 0..I-1 along one axis that see the same filter taps, with their first tap's output index. */
export interface AxisClass {
  /** Valid filter taps k (ascending): i + pad - k·dilation = o·stride with 0 <= o < O. */
  taps: number[];
  /** Member positions i (ascending). */
  positions: number[];
  /** For each member, o of its first tap (the next taps are `o - (k - taps[0])·dilation/stride`). */
  firstOut: number[];
}

/** Groups input positions of one axis by their valid taps (e.g. border / interior, stride phases). */
export function axisClasses(I: number, O: number, K: number, stride: number, dilation: number, pad: number): AxisClass[] {
  const byKey = new Map<string, AxisClass>();
  for (let i = 0; i < I; i++) {
    const taps: number[] = [];
    for (let k = 0; k < K; k++) {
      const num = i + pad - k * dilation;
      if (num < 0 || num % stride !== 0 || num / stride >= O) continue;
      taps.push(k);
    }
    const key = taps.join(',');
    let c = byKey.get(key);
    if (!c) { c = { taps, positions: [], firstOut: [] }; byKey.set(key, c); }
    c.positions.push(i);
    c.firstOut.push(taps.length ? (i + pad - taps[0] * dilation) / stride : 0);
  }
  return [...byKey.values()];
}

interface ClassCall { rows: number; nRows: number; cols: number; nCols: number; runs: number; nRuns: number }

/** What the SIMD kernel needs beyond the tensors: see assembly/conv_input.ts. */
export interface ConvInputPlan {
  /** int32: row pairs, column pairs and runs (triples) of every class; offsets in bytes. */
  table: Int32Array;
  /** One kernel call per class: int32 indices into `table` and counts. */
  calls: ClassCall[];
  /** Packed filter slot -> tap kh·KW + kw (the pack order). */
  tapOf: Int32Array;
}

/**
 * The plan of the SIMD kernel for a geometry: per row class (dy row offset, dx row offset) pairs, per
 * column class (dy column offset, dx column offset) pairs, per (row class, column class) the runs (dy
 * offset from the pixel's base, byte offset in a packed filter panel, K). `ld` is the staged dx row
 * stride in floats. Filter columns are packed grouped by phase (kw·dw mod sw) and, within a phase, in
 * descending kw — ascending dy address — so the taps of one filter row that read adjacent dy pixels
 * merge into one run.
 */
export function convInputPlan(g: ConvGeometry, ld: number): ConvInputPlan {
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, outChannels: Cout, filterHeight: KH,
    filterWidth: KW, strideWidth: sw, dilationWidth: dw } = g;
  const rowCls = axisClasses(H, OH, KH, g.strideHeight, g.dilationHeight, g.padTop);
  const colCls = axisClasses(W, OW, KW, sw, dw, g.padLeft);
  const kwOrder = Array.from({ length: KW }, (_, kw) => kw)
    .sort((a, b) => ((a * dw) % sw) - ((b * dw) % sw) || b - a);
  const slotOf = new Array<number>(KW);
  kwOrder.forEach((kw, s) => { slotOf[kw] = s; });
  const tapOf = new Int32Array(KH * KW);
  for (let kh = 0; kh < KH; kh++) kwOrder.forEach((kw, s) => { tapOf[kh * KW + s] = kh * KW + kw; });

  const t: number[] = [];
  const rowAt: number[] = [], colAt: number[] = [];
  for (const rc of rowCls) {
    rowAt.push(t.length);
    rc.positions.forEach((ih, j) => t.push(rc.firstOut[j] * OW * Cout * 4, ih * W * ld * 4));
  }
  for (const cc of colCls) {
    colAt.push(t.length);
    cc.positions.forEach((iw, j) => t.push(cc.firstOut[j] * Cout * 4, iw * ld * 4));
  }
  const calls: ClassCall[] = [];
  rowCls.forEach((rc, ri) => colCls.forEach((cc, ci) => {
    const runs: [number, number, number][] = [];
    const kws = [...cc.taps].sort((a, b) => slotOf[a] - slotOf[b]);
    for (const kh of rc.taps) {
      const dOh = -((kh - rc.taps[0]) * g.dilationHeight) / g.strideHeight;
      for (const kw of kws) {
        const dOw = -((kw - cc.taps[0]) * dw) / sw;
        const dyOff = (dOh * OW + dOw) * Cout * 4, wOff = (kh * KW + slotOf[kw]) * Cout * 32;
        const last = runs[runs.length - 1];
        if (last && last[0] + last[2] * 4 === dyOff && last[1] + last[2] * 32 === wOff) last[2] += Cout;
        else runs.push([dyOff, wOff, Cout]);
      }
    }
    const at = t.length;
    for (const r of runs) t.push(...r);
    calls.push({ rows: rowAt[ri], nRows: rc.positions.length, cols: colAt[ci], nCols: cc.positions.length,
      runs: at, nRuns: runs.length });
  }));
  return { table: Int32Array.from(t), calls, tapOf };
}


/**
 * conv2d input gradient: streams dy through our memory in chunks of images and hands each chunk of dx
 * (a view into WASM memory, valid only during the call) to `write` with its float offset.
 */
export function runConv2dBackpropInput(dy: ArrayLike<number>, filter: ArrayLike<number>, g: ConvGeometry,
    simd: boolean, chunkBytes: number, write: (offset: number, dx: Float32Array) => void): void {
  const op = 'conv2dBackpropInput';
  checkGeometry(op, g, false);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Cin, outHeight: OH, outWidth: OW, outChannels: Cout,
    filterHeight: KH, filterWidth: KW } = g;
  checkLength(op, 'dy', dy, N * OH * OW * Cout, [N, OH, OW, Cout]);
  checkLength(op, 'filter', filter, KH * KW * Cin * Cout, [KH, KW, Cin, Cout]);
  const dxImg = H * W * Cin, dyImg = OH * OW * Cout;
  if (N * H * W * OH * OW === 0) {
    if (N * dxImg > 0) write(0, new Float32Array(N * dxImg));
    return;
  }
  const ld = simd ? Math.ceil(Cin / 8) * 8 : Cin;
  if (H * W * ld > 2 ** 29) throw new RangeError(`${op}: one image of dx above 2^29 elements is not supported, got ${H * W * ld}`);
  const dys = asF32(op, 'dy', dy), ws = asF32(op, 'filter', filter);
  const k = kernels();
  const e = k.exports;
  const nb = Math.max(1, Math.min(N, Math.floor(chunkBytes / ((dyImg + H * W * ld) * 4))));
  const T = KH * KW;
  let pdy = 0, pw = 0, pwp = 0, pdx = 0, ptab = 0, pslot = 0;
  try {
    pdy = k.alloc(nb * dyImg * 4);
    pdx = k.alloc(nb * H * W * ld * 4);
    pw = k.alloc(ws.length * 4);
    k.writeF32(pw, ws);
    let calls: ClassCall[] = [];
    if (simd) {
      const plan = convInputPlan(g, ld);
      pslot = k.alloc(T * 4);
      k.writeI32(pslot, plan.tapOf);
      pwp = k.alloc(e.conv2dBackpropInputPackedFloats(T, Cin, Cout) * 4);
      e.conv2dBackpropInputPack(pw, pwp, pslot, T, Cin, Cout);
      ptab = k.alloc(plan.table.length * 4);
      k.writeI32(ptab, plan.table);
      calls = plan.calls;
    }
    const nP = ld / 8;
    for (let n0 = 0; n0 < N; n0 += nb) {
      const n = Math.min(nb, N - n0);
      k.writeF32(pdy, dys.subarray(n0 * dyImg, (n0 + n) * dyImg));
      if (simd) {
        for (const c of calls) {
          e.conv2dBackpropInputClassF32x4(pdy, pwp, pdx, n, dyImg * 4, H * W * ld * 4,
            ptab + c.rows * 4, c.nRows, ptab + c.cols * 4, c.nCols, ptab + c.runs * 4, c.nRuns, nP, T * Cout * 32);
        }
        if (ld !== Cin) e.restrideRowsF32(pdx, n * H * W, ld, Cin, Cin);
      } else {
        e.conv2dBackpropInputScalar(pdy, pw, pdx, n, H, W, Cin, OH, OW, Cout, KH, KW, g.strideHeight, g.strideWidth,
          g.dilationHeight, g.dilationWidth, g.padTop, g.padLeft);
      }
      write(n0 * dxImg, k.f32(pdx, n * dxImg));
    }
  } finally {
    k.free(pslot); k.free(ptab); k.free(pwp); k.free(pw); k.free(pdx); k.free(pdy);
  }
}

/** dx [N,H,W,Cin] of a conv2d, from dy [N,OH,OW,Cout] and the filter [KH,KW,Cin,Cout]. Needs `await ready()`. */
export function conv2dBackpropInput(dy: ArrayLike<number>, filter: ArrayLike<number>, g: ConvGeometry,
    opts: ConvBackpropOptions = {}): Float32Array {
  const out = new Float32Array(g.batchSize * g.inHeight * g.inWidth * g.inChannels);
  runConv2dBackpropInput(dy, filter, g, opts.simd ?? true, opts.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    (offset, dx) => out.set(dx, offset));
  return out;
}
