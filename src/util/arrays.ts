// SPDX-License-Identifier: MIT
// Normalising user inputs (Float32Array + shape, {shape, data}, nested arrays, tfjs tensors) and the
// validation messages of CONVENTIONS.md: op, what was expected, what came.

/** The golden-file array form: row-major data with its shape. */
export interface ShapedArray {
  shape: number[];
  data: ArrayLike<number>;
}

/** Anything that looks like a tfjs tensor (duck-typed so the core does not import tfjs). */
export interface TensorLike {
  shape: number[];
  dtype?: string;
  dataSync(): ArrayLike<number>;
}

export type ArrayInput = Float32Array | Float64Array | number[] | number[][] | number[][][] | ShapedArray | TensorLike;

export function isTensorLike(x: unknown): x is TensorLike {
  return typeof x === 'object' && x !== null && Array.isArray((x as TensorLike).shape) &&
    typeof (x as TensorLike).dataSync === 'function';
}

function isShaped(x: unknown): x is ShapedArray {
  return typeof x === 'object' && x !== null && !isTensorLike(x) && Array.isArray((x as ShapedArray).shape) &&
    (x as ShapedArray).data !== undefined;
}

function nestedShape(x: unknown): number[] {
  const shape: number[] = [];
  let cur: unknown = x;
  while (Array.isArray(cur)) { shape.push(cur.length); cur = cur[0]; }
  return shape;
}

export function fmtShape(s: readonly number[] | null): string {
  return s === null ? 'a flat array' : `[${s.join(',')}]`;
}

/**
 * Converts an input to a flat Float32Array and its shape (null when a flat typed array came without one).
 * Throws TypeError naming `op` and `arg` for anything else.
 */
export function toFloat32(op: string, arg: string, x: unknown): { data: Float32Array; shape: number[] | null } {
  if (x instanceof Float32Array) return { data: x, shape: null };
  if (x instanceof Float64Array) return { data: Float32Array.from(x), shape: null };
  if (isTensorLike(x)) {
    if (x.dtype !== undefined && x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new TypeError(`${op}: ${arg} must be a float32 tensor, got dtype ${x.dtype}`);
    }
    const d = x.dataSync();
    return { data: d instanceof Float32Array ? d : Float32Array.from(d), shape: x.shape.slice() };
  }
  if (isShaped(x)) {
    const shape = x.shape.slice();
    const n = shape.reduce((a, b) => a * b, 1);
    const src = x.data;
    if (!src || typeof (src as ArrayLike<number>).length !== 'number') {
      throw new TypeError(`${op}: ${arg}.data must be an array of numbers, got ${typeof src}`);
    }
    if (src.length !== n) {
      throw new RangeError(`${op}: ${arg} has shape ${fmtShape(shape)} (${n} values) but its data holds ${src.length}`);
    }
    return { data: src instanceof Float32Array ? src : Float32Array.from(src), shape };
  }
  if (Array.isArray(x)) {
    const shape = nestedShape(x);
    const flat = (x as unknown[]).flat(Infinity) as unknown[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (flat.length !== n) throw new RangeError(`${op}: ${arg} is a ragged nested array (shape ${fmtShape(shape)} expects ${n} values, got ${flat.length})`);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = flat[i];
      if (typeof v !== 'number') throw new TypeError(`${op}: ${arg} must contain numbers, got ${typeof v} at flat index ${i}`);
      out[i] = v;
    }
    return { data: out, shape };
  }
  throw new TypeError(`${op}: ${arg} must be a Float32Array, a nested number array, a {shape, data} object or a tfjs tensor, got ${x === null ? 'null' : typeof x}`);
}

/** Throws RangeError naming the first non-finite value (with its multi-index when the shape is known). */
export function assertFinite(op: string, arg: string, data: ArrayLike<number>, shape: readonly number[] | null): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new RangeError(`${op}: ${arg} must be finite, got ${v} at ${shape ? `index [${unravel(i, shape).join(',')}]` : `flat index ${i}`}`);
    }
  }
}

export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = shape.length - 1; k >= 0; k--) { idx[k] = i % shape[k]; i = Math.floor(i / shape[k]); }
  return idx;
}

/** Reads a number[]-like arg as [N, D] rows; `d` is the required last dimension. */
export function rows(op: string, arg: string, x: unknown, d: number): { data: Float32Array; n: number } {
  const { data, shape } = toFloat32(op, arg, x);
  if (shape) {
    if (shape.length !== 2 || shape[1] !== d) {
      throw new RangeError(`${op}: ${arg} must have shape [N,D] = [N,${d}], got ${fmtShape(shape)}`);
    }
  } else if (data.length % d !== 0) {
    throw new RangeError(`${op}: ${arg} must hold N·D values with D = ${d}, got ${data.length}`);
  }
  assertFinite(op, arg, data, shape ?? [data.length / d, d]);
  return { data, n: data.length / d };
}
