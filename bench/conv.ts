// SPDX-License-Identifier: MIT
// Convolution gradients on backend 'wasm': our AssemblyScript kernels (registered into tfjs) against
// tfjs-wasm's own forward convolution (XNNPACK) in the same run. Rates are nominal FLOPs
// (2 · multiply-adds of the convolution; each gradient costs exactly the forward's multiply-adds).
//
//   node dist/bench/conv.js [--quick]        last line: JSON with every figure
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

type Shape4 = [number, number, number, number];
type Op = 'Conv2DBackpropFilter' | 'DepthwiseConv2dNativeBackpropFilter' | 'DepthwiseConv2dNativeBackpropInput';

interface Case { name: string; op: Op; x: Shape4; out: number; k: number; stride: number }

const CASES: Case[] = [
  { name: 'conv dW [8,64,48,16]->32 3x3 s1 (tfjs-cpu: 16 s)', op: 'Conv2DBackpropFilter', x: [8, 64, 48, 16], out: 32, k: 3, stride: 1 },
  { name: 'conv dW [32,32,24,64]->64 3x3 s1', op: 'Conv2DBackpropFilter', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'conv dW [32,64,48,32]->64 3x3 s2', op: 'Conv2DBackpropFilter', x: [32, 64, 48, 32], out: 64, k: 3, stride: 2 },
  { name: 'dw dW [32,32,24,64] 3x3 s1', op: 'DepthwiseConv2dNativeBackpropFilter', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'dw dW [32,64,48,32] 3x3 s2', op: 'DepthwiseConv2dNativeBackpropFilter', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2 },
  { name: 'dw dx [32,32,24,64] 3x3 s1', op: 'DepthwiseConv2dNativeBackpropInput', x: [32, 32, 24, 64], out: 64, k: 3, stride: 1 },
  { name: 'dw dx [32,64,48,32] 3x3 s2', op: 'DepthwiseConv2dNativeBackpropInput', x: [32, 64, 48, 32], out: 32, k: 3, stride: 2 },
];

interface Figure { meanMs: number; bestMs: number; gflops: number; gflopsBest: number; rme: number; samples: number }
interface Row {
  name: string; op: Op; x: Shape4; outChannels: number; kernel: number; stride: number; gflop: number;
  firstCallMs: number; ours: Figure; kernelOnly: Figure; xnnConv: Figure & { gflopPerCall: number };
  xnnDepthwise?: Figure; ratio: number; ratioBest: number; ratioVsDepthwise?: number;
}

const quick = process.argv.includes('--quick');
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
    const depthwise = c.op !== 'Conv2DBackpropFilter';
    const filterShape: Shape4 = depthwise ? [c.k, c.k, c.x[3], c.out / c.x[3]] : [c.k, c.k, c.x[3], c.out];
    const info = tf.backend_util.computeConv2DInfo(c.x, filterShape, c.stride, 1, 'same', undefined, depthwise);
    const g = geometryFromConvInfo(info);
    const gflop = 2 * convMacs(g, depthwise) / 1e9;
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    const dy = tf.randomNormal(info.outShape, 0, 1, 'float32', 2);
    const w = tf.randomNormal(filterShape, 0, 1, 'float32', 3);
    const wDense = tf.randomNormal([c.k, c.k, c.x[3], c.out], 0, 1, 'float32', 4);
    const gflopDense = 2 * convMacs({ ...g, outChannels: c.out }, false) / 1e9;
    const attrs = { strides: c.stride, pad: 'same', dilations: 1, dataFormat: 'NHWC' } as const;
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
      'xnn conv2d fwd': () => tf.tidy(() => { tf.conv2d(x as tf.Tensor4D, wDense as tf.Tensor4D, c.stride, 'same'); }),
    };
    if (depthwise) fns['xnn depthwise fwd'] = () => tf.tidy(() => { tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, 'same'); });
    const b = runSuite(c.name, fns);
    ko.free();
    const xnnConv = { ...figure(b['xnn conv2d fwd'], gflopDense), gflopPerCall: gflopDense };
    const row: Row = {
      name: c.name, op: c.op, x: c.x, outChannels: c.out, kernel: c.k, stride: c.stride, gflop, firstCallMs,
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

  const f1 = (v: number): string => v.toFixed(1);
  console.log('\n| case | ours ms | ours GFLOP/s | kernel-only GFLOP/s | XNNPACK conv2d fwd GFLOP/s | ratio (mean) | ratio (best) | XNNPACK depthwise fwd GFLOP/s | first call ms |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.ours.meanMs.toFixed(2)} | ${f1(r.ours.gflops)} | ${f1(r.kernelOnly.gflops)} | ` +
      `${f1(r.xnnConv.gflops)} | ${r.ratio.toFixed(2)} | ${r.ratioBest.toFixed(2)} | ` +
      `${r.xnnDepthwise ? f1(r.xnnDepthwise.gflops) : '-'} | ${r.firstCallMs.toFixed(1)} |`);
  }
  console.log(JSON.stringify({
    bench: 'conv', node: process.version, tfjs: tf.version.tfjs, backend: tf.getBackend(), quick, rows,
  }));
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
