// SPDX-License-Identifier: MIT
// f32x4 exp and tanh for the flow's coupling arithmetic (scalar twins: Mathf.exp, Mathf.tanh).
// exp: range reduction by ln 2 (split in two parts) and a degree-6 polynomial on [-ln2/2, ln2/2] (the
// classic Cephes expf coefficients), ~1 ulp. tanh: an odd Taylor polynomial below |a| = 0.3, else
// 1 − 2/(e^{2|a|} + 1) with the sign restored.

@inline export function expF32x4(x0: v128): v128 {
  const x = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

@inline export function tanhF32x4(a: v128): v128 {
  const ax = f32x4.abs(a);
  // large: 1 − 2/(e^{2|a|} + 1)
  const e2 = expF32x4(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e2, f32x4.splat(1.0))));
  // small: a·(1 − a²/3 + 2a⁴/15 − 17a⁶/315 + 62a⁸/2835)
  const a2 = f32x4.mul(ax, ax);
  let q = f32x4.splat(62.0 / 2835.0);
  q = f32x4.add(f32x4.mul(q, a2), f32x4.splat(-17.0 / 315.0));
  q = f32x4.add(f32x4.mul(q, a2), f32x4.splat(2.0 / 15.0));
  q = f32x4.add(f32x4.mul(q, a2), f32x4.splat(-1.0 / 3.0));
  q = f32x4.add(f32x4.mul(q, a2), f32x4.splat(1.0));
  const small = f32x4.mul(ax, q);
  const mag = v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.3)));
  // restore the sign of a
  return v128.or(mag, v128.and(a, i32x4.splat(0x80000000)));
}

/** Exported for tests: out[i] = exp(x[i]) and tanh(x[i]) over n values (n multiple of 4). */
export function vmathTest(x: usize, outExp: usize, outTanh: usize, n: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = (<usize>i) << 2;
    const v = v128.load(x + o);
    v128.store(outExp + o, expF32x4(v));
    v128.store(outTanh + o, tanhF32x4(v));
  }
}
