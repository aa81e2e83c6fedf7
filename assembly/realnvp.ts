// SPDX-License-Identifier: MIT
// RealNVP of the RLE paper: couplings with scale net s (…→Tanh) and translation net t, each
// Linear(D,H) → LeakyReLU → Linear(H,H) → LeakyReLU → Linear(H,D). Analytic backward, no autograd.
//
// A flow is described by a descriptor of i32 slots written by JS (see DESC_* below). Parameters are
// kept "packed": per coupling c and net k (0 = s, 1 = t) a block
//   W1T [D, Hp] (transposed) | b1 [Hp] | W2 [Hp, Hp] ([out, in]) | b2 [Hp] | W3 [D, Hp] | b3 [r4(D)]
// with H padded to Hp (multiple of 8) by zeros. Gradients and optimizer moments share the layout.
// "Derived" holds per (c, k) W2ᵀ and mask-scaled W1T, refreshed by flowSync after any update.
import { gemmF32x4, gemmScalar, EPI_STORE, EPI_BIAS_LEAKY, EPI_LEAKY_GRAD_SUM, EPI_ACCUM } from './gemm';
import { rowsDotF32x4, rowsDotScalar } from './rows';
import { expF32x4, tanhF32x4 } from './vmath';

export const DESC_D = 0;
export const DESC_H = 1;
export const DESC_HP = 2;
export const DESC_C = 3;
export const DESC_SLOPE = 4;
export const DESC_MASKS = 5;
export const DESC_PARAMS = 6;
export const DESC_DERIVED = 7;
export const DESC_GRADS = 8;
export const DESC_WS = 9;
export const DESC_CAP = 10;
export const DESC_SLOTS = 12;

const LOG_2PI: f64 = 1.8378770664093453;

let useSimd = true;
export function setSimd(on: i32): void { useSimd = on != 0; }
export function getSimd(): i32 { return useSimd ? 1 : 0; }

@inline function gemm(A: usize, sm: i32, sk: i32, B: usize, ldb: i32, C: usize, ldc: i32,
                      M: i32, Nc: i32, K: i32, mode: i32, bias: usize, act: usize, slope: f32): void {
  if (useSimd) gemmF32x4(A, sm, sk, B, ldb, C, ldc, M, Nc, K, mode, bias, act, slope);
  else gemmScalar(A, sm, sk, B, ldb, C, ldc, M, Nc, K, mode, bias, act, slope);
}
@inline function rowsDot(X: usize, ldx: i32, W: usize, ldw: i32, Y: usize, ldy: i32,
                         N: i32, Dout: i32, K: i32, bias: usize): void {
  if (useSimd) rowsDotF32x4(X, ldx, W, ldw, Y, ldy, N, Dout, K, bias);
  else rowsDotScalar(X, ldx, W, ldw, Y, ldy, N, Dout, K, bias);
}

@inline function r4(n: i32): i32 { return (n + 3) & ~3; }
@inline function r8(n: i32): i32 { return (n + 7) & ~7; }

// ---- layout -------------------------------------------------------------------------------------

/** Floats in one packed net block. */
@inline function netFloats(D: i32, Hp: i32): i32 { return 2 * D * Hp + 2 * Hp + Hp * Hp + r4(D); }
@inline function offB1(D: i32, Hp: i32): i32 { return D * Hp; }
@inline function offW2(D: i32, Hp: i32): i32 { return D * Hp + Hp; }
@inline function offB2(D: i32, Hp: i32): i32 { return D * Hp + Hp + Hp * Hp; }
@inline function offW3(D: i32, Hp: i32): i32 { return D * Hp + 2 * Hp + Hp * Hp; }
@inline function offB3(D: i32, Hp: i32): i32 { return 2 * D * Hp + 2 * Hp + Hp * Hp; }
@inline function derivedFloats(D: i32, Hp: i32): i32 { return Hp * Hp + D * Hp; }

export function flowPackedFloats(D: i32, H: i32, C: i32): i32 { return 2 * C * netFloats(D, r8(H)); }
export function flowDerivedFloats(D: i32, H: i32, C: i32): i32 { return 2 * C * derivedFloats(D, r8(H)); }
export function flowCanonicalFloats(D: i32, H: i32, C: i32): i32 { return 2 * C * (2 * H * D + H * H + 2 * H + D); }

// Workspace slots for capacity N (bytes from ws). Per coupling: zin, h1s, h1t, h2s, h2t, and for the
// backward pass th = tanh(s-net output), tt = (z − t)·e and te = e = exp(−s).
let wD: i32 = 0, wHp: i32 = 0, wC: i32 = 0, wN: i32 = 0;
let sND: usize = 0, sNH: usize = 0, sN: usize = 0;
let oZin: usize = 0, oH: usize = 0, oTh: usize = 0, oTt: usize = 0, oTe: usize = 0;
let oIn: usize = 0, oZ: usize = 0, oLd: usize = 0, oLp: usize = 0, oW: usize = 0, oOut: usize = 0;
let oDh2: usize = 0, oDh1: usize = 0, oG: usize = 0, oGld: usize = 0, oGa: usize = 0, oDz: usize = 0;
let oAux: usize = 0, oZm: usize = 0, wsEnd: usize = 0;
// Row offset (bytes) of the per-sample slots in, z, ld, lp, w, g, gld: the chunked fwd+bwd pass works on
// rows [r0, r0 + n) of them while the per-coupling slots hold just that chunk from row 0.
let rOffND: usize = 0, rOffN: usize = 0;

function layoutWs(D: i32, Hp: i32, C: i32, N: i32): void {
  if (D == wD && Hp == wHp && C == wC && N == wN) return;
  wD = D; wHp = Hp; wC = C; wN = N;
  sND = (<usize>r4(N * D)) << 2;
  sNH = (<usize>N * Hp) << 2;
  sN = (<usize>r4(N)) << 2;
  const cC = <usize>C;
  let o: usize = 0;
  oZin = o; o += sND * cC;
  oH = o; o += sNH * cC * 4;          // h1s, h1t, h2s, h2t for each coupling
  oTh = o; o += sND * cC;
  oTt = o; o += sND * cC;
  oTe = o; o += sND * cC;
  oIn = o; o += sND;
  oZ = o; o += sND;
  oOut = o; o += sND;
  oLd = o; o += sN;
  oLp = o; o += sN;
  oW = o; o += sN;
  oDh2 = o; o += sNH;
  oDh1 = o; o += sNH;
  oG = o; o += sND;
  oGld = o; o += sN;
  oGa = o; o += sND * 2;              // ga for s then t
  oDz = o; o += sND;
  oZm = o; o += sND;                  // m ⊙ zin of the coupling being differentiated (dW1's operand)
  oAux = o; o += sND * 4;             // scratch for the loss functions
  wsEnd = o;
}

export function flowWorkspaceBytes(D: i32, H: i32, C: i32, N: i32): usize {
  layoutWs(D, r8(H), C, N);
  return wsEnd;
}

// Workspace slot offsets for JS (bytes from ws, after layout for the descriptor's capacity).
export const WS_IN = 0;
export const WS_Z = 1;
export const WS_OUT = 2;
export const WS_LD = 3;
export const WS_LP = 4;
export const WS_W = 5;
export const WS_G = 6;
export const WS_GLD = 7;
export const WS_AUX = 8;
export const WS_SIG = 9;
export function flowWsOffset(desc: usize, slot: i32): usize {
  bind(desc);
  switch (slot) {
    case WS_IN: return oIn;
    case WS_Z: return oZ;
    case WS_OUT: return oOut;
    case WS_LD: return oLd;
    case WS_LP: return oLp;
    case WS_W: return oW;
    case WS_G: return oG;
    case WS_GLD: return oGld;
    case WS_AUX: return oAux;
    case WS_SIG: return oAux + 3 * sND;
  }
  return <usize>-1;
}

// ---- bound descriptor ---------------------------------------------------------------------------
let D: i32 = 0, H: i32 = 0, Hp: i32 = 0, C: i32 = 0;
let slope: f32 = 0.01;
let masks: usize = 0, params: usize = 0, derived: usize = 0, grads: usize = 0, ws: usize = 0;
let cap: i32 = 0;

export function bind(desc: usize): void {
  D = load<i32>(desc, DESC_D << 2);
  H = load<i32>(desc, DESC_H << 2);
  Hp = load<i32>(desc, DESC_HP << 2);
  C = load<i32>(desc, DESC_C << 2);
  slope = load<f32>(desc, DESC_SLOPE << 2);
  masks = load<usize>(desc, DESC_MASKS << 2);
  params = load<usize>(desc, DESC_PARAMS << 2);
  derived = load<usize>(desc, DESC_DERIVED << 2);
  grads = load<usize>(desc, DESC_GRADS << 2);
  ws = load<usize>(desc, DESC_WS << 2);
  cap = load<i32>(desc, DESC_CAP << 2);
  assert(Hp == r8(H) && D > 0 && C > 0, 'bad flow descriptor');
  layoutWs(D, Hp, C, cap);
}

@inline function net(base: usize, c: i32, k: i32): usize {
  return base + ((<usize>(c * 2 + k) * <usize>netFloats(D, Hp)) << 2);
}
@inline function der(c: i32, k: i32): usize {
  return derived + ((<usize>(c * 2 + k) * <usize>derivedFloats(D, Hp)) << 2);
}
@inline function mask(c: i32, d: i32): f32 { return load<f32>(masks + ((<usize>(c * D + d)) << 2)); }
@inline function hid(c: i32, j: i32): usize { return ws + oH + sNH * <usize>(c * 4 + j); }
@inline function zinP(c: i32): usize { return ws + oZin + sND * <usize>c; }
@inline function thP(c: i32): usize { return ws + oTh + sND * <usize>c; }
@inline function ttP(c: i32): usize { return ws + oTt + sND * <usize>c; }
@inline function teP(c: i32): usize { return ws + oTe + sND * <usize>c; }
@inline function f(p: usize, i: i32): f32 { return load<f32>(p + ((<usize>i) << 2)); }
@inline function sf(p: usize, i: i32, v: f32): void { store<f32>(p + ((<usize>i) << 2), v); }

// ---- parameters ---------------------------------------------------------------------------------

/** Canonical (PyTorch) order per coupling c, net s then t: W1 [H,D], b1, W2 [H,H], b2, W3 [D,H], b3. */
export function flowPack(desc: usize, canon: usize, dst: usize): void {
  bind(desc);
  memory.fill(dst, 0, (<usize>flowPackedFloats(D, H, C)) << 2);
  let p = canon;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < 2; k++) {
      const b = net(dst, c, k);
      for (let o = 0; o < H; o++) for (let d = 0; d < D; d++) { sf(b, d * Hp + o, f(p, o * D + d)); }
      p += (<usize>(H * D)) << 2;
      for (let o = 0; o < H; o++) sf(b + ((<usize>offB1(D, Hp)) << 2), o, f(p, o));
      p += (<usize>H) << 2;
      for (let o = 0; o < H; o++) for (let i = 0; i < H; i++) sf(b + ((<usize>offW2(D, Hp)) << 2), o * Hp + i, f(p, o * H + i));
      p += (<usize>(H * H)) << 2;
      for (let o = 0; o < H; o++) sf(b + ((<usize>offB2(D, Hp)) << 2), o, f(p, o));
      p += (<usize>H) << 2;
      for (let d = 0; d < D; d++) for (let i = 0; i < H; i++) sf(b + ((<usize>offW3(D, Hp)) << 2), d * Hp + i, f(p, d * H + i));
      p += (<usize>(D * H)) << 2;
      for (let d = 0; d < D; d++) sf(b + ((<usize>offB3(D, Hp)) << 2), d, f(p, d));
      p += (<usize>D) << 2;
    }
  }
}

/** Inverse of flowPack (for parameters or gradients). */
export function flowUnpack(desc: usize, src: usize, canon: usize): void {
  bind(desc);
  let p = canon;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < 2; k++) {
      const b = net(src, c, k);
      for (let o = 0; o < H; o++) for (let d = 0; d < D; d++) sf(p, o * D + d, f(b, d * Hp + o));
      p += (<usize>(H * D)) << 2;
      for (let o = 0; o < H; o++) sf(p, o, f(b + ((<usize>offB1(D, Hp)) << 2), o));
      p += (<usize>H) << 2;
      for (let o = 0; o < H; o++) for (let i = 0; i < H; i++) sf(p, o * H + i, f(b + ((<usize>offW2(D, Hp)) << 2), o * Hp + i));
      p += (<usize>(H * H)) << 2;
      for (let o = 0; o < H; o++) sf(p, o, f(b + ((<usize>offB2(D, Hp)) << 2), o));
      p += (<usize>H) << 2;
      for (let d = 0; d < D; d++) for (let i = 0; i < H; i++) sf(p, d * H + i, f(b + ((<usize>offW3(D, Hp)) << 2), d * Hp + i));
      p += (<usize>(D * H)) << 2;
      for (let d = 0; d < D; d++) sf(p, d, f(b + ((<usize>offB3(D, Hp)) << 2), d));
      p += (<usize>D) << 2;
    }
  }
}

/** Refreshes the derived copies (W2ᵀ, mask-scaled W1T) after parameters changed. */
export function flowSync(desc: usize): void {
  bind(desc);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < 2; k++) {
      const b = net(params, c, k), dv = der(c, k);
      const w2 = b + ((<usize>offW2(D, Hp)) << 2);
      for (let o = 0; o < Hp; o++) for (let i = 0; i < Hp; i++) sf(dv, i * Hp + o, f(w2, o * Hp + i));
      const w1m = dv + ((<usize>(Hp * Hp)) << 2);
      for (let d = 0; d < D; d++) {
        const m = mask(c, d);
        for (let o = 0; o < Hp; o++) sf(w1m, d * Hp + o, m * f(b, d * Hp + o));
      }
    }
  }
}

// ---- passes -------------------------------------------------------------------------------------

/** Runs both nets of coupling c on input rows `zin` (mask applied through W1Tm). Leaves hidden
 *  activations in the coupling's slots and the raw net outputs in `aS`, `aT` ([N, D]). */
function nets(c: i32, zin: usize, N: i32, aS: usize, aT: usize): void {
  for (let k = 0; k < 2; k++) {
    const b = net(params, c, k), dv = der(c, k);
    const h1 = hid(c, k), h2 = hid(c, 2 + k);
    const w1m = dv + ((<usize>(Hp * Hp)) << 2);
    gemm(zin, D, 1, w1m, Hp, h1, Hp, N, Hp, D, EPI_BIAS_LEAKY, b + ((<usize>offB1(D, Hp)) << 2), 0, slope);
    gemm(h1, Hp, 1, dv, Hp, h2, Hp, N, Hp, Hp, EPI_BIAS_LEAKY, b + ((<usize>offB2(D, Hp)) << 2), 0, slope);
    rowsDot(h2, Hp, b + ((<usize>offW3(D, Hp)) << 2), Hp, k == 0 ? aS : aT, D, N, D, Hp, b + ((<usize>offB3(D, Hp)) << 2));
  }
}

/** Data → latent through all couplings (last to first), keeping what the backward pass needs.
 *  Reads ws.in [N, D]; writes ws.z, ws.ld (log|det|) and ws.lp (log N(z; 0, I) + log|det|). */
export function flowInverse(desc: usize, N: i32): void {
  bind(desc);
  assert(N <= cap, 'flowInverse: N exceeds workspace capacity');
  rOffND = 0; rOffN = 0;
  inverseRows(N);
}

/** flowInverse on N rows starting at the current row offset. */
function inverseRows(N: i32): void {
  const z = ws + oZ + rOffND, ld = ws + oLd + rOffN;
  memory.copy(z, ws + oIn + rOffND, (<usize>(N * D)) << 2);
  memory.fill(ld, 0, (<usize>N) << 2);
  for (let c = C - 1; c >= 0; c--) {
    const zin = zinP(c), th = thP(c), tt = ttP(c), te = teP(c);
    memory.copy(zin, z, (<usize>(N * D)) << 2);
    nets(c, zin, N, th, tt);
    let i0 = 0;
    if (useSimd && 4 % D == 0) {
      // Four coordinates at a time (D divides 4, so the mask pattern repeats within a vector).
      const mv = f32x4(mask(c, 0 % D), mask(c, 1 % D), mask(c, 2 % D), mask(c, 3 % D));
      const omv = f32x4.sub(f32x4.splat(1.0), mv);
      const ND4 = (N * D) & ~3;
      for (; i0 < ND4; i0 += 4) {
        const o = (<usize>i0) << 2;
        const tv = tanhF32x4(v128.load(th + o));
        const s = f32x4.mul(omv, tv), t = f32x4.mul(omv, v128.load(tt + o));
        const zi = v128.load(zin + o);
        const e = expF32x4(f32x4.neg(s));
        const q = f32x4.mul(f32x4.sub(zi, t), e);
        v128.store(th + o, tv);
        v128.store(tt + o, q);
        v128.store(te + o, e);
        v128.store(z + o, f32x4.add(f32x4.mul(omv, q), f32x4.mul(mv, zi)));
      }
    }
    for (let i = i0; i < N * D; i++) {
      const m = mask(c, i % D), om: f32 = 1.0 - m;
      const tv = Mathf.tanh(f(th, i));
      const s = om * tv, t = om * f(tt, i);
      const zi = f(zin, i);
      const e = Mathf.exp(-s);
      const q = (zi - t) * e;
      sf(th, i, tv);
      sf(tt, i, q);
      sf(te, i, e);
      sf(z, i, om * q + m * zi);
    }
    for (let n = 0; n < N; n++) {
      let ldn: f32 = f(ld, n);
      for (let d = 0; d < D; d++) ldn -= (1.0 - mask(c, d)) * f(th, n * D + d);
      sf(ld, n, ldn);
    }
  }
  const lp = ws + oLp + rOffN;
  for (let n = 0; n < N; n++) {
    let q: f64 = 0;
    for (let d = 0; d < D; d++) { const v = <f64>f(z, n * D + d); q += v * v; }
    sf(lp, n, <f32>(-0.5 * q - 0.5 * <f64>D * LOG_2PI + <f64>f(ld, n)));
  }
}

/** Backward of flowInverse. Reads ws.g = dL/dz [N, D] and ws.gld = dL/dlog|det| [N]; writes
 *  ws.g = dL/dx and the parameter gradients (overwritten) into the grads buffer. */
export function flowBackward(desc: usize, N: i32): void {
  bind(desc);
  assert(N <= cap, 'flowBackward: N exceeds workspace capacity');
  rOffND = 0; rOffN = 0;
  backwardRows(N, false);
}

/** flowBackward on N rows at the current row offset; `acc`: add the parameter gradients to those there. */
function backwardRows(N: i32, acc: bool): void {
  const g = ws + oG + rOffND, gld = ws + oGld + rOffN, gaS = ws + oGa, gaT = ws + oGa + sND, dz = ws + oDz;
  const dh2 = ws + oDh2, dh1 = ws + oDh1, zm = ws + oZm;
  const epiW = acc ? EPI_ACCUM : EPI_STORE;
  for (let c = 0; c < C; c++) {
    const zin = zinP(c), th = thP(c), tt = ttP(c), te = teP(c);
    for (let i = 0; i < N * D; i++) sf(zm, i, mask(c, i % D) * f(zin, i));
    for (let n = 0; n < N; n++) {
      const gl = f(gld, n);
      for (let d = 0; d < D; d++) {
        const i = n * D + d;
        const m = mask(c, d), om: f32 = 1.0 - m;
        const tv = f(th, i), e = f(te, i);
        const go = f(g, i);
        const gom = go * om;
        const gs = -gom * f(tt, i) - gl;
        sf(gaS, i, gs * om * (1.0 - tv * tv));
        sf(gaT, i, -gom * e * om);
        sf(g, i, go * (om * e + m));
      }
    }
    memory.fill(dz, 0, (<usize>(N * D)) << 2);
    for (let k = 0; k < 2; k++) {
      const b = net(params, c, k), gb = net(grads, c, k), dv = der(c, k);
      const ga = k == 0 ? gaS : gaT;
      const h1 = hid(c, k), h2 = hid(c, 2 + k);
      // Layer 3: dW3 = gaᵀ h2, db3 = Σ ga, dh2 = (ga W3) ⊙ leaky'(h2) (its column sums are db2)
      gemm(ga, 1, D, h2, Hp, gb + ((<usize>offW3(D, Hp)) << 2), Hp, D, Hp, N, epiW, 0, 0, slope);
      for (let d = 0; d < D; d++) {
        let s: f64 = 0;
        for (let n = 0; n < N; n++) s += <f64>f(ga, n * D + d);
        const db3 = gb + ((<usize>offB3(D, Hp)) << 2);
        sf(db3, d, acc ? <f32>(<f64>f(db3, d) + s) : <f32>s);
      }
      const db2 = gb + ((<usize>offB2(D, Hp)) << 2), db1 = gb + ((<usize>offB1(D, Hp)) << 2);
      if (!acc) {
        memory.fill(db2, 0, (<usize>Hp) << 2);
        memory.fill(db1, 0, (<usize>Hp) << 2);
      }
      gemm(ga, D, 1, b + ((<usize>offW3(D, Hp)) << 2), Hp, dh2, Hp, N, Hp, D, EPI_LEAKY_GRAD_SUM, db2, h2, slope);
      // Layer 2: dW2 = dh2ᵀ h1, dh1 = (dh2 W2) ⊙ leaky'(h1) (its column sums are db1)
      gemm(dh2, 1, Hp, h1, Hp, gb + ((<usize>offW2(D, Hp)) << 2), Hp, Hp, Hp, N, epiW, 0, 0, slope);
      gemm(dh2, Hp, 1, b + ((<usize>offW2(D, Hp)) << 2), Hp, dh1, Hp, N, Hp, Hp, EPI_LEAKY_GRAD_SUM, db1, h1, slope);
      // Layer 1 (input zm = m ⊙ zin): dW1T = zmᵀ dh1, dz += dh1 W1Tmᵀ
      gemm(zm, 1, D, dh1, Hp, gb, Hp, D, Hp, N, epiW, 0, 0, slope);
      const acc = ws + oAux;
      rowsDot(dh1, Hp, dv + ((<usize>(Hp * Hp)) << 2), Hp, acc, D, N, D, Hp, 0);
      for (let i = 0; i < N * D; i++) sf(dz, i, f(dz, i) + f(acc, i));
    }
    for (let n = 0; n < N; n++) {
      for (let d = 0; d < D; d++) {
        const i = n * D + d;
        sf(g, i, f(g, i) + f(dz, i));
      }
    }
  }
}

/** ws.g = −w·z and ws.gld = w (the gradient of Σ w log p with respect to z and log|det|) on N rows. */
function seedLogProb(N: i32, useW: i32): void {
  const z = ws + oZ + rOffND, g = ws + oG + rOffND, gld = ws + oGld + rOffN, w = ws + oW + rOffN;
  for (let n = 0; n < N; n++) {
    const wn: f32 = useW ? f(w, n) : 1.0;
    sf(gld, n, wn);
    for (let d = 0; d < D; d++) sf(g, n * D + d, -wn * f(z, n * D + d));
  }
}

/** Rows per chunk of flowLogProbFwdBwd: the couplings' activations of a chunk (about 6 KB a row for the
 *  paper's flow) stay in L2 between the two passes (measured: N = 136 runs 12% faster per sample than 544). */
const FWD_BWD_ROWS: i32 = 128;

/** flowInverse then the backward of Σ_n w_n log p(x_n) (ws.w holds w, or all ones when useW = 0), chunk
 *  by chunk of rows (the parameter gradients summed over the chunks): ws.z, ws.ld, ws.lp and ws.g for all
 *  N rows, the parameter gradients in the grads buffer. */
export function flowLogProbFwdBwd(desc: usize, N: i32, useW: i32): void {
  bind(desc);
  assert(N <= cap, 'flowLogProbFwdBwd: N exceeds workspace capacity');
  if (N == 0) {
    rOffND = 0; rOffN = 0;
    backwardRows(0, false);
    return;
  }
  for (let r0 = 0; r0 < N; r0 += FWD_BWD_ROWS) {
    const n = min(FWD_BWD_ROWS, N - r0);
    rOffND = (<usize>(r0 * D)) << 2; rOffN = (<usize>r0) << 2;
    inverseRows(n);
    seedLogProb(n, useW);
    backwardRows(n, r0 > 0);
  }
  rOffND = 0; rOffN = 0;
}

/** Latent → data through the couplings (first to last). Reads ws.in; writes ws.out and ws.ld
 *  (log|det| of this direction). */
export function flowForward(desc: usize, N: i32): void {
  bind(desc);
  assert(N <= cap, 'flowForward: N exceeds workspace capacity');
  const x = ws + oOut, ld = ws + oLd;
  memory.copy(x, ws + oIn, (<usize>(N * D)) << 2);
  memory.fill(ld, 0, (<usize>N) << 2);
  const aS = ws + oAux, aT = ws + oAux + sND;
  for (let c = 0; c < C; c++) {
    const xin = zinP(c);
    memory.copy(xin, x, (<usize>(N * D)) << 2);
    nets(c, xin, N, aS, aT);
    for (let n = 0; n < N; n++) {
      let ldn = f(ld, n);
      for (let d = 0; d < D; d++) {
        const i = n * D + d;
        const m = mask(c, d), om: f32 = 1.0 - m;
        const s = om * Mathf.tanh(f(aS, i)), t = om * f(aT, i);
        const xi = f(xin, i);
        sf(x, i, m * xi + om * (xi * Mathf.exp(s) + t));
        ldn += s;
      }
      sf(ld, n, ldn);
    }
  }
}
