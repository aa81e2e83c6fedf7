// SPDX-License-Identifier: MIT
// Narrow-output row kernels: Y[n, d] = bias[d] + sum_i X[n, i] * W[d, i], for the flow's D-wide layers.
// K (the row length) must be a multiple of 8.

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

export function rowsDotF32x4(X: usize, ldx: i32, W: usize, ldw: i32, Y: usize, ldy: i32,
                             N: i32, Dout: i32, K: i32, bias: usize): void {
  const ldxB = (<usize>ldx) << 2, ldwB = (<usize>ldw) << 2, ldyB = (<usize>ldy) << 2;
  const KB = (<usize>K) << 2;
  let n = 0;
  // Four rows at a time share each W load; a 4x4 transpose-add turns the four accumulators into the
  // four rows' dot products in one vector.
  for (; n + 4 <= N; n += 4) {
    const x0 = X + <usize>n * ldxB, x1 = x0 + ldxB, x2 = x1 + ldxB, x3 = x2 + ldxB;
    let pw = W;
    for (let d = 0; d < Dout; d++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let i: usize = 0; i < KB; i += 16) {
        const w = v128.load(pw + i);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(x0 + i), w));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(x1 + i), w));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(x2 + i), w));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(x3 + i), w));
      }
      const s01 = f32x4.add(v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), v128.shuffle<f32>(a0, a1, 2, 6, 3, 7));
      const s23 = f32x4.add(v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), v128.shuffle<f32>(a2, a3, 2, 6, 3, 7));
      let y = f32x4.add(v128.shuffle<f32>(s01, s23, 0, 1, 4, 5), v128.shuffle<f32>(s01, s23, 2, 3, 6, 7));
      if (bias) y = f32x4.add(y, v128.load32_splat(bias + ((<usize>d) << 2)));
      const py = Y + <usize>n * ldyB + ((<usize>d) << 2);
      store<f32>(py, f32x4.extract_lane(y, 0));
      store<f32>(py + ldyB, f32x4.extract_lane(y, 1));
      store<f32>(py + 2 * ldyB, f32x4.extract_lane(y, 2));
      store<f32>(py + 3 * ldyB, f32x4.extract_lane(y, 3));
      pw += ldwB;
    }
  }
  for (; n < N; n++) {
    const px = X + <usize>n * ldxB, py = Y + <usize>n * ldyB;
    let pw = W;
    for (let d = 0; d < Dout; d++) {
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      for (let i: usize = 0; i < KB; i += 32) {
        a0 = f32x4.add(a0, f32x4.mul(v128.load(px + i), v128.load(pw + i)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(px + i, 16), v128.load(pw + i, 16)));
      }
      let s = hsum(f32x4.add(a0, a1));
      if (bias) s += load<f32>(bias + ((<usize>d) << 2));
      store<f32>(py + ((<usize>d) << 2), s);
      pw += ldwB;
    }
  }
}

export function rowsDotScalar(X: usize, ldx: i32, W: usize, ldw: i32, Y: usize, ldy: i32,
                              N: i32, Dout: i32, K: i32, bias: usize): void {
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < Dout; d++) {
      let s: f32 = 0;
      for (let i = 0; i < K; i++) {
        s += load<f32>(X + ((<usize>n * ldx + i) << 2)) * load<f32>(W + ((<usize>d * ldw + i) << 2));
      }
      if (bias) s += load<f32>(bias + ((<usize>d) << 2));
      store<f32>(Y + ((<usize>n * ldy + d) << 2), s);
    }
  }
}
