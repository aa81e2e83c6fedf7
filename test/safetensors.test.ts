// SPDX-License-Identifier: MIT
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  SAFETENSORS_DTYPES,
  bf16ToFloat32,
  f16ToFloat32,
  floatsToBf16,
  floatsToF16,
  parseSafetensors,
  serializeSafetensors,
  toFloat32,
  type SafetensorsDtype,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
} from '../src/io/safetensors.js';
import { readSafetensorsFile, saveSafetensorsFile, writeSafetensorsFileAtomic } from '../src/io/safetensors_node.js';

const FIXTURE = new URL('../../test/fixtures/regressflow_official_basic.safetensors', import.meta.url);

/** A file with the given header (string or raw bytes) and data buffer; `declared` overrides N. */
function craft(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declared?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function info(dtype: string, shape: unknown, offsets: unknown): Record<string, unknown> {
  return { dtype, shape, data_offsets: offsets };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function f32Bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

function bitsF32(b: number): number {
  return new Float32Array(new Uint32Array([b]).buffer)[0];
}

describe('safetensors: fixture', () => {
  test('reads the exported RegressFlow state_dict', async () => {
    const file = await readSafetensorsFile(FIXTURE);
    assert.equal(file.tensors.size, 161);
    assert.deepEqual([...file.metadata], [['format', 'pt']]);
    const conv1 = file.tensors.get('preact.conv1.weight');
    assert.ok(conv1 !== undefined && conv1.dtype === 'F32');
    assert.deepEqual(conv1.shape, [16, 3, 7, 7]);
    assert.equal(conv1.data.length, 16 * 3 * 7 * 7);
    assert.deepEqual([...conv1.data.subarray(0, 3)], [0x3bbcc477, 0xbd4b8212, 0x3cd725c1].map(bitsF32));
    assert.deepEqual(file.tensors.get('fc_coord.linear.weight')?.shape, [34, 64]);
    assert.deepEqual(file.tensors.get('flow.s.0.0.weight')?.shape, [64, 2]);
    const mask = file.tensors.get('flow.mask')!;
    assert.deepEqual(mask.shape, [6, 2]);
    assert.deepEqual([...toFloat32(mask)], [0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]);
    // Header order is kept.
    assert.equal([...file.tensors.keys()][0], 'preact.conv1.weight');

    const counters = [...file.tensors].filter(([name]) => name.endsWith('num_batches_tracked'));
    assert.equal(counters.length, 14);
    for (const [name, t] of counters) {
      assert.equal(t.dtype, 'I64', name);
      assert.deepEqual(t.shape, []);
      assert.ok(t.data instanceof BigInt64Array);
      assert.deepEqual([...t.data], [1234n]);
      assert.deepEqual([...toFloat32(t)], [1234]);
    }
    for (const t of file.tensors.values()) assert.ok(t.dtype === 'F32' || t.dtype === 'I64');
  });

  test('re-serializes to a file that parses to the same tensors', async () => {
    const raw = await readFile(FIXTURE);
    const file = parseSafetensors(raw);
    const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
    assert.deepEqual(new Map([...again.tensors].sort()), new Map([...file.tensors].sort()));
    assert.deepEqual(again.metadata, file.metadata);
  });

  test('a Node Buffer (pooled, sliced) parses like a Uint8Array', async () => {
    const raw = await readFile(FIXTURE);
    const small = serializeSafetensors({ n: { dtype: 'I64', shape: [1], data: [5n] }, w: { dtype: 'F32', shape: [2], data: [1.5, -2] } });
    const pooled = Buffer.from(small); // small Buffers share one pool at a non-zero offset
    for (const bytes of [pooled, Buffer.concat([Buffer.alloc(3), pooled]).subarray(3)]) {
      const file = parseSafetensors(bytes);
      assert.deepEqual([...file.tensors.get('n')!.data], [5n]);
      assert.deepEqual([...file.tensors.get('w')!.data], [1.5, -2]);
      assert.equal(file.tensors.get('w')!.data.byteOffset, 0);
    }
    assert.deepEqual(parseSafetensors(raw).tensors, parseSafetensors(new Uint8Array(raw)).tensors);
  });

  test('copy: false gives views into aligned data and still copies unaligned data', async () => {
    const raw = new Uint8Array(await readFile(FIXTURE));
    const views = parseSafetensors(raw, { copy: false });
    assert.ok([...views.tensors.values()].every((t) => t.data.buffer === raw.buffer));
    const copies = parseSafetensors(raw);
    assert.ok([...copies.tensors.values()].every((t) => t.data.buffer !== raw.buffer));
    // The same file one byte into a larger buffer: every tensor is misaligned, so all are copied.
    const shifted = new Uint8Array(raw.length + 1);
    shifted.set(raw, 1);
    const moved = parseSafetensors(shifted.subarray(1), { copy: false });
    for (const [name, t] of moved.tensors) {
      if (t.dtype !== 'F32') continue;
      assert.notEqual(t.data.buffer, shifted.buffer);
      assert.deepEqual(t.data, copies.tensors.get(name)!.data);
    }
  });
});

/** One sample per dtype, edge values included. */
function samples(): Record<string, SafetensorsTensorInput> {
  return {
    bool: { dtype: 'BOOL', shape: [2, 2], data: [true, false, 1, 0] },
    u8: { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) },
    i8: { dtype: 'I8', shape: [3], data: [-128, 0, 127] },
    u16: { dtype: 'U16', shape: [2], data: [0, 65535] },
    i16: { dtype: 'I16', shape: [3], data: new Int16Array([-32768, 1, 32767]) },
    u32: { dtype: 'U32', shape: [2], data: [0, 0xffffffff] },
    i32: { dtype: 'I32', shape: [1, 3], data: [-0x80000000, -1, 0x7fffffff] },
    u64: { dtype: 'U64', shape: [2], data: [0n, (1n << 64n) - 1n] },
    i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([-(1n << 63n), 1234n, (1n << 63n) - 1n]) },
    i64_numbers: { dtype: 'I64', shape: [2], data: [Number.MAX_SAFE_INTEGER, -7] },
    f16: { dtype: 'F16', shape: [4], data: new Float32Array([0, -0, 65504, 2 ** -24]) },
    f16_bits: { dtype: 'F16', shape: [2], data: new Uint16Array([0x7e00, 0xfc00]) },
    bf16: { dtype: 'BF16', shape: [3], data: [1, -Infinity, 3.140625] },
    f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1.5, -0, Infinity, 3.4028234663852886e38]) },
    f64: { dtype: 'F64', shape: [3], data: new Float64Array([Math.PI, -Number.MAX_VALUE, 5e-324]) },
    e4m3: { dtype: 'F8_E4M3', shape: [2], data: new Uint8Array([0x7e, 0x01]) },
    e5m2: { dtype: 'F8_E5M2', shape: [2], data: new Uint8Array([0x7c, 0x3c]) },
    scalar: { dtype: 'F32', shape: [], data: [42] },
    empty: { dtype: 'I64', shape: [0, 3], data: [] },
  };
}

describe('safetensors: serialize → parse', () => {
  test('round-trips every dtype', () => {
    const input = samples();
    const covered = new Set(Object.values(input).map((t) => t.dtype));
    assert.deepEqual([...covered].sort(), [...SAFETENSORS_DTYPES].sort());
    const bytes = serializeSafetensors(input, { format: 'pt', note: 'ünïcode' });
    const file = parseSafetensors(bytes);
    assert.deepEqual([...file.metadata], [['format', 'pt'], ['note', 'ünïcode']]);
    assert.equal(file.tensors.size, Object.keys(input).length);
    const get = (name: string): SafetensorsTensor => file.tensors.get(name)!;
    const same = (name: string, data: ArrayBufferView): void => {
      assert.deepEqual(get(name).shape, [...input[name].shape], name);
      assert.deepEqual(bytesOf(get(name).data), bytesOf(data), name);
      assert.equal(get(name).data.constructor, data.constructor, name);
    };
    same('bool', new Uint8Array([1, 0, 1, 0]));
    same('u8', new Uint8Array([0, 128, 255]));
    same('i8', new Int8Array([-128, 0, 127]));
    same('u16', new Uint16Array([0, 65535]));
    same('i16', new Int16Array([-32768, 1, 32767]));
    same('u32', new Uint32Array([0, 0xffffffff]));
    same('i32', new Int32Array([-0x80000000, -1, 0x7fffffff]));
    same('u64', new BigUint64Array([0n, (1n << 64n) - 1n]));
    same('i64', new BigInt64Array([-(1n << 63n), 1234n, (1n << 63n) - 1n]));
    same('i64_numbers', new BigInt64Array([BigInt(Number.MAX_SAFE_INTEGER), -7n]));
    same('f16', new Uint16Array([0x0000, 0x8000, 0x7bff, 0x0001]));
    same('f16_bits', new Uint16Array([0x7e00, 0xfc00]));
    same('bf16', new Uint16Array([0x3f80, 0xff80, 0x4049]));
    same('f32', new Float32Array([1.5, -0, Infinity, 3.4028234663852886e38]));
    same('f64', new Float64Array([Math.PI, -Number.MAX_VALUE, 5e-324]));
    same('e4m3', new Uint8Array([0x7e, 0x01]));
    same('e5m2', new Uint8Array([0x7c, 0x3c]));
    same('scalar', new Float32Array([42]));
    same('empty', new BigInt64Array(0));

    // Parsing the output again and writing it gives identical bytes.
    assert.deepEqual(serializeSafetensors(file.tensors, file.metadata), bytes);
  });

  test('toFloat32 of every dtype', () => {
    const file = parseSafetensors(serializeSafetensors(samples()));
    const f = (name: string): number[] => [...toFloat32(file.tensors.get(name)!)];
    assert.deepEqual(f('bool'), [1, 0, 1, 0]);
    assert.deepEqual(f('i8'), [-128, 0, 127]);
    assert.deepEqual(f('u32'), [0, 4294967296]);
    assert.deepEqual(f('i16'), [-32768, 1, 32767]);
    assert.deepEqual(f('i64_numbers'), [Math.fround(Number.MAX_SAFE_INTEGER), -7]);
    assert.deepEqual(f('f16'), [0, -0, 65504, 2 ** -24]);
    assert.deepEqual(f('bf16'), [1, -Infinity, 3.140625]);
    assert.deepEqual(f('f64'), [Math.fround(Math.PI), -Infinity, 0]);
    assert.deepEqual(f('e4m3'), [448, 2 ** -9]);
    assert.deepEqual(f('e5m2'), [Infinity, 1]);
    assert.deepEqual(f('scalar'), [42]);
    assert.deepEqual(f('empty'), []);
    const f32 = file.tensors.get('f32')!;
    assert.equal(toFloat32(f32), f32.data, 'F32 is returned without a copy');
    assert.throws(() => toFloat32(file.tensors.get('i64')!), { name: 'RangeError', message: /safetensors: toFloat32: I64 element 0 .*2\^53/ });
    assert.throws(() => toFloat32(file.tensors.get('u64')!), { name: 'RangeError', message: /U64 element 1/ });
    const nan = toFloat32({ dtype: 'F8_E4M3', shape: [2], data: new Uint8Array([0x7f, 0xff]) });
    assert.ok(Number.isNaN(nan[0]) && Number.isNaN(nan[1]));
  });

  test('layout: sorted by item size then name, aligned, header padded with spaces to 8 bytes', () => {
    const bytes = serializeSafetensors(
      new Map<string, SafetensorsTensorInput>([
        ['b', { dtype: 'U8', shape: [3], data: [1, 2, 3] }],
        ['a', { dtype: 'U8', shape: [1], data: [9] }],
        ['z', { dtype: 'F64', shape: [1], data: [1] }],
        ['h', { dtype: 'F16', shape: [1], data: [1] }],
        ['f', { dtype: 'F32', shape: [1], data: [1] }],
      ]),
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{.*\} *$/);
    const header = JSON.parse(text) as Record<string, { data_offsets: [number, number] }>;
    assert.deepEqual(Object.keys(header), ['z', 'f', 'h', 'a', 'b']);
    assert.deepEqual(Object.values(header).map((v) => v.data_offsets), [[0, 8], [8, 12], [12, 14], [14, 15], [15, 18]]);
    // Every tensor is a view (aligned) when parsed without copying.
    const file = parseSafetensors(bytes, { copy: false });
    for (const t of file.tensors.values()) assert.equal(t.data.buffer, bytes.buffer);
    // An empty file is valid too.
    assert.deepEqual(serializeSafetensors({}), craft('{}      '));
    assert.equal(parseSafetensors(serializeSafetensors({})).tensors.size, 0);
  });

  test('property: random tensors round-trip byte for byte', () => {
    const dtypeArb = fc.constantFrom(...SAFETENSORS_DTYPES);
    const tensorArb = fc.record({
      dtype: dtypeArb,
      shape: fc.array(fc.nat(4), { maxLength: 3 }),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), tensorArb, { maxKeys: 6 }), (spec) => {
        const input = new Map<string, SafetensorsTensorInput>();
        for (const name of Object.keys(spec)) {
          if (name === '__metadata__') continue;
          const { dtype, shape, seed } = spec[name];
          const numel = shape.reduce((a, b) => a * b, 1);
          const size = { BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, U16: 2, I16: 2, F16: 2, BF16: 2, U32: 4, I32: 4, F32: 4, U64: 8, I64: 8, F64: 8 }[dtype];
          const raw = new Uint8Array(numel * size);
          let s = seed;
          for (let i = 0; i < raw.length; i++) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            raw[i] = dtype === 'BOOL' ? (s >>> 16) & 1 : s >>> 24;
          }
          const file = parseSafetensors(craft(JSON.stringify({ t: info(dtype, shape, [0, raw.length]) }), raw));
          input.set(name, file.tensors.get('t')!);
        }
        const out = parseSafetensors(serializeSafetensors(input));
        assert.equal(out.tensors.size, input.size);
        for (const [name, t] of input) {
          const u = out.tensors.get(name)!;
          assert.equal(u.dtype, t.dtype);
          assert.deepEqual(u.shape, t.shape);
          assert.deepEqual(bytesOf(u.data), bytesOf(t.data as unknown as ArrayBufferView));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('safetensors: F16 / BF16 conversions', () => {
  const f16 = (v: number): number => floatsToF16([v])[0];
  const bf16 = (v: number): number => floatsToBf16([v])[0];

  test('F16 edge values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff], // max
      [65519.99, 0x7bff],
      [65520, 0x7c00], // tie between max (odd) and overflow: to even, which is inf
      [1e6, 0x7c00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // min normal
      [2 ** -24, 0x0001], // min subnormal
      [1023 * 2 ** -24, 0x03ff], // max subnormal
      [1023.5 * 2 ** -24, 0x0400], // tie, odd → rounds up into the normals
      [2 ** -25, 0x0000], // tie between 0 and min subnormal: to even 0
      [bitsF32(f32Bits(2 ** -25) + 1), 0x0001], // just above the tie
      [-(2 ** -25), 0x8000],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: to even 2
      [2 ** -26, 0x0000],
      [1e-45, 0x0000], // float32 subnormal
      [-1e-45, 0x8000],
      [1 + 2 ** -11, 0x3c00], // tie: to even
      [1 + 3 * 2 ** -11, 0x3c02], // tie: to even
      [1 + 2 ** -11 + 2 ** -23, 0x3c01],
      [3.4028234663852886e38, 0x7c00],
    ];
    for (const [v, bits] of cases) assert.equal(f16(v), bits, `f16(${v})`);
    for (const nan of [NaN, bitsF32(0x7f800001), bitsF32(0xffc00000)]) {
      const h = f16(nan);
      assert.equal(h & 0x7c00, 0x7c00);
      assert.notEqual(h & 0x3ff, 0, 'NaN stays NaN');
    }
  });

  test('F16 decode is exact for all 65536 patterns and encode inverts it', () => {
    const all = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) all[i] = i;
    const dec = f16ToFloat32(all);
    const enc = floatsToF16(dec);
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >>> 10) & 0x1f;
      const m = h & 0x3ff;
      const want = e === 0x1f ? (m === 0 ? s * Infinity : NaN) : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
      assert.ok(Object.is(dec[h], want), `decode 0x${h.toString(16)}: ${dec[h]} != ${want}`);
      if (Number.isNaN(want)) {
        assert.equal(enc[h] & 0x7c00, 0x7c00);
        assert.notEqual(enc[h] & 0x3ff, 0, 'NaN stays NaN');
      } else {
        assert.equal(enc[h], h, `encode(decode(0x${h.toString(16)}))`);
      }
    }
  });

  test('F16 encode matches a nearest-value search on random float32s', () => {
    // Independent oracle: the sorted finite non-negative binary16 values, nearest by search, ties to even.
    const table = f16ToFloat32(Uint16Array.from({ length: 0x7c00 }, (_, i) => i));
    const oracle = (v: number): number => {
      const a = Math.abs(v);
      const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = table.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (table[mid] <= a) lo = mid;
        else hi = mid;
      }
      const dLo = a - table[lo];
      const dHi = table[hi] - a;
      const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      return sign | pick;
    };
    let s = 12345;
    const values = new Float32Array(1 << 16);
    const u = new Uint32Array(values.buffer);
    for (let i = 0; i < u.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Bias exponents into binary16's range and hit exact ties often (low mantissa bits cleared).
      const exp = 96 + (s % 50);
      const mant = (Math.imul(s, 2654435761) >>> 9) & (i % 2 === 0 ? 0x7fe000 | 0x1000 : 0x7fffff);
      u[i] = ((s & 0x80000000) | (exp << 23) | mant) >>> 0;
    }
    const enc = floatsToF16(values);
    for (let i = 0; i < values.length; i++) assert.equal(enc[i], oracle(values[i]), `f16(${values[i]})`);
    // The same values nudged by far less than a float32 ulp, as float64 input.
    const nudged = Float64Array.from(values, (v, i) => v * (1 + (i % 3 - 1) * 2 ** -40));
    const enc64 = floatsToF16(nudged);
    for (let i = 0; i < nudged.length; i++) assert.equal(enc64[i], oracle(nudged[i]), `f16(${nudged[i]})`);
  });

  test('BF16 edge values and ties', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3f80],
      [-1, 0xbf80],
      [Infinity, 0x7f80],
      [-Infinity, 0xff80],
      [bitsF32(0x3f808000), 0x3f80], // tie, even stays
      [bitsF32(0x3f818000), 0x3f82], // tie, odd goes up
      [bitsF32(0x3f808001), 0x3f81],
      [bitsF32(0x7f7f7fff), 0x7f7f], // max bfloat16 region
      [bitsF32(0x7f7f8000), 0x7f80], // tie above max: to even, which is inf
      [3.4028234663852886e38, 0x7f80],
      [bitsF32(0x00000001), 0x0000], // float32 subnormals
      [bitsF32(0x00008000), 0x0000], // tie, to even 0
      [bitsF32(0x00018000), 0x0002],
      [bitsF32(0x80010000), 0x8001],
    ];
    for (const [v, bits] of cases) assert.equal(bf16(v), bits, `bf16(${v})`);
    for (const nan of [NaN, bitsF32(0x7f800001), bitsF32(0xff800100)]) {
      const b = bf16(nan);
      assert.equal(b & 0x7f80, 0x7f80);
      assert.notEqual(b & 0x7f, 0, 'NaN stays NaN');
    }
    // Decode is exact: every bf16 pattern is the upper half of a float32.
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const dec = bf16ToFloat32(all);
    const back = floatsToBf16(dec);
    for (let h = 0; h < 65536; h++) {
      assert.equal(new Uint32Array(dec.buffer)[h], h << 16 >>> 0);
      if (!Number.isNaN(dec[h])) assert.equal(back[h], h);
    }
  });

  test('float64 input rounds once, not through a float32 tie', () => {
    // Round-to-nearest float32 would turn these into exact ties and then round to even.
    assert.equal(f16(1 + 2 ** -11 + 2 ** -40), 0x3c01);
    assert.equal(f16(-(1 + 2 ** -11 + 2 ** -40)), 0xbc01);
    assert.equal(f16(1 + 2 ** -11 - 2 ** -40), 0x3c00);
    assert.equal(f16(2 ** -25 + 2 ** -60), 0x0001);
    assert.equal(f16(65520 - 2 ** -30), 0x7bff);
    assert.equal(f16(1e300), 0x7c00);
    assert.equal(f16(1e-300), 0x0000);
    assert.equal(bf16(1 + 2 ** -8 + 2 ** -40), 0x3f81);
    assert.equal(bf16(1 + 3 * 2 ** -8 - 2 ** -40), 0x3f81);
    assert.equal(bf16(3.4e38 * 1.0000001), 0x7f80);
    assert.equal(bf16(-1e-300), 0x8000);
    assert.equal(bf16(1e300), 0x7f80);
  });
});

describe('safetensors: validation', () => {
  const ok = info('F32', [1], [0, 4]);
  const four = new Uint8Array(4);
  const rejects = (bytes: Uint8Array, name: 'TypeError' | 'RangeError', message: RegExp, opts?: { maxHeaderBytes?: number }): void => {
    assert.throws(() => parseSafetensors(bytes, opts), (err: Error) => {
      assert.equal(err.name, name, err.message);
      assert.match(err.message, /^safetensors: /);
      assert.match(err.message, message);
      return true;
    });
  };

  test('the crafted baseline parses', () => {
    const file = parseSafetensors(craft(JSON.stringify({ a: ok }), new Uint8Array(new Float32Array([2.5]).buffer)));
    assert.deepEqual([...toFloat32(file.tensors.get('a')!)], [2.5]);
  });

  test('file and header length', () => {
    rejects(new Uint8Array(0), 'RangeError', /at least 8 bytes.*got 0/);
    rejects(new Uint8Array(7), 'RangeError', /at least 8 bytes.*got 7/);
    rejects(craft('{}', new Uint8Array(0), 1n), 'TypeError', /header must be a JSON object starting with "\{", got 1 bytes/); // header cut short
    rejects(craft('{}', new Uint8Array(0), 100n), 'RangeError', /header length 100 exceeds the file: only 2 bytes follow/);
    rejects(craft('{}', new Uint8Array(0), (1n << 64n) - 1n), 'RangeError', /header length 18446744073709551615 exceeds maxHeaderBytes 100000000/);
    rejects(craft(JSON.stringify({ a: ok }), four), 'RangeError', /exceeds maxHeaderBytes 10/, { maxHeaderBytes: 10 });
    assert.throws(() => parseSafetensors(craft('{}'), { maxHeaderBytes: -1 }), RangeError);
    assert.throws(() => parseSafetensors([1, 2, 3] as unknown as Uint8Array), { name: 'TypeError', message: /Uint8Array/ });
    // A truncated file: the header's declared size runs past the end.
    const full = craft(JSON.stringify({ a: ok }), four);
    rejects(full.subarray(0, 20), 'RangeError', /exceeds the file/);
    rejects(full.subarray(0, full.length - 1), 'RangeError', /data_offsets must satisfy 0 <= begin <= end <= 3/);
  });

  test('header must be UTF-8 JSON and an object', () => {
    rejects(craft(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'TypeError', /not valid UTF-8/);
    rejects(craft('{"a": '), 'TypeError', /not valid JSON/);
    rejects(craft('{"a": 1,}'), 'TypeError', /not valid JSON/);
    rejects(craft('[]'), 'TypeError', /must be a JSON object/);
    rejects(craft('null'), 'TypeError', /must be a JSON object/);
    rejects(craft(' {}'), 'TypeError', /starting with "\{"/);
    rejects(craft('\ufeff{}'), 'TypeError', /starting with "\{"/);
    rejects(craft(''), 'TypeError', /must be a JSON object/);
    rejects(craft('{"a": 1}'), 'TypeError', /tensor "a": expected an object \{dtype, shape, data_offsets\}, got number 1/);
    rejects(craft('{"__metadata__": []}'), 'TypeError', /__metadata__ must be an object of strings/);
    rejects(craft('{"__metadata__": {"epoch": 3}}'), 'TypeError', /__metadata__\["epoch"\] must be a string, got number 3/);
    // Padding after the object is allowed (the writer pads with spaces).
    assert.equal(parseSafetensors(craft('{}      ')).tensors.size, 0);
  });

  test('dtype, shape and data_offsets', () => {
    const one = (i: Record<string, unknown>, data = four) => craft(JSON.stringify({ w: i }), data);
    rejects(one(info('F33', [1], [0, 4])), 'TypeError', /tensor "w": unknown dtype "F33", expected one of BOOL, .*F64/);
    rejects(one(info('F8_E8M0', [4], [0, 4])), 'TypeError', /unsupported dtype "F8_E8M0"/);
    rejects(one({ shape: [1], data_offsets: [0, 4] }), 'TypeError', /dtype must be a string, got undefined/);
    rejects(one(info('F32', 4, [0, 4])), 'TypeError', /shape must be an array of non-negative integers, got number 4/);
    rejects(one(info('F32', ['1'], [0, 4])), 'TypeError', /shape must be an array of non-negative integers/);
    rejects(one(info('F32', [-1], [0, 4])), 'RangeError', /shape must be an array of non-negative integers, got array \[-1\]/);
    rejects(one(info('F32', [1.5], [0, 4])), 'RangeError', /non-negative integers/);
    rejects(one(info('F32', [2 ** 30, 2 ** 30], [0, 4])), 'RangeError', /more than 2\^53 elements/);
    rejects(one(info('F32', [1], [0])), 'TypeError', /data_offsets must be \[begin, end\], got array \[0\]/);
    rejects(one(info('F32', [1], '0,4')), 'TypeError', /data_offsets must be \[begin, end\]/);
    rejects(one(info('F32', [1], [0, 8])), 'RangeError', /data_offsets must satisfy 0 <= begin <= end <= 4 .*got \[0, 8\]/);
    rejects(one(info('F32', [1], [4, 0])), 'RangeError', /got \[4, 0\]/);
    rejects(one(info('F32', [1], [-4, 0])), 'RangeError', /got \[-4, 0\]/);
    rejects(one(info('F32', [2], [0, 4])), 'RangeError', /F32 shape \[2\] needs 8 bytes, data_offsets \[0, 4\] hold 4/);
    rejects(one(info('I64', [], [0, 4])), 'RangeError', /I64 shape \[\] needs 8 bytes/);
  });

  test('tensors must tile the buffer: overlaps, holes, trailing bytes', () => {
    const twelve = new Uint8Array(12);
    rejects(craft(JSON.stringify({ a: info('F32', [2], [0, 8]), b: info('F32', [2], [4, 12]) }), twelve), 'RangeError', /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
    rejects(craft(JSON.stringify({ a: info('F32', [1], [0, 4]), b: info('F32', [1], [0, 4]) }), four), 'RangeError', /overlap/);
    rejects(craft(JSON.stringify({ a: info('F32', [1], [0, 4]), b: info('F32', [1], [8, 12]) }), twelve), 'RangeError', /hole of 4 bytes after tensor "a"/);
    rejects(craft(JSON.stringify({ a: info('F32', [1], [4, 8]) }), new Uint8Array(8)), 'RangeError', /hole of 4 bytes at the start/);
    rejects(craft(JSON.stringify({ a: ok }), new Uint8Array(8)), 'RangeError', /data buffer is 8 bytes but the tensors cover only the first 4 \(4 trailing bytes/);
    rejects(craft('{}', four), 'RangeError', /cover only the first 0/);
    // Zero-size tensors may sit anywhere inside the buffer; order in the header does not matter.
    const file = parseSafetensors(
      craft(JSON.stringify({ b: info('F32', [1], [4, 8]), e: info('F32', [0], [4, 4]), a: ok }), new Uint8Array(8)),
    );
    assert.deepEqual([...file.tensors.keys()], ['b', 'e', 'a']);
  });

  test('duplicate keys are reported, even when escaped differently', () => {
    const a = JSON.stringify(ok);
    rejects(craft(`{"a":${a},"a":${a}}`, four), 'TypeError', /duplicate key "a" at the top level/);
    rejects(craft(`{"a":${a},"\\u0061":${a}}`, four), 'TypeError', /duplicate key "a"/);
    rejects(craft(`{"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, four), 'TypeError', /duplicate key "dtype" inside "a"/);
    rejects(craft(`{"__metadata__":{"k":"1","k":"2"},"a":${a}}`, four), 'TypeError', /duplicate key "k" inside "__metadata__"/);
    // Same key in sibling objects, and keys that look alike inside strings, are fine.
    const file = parseSafetensors(craft(`{"__metadata__":{"x\\"y":"\\"a\\":{","dtype":"F32"},"a":${a}}`, four));
    assert.deepEqual([...file.metadata], [['x"y', '"a":{'], ['dtype', 'F32']]);
  });

  test('__proto__ and other special names do not pollute anything', () => {
    const header = `{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"U8","shape":[0],"data_offsets":[4,4]},"__metadata__":{"__proto__":"x","polluted":"no"}}`;
    const file = parseSafetensors(craft(header, new Uint8Array(new Float32Array([7]).buffer)));
    assert.deepEqual([...file.tensors.keys()], ['__proto__', 'constructor']);
    assert.deepEqual([...toFloat32(file.tensors.get('__proto__')!)], [7]);
    assert.equal(file.metadata.get('__proto__'), 'x');
    const plain: Record<string, unknown> = {};
    assert.equal(plain.dtype, undefined);
    assert.equal(plain.polluted, undefined);
    assert.equal(Object.getPrototypeOf(plain), Object.prototype);
    // Written back, the names survive, and a Record with an own "__proto__" key works too.
    const again = parseSafetensors(serializeSafetensors(file.tensors, file.metadata));
    assert.deepEqual([...again.tensors.keys()].sort(), ['__proto__', 'constructor']);
    const record = JSON.parse('{"__proto__":{"dtype":"I8","shape":[1],"data":[3]}}') as Record<string, SafetensorsTensorInput>;
    const meta = JSON.parse('{"__proto__":"m"}') as Record<string, string>;
    const third = parseSafetensors(serializeSafetensors(record, meta));
    assert.deepEqual([...third.tensors.get('__proto__')!.data], [3]);
    assert.equal(third.metadata.get('__proto__'), 'm');
    assert.equal(({} as Record<string, unknown>).dtype, undefined);
  });

  test('unaligned data offsets are copied into aligned arrays', () => {
    // U8[1] then F64[1] at offset 1, I64 at 9, F16 at 17, after a header that is not a multiple of 8.
    const data = new Uint8Array(19);
    data[0] = 5;
    new DataView(data.buffer).setFloat64(1, -1.25, true);
    new DataView(data.buffer).setBigInt64(9, -3n, true);
    new DataView(data.buffer).setUint16(17, 0x3c00, true);
    const header = JSON.stringify({ u: info('U8', [1], [0, 1]), d: info('F64', [1], [1, 9]), i: info('I64', [1], [9, 17]), h: info('F16', [1], [17, 19]) });
    for (const copy of [true, false]) {
      const file = parseSafetensors(craft(header, data), { copy });
      assert.deepEqual([...file.tensors.get('d')!.data], [-1.25]);
      assert.deepEqual([...file.tensors.get('i')!.data], [-3n]);
      assert.deepEqual([...toFloat32(file.tensors.get('h')!)], [1]);
      assert.deepEqual([...file.tensors.get('u')!.data], [5]);
    }
  });

  test('property: corrupted files throw only TypeError/RangeError naming safetensors', () => {
    const good = serializeSafetensors({
      w: { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
      n: { dtype: 'I64', shape: [], data: [1234n] },
      h: { dtype: 'F16', shape: [3], data: [1, 2, 3] },
    }, { format: 'pt' });
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(good.length - 1), byte: fc.nat(255) }), { minLength: 1, maxLength: 4 }),
        fc.nat(good.length),
        (edits, cut) => {
          const bytes = good.slice(0, Math.max(cut, 8 + (cut % 3)));
          for (const { at, byte } of edits) if (at < bytes.length) bytes[at] = byte;
          try {
            parseSafetensors(bytes);
          } catch (err) {
            assert.ok(err instanceof TypeError || err instanceof RangeError, String(err));
            assert.match((err as Error).message, /^safetensors: /);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('safetensors: serialize validation', () => {
  const bad = (t: Record<string, unknown>, name: 'TypeError' | 'RangeError', message: RegExp, meta?: unknown): void => {
    assert.throws(
      () => serializeSafetensors({ x: t as unknown as SafetensorsTensorInput }, meta as Record<string, string>),
      (err: Error) => err.name === name && /^safetensors: /.test(err.message) && message.test(err.message),
    );
  };
  test('rejects what it cannot write exactly', () => {
    bad({ dtype: 'F32', shape: [3], data: [1, 2] }, 'RangeError', /shape \[3\] has 3 elements, data has 2/);
    bad({ dtype: 'F33', shape: [1], data: [1] }, 'TypeError', /dtype must be one of/);
    bad({ dtype: 'F32', shape: [-1], data: [] }, 'RangeError', /non-negative integers/);
    bad({ dtype: 'F32', shape: [1], data: 5 }, 'TypeError', /data must be an array or typed array/);
    bad({ dtype: 'F32', shape: [1], data: ['1'] }, 'TypeError', /F32 data must hold numbers, element 0 is string/);
    bad({ dtype: 'U8', shape: [1], data: [256] }, 'RangeError', /U8 data must be integers in \[0, 255\], element 0 is 256/);
    bad({ dtype: 'I32', shape: [2], data: [1, 0.5] }, 'RangeError', /element 1 is 0.5/);
    bad({ dtype: 'I8', shape: [1], data: new Float32Array([-129]) }, 'RangeError', /I8 data must be integers in \[-128, 127\]/);
    bad({ dtype: 'I64', shape: [1], data: [2 ** 60] }, 'RangeError', /I64 data must be integers within/);
    bad({ dtype: 'I64', shape: [1], data: [1n << 63n] }, 'RangeError', /out of \[/);
    bad({ dtype: 'U64', shape: [1], data: [-1n] }, 'RangeError', /U64 element 0 is -1/);
    bad({ dtype: 'I64', shape: [1], data: ['1'] }, 'TypeError', /integers or bigint/);
    bad({ dtype: 'BOOL', shape: [1], data: new Uint8Array([2]) }, 'RangeError', /BOOL data must be 0 or 1/);
    bad({ dtype: 'BOOL', shape: [1], data: [2] }, 'TypeError', /booleans or 0\/1/);
    bad({ dtype: 'F8_E4M3', shape: [1], data: [0.5] }, 'TypeError', /Uint8Array of bit patterns/);
    bad({ dtype: 'F32', shape: [1], data: [1] }, 'TypeError', /metadata must map strings to strings/, { epoch: 3 });
    assert.throws(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [], data: [1] } }), { name: 'TypeError', message: /reserved/ });
  });
});

describe('safetensors: Node file helpers', () => {
  const withDir = async (fn: (dir: string) => Promise<void>): Promise<void> => {
    const dir = await mkdtemp(join(tmpdir(), 'rlepose-st-'));
    try {
      await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const fileA = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: [1, 2] } });
  const fileB = serializeSafetensors({ b: { dtype: 'I64', shape: [1], data: [5n] } });

  test('writes, replaces, keeps the mode, leaves no temporary file', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      await writeSafetensorsFileAtomic(path, fileA);
      assert.deepEqual(new Uint8Array(await readFile(path)), fileA);
      await chmod(path, 0o600);
      await saveSafetensorsFile(path, { b: { dtype: 'I64', shape: [1], data: [5n] } });
      assert.deepEqual(new Uint8Array(await readFile(path)), fileB);
      if (process.platform !== 'win32') assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual((await readSafetensorsFile(path)).tensors.get('b')?.data, new BigInt64Array([5n]));
      assert.deepEqual(await readdir(dir), ['model.safetensors']);
    });
  });

  test('refuses bytes that are not a valid file and leaves the old one intact', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      await writeFile(path, fileA);
      await assert.rejects(writeSafetensorsFileAtomic(path, fileB.subarray(0, fileB.length - 1)), { name: 'RangeError' });
      assert.deepEqual(new Uint8Array(await readFile(path)), fileA);
      assert.deepEqual(await readdir(dir), ['model.safetensors']);
    });
  });

  test('a failed rename (target is a directory) cleans up', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      await mkdir(path);
      await writeFile(join(path, 'keep'), 'x');
      await assert.rejects(writeSafetensorsFileAtomic(path, fileA));
      assert.ok((await stat(path)).isDirectory());
      assert.deepEqual(await readdir(path), ['keep']);
      assert.deepEqual(await readdir(dir), ['model.safetensors']);
      await assert.rejects(writeSafetensorsFileAtomic(join(dir, 'missing', 'm.safetensors'), fileA), { code: 'ENOENT' });
    });
  });

  test('a write error midway (file size limit) leaves the old file intact', { skip: process.platform === 'win32' }, async () => {
    const bash = spawnSync('bash', ['-c', 'true']);
    if (bash.error) return;
    await withDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      await writeFile(path, fileA);
      const big = join(dir, 'big.bin');
      await writeFile(big, serializeSafetensors({ w: { dtype: 'F32', shape: [4096], data: new Float32Array(4096) } }));
      const helper = new URL('../src/io/safetensors_node.js', import.meta.url).href;
      const script = `import { writeSafetensorsFileAtomic } from ${JSON.stringify(helper)};
import { readFile } from 'node:fs/promises';
try { await writeSafetensorsFileAtomic(process.argv[1], new Uint8Array(await readFile(process.argv[2]))); console.log('wrote'); }
catch (e) { console.log('failed', e.code); }`;
      // ulimit -f 1: writes past 1 KiB fail with EFBIG (Node ignores SIGXFSZ).
      const run = spawnSync('bash', ['-c', 'ulimit -f 1 && exec "$0" --input-type=module -e "$1" "$2" "$3"', process.execPath, script, path, big], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /failed EFBIG/);
      assert.deepEqual(new Uint8Array(await readFile(path)), fileA);
      assert.deepEqual((await readdir(dir)).sort(), ['big.bin', 'model.safetensors']);
    });
  });

  test('a directory that cannot be written leaves the old file intact', { skip: process.platform === 'win32' || process.getuid?.() === 0 }, async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'model.safetensors');
      await writeFile(path, fileA);
      await chmod(dir, 0o500);
      try {
        await assert.rejects(writeSafetensorsFileAtomic(path, fileB), { code: 'EACCES' });
      } finally {
        await chmod(dir, 0o700);
      }
      assert.deepEqual(new Uint8Array(await readFile(path)), fileA);
    });
  });

  test('reads a file given as a URL', async () => {
    const file = await readSafetensorsFile(new URL(FIXTURE.href));
    assert.equal(file.tensors.size, 161);
    assert.ok(fileURLToPath(FIXTURE).endsWith('.safetensors'));
  });
});

// Keeps the type import used in one place tests would break if the union lost a member.
const _dtypes: SafetensorsDtype[] = [...SAFETENSORS_DTYPES];
void _dtypes;
