// SPDX-License-Identifier: MIT
// conv2d input gradient (tfjs Conv2DBackpropInput), NHWC float32, with a scalar twin.
//
//   dx[n,ih,iw,ci] = Σ_{kh,kw,co} dy[n,oh,ow,co] · w[kh,kw,ci,co]   over the taps where
//   ih = oh*sh - pt + kh*dh and iw = ow*sw - pl + kw*dw  (geometry as in conv_backprop.ts).
//
// Im2col-free "indirect GEMM": dx pixels are grouped into classes that share the same list of valid
// taps (kh, kw) — for stride 1 and a 3x3 filter: interior, 4 edges, 4 corners; for stride 2 the
// sub-pixel phases (each row / column parity sees its own taps) times the borders. Within a class every
// pixel is one row of a GEMM  dx[M x Cin] = A[M x taps·Cout] · B[taps·Cout x Cin]  where row m of A
// is, tap by tap, the Cout values of dy at a fixed offset from the pixel's dy base, and B is the filter
// transposed per tap and packed into panels of 8 input channels. No zero is multiplied (no padding of
// dy, no zero-inserted dy for strides), no im2col buffer, no col2im scatter: each dx value is written
// once. The caller (TypeScript) builds the classes; this file runs them.
//
// Taps of one filter row that read adjacent dy pixels (stride 1: kw = 2, 1, 0; stride 2: kw = 2, 0)
// are packed next to each other in B too, so they form one "run" of K = taps·Cout contiguous in both
// operands: fewer, longer inner loops.
//
// Register tile: 4 pixels x 8 input channels. Without FMA (plain WASM SIMD) a step needs the
// accumulators, two B vectors, the broadcasts and a product temporary; V8 issues a step's loads before
// its arithmetic, so 4x8 (8 + 2 + 4 + 1 = 15) is the largest tile that fits the 15 xmm registers V8
// allocates on x64 without spilling (6x8 = 12 + 2 + 6 + 1 spilled 4 accumulators a step and ran at
// 0.6x of this). K is unrolled by 4 with an exit test between the steps: the accumulators are live on
// each exit, so V8 must finish a step's arithmetic before the next step's loads (with one basic block
// for 4 steps it hoisted all 16 loads and spilled; Binaryen also merges the unrolled updates of one
// accumulator into a single expression unless the exits separate them).

// The current tile's pixels: dy base pointers of up to 4 pixels, then their dx destinations.
const TILE: usize = memory.data(32, 16);

@inline function tile4x8(MR: i32, runs: usize, nRuns: i32, bp: usize): void {
  const a0 = load<u32>(TILE), a1 = load<u32>(TILE, 4), a2 = load<u32>(TILE, 8);
  const a3 = load<u32>(TILE, 12);
  const z = f32x4.splat(0);
  let c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
  let c30 = z, c31 = z;
  for (let t = 0; t < nRuns; t++) {
    const tp = runs + <usize>t * 12;
    // Offsets may be negative (i32): u32 addition wraps to the right address.
    const off = load<u32>(tp);
    let pb = bp + load<u32>(tp, 4);
    let left = load<i32>(tp, 8);            // K of the run, >= 1
    let p0 = a0 + off, p1 = a1 + off, p2 = a2 + off, p3 = a3 + off;
    for (;;) {
      let b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let x = v128.load32_splat(p0);
      c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
      if (MR > 1) {
        x = v128.load32_splat(p1);
        c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
      }
      if (MR > 2) {
        x = v128.load32_splat(p2);
        c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
      }
      if (MR > 3) {
        x = v128.load32_splat(p3);
        c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
      }
      if (left == 1) break;
      b0 = v128.load(pb, 32); b1 = v128.load(pb, 48);
      x = v128.load32_splat(p0, 4);
      c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
      if (MR > 1) {
        x = v128.load32_splat(p1, 4);
        c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
      }
      if (MR > 2) {
        x = v128.load32_splat(p2, 4);
        c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
      }
      if (MR > 3) {
        x = v128.load32_splat(p3, 4);
        c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
      }
      if (left == 2) break;
      b0 = v128.load(pb, 64); b1 = v128.load(pb, 80);
      x = v128.load32_splat(p0, 8);
      c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
      if (MR > 1) {
        x = v128.load32_splat(p1, 8);
        c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
      }
      if (MR > 2) {
        x = v128.load32_splat(p2, 8);
        c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
      }
      if (MR > 3) {
        x = v128.load32_splat(p3, 8);
        c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
      }
      if (left == 3) break;
      b0 = v128.load(pb, 96); b1 = v128.load(pb, 112);
      x = v128.load32_splat(p0, 12);
      c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
      if (MR > 1) {
        x = v128.load32_splat(p1, 12);
        c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
      }
      if (MR > 2) {
        x = v128.load32_splat(p2, 12);
        c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
      }
      if (MR > 3) {
        x = v128.load32_splat(p3, 12);
        c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
      }
      left -= 4;
      if (left == 0) break;
      p0 += 16;
      if (MR > 1) p1 += 16;
      if (MR > 2) p2 += 16;
      if (MR > 3) p3 += 16;
      pb += 128;
    }
  }
  let d = load<u32>(TILE, 16);
  v128.store(d, c00); v128.store(d, c01, 16);
  if (MR > 1) { d = load<u32>(TILE, 20); v128.store(d, c10); v128.store(d, c11, 16); }
  if (MR > 2) { d = load<u32>(TILE, 24); v128.store(d, c20); v128.store(d, c21, 16); }
  if (MR > 3) { d = load<u32>(TILE, 28); v128.store(d, c30); v128.store(d, c31, 16); }
}

function tileAny(MR: i32, runs: usize, nRuns: i32, bp: usize): void {
  if (MR == 4) tile4x8(4, runs, nRuns, bp);
  else if (MR == 3) tile4x8(3, runs, nRuns, bp);
  else if (MR == 2) tile4x8(2, runs, nRuns, bp);
  else tile4x8(1, runs, nRuns, bp);
}

// Bytes of packed filter panels one pass of tiles runs over.
const PANEL_BLOCK_BYTES: u32 = 256 << 10;

/** Floats of packed filter conv2dBackpropInputPack writes: ceil(Cin/8) panels of T·Cout·8. */
export function conv2dBackpropInputPackedFloats(T: i32, Cin: i32, Cout: i32): i32 {
  return ((Cin + 7) >> 3) * T * Cout * 8;
}

/**
 * Packs the filter w [T = KH·KW, Cin, Cout] into panels wp[p][s][co][8] = w[tapOf[s], 8p + j, co]
 * (zero for 8p + j >= Cin): panel p is the B operand of input channels 8p..8p+7, the taps in the slot
 * order `tapOf` (T int32) chooses.
 */
export function conv2dBackpropInputPack(w: usize, wp: usize, tapOf: usize, T: i32, Cin: i32, Cout: i32): void {
  const nP = (Cin + 7) >> 3;
  memory.fill(wp, 0, (<usize>nP * T * Cout * 8) << 2);
  for (let sl = 0; sl < T; sl++) {
    let src = w + ((<usize>load<i32>(tapOf + (<usize>sl << 2)) * Cin * Cout) << 2);
    for (let ci = 0; ci < Cin; ci++) {
      const p = ci >> 3, j = ci & 7;
      let dst = wp + ((<usize>((p * T + sl) * Cout * 8 + j)) << 2);
      for (let co = 0; co < Cout; co++) {
        store<f32>(dst, load<f32>(src));
        src += 4; dst += 32;
      }
    }
  }
}

/**
 * One class of dx pixels, SIMD. The class is the product images x rows x columns:
 *   rows[r] = (dy row offset, dx row offset), cols[c] = (dy column offset, dx column offset), bytes
 *   within an image (images imgDyB / imgDxB bytes apart); pixel (n, r, c) has dy base
 *   dy + n·imgDyB + rows[r].dy + cols[c].dy and dx destination dx + n·imgDxB + rows[r].dx + cols[c].dx.
 *   runs[t] = (dy byte offset from the pixel's base, byte offset in a packed panel, K floats of dy).
 * Every dx row is 8·nPanels floats wide (channels past Cin come out as zeros); panels are panelB bytes
 * apart in wp. A class with no runs gets zeros.
 */
export function conv2dBackpropInputClassF32x4(dy: usize, wp: usize, dx: usize, nImg: i32, imgDyB: i32, imgDxB: i32,
    rows: usize, nRows: i32, cols: usize, nCols: i32, runs: usize, nRuns: i32, nPanels: i32, panelB: i32): void {
  const M = nImg * nRows * nCols;
  if (M <= 0) return;
  if (nRuns == 0) {
    const ldxB = (<usize>nPanels) << 5;
    for (let n = 0; n < nImg; n++) {
      for (let r = 0; r < nRows; r++) {
        const rowDst = dx + <usize>n * imgDxB + load<u32>(rows + (<usize>r << 3), 4);
        for (let c = 0; c < nCols; c++) memory.fill(rowDst + load<u32>(cols + (<usize>c << 3), 4), 0, ldxB);
      }
    }
    return;
  }
  // Tiles outer, panels inner (the tile's dy rows stay in L1 across panels: 1-3% faster here), over
  // blocks of panels whose packed filter fits in L2 (a wide layer's filter would stream per tile).
  let pb = <i32>(PANEL_BLOCK_BYTES / <u32>panelB);   // (measured: 64 KiB to 4 MiB within 2%)
  if (pb < 1) pb = 1;
  for (let p0 = 0; p0 < nPanels; p0 += pb) {
    const p1 = p0 + pb < nPanels ? p0 + pb : nPanels;
    let n = 0, r = 0, c = 0;
    for (let m0 = 0; m0 < M; m0 += 4) {
      const mr = M - m0 < 4 ? M - m0 : 4;
      for (let i = 0; i < mr; i++) {
        const rp = rows + (<usize>r << 3), cp = cols + (<usize>c << 3);
        store<u32>(TILE + (<usize>i << 2), dy + <usize>n * imgDyB + load<u32>(rp) + load<u32>(cp));
        store<u32>(TILE + 16 + (<usize>i << 2), dx + <usize>n * imgDxB + load<u32>(rp, 4) + load<u32>(cp, 4) + (<usize>p0 << 5));
        if (++c == nCols) { c = 0; if (++r == nRows) { r = 0; n++; } }
      }
      for (let p = p0; p < p1; p++) {
        tileAny(mr, runs, nRuns, wp + <usize>p * panelB);
        for (let i = 0; i < mr; i++) store<u32>(TILE + 16 + (<usize>i << 2), load<u32>(TILE + 16 + (<usize>i << 2)) + 32);
      }
    }
  }
}

/** Scalar twin: the defining sum, one dx element at a time. dy [N,OH,OW,Cout], w [KH,KW,Cin,Cout], dx [N,H,W,Cin]. */
export function conv2dBackpropInputScalar(dy: usize, w: usize, dx: usize,
    N: i32, H: i32, W: i32, Cin: i32, OH: i32, OW: i32, Cout: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, dh: i32, dw: i32, pt: i32, pl: i32): void {
  let o = dx;
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      for (let iw = 0; iw < W; iw++) {
        for (let ci = 0; ci < Cin; ci++) {
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
              const pd = dy + ((<usize>((n * OH + oh) * OW + ow) * Cout) << 2);
              const pw = w + ((<usize>((kh * KW + kw) * Cin + ci) * Cout) << 2);
              for (let co = 0; co < Cout; co++) s += load<f32>(pd + (<usize>co << 2)) * load<f32>(pw + (<usize>co << 2));
            }
          }
          store<f32>(o, s);
          o += 4;
        }
      }
    }
  }
}
