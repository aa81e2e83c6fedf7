// SPDX-License-Identifier: MIT
// Training-step benchmark (images/s): our hybrid path (network on tfjs-wasm with our conv-backprop
// kernels, RLE loss + flow gradients + flow Adam in our WASM) against the best pure-tfjs CPU path a user
// could write today (everything on tfjs-cpu, which has the conv gradients tfjs-wasm lacks; flow and loss
// as tfjs ops). Same network, same batch, same run.
import Benchmark from 'benchmark';
import type * as tfNs from '@tensorflow/tfjs';
import { ready } from '../src/index.js';
import { tf } from '../src/backend/tf.js';
import { RegressFlowNet, TRUNK_PRESETS } from '../src/model/regressflow.js';
import { Trainer } from '../src/train/trainer.js';
import { TfjsFlow } from '../src/flow/tfjs_flow.js';
import { rleLossTf } from '../src/loss/rle_tf.js';
import { TfAdam } from '../src/train/adam_tf.js';
import { Rng } from '../src/util/rng.js';

export interface TrainBenchOptions {
  batch?: number;
  height?: number;
  width?: number;
  numJoints?: number;
  /** Seconds for our path (benchmark.js maxTime). */
  maxTime?: number;
  /** Run the pure-tfjs peer (slow: tens of seconds per step). */
  peer?: boolean;
  log?: (s: string) => void;
}

export interface TrainBenchResult {
  batch: number;
  input: [number, number];
  ours: { msPerStep: number; imagesPerSec: number; firstMs: number; samples: number };
  peer: { msPerStep: number; imagesPerSec: number; firstMs: number; samples: number } | null;
  speedup: number | null;
  /** Where our step's time goes: tfjs kernels by name (ms), plus our WASM loss. */
  breakdown: Array<{ name: string; ms: number; calls: number }>;
}

function runDeferred(name: string, fn: () => Promise<void>, opts: { maxTime: number; minSamples: number }): Promise<Benchmark> {
  return new Promise((resolve, reject) => {
    const b = new Benchmark(name, {
      defer: true, maxTime: opts.maxTime, minSamples: opts.minSamples, initCount: 1, minTime: 0, delay: 0,
      fn(deferred: { resolve(): void }) { fn().then(() => deferred.resolve(), reject); },
      onComplete() { resolve(b); },
      onError(e: unknown) { reject(e); },
    } as unknown as Benchmark.Options);
    b.run({ async: true });
  });
}

export async function runTrainBench(opts: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const B = opts.batch ?? 32, H = opts.height ?? 128, W = opts.width ?? 96, K = opts.numJoints ?? 17;
  await ready();
  const rng = new Rng(1);
  const xData = Float32Array.from({ length: B * H * W * 3 }, () => rng.normal());
  const target = Float32Array.from({ length: B * K * 2 }, () => rng.uniform(-0.4, 0.4));
  const cfg = { layout: 'official' as const, trunk: TRUNK_PRESETS.small, numJoints: K };

  // Ours: tfjs-wasm + rlepose WASM.
  await tf.setBackend('wasm');
  const net = RegressFlowNet.create(tf, cfg, 3);
  const tr = new Trainer(net, { lr: 1e-3 });
  const x = tf.tensor4d(xData, [B, H, W, 3]);
  let t0 = performance.now();
  await tr.trainStep(x, target);
  const firstMs = performance.now() - t0;
  const ob = await runDeferred('ours (tfjs-wasm + rlepose WASM)', async () => { await tr.trainStep(x, target); }, { maxTime: opts.maxTime ?? 8, minSamples: 3 });
  log(`  ${String(ob)}`);
  const ours = { msPerStep: ob.stats.mean * 1000, imagesPerSec: B / ob.stats.mean, firstMs, samples: ob.stats.sample.length };
  // Where the time goes.
  const prof = await tf.profile(async () => { await tr.trainStep(x, target); });
  const agg = new Map<string, { ms: number; calls: number }>();
  for (const k of prof.kernels) {
    const a = agg.get(k.name) ?? { ms: 0, calls: 0 };
    a.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    a.calls++;
    agg.set(k.name, a);
  }
  const breakdown = [...agg.entries()].map(([name, a]) => ({ name, ...a })).sort((a, b) => b.ms - a.ms);
  x.dispose(); tr.dispose(); net.dispose();

  let peer: TrainBenchResult['peer'] = null;
  if (opts.peer ?? true) {
    await tf.setBackend('cpu');
    const pnet = RegressFlowNet.create(tf, cfg, 3);
    const tfl = new TfjsFlow(tf, pnet.flow);
    const vars = [...pnet.trainableVariables(), ...tfl.vars.values()];
    const adam = new TfAdam(tf, vars, 1e-3);
    const px = tf.tensor4d(xData, [B, H, W, 3]);
    const pt = tf.tensor3d(target, [B, K, 2]);
    const pw = tf.onesLike(pt);
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => {
        const { pred, sigmaLogit } = pnet.heads(pnet.features(px, true), true);
        return rleLossTf(tf, tfl, 'official', pred, sigmaLogit, pt, pw);
      }, vars);
      const gm = new Map<tfNs.Variable, tfNs.Tensor>();
      const byName = new Map(vars.map((v) => [v.name, v]));
      for (const [n, g] of Object.entries(grads)) gm.set(byName.get(n)!, g);
      adam.apply(gm);
      await value.data();
      value.dispose();
      for (const g of gm.values()) g.dispose();
    };
    log('  pure tfjs peer on tfjs-cpu: one warm-up step, then timed steps (this takes minutes)...');
    t0 = performance.now();
    await step();
    const pFirst = performance.now() - t0;
    log(`  peer first step: ${(pFirst / 1000).toFixed(1)} s`);
    const pb = await runDeferred('pure tfjs (tfjs-cpu, flow and loss as tfjs ops)', step, { maxTime: 0, minSamples: 1 });
    log(`  ${String(pb)}`);
    peer = { msPerStep: pb.stats.mean * 1000, imagesPerSec: B / pb.stats.mean, firstMs: pFirst, samples: pb.stats.sample.length };
    adam.dispose(); tfl.dispose(); pnet.dispose(); tf.dispose([px, pt, pw]);
    await tf.setBackend('wasm');
  }
  return { batch: B, input: [H, W], ours, peer, speedup: peer ? peer.msPerStep / ours.msPerStep : null, breakdown };
}

export function formatTrainBench(r: TrainBenchResult): string {
  const out: string[] = [];
  out.push(`RLE training step, small trunk (BasicBlock [32,64,128,256] x1), B=${r.batch}, input ${r.input[0]}x${r.input[1]}x3, K=17`);
  out.push('path                                             ms/step   images/s   first step');
  out.push(`ours: tfjs-wasm + rlepose WASM (loss, flow, Adam) ${r.ours.msPerStep.toFixed(0).padStart(8)} ${r.ours.imagesPerSec.toFixed(1).padStart(10)} ${r.ours.firstMs.toFixed(0).padStart(10)} ms`);
  if (r.peer) out.push(`peer: pure tfjs on tfjs-cpu                     ${r.peer.msPerStep.toFixed(0).padStart(8)} ${r.peer.imagesPerSec.toFixed(2).padStart(10)} ${r.peer.firstMs.toFixed(0).padStart(10)} ms`);
  if (r.speedup !== null) out.push(`speedup: ${r.speedup.toFixed(1)}x (goal >= 20x)   far goal: PyTorch 1.13, 1 thread ~120 ms/step -> ours is ${(r.ours.msPerStep / 120).toFixed(2)}x of it (goal <= 1.5x)`);
  const total = r.breakdown.reduce((s, b) => s + b.ms, 0);
  out.push(`where our step's time goes (tfjs kernel time, ${total.toFixed(0)} ms total; the rest is JS, the WASM loss and flow, data copies):`);
  for (const b of r.breakdown.slice(0, 10)) out.push(`  ${b.name.padEnd(30)} ${b.ms.toFixed(1).padStart(8)} ms  ${String(b.calls).padStart(4)} calls`);
  return out.join('\n');
}
