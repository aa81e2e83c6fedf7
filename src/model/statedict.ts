// SPDX-License-Identifier: MIT
// A state dict as rlepose handles it: PyTorch names → float arrays with shapes.
import { toFloat32, fmtShape } from '../util/arrays.js';

export interface Tensor32 {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, Tensor32>;

/** Normalises a record / Map of arrays ({shape, data}, tensors, typed arrays with shapes) into a StateDict. */
export function toStateDict(op: string, sd: Map<string, unknown> | Record<string, unknown>): StateDict {
  const out: StateDict = new Map();
  const entries = sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
  for (const [k, v] of entries) {
    const { data, shape } = toFloat32(op, k, v);
    out.set(k, { shape: shape ?? [data.length], data });
  }
  return out;
}

/** Collects problems (missing / mis-shaped keys) so they are reported all at once. */
export class StateDictReader {
  readonly problems: string[] = [];
  readonly used = new Set<string>();
  constructor(readonly sd: StateDict, readonly op: string) {}

  has(key: string): boolean {
    return this.sd.has(key);
  }

  /** Returns the tensor, recording a problem when it is missing or its shape differs (null then). */
  get(key: string, shape?: number[]): Tensor32 | null {
    const t = this.sd.get(key);
    this.used.add(key);
    if (!t) {
      this.problems.push(`missing '${key}'${shape ? ` ${fmtShape(shape)}` : ''}`);
      return null;
    }
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      this.problems.push(`'${key}' must have shape ${fmtShape(shape)}, got ${fmtShape(t.shape)}`);
      return null;
    }
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        this.problems.push(`'${key}' has a non-finite value ${t.data[i]} at flat index ${i}`);
        return null;
      }
    }
    return t;
  }

  /** Throws one RangeError listing every problem, plus unknown keys under `prefixes`. */
  finish(prefixes: string[], ignore: (key: string) => boolean = () => false): void {
    for (const k of this.sd.keys()) {
      if (this.used.has(k) || ignore(k)) continue;
      if (prefixes.some((p) => k.startsWith(p))) this.problems.push(`unexpected '${k}' ${fmtShape(this.sd.get(k)!.shape)}`);
    }
    if (this.problems.length) {
      throw new RangeError(`${this.op}: ${this.problems.length} problem(s) with the state dict:\n  - ${this.problems.join('\n  - ')}`);
    }
  }
}

/** OIHW (PyTorch conv weight) → HWIO (tfjs conv2d filter). */
export function oihwToHwio(t: Tensor32): Tensor32 {
  const [O, I, H, W] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
    out[((h * W + w) * I + i) * O + o] = t.data[((o * I + i) * H + h) * W + w];
  }
  return { shape: [H, W, I, O], data: out };
}

/** HWIO → OIHW. */
export function hwioToOihw(t: Tensor32): Tensor32 {
  const [H, W, I, O] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
    out[((o * I + i) * H + h) * W + w] = t.data[((h * W + w) * I + i) * O + o];
  }
  return { shape: [O, I, H, W], data: out };
}
