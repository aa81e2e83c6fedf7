// SPDX-License-Identifier: MIT
// What this runtime offers: WASM SIMD, threads, a WebGPU adapter (and whether it is a software one).

export type Runtime = 'node' | 'deno' | 'bun' | 'browser' | 'unknown';

export interface Capability { ok: boolean; reason: string }

export interface WebGpuCapability extends Capability {
  adapter?: { vendor: string; architecture: string; device: string; description: string; software: boolean };
  /** How the GPU was reached: navigator.gpu (browser, Deno) or the 'webgpu' package (dawn.node). */
  via?: 'navigator.gpu' | 'dawn.node';
}

export interface Capabilities {
  runtime: Runtime;
  wasmSimd: Capability;
  threads: Capability;
  webgpu: WebGpuCapability;
}

const g = globalThis as unknown as {
  Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } }; window?: unknown;
  navigator?: { gpu?: { requestAdapter(o?: unknown): Promise<unknown> } }; crossOriginIsolated?: boolean;
};

export function detectRuntime(): Runtime {
  if (g.Deno) return 'deno';
  if (g.Bun) return 'bun';
  if (g.process?.versions?.node) return 'node';
  if (g.window) return 'browser';
  return 'unknown';
}

// (module (func (result v128) v128.const i32x4 0 0 0 0)): validates only where SIMD is supported.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);

export function detectWasmSimd(): Capability {
  try {
    return WebAssembly.validate(SIMD_PROBE) ? { ok: true, reason: 'WebAssembly SIMD validates' } : { ok: false, reason: 'this engine does not support WebAssembly SIMD' };
  } catch (e) {
    return { ok: false, reason: `WebAssembly unavailable: ${(e as Error).message}` };
  }
}

export function detectThreads(runtime: Runtime): Capability {
  if (runtime === 'node' || runtime === 'deno' || runtime === 'bun') {
    return { ok: false, reason: 'tfjs-wasm disables threads when it detects Node (Deno and Bun report Node too); rlepose kernels are single-threaded' };
  }
  if (typeof SharedArrayBuffer === 'undefined' || !g.crossOriginIsolated) {
    return { ok: false, reason: 'the page is not cross-origin isolated (COOP/COEP), so SharedArrayBuffer is unavailable' };
  }
  return { ok: true, reason: 'cross-origin isolated: tfjs-wasm loads its threaded build' };
}

type AdapterLike = {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  requestAdapterInfo?: () => Promise<{ vendor?: string; architecture?: string; device?: string; description?: string }>;
  isFallbackAdapter?: boolean;
};

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|warp|basic render/i;

async function describeAdapter(a: AdapterLike): Promise<NonNullable<WebGpuCapability['adapter']>> {
  let info = a.info;
  if (!info && typeof a.requestAdapterInfo === 'function') {
    try { info = await a.requestAdapterInfo(); } catch { /* older implementations */ }
  }
  const vendor = info?.vendor ?? '', architecture = info?.architecture ?? '', device = info?.device ?? '', description = info?.description ?? '';
  const software = !!a.isFallbackAdapter || SOFTWARE.test(`${vendor} ${architecture} ${device} ${description}`);
  return { vendor, architecture, device, description, software };
}

/**
 * Finds a WebGPU adapter: navigator.gpu where it exists (browsers, Deno), else in Node and Bun the optional
 * 'webgpu' package (dawn.node), which is installed into globalThis so tfjs-backend-webgpu can use it.
 */
export async function detectWebGpu(runtime: Runtime): Promise<WebGpuCapability> {
  let via: WebGpuCapability['via'] = 'navigator.gpu';
  if (!g.navigator?.gpu && (runtime === 'node' || runtime === 'bun')) {
    try {
      const spec = 'webgpu';
      const mod = await import(/* @vite-ignore */ spec) as { create(o: string[]): unknown; globals: Record<string, unknown> };
      Object.assign(globalThis, mod.globals);
      const gpu = mod.create([]);
      if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
      else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
      via = 'dawn.node';
    } catch (e) {
      return { ok: false, reason: `no navigator.gpu, and the optional 'webgpu' package (dawn.node) could not be loaded: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  if (!g.navigator?.gpu) return { ok: false, reason: 'navigator.gpu is missing (a browser needs a secure context, and Chromium may need --enable-unsafe-webgpu)' };
  try {
    const adapter = await g.navigator.gpu.requestAdapter() as AdapterLike | null;
    if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned null (no usable GPU or driver; for software Vulkan install Mesa lavapipe)', via };
    const info = await describeAdapter(adapter);
    return { ok: true, reason: info.software ? 'software adapter: correct but slow (use it to prove correctness, not for speed)' : 'hardware adapter', adapter: info, via };
  } catch (e) {
    return { ok: false, reason: `requestAdapter failed: ${(e as Error).message}`, via };
  }
}

export async function detectCapabilities(opts: { webgpu?: boolean } = {}): Promise<Capabilities> {
  const runtime = detectRuntime();
  const webgpu = opts.webgpu === false ? { ok: false, reason: 'not probed: the backend was forced to a CPU backend' } : await detectWebGpu(runtime);
  return { runtime, wasmSimd: detectWasmSimd(), threads: detectThreads(runtime), webgpu };
}
