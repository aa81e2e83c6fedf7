// SPDX-License-Identifier: MIT
/**
 * A small, strict reader and writer for the safetensors format (what PyTorch users export their
 * checkpoints to). Works on bytes only, so it runs the same in Node, browsers, Deno and Bun; the
 * file helpers live in `safetensors_node.ts`.
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`,
 * then the data buffer; offsets are relative to the start of the buffer and the tensors must cover
 * it exactly (no holes, no overlaps). Tensor data is little-endian, row-major.
 *
 * Errors: TypeError when something has the wrong kind (header not UTF-8 / JSON / an object, a field
 * of the wrong JSON type, an unknown dtype, a duplicate key), RangeError when a value is out of
 * range (lengths, offsets, sizes, shapes). Messages start with `safetensors:` and say what was
 * expected and what came. Nothing from the file is ever evaluated; names go into Maps, so a tensor
 * called `__proto__` is just a name.
 */

/** Every dtype this module reads and writes. F16, BF16 and the F8 types are kept as raw bits. */
export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'U16' | 'I16' | 'U32' | 'I32' | 'U64' | 'I64'
  | 'F16' | 'BF16' | 'F32' | 'F64' | 'F8_E4M3' | 'F8_E5M2';

/** The typed array each dtype is read into. */
export interface SafetensorsDataMap {
  BOOL: Uint8Array; // 0 or 1 as written; read as-is
  U8: Uint8Array;
  I8: Int8Array;
  U16: Uint16Array;
  I16: Int16Array;
  U32: Uint32Array;
  I32: Int32Array;
  U64: BigUint64Array;
  I64: BigInt64Array;
  F16: Uint16Array; // IEEE binary16 bit patterns
  BF16: Uint16Array; // bfloat16 bit patterns (the upper half of a float32)
  F32: Float32Array;
  F64: Float64Array;
  F8_E4M3: Uint8Array; // OCP FP8 E4M3 ("fn": no infinities) bit patterns
  F8_E5M2: Uint8Array; // OCP FP8 E5M2 bit patterns
}

export type SafetensorsData = SafetensorsDataMap[SafetensorsDtype];

/** A tensor as read; narrowing on `dtype` narrows `data`. */
export type SafetensorsTensor = {
  [D in SafetensorsDtype]: { dtype: D; shape: number[]; data: SafetensorsDataMap[D] };
}[SafetensorsDtype];

export interface SafetensorsFile {
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsTensor>;
  /** `__metadata__` (string to string); empty when the file has none. */
  metadata: Map<string, string>;
}

export interface ParseSafetensorsOptions {
  /** Largest header accepted, in bytes. Default 100,000,000 (the reference implementation's limit). */
  maxHeaderBytes?: number;
  /**
   * Default true: every tensor gets its own copy of the data, so the result does not keep `bytes`
   * alive and may be mutated freely. With false, tensors whose data is aligned in `bytes` (and on a
   * little-endian machine) are views into `bytes`; unaligned ones are still copied.
   */
  copy?: boolean;
}

/**
 * A tensor to write. `data` may be the typed array `parseSafetensors` gives for that dtype (bytes
 * copied as-is, so F16/BF16/F8 `Uint16Array`/`Uint8Array` are taken as bit patterns), or:
 * - F32, F64: any numbers (Float32Array, Float64Array, number[]); F32 rounds to nearest.
 * - F16, BF16: float numbers (Float32Array, Float64Array, number[]), rounded to nearest, ties to even.
 * - integer dtypes: integer numbers in range (checked), or bigint for U64/I64 (BigInt64Array,
 *   BigUint64Array, bigint[]).
 * - BOOL: booleans, or 0/1.
 */
export interface SafetensorsTensorInput {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: ArrayLike<number | bigint | boolean>;
}

interface DtypeInfo {
  size: number;
  ctor: new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => SafetensorsData;
}

const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  BOOL: { size: 1, ctor: Uint8Array },
  U8: { size: 1, ctor: Uint8Array },
  I8: { size: 1, ctor: Int8Array },
  U16: { size: 2, ctor: Uint16Array },
  I16: { size: 2, ctor: Int16Array },
  U32: { size: 4, ctor: Uint32Array },
  I32: { size: 4, ctor: Int32Array },
  U64: { size: 8, ctor: BigUint64Array },
  I64: { size: 8, ctor: BigInt64Array },
  F16: { size: 2, ctor: Uint16Array },
  BF16: { size: 2, ctor: Uint16Array },
  F32: { size: 4, ctor: Float32Array },
  F64: { size: 8, ctor: Float64Array },
  F8_E4M3: { size: 1, ctor: Uint8Array },
  F8_E5M2: { size: 1, ctor: Uint8Array },
};

/** In the spec but not handled here (sub-byte or complex types); named in the error. */
const KNOWN_UNSUPPORTED = new Set(['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E8M0', 'C64']);

export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = Object.freeze(
  Object.keys(DTYPES) as SafetensorsDtype[],
);

export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${truncate(safeJson(v))}`;
  if (typeof v === 'string') return `string ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return `object ${truncate(safeJson(v))}`;
  return `${typeof v} ${String(v)}`;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function truncate(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

function q(name: string): string {
  return truncate(JSON.stringify(name));
}

/** Swaps each item's bytes in place (only used on big-endian machines). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function checkShape(where: string, shape: unknown): { shape: number[]; numel: number } {
  if (!Array.isArray(shape)) {
    throw new TypeError(`safetensors: ${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== 'number') {
      throw new TypeError(`safetensors: ${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
    }
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(`safetensors: ${where}: shape must be an array of non-negative integers, got ${describe(shape)}`);
    }
    numel *= d;
  }
  // Checked after the loop: a zero dimension makes a huge product harmless.
  if (!Number.isSafeInteger(numel)) {
    throw new RangeError(`safetensors: ${where}: shape ${describe(shape)} has more than 2^53 elements`);
  }
  return { shape: (shape as number[]).slice(), numel };
}

// ---------------------------------------------------------------------------------------------
// Reading

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Scans a header that JSON.parse already accepted and returns the first duplicate object key, with
 * the key of the object it sits in (JSON.parse silently keeps the last one).
 */
function findDuplicateKey(json: string): { key: string; parent: string | null } | null {
  interface Frame { keys: Set<string> | null; expectKey: boolean; name: string | null }
  const stack: Frame[] = [];
  let lastKey: string | null = null;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; json.charCodeAt(i) !== 0x22; i++) if (json.charCodeAt(i) === 0x5c /* \ */) i++;
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null && top.expectKey) {
        const key = JSON.parse(json.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return { key, parent: top.name };
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), expectKey: true, name: lastKey });
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: null, expectKey: false, name: lastKey });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top !== undefined && top.keys !== null) top.expectKey = true;
    }
  }
  return null;
}

interface Entry { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }

function readEntry(name: string, info: unknown, bufferLength: number): Entry {
  const where = `tensor ${q(name)}`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new TypeError(`safetensors: ${where}: expected an object {dtype, shape, data_offsets}, got ${describe(info)}`);
  }
  const rec = info as Record<string, unknown>;
  const dtype = Object.prototype.hasOwnProperty.call(rec, 'dtype') ? rec.dtype : undefined;
  if (typeof dtype !== 'string') {
    throw new TypeError(`safetensors: ${where}: dtype must be a string, got ${describe(dtype)}`);
  }
  if (!isDtype(dtype)) {
    const why = KNOWN_UNSUPPORTED.has(dtype) ? 'unsupported' : 'unknown';
    throw new TypeError(`safetensors: ${where}: ${why} dtype ${q(dtype)}, expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
  }
  const { shape, numel } = checkShape(where, Object.prototype.hasOwnProperty.call(rec, 'shape') ? rec.shape : undefined);
  const offsets = Object.prototype.hasOwnProperty.call(rec, 'data_offsets') ? rec.data_offsets : undefined;
  if (!Array.isArray(offsets) || offsets.length !== 2 || typeof offsets[0] !== 'number' || typeof offsets[1] !== 'number') {
    throw new TypeError(`safetensors: ${where}: data_offsets must be [begin, end], got ${describe(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin || end > bufferLength) {
    throw new RangeError(
      `safetensors: ${where}: data_offsets must satisfy 0 <= begin <= end <= ${bufferLength} (the data buffer's length), got [${begin}, ${end}]`,
    );
  }
  const expected = numel * DTYPES[dtype].size;
  if (end - begin !== expected) {
    throw new RangeError(
      `safetensors: ${where}: ${dtype} shape [${shape.join(', ')}] needs ${expected} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

/** The spec requires the tensors to tile the data buffer exactly. */
function checkCoverage(entries: Entry[], bufferLength: number): void {
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < pos) {
      throw new RangeError(
        `safetensors: tensors ${q(prev!.name)} [${prev!.begin}, ${prev!.end}] and ${q(e.name)} [${e.begin}, ${e.end}] overlap in the data buffer`,
      );
    }
    if (e.begin > pos) {
      const after = prev === null ? 'at the start of the data buffer' : `after tensor ${q(prev.name)}`;
      throw new RangeError(`safetensors: data buffer has a hole of ${e.begin - pos} bytes ${after} (bytes [${pos}, ${e.begin}) belong to no tensor)`);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== bufferLength) {
    throw new RangeError(
      `safetensors: data buffer is ${bufferLength} bytes but the tensors cover only the first ${pos} (${bufferLength - pos} trailing bytes belong to no tensor)`,
    );
  }
}

/**
 * Parses a whole safetensors file held in memory. Validates everything before returning: see the
 * module comment for the errors thrown.
 */
export function parseSafetensors(bytes: Uint8Array, opts: ParseSafetensorsOptions = {}): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`safetensors: expected the file as a Uint8Array, got ${describe(bytes)}`);
  }
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(maxHeader) || maxHeader < 0) {
    throw new RangeError(`safetensors: maxHeaderBytes must be a non-negative integer, got ${describe(maxHeader)}`);
  }
  const copy = opts.copy ?? true;
  if (bytes.length < 8) {
    throw new RangeError(`safetensors: file must be at least 8 bytes (the u64 header length), got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(maxHeader)) {
    throw new RangeError(`safetensors: header length ${n64} exceeds maxHeaderBytes ${maxHeader}`);
  }
  const n = Number(n64);
  if (n > bytes.length - 8) {
    throw new RangeError(`safetensors: header length ${n} exceeds the file: only ${bytes.length - 8} bytes follow the 8-byte prefix`);
  }
  if (n < 2 || bytes[8] !== 0x7b /* { */) {
    throw new TypeError(`safetensors: header must be a JSON object starting with "{", got ${n} bytes starting with byte ${n > 0 ? bytes[8] : 'none'}`);
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new TypeError(`safetensors: header (${n} bytes) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new TypeError(`safetensors: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new TypeError(`safetensors: header must be a JSON object, got ${describe(header)}`);
  }
  const dup = findDuplicateKey(text);
  if (dup !== null) {
    const inside = dup.parent === null ? 'at the top level' : `inside ${q(dup.parent)}`;
    throw new TypeError(`safetensors: header has duplicate key ${q(dup.key)} ${inside}; keys must be unique`);
  }

  const dataStart = 8 + n;
  const bufferLength = bytes.length - dataStart;
  const metadata = new Map<string, string>();
  const entries: Entry[] = [];
  // JSON.parse defines "__proto__" as an own data property, so Object.keys sees it like any name.
  for (const name of Object.keys(header)) {
    const value = (header as Record<string, unknown>)[name];
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new TypeError(`safetensors: __metadata__ must be an object of strings, got ${describe(value)}`);
      }
      for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (typeof v !== 'string') {
          throw new TypeError(`safetensors: __metadata__[${q(key)}] must be a string, got ${describe(v)}`);
        }
        metadata.set(key, v);
      }
      continue;
    }
    entries.push(readEntry(name, value, bufferLength));
  }
  checkCoverage(entries, bufferLength);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const { size, ctor } = DTYPES[e.dtype];
    const at = bytes.byteOffset + dataStart + e.begin;
    const length = (e.end - e.begin) / size;
    let data: SafetensorsData;
    if (!copy && LITTLE_ENDIAN && at % size === 0) {
      data = new ctor(bytes.buffer, at, length);
    } else {
      // A fresh, aligned ArrayBuffer whatever the offset in the file. Uint8Array's own slice, since
      // Node's Buffer overrides slice() to return a view.
      const own = Uint8Array.prototype.slice.call(bytes, dataStart + e.begin, dataStart + e.end);
      if (!LITTLE_ENDIAN) swapBytes(own, size);
      data = new ctor(own.buffer, 0, length);
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data } as SafetensorsTensor);
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Float conversions (bit patterns; round to nearest, ties to even)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 bits to binary16 bits, round to nearest even; NaN stays NaN (quiet, top payload kept). */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 0xff) return m === 0 ? sign | 0x7c00 : sign | 0x7e00 | (m >>> 13);
  const he = e - 127 + 15;
  if (he >= 0x1f) return sign | 0x7c00;
  if (he <= 0) {
    // Result is a binary16 subnormal (or zero): count in units of 2^-24.
    const shift = 14 - he; // value = (m | 2^23) * 2^(he - 15 - 23) = M * 2^-24 / 2^shift
    if (shift > 24) return sign; // below half of the smallest subnormal (float32 subnormals too)
    const mm = m | 0x800000;
    let r = mm >>> shift;
    const rem = mm & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (he << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // a carry into the exponent is right, up to inf
  return sign | r;
}

/** binary16 bits to float32 bits (exact; NaN payload kept). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  let m = h & 0x3ff;
  if (e === 0x1f) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  if (e === 0) {
    if (m === 0) return sign >>> 0;
    let ee = 113; // 127 - 14: the exponent of 2^-14 before normalising
    while ((m & 0x400) === 0) {
      m <<= 1;
      ee--;
    }
    return (sign | (ee << 23) | ((m & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
}

/** float32 bits to bfloat16 bits, round to nearest even; NaN stays NaN (quiet). */
export function f32BitsToBf16Bits(x: number): number {
  x >>>= 0;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 0x10000) & 0xffff;
}

/**
 * float32 bits of `v` rounded to odd (truncate, then set the last bit if anything was lost). Rounding
 * that to binary16 or bfloat16 to nearest gives the same result as rounding `v` directly, because
 * float32 keeps at least 2 more bits than either; plain round-to-nearest to float32 first would not
 * (1 + 2^-11 + 2^-40 would become a tie and go to even).
 */
function f32BitsRoundToOdd(v: number): number {
  f32Scratch[0] = v;
  let u = u32Scratch[0];
  const r = f32Scratch[0];
  if (r !== v && !Number.isNaN(v)) {
    if (Math.abs(r) > Math.abs(v)) u -= 1; // back to the truncated magnitude (also from inf to max)
    u |= 1;
  }
  return u >>> 0;
}

/** Rounds each number to binary16 bits, to nearest, ties to even (correctly also for float64 input). */
export function floatsToF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values instanceof Float32Array) {
    const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(u[i]);
    return out;
  }
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(f32BitsRoundToOdd(values[i]));
  return out;
}

/** Rounds each number to bfloat16 bits, to nearest, ties to even (correctly also for float64 input). */
export function floatsToBf16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values instanceof Float32Array) {
    const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(u[i]);
    return out;
  }
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(f32BitsRoundToOdd(values[i]));
  return out;
}

export function f16ToFloat32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = f16BitsToF32Bits(bits[i]);
  return out;
}

export function bf16ToFloat32(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = (bits[i] << 16) >>> 0;
  return out;
}

let e4m3Table: Float32Array | null = null;
let e5m2Table: Float32Array | null = null;

function fp8Table(dtype: 'F8_E4M3' | 'F8_E5M2'): Float32Array {
  if (dtype === 'F8_E5M2') {
    // E5M2 is the upper byte of a binary16.
    if (e5m2Table === null) {
      const bits = new Uint16Array(256);
      for (let b = 0; b < 256; b++) bits[b] = b << 8;
      e5m2Table = f16ToFloat32(bits);
    }
    return e5m2Table;
  }
  if (e4m3Table === null) {
    e4m3Table = new Float32Array(256);
    for (let b = 0; b < 256; b++) {
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 3) & 0xf;
      const m = b & 0x7;
      if (e === 0xf && m === 0x7) e4m3Table[b] = NaN; // E4M3FN: no infinities, one NaN per sign
      else if (e === 0) e4m3Table[b] = s * m * 2 ** -9;
      else e4m3Table[b] = s * (1 + m / 8) * 2 ** (e - 7);
    }
  }
  return e4m3Table;
}

const I64_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Converts any tensor to a Float32Array. F32 data is returned as is (not copied); every other dtype
 * gives a new array. Floats round to nearest; BOOL gives 0/1 (any non-zero byte is true).
 * I64/U64 go through BigInt and throw a RangeError beyond +-(2^53 - 1), where a Number could no
 * longer hold the value exactly; like I32, integers beyond 2^24 then round to the nearest float32.
 */
export function toFloat32(t: SafetensorsTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data;
    case 'F16':
      return f16ToFloat32(t.data);
    case 'BF16':
      return bf16ToFloat32(t.data);
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const table = fp8Table(t.dtype);
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = table[t.data[i]];
      return out;
    }
    case 'BOOL': {
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) out[i] = t.data[i] !== 0 ? 1 : 0;
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = new Float32Array(t.data.length);
      for (let i = 0; i < out.length; i++) {
        const v = t.data[i];
        if (v > I64_LIMIT || v < -I64_LIMIT) {
          throw new RangeError(`safetensors: toFloat32: ${t.dtype} element ${i} is ${v}, beyond +-(2^53 - 1) where it would lose precision`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      return Float32Array.from(t.data);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const INT_RANGES: Partial<Record<SafetensorsDtype, [number, number]>> = {
  U8: [0, 0xff],
  I8: [-0x80, 0x7f],
  U16: [0, 0xffff],
  I16: [-0x8000, 0x7fff],
  U32: [0, 0xffffffff],
  I32: [-0x80000000, 0x7fffffff],
};

/** Whether `data` is the kind of typed array parseSafetensors gives for `dtype` (its bytes are written as-is). */
function isNativeFor(dtype: SafetensorsDtype, data: unknown): data is SafetensorsData {
  return data instanceof DTYPES[dtype].ctor;
}

function numbersOf(where: string, dtype: SafetensorsDtype, data: ArrayLike<unknown>): ArrayLike<number> {
  for (let i = 0; i < data.length; i++) {
    if (typeof data[i] !== 'number') {
      throw new TypeError(`safetensors: ${where}: ${dtype} data must hold numbers, element ${i} is ${describe(data[i])}`);
    }
  }
  return data as ArrayLike<number>;
}

function encodeData(where: string, dtype: SafetensorsDtype, data: ArrayLike<unknown>): SafetensorsData {
  if (isNativeFor(dtype, data)) {
    if (dtype === 'BOOL') {
      const u8 = data as Uint8Array;
      for (let i = 0; i < u8.length; i++) {
        if (u8[i] > 1) throw new RangeError(`safetensors: ${where}: BOOL data must be 0 or 1, element ${i} is ${u8[i]}`);
      }
    }
    return data;
  }
  switch (dtype) {
    case 'F32':
      return Float32Array.from(numbersOf(where, dtype, data));
    case 'F64':
      return Float64Array.from(numbersOf(where, dtype, data));
    case 'F16':
      return floatsToF16(numbersOf(where, dtype, data));
    case 'BF16':
      return floatsToBf16(numbersOf(where, dtype, data));
    case 'F8_E4M3':
    case 'F8_E5M2':
      throw new TypeError(`safetensors: ${where}: ${dtype} data must be a Uint8Array of bit patterns, got ${describe(data)}`);
    case 'BOOL': {
      const out = new Uint8Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v === true || v === 1) out[i] = 1;
        else if (v !== false && v !== 0) {
          throw new TypeError(`safetensors: ${where}: BOOL data must hold booleans or 0/1, element ${i} is ${describe(v)}`);
        }
      }
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = dtype === 'I64' ? new BigInt64Array(data.length) : new BigUint64Array(data.length);
      const lo = dtype === 'I64' ? -(1n << 63n) : 0n;
      const hi = dtype === 'I64' ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else if (typeof v === 'number') {
          throw new RangeError(`safetensors: ${where}: ${dtype} data must be integers within +-(2^53 - 1) or bigint, element ${i} is ${v}`);
        } else {
          throw new TypeError(`safetensors: ${where}: ${dtype} data must hold integers or bigint, element ${i} is ${describe(v)}`);
        }
        if (b < lo || b > hi) throw new RangeError(`safetensors: ${where}: ${dtype} element ${i} is ${b}, out of [${lo}, ${hi}]`);
        out[i] = b;
      }
      return out;
    }
    default: {
      const [lo, hi] = INT_RANGES[dtype]!;
      const nums = numbersOf(where, dtype, data);
      for (let i = 0; i < nums.length; i++) {
        const v = nums[i];
        if (!Number.isInteger(v) || v < lo || v > hi) {
          throw new RangeError(`safetensors: ${where}: ${dtype} data must be integers in [${lo}, ${hi}], element ${i} is ${v}`);
        }
      }
      const { ctor } = DTYPES[dtype];
      const out = new ctor(new ArrayBuffer(nums.length * DTYPES[dtype].size));
      (out as Int32Array).set(nums);
      return out;
    }
  }
}

/**
 * Serializes tensors (and optional string metadata) to safetensors bytes.
 *
 * Layout follows the reference implementation: tensors are sorted by item size (largest first),
 * then by name (UTF-16 code unit order), so each tensor starts at a multiple of its item size; the
 * header is padded with spaces to a multiple of 8 bytes, so the data buffer starts 8-aligned and
 * readers can map every tensor without copying. The header lists `__metadata__` first (only when
 * non-empty), then the tensors in that order.
 */
export function serializeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensorInput>> | ReadonlyMap<string, SafetensorsTensorInput>,
  metadata?: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
): Uint8Array {
  if (typeof tensors !== 'object' || tensors === null) {
    throw new TypeError(`safetensors: serialize: tensors must be a Map or an object, got ${describe(tensors)}`);
  }
  const items: [string, SafetensorsTensorInput][] = tensors instanceof Map
    ? [...(tensors as ReadonlyMap<string, SafetensorsTensorInput>).entries()]
    : Object.keys(tensors).map((k) => [k, (tensors as Record<string, SafetensorsTensorInput>)[k]]);

  const prepared: { name: string; dtype: SafetensorsDtype; shape: number[]; data: SafetensorsData }[] = [];
  for (const [name, t] of items) {
    if (typeof name !== 'string') throw new TypeError(`safetensors: serialize: tensor names must be strings, got ${describe(name)}`);
    if (name === '__metadata__') throw new TypeError('safetensors: serialize: "__metadata__" is reserved and cannot name a tensor');
    const where = `tensor ${q(name)}`;
    if (typeof t !== 'object' || t === null) throw new TypeError(`safetensors: ${where}: expected {dtype, shape, data}, got ${describe(t)}`);
    if (typeof t.dtype !== 'string' || !isDtype(t.dtype)) {
      throw new TypeError(`safetensors: ${where}: dtype must be one of ${SAFETENSORS_DTYPES.join(', ')}, got ${describe(t.dtype)}`);
    }
    const { shape, numel } = checkShape(where, t.shape);
    const data = t.data as unknown;
    if (typeof data !== 'object' || data === null || typeof (data as ArrayLike<unknown>).length !== 'number') {
      throw new TypeError(`safetensors: ${where}: data must be an array or typed array, got ${describe(data)}`);
    }
    if ((data as ArrayLike<unknown>).length !== numel) {
      throw new RangeError(`safetensors: ${where}: shape [${shape.join(', ')}] has ${numel} elements, data has ${(data as ArrayLike<unknown>).length}`);
    }
    prepared.push({ name, dtype: t.dtype, shape, data: encodeData(where, t.dtype, data as ArrayLike<unknown>) });
  }
  prepared.sort((a, b) => DTYPES[b.dtype].size - DTYPES[a.dtype].size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const parts: string[] = [];
  const meta: [string, string][] = metadata === undefined ? []
    : metadata instanceof Map ? [...(metadata as ReadonlyMap<string, string>).entries()]
    : Object.keys(metadata).map((k) => [k, (metadata as Record<string, string>)[k]]);
  for (const [k, v] of meta) {
    if (typeof k !== 'string' || typeof v !== 'string') {
      throw new TypeError(`safetensors: serialize: metadata must map strings to strings, got ${describe(k)}: ${describe(v)}`);
    }
  }
  if (meta.length > 0) {
    parts.push(`"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of prepared) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of prepared) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, at);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(at, at + src.length), DTYPES[t.dtype].size);
    at += src.length;
  }
  return out;
}
