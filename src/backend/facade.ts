// SPDX-License-Identifier: MIT
// The backend facade: starts what this runtime can run, resolves every op of OP_TABLE to a backend
// (skipping those that failed, remembering why), optionally calibrates by measurement, registers our
// kernels into tfjs-wasm, and counts what ran where.
import { tf } from './tf.js';
import { OP_TABLE, type BackendName, type TfBackend, type OpEntry } from './table.js';
import { detectCapabilities, type Capabilities } from './capabilities.js';
import { setChoice, recordOp, opRecords, resolvedChoices, type OpRecord } from './report.js';
import { loadKernels, type WasmSource } from '../wasm/loader.js';
import { registerWasmTrainingKernels } from './wasm_kernels.js';
import { registerWasmSpeedKernels } from './wasm_speed_kernels.js';

export interface InitOptions {
  /** The tfjs backend for the network (conv, dense, norm, pool, activations). Default 'auto'. */
  backend?: 'auto' | TfBackend;
  /** Per-op overrides, e.g. { 'flow.logProb': 'tfjs-ops' }. tfjs ops can only be forced to the network backend. */
  force?: Record<string, BackendName>;
  /** Measure a conv forward + filter gradient on every available tfjs backend and take the fastest.
   *  'cached' reuses a measurement stored for this device. Default false: hardware WebGPU > wasm > cpu. */
  calibrate?: boolean | 'cached';
  /** Override for our WASM module (URL, bytes or compiled Module). */
  wasm?: WasmSource;
}

export interface BackendStatus { backend: BackendName; ok: boolean; reason: string; calibrationMs?: number }

export interface BackendReport {
  capabilities: Capabilities | null;
  /** The tfjs backend the network runs on. */
  network: TfBackend | null;
  backends: BackendStatus[];
  /** Per op: the backend chosen and why, the ones skipped and why, and how often it ran. */
  ops: Array<{ op: string; backend: BackendName; why: string; skipped: OpRecord['skipped']; calls: number }>;
  notes: string[];
}

let state: { caps: Capabilities | null; statuses: Map<BackendName, BackendStatus>; network: TfBackend | null; notes: string[] } =
  { caps: null, statuses: new Map(), network: null, notes: [] };

const wrapped = new Set<string>();

async function tryTfBackend(name: TfBackend, caps: Capabilities): Promise<BackendStatus> {
  try {
    if (name === 'webgpu') {
      if (!caps.webgpu.ok) return { backend: name, ok: false, reason: caps.webgpu.reason };
      const spec = '@tensorflow/tfjs-backend-webgpu';
      await import(/* @vite-ignore */ spec);
    }
    const ok = await tf.setBackend(name);
    if (!ok) return { backend: name, ok: false, reason: `tf.setBackend('${name}') returned false` };
    await tf.ready();
    const a = caps.webgpu.adapter;
    const reason = name === 'webgpu' ? `${a?.description || a?.device || 'adapter'}${a?.software ? ' (software adapter: correctness only)' : ''}`
      : name === 'wasm' ? `tfjs-wasm, SIMD ${caps.wasmSimd.ok ? 'on' : 'off'}, threads ${caps.threads.ok ? 'on' : 'off'}` : 'tfjs-cpu';
    return { backend: name, ok: true, reason };
  } catch (e) {
    return { backend: name, ok: false, reason: (e as Error).message.split('\n')[0] };
  }
}

/** Conv forward + filter gradient of a small-trunk layer, ms per call (after one warm-up). */
async function calibrateConv(name: TfBackend): Promise<number> {
  await tf.setBackend(name);
  const x = tf.randomNormal([8, 32, 24, 32], 0, 1, 'float32', 1) as import('@tensorflow/tfjs').Tensor4D;
  const w = tf.randomNormal([3, 3, 32, 32], 0, 0.1, 'float32', 2) as import('@tensorflow/tfjs').Tensor4D;
  const run = async () => {
    const g = tf.tidy(() => tf.grad((f) => tf.sum(tf.conv2d(x, f as import("@tensorflow/tfjs").Tensor4D, 1, "same")))(w));
    await g.data();
    g.dispose();
  };
  try {
    await run();
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) await run();
    return (performance.now() - t0) / 3;
  } finally {
    x.dispose(); w.dispose();
  }
}

function deviceKey(caps: Capabilities): string {
  const a = caps.webgpu.adapter;
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 0;
  return `${caps.runtime}|${cores}|${a ? `${a.vendor}/${a.device}/${a.description}` : 'no-gpu'}`;
}

async function loadCalibration(key: string): Promise<Record<string, number> | null> {
  try {
    const ls = (globalThis as { localStorage?: Storage }).localStorage;
    if (ls) { const v = ls.getItem(`rlepose-calibration:${key}`); return v ? JSON.parse(v) as Record<string, number> : null; }
    const fs = await import(/* @vite-ignore */ 'node:fs' as string) as typeof import('node:fs');
    const os = await import(/* @vite-ignore */ 'node:os' as string) as typeof import('node:os');
    const file = `${os.tmpdir()}/rlepose-calibration.json`;
    if (!fs.existsSync(file)) return null;
    const all = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, number>>;
    return all[key] ?? null;
  } catch { return null; }
}

async function saveCalibration(key: string, value: Record<string, number>): Promise<void> {
  try {
    const ls = (globalThis as { localStorage?: Storage }).localStorage;
    if (ls) { ls.setItem(`rlepose-calibration:${key}`, JSON.stringify(value)); return; }
    const fs = await import(/* @vite-ignore */ 'node:fs' as string) as typeof import('node:fs');
    const os = await import(/* @vite-ignore */ 'node:os' as string) as typeof import('node:os');
    const file = `${os.tmpdir()}/rlepose-calibration.json`;
    const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, number>> : {};
    all[key] = value;
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(all));
    fs.renameSync(`${file}.tmp`, file);
  } catch { /* a cache only */ }
}

function wrapKernel(entry: OpEntry, backend: TfBackend): void {
  for (const c of entry.candidates) {
    if (c.backend !== backend || !c.kernels) continue;
    for (const k of c.kernels) {
      const key = `${k}|${backend}`;
      if (wrapped.has(key)) continue;
      const cfg = tf.getKernel(k, backend);
      if (!cfg) continue;
      const inner = cfg.kernelFunc;
      tf.unregisterKernel(k, backend);
      tf.registerKernel({ ...cfg, kernelFunc: ((args: Parameters<typeof inner>[0]) => { recordOp(entry.op, backend); return inner(args); }) as typeof inner });
      wrapped.add(key);
    }
  }
}

function requestedNoGpu(opts: InitOptions): boolean {
  return (opts.backend === 'wasm' || opts.backend === 'cpu') && !Object.values(opts.force ?? {}).includes('webgpu');
}

/**
 * Starts the backends and resolves every op. Never silent: a fallback warns once and is in the report.
 * Throws, listing every reason, when a forced backend is unavailable or an op has no backend left.
 */
export async function init(opts: InitOptions = {}): Promise<BackendReport> {
  const statuses = new Map<BackendName, BackendStatus>();
  const notes: string[] = [];
  try {
    await loadKernels(opts.wasm);
    statuses.set('rlepose', { backend: 'rlepose', ok: true, reason: 'AssemblyScript SIMD module loaded' });
  } catch (e) {
    statuses.set('rlepose', { backend: 'rlepose', ok: false, reason: `our WASM module failed to start: ${(e as Error).message}` });
  }
  statuses.set('tfjs-ops', { backend: 'tfjs-ops', ok: true, reason: 'TfjsFlow on the network backend' });
  // A backend forced to wasm or cpu needs no GPU: do not start one (dawn.node, drivers) for nothing.
  const caps = requestedNoGpu(opts) ? { ...(await detectCapabilities({ webgpu: false })) } : await detectCapabilities();
  for (const b of ['cpu', 'wasm', 'webgpu'] as TfBackend[]) statuses.set(b, await tryTfBackend(b, caps));
  if (statuses.get('wasm')!.ok) {
    const r = registerWasmTrainingKernels(tf);
    if (r.registered.length) notes.push(`registered rlepose kernels into tfjs-wasm: ${r.registered.join(', ')}`);
    const sp = registerWasmSpeedKernels(tf);
    if (sp.overridden.length) notes.push(`replaced tfjs-wasm kernels with faster rlepose ones: ${sp.overridden.map((o) => o.kernelName).join(', ')}`);
  }

  // The network backend.
  let network: TfBackend;
  const requested = opts.backend ?? 'auto';
  if (requested !== 'auto') {
    const st = statuses.get(requested);
    if (!st?.ok) throw new Error(`rlepose.init: backend '${requested}' was forced but is not available: ${st?.reason ?? 'unknown backend'}`);
    network = requested;
  } else {
    const order: TfBackend[] = ['webgpu', 'wasm', 'cpu'];
    const avail = order.filter((b) => statuses.get(b)!.ok);
    if (opts.calibrate) {
      const key = deviceKey(caps);
      let cal = opts.calibrate === 'cached' ? await loadCalibration(key) : null;
      if (!cal) {
        cal = {};
        for (const b of avail) cal[b] = await calibrateConv(b);
        await saveCalibration(key, cal);
      }
      for (const b of avail) if (cal[b] !== undefined) statuses.get(b)!.calibrationMs = cal[b];
      network = avail.reduce((best, b) => ((cal![b] ?? Infinity) < (cal![best] ?? Infinity) ? b : best), avail[0]);
      notes.push(`calibration (conv fwd + filter grad, ms): ${avail.map((b) => `${b} ${cal![b]?.toFixed(1)}`).join(', ')}`);
    } else {
      const pick = avail.find((b) => !(b === 'webgpu' && caps.webgpu.adapter?.software));
      network = pick ?? 'cpu';
      if (statuses.get('webgpu')!.ok && caps.webgpu.adapter?.software) {
        notes.push('WebGPU is a software adapter: skipped for speed (8–12× slower than tfjs-wasm); force backend: "webgpu" to use it, or calibrate');
      }
    }
  }
  await tf.setBackend(network);

  // Resolve every op.
  const problems: string[] = [];
  for (const entry of OP_TABLE) {
    const skipped: OpRecord['skipped'] = [];
    const forced = opts.force?.[entry.op];
    let chosen: { backend: BackendName; why: string } | null = null;
    for (const c of entry.candidates) {
      const isTf = c.backend === 'webgpu' || c.backend === 'wasm' || c.backend === 'cpu';
      const st = statuses.get(c.backend);
      if (forced && c.backend !== forced) continue;
      if (isTf && c.backend !== network) {
        if (forced) skipped.push({ backend: c.backend, reason: `tfjs ops run on the network backend '${network}' (tensors live on one backend): force backend: '${c.backend}' globally instead` });
        continue;
      }
      if (c.backend === 'tfjs-ops' && entry.candidates[0].backend === 'rlepose' && statuses.get('rlepose')!.ok && !forced) continue;
      if (!st?.ok) { skipped.push({ backend: c.backend, reason: st?.reason ?? 'not started' }); continue; }
      if (isTf && c.kernels && c.kernels.some((k) => !tf.getKernel(k, c.backend))) {
        skipped.push({ backend: c.backend, reason: `no ${c.kernels.join('/')} kernel registered for '${c.backend}'` });
        continue;
      }
      chosen = { backend: c.backend, why: forced ? `forced by the user; ${c.why}` : c.why };
      break;
    }
    if (!chosen) {
      problems.push(`${entry.op}: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ') || (forced ? `'${forced}' is not a candidate (candidates: ${entry.candidates.map((c) => c.backend).join(', ')})` : 'no candidate')}`);
      continue;
    }
    setChoice(entry.op, chosen.backend, chosen.why, skipped.filter((s) => s.backend !== chosen!.backend && !(s.reason.startsWith('tfjs ops run on'))));
    if (chosen.backend === network) wrapKernel(entry, network);
  }
  state = { caps, statuses, network, notes };
  if (problems.length) throw new Error(`rlepose.init: ${problems.length} op(s) have no backend:\n  - ${problems.join('\n  - ')}`);
  return backendReport();
}

/** Which backend ran each op, how often and why; what was skipped and why. */
export function backendReport(): BackendReport {
  const counts = new Map<string, number>();
  for (const r of opRecords()) counts.set(`${r.op}|${r.backend}`, (counts.get(`${r.op}|${r.backend}`) ?? 0) + r.calls);
  return {
    capabilities: state.caps,
    network: state.network,
    backends: [...state.statuses.values()],
    ops: resolvedChoices().map((c) => ({ ...c, calls: counts.get(`${c.op}|${c.backend}`) ?? 0 })),
    notes: state.notes.slice(),
  };
}

/** The report as a readable table. */
export function formatBackendReport(r: BackendReport = backendReport()): string {
  const lines = [`network backend: ${r.network ?? '(not initialised)'}`];
  for (const b of r.backends) lines.push(`  ${b.ok ? 'ok  ' : 'no  '} ${b.backend.padEnd(8)} ${b.reason}${b.calibrationMs !== undefined ? ` (calibration ${b.calibrationMs.toFixed(1)} ms)` : ''}`);
  lines.push('op                                   backend   calls  why');
  for (const o of r.ops) {
    lines.push(`${o.op.padEnd(36)} ${o.backend.padEnd(9)} ${String(o.calls).padStart(5)}  ${o.why}${o.skipped.length ? ` [skipped ${o.skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}]` : ''}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
