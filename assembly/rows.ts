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
  let px = X, py = Y;
  for (let n = 0; n < N; n++) {
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
    px += ldxB; py += ldyB;
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
