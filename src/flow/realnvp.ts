// SPDX-License-Identifier: MIT
// RealNVP flow of the RLE paper, computed by our AssemblyScript SIMD kernels.
import { getKernels, type WasmKernels } from '../wasm/loader.js';
import { DESC, WS } from '../wasm/exports.js';
import { Rng } from '../util/rng.js';
import { rows, toFloat32, fmtShape, assertFinite, type ArrayInput } from '../util/arrays.js';
import { recordOp } from '../backend/report.js';

/** A flow's architecture. `masks[c][d]` = 1 keeps coordinate d fixed in coupling c. */
export interface FlowConfig {
  dim: number;
  hidden: number;
  masks: number[][];
  leakySlope?: number;
}

export type FlowInit = 'official' | 'mmpose' | 'zeros';

export interface CreateFlowOptions {
  /** Coordinates per joint: 2 (uv) or 3 (uvd), or any other with explicit masks. Default 2. */
  dim?: number;
  /** Hidden width of the s and t nets. Default 64. */
  hidden?: number;
  /** Number of couplings when masks are not given. Default 6. */
  couplings?: number;
  masks?: number[][];
  leakySlope?: number;
  /** 'official': PyTorch's default Linear init (what the official code trains from);
   *  'mmpose': xavier-uniform weights with gain 0.01, default biases. Default 'official'. */
  init?: FlowInit;
  seed?: number;
}

/** A named tensor as returned by stateDict(). */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  fanIn: number;
  fanOut: number;
}

const NAME_RE = /^(?:(.*)\.)?([st])\.(\d+)\.(0|2|4)\.(weight|bias)$/;

/** The RLE paper's mask pattern for 2D and 3D (alternating halves). */
export function defaultMasks(dim: number, couplings = 6): number[][] {
  let a: number[], b: number[];
  if (dim === 2) { a = [0, 1]; b = [1, 0]; }
  else if (dim === 3) { a = [0, 0, 1]; b = [1, 1, 0]; }
  else {
    const half = Math.floor(dim / 2);
    a = Array.from({ length: dim }, (_, i) => (i < half ? 0 : 1));
    b = a.map((v) => 1 - v);
  }
  return Array.from({ length: couplings }, (_, i) => (i % 2 === 0 ? a.slice() : b.slice()));
}

/** Canonical parameter list, in the flat order the kernels pack from: coupling, then s/t, then layers. */
export function flowParamSpecs(dim: number, hidden: number, couplings: number): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let off = 0;
  const add = (name: string, shape: number[], fanIn: number, fanOut: number) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset: off, size, fanIn, fanOut });
    off += size;
  };
  for (let c = 0; c < couplings; c++) {
    for (const k of ['s', 't']) {
      add(`${k}.${c}.0.weight`, [hidden, dim], dim, hidden);
      add(`${k}.${c}.0.bias`, [hidden], dim, hidden);
      add(`${k}.${c}.2.weight`, [hidden, hidden], hidden, hidden);
      add(`${k}.${c}.2.bias`, [hidden], hidden, hidden);
      add(`${k}.${c}.4.weight`, [dim, hidden], hidden, dim);
      add(`${k}.${c}.4.bias`, [dim], hidden, dim);
    }
  }
  return specs;
}

function validateConfig(op: string, cfg: FlowConfig): void {
  const { dim, hidden, masks } = cfg;
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${op}: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(hidden) || hidden < 1) throw new RangeError(`${op}: hidden must be a positive integer, got ${hidden}`);
  if (!Array.isArray(masks) || masks.length < 1) throw new RangeError(`${op}: masks must be a non-empty array of length-${dim} rows`);
  masks.forEach((m, c) => {
    if (!Array.isArray(m) || m.length !== dim || m.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new RangeError(`${op}: masks[${c}] must be ${dim} finite numbers, got ${JSON.stringify(m)}`);
    }
  });
  const slope = cfg.leakySlope ?? 0.01;
  if (!Number.isFinite(slope)) throw new RangeError(`${op}: leakySlope must be finite, got ${slope}`);
}

/**
 * RealNVP: `inverse` maps data x to latent z (with log|det ∂z/∂x|), `logProb(x) = log N(z; 0, I) + log|det|`,
 * `forward` maps latent to data. Gradients are analytic (see assembly/realnvp.ts).
 * Owns WASM memory: call `dispose()` when done.
 */
export class RealNVP {
  readonly dim: number;
  readonly hidden: number;
  readonly couplings: number;
  readonly masks: number[][];
  readonly leakySlope: number;
  readonly specs: ParamSpec[];
  readonly numParams: number;
  private readonly k: WasmKernels;
  private desc = 0;
  private masksPtr = 0;
  /** @internal packed parameter / gradient buffers (shared with optimizers). */
  _params = 0;
  /** @internal */
  _grads = 0;
  private derived = 0;
  private ws = 0;
  private cap = 0;
  private io = 0;
  private ioBytes = 0;
  /** @internal floats in the packed layout. */
  readonly _packedFloats: number;
  private disposed = false;

  constructor(cfg: FlowConfig) {
    validateConfig('RealNVP', cfg);
    this.k = getKernels();
    this.dim = cfg.dim;
    this.hidden = cfg.hidden;
    this.masks = cfg.masks.map((m) => m.slice());
    this.couplings = this.masks.length;
    this.leakySlope = cfg.leakySlope ?? 0.01;
    this.specs = flowParamSpecs(this.dim, this.hidden, this.couplings);
    this.numParams = this.specs.reduce((a, s) => a + s.size, 0);
    const e = this.k.exports;
    this._packedFloats = e.flowPackedFloats(this.dim, this.hidden, this.couplings);
    const derivedFloats = e.flowDerivedFloats(this.dim, this.hidden, this.couplings);
    try {
      this.desc = this.k.alloc(DESC.SLOTS * 4);
      this.masksPtr = this.k.alloc(this.couplings * this.dim * 4);
      this._params = this.k.alloc(this._packedFloats * 4);
      this._grads = this.k.alloc(this._packedFloats * 4);
      this.derived = this.k.alloc(derivedFloats * 4);
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.k.writeF32(this.masksPtr, this.masks.flat());
    this.writeDesc();
  }

  /** A new flow with the paper's layout and a fresh initialisation. */
  static create(opts: CreateFlowOptions = {}): RealNVP {
    const dim = opts.dim ?? 2;
    const masks = opts.masks ?? defaultMasks(dim, opts.couplings ?? 6);
    const flow = new RealNVP({ dim, hidden: opts.hidden ?? 64, masks, leakySlope: opts.leakySlope });
    flow.initialize(opts.init ?? 'official', opts.seed ?? 0);
    return flow;
  }

  /** Builds a flow from a golden-schema flow object `{dim, hidden, masks, leaky_slope, params}`. */
  static fromJSON(flow: { dim: number; hidden: number; masks: number[][]; leaky_slope?: number; params: Record<string, unknown> }): RealNVP {
    if (typeof flow !== 'object' || flow === null) throw new TypeError('RealNVP.fromJSON: expected a flow object');
    const f = new RealNVP({ dim: flow.dim, hidden: flow.hidden, masks: flow.masks, leakySlope: flow.leaky_slope });
    try {
      f.loadStateDict(flow.params);
    } catch (err) {
      f.dispose();
      throw err;
    }
    return f;
  }

  /**
   * Builds a flow from a PyTorch state dict (names `s.0.0.weight`, ..., optionally under a prefix such as
   * `flow.` or `head.loss_module.flow_model.`). dim, hidden and the number of couplings are read from the
   * shapes; masks from a `mask` entry when present, else `opts.masks`, else the paper's pattern.
   */
  static fromStateDict(sd: Record<string, unknown> | Map<string, unknown>, opts: { masks?: number[][]; leakySlope?: number } = {}): RealNVP {
    const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
    let dim = 0, hidden = 0, maxC = -1;
    let prefix: string | null = null;
    let maskVal: { data: Float32Array; shape: number[] | null } | null = null;
    for (const [key, val] of entries) {
      const m = NAME_RE.exec(key);
      if (m) {
        prefix ??= m[1] !== undefined ? `${m[1]}.` : '';
        maxC = Math.max(maxC, Number(m[3]));
        if (m[2] === 's' && m[3] === '0' && m[4] === '0' && m[5] === 'weight') {
          const { shape } = toFloat32('RealNVP.fromStateDict', key, val);
          if (shape && shape.length === 2) { hidden = shape[0]; dim = shape[1]; }
        }
      }
    }
    if (maxC < 0 || dim === 0) {
      throw new RangeError(`RealNVP.fromStateDict: no flow parameters found (expected keys like 's.0.0.weight' [hidden, dim], optionally prefixed); got keys: ${entries.slice(0, 8).map(([k]) => k).join(', ')}${entries.length > 8 ? ', ...' : ''}`);
    }
    for (const [key, val] of entries) {
      if (key === `${prefix}mask` || key === 'mask' || key.endsWith('.mask')) maskVal = toFloat32('RealNVP.fromStateDict', key, val);
    }
    let masks = opts.masks;
    if (!masks && maskVal) {
      const C = maskVal.shape?.[0] ?? maskVal.data.length / dim;
      masks = Array.from({ length: C }, (_, c) => Array.from(maskVal!.data.subarray(c * dim, (c + 1) * dim)));
    }
    masks ??= defaultMasks(dim, maxC + 1);
    const flow = new RealNVP({ dim, hidden, masks, leakySlope: opts.leakySlope });
    try {
      flow.loadStateDict(sd, prefix ?? '');
    } catch (err) {
      flow.dispose();
      throw err;
    }
    return flow;
  }

  private writeDesc(): void {
    const i32 = new Int32Array(this.k.memory.buffer, this.desc, DESC.SLOTS);
    const f32 = new Float32Array(this.k.memory.buffer, this.desc, DESC.SLOTS);
    i32[DESC.D] = this.dim;
    i32[DESC.H] = this.hidden;
    i32[DESC.HP] = (this.hidden + 7) & ~7;
    i32[DESC.C] = this.couplings;
    f32[DESC.SLOPE] = this.leakySlope;
    i32[DESC.MASKS] = this.masksPtr;
    i32[DESC.PARAMS] = this._params;
    i32[DESC.DERIVED] = this.derived;
    i32[DESC.GRADS] = this._grads;
    i32[DESC.WS] = this.ws;
    i32[DESC.CAP] = this.cap;
  }

  private check(): void {
    if (this.disposed) throw new Error('RealNVP: this flow has been disposed');
  }

  /** @internal Grows the workspace to hold n samples; returns the descriptor pointer. */
  _ensure(n: number): number {
    this.check();
    if (n > this.cap) {
      const cap = Math.max(64, Math.ceil(n / 64) * 64);
      const bytes = this.k.exports.flowWorkspaceBytes(this.dim, this.hidden, this.couplings, cap) >>> 0;
      const p = this.k.alloc(bytes);
      this.k.free(this.ws);
      this.ws = p;
      this.cap = cap;
      this.writeDesc();
    }
    return this.desc;
  }

  /** @internal Pointer to a workspace slot (valid until the next _ensure). */
  _slot(slot: number): number {
    return this.ws + (this.k.exports.flowWsOffset(this.desc, slot) >>> 0);
  }

  /** @internal An io area of at least `bytes` owned by the flow (for the loss functions). */
  _io(bytes: number): number {
    this.check();
    if (bytes > this.ioBytes) {
      const p = this.k.alloc(bytes);
      this.k.free(this.io);
      this.io = p;
      this.ioBytes = bytes;
    }
    return this.io;
  }

  /** @internal */
  get _kernels(): WasmKernels { return this.k; }
  /** @internal */
  get _desc(): number { return this.desc; }

  /** Re-initialises every parameter. */
  initialize(init: FlowInit = 'official', seed = 0): void {
    this.check();
    const rng = new Rng(seed);
    const flat = new Float32Array(this.numParams);
    for (const s of this.specs) {
      const isW = s.name.endsWith('weight');
      let bound: number;
      if (init === 'zeros') bound = 0;
      else if (init === 'mmpose' && isW) bound = 0.01 * Math.sqrt(6 / (s.fanIn + s.fanOut));
      else bound = 1 / Math.sqrt(s.fanIn); // PyTorch Linear default (kaiming_uniform a=√5 → 1/√fan_in)
      for (let i = 0; i < s.size; i++) flat[s.offset + i] = (rng.next() * 2 - 1) * bound;
    }
    this.setFlatParams(flat);
  }

  /** All parameters, canonical order (see `specs`), as one Float32Array copy. */
  getFlatParams(): Float32Array {
    return this.unpack(this._params);
  }

  /** Sets all parameters from one canonical-order array. */
  setFlatParams(flat: ArrayLike<number>): void {
    this.check();
    if (flat.length !== this.numParams) throw new RangeError(`RealNVP.setFlatParams: expected ${this.numParams} values, got ${flat.length}`);
    assertFinite('RealNVP.setFlatParams', 'params', flat, null);
    const tmp = this.k.alloc(this.numParams * 4);
    try {
      this.k.writeF32(tmp, flat);
      this.k.exports.flowPack(this.desc, tmp, this._params);
      this.k.exports.flowSync(this.desc);
    } finally {
      this.k.free(tmp);
    }
  }

  /** @internal Call after the packed parameters changed in place (optimizer steps). */
  _sync(): void {
    this.k.exports.flowSync(this.desc);
  }

  private unpack(src: number): Float32Array {
    this.check();
    const tmp = this.k.alloc(this.numParams * 4);
    try {
      this.k.exports.flowUnpack(this.desc, src, tmp);
      return this.k.readF32(tmp, this.numParams);
    } finally {
      this.k.free(tmp);
    }
  }

  private toNamed(flat: Float32Array): Record<string, NamedTensor> {
    const out: Record<string, NamedTensor> = {};
    for (const s of this.specs) out[s.name] = { shape: s.shape.slice(), data: flat.slice(s.offset, s.offset + s.size) };
    return out;
  }

  /** Parameters with PyTorch names (`s.0.0.weight`, ...), copies. `prefix` is prepended (e.g. 'flow.'). */
  stateDict(opts: { prefix?: string; includeMask?: boolean } = {}): Record<string, NamedTensor> {
    const named = this.toNamed(this.getFlatParams());
    const prefix = opts.prefix ?? '';
    const out: Record<string, NamedTensor> = {};
    if (opts.includeMask) out[`${prefix}mask`] = { shape: [this.couplings, this.dim], data: Float32Array.from(this.masks.flat()) };
    for (const [k, v] of Object.entries(named)) out[prefix + k] = v;
    return out;
  }

  /**
   * Loads parameters by PyTorch name. Every problem (missing keys, wrong shapes, non-finite values) is
   * collected and reported in one error. Keys outside the flow's names are ignored unless they sit under
   * `prefix` and look like flow parameters.
   */
  loadStateDict(sd: Record<string, unknown> | Map<string, unknown>, prefix = ''): void {
    this.check();
    const get = (k: string): unknown => (sd instanceof Map ? sd.get(k) : Object.prototype.hasOwnProperty.call(sd, k) ? (sd as Record<string, unknown>)[k] : undefined);
    const problems: string[] = [];
    const flat = new Float32Array(this.numParams);
    for (const s of this.specs) {
      const key = prefix + s.name;
      const v = get(key);
      if (v === undefined) { problems.push(`missing '${key}' ${fmtShape(s.shape)}`); continue; }
      let arr: { data: Float32Array; shape: number[] | null };
      try { arr = toFloat32('RealNVP.loadStateDict', key, v); } catch (e) { problems.push((e as Error).message); continue; }
      const shapeOk = arr.shape ? arr.shape.length === s.shape.length && arr.shape.every((d, i) => d === s.shape[i]) : arr.data.length === s.size;
      if (!shapeOk) { problems.push(`'${key}' must have shape ${fmtShape(s.shape)}, got ${fmtShape(arr.shape ?? [arr.data.length])}`); continue; }
      const bad = arr.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) { problems.push(`'${key}' has a non-finite value ${arr.data[bad]} at flat index ${bad}`); continue; }
      flat.set(arr.data, s.offset);
    }
    const keys = sd instanceof Map ? [...sd.keys()] : Object.keys(sd);
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const m = NAME_RE.exec(key.slice(prefix.length));
      if (m && !m[1] && Number(m[3]) >= this.couplings) problems.push(`unexpected '${key}' (the flow has ${this.couplings} couplings)`);
    }
    if (problems.length) {
      throw new RangeError(`RealNVP.loadStateDict: ${problems.length} problem(s) with the state dict:\n  - ${problems.join('\n  - ')}`);
    }
    this.setFlatParams(flat);
  }

  /** log p(x) per row of x ([N, dim]). */
  logProb(x: ArrayInput): Float32Array {
    const { data, n } = rows('RealNVP.logProb', 'x', x, this.dim);
    this.runInverse(data, n);
    return this.k.readF32(this._slot(WS.LP), n);
  }

  /** Data → latent: z [N·dim] and log|det ∂z/∂x| [N]. */
  inverse(x: ArrayInput): { z: Float32Array; logDet: Float32Array } {
    const { data, n } = rows('RealNVP.inverse', 'x', x, this.dim);
    this.runInverse(data, n);
    return { z: this.k.readF32(this._slot(WS.Z), n * this.dim), logDet: this.k.readF32(this._slot(WS.LD), n) };
  }

  /** Latent → data: x [N·dim] and log|det ∂x/∂z| [N]. */
  forward(z: ArrayInput): { x: Float32Array; logDet: Float32Array } {
    const { data, n } = rows('RealNVP.forward', 'z', z, this.dim);
    recordOp('flow.logProb', 'rlepose');
    const desc = this._ensure(n);
    this.k.writeF32(this._slot(WS.IN), data);
    this.k.exports.flowForward(desc, n);
    return { x: this.k.readF32(this._slot(WS.OUT), n * this.dim), logDet: this.k.readF32(this._slot(WS.LD), n) };
  }

  /** n samples of the flow's distribution (standard normal pushed through `forward`), seeded. */
  sample(n: number, seed: number | Rng = 0): Float32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`RealNVP.sample: n must be a non-negative integer, got ${n}`);
    const rng = typeof seed === 'number' ? new Rng(seed) : seed;
    const z = new Float32Array(n * this.dim);
    for (let i = 0; i < z.length; i++) z[i] = rng.normal();
    return this.forward(z).x;
  }

  private runInverse(data: Float32Array, n: number): void {
    recordOp('flow.logProb', 'rlepose');
    const desc = this._ensure(n);
    this.k.writeF32(this._slot(WS.IN), data);
    this.k.exports.flowInverse(desc, n);
  }

  /**
   * log p(x) and the gradients of Σ_n w_n log p(x_n) with respect to x and every parameter
   * (weights default to 1). Gradients are named like `stateDict()`.
   */
  logProbGrad(x: ArrayInput, weights?: ArrayInput): { logProb: Float32Array; gradX: Float32Array; gradParams: Record<string, NamedTensor> } {
    const r = this.logProbBackward(x, weights);
    return { ...r, gradParams: this.gradients() };
  }

  /**
   * log p(x) with the gradients of Σ_n w_n log p(x_n) kept inside WASM: the parameter gradients stay in
   * the flow (read them with `gradients()`, or step a `FlowOptimizer`), dL/dx is returned. The lean path
   * for training loops and benchmarks.
   */
  logProbBackward(x: ArrayInput, weights?: ArrayInput): { logProb: Float32Array; gradX: Float32Array } {
    const { data, n } = rows('RealNVP.logProbBackward', 'x', x, this.dim);
    let w: Float32Array | null = null;
    if (weights !== undefined) {
      w = toFloat32('RealNVP.logProbBackward', 'weights', weights).data;
      if (w.length !== n) throw new RangeError(`RealNVP.logProbBackward: weights must have shape [N] = [${n}], got ${w.length} values`);
      assertFinite('RealNVP.logProbBackward', 'weights', w, [n]);
    }
    // One call: the inverse and the backward pass, chunk by chunk of rows (activations stay in cache).
    recordOp('flow.logProb', 'rlepose');
    const desc = this._ensure(n);
    this.k.writeF32(this._slot(WS.IN), data);
    if (w) this.k.writeF32(this._slot(WS.W), w);
    recordOp('flow.backward', 'rlepose');
    this.k.exports.flowLogProbFwdBwd(desc, n, w ? 1 : 0);
    return { logProb: this.k.readF32(this._slot(WS.LP), n), gradX: this.k.readF32(this._slot(WS.G), n * this.dim) };
  }

  /**
   * Gradients through `inverse`: given dL/dz [N·dim] and dL/dlog|det| [N] for inputs x, returns dL/dx and
   * the parameter gradients.
   */
  inverseGrad(x: ArrayInput, gradZ: ArrayInput, gradLogDet: ArrayInput): { gradX: Float32Array; gradParams: Record<string, NamedTensor> } {
    const { data, n } = rows('RealNVP.inverseGrad', 'x', x, this.dim);
    const gz = rows('RealNVP.inverseGrad', 'gradZ', gradZ, this.dim);
    if (gz.n !== n) throw new RangeError(`RealNVP.inverseGrad: gradZ must have shape [N,D] = [${n},${this.dim}], got [${gz.n},${this.dim}]`);
    const gl = toFloat32('RealNVP.inverseGrad', 'gradLogDet', gradLogDet).data;
    if (gl.length !== n) throw new RangeError(`RealNVP.inverseGrad: gradLogDet must have shape [N] = [${n}], got ${gl.length} values`);
    assertFinite('RealNVP.inverseGrad', 'gradLogDet', gl, [n]);
    this.runInverse(data, n);
    this.k.writeF32(this._slot(WS.G), gz.data);
    this.k.writeF32(this._slot(WS.GLD), gl);
    recordOp('flow.backward', 'rlepose');
    this.k.exports.flowBackward(this.desc, n);
    return { gradX: this.k.readF32(this._slot(WS.G), n * this.dim), gradParams: this.gradients() };
  }

  /** Parameter gradients of the last backward call, named like `stateDict()` (copies). */
  gradients(): Record<string, NamedTensor> {
    return this.toNamed(this.unpack(this._grads));
  }

  /** Gradients of the last backward call as one canonical-order array. */
  getFlatGradients(): Float32Array {
    return this.unpack(this._grads);
  }

  get isDisposed(): boolean { return this.disposed; }

  /** Frees the flow's WASM memory. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of [this.desc, this.masksPtr, this._params, this._grads, this.derived, this.ws, this.io]) this.k.free(p);
    this.desc = this.masksPtr = this._params = this._grads = this.derived = this.ws = this.io = 0;
  }
}
