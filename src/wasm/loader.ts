// SPDX-License-Identifier: MIT
// The WASM loader and the ONLY module that touches memory.buffer (see CONVENTIONS.md).
import { RELEASE_WASM_BASE64 } from './release_wasm.js';
import type { WasmExports } from './exports.js';

export type WasmSource = string | URL | WebAssembly.Module | ArrayBuffer | Uint8Array;

let instancePromise: Promise<WasmKernels> | null = null;
let kernels: WasmKernels | null = null;

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr-4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (!ptr) return '(null)';
  const u32 = new Uint32Array(memory.buffer);
  const byteLen = u32[(ptr - 4) >>> 2];
  const u16 = new Uint16Array(memory.buffer, ptr, byteLen >>> 1);
  let s = '';
  for (let i = 0; i < u16.length; i++) s += String.fromCharCode(u16[i]);
  return s;
}

async function compile(source?: WasmSource): Promise<WebAssembly.Module> {
  if (source === undefined) return WebAssembly.compile(base64ToBytes(RELEASE_WASM_BASE64) as BufferSource);
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return WebAssembly.compile(source as BufferSource);
  const url = source instanceof URL ? source : new URL(source, (globalThis as { location?: { href: string } }).location?.href);
  if (url.protocol === 'file:') {
    const spec = 'node:fs/promises'; // not a literal: bundlers for the browser must not try to resolve it
    const fs = await import(/* @vite-ignore */ spec) as typeof import('node:fs/promises');
    return WebAssembly.compile(await fs.readFile(url) as unknown as BufferSource);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`rlepose: could not fetch WASM from ${url}: HTTP ${res.status}`);
  return WebAssembly.compile(await res.arrayBuffer());
}

/**
 * Typed, bounds-aware access to the kernels and their memory. Views are created per call and
 * never cached, because any allocation may grow (and so detach) memory.buffer.
 */
export class WasmKernels {
  readonly exports: WasmExports;
  readonly memory: WebAssembly.Memory;
  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as WasmExports;
    this.memory = this.exports.memory;
  }
  /** Allocates `bytes` (16-byte aligned) in WASM memory; free it with `free`. */
  alloc(bytes: number): number {
    const p = this.exports.alloc(bytes >>> 0) >>> 0;
    if (p === 0 || (p & 15) !== 0) throw new Error(`rlepose: WASM alloc(${bytes}) returned bad pointer ${p}`);
    return p;
  }
  free(ptr: number): void {
    if (ptr) this.exports.free(ptr >>> 0);
  }
  /** Bytes currently allocated through `alloc` and not yet freed. */
  heapInUse(): number {
    return this.exports.heapInUse() >>> 0;
  }
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr >>> 0, length);
  }
  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr >>> 0, length);
  }
  /** Copies `src` into WASM memory at `ptr` (converting to float32). */
  writeF32(ptr: number, src: ArrayLike<number>, offset = 0): void {
    const view = this.f32(ptr + offset * 4, src.length);
    view.set(src as ArrayLike<number>);
  }
  /** Returns a fresh copy of `length` float32 values at `ptr`. */
  readF32(ptr: number, length: number, out?: Float32Array): Float32Array {
    const dst = out ?? new Float32Array(length);
    dst.set(this.f32(ptr, length));
    return dst;
  }
  /** Copies `src` into WASM memory at `ptr` as int32 (tables of offsets for the kernels). */
  writeI32(ptr: number, src: Int32Array): void {
    new Int32Array(this.memory.buffer, ptr >>> 0, src.length).set(src);
  }
  zero(ptr: number, bytes: number): void {
    new Uint8Array(this.memory.buffer, ptr >>> 0, bytes).fill(0);
  }
}

/**
 * Loads and instantiates the kernels once. `source` overrides the inlined release build: a URL (file:
 * or http(s):), bytes or a compiled `WebAssembly.Module`.
 */
export function loadKernels(source?: WasmSource): Promise<WasmKernels> {
  if (instancePromise && source === undefined) return instancePromise;
  const p = (async () => {
    const mod = await compile(source);
    let memory: WebAssembly.Memory | null = null;
    const imports = {
      env: {
        abort(msgPtr: number, filePtr: number, line: number, col: number): never {
          const msg = memory ? readAsString(memory, msgPtr) : String(msgPtr);
          const file = memory ? readAsString(memory, filePtr) : String(filePtr);
          throw new Error(`rlepose WASM abort: ${msg} at ${file}:${line}:${col}`);
        },
      },
    };
    const instance = await WebAssembly.instantiate(mod, imports);
    memory = (instance.exports as unknown as WasmExports).memory;
    const k = new WasmKernels(instance);
    kernels = k;
    return k;
  })();
  // An override replaces the current instance for objects created from now on; objects created earlier
  // keep the instance they were made with. A failed load leaves the previous instance in place.
  const previous = instancePromise;
  instancePromise = p;
  p.catch(() => { if (instancePromise === p) instancePromise = previous; });
  return p;
}

/** The loaded kernels; throws if `ready()` has not resolved yet. */
export function getKernels(): WasmKernels {
  if (!kernels) throw new Error('rlepose: WASM kernels are not loaded yet: await rlepose.ready() first');
  return kernels;
}
