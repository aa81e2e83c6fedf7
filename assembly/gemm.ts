// SPDX-License-Identifier: MIT
// GEMM micro-kernels over raw pointers (f32, row-major), with a scalar twin of each SIMD kernel.
//
//   C[m, j] = epilogue( sum_k A(m, k) * B[k, j] )     A(m, k) = A[m*sm + k*sk]   (strides in floats)
//
// A is strided so one kernel serves X·Wᵀ (sm = lda, sk = 1) and dYᵀ·X (sm = 1, sk = lda).
// Nc must be a multiple of 8 (hidden widths are padded to 8 by the flow layout).
// Epilogues: EPI_STORE plain; EPI_BIAS_LEAKY bias then LeakyReLU; EPI_LEAKY_GRAD multiply by the
// LeakyReLU derivative read off the layer's stored output `act` (same layout as C).

export const EPI_STORE: i32 = 0;
export const EPI_BIAS_LEAKY: i32 = 1;
export const EPI_LEAKY_GRAD: i32 = 2;
export const EPI_BIAS: i32 = 3;
export const EPI_ACCUM: i32 = 4;
/** As EPI_LEAKY_GRAD, and also adds each column's sum into `bias` (the bias gradient, zeroed by the caller). */
export const EPI_LEAKY_GRAD_SUM: i32 = 5;
/** Internal: EPI_BIAS_LEAKY for a slope outside [0, 1], where max(x, slope·x) is not the LeakyReLU. */
const EPI_BIAS_LEAKY_SEL: i32 = 6;

@inline function epi(acc: v128, mode: i32, bias: usize, act: usize, slopeV: v128, c: usize): v128 {
  if (mode == EPI_BIAS_LEAKY) {
    // 0 <= slope <= 1 (gemmF32x4 sends other slopes to EPI_BIAS_LEAKY_SEL): max(x, slope·x) as pmax, one
    // maxps (x when the comparison is false, so NaN and ±0 come out bit for bit as in the select form).
    const x = f32x4.add(acc, v128.load(bias));
    return f32x4.pmax(x, f32x4.mul(x, slopeV));
  } else if (mode == EPI_BIAS_LEAKY_SEL) {
    const x = f32x4.add(acc, v128.load(bias));
    return v128.bitselect(x, f32x4.mul(x, slopeV), f32x4.gt(x, f32x4.splat(0.0)));
  } else if (mode == EPI_LEAKY_GRAD || mode == EPI_LEAKY_GRAD_SUM) {
    const a = v128.load(act);
    const d = v128.bitselect(f32x4.splat(1.0), slopeV, f32x4.gt(a, f32x4.splat(0.0)));
    return f32x4.mul(acc, d);
  } else if (mode == EPI_BIAS) {
    return f32x4.add(acc, v128.load(bias));
  } else if (mode == EPI_ACCUM) {
    return f32x4.add(acc, v128.load(c));
  }
  return acc;
}

// 4 rows x 8 columns: 8 accumulators + 2 B vectors + 4 broadcasts + 1 product fit V8's 15 allocatable
// SIMD registers on x64; a 6x8 tile spills there (measured: ~25 vs ~45 GFLOP/s).
@inline function tile4x8(A: usize, smB: usize, skB: usize, B: usize, ldbB: usize, C: usize, ldcB: usize,
                         K: i32, mode: i32, bias: usize, act: usize, slopeV: v128): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const o2 = smB * 2, o3 = smB * 3;
  let pa = A, pb = B;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0)); c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa + smB);
    c10 = f32x4.add(c10, f32x4.mul(a, b0)); c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa + o2);
    c20 = f32x4.add(c20, f32x4.mul(a, b0)); c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa + o3);
    c30 = f32x4.add(c30, f32x4.mul(a, b0)); c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += skB; pb += ldbB;
  }
  let pc = C, pact = act;
  const r00 = epi(c00, mode, bias, pact, slopeV, pc), r01 = epi(c01, mode, bias + 16, pact + 16, slopeV, pc + 16);
  v128.store(pc, r00); v128.store(pc, r01, 16);
  pc += ldcB; pact += ldcB;
  const r10 = epi(c10, mode, bias, pact, slopeV, pc), r11 = epi(c11, mode, bias + 16, pact + 16, slopeV, pc + 16);
  v128.store(pc, r10); v128.store(pc, r11, 16);
  pc += ldcB; pact += ldcB;
  const r20 = epi(c20, mode, bias, pact, slopeV, pc), r21 = epi(c21, mode, bias + 16, pact + 16, slopeV, pc + 16);
  v128.store(pc, r20); v128.store(pc, r21, 16);
  pc += ldcB; pact += ldcB;
  const r30 = epi(c30, mode, bias, pact, slopeV, pc), r31 = epi(c31, mode, bias + 16, pact + 16, slopeV, pc + 16);
  v128.store(pc, r30); v128.store(pc, r31, 16);
  if (mode == EPI_LEAKY_GRAD_SUM) {
    v128.store(bias, f32x4.add(v128.load(bias), f32x4.add(f32x4.add(r00, r10), f32x4.add(r20, r30))));
    v128.store(bias, f32x4.add(v128.load(bias, 16), f32x4.add(f32x4.add(r01, r11), f32x4.add(r21, r31))), 16);
  }
}

@inline function tile1x8(A: usize, skB: usize, B: usize, ldbB: usize, C: usize,
                         K: i32, mode: i32, bias: usize, act: usize, slopeV: v128): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let pa = A, pb = B;
  for (let k = 0; k < K; k++) {
    const a = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(a, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(a, v128.load(pb, 16)));
    pa += skB; pb += ldbB;
  }
  const r0 = epi(c0, mode, bias, act, slopeV, C), r1 = epi(c1, mode, bias + 16, act + 16, slopeV, C + 16);
  v128.store(C, r0);
  v128.store(C, r1, 16);
  if (mode == EPI_LEAKY_GRAD_SUM) {
    v128.store(bias, f32x4.add(v128.load(bias), r0));
    v128.store(bias, f32x4.add(v128.load(bias, 16), r1), 16);
  }
}

// 2 rows x 16 columns for the short-M products (the flow's D x H weight gradients, M = D = 2): 8
// accumulators + 4 B vectors + 2 broadcasts, the same multiply-adds per load as tile4x8 (tile1x8 is
// load- and loop-bound: measured 17 GFLOP/s there).
@inline function tile2x16(A: usize, smB: usize, skB: usize, B: usize, ldbB: usize, C: usize, ldcB: usize,
                          K: i32, mode: i32, bias: usize, act: usize, slopeV: v128): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0), c03 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0), c13 = f32x4.splat(0);
  let pa = A, pb = B;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16), b2 = v128.load(pb, 32), b3 = v128.load(pb, 48);
    const a0 = v128.load32_splat(pa), a1 = v128.load32_splat(pa + smB);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0)); c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    c02 = f32x4.add(c02, f32x4.mul(a0, b2)); c03 = f32x4.add(c03, f32x4.mul(a0, b3));
    c10 = f32x4.add(c10, f32x4.mul(a1, b0)); c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    c12 = f32x4.add(c12, f32x4.mul(a1, b2)); c13 = f32x4.add(c13, f32x4.mul(a1, b3));
    pa += skB; pb += ldbB;
  }
  let pc = C, pact = act;
  for (let r = 0; r < 2; r++) {
    const q0 = r == 0 ? c00 : c10, q1 = r == 0 ? c01 : c11, q2 = r == 0 ? c02 : c12, q3 = r == 0 ? c03 : c13;
    const r0 = epi(q0, mode, bias, pact, slopeV, pc), r1 = epi(q1, mode, bias + 16, pact + 16, slopeV, pc + 16);
    const r2 = epi(q2, mode, bias + 32, pact + 32, slopeV, pc + 32), r3 = epi(q3, mode, bias + 48, pact + 48, slopeV, pc + 48);
    v128.store(pc, r0); v128.store(pc, r1, 16); v128.store(pc, r2, 32); v128.store(pc, r3, 48);
    if (mode == EPI_LEAKY_GRAD_SUM) {
      v128.store(bias, f32x4.add(v128.load(bias), r0));
      v128.store(bias, f32x4.add(v128.load(bias, 16), r1), 16);
      v128.store(bias, f32x4.add(v128.load(bias, 32), r2), 32);
      v128.store(bias, f32x4.add(v128.load(bias, 48), r3), 48);
    }
    pc += ldcB; pact += ldcB;
  }
}

/** Rows of K per pass when K is long (weight gradients, K = batch > 1024): keeps the A and B panels in L2
 *  (measured: N=8192 backward 80 → 70 ms; N=544 is faster unblocked). */
const K_BLOCK: i32 = 256;

/** SIMD GEMM (see the file header). bias: Nc floats (modes 1, 3); act: M x ldc floats (mode 2).
 *  A long K in plain-store mode is split into blocks accumulated into C (cache blocking). */
export function gemmF32x4(A: usize, sm: i32, sk: i32, B: usize, ldb: i32, C: usize, ldc: i32,
                          M: i32, Nc: i32, K: i32, mode: i32, bias: usize, act: usize, slope: f32): void {
  if (mode == EPI_BIAS_LEAKY && !(slope >= 0 && slope <= 1)) mode = EPI_BIAS_LEAKY_SEL;
  if (K <= K_BLOCK * 4 || mode != EPI_STORE) {
    gemmPanel(A, sm, sk, B, ldb, C, ldc, M, Nc, K, mode, bias, act, slope);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += K_BLOCK) {
    const kb = min(K_BLOCK, K - k0);
    gemmPanel(A + ((<usize>k0 * <usize>sk) << 2), sm, sk, B + ((<usize>k0 * <usize>ldb) << 2), ldb, C, ldc, M, Nc, kb,
      k0 == 0 ? EPI_STORE : EPI_ACCUM, bias, act, slope);
  }
}

function gemmPanel(A: usize, sm: i32, sk: i32, B: usize, ldb: i32, C: usize, ldc: i32,
                          M: i32, Nc: i32, K: i32, mode: i32, bias: usize, act: usize, slope: f32): void {
  const smB = (<usize>sm) << 2, skB = (<usize>sk) << 2, ldbB = (<usize>ldb) << 2, ldcB = (<usize>ldc) << 2;
  const slopeV = f32x4.splat(slope);
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a = A + <usize>m * smB, c = C + <usize>m * ldcB, ac = act + <usize>m * ldcB;
    for (let j = 0; j < Nc; j += 8) {
      const jb = (<usize>j) << 2;
      tile4x8(a, smB, skB, B + jb, ldbB, c + jb, ldcB, K, mode, bias + jb, ac + jb, slopeV);
    }
  }
  if (m + 2 <= M) {
    const a = A + <usize>m * smB, c = C + <usize>m * ldcB, ac = act + <usize>m * ldcB;
    let j = 0;
    for (; j + 16 <= Nc; j += 16) {
      const jb = (<usize>j) << 2;
      tile2x16(a, smB, skB, B + jb, ldbB, c + jb, ldcB, K, mode, bias + jb, ac + jb, slopeV);
    }
    for (; j < Nc; j += 8) {
      const jb = (<usize>j) << 2;
      tile1x8(a, skB, B + jb, ldbB, c + jb, K, mode, bias + jb, ac + jb, slopeV);
      tile1x8(a + smB, skB, B + jb, ldbB, c + ldcB + jb, K, mode, bias + jb, ac + ldcB + jb, slopeV);
    }
    m += 2;
  }
  for (; m < M; m++) {
    const a = A + <usize>m * smB, c = C + <usize>m * ldcB, ac = act + <usize>m * ldcB;
    for (let j = 0; j < Nc; j += 8) {
      const jb = (<usize>j) << 2;
      tile1x8(a, skB, B + jb, ldbB, c + jb, K, mode, bias + jb, ac + jb, slopeV);
    }
  }
}

/** Scalar twin of gemmF32x4: same contract, one multiply-add at a time. */
export function gemmScalar(A: usize, sm: i32, sk: i32, B: usize, ldb: i32, C: usize, ldc: i32,
                           M: i32, Nc: i32, K: i32, mode: i32, bias: usize, act: usize, slope: f32): void {
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < Nc; j++) {
      let acc: f32 = 0;
      for (let k = 0; k < K; k++) {
        acc += load<f32>(A + ((<usize>m * sm + <usize>k * sk) << 2)) * load<f32>(B + ((<usize>k * ldb + j) << 2));
      }
      const ci = (<usize>m * ldc + j) << 2;
      if (mode == EPI_BIAS_LEAKY) {
        acc += load<f32>(bias + ((<usize>j) << 2));
        acc = acc > 0 ? acc : acc * slope;
      } else if (mode == EPI_LEAKY_GRAD || mode == EPI_LEAKY_GRAD_SUM) {
        acc *= load<f32>(act + ci) > 0 ? <f32>1.0 : slope;
        if (mode == EPI_LEAKY_GRAD_SUM) store<f32>(bias + ((<usize>j) << 2), load<f32>(bias + ((<usize>j) << 2)) + acc);
      } else if (mode == EPI_BIAS) {
        acc += load<f32>(bias + ((<usize>j) << 2));
      } else if (mode == EPI_ACCUM) {
        acc += load<f32>(C + ci);
      }
      store<f32>(C + ci, acc);
    }
  }
}
