// SPDX-License-Identifier: MIT
// Training-mode BatchNorm over channels-last activations viewed as P rows of C channels ([N,H,W,C] or
// [N,C]): one per-channel reduction kernel and one per-channel affine kernel, SIMD over channels, with a
// scalar twin of each. Both stream the rows once, in memory order.
//
//   channelSums:   s1[c] += Σ_p (a[p,c] − sa[c]),  s2[c] += Σ_p (a[p,c] − sa[c]) · (b[p,c] − sb[c])
//   channelAffine: out[p,c] = k1[c]·a[p,c] + k2[c]·b[p,c] + k3[c]      (b = 0: the k2 term is left out)
//
// The shifts sa, sb keep the second moment free of cancellation (forward: sa = sb = a pivot row, so the
// variance is Σ(x−K)²/n − (Σ(x−K)/n)² with K close to the mean; backward: sb = mean). Partial sums run in
// f32 over blocks of SUM_BLOCK rows and are added to the f64 totals s1, s2 after each block.

const SUM_BLOCK: i32 = 64;

/** part: 2·C f32 of scratch. s1, s2: C f64 each, accumulated into (the caller zeroes them). */
export function channelSumsF32x4(a: usize, sa: usize, b: usize, sb: usize, P: i32, C: i32,
                                 s1: usize, s2: usize, part: usize): void {
  const C4 = C & ~3;
  const rowB = (<usize>C) << 2, p2 = part + rowB;
  for (let p0 = 0; p0 < P; p0 += SUM_BLOCK) {
    const p1 = min(P, p0 + SUM_BLOCK);
    memory.fill(part, 0, rowB << 1);
    let ra = a + <usize>p0 * rowB, rb = b + <usize>p0 * rowB;
    for (let p = p0; p < p1; p++) {
      let c = 0;
      for (; c < C4; c += 4) {
        const o = (<usize>c) << 2;
        const x = f32x4.sub(v128.load(ra + o), v128.load(sa + o));
        const y = f32x4.sub(v128.load(rb + o), v128.load(sb + o));
        v128.store(part + o, f32x4.add(v128.load(part + o), x));
        v128.store(p2 + o, f32x4.add(v128.load(p2 + o), f32x4.mul(x, y)));
      }
      for (; c < C; c++) {
        const o = (<usize>c) << 2;
        const x = load<f32>(ra + o) - load<f32>(sa + o), y = load<f32>(rb + o) - load<f32>(sb + o);
        store<f32>(part + o, load<f32>(part + o) + x);
        store<f32>(p2 + o, load<f32>(p2 + o) + x * y);
      }
      ra += rowB; rb += rowB;
    }
    for (let c = 0; c < C; c++) {
      const o = (<usize>c) << 2, o8 = (<usize>c) << 3;
      store<f64>(s1 + o8, load<f64>(s1 + o8) + <f64>load<f32>(part + o));
      store<f64>(s2 + o8, load<f64>(s2 + o8) + <f64>load<f32>(p2 + o));
    }
  }
}

/** Scalar twin of channelSumsF32x4 (same blocks, so the same rounding). */
export function channelSumsScalar(a: usize, sa: usize, b: usize, sb: usize, P: i32, C: i32,
                                  s1: usize, s2: usize, part: usize): void {
  const rowB = (<usize>C) << 2, p2 = part + rowB;
  for (let p0 = 0; p0 < P; p0 += SUM_BLOCK) {
    const p1 = min(P, p0 + SUM_BLOCK);
    memory.fill(part, 0, rowB << 1);
    for (let p = p0; p < p1; p++) {
      const ra = a + <usize>p * rowB, rb = b + <usize>p * rowB;
      for (let c = 0; c < C; c++) {
        const o = (<usize>c) << 2;
        const x = load<f32>(ra + o) - load<f32>(sa + o), y = load<f32>(rb + o) - load<f32>(sb + o);
        store<f32>(part + o, load<f32>(part + o) + x);
        store<f32>(p2 + o, load<f32>(p2 + o) + x * y);
      }
    }
    for (let c = 0; c < C; c++) {
      const o = (<usize>c) << 2, o8 = (<usize>c) << 3;
      store<f64>(s1 + o8, load<f64>(s1 + o8) + <f64>load<f32>(part + o));
      store<f64>(s2 + o8, load<f64>(s2 + o8) + <f64>load<f32>(p2 + o));
    }
  }
}

/** out = k1·a + k2·b + k3 per channel (b = 0: out = k1·a + k3). out may be a or b. */
export function channelAffineF32x4(a: usize, b: usize, P: i32, C: i32, k1: usize, k2: usize, k3: usize, out: usize): void {
  const C4 = C & ~3;
  const rowB = (<usize>C) << 2;
  let ra = a, rb = b, ro = out;
  for (let p = 0; p < P; p++) {
    let c = 0;
    if (b) {
      for (; c < C4; c += 4) {
        const o = (<usize>c) << 2;
        const v = f32x4.add(f32x4.add(f32x4.mul(v128.load(ra + o), v128.load(k1 + o)),
          f32x4.mul(v128.load(rb + o), v128.load(k2 + o))), v128.load(k3 + o));
        v128.store(ro + o, v);
      }
      for (; c < C; c++) {
        const o = (<usize>c) << 2;
        store<f32>(ro + o, (load<f32>(ra + o) * load<f32>(k1 + o) + load<f32>(rb + o) * load<f32>(k2 + o)) + load<f32>(k3 + o));
      }
      rb += rowB;
    } else {
      for (; c < C4; c += 4) {
        const o = (<usize>c) << 2;
        v128.store(ro + o, f32x4.add(f32x4.mul(v128.load(ra + o), v128.load(k1 + o)), v128.load(k3 + o)));
      }
      for (; c < C; c++) {
        const o = (<usize>c) << 2;
        store<f32>(ro + o, load<f32>(ra + o) * load<f32>(k1 + o) + load<f32>(k3 + o));
      }
    }
    ra += rowB; ro += rowB;
  }
}

/** Scalar twin of channelAffineF32x4 (same operation order, so bit-identical results). */
export function channelAffineScalar(a: usize, b: usize, P: i32, C: i32, k1: usize, k2: usize, k3: usize, out: usize): void {
  const rowB = (<usize>C) << 2;
  for (let p = 0; p < P; p++) {
    const ra = a + <usize>p * rowB, rb = b + <usize>p * rowB, ro = out + <usize>p * rowB;
    for (let c = 0; c < C; c++) {
      const o = (<usize>c) << 2;
      let v = load<f32>(ra + o) * load<f32>(k1 + o);
      if (b) v += load<f32>(rb + o) * load<f32>(k2 + o);
      store<f32>(ro + o, v + load<f32>(k3 + o));
    }
  }
}
