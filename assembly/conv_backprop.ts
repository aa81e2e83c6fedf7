// SPDX-License-Identifier: MIT
// Convolution gradients that tfjs-backend-wasm lacks, NHWC float32, with a scalar twin of each kernel.
//
// Geometry (every kernel takes it in this order):
//   N, H, W  input batch / height / width        OH, OW   output height / width
//   KH, KW   filter size                          sh, sw   strides      dh, dw   dilations
//   pt, pl   top / left padding (bottom / right follow from OH, OW)
// Input pixel of output (oh, ow) and tap (kh, kw):  ih = oh*sh - pt + kh*dh,  iw = ow*sw - pl + kw*dw.
//
// conv2d filter gradient     dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n,ih,iw,ci] · dy[n,oh,ow,co]
//   A GEMM [KH·KW·Cin, N·OH·OW] x [N·OH·OW, Cout] done im2col-free: for each output row (n, oh) and
//   filter row kh the im2col block is a strided view of one input row, A(m, ow) = xRow[ow*sw*Cin + m]
//   with m = kw*Cin + ci when dw == 1 (all kw in one GEMM over the ow range valid for every kw; the
//   few border columns per kw). 4x8 register tiles run over a block of output rows (L1-sized), or of
//   whole images when the feature map is small, before C, the dW slab of kh, is written back.
//   (Packing dy into 8-column panels measured 9% slower.)
// depthwise filter gradient  dW[kh,kw,c,q] = Σ x[n,ih,iw,c] · dy[n,oh,ow,c*M+q]
// depthwise input gradient   dx[n,ih,iw,c] = Σ_{kh,kw,q} dy[n,oh,ow,c*M+q] · w[kh,kw,c,q]
//   Both work in the C·M "output channel" space, where the channel multiplier M disappears: x is
//   widened to C·M channels (filter gradient) or the C·M-wide result summed over q (input gradient),
//   through a scratch buffer the caller provides when M > 1. Channels are vectorised by 4; blocks of
//   up to 3x3 taps keep their accumulators (filter grad) or weights (input grad) in registers, and
//   when tap and column steps coincide (stride == dilation) a sliding window loads each value once.
//   The common case (3 filter columns, column dilation 1, stride 1 or 2, M == 1, C % 4 == 0, at most
//   3 valid filter rows) runs whole-row kernels instead (fgRowS1/S2, igRowS1/S2): one call per row
//   walks every channel group across the full row, border columns as peeled iterations inside it.
//   The blocked kernels spent about half of the input gradient's time on per-row border passes (one
//   call per tap and border column, zeroing, read-modify-write) on 24- and 48-column rows.

// ---- conv2d filter gradient: accumulating GEMM tiles, A strided, B and C row-major ----------------
// The tiles walk `imgs` images of `rows` output rows of K columns (A and B advance by aImg / bImg,
// aRow / bRow, skB / ldbB bytes) with C held in registers, so C is loaded and stored once per block.

// C[MR x 8] += A(MR x K) · B[K x 8], MR <= 4: 2·MR accumulators, 2 B vectors, MR broadcasts and a
// product temporary. V8 issues a step's loads before its arithmetic and allocates 15 xmm registers on
// x64 (no FMA in WASM SIMD), so 4x8 (8 + 2 + 4 + 1) is the largest tile that runs without spilling;
// the former 6x8 tile (12 + 2 + 6 + 1) moved about 15 xmm values to and from the stack per step
// (node --print-wasm-code). One step per iteration: the loop test, with every accumulator live on its
// exit, keeps V8 from issuing the next step's loads first, also in the copies of V8's own unrolling
// (unrolled by 4 with exit tests between the steps, as in conv_input.ts, measured the same).
@inline function accTile(MR: i32, A: usize, skB: usize, aRow: usize, aImg: usize, B: usize, ldbB: usize, bRow: usize,
                         bImg: usize, C: usize, ldcB: usize, K: i32, rows: i32, imgs: i32): void {
  const z = f32x4.splat(0);
  const r1 = C + ldcB, r2 = r1 + ldcB, r3 = r2 + ldcB;
  let c00 = v128.load(C), c01 = v128.load(C, 16), c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  if (MR > 1) { c10 = v128.load(r1); c11 = v128.load(r1, 16); }
  if (MR > 2) { c20 = v128.load(r2); c21 = v128.load(r2, 16); }
  if (MR > 3) { c30 = v128.load(r3); c31 = v128.load(r3, 16); }
  let ia = A, ib = B, ra = A, rb = B, r = 0, i = 0;
  for (;;) {
    let pa = ra, pb = rb;
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let x = v128.load32_splat(pa);
      c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
      if (MR > 1) { x = v128.load32_splat(pa, 4); c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1)); }
      if (MR > 2) { x = v128.load32_splat(pa, 8); c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1)); }
      if (MR > 3) { x = v128.load32_splat(pa, 12); c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1)); }
      pa += skB; pb += ldbB;
    }
    ra += aRow; rb += bRow;
    if (++r == rows) {
      if (++i == imgs) break;
      r = 0; ia += aImg; ib += bImg; ra = ia; rb = ib;
    }
  }
  v128.store(C, c00); v128.store(C, c01, 16);
  if (MR > 1) { v128.store(r1, c10); v128.store(r1, c11, 16); }
  if (MR > 2) { v128.store(r2, c20); v128.store(r2, c21, 16); }
  if (MR > 3) { v128.store(r3, c30); v128.store(r3, c31, 16); }
}

/**
 * C[M x Nc] += Σ_{i,r} A_ir(M x K) · B_ir[K x Nc] over `imgs` x `rows` blocks,
 * A_ir(m, k) = A[i*aImg + r*aRow + m + k*sk] (rows of A adjacent), B_ir = B + i*bImg + r*bRow (floats),
 * Nc % 8 == 0.
 */
function gemmAccRowsF32x4(A: usize, sk: i32, aRow: i32, aImg: i32, B: usize, ldb: i32, bRow: i32, bImg: i32,
                          C: usize, ldc: i32, M: i32, Nc: i32, K: i32, rows: i32, imgs: i32): void {
  if (K <= 0 || rows <= 0 || imgs <= 0) return;
  const ldcB = (<usize>ldc) << 2;
  let aRowB = (<usize>aRow) << 2, bRowB = (<usize>bRow) << 2;
  let aImgB = (<usize>aImg) << 2, bImgB = (<usize>bImg) << 2;
  let skB = (<usize>sk) << 2, ldbB = (<usize>ldb) << 2;
  // The three sums (images, rows, columns) commute: the longest runs innermost, as the tile's k loop
  // (small feature maps have rows of 1-4 columns but more rows and images; measured 1.3x on 8x6 and
  // 4x3 maps).
  if (rows > K) {
    let t = K; K = rows; rows = t;
    let u = skB; skB = aRowB; aRowB = u; u = ldbB; ldbB = bRowB; bRowB = u;
  }
  if (imgs > K) {
    let t = K; K = imgs; imgs = t;
    let u = skB; skB = aImgB; aImgB = u; u = ldbB; ldbB = bImgB; bImgB = u;
  }
  const NcB = (<usize>Nc) << 2;
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a = A + (<usize>m << 2), c = C + <usize>m * ldcB;
    for (let jb: usize = 0; jb < NcB; jb += 32) accTile(4, a, skB, aRowB, aImgB, B + jb, ldbB, bRowB, bImgB, c + jb, ldcB, K, rows, imgs);
  }
  if (m < M) {
    const mr = M - m;
    const a = A + (<usize>m << 2), c = C + <usize>m * ldcB;
    for (let jb: usize = 0; jb < NcB; jb += 32) {
      if (mr == 3) accTile(3, a, skB, aRowB, aImgB, B + jb, ldbB, bRowB, bImgB, c + jb, ldcB, K, rows, imgs);
      else if (mr == 2) accTile(2, a, skB, aRowB, aImgB, B + jb, ldbB, bRowB, bImgB, c + jb, ldcB, K, rows, imgs);
      else accTile(1, a, skB, aRowB, aImgB, B + jb, ldbB, bRowB, bImgB, c + jb, ldcB, K, rows, imgs);
    }
  }
}

// First / one-past-last output column whose tap at input offset `off` (= kw*dw - pl) is inside [0, W).
@inline function colLo(off: i32, sw: i32, OW: i32): i32 {
  const lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  return lo < OW ? lo : OW;
}
@inline function colHi(off: i32, sw: i32, W: i32, OW: i32): i32 {
  const num = W - 1 - off;
  if (num < 0) return 0;
  const hi = num / sw + 1;
  return hi < OW ? hi : OW;
}

// Bytes of input and dy rows one GEMM block of output rows may span (48 KiB, the L1 size of the
// machine we tuned on; with the 4x8 tile 24 KiB measured the same, 96 KiB 0.95x, 256 KiB 0.85-0.9x).
const ROW_BLOCK_BYTES: i32 = 48 << 10;
// Small feature maps: images per block while their rows fit this many bytes, at most IMG_BLOCK_MAX
// (measured on the trunk's 8x6 and 4x3 maps: 48 KiB 46-48 GFLOP/s, 128 KiB 50-64, 256 KiB 45-66).
// The cap: with the images innermost, A and B lines one image apart often fall into the same L1 set
// (a 4x3x256 image is 12 KiB), and 21 images at once ran at 0.65x of 5.
const IMG_BLOCK_BYTES: i32 = 128 << 10;
const IMG_BLOCK_MAX: i32 = 5;
// Depthwise: bytes of 64-byte pixel lines one block of rows may span (16 KiB and less measurably slower).
const DW_ROW_BLOCK_BYTES: i32 = 64 << 10;

@inline function rowBlock(bytesPerRow: i32, rows: i32): i32 {
  let rb = ROW_BLOCK_BYTES / (bytesPerRow > 0 ? bytesPerRow : 1);
  if (rb < 1) rb = 1;
  return rb < rows ? rb : rows;
}

/**
 * conv2d filter gradient, SIMD. x [N,H,W,Cin], dy [N,OH,OW,Cout], dW [KH,KW,Cin,Cout] (overwritten,
 * or added to when `accumulate`, so a batch can be fed in chunks). Cout must be a multiple of 8
 * (pad dy and dW with zero channels otherwise).
 */
export function conv2dBackpropFilterF32x4(x: usize, dy: usize, dW: usize,
    N: i32, H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, accumulate: i32): void {
  if (!accumulate) memory.fill(dW, 0, (<usize>KH * KW * Cin * Cout) << 2);
  const xRowF = W * Cin, dyRowF = OW * Cout, slabF = KW * Cin * Cout, tapF = Cin * Cout;
  const skA = sw * Cin, aRow = sh * xRowF;
  // Output columns valid for every kw (kw = 0 bounds the left edge, kw = KW-1 the right one).
  const loAll = colLo(-pl, sw, OW);
  const hiAll = colHi((KW - 1) * dw - pl, sw, W, OW);
  const merged = dw == 1 && hiAll > loAll;
  const rowB = (xRowF + dyRowF) << 2, xImgF = H * xRowF, dyImgF = OH * dyRowF;
  // Images per block: as many as fit the budget with all their rows (small feature maps: C is then
  // loaded and stored once per block of images, not once per image and filter row).
  let IB = 1;
  if (OH * rowB <= IMG_BLOCK_BYTES) {
    IB = IMG_BLOCK_BYTES / (OH * rowB);
    if (IB > IMG_BLOCK_MAX) IB = IMG_BLOCK_MAX;
    if (IB > N) IB = N;
  }
  for (let n = 0; n < N; n += IB) {
    const imgs = N - n < IB ? N - n : IB;
    for (let kh = 0; kh < KH; kh++) {
      // Output rows whose input row ih = oh*sh - pt + kh*dh is inside [0, H).
      const off = kh * dh - pt;
      const ohLo = colLo(off, sh, OH), ohHi = colHi(off, sh, H, OH);
      const slab = dW + ((<usize>kh * slabF) << 2);
      const RB = imgs > 1 ? ohHi - ohLo : rowBlock(rowB, ohHi - ohLo);
      for (let ob = ohLo; ob < ohHi; ob += RB) {
        const rows = ohHi - ob < RB ? ohHi - ob : RB;
        const ih = ob * sh + off;
        const xRow = (n * H + ih) * xRowF;          // float index of the block's first input row
        const dyRow = dy + ((<usize>(n * OH + ob) * dyRowF) << 2);
        if (merged) {
          // One GEMM with M = KW*Cin: A(kw*Cin + ci, ow) = xRow[(ow*sw - pl)*Cin + kw*Cin + ci].
          gemmAccRowsF32x4(x + ((<usize>(xRow + (loAll * sw - pl) * Cin)) << 2), skA, aRow, xImgF,
            dyRow + ((<usize>loAll * Cout) << 2), Cout, dyRowF, dyImgF, slab, Cout, KW * Cin, Cout, hiAll - loAll, rows, imgs);
        }
        for (let kw = 0; kw < KW; kw++) {
          const o = kw * dw - pl;
          const lo = colLo(o, sw, OW), hi = colHi(o, sw, W, OW);
          const c = slab + ((<usize>kw * tapF) << 2);
          if (merged) {
            // Border columns this kw sees outside the merged range.
            const e1 = hi < loAll ? hi : loAll;
            if (e1 > lo) gemmAccRowsF32x4(x + ((<usize>(xRow + (lo * sw + o) * Cin)) << 2), skA, aRow, xImgF,
              dyRow + ((<usize>lo * Cout) << 2), Cout, dyRowF, dyImgF, c, Cout, Cin, Cout, e1 - lo, rows, imgs);
            const s2 = lo > hiAll ? lo : hiAll;
            if (hi > s2) gemmAccRowsF32x4(x + ((<usize>(xRow + (s2 * sw + o) * Cin)) << 2), skA, aRow, xImgF,
              dyRow + ((<usize>s2 * Cout) << 2), Cout, dyRowF, dyImgF, c, Cout, Cin, Cout, hi - s2, rows, imgs);
          } else if (hi > lo) {
            gemmAccRowsF32x4(x + ((<usize>(xRow + (lo * sw + o) * Cin)) << 2), skA, aRow, xImgF,
              dyRow + ((<usize>lo * Cout) << 2), Cout, dyRowF, dyImgF, c, Cout, Cin, Cout, hi - lo, rows, imgs);
          }
        }
      }
    }
  }
}

/** Scalar twin of conv2dBackpropFilterF32x4: the defining sum, one output element at a time, any Cout. */
export function conv2dBackpropFilterScalar(x: usize, dy: usize, dW: usize,
    N: i32, H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, accumulate: i32): void {
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let ci = 0; ci < Cin; ci++) {
        for (let co = 0; co < Cout; co++) {
          const o = dW + ((<usize>((kh * KW + kw) * Cin + ci) * Cout + co) << 2);
          let s: f32 = accumulate ? load<f32>(o) : 0;
          for (let n = 0; n < N; n++) {
            for (let oh = 0; oh < OH; oh++) {
              const ih = oh * sh - pt + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (let ow = 0; ow < OW; ow++) {
                const iw = ow * sw - pl + kw * dw;
                if (iw < 0 || iw >= W) continue;
                s += load<f32>(x + ((<usize>((n * H + ih) * W + iw) * Cin + ci) << 2)) *
                     load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * Cout + co) << 2));
              }
            }
          }
          store<f32>(o, s);
        }
      }
    }
  }
}

/**
 * Re-strides `rows` rows of `cols` floats in place, from row stride `fromLd` to `toLd`: widening
 * (toLd > fromLd) runs from the last row and zeroes the new columns; narrowing runs from the first.
 * Used to pad channels to a multiple of 8 without a second buffer.
 */
export function restrideRowsF32(buf: usize, rows: i32, fromLd: i32, toLd: i32, cols: i32): void {
  const n = (<usize>cols) << 2, fB = (<usize>fromLd) << 2, tB = (<usize>toLd) << 2;
  if (toLd > fromLd) {
    const pad = tB - n;
    for (let r = rows - 1; r >= 0; r--) {
      const d = buf + <usize>r * tB;
      memory.copy(d, buf + <usize>r * fB, n);
      memory.fill(d + n, 0, pad);
    }
  } else if (toLd < fromLd) {
    for (let r = 0; r < rows; r++) memory.copy(buf + <usize>r * tB, buf + <usize>r * fB, n);
  }
}

// ---- depthwise filter gradient --------------------------------------------------------------------
// A block of R filter rows x T filter columns (R, T <= 3) keeps its R*T accumulators (one channel
// group of 4) in registers, so each dy load feeds R*T independent multiply-add chains; the block walks
// `rows` output rows that share the same valid filter rows.

@inline function fgBlock(R: i32, T: i32, acc: usize, accRow: usize, accTap: usize,
                         xp: usize, xKh: usize, xTap: usize, xOw: usize, xNext: usize,
                         dyp: usize, dyOw: usize, dyNext: usize, rows: i32, lo: i32, hi: i32): void {
  const z = f32x4.splat(0);
  const a1 = acc + accRow, a2 = a1 + accRow;
  let s00 = v128.load(acc), s01 = z, s02 = z, s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
  if (T > 1) s01 = v128.load(acc + accTap);
  if (T > 2) s02 = v128.load(acc + accTap * 2);
  if (R > 1) {
    s10 = v128.load(a1);
    if (T > 1) s11 = v128.load(a1 + accTap);
    if (T > 2) s12 = v128.load(a1 + accTap * 2);
  }
  if (R > 2) {
    s20 = v128.load(a2);
    if (T > 1) s21 = v128.load(a2 + accTap);
    if (T > 2) s22 = v128.load(a2 + accTap * 2);
  }
  const t2 = xTap * 2, k2 = xKh * 2;
  let rx = xp + <usize>lo * xOw, rd = dyp + <usize>lo * dyOw;
  for (let r = 0; r < rows; r++) {
    let px = rx, pd = rd;
    for (let ow = lo; ow < hi; ow++) {
      const d = v128.load(pd);
      s00 = f32x4.add(s00, f32x4.mul(v128.load(px), d));
      if (T > 1) s01 = f32x4.add(s01, f32x4.mul(v128.load(px + xTap), d));
      if (T > 2) s02 = f32x4.add(s02, f32x4.mul(v128.load(px + t2), d));
      // 3x3: these tests never fire (lo <= ow < hi) but end the block with every accumulator live, so
      // V8 cannot issue the x loads of all three filter rows first (9 + 1 + 9 registers spilled 2
      // accumulators). Two different conditions: V8 drops a test that repeats a dominating one.
      if (R * T > 6 && ow > hi) break;
      if (R > 1) {
        const q = px + xKh;
        s10 = f32x4.add(s10, f32x4.mul(v128.load(q), d));
        if (T > 1) s11 = f32x4.add(s11, f32x4.mul(v128.load(q + xTap), d));
        if (T > 2) s12 = f32x4.add(s12, f32x4.mul(v128.load(q + t2), d));
      }
      if (R * T > 6 && ow < lo) break;
      if (R > 2) {
        const q = px + k2;
        s20 = f32x4.add(s20, f32x4.mul(v128.load(q), d));
        if (T > 1) s21 = f32x4.add(s21, f32x4.mul(v128.load(q + xTap), d));
        if (T > 2) s22 = f32x4.add(s22, f32x4.mul(v128.load(q + t2), d));
      }
      px += xOw; pd += dyOw;
    }
    rx += xNext; rd += dyNext;
  }
  v128.store(acc, s00);
  if (T > 1) v128.store(acc + accTap, s01);
  if (T > 2) v128.store(acc + accTap * 2, s02);
  if (R > 1) {
    v128.store(a1, s10);
    if (T > 1) v128.store(a1 + accTap, s11);
    if (T > 2) v128.store(a1 + accTap * 2, s12);
  }
  if (R > 2) {
    v128.store(a2, s20);
    if (T > 1) v128.store(a2 + accTap, s21);
    if (T > 2) v128.store(a2 + accTap * 2, s22);
  }
}

// Stride 1, dilation 1, T = 3: iterate over input columns i = ow + t and keep the last three dy
// values in registers, acc_t += x[i]·dy[i - t]: one x load per filter row and one dy load per column
// instead of one x load per tap.
@inline function fgSlide3(R: i32, acc: usize, accRow: usize, accTap: usize,
                          xp: usize, xKh: usize, xOw: usize, xNext: usize,
                          dyp: usize, dyOw: usize, dyNext: usize, rows: i32, lo: i32, hi: i32): void {
  const z = f32x4.splat(0);
  const a1 = acc + accRow, a2 = a1 + accRow;
  const t2 = accTap * 2;
  let s00 = v128.load(acc), s01 = v128.load(acc + accTap), s02 = v128.load(acc + t2);
  let s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
  if (R > 1) { s10 = v128.load(a1); s11 = v128.load(a1 + accTap); s12 = v128.load(a1 + t2); }
  if (R > 2) { s20 = v128.load(a2); s21 = v128.load(a2 + accTap); s22 = v128.load(a2 + t2); }
  const k2 = xKh * 2;
  const L = hi - lo;
  let rx = xp + <usize>lo * xOw, rd = dyp + <usize>lo * dyOw;
  for (let r = 0; r < rows; r++) {
    let px = rx, pd = rd;
    // i = lo: tap 0 only.
    let d0 = v128.load(pd), d1 = z, d2 = z;
    let x = v128.load(px);
    s00 = f32x4.add(s00, f32x4.mul(x, d0));
    if (R > 1) { x = v128.load(px + xKh); s10 = f32x4.add(s10, f32x4.mul(x, d0)); }
    if (R > 2) { x = v128.load(px + k2); s20 = f32x4.add(s20, f32x4.mul(x, d0)); }
    px += xOw; pd += dyOw;
    if (L >= 2) {
      // i = lo + 1: taps 0, 1.
      d1 = d0; d0 = v128.load(pd);
      x = v128.load(px);
      s00 = f32x4.add(s00, f32x4.mul(x, d0)); s01 = f32x4.add(s01, f32x4.mul(x, d1));
      if (R > 1) { x = v128.load(px + xKh); s10 = f32x4.add(s10, f32x4.mul(x, d0)); s11 = f32x4.add(s11, f32x4.mul(x, d1)); }
      if (R > 2) { x = v128.load(px + k2); s20 = f32x4.add(s20, f32x4.mul(x, d0)); s21 = f32x4.add(s21, f32x4.mul(x, d1)); }
      px += xOw; pd += dyOw;
      let i = lo + 2;
      if (R > 1 && i < hi) {
        // Six or nine accumulators, three dy and the x loads of a column: V8 issues all of a basic
        // block's loads before its arithmetic, and with the loads of every filter row in one block this
        // exceeded the 15 xmm registers it allocates on x64 (4 accumulators spilled at R = 3). A loop
        // exit after each filter row, with every accumulator live on it, makes each row its own block:
        // at most 9 + 4 + 1 + 1 registers. The tests `i > hi`, `i < lo` never fire (they only end
        // blocks; two different ones, as V8 drops a test that repeats a dominating one).
        let e = d0;
        for (;;) {
          e = v128.load(pd);
          x = v128.load(px);
          s00 = f32x4.add(s00, f32x4.mul(x, e)); s01 = f32x4.add(s01, f32x4.mul(x, d0)); s02 = f32x4.add(s02, f32x4.mul(x, d1));
          const last = ++i == hi;
          if (i > hi) break;
          x = v128.load(px + xKh);
          s10 = f32x4.add(s10, f32x4.mul(x, e)); s11 = f32x4.add(s11, f32x4.mul(x, d0)); s12 = f32x4.add(s12, f32x4.mul(x, d1));
          if (R > 2) {
            if (i < lo) break;
            x = v128.load(px + k2);
            s20 = f32x4.add(s20, f32x4.mul(x, e)); s21 = f32x4.add(s21, f32x4.mul(x, d0)); s22 = f32x4.add(s22, f32x4.mul(x, d1));
          }
          d1 = d0; d0 = e;
          px += xOw; pd += dyOw;
          if (last) break;
        }
      } else if (R == 1) {
        // One filter row: two columns per iteration, so the dy rotation is renaming rather than moves.
        for (; i + 2 <= hi; i += 2) {
          const e0 = v128.load(pd), f0 = v128.load(pd + dyOw);
          x = v128.load(px);
          s00 = f32x4.add(s00, f32x4.mul(x, e0)); s01 = f32x4.add(s01, f32x4.mul(x, d0)); s02 = f32x4.add(s02, f32x4.mul(x, d1));
          let y = v128.load(px + xOw);
          s00 = f32x4.add(s00, f32x4.mul(y, f0)); s01 = f32x4.add(s01, f32x4.mul(y, e0)); s02 = f32x4.add(s02, f32x4.mul(y, d0));
          d1 = e0; d0 = f0;
          px += xOw * 2; pd += dyOw * 2;
        }
        if (i < hi) {
          d2 = d1; d1 = d0; d0 = v128.load(pd);
          x = v128.load(px);
          s00 = f32x4.add(s00, f32x4.mul(x, d0)); s01 = f32x4.add(s01, f32x4.mul(x, d1)); s02 = f32x4.add(s02, f32x4.mul(x, d2));
          px += xOw; pd += dyOw;
        }
      }
    }
    // i = hi: taps 1 (dy[hi-1]) and 2 (dy[hi-2], when L >= 2); i = hi + 1: tap 2 (dy[hi-1]).
    x = v128.load(px);
    s01 = f32x4.add(s01, f32x4.mul(x, d0));
    if (L >= 2) s02 = f32x4.add(s02, f32x4.mul(x, d1));
    if (R > 1) {
      x = v128.load(px + xKh);
      s11 = f32x4.add(s11, f32x4.mul(x, d0));
      if (L >= 2) s12 = f32x4.add(s12, f32x4.mul(x, d1));
    }
    if (R > 2) {
      x = v128.load(px + k2);
      s21 = f32x4.add(s21, f32x4.mul(x, d0));
      if (L >= 2) s22 = f32x4.add(s22, f32x4.mul(x, d1));
    }
    px += xOw;
    s02 = f32x4.add(s02, f32x4.mul(v128.load(px), d0));
    if (R > 1) s12 = f32x4.add(s12, f32x4.mul(v128.load(px + xKh), d0));
    if (R > 2) s22 = f32x4.add(s22, f32x4.mul(v128.load(px + k2), d0));
    rx += xNext; rd += dyNext;
  }
  v128.store(acc, s00); v128.store(acc + accTap, s01); v128.store(acc + t2, s02);
  if (R > 1) { v128.store(a1, s10); v128.store(a1 + accTap, s11); v128.store(a1 + t2, s12); }
  if (R > 2) { v128.store(a2, s20); v128.store(a2 + accTap, s21); v128.store(a2 + t2, s22); }
}

// Stride 2 (twice the tap step), T = 3: the third tap of column ow is the first of ow + 1, so
// each filter row loads two x values per column and carries one.
@inline function fgStride2T3(R: i32, acc: usize, accRow: usize, accTap: usize,
                             xp: usize, xKh: usize, xTap: usize, xOw: usize, xNext: usize,
                             dyp: usize, dyOw: usize, dyNext: usize, rows: i32, lo: i32, hi: i32): void {
  const z = f32x4.splat(0);
  const a1 = acc + accRow, a2 = a1 + accRow, t2 = accTap * 2;
  let s00 = v128.load(acc), s01 = v128.load(acc + accTap), s02 = v128.load(acc + t2);
  let s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
  if (R > 1) { s10 = v128.load(a1); s11 = v128.load(a1 + accTap); s12 = v128.load(a1 + t2); }
  if (R > 2) { s20 = v128.load(a2); s21 = v128.load(a2 + accTap); s22 = v128.load(a2 + t2); }
  const k2 = xKh * 2;
  let rx = xp + <usize>lo * xOw, rd = dyp + <usize>lo * dyOw;
  if (R > 2) {
    // Nine accumulators, three carries, dy and the x loads: more than V8's 15 xmm registers however
    // the loads are ordered (8 spill moves a column). Without the carries (one more load per filter
    // row) and with a loop exit after each filter row (never firing: lo <= ow < hi; see fgBlock),
    // each row is its own block of 9 + 1 + 3 + 1 registers.
    for (let r = 0; r < rows; r++) {
      let px = rx, pd = rd;
      for (let ow = lo; ow < hi; ow++) {
        const d = v128.load(pd);
        s00 = f32x4.add(s00, f32x4.mul(v128.load(px), d));
        s01 = f32x4.add(s01, f32x4.mul(v128.load(px + xTap), d));
        s02 = f32x4.add(s02, f32x4.mul(v128.load(px + xOw), d));
        if (ow > hi) break;
        let q = px + xKh;
        s10 = f32x4.add(s10, f32x4.mul(v128.load(q), d));
        s11 = f32x4.add(s11, f32x4.mul(v128.load(q + xTap), d));
        s12 = f32x4.add(s12, f32x4.mul(v128.load(q + xOw), d));
        if (ow < lo) break;
        q = px + k2;
        s20 = f32x4.add(s20, f32x4.mul(v128.load(q), d));
        s21 = f32x4.add(s21, f32x4.mul(v128.load(q + xTap), d));
        s22 = f32x4.add(s22, f32x4.mul(v128.load(q + xOw), d));
        px += xOw; pd += dyOw;
      }
      rx += xNext; rd += dyNext;
    }
  }
  for (let r = 0; R < 3 && r < rows; r++) {
    let px = rx, pd = rd;
    let c0 = v128.load(px), c1 = z;
    if (R > 1) c1 = v128.load(px + xKh);
    for (let ow = lo; ow < hi; ow++) {
      const d = v128.load(pd);
      let x1 = v128.load(px + xTap), x2 = v128.load(px + xOw);
      s00 = f32x4.add(s00, f32x4.mul(c0, d)); s01 = f32x4.add(s01, f32x4.mul(x1, d)); s02 = f32x4.add(s02, f32x4.mul(x2, d));
      c0 = x2;
      if (R > 1) {
        const q = px + xKh;
        x1 = v128.load(q + xTap); x2 = v128.load(q + xOw);
        s10 = f32x4.add(s10, f32x4.mul(c1, d)); s11 = f32x4.add(s11, f32x4.mul(x1, d)); s12 = f32x4.add(s12, f32x4.mul(x2, d));
        c1 = x2;
      }
      px += xOw; pd += dyOw;
    }
    rx += xNext; rd += dyNext;
  }
  v128.store(acc, s00); v128.store(acc + accTap, s01); v128.store(acc + t2, s02);
  if (R > 1) { v128.store(a1, s10); v128.store(a1 + accTap, s11); v128.store(a1 + t2, s12); }
  if (R > 2) { v128.store(a2, s20); v128.store(a2 + accTap, s21); v128.store(a2 + t2, s22); }
}

// Dispatches to the (R, T) specialisation so each one is compiled with its own register set.
function fgBlockAny(R: i32, T: i32, acc: usize, accRow: usize, accTap: usize,
                    xp: usize, xKh: usize, xTap: usize, xOw: usize, xNext: usize,
                    dyp: usize, dyOw: usize, dyNext: usize, rows: i32, lo: i32, hi: i32): void {
  const key = R * 4 + T;
  if (T == 3 && xTap == xOw) {
    if (R == 3) fgSlide3(3, acc, accRow, accTap, xp, xKh, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
    else if (R == 2) fgSlide3(2, acc, accRow, accTap, xp, xKh, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
    else fgSlide3(1, acc, accRow, accTap, xp, xKh, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  } else if (T == 3 && xOw == xTap * 2) {
    if (R == 3) fgStride2T3(3, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
    else if (R == 2) fgStride2T3(2, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
    else fgStride2T3(1, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  } else if (key == 15) fgBlock(3, 3, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 14) fgBlock(3, 2, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 13) fgBlock(3, 1, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 11) fgBlock(2, 3, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 10) fgBlock(2, 2, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 9) fgBlock(2, 1, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 7) fgBlock(1, 3, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else if (key == 6) fgBlock(1, 2, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
  else fgBlock(1, 1, acc, accRow, accTap, xp, xKh, xTap, xOw, xNext, dyp, dyOw, dyNext, rows, lo, hi);
}

// ---- depthwise filter gradient, whole rows: 3 filter columns, dilation 1, M == 1, C % 4 == 0 ---------
// One call per output row runs every channel group over the whole row: the interior in the loops
// above' style, the border columns as peeled iterations that skip the taps falling into the padding,
// instead of separate one-column passes per tap. acc: dW of the first valid filter row (accRow bytes
// per filter row, cmB per tap); xRow: its input row (xKh bytes to the next filter row's).

@inline function fgRowS1(R: i32, acc: usize, accRow: usize, xRow: usize, xKh: usize, dyRow: usize, cmB: usize,
                         W: i32, OW: i32, pl: i32): void {
  const z = f32x4.splat(0);
  // Columns i with all three dy columns i + pl - {0,1,2} inside [0, OW).
  let i0 = 2 - pl; if (i0 < 0) i0 = 0;
  let i1 = OW - pl; if (i1 > W) i1 = W;
  if (i1 < i0) i1 = i0;
  const k2 = xKh * 2, t2 = cmB * 2;
  const a1 = acc + accRow, a2 = a1 + accRow;
  for (let jb: usize = 0; jb < cmB; jb += 16) {
    let s00 = v128.load(acc + jb), s01 = v128.load(acc + jb + cmB), s02 = v128.load(acc + jb + t2);
    let s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
    if (R > 1) { s10 = v128.load(a1 + jb); s11 = v128.load(a1 + jb + cmB); s12 = v128.load(a1 + jb + t2); }
    if (R > 2) { s20 = v128.load(a2 + jb); s21 = v128.load(a2 + jb + cmB); s22 = v128.load(a2 + jb + t2); }
    const px0 = xRow + jb, pd0 = dyRow + jb;
    // Border columns [0, i0) and [i1, W): each tap checked.
    for (let i = 0; i < W; i++) {
      if (i == i0) { i = i1; if (i >= W) break; }
      const px = px0 + <usize>i * cmB;
      const x0 = v128.load(px);
      let x1 = z, x2 = z;
      if (R > 1) x1 = v128.load(px + xKh);
      if (R > 2) x2 = v128.load(px + k2);
      let o = i + pl;
      if (o >= 0 && o < OW) {
        const d = v128.load(pd0 + <usize>o * cmB);
        s00 = f32x4.add(s00, f32x4.mul(x0, d));
        if (R > 1) s10 = f32x4.add(s10, f32x4.mul(x1, d));
        if (R > 2) s20 = f32x4.add(s20, f32x4.mul(x2, d));
      }
      o--;
      if (o >= 0 && o < OW) {
        const d = v128.load(pd0 + <usize>o * cmB);
        s01 = f32x4.add(s01, f32x4.mul(x0, d));
        if (R > 1) s11 = f32x4.add(s11, f32x4.mul(x1, d));
        if (R > 2) s21 = f32x4.add(s21, f32x4.mul(x2, d));
      }
      o--;
      if (o >= 0 && o < OW) {
        const d = v128.load(pd0 + <usize>o * cmB);
        s02 = f32x4.add(s02, f32x4.mul(x0, d));
        if (R > 1) s12 = f32x4.add(s12, f32x4.mul(x1, d));
        if (R > 2) s22 = f32x4.add(s22, f32x4.mul(x2, d));
      }
    }
    if (i1 > i0) {
      // Interior: d0 = dy[i + pl], d1 = dy[i + pl - 1], d2 = dy[i + pl - 2]; one x load per filter row.
      let px = px0 + <usize>i0 * cmB, pd = pd0 + <usize>(i0 + pl) * cmB;
      let d1 = v128.load(pd - cmB), d2 = v128.load(pd - t2);
      let i = i0;
      for (;;) {
        const d0 = v128.load(pd);
        let x = v128.load(px);
        s00 = f32x4.add(s00, f32x4.mul(x, d0)); s01 = f32x4.add(s01, f32x4.mul(x, d1)); s02 = f32x4.add(s02, f32x4.mul(x, d2));
        const last = ++i == i1;
        if (R > 1) {
          // Never fire (i0 < i <= i1): they end V8's basic blocks so each filter row's x load is
          // issued after the previous row's arithmetic (no spills; see fgSlide3).
          if (i > i1) break;
          x = v128.load(px + xKh);
          s10 = f32x4.add(s10, f32x4.mul(x, d0)); s11 = f32x4.add(s11, f32x4.mul(x, d1)); s12 = f32x4.add(s12, f32x4.mul(x, d2));
        }
        if (R > 2) {
          if (i <= i0) break;
          x = v128.load(px + k2);
          s20 = f32x4.add(s20, f32x4.mul(x, d0)); s21 = f32x4.add(s21, f32x4.mul(x, d1)); s22 = f32x4.add(s22, f32x4.mul(x, d2));
        }
        d2 = d1; d1 = d0;
        px += cmB; pd += cmB;
        if (last) break;
      }
    }
    v128.store(acc + jb, s00); v128.store(acc + jb + cmB, s01); v128.store(acc + jb + t2, s02);
    if (R > 1) { v128.store(a1 + jb, s10); v128.store(a1 + jb + cmB, s11); v128.store(a1 + jb + t2, s12); }
    if (R > 2) { v128.store(a2 + jb, s20); v128.store(a2 + jb + cmB, s21); v128.store(a2 + jb + t2, s22); }
  }
}

// Stride 2: dy column ow meets x columns 2·ow - pl + t.
@inline function fgRowS2(R: i32, acc: usize, accRow: usize, xRow: usize, xKh: usize, dyRow: usize, cmB: usize,
                         W: i32, OW: i32, pl: i32): void {
  const z = f32x4.splat(0);
  // Columns ow with all three taps inside the row: 2·ow - pl >= 0, 2·ow - pl + 2 < W.
  let o0 = (pl + 1) >> 1;
  let o1 = (W - 3 + pl) >= 0 ? (W - 3 + pl) / 2 + 1 : 0;
  if (o1 > OW) o1 = OW;
  if (o0 > o1) o0 = o1;
  const k2 = xKh * 2, t2 = cmB * 2, xOw = cmB * 2;
  const a1 = acc + accRow, a2 = a1 + accRow;
  for (let jb: usize = 0; jb < cmB; jb += 16) {
    let s00 = v128.load(acc + jb), s01 = v128.load(acc + jb + cmB), s02 = v128.load(acc + jb + t2);
    let s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z;
    if (R > 1) { s10 = v128.load(a1 + jb); s11 = v128.load(a1 + jb + cmB); s12 = v128.load(a1 + jb + t2); }
    if (R > 2) { s20 = v128.load(a2 + jb); s21 = v128.load(a2 + jb + cmB); s22 = v128.load(a2 + jb + t2); }
    const px0 = xRow + jb - <usize>pl * cmB, pd0 = dyRow + jb;   // px0: x column 0 of dy column 0
    for (let ow = 0; ow < OW; ow++) {
      if (ow == o0) { ow = o1; if (ow >= OW) break; }
      const d = v128.load(pd0 + <usize>ow * cmB);
      const c = 2 * ow - pl;
      const px = px0 + <usize>(2 * ow) * cmB;
      if (c >= 0 && c < W) {
        s00 = f32x4.add(s00, f32x4.mul(v128.load(px), d));
        if (R > 1) s10 = f32x4.add(s10, f32x4.mul(v128.load(px + xKh), d));
        if (R > 2) s20 = f32x4.add(s20, f32x4.mul(v128.load(px + k2), d));
      }
      if (c + 1 >= 0 && c + 1 < W) {
        const q = px + cmB;
        s01 = f32x4.add(s01, f32x4.mul(v128.load(q), d));
        if (R > 1) s11 = f32x4.add(s11, f32x4.mul(v128.load(q + xKh), d));
        if (R > 2) s21 = f32x4.add(s21, f32x4.mul(v128.load(q + k2), d));
      }
      if (c + 2 >= 0 && c + 2 < W) {
        const q = px + t2;
        s02 = f32x4.add(s02, f32x4.mul(v128.load(q), d));
        if (R > 1) s12 = f32x4.add(s12, f32x4.mul(v128.load(q + xKh), d));
        if (R > 2) s22 = f32x4.add(s22, f32x4.mul(v128.load(q + k2), d));
      }
    }
    let px = px0 + <usize>(2 * o0) * cmB, pd = pd0 + <usize>o0 * cmB;
    if (R > 2) {
      // See fgStride2T3: no carries, one basic block per filter row.
      for (let ow = o0; ow < o1; ow++) {
        const d = v128.load(pd);
        s00 = f32x4.add(s00, f32x4.mul(v128.load(px), d));
        s01 = f32x4.add(s01, f32x4.mul(v128.load(px + cmB), d));
        s02 = f32x4.add(s02, f32x4.mul(v128.load(px + xOw), d));
        if (ow > o1) break;
        let q = px + xKh;
        s10 = f32x4.add(s10, f32x4.mul(v128.load(q), d));
        s11 = f32x4.add(s11, f32x4.mul(v128.load(q + cmB), d));
        s12 = f32x4.add(s12, f32x4.mul(v128.load(q + xOw), d));
        if (ow < o0) break;
        q = px + k2;
        s20 = f32x4.add(s20, f32x4.mul(v128.load(q), d));
        s21 = f32x4.add(s21, f32x4.mul(v128.load(q + cmB), d));
        s22 = f32x4.add(s22, f32x4.mul(v128.load(q + xOw), d));
        px += xOw; pd += cmB;
      }
    } else if (o1 > o0) {
      let c0 = v128.load(px), c1 = z;
      if (R > 1) c1 = v128.load(px + xKh);
      for (let ow = o0; ow < o1; ow++) {
        const d = v128.load(pd);
        let x1 = v128.load(px + cmB), x2 = v128.load(px + xOw);
        s00 = f32x4.add(s00, f32x4.mul(c0, d)); s01 = f32x4.add(s01, f32x4.mul(x1, d)); s02 = f32x4.add(s02, f32x4.mul(x2, d));
        c0 = x2;
        if (R > 1) {
          const q = px + xKh;
          x1 = v128.load(q + cmB); x2 = v128.load(q + xOw);
          s10 = f32x4.add(s10, f32x4.mul(c1, d)); s11 = f32x4.add(s11, f32x4.mul(x1, d)); s12 = f32x4.add(s12, f32x4.mul(x2, d));
          c1 = x2;
        }
        px += xOw; pd += cmB;
      }
    }
    v128.store(acc + jb, s00); v128.store(acc + jb + cmB, s01); v128.store(acc + jb + t2, s02);
    if (R > 1) { v128.store(a1 + jb, s10); v128.store(a1 + jb + cmB, s11); v128.store(a1 + jb + t2, s12); }
    if (R > 2) { v128.store(a2 + jb, s20); v128.store(a2 + jb + cmB, s21); v128.store(a2 + jb + t2, s22); }
  }
}

function fgRowAny(S: i32, R: i32, acc: usize, accRow: usize, xRow: usize, xKh: usize, dyRow: usize, cmB: usize,
                  W: i32, OW: i32, pl: i32): void {
  if (S == 1) {
    if (R == 3) fgRowS1(3, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
    else if (R == 2) fgRowS1(2, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
    else fgRowS1(1, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
  } else {
    if (R == 3) fgRowS2(3, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
    else if (R == 2) fgRowS2(2, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
    else fgRowS2(1, acc, accRow, xRow, xKh, dyRow, cmB, W, OW, pl);
  }
}

/** Widens one image x[H,W,C] to xe[H,W,C*M] (each channel repeated M times). */
function widenChannels(x: usize, xe: usize, pixels: i32, C: i32, M: i32): void {
  let px = x, pe = xe;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++) {
      const v = load<f32>(px);
      for (let q = 0; q < M; q++) { store<f32>(pe, v); pe += 4; }
      px += 4;
    }
  }
}

/** Scalar depthwise filter gradient restricted to output channels [j0, C*M) (the SIMD tail). */
function dwFilterScalarRange(x: usize, dy: usize, dW: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, j0: i32, accumulate: i32): void {
  const CM = C * M;
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let j = j0; j < CM; j++) {
        const c = j / M;
        const o = dW + ((<usize>(kh * KW + kw) * CM + j) << 2);
        let s: f32 = accumulate ? load<f32>(o) : 0;
        for (let n = 0; n < N; n++) {
          for (let oh = 0; oh < OH; oh++) {
            const ih = oh * sh - pt + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (let ow = 0; ow < OW; ow++) {
              const iw = ow * sw - pl + kw * dw;
              if (iw < 0 || iw >= W) continue;
              s += load<f32>(x + ((<usize>((n * H + ih) * W + iw) * C + c) << 2)) *
                   load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * CM + j) << 2));
            }
          }
        }
        store<f32>(o, s);
      }
    }
  }
}

/** Scalar twin: depthwise filter gradient. x [N,H,W,C], dy [N,OH,OW,C*M], dW [KH,KW,C,M]. */
export function depthwiseBackpropFilterScalar(x: usize, dy: usize, dW: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, accumulate: i32): void {
  dwFilterScalarRange(x, dy, dW, N, H, W, C, OH, OW, M, KH, KW, sh, sw, dh, dw, pt, pl, 0, accumulate);
}

/** Floats of scratch the SIMD depthwise filter gradient needs (0 when M == 1). */
export function depthwiseBackpropFilterScratch(H: i32, W: i32, C: i32, M: i32): i32 {
  return M == 1 ? 0 : H * W * C * M;
}

// Valid filter rows [lo, hi) for output row oh: ih = oh*sh - pt + kh*dh inside [0, H).
@inline function khLo(oh: i32, sh: i32, dh: i32, pt: i32, KH: i32): i32 {
  const num = pt - oh * sh;             // kh*dh >= num
  const lo = num <= 0 ? 0 : (num + dh - 1) / dh;
  return lo < KH ? lo : KH;
}
@inline function khHi(oh: i32, sh: i32, dh: i32, pt: i32, H: i32, KH: i32): i32 {
  const num = H - 1 + pt - oh * sh;     // kh*dh <= num
  if (num < 0) return 0;
  const hi = num / dh + 1;
  return hi < KH ? hi : KH;
}

/**
 * Depthwise filter gradient, SIMD (channels by 4, scalar tail). Same layout as the scalar twin;
 * `scratch` holds depthwiseBackpropFilterScratch(...) floats when M > 1; `accumulate` adds to dW.
 */
export function depthwiseBackpropFilterF32x4(x: usize, dy: usize, dW: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, scratch: usize, accumulate: i32): void {
  const CM = C * M, CM4 = CM & ~3;
  if (!accumulate) memory.fill(dW, 0, (<usize>KH * KW * CM) << 2);
  const cmB = (<usize>CM) << 2;
  const xOw = <usize>sw * cmB, xTap = <usize>dw * cmB, xKh = <usize>dh * W * cmB;
  const xNext = <usize>sh * W * cmB, dyNext = <usize>OW * cmB;
  const accTap = cmB, accRow = <usize>KW * cmB;
  // Whole-row kernels: 3 filter columns, dilation 1, stride 1 or 2, no channel multiplier, KH <= 3.
  if (M == 1 && CM4 == CM && KW == 3 && dw == 1 && (sw == 1 || sw == 2) && KH <= 3) {
    for (let n = 0; n < N; n++) {
      for (let oh = 0; oh < OH; oh++) {
        const a = khLo(oh, sh, dh, pt, KH), b = khHi(oh, sh, dh, pt, H, KH);
        if (b <= a) continue;
        fgRowAny(sw, b - a, dW + ((<usize>a * KW * CM) << 2), accRow,
          x + ((<usize>((n * H + oh * sh - pt + a * dh) * W * CM)) << 2), xKh,
          dy + ((<usize>(n * OH + oh) * OW * CM) << 2), cmB, W, OW, pl);
      }
    }
    return;
  }
  if (CM4 > 0) {
    for (let n = 0; n < N; n++) {
      let xi = x + ((<usize>n * H * W * C) << 2);
      if (M > 1) { widenChannels(xi, scratch, H * W, C, M); xi = scratch; }
      // Runs of output rows with the same valid filter rows: top border, interior, bottom border.
      let oh = 0;
      while (oh < OH) {
        const a = khLo(oh, sh, dh, pt, KH), b = khHi(oh, sh, dh, pt, H, KH);
        let oe = oh + 1;
        while (oe < OH && khLo(oe, sh, dh, pt, KH) == a && khHi(oe, sh, dh, pt, H, KH) == b) oe++;
        // A 64-byte line of a pixel holds 4 channel groups: the passes for those 4 groups run over a
        // block of rows whose lines fit in L1 together, so only the first pass misses.
        const lineRow = (sh * W + OW) << 6;
        let RB = DW_ROW_BLOCK_BYTES / lineRow;
        if (RB < 1) RB = 1;
        for (let q0 = 0; q0 < CM4; q0 += 16)
        for (let ob = oh; ob < oe && b > a; ob += RB) {
          const q1 = q0 + 16 < CM4 ? q0 + 16 : CM4;
          const rows = oe - ob < RB ? oe - ob : RB;
          const dyRow = dy + ((<usize>(n * OH + ob) * OW * CM) << 2);
          for (let kh0 = a; kh0 < b; kh0 += 3) {
            const R = b - kh0 < 3 ? b - kh0 : 3;
            const xRow = xi + ((<usize>(ob * sh - pt + kh0 * dh) * W * CM) << 2);
            for (let kw0 = 0; kw0 < KW; kw0 += 3) {
              const T = KW - kw0 < 3 ? KW - kw0 : 3;
              const off0 = kw0 * dw - pl, offL = (kw0 + T - 1) * dw - pl;
              // Columns valid for every tap of the block, then each tap's own borders.
              const lo = colLo(off0, sw, OW), hi = colHi(offL, sw, W, OW);
              const xp0 = xRow + <usize>(off0 * CM << 2);
              const acc0 = dW + ((<usize>(kh0 * KW + kw0) * CM) << 2);
              if (hi > lo) {
                for (let j = q0; j < q1; j += 4) {
                  const jb = (<usize>j) << 2;
                  fgBlockAny(R, T, acc0 + jb, accRow, accTap, xp0 + jb, xKh, xTap, xOw, xNext,
                    dyRow + jb, cmB, dyNext, rows, lo, hi);
                }
              }
              for (let t = 0; t < T; t++) {
                const off = off0 + t * dw;
                const tlo = colLo(off, sw, OW), thi = colHi(off, sw, W, OW);
                const e1 = hi > lo ? (thi < lo ? thi : lo) : thi;   // left border [tlo, e1)
                const s2 = hi > lo ? (tlo > hi ? tlo : hi) : thi;   // right border [s2, thi)
                if (e1 <= tlo && thi <= s2) continue;
                const xp = xp0 + <usize>t * xTap, acc = acc0 + <usize>t * accTap;
                for (let j = q0; j < q1; j += 4) {
                  const jb = (<usize>j) << 2;
                  if (e1 > tlo) fgBlockAny(R, 1, acc + jb, accRow, accTap, xp + jb, xKh, xTap, xOw, xNext,
                    dyRow + jb, cmB, dyNext, rows, tlo, e1);
                  if (thi > s2) fgBlockAny(R, 1, acc + jb, accRow, accTap, xp + jb, xKh, xTap, xOw, xNext,
                    dyRow + jb, cmB, dyNext, rows, s2, thi);
                }
              }
            }
          }
        }
        oh = oe;
      }
    }
  }
  if (CM4 < CM) dwFilterScalarRange(x, dy, dW, N, H, W, C, OH, OW, M, KH, KW, sh, sw, dh, dw, pt, pl, CM4, accumulate);
}

// ---- depthwise input gradient ---------------------------------------------------------------------
// Input columns iw = r + sw*u of one residue class r take the filter columns kw ≡ kw0 (mod kwStep);
// tap t of a block reads dy column ow = u + cw0 - t*dwq. A block of R filter rows x T filter columns
// (R, T <= 3) keeps its weights (one channel group of 4) in registers and adds its sum into the row
// accumulator t (in cache), once per block.

@inline function igBlock(R: i32, T: i32, ST: bool, tp: usize, tStep: usize, dyp: usize, dyU: usize, dyTap: usize,
                         dyKh: usize, wp: usize, wTap: usize, wKh: usize, lo: i32, hi: i32): void {
  const z = f32x4.splat(0);
  const w1 = wp + wKh, w2 = w1 + wKh;
  let k00 = v128.load(wp), k01 = z, k02 = z, k10 = z, k11 = z, k12 = z, k20 = z, k21 = z, k22 = z;
  if (T > 1) k01 = v128.load(wp + wTap);
  if (T > 2) k02 = v128.load(wp + wTap * 2);
  if (R > 1) {
    k10 = v128.load(w1);
    if (T > 1) k11 = v128.load(w1 + wTap);
    if (T > 2) k12 = v128.load(w1 + wTap * 2);
  }
  if (R > 2) {
    k20 = v128.load(w2);
    if (T > 1) k21 = v128.load(w2 + wTap);
    if (T > 2) k22 = v128.load(w2 + wTap * 2);
  }
  const d2 = dyTap * 2, r2 = dyKh * 2;
  let pt = tp + <usize>lo * tStep, pd = dyp + <usize>lo * dyU;
  for (let u = lo; u < hi; u++) {
    let s0 = f32x4.mul(v128.load(pd), k00);
    if (T > 1) s0 = f32x4.add(s0, f32x4.mul(v128.load(pd - dyTap), k01));
    if (T > 2) s0 = f32x4.add(s0, f32x4.mul(v128.load(pd - d2), k02));
    let s = ST ? s0 : f32x4.add(v128.load(pt), s0);
    if (R > 1) {
      const q = pd + dyKh;
      let s1 = f32x4.mul(v128.load(q), k10);
      if (T > 1) s1 = f32x4.add(s1, f32x4.mul(v128.load(q - dyTap), k11));
      if (T > 2) s1 = f32x4.add(s1, f32x4.mul(v128.load(q - d2), k12));
      if (R > 2) {
        const q2 = pd + r2;
        let s2 = f32x4.mul(v128.load(q2), k20);
        if (T > 1) s2 = f32x4.add(s2, f32x4.mul(v128.load(q2 - dyTap), k21));
        if (T > 2) s2 = f32x4.add(s2, f32x4.mul(v128.load(q2 - d2), k22));
        s1 = f32x4.add(s1, s2);
      }
      s = f32x4.add(s, s1);
    }
    v128.store(pt, s);
    pt += tStep; pd += dyU;
  }
}

// dwq == 1, T == 3, at least 3 columns: walk dy columns c = u + cw0 once, each feeding the three
// outputs it touches (sliding partial sums A, B, C for u, u+1, u+2): R loads per output instead of 3R.
@inline function igSlide3(R: i32, ST: bool, tp: usize, tStep: usize, dyp: usize, dyU: usize, dyKh: usize,
                          wp: usize, wTap: usize, wKh: usize, lo: i32, hi: i32): void {
  const z = f32x4.splat(0);
  const w1 = wp + wKh, w2 = w1 + wKh, wt2 = wTap * 2;
  const k00 = v128.load(wp), k01 = v128.load(wp + wTap), k02 = v128.load(wp + wt2);
  let k10 = z, k11 = z, k12 = z, k20 = z, k21 = z, k22 = z;
  if (R > 1) { k10 = v128.load(w1); k11 = v128.load(w1 + wTap); k12 = v128.load(w1 + wt2); }
  if (R > 2) { k20 = v128.load(w2); k21 = v128.load(w2 + wTap); k22 = v128.load(w2 + wt2); }
  const r2 = dyKh * 2;
  // Prologue: dy[c-2] (tap 2 of u = lo) and dy[c-1] (tap 1 of lo, tap 2 of lo + 1), c = lo + cw0.
  let pd = dyp + <usize>lo * dyU - dyU * 2;
  let d = v128.load(pd);
  let A = f32x4.mul(d, k02);
  if (R > 1) { d = v128.load(pd + dyKh); A = f32x4.add(A, f32x4.mul(d, k12)); }
  if (R > 2) { d = v128.load(pd + r2); A = f32x4.add(A, f32x4.mul(d, k22)); }
  pd += dyU;
  d = v128.load(pd);
  A = f32x4.add(A, f32x4.mul(d, k01));
  let B = f32x4.mul(d, k02);
  if (R > 1) { d = v128.load(pd + dyKh); A = f32x4.add(A, f32x4.mul(d, k11)); B = f32x4.add(B, f32x4.mul(d, k12)); }
  if (R > 2) { d = v128.load(pd + r2); A = f32x4.add(A, f32x4.mul(d, k21)); B = f32x4.add(B, f32x4.mul(d, k22)); }
  pd += dyU;
  let pt = tp + <usize>lo * tStep;
  for (let u = lo; u < hi; u++) {
    d = v128.load(pd);
    A = f32x4.add(A, f32x4.mul(d, k00));
    B = f32x4.add(B, f32x4.mul(d, k01));
    let C = f32x4.mul(d, k02);
    if (R > 1) {
      d = v128.load(pd + dyKh);
      A = f32x4.add(A, f32x4.mul(d, k10)); B = f32x4.add(B, f32x4.mul(d, k11)); C = f32x4.add(C, f32x4.mul(d, k12));
    }
    if (R > 2) {
      d = v128.load(pd + r2);
      A = f32x4.add(A, f32x4.mul(d, k20)); B = f32x4.add(B, f32x4.mul(d, k21)); C = f32x4.add(C, f32x4.mul(d, k22));
    }
    v128.store(pt, ST ? A : f32x4.add(v128.load(pt), A));
    A = B; B = C;
    pt += tStep; pd += dyU;
  }
}

@inline function igDispatch(R: i32, T: i32, ST: bool, tp: usize, tStep: usize, dyp: usize, dyU: usize,
                            dyTap: usize, dyKh: usize, wp: usize, wTap: usize, wKh: usize, lo: i32, hi: i32): void {
  const key = R * 4 + T;
  if (T == 3 && dyTap == dyU && hi - lo >= 3) {
    if (R == 3) igSlide3(3, ST, tp, tStep, dyp, dyU, dyKh, wp, wTap, wKh, lo, hi);
    else if (R == 2) igSlide3(2, ST, tp, tStep, dyp, dyU, dyKh, wp, wTap, wKh, lo, hi);
    else igSlide3(1, ST, tp, tStep, dyp, dyU, dyKh, wp, wTap, wKh, lo, hi);
  } else if (key == 15) igBlock(3, 3, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 14) igBlock(3, 2, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 13) igBlock(3, 1, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 11) igBlock(2, 3, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 10) igBlock(2, 2, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 9) igBlock(2, 1, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 7) igBlock(1, 3, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else if (key == 6) igBlock(1, 2, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else igBlock(1, 1, ST, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
}

// `store`: the block is the only one covering these columns, so it writes t instead of adding to it.
function igBlockAny(R: i32, T: i32, store: bool, tp: usize, tStep: usize, dyp: usize, dyU: usize, dyTap: usize,
                    dyKh: usize, wp: usize, wTap: usize, wKh: usize, lo: i32, hi: i32): void {
  if (store) igDispatch(R, T, true, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
  else igDispatch(R, T, false, tp, tStep, dyp, dyU, dyTap, dyKh, wp, wTap, wKh, lo, hi);
}

// Zeroes the t columns iw = r + sw*u, u in [u0, u1) (all channels).
@inline function zeroCols(tRow: usize, r: i32, sw: i32, cmB: usize, u0: i32, u1: i32): void {
  for (let u = u0; u < u1; u++) memory.fill(tRow + <usize>(r + sw * u) * cmB, 0, cmB);
}

// Stride 2, dilation 1, three filter columns: with c = iw + pl and j = c >> 1, an even c takes
// dy[j]·w0 + dy[j-1]·w2 and an odd c takes dy[j]·w1. One pass over dy columns j writes both input
// columns it feeds, loading dy[j] once for the two (no zeroing, no read-modify-write of the row).
@inline function igS2K3(R: i32, tp: usize, cmB: usize, dyp: usize, dyKh: usize, wp: usize, wKh: usize,
                        j0: i32, j1: i32): void {
  const z = f32x4.splat(0);
  const w1 = wp + wKh, w2 = w1 + wKh, t2 = cmB * 2;
  const k00 = v128.load(wp), k01 = v128.load(wp + cmB), k02 = v128.load(wp + t2);
  let k10 = z, k11 = z, k12 = z, k20 = z, k21 = z, k22 = z;
  if (R > 1) { k10 = v128.load(w1); k11 = v128.load(w1 + cmB); k12 = v128.load(w1 + t2); }
  if (R > 2) { k20 = v128.load(w2); k21 = v128.load(w2 + cmB); k22 = v128.load(w2 + t2); }
  const r2 = dyKh * 2;
  let pd = dyp + <usize>j0 * cmB, pt = tp;
  for (let j = j0; j < j1; j++) {
    let d = v128.load(pd);
    let e = f32x4.add(f32x4.mul(d, k00), f32x4.mul(v128.load(pd - cmB), k02));
    let o = f32x4.mul(d, k01);
    if (R > 1) {
      d = v128.load(pd + dyKh);
      e = f32x4.add(e, f32x4.add(f32x4.mul(d, k10), f32x4.mul(v128.load(pd + dyKh - cmB), k12)));
      o = f32x4.add(o, f32x4.mul(d, k11));
    }
    if (R > 2) {
      d = v128.load(pd + r2);
      e = f32x4.add(e, f32x4.add(f32x4.mul(d, k20), f32x4.mul(v128.load(pd + r2 - cmB), k22)));
      o = f32x4.add(o, f32x4.mul(d, k21));
    }
    v128.store(pt, e); v128.store(pt + cmB, o);
    pt += t2; pd += cmB;
  }
}

function igS2K3Any(R: i32, tp: usize, cmB: usize, dyp: usize, dyKh: usize, wp: usize, wKh: usize, j0: i32, j1: i32): void {
  if (R == 3) igS2K3(3, tp, cmB, dyp, dyKh, wp, wKh, j0, j1);
  else if (R == 2) igS2K3(2, tp, cmB, dyp, dyKh, wp, wKh, j0, j1);
  else igS2K3(1, tp, cmB, dyp, dyKh, wp, wKh, j0, j1);
}

// One input column iw of one channel group, every valid tap of R filter rows checked: the borders.
function igColumn(R: i32, tp: usize, iw: i32, cmB: usize, dyp: usize, dyKh: usize, wp: usize, wKh: usize,
                  KW: i32, sw: i32, dw: i32, pl: i32, OW: i32): void {
  let s = f32x4.splat(0);
  for (let kw = 0; kw < KW; kw++) {
    const nw = iw + pl - kw * dw;
    if (nw < 0 || nw % sw != 0) continue;
    const ow = nw / sw;
    if (ow >= OW) continue;
    let pd = dyp + <usize>ow * cmB, pw = wp + <usize>kw * cmB;
    for (let r = 0; r < R; r++) {
      s = f32x4.add(s, f32x4.mul(v128.load(pd), v128.load(pw)));
      pd += dyKh; pw += wKh;
    }
  }
  v128.store(tp + <usize>iw * cmB, s);
}

// ---- depthwise input gradient, whole rows: 3 filter columns, dilation 1, M == 1, C % 4 == 0 ----------
// One call per input row runs every channel group over the whole row, borders included (peeled
// iterations, not separate passes), and stores each output once: no zeroing, no read-modify-write.
// R filter rows (their dy rows dyKh bytes apart, weights wKh apart), weights of tap kw at kw*cmB.

// Stride 1: dy column o feeds input columns iw = o - pl + kw. Sliding partial sums A (iw = o - pl,
// complete after o), B (o - pl + 1), C (o - pl + 2).
@inline function igRowS1(R: i32, dxRow: usize, dyRow: usize, dyKh: usize, wRow: usize, wKh: usize, cmB: usize,
                         W: i32, OW: i32, pl: i32): void {
  const z = f32x4.splat(0);
  const oHead = pl < OW ? pl : OW;
  const oMain = OW < W + pl ? OW : W + pl;
  const r2 = dyKh * 2;
  for (let jb: usize = 0; jb < cmB; jb += 16) {
    const wp = wRow + jb, w1 = wp + wKh, w2 = w1 + wKh;
    const k00 = v128.load(wp), k01 = v128.load(wp + cmB), k02 = v128.load(wp + cmB * 2);
    let k10 = z, k11 = z, k12 = z, k20 = z, k21 = z, k22 = z;
    if (R > 1) { k10 = v128.load(w1); k11 = v128.load(w1 + cmB); k12 = v128.load(w1 + cmB * 2); }
    if (R > 2) { k20 = v128.load(w2); k21 = v128.load(w2 + cmB); k22 = v128.load(w2 + cmB * 2); }
    let pd = dyRow + jb, pt = dxRow + jb;
    let A = z, B = z;
    let o = 0;
    for (; o < oHead; o++) {
      let d = v128.load(pd);
      let C = f32x4.mul(d, k02);
      B = f32x4.add(B, f32x4.mul(d, k01));
      if (R > 1) {
        d = v128.load(pd + dyKh);
        B = f32x4.add(B, f32x4.mul(d, k11)); C = f32x4.add(C, f32x4.mul(d, k12));
      }
      if (R > 2) {
        d = v128.load(pd + r2);
        B = f32x4.add(B, f32x4.mul(d, k21)); C = f32x4.add(C, f32x4.mul(d, k22));
      }
      A = B; B = C;
      pd += cmB;
    }
    for (; o < oMain; o++) {
      let d = v128.load(pd);
      A = f32x4.add(A, f32x4.mul(d, k00)); B = f32x4.add(B, f32x4.mul(d, k01));
      let C = f32x4.mul(d, k02);
      if (R > 1) {
        if (o > oMain) break;   // never fires: ends the block so V8 loads the next row's dy late
        d = v128.load(pd + dyKh);
        A = f32x4.add(A, f32x4.mul(d, k10)); B = f32x4.add(B, f32x4.mul(d, k11)); C = f32x4.add(C, f32x4.mul(d, k12));
      }
      if (R > 2) {
        if (o < oHead) break;
        d = v128.load(pd + r2);
        A = f32x4.add(A, f32x4.mul(d, k20)); B = f32x4.add(B, f32x4.mul(d, k21)); C = f32x4.add(C, f32x4.mul(d, k22));
      }
      v128.store(pt, A);
      A = B; B = C;
      pd += cmB; pt += cmB;
    }
    if (oMain == OW) {
      const i0 = OW - pl;
      if (i0 >= 0 && i0 < W) v128.store(dxRow + jb + <usize>i0 * cmB, A);
      if (i0 + 1 >= 0 && i0 + 1 < W) v128.store(dxRow + jb + <usize>(i0 + 1) * cmB, B);
    }
  }
  // Input columns no dy column reaches.
  let iz = OW - pl + 2;
  if (iz < 0) iz = 0;
  if (iz < W) memory.fill(dxRow + <usize>iz * cmB, 0, <usize>(W - iz) * cmB);
}

// Stride 2: with c = iw + pl, even c = 2j takes dy[j]·w0 + dy[j-1]·w2, odd c = 2j + 1 takes dy[j]·w1.
// Needs pl <= 2 (then j >= 1 never stores left of the row).
@inline function igRowS2(R: i32, dxRow: usize, dyRow: usize, dyKh: usize, wRow: usize, wKh: usize, cmB: usize,
                         W: i32, OW: i32, pl: i32): void {
  const z = f32x4.splat(0);
  // Main loop j in [1, jm): both stores inside the row (2j + 1 - pl < W).
  let jm = (W + pl) >> 1;
  if (jm > OW) jm = OW;
  if (jm < 1) jm = 1;
  const r2 = dyKh * 2, t2 = cmB * 2;
  for (let jb: usize = 0; jb < cmB; jb += 16) {
    const wp = wRow + jb, w1 = wp + wKh, w2 = w1 + wKh;
    const k00 = v128.load(wp), k01 = v128.load(wp + cmB), k02 = v128.load(wp + t2);
    let k10 = z, k11 = z, k12 = z, k20 = z, k21 = z, k22 = z;
    if (R > 1) { k10 = v128.load(w1); k11 = v128.load(w1 + cmB); k12 = v128.load(w1 + t2); }
    if (R > 2) { k20 = v128.load(w2); k21 = v128.load(w2 + cmB); k22 = v128.load(w2 + t2); }
    const pt0 = dxRow + jb - <usize>pl * cmB;   // column c
    let pd = dyRow + jb;
    // j = 0: c = 0, 1.
    {
      let d = v128.load(pd);
      let e = f32x4.mul(d, k00), o = f32x4.mul(d, k01);
      if (R > 1) { d = v128.load(pd + dyKh); e = f32x4.add(e, f32x4.mul(d, k10)); o = f32x4.add(o, f32x4.mul(d, k11)); }
      if (R > 2) { d = v128.load(pd + r2); e = f32x4.add(e, f32x4.mul(d, k20)); o = f32x4.add(o, f32x4.mul(d, k21)); }
      if (pl == 0) v128.store(pt0, e);
      if (1 - pl >= 0 && 1 - pl < W) v128.store(pt0 + cmB, o);
    }
    pd += cmB;
    let pt = pt0 + t2;
    let j = 1;
    for (; j < jm; j++) {
      let d = v128.load(pd);
      let e = f32x4.add(f32x4.mul(d, k00), f32x4.mul(v128.load(pd - cmB), k02));
      let o = f32x4.mul(d, k01);
      if (R > 1) {
        d = v128.load(pd + dyKh);
        e = f32x4.add(e, f32x4.add(f32x4.mul(d, k10), f32x4.mul(v128.load(pd + dyKh - cmB), k12)));
        o = f32x4.add(o, f32x4.mul(d, k11));
      }
      if (R > 2) {
        d = v128.load(pd + r2);
        e = f32x4.add(e, f32x4.add(f32x4.mul(d, k20), f32x4.mul(v128.load(pd + r2 - cmB), k22)));
        o = f32x4.add(o, f32x4.mul(d, k21));
      }
      v128.store(pt, e); v128.store(pt + cmB, o);
      pt += t2; pd += cmB;
    }
    // Tail: j in [jm, OW] (j == OW: only dy[OW-1]·w2), stores checked.
    for (; j <= OW; j++) {
      const c = 2 * j - pl;
      if (c >= W) break;
      let e = f32x4.mul(v128.load(pd - cmB), k02), o = z;
      if (R > 1) e = f32x4.add(e, f32x4.mul(v128.load(pd + dyKh - cmB), k12));
      if (R > 2) e = f32x4.add(e, f32x4.mul(v128.load(pd + r2 - cmB), k22));
      if (j < OW) {
        let d = v128.load(pd);
        e = f32x4.add(e, f32x4.mul(d, k00)); o = f32x4.mul(d, k01);
        if (R > 1) { d = v128.load(pd + dyKh); e = f32x4.add(e, f32x4.mul(d, k10)); o = f32x4.add(o, f32x4.mul(d, k11)); }
        if (R > 2) { d = v128.load(pd + r2); e = f32x4.add(e, f32x4.mul(d, k20)); o = f32x4.add(o, f32x4.mul(d, k21)); }
      }
      v128.store(pt, e);
      if (c + 1 < W) v128.store(pt + cmB, o);
      pt += t2; pd += cmB;
    }
  }
  // Input columns no dy column reaches: c > 2*OW.
  let iz = 2 * OW + 1 - pl;
  if (iz < 0) iz = 0;
  if (iz < W) memory.fill(dxRow + <usize>iz * cmB, 0, <usize>(W - iz) * cmB);
}

function igRowAny(S: i32, R: i32, dxRow: usize, dyRow: usize, dyKh: usize, wRow: usize, wKh: usize, cmB: usize,
                  W: i32, OW: i32, pl: i32): void {
  if (S == 1) {
    if (R == 3) igRowS1(3, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
    else if (R == 2) igRowS1(2, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
    else igRowS1(1, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
  } else {
    if (R == 3) igRowS2(3, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
    else if (R == 2) igRowS2(2, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
    else igRowS2(1, dxRow, dyRow, dyKh, wRow, wKh, cmB, W, OW, pl);
  }
}

@inline function gcd(a: i32, b: i32): i32 {
  while (b != 0) { const t = a % b; a = b; b = t; }
  return a;
}

/** Scalar depthwise input gradient restricted to input channels [c0, C). */
function dwInputScalarRange(dy: usize, w: usize, dx: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, c0: i32): void {
  const CM = C * M;
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      for (let iw = 0; iw < W; iw++) {
        for (let c = c0; c < C; c++) {
          let s: f32 = 0;
          for (let kh = 0; kh < KH; kh++) {
            const nh = ih + pt - kh * dh;
            if (nh < 0 || nh % sh != 0) continue;
            const oh = nh / sh;
            if (oh >= OH) continue;
            for (let kw = 0; kw < KW; kw++) {
              const nw = iw + pl - kw * dw;
              if (nw < 0 || nw % sw != 0) continue;
              const ow = nw / sw;
              if (ow >= OW) continue;
              for (let q = 0; q < M; q++) {
                s += load<f32>(dy + ((<usize>((n * OH + oh) * OW + ow) * CM + c * M + q) << 2)) *
                     load<f32>(w + ((<usize>(kh * KW + kw) * CM + c * M + q) << 2));
              }
            }
          }
          store<f32>(dx + ((<usize>((n * H + ih) * W + iw) * C + c) << 2), s);
        }
      }
    }
  }
}

/** Scalar twin: depthwise input gradient. dy [N,OH,OW,C*M], w [KH,KW,C,M], dx [N,H,W,C]. */
export function depthwiseBackpropInputScalar(dy: usize, w: usize, dx: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32): void {
  dwInputScalarRange(dy, w, dx, N, H, W, C, OH, OW, M, KH, KW, sh, sw, dh, dw, pt, pl, 0);
}

/** Floats of scratch the SIMD depthwise input gradient needs (0 when M == 1). */
export function depthwiseBackpropInputScratch(W: i32, C: i32, M: i32): i32 {
  return M == 1 ? 0 : W * C * M;
}

/**
 * Depthwise input gradient, SIMD. Same layout as the scalar twin; `scratch` holds
 * depthwiseBackpropInputScratch(...) floats when M > 1. When C*M is not a multiple of 4 the whole
 * kernel runs on the scalar path for M > 1 and the tail channels for M == 1.
 */
export function depthwiseBackpropInputF32x4(dy: usize, w: usize, dx: usize,
    N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32, M: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32, scratch: usize): void {
  const CM = C * M;
  // With M > 1 a SIMD group of C*M channels maps to whole input channels only if C*M % 4 == 0.
  const CM4 = M == 1 ? CM & ~3 : (CM % 4 == 0 ? CM : 0);
  const cmB = (<usize>CM) << 2;
  const gw = gcd(dw, sw), gh = gcd(dh, sh);
  const kwStep = sw / gw, dwq = dw / gw;   // consecutive valid kw of a column residue, their dy shift
  const khStep = sh / gh, dhq = dh / gh;   // the same for filter rows
  const tStep = <usize>sw * cmB;
  const wTap = <usize>kwStep * cmB, wKh = <usize>khStep * KW * cmB;
  const dyKh = <usize>(-(dhq * OW * CM) << 2);  // next valid kh reads dy dhq rows up
  // Whole-row kernels: 3 filter columns, dilation 1, stride 1 or 2, no channel multiplier, at most 3
  // valid filter rows per input row.
  const rowPath = M == 1 && CM4 == CM && KW == 3 && dw == 1 && (sw == 1 || (sw == 2 && pl <= 2)) &&
    (KH - 1) / khStep + 1 <= 3;
  if (CM4 > 0) {
    for (let n = 0; n < N; n++) {
      for (let ih = 0; ih < H; ih++) {
        const dxRow = dx + ((<usize>(n * H + ih) * W * C) << 2);
        const tRow = M == 1 ? dxRow : scratch;
        // Valid filter rows: kh*dh ≡ ih + pt (mod sh), an arithmetic progression; keep oh in [0, OH).
        const ch = ih + pt;
        let kf = -1;
        for (let kh = 0; kh < KH && kh < khStep; kh++) {
          if ((ch - kh * dh) % sh == 0) { kf = kh; break; }
        }
        let kA = kf, kB = -1;     // first valid kh, one past the last (both on the progression)
        for (let kh = kf; kf >= 0 && kh < KH; kh += khStep) {
          const oh = (ch - kh * dh) / sh;
          if (oh >= OH) { kA = kh + khStep; continue; }
          if (oh < 0) break;
          kB = kh + khStep;
        }
        const nKh = kB > kA ? (kB - kA) / khStep : 0;
        if (rowPath) {
          if (nKh == 0) memory.fill(dxRow, 0, (<usize>W * CM) << 2);
          else igRowAny(sw, nKh, dxRow, dy + ((<usize>(n * OH + (ch - kA * dh) / sh) * OW * CM) << 2), dyKh,
                        w + ((<usize>kA * KW * CM) << 2), wKh, cmB, W, OW, pl);
          continue;
        }
        if (sw == 2 && dw == 1 && KW == 3 && nKh >= 1 && nKh <= 3) {
          // Stride-2 3-column fast path: interior dy columns j in [j0, j1) write input columns
          // [2*j0 - pl, 2*j1 - pl); the rest are border columns.
          const oh0 = (ch - kA * dh) / sh;
          const dyRow = dy + ((<usize>(n * OH + oh0) * OW * CM) << 2);
          const wRow = w + ((<usize>kA * KW * CM) << 2);
          let j0 = (pl + 1) >> 1; if (j0 < 1) j0 = 1;
          let j1 = (W - 2 + pl) / 2 + 1; if (j1 > OW) j1 = OW;
          if (W - 2 + pl < 0) j1 = 0;
          if (j1 < j0) j1 = j0;
          const c0 = 2 * j0 - pl, c1 = 2 * j1 - pl;
          for (let j = 0; j < CM4; j += 4) {
            const jb = (<usize>j) << 2;
            if (j1 > j0) igS2K3Any(nKh, tRow + <usize>c0 * cmB + jb, cmB, dyRow + jb, dyKh, wRow + jb, wKh, j0, j1);
            for (let iw = 0; iw < W; iw++) {
              if (iw == c0 && j1 > j0) iw = c1;
              if (iw >= W) break;
              igColumn(nKh, tRow + jb, iw, cmB, dyRow + jb, dyKh, wRow + jb, wKh, KW, sw, dw, pl, OW);
            }
          }
          if (M > 1) {
            let ps = scratch, pd = dxRow;
            const pix = W * C;
            for (let i = 0; i < pix; i++) {
              let s: f32 = 0;
              for (let q = 0; q < M; q++) { s += load<f32>(ps); ps += 4; }
              store<f32>(pd, s); pd += 4;
            }
          }
          continue;
        }
        // Zero what no block will store. Stride 1 with one block (filters up to 3x3): its interior is
        // stored directly and only the border columns, which taps add to, are zeroed first. Strided
        // rows are zeroed whole: one sequential fill beats strided first-touch stores (measured).
        let singleMask = 0;
        if (nKh == 0 || sw > 1) memory.fill(tRow, 0, (<usize>W * CM) << 2);
        for (let r = 0; nKh > 0 && sw == 1 && r < sw; r++) {
          const U = (W - r + sw - 1) / sw;
          const cr = r + pl;
          let kwFirst = -1;
          for (let kw = 0; kw < KW && kw < kwStep; kw++) {
            if ((cr - kw * dw) % sw == 0) { kwFirst = kw; break; }
          }
          const nKw = kwFirst < 0 ? 0 : (KW - 1 - kwFirst) / kwStep + 1;
          if (nKh <= 3 && nKw >= 1 && nKw <= 3) {
            const cw0 = (cr - kwFirst * dw) / sw;
            const cwL = cw0 - (nKw - 1) * dwq;
            let lo = -cwL; if (lo < 0) lo = 0; if (lo > U) lo = U;
            let hi = OW - cw0; if (hi > U) hi = U; if (hi < 0) hi = 0;
            if (hi > lo) {
              singleMask |= 1 << r;
              zeroCols(tRow, r, sw, cmB, 0, lo);
              zeroCols(tRow, r, sw, cmB, hi, U);
              continue;
            }
          }
          zeroCols(tRow, r, sw, cmB, 0, U);
        }
        // Channel groups sharing a 64-byte line run back to back (see the filter gradient).
        for (let q0 = 0; q0 < CM4; q0 += 16)
        for (let kh0 = kA; kh0 < kB; kh0 += 3 * khStep) {
          const q1 = q0 + 16 < CM4 ? q0 + 16 : CM4;
          let R = (kB - kh0) / khStep;
          if (R > 3) R = 3;
          const oh0 = (ch - kh0 * dh) / sh;
          const dyRow = dy + ((<usize>(n * OH + oh0) * OW * CM) << 2);
          const wRow = w + ((<usize>kh0 * KW * CM) << 2);
          for (let r = 0; r < sw && r < W; r++) {
            // Valid kw for this residue: kw*dw ≡ r + pl (mod sw).
            const cr = r + pl;
            let kwFirst = -1;
            for (let kw = 0; kw < KW && kw < kwStep; kw++) {
              if ((cr - kw * dw) % sw == 0) { kwFirst = kw; break; }
            }
            if (kwFirst < 0) continue;
            const U = (W - r + sw - 1) / sw;          // columns iw = r + sw*u, u in [0, U)
            const tp0 = tRow + ((<usize>r * CM) << 2);
            const single = (singleMask & (1 << r)) != 0;
            for (let kw0 = kwFirst; kw0 < KW; kw0 += 3 * kwStep) {
              let T = (KW - 1 - kw0) / kwStep + 1;
              if (T > 3) T = 3;
              // Tap t: ow = u + cw0 - t*dwq, valid for u in [-(cw0 - t*dwq), OW - (cw0 - t*dwq)).
              const cw0 = (cr - kw0 * dw) / sw;
              const cwL = cw0 - (T - 1) * dwq;
              let lo = -cwL; if (lo < 0) lo = 0; if (lo > U) lo = U;
              let hi = OW - cw0; if (hi > U) hi = U; if (hi < 0) hi = 0;
              const dyp0 = dyRow + <usize>(cw0 * CM << 2);
              const dyTap = <usize>dwq * cmB;
              const wp0 = wRow + ((<usize>kw0 * CM) << 2);
              if (hi > lo) {
                for (let j = q0; j < q1; j += 4) {
                  const jb = (<usize>j) << 2;
                  igBlockAny(R, T, single, tp0 + jb, tStep, dyp0 + jb, cmB, dyTap, dyKh, wp0 + jb, wTap, wKh, lo, hi);
                }
              }
              for (let t = 0; t < T; t++) {
                const cw = cw0 - t * dwq;
                let tlo = -cw; if (tlo < 0) tlo = 0; if (tlo > U) tlo = U;
                let thi = OW - cw; if (thi > U) thi = U; if (thi < 0) thi = 0;
                const e1 = hi > lo ? (thi < lo ? thi : lo) : thi;
                const s2 = hi > lo ? (tlo > hi ? tlo : hi) : thi;
                if (e1 <= tlo && thi <= s2) continue;
                const dyp = dyRow + <usize>(cw * CM << 2);
                const wp = wp0 + <usize>t * wTap;
                for (let j = q0; j < q1; j += 4) {
                  const jb = (<usize>j) << 2;
                  if (e1 > tlo) igBlockAny(R, 1, false, tp0 + jb, tStep, dyp + jb, cmB, dyTap, dyKh, wp + jb, wTap, wKh, tlo, e1);
                  if (thi > s2) igBlockAny(R, 1, false, tp0 + jb, tStep, dyp + jb, cmB, dyTap, dyKh, wp + jb, wTap, wKh, s2, thi);
                }
              }
            }
          }
        }
        if (M > 1) {
          // dx[iw, c] = Σ_q t[iw, c*M + q]
          let ps = scratch, pd = dxRow;
          const pix = W * C;
          for (let i = 0; i < pix; i++) {
            let s: f32 = 0;
            for (let q = 0; q < M; q++) { s += load<f32>(ps); ps += 4; }
            store<f32>(pd, s); pd += 4;
          }
        }
      }
    }
  }
  const c0 = M == 1 ? CM4 : (CM4 > 0 ? C : 0);
  if (c0 < C) dwInputScalarRange(dy, w, dx, N, H, W, C, OH, OW, M, KH, KW, sh, sw, dh, dw, pt, pl, c0);
}
