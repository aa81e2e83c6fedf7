// SPDX-License-Identifier: MIT
// 2D pooling gradients (tfjs MaxPoolGrad, AvgPoolGrad), NHWC float32, bit-identical to tfjs-cpu.
//
// Geometry: x / dx [N,H,W,C], dy [N,OH,OW,C], window KH x KW, strides sh, sw, top / left pads pt, pl;
// window (oh, ow) covers input rows oh*sh - pt .. +KH-1 and columns ow*sw - pl .. +KW-1 (clipped).
//
// Max: the argmax of each window is the FIRST maximum in window order (rows, then columns), strictly
// greater than the running maximum that starts at -Infinity, so a window of NaNs or -Infinity has no
// argmax (position -1) and passes no gradient — tfjs-cpu's maxPoolPositions rule. Positions are
// window-relative, r*KW + c.
// Both: dx[p] = Σ over the windows covering p, in dy raster order, of dy (max: only the windows whose
// argmax is p), summed in float64 and rounded once (avg: the sum times `mult` = 1/(KH·KW), in float64)
// — exactly how tfjs-cpu computes it in JavaScript numbers. Gathered per dx pixel, so dx is written
// once and needs no zeroing; channels by 4 (float64 pairs), the C % 4 tail scalar.

const NEG_INF: f32 = -Infinity;

/** Window-relative argmax of every max-pool window, SIMD over channels. idx [N,OH,OW,C] (i32). */
export function maxPoolArgmaxF32x4(x: usize, idx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  const C4 = C & ~3;
  const cB = (<usize>C) << 2, rowB = <usize>W * cB;
  const ninf = f32x4.splat(NEG_INF), none = i32x4.splat(-1);
  let out = idx;
  for (let n = 0; n < N; n++) {
    const img = x + <usize>n * H * rowB;
    for (let oh = 0; oh < OH; oh++) {
      const r0 = oh * sh - pt;
      const rLo = r0 > 0 ? r0 : 0, rHi = r0 + KH < H ? r0 + KH : H;
      for (let ow = 0; ow < OW; ow++) {
        const q0 = ow * sw - pl;
        const qLo = q0 > 0 ? q0 : 0, qHi = q0 + KW < W ? q0 + KW : W;
        for (let c = 0; c < C4; c += 4) {
          let mx = ninf, pos = none;
          const base = img + ((<usize>c) << 2);
          for (let r = rLo; r < rHi; r++) {
            let p = base + <usize>r * rowB + <usize>qLo * cB;
            let wpos = (r - r0) * KW + (qLo - q0);
            for (let q = qLo; q < qHi; q++) {
              const v = v128.load(p);
              const m = f32x4.gt(v, mx);
              mx = v128.bitselect(v, mx, m);
              pos = v128.bitselect(i32x4.splat(wpos), pos, m);
              p += cB; wpos++;
            }
          }
          v128.store(out + ((<usize>c) << 2), pos);
        }
        for (let c = C4; c < C; c++) {
          let mx: f32 = NEG_INF, pos = -1;
          const base = img + ((<usize>c) << 2);
          for (let r = rLo; r < rHi; r++) {
            for (let q = qLo; q < qHi; q++) {
              const v = load<f32>(base + <usize>r * rowB + <usize>q * cB);
              if (v > mx) { mx = v; pos = (r - r0) * KW + (q - q0); }
            }
          }
          store<i32>(out + ((<usize>c) << 2), pos);
        }
        out += cB;
      }
    }
  }
}

/** Scalar twin of maxPoolArgmaxF32x4. */
export function maxPoolArgmaxScalar(x: usize, idx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32): void {
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let mx: f32 = NEG_INF, pos = -1;
          for (let r = 0; r < KH; r++) {
            const ih = oh * sh - pt + r;
            if (ih < 0 || ih >= H) continue;
            for (let q = 0; q < KW; q++) {
              const iw = ow * sw - pl + q;
              if (iw < 0 || iw >= W) continue;
              const v = load<f32>(x + ((<usize>((n * H + ih) * W + iw) * C + c) << 2));
              if (v > mx) { mx = v; pos = r * KW + q; }
            }
          }
          store<i32>(idx + ((<usize>((n * OH + oh) * OW + ow) * C + c) << 2), pos);
        }
      }
    }
  }
}

// First / one-past-last window index o whose window covers input index i: o*s - p <= i <= o*s - p + K - 1.
@inline function winLo(i: i32, s: i32, p: i32, K: i32): i32 {
  const num = i + p - K + 1;
  return num <= 0 ? 0 : (num + s - 1) / s;
}
@inline function winHi(i: i32, s: i32, p: i32, O: i32): i32 {
  const num = i + p;
  if (num < 0) return 0;
  const hi = num / s + 1;
  return hi < O ? hi : O;
}

@inline function poolGradBody(MAX: bool, dy: usize, idx: usize, dx: usize, N: i32, H: i32, W: i32, C: i32,
    OH: i32, OW: i32, KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, mult: f64): void {
  const C4 = C & ~3;
  const cB = (<usize>C) << 2, dyRowB = <usize>OW * cB;
  const zero = f64x2.splat(0), vm = f64x2.splat(mult);
  let out = dx;
  for (let n = 0; n < N; n++) {
    const dyImg = dy + <usize>n * OH * dyRowB, idxImg = idx + <usize>n * OH * dyRowB;
    for (let ih = 0; ih < H; ih++) {
      const ohLo = winLo(ih, sh, pt, KH), ohHi = winHi(ih, sh, pt, OH);
      for (let iw = 0; iw < W; iw++) {
        const owLo = winLo(iw, sw, pl, KW), owHi = winHi(iw, sw, pl, OW);
        for (let c = 0; c < C4; c += 4) {
          const cOff = (<usize>c) << 2;
          let lo = zero, hi = zero;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const rowOff = <usize>oh * dyRowB + cOff;
            const wr = (ih + pt - oh * sh) * KW + iw + pl;
            for (let ow = owLo; ow < owHi; ow++) {
              const off = rowOff + <usize>ow * cB;
              let v = v128.load(dyImg + off);
              if (MAX) {
                const m = i32x4.eq(v128.load(idxImg + off), i32x4.splat(wr - ow * sw));
                v = v128.and(v, m);   // +0 where this window's argmax is elsewhere: adding it changes nothing
              }
              lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
              hi = f64x2.add(hi, f64x2.promote_low_f32x4(i64x2.shuffle(v, v, 1, 1)));
            }
          }
          if (!MAX) { lo = f64x2.mul(lo, vm); hi = f64x2.mul(hi, vm); }
          v128.store(out + cOff, i64x2.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 2));
        }
        for (let c = C4; c < C; c++) {
          const cOff = (<usize>c) << 2;
          let s: f64 = 0;
          for (let oh = ohLo; oh < ohHi; oh++) {
            const wr = (ih + pt - oh * sh) * KW + iw + pl;
            for (let ow = owLo; ow < owHi; ow++) {
              const off = <usize>oh * dyRowB + <usize>ow * cB + cOff;
              if (MAX && load<i32>(idxImg + off) != wr - ow * sw) continue;
              s += <f64>load<f32>(dyImg + off);
            }
          }
          if (!MAX) s *= mult;
          store<f32>(out + cOff, <f32>s);
        }
        out += cB;
      }
    }
  }
}

/**
 * Pooling input gradient, SIMD over channels. dy [N,OH,OW,C], dx [N,H,W,C]. Max pooling when `idx`
 * (the argmax of maxPoolArgmax*) is non-zero, average pooling (times `mult`) when it is 0.
 */
export function poolGradF32x4(dy: usize, idx: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, mult: f64): void {
  if (idx != 0) poolGradBody(true, dy, idx, dx, N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, mult);
  else poolGradBody(false, dy, idx, dx, N, H, W, C, OH, OW, KH, KW, sh, sw, pt, pl, mult);
}

/** Scalar twin of poolGradF32x4: tfjs-cpu's loops (per dx element, window taps in reverse). */
export function poolGradScalar(dy: usize, idx: usize, dx: usize, N: i32, H: i32, W: i32, C: i32, OH: i32, OW: i32,
    KH: i32, KW: i32, sh: i32, sw: i32, pt: i32, pl: i32, mult: f64): void {
  for (let n = 0; n < N; n++) {
    for (let ih = 0; ih < H; ih++) {
      for (let iw = 0; iw < W; iw++) {
        for (let c = 0; c < C; c++) {
          let s: f64 = 0;
          // Window row r of dy row oh covers ih when ih = oh*sh - pt + r; r descending = oh ascending.
          for (let r = KH - 1; r >= 0; r--) {
            const nh = ih + pt - r;
            if (nh < 0 || nh % sh != 0 || nh / sh >= OH) continue;
            const oh = nh / sh;
            for (let q = KW - 1; q >= 0; q--) {
              const nw = iw + pl - q;
              if (nw < 0 || nw % sw != 0 || nw / sw >= OW) continue;
              const o = (<usize>((n * OH + oh) * OW + nw / sw) * C + c) << 2;
              if (idx != 0 && load<i32>(idx + o) != r * KW + q) continue;
              s += <f64>load<f32>(dy + o);
            }
          }
          if (idx == 0) s *= mult;
          store<f32>(dx + ((<usize>((n * H + ih) * W + iw) * C + c) << 2), <f32>s);
        }
      }
    }
  }
}
