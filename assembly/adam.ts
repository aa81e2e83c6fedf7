// SPDX-License-Identifier: MIT
// Optimizer steps over packed parameter buffers, in place. Bias corrections come from JS
// (bc1 = 1 − β1^t, bc2 = 1 − β2^t) so the step count lives with the caller.

/** PyTorch Adam (decoupled = 0: L2 weight decay added to the gradient) or AdamW (decoupled = 1). */
export function adamStep(p: usize, g: usize, m: usize, v: usize, n: i32, lr: f32, b1: f32, b2: f32,
                         eps: f32, wd: f32, bc1: f32, bc2: f32, decoupled: i32, gradScale: f32): void {
  const gs = f32x4.splat(gradScale);
  const b1v = f32x4.splat(b1), b2v = f32x4.splat(b2), ob1 = f32x4.splat(1.0 - b1), ob2 = f32x4.splat(1.0 - b2);
  const stepV = f32x4.splat(lr / bc1), ibc2 = f32x4.splat(1.0 / bc2), epsV = f32x4.splat(eps);
  const wdV = f32x4.splat(wd), decay = f32x4.splat(1.0 - lr * wd);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = (<usize>i) << 2;
    let gi = f32x4.mul(v128.load(g + o), gs), pi = v128.load(p + o);
    if (wd != 0) {
      if (decoupled) pi = f32x4.mul(pi, decay);
      else gi = f32x4.add(gi, f32x4.mul(wdV, pi));
    }
    const mi = f32x4.add(f32x4.mul(b1v, v128.load(m + o)), f32x4.mul(ob1, gi));
    const vi = f32x4.add(f32x4.mul(b2v, v128.load(v + o)), f32x4.mul(ob2, f32x4.mul(gi, gi)));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const den = f32x4.add(f32x4.sqrt(f32x4.mul(vi, ibc2)), epsV);
    v128.store(p + o, f32x4.sub(pi, f32x4.div(f32x4.mul(stepV, mi), den)));
  }
  for (let i = n4; i < n; i++) {
    const o = (<usize>i) << 2;
    let gi = load<f32>(g + o) * gradScale, pi = load<f32>(p + o);
    if (wd != 0) {
      if (decoupled) pi *= 1.0 - lr * wd;
      else gi += wd * pi;
    }
    const mi = b1 * load<f32>(m + o) + (1.0 - b1) * gi;
    const vi = b2 * load<f32>(v + o) + (1.0 - b2) * gi * gi;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, pi - (lr / bc1) * mi / (Mathf.sqrt(vi / bc2) + eps));
  }
}

/** SGD with momentum (PyTorch convention: buf = μ·buf + g; p −= lr·buf), L2 weight decay. */
export function sgdStep(p: usize, g: usize, mom: usize, n: i32, lr: f32, momentum: f32, wd: f32, gradScale: f32): void {
  for (let i = 0; i < n; i++) {
    const o = (<usize>i) << 2;
    const pi = load<f32>(p + o);
    const gi = load<f32>(g + o) * gradScale + wd * pi;
    const b = momentum * load<f32>(mom + o) + gi;
    store<f32>(mom + o, b);
    store<f32>(p + o, pi - lr * (momentum != 0 ? b : gi));
  }
}
