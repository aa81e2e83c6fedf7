// SPDX-License-Identifier: MIT
// Flow benchmark: logProb forward and forward+backward for our SIMD kernels, their scalar twins and the
// same flow in tfjs ops on tfjs-wasm, measured in the same run (benchmark.js), with ratios.
import Benchmark from 'benchmark';
import { ready, RealNVP, setSimd } from '../src/index.js';
import { TfjsFlow } from '../src/flow/tfjs_flow.js';
import { Rng } from '../src/util/rng.js';

export interface FlowBenchRow {
  impl: 'wasm-simd' | 'wasm-scalar' | 'tfjs-wasm';
  n: number;
  mode: 'fwd' | 'fwd+bwd';
  /** Steady-state mean, ms per call. */
  ms: number;
  /** The first call on a fresh flow (workspace growth, JIT), ms. */
  firstMs: number;
  rme: number;
  samples: number;
}

export interface FlowBenchOptions {
  sizes?: number[];
  impls?: FlowBenchRow['impl'][];
  /** Seconds per benchmark (benchmark.js maxTime). */
  maxTime?: number;
  log?: (line: string) => void;
}

/** Multiply-add FLOPs per sample of the flow's layers (forward); forward+backward is three times that. */
export function flowFlopsPerSample(dim: number, hidden: number, couplings: number): number {
  return couplings * 2 * 2 * (dim * hidden + hidden * hidden + hidden * dim);
}

/** The WASM SIMD floor measured on this machine kind (ENVIRONMENT.md): a blocked f32x4 GEMM on one core. */
export const SIMD_FLOOR_GFLOPS = 52;
/** FLOPs per sample of the RLE flow (dim 2, hidden 64, 6 couplings) as ENVIRONMENT.md counts them
 *  (matmuls plus bias, activation and coupling arithmetic): the floor is these at SIMD_FLOOR_GFLOPS. */
export const FLOW_FLOPS_PER_SAMPLE = { fwd: 108e3, 'fwd+bwd': 323e3 } as const;

export async function runFlowBench(opts: FlowBenchOptions = {}): Promise<FlowBenchRow[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const sizes = opts.sizes ?? [544, 8192];
  const impls = opts.impls ?? ['wasm-simd', 'wasm-scalar', 'tfjs-wasm'];
  const maxTime = opts.maxTime ?? 2;
  await ready();
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  const prevBackend = tf.getBackend();
  await tf.setBackend('wasm');
  await tf.ready();
  const rows: FlowBenchRow[] = [];
  const rng = new Rng(1);
  for (const n of sizes) {
    const x = Float32Array.from({ length: n * 2 }, () => rng.normal());
    for (const impl of impls) {
      for (const mode of ['fwd', 'fwd+bwd'] as const) {
        const flow = RealNVP.create({ dim: 2, hidden: 64, couplings: 6, seed: 3 });
        let fn: () => void;
        let cleanup = () => {};
        if (impl === 'tfjs-wasm') {
          const tfl = new TfjsFlow(tf, flow);
          const xt = tf.tensor2d(x, [n, 2]);
          fn = mode === 'fwd'
            ? () => { tf.tidy(() => tfl.logProb(xt).dataSync()); }
            : () => {
              tf.tidy(() => {
                const g = tfl.logProbGrad(xt);
                g.gradX.dataSync();
                for (const t of g.gradParams.values()) t.dataSync();
              });
            };
          cleanup = () => { xt.dispose(); tfl.dispose(); };
        } else {
          const simd = impl === 'wasm-simd';
          fn = mode === 'fwd'
            ? () => { setSimd(simd); flow.logProb(x); }
            : () => { setSimd(simd); flow.logProbBackward(x); };
        }
        const t0 = performance.now();
        fn();
        const firstMs = performance.now() - t0;
        const b = new Benchmark(`${impl} ${mode} N=${n}`, fn, { maxTime, minSamples: 5 });
        b.run({ async: false });
        setSimd(true);
        const ms = b.stats.mean * 1000;
        rows.push({ impl, n, mode, ms, firstMs, rme: b.stats.rme, samples: b.stats.sample.length });
        log(`  ${String(b)}`);
        cleanup();
        flow.dispose();
      }
    }
  }
  if (prevBackend && prevBackend !== 'wasm') await tf.setBackend(prevBackend);
  return rows;
}

/** A table with ratios against the tfjs-wasm peer and the SIMD floor, plus the goals of the core issue. */
export function formatFlowBench(rows: FlowBenchRow[]): string {
  const out: string[] = [];
  const find = (impl: string, n: number, mode: string) => rows.find((r) => r.impl === impl && r.n === n && r.mode === mode);
  const fl = flowFlopsPerSample(2, 64, 6);
  out.push(`floor: ${FLOW_FLOPS_PER_SAMPLE.fwd / 1e3}k (fwd) / ${FLOW_FLOPS_PER_SAMPLE['fwd+bwd'] / 1e3}k (fwd+bwd) FLOP per sample at ${SIMD_FLOOR_GFLOPS} GFLOP/s; GFLOP/s column: matmul FLOPs only`);
  out.push('impl         mode      N      ms/call   first-call  vs tfjs-wasm  vs SIMD floor  GFLOP/s');
  for (const r of rows) {
    const peer = find('tfjs-wasm', r.n, r.mode);
    const flops = fl * r.n * (r.mode === 'fwd' ? 1 : 3);
    const floorMs = FLOW_FLOPS_PER_SAMPLE[r.mode] * r.n / (SIMD_FLOOR_GFLOPS * 1e6);
    out.push(`${r.impl.padEnd(12)} ${r.mode.padEnd(8)} ${String(r.n).padStart(5)} ${r.ms.toFixed(3).padStart(10)} ${r.firstMs.toFixed(2).padStart(10)}` +
      `  ${peer ? `${(peer.ms / r.ms).toFixed(2)}×`.padStart(11) : '          -'}  ${`${(r.ms / floorMs).toFixed(2)}×`.padStart(12)}  ${(flops / (r.ms * 1e6)).toFixed(1).padStart(7)}`);
  }
  const goal = (label: string, ok: boolean | undefined) => out.push(`${ok === undefined ? 'n/a ' : ok ? 'MET ' : 'MISS'} ${label}`);
  const s544b = find('wasm-simd', 544, 'fwd+bwd'), p544b = find('tfjs-wasm', 544, 'fwd+bwd');
  const s544f = find('wasm-simd', 544, 'fwd'), p544f = find('tfjs-wasm', 544, 'fwd');
  const floor544 = FLOW_FLOPS_PER_SAMPLE['fwd+bwd'] * 544 / (SIMD_FLOOR_GFLOPS * 1e6);
  out.push('');
  goal(`fwd+bwd N=544 ≥ 11× tfjs-wasm: ${s544b && p544b ? (p544b.ms / s544b.ms).toFixed(1) + '×' : '-'}`, s544b && p544b ? p544b.ms / s544b.ms >= 11 : undefined);
  goal(`fwd+bwd N=544 within 1.25× of the SIMD floor (${floor544.toFixed(2)} ms): ${s544b ? (s544b.ms / floor544).toFixed(2) + '×' : '-'}`, s544b ? s544b.ms / floor544 <= 1.25 : undefined);
  goal(`fwd N=544 ≥ 3× tfjs-wasm: ${s544f && p544f ? (p544f.ms / s544f.ms).toFixed(1) + '×' : '-'}`, s544f && p544f ? p544f.ms / s544f.ms >= 3 : undefined);
  return out.join('\n');
}
