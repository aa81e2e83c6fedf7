// SPDX-License-Identifier: MIT
// The one smoke-and-parity body that every runtime (Node, Chromium, Deno, Bun) runs on every tfjs
// backend it has. Runtime entries only set backends up; everything checked lives here, so a result
// from one runtime means the same as from another. Not a *.test.ts: node --test must not pick it up.
import * as lib from '../../src/index.js';
import { extraChecks } from './extra-checks.js';

/** The tfjs namespace (union package). Typed loosely: entries hand in whatever module form they got. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TF = any;
export type Lib = typeof lib;

export type Status = 'pass' | 'fail' | 'error' | 'expected-missing';

export interface CheckResult {
  /** e.g. "conv2d fwd [2,8,8,3]*[3,3,3,4] s1 same" */
  name: string;
  status: Status;
  /** ‖got − ref‖∞ / ‖ref‖∞, when a comparison ran. */
  relErr?: number;
  tol?: number;
  /** What the reference was: "tfjs-cpu" or "f64 JS". */
  ref?: string;
  ms?: number;
  detail?: string;
}

export interface AdapterReport {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  /** True for lavapipe/llvmpipe/SwiftShader/fallback adapters: results prove correctness only. */
  software: boolean;
}

/** How an entry offers a backend: available (after its setup) or not, with the reason. */
export interface BackendOffer {
  name: 'cpu' | 'wasm' | 'webgpu';
  /** Set when setup failed; the body then records the backend as unavailable. */
  unavailable?: string;
  adapter?: AdapterReport;
  /** Free-form facts from the setup (wasm SIMD/threads, dawn.node, ...). */
  info?: Record<string, unknown>;
}

export interface BackendReport extends BackendOffer {
  available: boolean;
  note?: string;
  checks: CheckResult[];
}

export interface RuntimeReport {
  kind: 'rlepose-runtime-report';
  runtime: string;
  runtimeVersion: string;
  tfjsVersion?: string;
  checks: CheckResult[];
  backends: BackendReport[];
  ms: number;
}

export const TOL = 1e-4;

interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
  /** Compare against the f64 JS reference instead of tfjs-cpu, and skip it on cpu (too slow there). */
  f64Oracle?: boolean;
}

/** Small NHWC cases: odd sizes, stride 2 and 'valid' so padding/stride bookkeeping is exercised. */
const CASES: ConvCase[] = [
  { x: [2, 8, 8, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [1, 9, 7, 4], f: [3, 3, 4, 5], strides: 2, pad: 'valid' },
  // Big enough for tfjs-webgpu's tiled (MM) programs to span several workgroups with ragged edges.
  { x: [2, 17, 13, 16], f: [3, 3, 16, 32], strides: 1, pad: 'same' },
];

/**
 * Extra cases for a real GPU (scripts/gpu-check.sh): backbone-sized layers. tfjs-cpu needs ~35 s for
 * the first one's filter gradient, so these compare against the f64 JS reference (~1 s) instead.
 */
const LARGE_CASES: ConvCase[] = [
  { x: [8, 64, 48, 16], f: [3, 3, 16, 32], strides: 1, pad: 'same', f64Oracle: true },
  { x: [4, 33, 25, 32], f: [3, 3, 32, 64], strides: 2, pad: 'same', f64Oracle: true },
];

export interface BodyOptions {
  /** Also run LARGE_CASES (slow on tfjs-cpu, the oracle). */
  large?: boolean;
}

function caseName(c: ConvCase): string {
  return `[${c.x}]*[${c.f}] s${c.strides} ${c.pad}`;
}

/** mulberry32: deterministic in every runtime, so all runtimes see the same numbers. */
function rand(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function outGeom(c: ConvCase) {
  const [, H, W] = c.x;
  const [KH, KW] = c.f;
  const s = c.strides;
  if (c.pad === 'same') {
    const OH = Math.ceil(H / s), OW = Math.ceil(W / s);
    const padH = Math.max((OH - 1) * s + KH - H, 0), padW = Math.max((OW - 1) * s + KW - W, 0);
    return { OH, OW, top: Math.floor(padH / 2), left: Math.floor(padW / 2) };
  }
  return { OH: Math.ceil((H - KH + 1) / s), OW: Math.ceil((W - KW + 1) / s), top: 0, left: 0 };
}

/** f64 reference conv2d forward and filter gradient of sum(conv2d(x, f) * w): the oracle for tfjs-cpu. */
function referenceConv(c: ConvCase, x: Float32Array, f: Float32Array, w: Float32Array) {
  const [N, H, W, C] = c.x;
  const [KH, KW, , CO] = c.f;
  const { OH, OW, top, left } = outGeom(c);
  const y = new Float64Array(N * OH * OW * CO);
  const df = new Float64Array(KH * KW * C * CO);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * c.strides + kh - top;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * c.strides + kw - left;
            if (iw < 0 || iw >= W) continue;
            for (let ci = 0; ci < C; ci++) {
              const xv = x[((n * H + ih) * W + iw) * C + ci];
              for (let co = 0; co < CO; co++) {
                const yi = ((n * OH + oh) * OW + ow) * CO + co;
                const fi = ((kh * KW + kw) * C + ci) * CO + co;
                y[yi] += xv * f[fi];
                df[fi] += xv * w[yi];
              }
            }
          }
        }
  return { y, df };
}

export function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= num)) num = Number.isNaN(d) ? Infinity : Math.max(num, d);
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / Math.max(den, 1e-30);
}

export function compare(name: string, got: ArrayLike<number>, ref: ArrayLike<number>, refName: string, ms: number, tol = TOL): CheckResult {
  const e = relErr(got, ref);
  return { name, status: e <= tol ? 'pass' : 'fail', relErr: e, tol, ref: refName, ms: Math.round(ms * 10) / 10 };
}

function errorCheck(name: string, e: unknown): CheckResult {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { name, status: 'error', detail: msg.slice(0, 500) };
}

const now = () => (globalThis.performance ? performance.now() : Date.now());

/** Per-case oracle values from tfjs-cpu, filled when the cpu backend runs (it always runs first). */
interface Oracle { y?: Float32Array; df?: Float32Array }

async function convChecks(tf: TF, backend: string, oracles: Map<ConvCase, Oracle>, cases: ConvCase[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [i, c] of cases.entries()) {
    if (c.f64Oracle && backend === 'cpu') continue;
    const xv = rand(11 + i, prod(c.x)), fv = rand(23 + i, prod(c.f));
    const g = outGeom(c);
    const yShape = [c.x[0], g.OH, g.OW, c.f[3]];
    const wv = rand(37 + i, prod(yShape));
    const { y: yRef64, df: dfRef64 } = referenceConv(c, xv, fv, wv);
    const oracle = oracles.get(c) ?? {};
    if (backend === 'cpu') oracles.set(c, oracle);
    const useF64 = backend === 'cpu' || c.f64Oracle === true;
    const refFor = (k: 'y' | 'df', ref64: Float64Array): ArrayLike<number> => {
      if (useF64) return ref64;
      const r = oracle[k];
      if (!r) throw new Error('no tfjs-cpu oracle value: the cpu check for this case failed');
      return r;
    };
    const refName = backend === 'cpu' || c.f64Oracle ? 'f64 JS' : 'tfjs-cpu';
    const x = tf.tensor4d(xv, c.x), f = tf.tensor4d(fv, c.f), w = tf.tensor4d(wv, yShape);
    try {
      // (b1) forward
      const fwdName = `conv2d fwd ${caseName(c)}`;
      try {
        const t0 = now();
        const yt = tf.conv2d(x, f, c.strides, c.pad);
        const y = (await yt.data()) as Float32Array;
        const ms = now() - t0;
        yt.dispose();
        if (backend === 'cpu') oracle.y = y;
        out.push(compare(fwdName, y, refFor('y', yRef64), refName, ms));
      } catch (e) {
        out.push(errorCheck(fwdName, e));
      }
      // (b2) filter gradient through tf.grad: on most backends this dispatches Conv2DBackpropFilter.
      const gradName = `conv2d dFilter ${caseName(c)}`;
      if (!tf.getKernel('Conv2DBackpropFilter', backend)) {
        out.push({
          name: gradName,
          status: backend === 'wasm' ? 'expected-missing' : 'fail',
          detail: `Kernel 'Conv2DBackpropFilter' not registered for backend '${backend}'`,
        });
      } else {
        try {
          const t0 = now();
          const grad = tf.grad((ff: unknown) => tf.sum(tf.mul(tf.conv2d(x, ff, c.strides, c.pad), w)));
          const dft = grad(f);
          const df = (await dft.data()) as Float32Array;
          const ms = now() - t0;
          dft.dispose();
          if (backend === 'cpu') oracle.df = df;
          out.push(compare(gradName, df, refFor('df', dfRef64), refName, ms));
        } catch (e) {
          out.push(errorCheck(gradName, e));
        }
      }
    } finally {
      x.dispose(); f.dispose(); w.dispose();
    }
  }
  return out;
}

function tfVersion(tf: TF): string | undefined {
  const v = tf.version;
  return typeof v === 'object' && v ? (v['tfjs-core'] ?? v.tfjs) : undefined;
}

/**
 * Runs everything. `offers` comes from the entry in any order; cpu always runs first because it is
 * the oracle for the others.
 */
export async function runBody(runtime: string, runtimeVersion: string, tf: TF, offers: BackendOffer[], opts: BodyOptions = {}): Promise<RuntimeReport> {
  const t0 = now();
  const cases = opts.large ? [...CASES, ...LARGE_CASES] : CASES;
  const report: RuntimeReport = {
    kind: 'rlepose-runtime-report', runtime, runtimeVersion, tfjsVersion: tfVersion(tf), checks: [], backends: [], ms: 0,
  };

  // (a) the library loads from its inlined base64 WASM, without fs or fetch.
  try {
    const t = now();
    await lib.ready();
    report.checks.push({ name: 'library ready()', status: 'pass', ms: Math.round((now() - t) * 10) / 10 });
  } catch (e) {
    report.checks.push(errorCheck('library ready()', e));
  }

  const order = ['cpu', 'wasm', 'webgpu'];
  const sorted = [...offers].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  if (sorted[0]?.name !== 'cpu') sorted.unshift({ name: 'cpu' }); // oracle, always
  const oracles = new Map<ConvCase, Oracle>();

  for (const offer of sorted) {
    const br: BackendReport = { ...offer, available: false, checks: [] };
    report.backends.push(br);
    if (offer.unavailable) continue;
    try {
      const ok = await tf.setBackend(offer.name);
      await tf.ready();
      if (!ok || tf.getBackend() !== offer.name) throw new Error(`tf.setBackend('${offer.name}') returned ${ok}; active backend is '${tf.getBackend()}'`);
    } catch (e) {
      br.unavailable = `backend init failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 500);
      continue;
    }
    br.available = true;
    if (offer.name === 'webgpu') {
      br.note = offer.adapter?.software ? 'software adapter: correctness only, no speed claims' : 'hardware adapter';
    }
    br.checks.push(...await convChecks(tf, offer.name, oracles, cases));
    try {
      br.checks.push(...await extraChecks(lib, tf, { backend: offer.name, runtime }));
    } catch (e) {
      br.checks.push(errorCheck('extraChecks', e));
    }
  }
  report.ms = Math.round(now() - t0);
  return report;
}

const SOFTWARE_RE = /llvmpipe|lavapipe|swiftshader|software|softpipe|warp|basic render/i;

/** Asks navigator.gpu for an adapter and describes it; throws with the reason when there is none. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function describeAdapter(gpu: any): Promise<AdapterReport> {
  if (!gpu) throw new Error('navigator.gpu is undefined');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error('navigator.gpu.requestAdapter() returned null (no WebGPU adapter; without a GPU, Dawn needs a ' +
      'Vulkan driver: libvulkan1 + mesa-vulkan-drivers from bookworm-backports, and XDG_RUNTIME_DIR set)');
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let info: any = adapter.info;
  if (!info && typeof adapter.requestAdapterInfo === 'function') info = await adapter.requestAdapterInfo();
  info = info ?? {};
  const rep: AdapterReport = {
    // wgpu (Deno) reports the PCI vendor id in decimal: 65541 is 0x10005, Mesa.
    vendor: /^\d+$/.test(String(info.vendor ?? '')) ? `0x${Number(info.vendor).toString(16)}` : info.vendor || undefined,
    architecture: info.architecture || undefined,
    device: info.device || undefined,
    description: info.description || undefined,
    isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter,
    software: false,
  };
  rep.software = rep.isFallbackAdapter === true ||
    SOFTWARE_RE.test([rep.vendor, rep.architecture, rep.device, rep.description].join(' ')) ||
    // Mesa's vendor id for lavapipe/llvmpipe, Google's for SwiftShader.
    /^0x10005$|^mesa$|^google$/i.test(rep.vendor ?? '') && /cpu|swiftshader|llvm/i.test(JSON.stringify(info));
  return rep;
}
