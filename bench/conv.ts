// SPDX-License-Identifier: MIT
// Convolution gradients on backend 'wasm': our AssemblyScript kernels (registered into tfjs) against
// tfjs-wasm's own forward convolution (XNNPACK) in the same run. Rates are nominal FLOPs
// (2 · multiply-adds of the convolution; each gradient costs exactly the forward's multiply-adds).
//
//   node dist/bench/conv.js [--quick] [--only TEXT]        last line: JSON with every figure
//
// First part: our Conv2DBackpropFilter (every filter-gradient shape of the small RLE trunk, see below,
// with the calls per training step summed) and the depthwise gradients, tfjs has none of these on 'wasm'.
//
// Second part: the kernels that REPLACE tfjs-wasm's own (registerWasmSpeedKernels) — Conv2DBackpropInput
// on every input-gradient shape of the small RLE trunk (BasicBlock [32,64,128,256] x1, input
// [32,128,96,3]; the stem's input gradient is never asked for: the image needs none), MaxPoolGrad of
// its stem pool, AvgPoolGrad — against the tfjs-wasm kernel they replaced and XNNPACK's forward op of
// equal multiply-adds (Conv2D of the same geometry; MaxPool / AvgPool forward for the pools).
//
// Peers per case: 'xnn conv2d fwd' is tf.conv2d on the same input (for depthwise cases: a dense conv
// with C·M output channels, the best rate tfjs-wasm reaches on that input); 'xnn depthwise fwd' is
// tf.depthwiseConv2d of exactly equal FLOPs. 'ours' is the tfjs kernel end to end (copies between the
// two WASM heaps included); 'ours kernel only' runs the AssemblyScript kernel on data already in our
// memory. First-call times (V8 starts WASM in its baseline tier) are reported apart from steady state.
import Benchmark from 'benchmark';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';
import type { ConvBackpropExports } from '../src/wasm/exports.js';
import { convMacs, geometryFromConvInfo, type ConvGeometry } from '../src/backend/conv_backprop.js';
import { registerWasmTrainingKernels } from '../src/backend/wasm_kernels.js';
import { registerWasmSpeedKernels, replacedWasmKernel, type WasmSpeedKernelName } from '../src/backend/wasm_speed_kernels.js';
import type { ConvInputExports } from '../src/wasm/exports.js';
import { convInputPlan } from '../src/backend/conv_input.js';

type Shape4 = [number, number, number, number];
type Op = 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter' | 'DepthwiseConv2dNativeBackpropInput';

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
const P1: Pad4 = [[0, 0], [1, 1], [1, 1], [0, 0]];
const P3: Pad4 = [[0, 0], [3, 3], [3, 3], [0, 0]];

interface Case {
  name: string; op: Op; x: Shape4; out: number; k: number; stride: number;
  /** Default 'same'. */
  pad?: Pad4 | 'valid' | 'same';
  /** For the trunk's shapes: how often one training step of the small trunk runs this shape. */
  callsPerStep?: number;
}

const CASES: Case[] = [
  { name: 'conv dW [8,64,48,16]->32 3x3 s1 (tfjs-cpu: 16 s)', op: 'Conv2DBackpropFilter', x: [8, 64, 48, 16], out: 32, k: 3, stride: 1 },
  { name: 'conv dW [32,32,24,64]->64 3x3 s1', op: 'Conv2DBackpropFilter', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'conv dW [32,64,48,32]->64 3x3 s2', op: 'Conv2DBackpropFilter', x: [32, 64, 48, 32], out: 64, k: 3, stride: 2 },
  // Filter gradients the small RLE trunk asks for (BasicBlock [32,64,128,256] x1, input [32,128,96,3]).
  { name: 'dW stem 7x7/2 [32,128,96,3]->32', op: 'Conv2DBackpropFilter', x: [32, 128, 96, 3], out: 32, k: 7, stride: 2, pad: P3, callsPerStep: 1 },
  { name: 'dW L1 conv1/2 3x3/1 [32,32,24,32]->32', op: 'Conv2DBackpropFilter', x: [32, 32, 24, 32], out: 32, k: 3, stride: 1, pad: P1, callsPerStep: 2 },
  { name: 'dW L2 conv1 3x3/2 [32,32,24,32]->64', op: 'Conv2DBackpropFilter', x: [32, 32, 24, 32], out: 64, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dW L2 conv2 3x3/1 [32,16,12,64]->64', op: 'Conv2DBackpropFilter', x: [32, 16, 12, 64], out: 64, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dW L2 down 1x1/2 [32,32,24,32]->64', op: 'Conv2DBackpropFilter', x: [32, 32, 24, 32], out: 64, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dW L3 conv1 3x3/2 [32,16,12,64]->128', op: 'Conv2DBackpropFilter', x: [32, 16, 12, 64], out: 128, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dW L3 conv2 3x3/1 [32,8,6,128]->128', op: 'Conv2DBackpropFilter', x: [32, 8, 6, 128], out: 128, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dW L3 down 1x1/2 [32,16,12,64]->128', op: 'Conv2DBackpropFilter', x: [32, 16, 12, 64], out: 128, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dW L4 conv1 3x3/2 [32,8,6,128]->256', op: 'Conv2DBackpropFilter', x: [32, 8, 6, 128], out: 256, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dW L4 conv2 3x3/1 [32,4,3,256]->256', op: 'Conv2DBackpropFilter', x: [32, 4, 3, 256], out: 256, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dW L4 down 1x1/2 [32,8,6,128]->256', op: 'Conv2DBackpropFilter', x: [32, 8, 6, 128], out: 256, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dw dW [32,32,24,64] 3x3 s1', op: 'DepthwiseConv2dNativeBackpropFilter', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'dw dW [32,64,48,32] 3x3 s2', op: 'DepthwiseConv2dNativeBackpropFilter', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2 },
  { name: 'dw dx [32,32,24,64] 3x3 s1', op: 'DepthwiseConv2dNativeBackpropInput', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'dw dx [32,64,48,32] 3x3 s2', op: 'DepthwiseConv2dNativeBackpropInput', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2 },
];

interface Figure { meanMs: number; bestMs: number; gflops: number; gflopsBest: number; rme: number; samples: number }
interface Row {
  name: string; op: Op; x: Shape4; outChannels: number; kernel: number; stride: number; gflop: number;
  callsPerStep: number; firstCallMs: number; ours: Figure; kernelOnly: Figure; xnnConv: Figure & { gflopPerCall: number };
  xnnDepthwise?: Figure; ratio: number; ratioBest: number; ratioVsDepthwise?: number;
}

const quick = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] ?? '' : '';
const maxTime = quick ? 0.4 : 1.5;

function figure(b: Benchmark, gflop: number): Figure {
  const sample = b.stats.sample;
  const best = sample.length ? Math.min(...sample) : b.stats.mean;
  return {
    meanMs: b.stats.mean * 1e3, bestMs: best * 1e3, gflops: gflop / b.stats.mean, gflopsBest: gflop / best,
    rme: b.stats.rme, samples: sample.length,
  };
}

function runSuite(name: string, fns: Record<string, () => void>): Record<string, Benchmark> {
  const out: Record<string, Benchmark> = {};
  const suite = new Benchmark.Suite(name);
  for (const [label, fn] of Object.entries(fns)) suite.add(label, fn, { maxTime, minSamples: 5 });
  suite
    .on('cycle', function (event: Benchmark.Event) {
      const b = event.target as unknown as Benchmark;
      out[b.name ?? ''] = b;
      console.error(`  ${String(event.target)}`);
    })
    .on('error', function (event: Benchmark.Event) {
      throw (event.target as unknown as Benchmark).error;
    })
    .on('complete', function (this: Benchmark.Suite) {
      console.error(`  fastest: ${this.filter('fastest').map('name').join(', ')}`);
    })
    .run({ async: false });
  return out;
}

/** The AssemblyScript kernel alone on data already in our memory (allocated once, freed after). */
function kernelOnly(c: Case, g: ConvGeometry, x: tf.Tensor, dy: tf.Tensor, w: tf.Tensor): { fn: () => void; free: () => void } {
  const k = getKernels();
  const e = k.exports as typeof k.exports & ConvBackpropExports;
  const geo = [g.batchSize, g.inHeight, g.inWidth, g.inChannels, g.outHeight, g.outWidth] as const;
  const conv = [g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.dilationHeight, g.dilationWidth,
    g.padTop, g.padLeft] as const;
  const ptrs: number[] = [];
  const put = (t: tf.Tensor): number => { const p = k.alloc(t.size * 4); ptrs.push(p); k.writeF32(p, t.dataSync()); return p; };
  const out = (n: number): number => { const p = k.alloc(n * 4); ptrs.push(p); return p; };
  let fn: () => void;
  if (c.op === 'Conv2DBackpropFilter') {
    // Cout is a multiple of 8 in every case here, so no channel padding.
    const px = put(x), pdy = put(dy), pdw = out(w.size);
    fn = () => e.conv2dBackpropFilterF32x4(px, pdy, pdw, ...geo, g.outChannels, ...conv, 0);
  } else if (c.op === 'DepthwiseConv2dNativeBackpropFilter') {
    const px = put(x), pdy = put(dy), pdw = out(w.size);
    fn = () => e.depthwiseBackpropFilterF32x4(px, pdy, pdw, ...geo, g.outChannels / g.inChannels, ...conv, 0, 0);
  } else {
    const pdy = put(dy), pw = put(w), pdx = out(x.size);
    fn = () => e.depthwiseBackpropInputF32x4(pdy, pw, pdx, ...geo, g.outChannels / g.inChannels, ...conv, 0);
  }
  return { fn, free: () => { for (const p of ptrs) k.free(p); } };
}

async function main(): Promise<void> {
  await ready();
  await tf.setBackend('wasm');
  const reg = registerWasmTrainingKernels(tf);
  console.error(`backend ${tf.getBackend()}, tfjs ${tf.version.tfjs}; registered ${reg.registered.join(', ')}`);
  const rows: Row[] = [];
  for (const c of CASES) {
    if (only && !c.name.includes(only)) continue;
    const depthwise = c.op !== 'Conv2DBackpropFilter';
    const filterShape: Shape4 = depthwise ? [c.k, c.k, c.x[3], c.out / c.x[3]] : [c.k, c.k, c.x[3], c.out];
    const pad = c.pad ?? 'same';
    const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, pad, undefined, depthwise);
    const g = geometryFromConvInfo(info);
    const gflop = 2 * convMacs(g, depthwise) / 1e9;
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    const dy = tf.randomNormal(info.outShape, 0, 1, 'float32', 2);
    const w = tf.randomNormal(filterShape, 0, 1, 'float32', 3);
    const wDense = tf.randomNormal([c.k, c.k, c.x[3], c.out], 0, 1, 'float32', 4);
    const gflopDense = 2 * convMacs({ ...g, outChannels: c.out }, false) / 1e9;
    const attrs = { strides: c.stride, pad, dilations: 1, dataFormat: 'NHWC' } as const;
    const ours = (): void => tf.tidy(() => {
      if (c.op === 'DepthwiseConv2dNativeBackpropInput') {
        tf.engine().runKernel(c.op, { dy, filter: w }, { ...attrs, inputShape: c.x } as unknown as tf.NamedAttrMap);
      } else {
        tf.engine().runKernel(c.op, { x, dy }, { ...attrs, filterShape } as unknown as tf.NamedAttrMap);
      }
    });
    const t0 = performance.now();
    ours();
    const firstCallMs = performance.now() - t0;
    const ko = kernelOnly(c, g, x, dy, w);
    console.error(`${c.name}: first call ${firstCallMs.toFixed(1)} ms`);
    const fns: Record<string, () => void> = {
      'ours': ours,
      'ours kernel only': ko.fn,
      'xnn conv2d fwd': () => tf.tidy(() => { tf.conv2d(x as tf.Tensor4D, wDense as tf.Tensor4D, c.stride, pad); }),
    };
    if (depthwise) fns['xnn depthwise fwd'] = () => tf.tidy(() => { tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, pad); });
    const b = runSuite(c.name, fns);
    ko.free();
    const xnnConv = { ...figure(b['xnn conv2d fwd'], gflopDense), gflopPerCall: gflopDense };
    const row: Row = {
      name: c.name, op: c.op, x: c.x, outChannels: c.out, kernel: c.k, stride: c.stride, gflop,
      callsPerStep: c.callsPerStep ?? 0, firstCallMs,
      ours: figure(b['ours'], gflop), kernelOnly: figure(b['ours kernel only'], gflop), xnnConv,
      ratio: 0, ratioBest: 0,
    };
    row.ratio = row.ours.gflops / xnnConv.gflops;
    row.ratioBest = row.ours.gflopsBest / xnnConv.gflopsBest;
    if (depthwise) {
      row.xnnDepthwise = figure(b['xnn depthwise fwd'], gflop);
      row.ratioVsDepthwise = row.ours.gflops / row.xnnDepthwise.gflops;
    }
    rows.push(row);
    tf.dispose([x, dy, w, wDense]);
  }

  const overrides = overrideRows();

  const f1 = (v: number): string => v.toFixed(1);
  // 'ratio' columns: ours / XNNPACK's dense conv2d forward on the same input (FLOP rates); for depthwise
  // cases also ours / XNNPACK's depthwise forward of equal FLOPs (the like-for-like peer).
  console.log('\n| case | ours ms | ours GFLOP/s | kernel-only GFLOP/s | XNNPACK conv2d fwd GFLOP/s | ratio (mean) | ratio (best) | XNNPACK depthwise fwd GFLOP/s | ours / depthwise fwd (mean) | ours / depthwise fwd (best) | first call ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const dw = r.xnnDepthwise;
    console.log(`| ${r.name} | ${r.ours.meanMs.toFixed(2)} | ${f1(r.ours.gflops)} | ${f1(r.kernelOnly.gflops)} | ` +
      `${f1(r.xnnConv.gflops)} | ${r.ratio.toFixed(2)} | ${r.ratioBest.toFixed(2)} | ` +
      `${dw ? f1(dw.gflops) : '-'} | ${dw ? (r.ours.gflops / dw.gflops).toFixed(2) : '-'} | ` +
      `${dw ? (r.ours.gflopsBest / dw.gflopsBest).toFixed(2) : '-'} | ${r.firstCallMs.toFixed(1)} |`);
  }
  const trunkDw = rows.filter((r) => r.callsPerStep > 0);
  if (trunkDw.length) {
    const sum = (f: (r: Row) => number): number => trunkDw.reduce((a, r) => a + f(r) * r.callsPerStep, 0);
    console.log(`trunk Conv2DBackpropFilter per training step (${sum(() => 1)} calls): ours ${sum((r) => r.ours.meanMs).toFixed(1)} ms ` +
      `(kernel only ${sum((r) => r.kernelOnly.meanMs).toFixed(1)} ms), XNNPACK forward of the same convolutions ` +
      `${sum((r) => r.xnnConv.meanMs).toFixed(1)} ms`);
  }
  console.log('\nKernels replacing tfjs-wasm\'s own (registerWasmSpeedKernels): ours end to end (heap copies included) ' +
    'vs the replaced tfjs-wasm kernel vs XNNPACK\'s forward op of equal multiply-adds (for pools: the forward pool).');
  console.log('| case | ours ms | ours GFLOP/s | kernel-only GFLOP/s | tfjs-wasm own ms | tfjs-wasm GFLOP/s | XNNPACK fwd ms | XNNPACK fwd GFLOP/s | ours vs tfjs-wasm | ours / XNNPACK fwd rate | first call ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const g1 = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
  for (const r of overrides) {
    console.log(`| ${r.name} | ${r.ours.meanMs.toFixed(2)} | ${g1(r.gflop ? r.ours.gflops : undefined)} | ${g1(r.kernelOnly?.gflops)} | ` +
      `${r.tfjsWasm.meanMs.toFixed(2)} | ${g1(r.gflop ? r.tfjsWasm.gflops : undefined)} | ${r.xnnFwd.meanMs.toFixed(2)} | ` +
      `${g1(r.gflop ? r.xnnFwd.gflops : undefined)} | ${r.speedupVsTfjsWasm.toFixed(1)}x | ${r.ratioVsXnnFwd.toFixed(2)} | ${r.firstCallMs.toFixed(1)} |`);
  }
  const trunk = overrides.filter((r) => r.op === 'Conv2DBackpropInput');
  if (trunk.length) {
    const sum = (f: (r: OverrideRow) => number): number => trunk.reduce((a, r) => a + f(r) * r.callsPerStep, 0);
    console.log(`trunk Conv2DBackpropInput per training step (${trunk.reduce((a, r) => a + r.callsPerStep, 0)} calls): ` +
      `ours ${sum((r) => r.ours.meanMs).toFixed(1)} ms, tfjs-wasm ${sum((r) => r.tfjsWasm.meanMs).toFixed(1)} ms, ` +
      `XNNPACK forward of the same convolutions ${sum((r) => r.xnnFwd.meanMs).toFixed(1)} ms`);
  }
  console.log(JSON.stringify({
    bench: 'conv', node: process.version, tfjs: tf.version.tfjs, backend: tf.getBackend(), quick, rows, overrides,
  }));
}

// ---- kernels replacing tfjs-wasm's own -----------------------------------------------------------------

interface OverrideCase {
  name: string; op: WasmSpeedKernelName; x: Shape4; out: number; k: number; stride: number; pad: Pad4 | 'valid' | number;
  /** How often one training step of the small trunk runs this shape. */
  callsPerStep: number;
}

// Input gradients the trunk asks for, in backward order (x is the convolution's input, dx's shape).
const OVERRIDE_CASES: OverrideCase[] = [
  { name: 'dx L4 conv2 3x3/1 [32,4,3,256]->256', op: 'Conv2DBackpropInput', x: [32, 4, 3, 256], out: 256, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dx L4 conv1 3x3/2 [32,8,6,128]->256', op: 'Conv2DBackpropInput', x: [32, 8, 6, 128], out: 256, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dx L4 down 1x1/2 [32,8,6,128]->256', op: 'Conv2DBackpropInput', x: [32, 8, 6, 128], out: 256, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dx L3 conv2 3x3/1 [32,8,6,128]->128', op: 'Conv2DBackpropInput', x: [32, 8, 6, 128], out: 128, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dx L3 conv1 3x3/2 [32,16,12,64]->128', op: 'Conv2DBackpropInput', x: [32, 16, 12, 64], out: 128, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dx L3 down 1x1/2 [32,16,12,64]->128', op: 'Conv2DBackpropInput', x: [32, 16, 12, 64], out: 128, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dx L2 conv2 3x3/1 [32,16,12,64]->64', op: 'Conv2DBackpropInput', x: [32, 16, 12, 64], out: 64, k: 3, stride: 1, pad: P1, callsPerStep: 1 },
  { name: 'dx L2 conv1 3x3/2 [32,32,24,32]->64', op: 'Conv2DBackpropInput', x: [32, 32, 24, 32], out: 64, k: 3, stride: 2, pad: P1, callsPerStep: 1 },
  { name: 'dx L2 down 1x1/2 [32,32,24,32]->64', op: 'Conv2DBackpropInput', x: [32, 32, 24, 32], out: 64, k: 1, stride: 2, pad: 'valid', callsPerStep: 1 },
  { name: 'dx L1 conv1/2 3x3/1 [32,32,24,32]->32', op: 'Conv2DBackpropInput', x: [32, 32, 24, 32], out: 32, k: 3, stride: 1, pad: P1, callsPerStep: 2 },
  { name: 'maxPoolGrad stem 3x3/2 pad 1 [32,64,48,32]', op: 'MaxPoolGrad', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2, pad: 1, callsPerStep: 1 },
  { name: 'avgPoolGrad 3x3/2 pad 1 [32,64,48,32]', op: 'AvgPoolGrad', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2, pad: 1, callsPerStep: 0 },
];

interface OverrideRow {
  name: string; op: WasmSpeedKernelName; x: Shape4; outChannels: number; kernel: number; stride: number;
  callsPerStep: number; gflop: number; firstCallMs: number;
  ours: Figure; kernelOnly?: Figure; tfjsWasm: Figure; xnnFwd: Figure;
  speedupVsTfjsWasm: number; ratioVsXnnFwd: number;
}

/** Our conv input-gradient kernel alone, on data already in our memory (the whole batch at once). */
function convInputKernelOnly(g: ConvGeometry, dy: tf.Tensor, w: tf.Tensor): { fn: () => void; free: () => void } {
  const k = getKernels();
  const e = k.exports as typeof k.exports & ConvBackpropExports & ConvInputExports;
  const ld = Math.ceil(g.inChannels / 8) * 8, T = g.filterHeight * g.filterWidth;
  const plan = convInputPlan(g, ld);
  const ptrs: number[] = [];
  const alloc = (bytes: number): number => { const p = k.alloc(bytes); ptrs.push(p); return p; };
  const pdy = alloc(dy.size * 4), pw = alloc(w.size * 4), pslot = alloc(T * 4), ptab = alloc(plan.table.length * 4);
  const pwp = alloc(e.conv2dBackpropInputPackedFloats(T, g.inChannels, g.outChannels) * 4);
  const pdx = alloc(g.batchSize * g.inHeight * g.inWidth * ld * 4);
  k.writeF32(pdy, dy.dataSync()); k.writeF32(pw, w.dataSync()); k.writeI32(pslot, plan.tapOf); k.writeI32(ptab, plan.table);
  e.conv2dBackpropInputPack(pw, pwp, pslot, T, g.inChannels, g.outChannels);
  const dyImg = g.outHeight * g.outWidth * g.outChannels * 4, dxImg = g.inHeight * g.inWidth * ld * 4;
  return {
    fn: () => {
      for (const c of plan.calls) {
        e.conv2dBackpropInputClassF32x4(pdy, pwp, pdx, g.batchSize, dyImg, dxImg, ptab + c.rows * 4, c.nRows,
          ptab + c.cols * 4, c.nCols, ptab + c.runs * 4, c.nRuns, ld / 8, T * g.outChannels * 32);
      }
    },
    free: () => { for (const p of ptrs) k.free(p); },
  };
}

function overrideRows(): OverrideRow[] {
  const speed = registerWasmSpeedKernels(tf);
  console.error(`speed kernels: ${speed.overridden.map((o) => o.kernelName).join(', ') || 'already registered'}`);
  const backend = tf.backend() as unknown as { disposeData(id: object, force?: boolean): boolean };
  const rows: OverrideRow[] = [];
  for (const c of OVERRIDE_CASES) {
    if (only && !c.name.includes(only)) continue;
    const original = replacedWasmKernel(tf, c.op);
    if (!original) throw new Error(`bench: ${c.op} is not overridden (nothing to compare with)`);
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    let gflop = 0, g: ConvGeometry | null = null;
    let inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>, fwd: () => tf.Tensor;
    const extra: tf.Tensor[] = [x];
    if (c.op === 'Conv2DBackpropInput') {
      const fs: Shape4 = [c.k, c.k, c.x[3], c.out];
      const info = tf.backend_util.computeConv2DInfo(c.x, fs, c.stride, 1, c.pad as Pad4 | 'valid');
      g = geometryFromConvInfo(info);
      gflop = 2 * convMacs(g, false) / 1e9;
      const w = tf.randomNormal(fs, 0, 1, 'float32', 3), dy = tf.randomNormal(info.outShape, 0, 1, 'float32', 2);
      extra.push(w, dy);
      inputs = { dy, filter: w };
      attrs = { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
      fwd = () => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad as Pad4 | 'valid');
    } else {
      const y = c.op === 'MaxPoolGrad' ? tf.maxPool(x as tf.Tensor4D, c.k, c.stride, c.pad as number) : tf.avgPool(x as tf.Tensor4D, c.k, c.stride, c.pad as number);
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 2);
      extra.push(y, dy);
      inputs = c.op === 'MaxPoolGrad' ? { dy, input: x, output: y } : { dy, input: x };
      attrs = { filterSize: c.k, strides: c.stride, pad: c.pad };
      fwd = c.op === 'MaxPoolGrad' ? () => tf.maxPool(x as tf.Tensor4D, c.k, c.stride, c.pad as number)
        : () => tf.avgPool(x as tf.Tensor4D, c.k, c.stride, c.pad as number);
    }
    const ours = (): void => { tf.dispose(tf.engine().runKernel(c.op, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor); };
    const theirs = (): void => {
      const out = original.kernelFunc({ inputs, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
      backend.disposeData(out.dataId, true);
    };
    const t0 = performance.now();
    ours();
    const firstCallMs = performance.now() - t0;
    const ko = g ? convInputKernelOnly(g, inputs.dy, inputs.filter) : null;
    const fns: Record<string, () => void> = {
      'ours': ours,
      'tfjs-wasm own kernel': theirs,
      'xnn forward': () => tf.tidy(() => { fwd(); }),
    };
    if (ko) fns['ours kernel only'] = ko.fn;
    console.error(`${c.name}: first call ${firstCallMs.toFixed(1)} ms`);
    const b = runSuite(c.name, fns);
    ko?.free();
    const fig = (name: string): Figure => figure(b[name], gflop);
    const row: OverrideRow = {
      name: c.name, op: c.op, x: c.x, outChannels: c.out, kernel: c.k, stride: c.stride, callsPerStep: c.callsPerStep,
      gflop, firstCallMs, ours: fig('ours'), kernelOnly: ko ? fig('ours kernel only') : undefined,
      tfjsWasm: fig('tfjs-wasm own kernel'), xnnFwd: fig('xnn forward'), speedupVsTfjsWasm: 0, ratioVsXnnFwd: 0,
    };
    row.speedupVsTfjsWasm = row.tfjsWasm.meanMs / row.ours.meanMs;
    row.ratioVsXnnFwd = row.xnnFwd.meanMs / row.ours.meanMs;   // equal work: the rate ratio
    rows.push(row);
    tf.dispose(extra);
  }
  return rows;
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
