// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ready, RealNVP, Rng } from '../src/index.js';
import {
  pck, pckh, bboxNorm, mpjpe, paMpjpe, meanError, similarityTransform, applySimilarity, svdSmall,
  gammaP, laplaceRegionRadius, gaussianRegionRadius, calibrationReport, formatCalibration,
  densityContours, marchingSquares, contourToImage, flowRegionThresholds,
} from '../src/eval/metrics.js';

await ready();

const close = (a: number, b: number, tol: number, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b} (tol ${tol})`);

// ---------------------------------------------------------------------------------------------------
// PCK / PCKh

// Two samples, three joints, hand-made errors (in px).
const P = [[[10.5, 10], [21, 20], [0, 0]], [[3, 4], [50, 51], [61, 61]]];
const G = [[[10, 10], [20, 20], [99, 99]], [[0, 0], [50, 50], [60, 60]]];
const V = [[1, 1, 0], [1, 1, 1]];

test('pck: MMPose bbox convention on a hand-made case (strict <, mean of per-joint accuracies)', () => {
  // norm 10 and 20 → thresholds 1 px and 2 px at α = 0.1.
  // s0: j0 0.5 px ✓, j1 1 px ✗ (1/10 = 0.1 is not < 0.1), j2 invisible; s1: j0 5 px ✗, j1 1 px ✓, j2 √2 px ✓.
  const r = pck(P, G, V, [10, 20], 0.1);
  assert.deepEqual(r.counts, [2, 2, 1]);
  assert.deepEqual(r.perJoint, [0.5, 0.5, 1]);
  close(r.pck, 2 / 3, 1e-12);
  close(r.overall, 3 / 5, 1e-12);
  assert.equal(r.count, 5);
  // Per-axis normalisers [N, 2] and flat typed arrays with the shape given.
  const r2 = pck(new Float32Array(P.flat(2)), new Float64Array(G.flat(2)), new Uint8Array(V.flat()), [[10, 10], [20, 20]], 0.1, { shape: [2, 3, 2] });
  assert.deepEqual(r2.perJoint, r.perJoint);
  // A flat [N] normaliser fixes N when nothing else does.
  assert.deepEqual(pck(Float64Array.from(P.flat(2)), Float64Array.from(G.flat(2)), null, Float64Array.of(10, 20), 0.1).counts, [2, 2, 2]);
  // A zero normaliser drops the sample (MMPose).
  const r3 = pck(P, G, V, [0, 20], 0.1);
  assert.deepEqual(r3.counts, [1, 1, 1]);
  assert.deepEqual(r3.perJoint, [0, 1, 1]);
  assert.deepEqual(Array.from(bboxNorm([[0, 0, 30, 40], [5, 5, 12, 7]])), [40, 12]);
});

test('pckh: MPII convention (0.6 × head-box diagonal, ≤, count-weighted mean with excluded joints)', () => {
  // head sizes 5 and 10 → 3 and 6 px normalisers; α = 0.5 → 1.5 px and 3 px.
  const r = pckh(P, G, V, [5, 10], 0.5);
  // s0: 0.5 ✓, 1 ✓; s1: 5 ✗, 1 ✓, √2 ✓
  assert.deepEqual(r.perJoint, [0.5, 1, 1]);
  close(r.pck, 4 / 5, 1e-12);
  const r2 = pckh(P, G, V, [5, 10], 0.5, { exclude: [1] });
  close(r2.pck, 2 / 3, 1e-12);
  // ≤ at the boundary: an error of exactly α·0.6·h counts.
  const b = pckh([[[3, 0]]], [[[0, 0]]], null, [10], 0.5);
  assert.equal(b.pck, 1);
  const b2 = pckh([[[3, 0]]], [[[0, 0]]], null, [10], 0.5, { headScale: 0.5 });
  assert.equal(b2.pck, 0);
});

// ---------------------------------------------------------------------------------------------------
// MPJPE, mean error, PA-MPJPE

test('mpjpe / meanError: exact values, root-relative, per joint and coordinate', () => {
  const pred = [[[3, 4, 0], [0, 0, 12], [1, 1, 1]]];
  const gt = [[[0, 0, 0], [0, 0, 0], [1, 1, 1]]];
  const r = mpjpe(pred, gt);
  close(r.mean, (5 + 12 + 0) / 3, 1e-12);
  assert.deepEqual(r.perJoint, [5, 12, 0]);
  const r2 = mpjpe(pred, gt, [[1, 0, 1]]);
  close(r2.mean, 2.5, 1e-12);
  assert.ok(Number.isNaN(r2.perJoint[1]));
  // Root-relative on joint 2: pred − root = (2,3,-1), (-1,-1,11), 0; gt − root = (-1,-1,-1), (-1,-1,-1), 0.
  const r3 = mpjpe(pred, gt, null, { rootJoint: 2 });
  close(r3.mean, (Math.hypot(3, 4, 0) + Math.hypot(0, 0, 12) + 0) / 3, 1e-12);
  const m = meanError(pred, gt);
  assert.deepEqual(m.perCoord, [1, 4 / 3, 4]);
  close(m.meanAbs, (1 + 4 / 3 + 4) / 3, 1e-12);
  close(m.mean, r.mean, 1e-12);
});

function randomRotation3(rng: Rng): number[] {
  let q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
  const n = Math.hypot(...q);
  q = q.map((v) => v / n);
  const [w, x, y, z] = q;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

test('paMpjpe: a rotated, scaled, translated copy of gt aligns to ~0 (3-D and 2-D)', () => {
  const rng = new Rng(7);
  const N = 5, K = 17;
  const gt = new Float64Array(N * K * 3), pred = new Float64Array(N * K * 3);
  for (let i = 0; i < N; i++) {
    const R = randomRotation3(rng), s = rng.uniform(0.3, 3), t = [rng.normal() * 100, rng.normal() * 100, rng.normal() * 100];
    for (let k = 0; k < K; k++) {
      const x = [rng.normal() * 300, rng.normal() * 300, rng.normal() * 300];
      for (let d = 0; d < 3; d++) {
        gt[(i * K + k) * 3 + d] = x[d];
        pred[(i * K + k) * 3 + d] = s * (R[d * 3] * x[0] + R[d * 3 + 1] * x[1] + R[d * 3 + 2] * x[2]) + t[d];
      }
    }
  }
  const r = paMpjpe(pred, gt, null, { shape: [N, K, 3] });
  assert.ok(r.mean < 1e-8, `PA-MPJPE ${r.mean}`);
  assert.ok(mpjpe(pred, gt, null, { shape: [N, K, 3] }).mean > 10);
  // 2-D: rotation by 0.7 rad, scale 0.5, translation.
  const g2 = [[[0, 0], [1, 0], [0, 2], [3, 1]]];
  const c = Math.cos(0.7), sn = Math.sin(0.7);
  const p2 = [g2[0].map(([x, y]) => [0.5 * (c * x - sn * y) + 4, 0.5 * (sn * x + c * y) - 2])];
  assert.ok(paMpjpe(p2, g2).mean < 1e-12);
  // Planar 3-D points (rank-deficient cross-covariance) still align exactly.
  const pl = [[[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 3, 0]]];
  const plr = [pl[0].map(([x, y, z]) => [2 * y + 1, -2 * x, 2 * z + 5])];
  assert.ok(paMpjpe(plr, pl).mean < 1e-12);
});

test('paMpjpe: a mirrored skeleton is not aligned by a reflection (det R = +1, optimal over rotations)', () => {
  // 3-D, non-planar: x → −x cannot be undone by a rotation.
  const g = [[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 1, 1]];
  const m = g.map(([x, y, z]) => [-x, y, z]);
  const r = paMpjpe([m], [g]);
  assert.ok(r.mean > 0.1, `mirrored PA-MPJPE ${r.mean}`);
  const X = Float64Array.from(m.flat()), Y = Float64Array.from(g.flat());
  const t = similarityTransform(X, Y, 3);
  const R = t.rotation;
  const det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) + R[2] * (R[3] * R[7] - R[4] * R[6]);
  close(det, 1, 1e-12, 'det R');
  const sse = (Z: Float64Array) => { let s = 0; for (let i = 0; i < Z.length; i++) s += (Z[i] - Y[i]) ** 2; return s; };
  const ours = sse(applySimilarity(t, X, 3));
  // No random rotation (with its own optimal scale and translation) does better.
  const rng = new Rng(3);
  for (let it = 0; it < 2000; it++) {
    const Rr = Float64Array.from(randomRotation3(rng));
    const RX = applySimilarity({ scale: 1, rotation: Rr, translation: new Float64Array(3) }, X, 3);
    const best = similarityFixedRotation(RX, Y, 3);
    assert.ok(best >= ours - 1e-9, `rotation ${it} gives ${best} < ${ours}`);
  }
  // 2-D: brute force over the angle agrees with the closed form.
  const g2 = [[0, 0], [2, 0], [0, 1], [1, 3]];
  const m2 = g2.map(([x, y]) => [-x + 0.3 * y, y]);
  const X2 = Float64Array.from(m2.flat()), Y2 = Float64Array.from(g2.flat());
  const t2 = similarityTransform(X2, Y2, 2);
  let ours2 = 0;
  applySimilarity(t2, X2, 2).forEach((v, i) => { ours2 += (v - Y2[i]) ** 2; });
  let brute = Infinity;
  for (let a = 0; a < 2 * Math.PI; a += 1e-4) {
    const ca = Math.cos(a), sa = Math.sin(a);
    const RX = new Float64Array(X2.length);
    for (let r = 0; r < 4; r++) { RX[r * 2] = ca * X2[r * 2] - sa * X2[r * 2 + 1]; RX[r * 2 + 1] = sa * X2[r * 2] + ca * X2[r * 2 + 1]; }
    brute = Math.min(brute, similarityFixedRotation(RX, Y2, 2));
  }
  assert.ok(ours2 <= brute + 1e-9 && ours2 >= brute - 1e-5, `closed form ${ours2} vs brute force ${brute}`);
  assert.ok(ours2 > 0.1);
});

/** Min over scale ≥ … and translation of Σ‖s x + t − y‖² for already-rotated X. */
function similarityFixedRotation(X: Float64Array, Y: Float64Array, D: number): number {
  const n = X.length / D;
  const mx = new Float64Array(D), my = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) { mx[d] += X[r * D + d] / n; my[d] += Y[r * D + d] / n; }
  let xy = 0, xx = 0;
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) { const a = X[r * D + d] - mx[d], b = Y[r * D + d] - my[d]; xy += a * b; xx += a * a; }
  const s = Math.max(0, xy / xx);
  let e = 0;
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) e += (s * (X[r * D + d] - mx[d]) - (Y[r * D + d] - my[d])) ** 2;
  return e;
}

test('svdSmall: A = U S Vᵀ with orthogonal factors, also rank-deficient', () => {
  const rng = new Rng(11);
  for (const D of [2, 3, 4]) {
    for (const rank of [D, D - 1]) {
      const B = Float64Array.from({ length: D * rank }, () => rng.normal());
      const C = Float64Array.from({ length: rank * D }, () => rng.normal());
      const A = new Float64Array(D * D);
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) for (let k = 0; k < rank; k++) A[i * D + j] += B[i * rank + k] * C[k * D + j];
      const { U, S, V } = svdSmall(A, D);
      for (let i = 0; i < D; i++) {
        for (let j = 0; j < D; j++) {
          let a = 0, uu = 0, vv = 0;
          for (let k = 0; k < D; k++) { a += U[i * D + k] * S[k] * V[j * D + k]; uu += U[k * D + i] * U[k * D + j]; vv += V[k * D + i] * V[k * D + j]; }
          close(a, A[i * D + j], 1e-10, `A[${i},${j}] D=${D} rank=${rank}`);
          close(uu, i === j ? 1 : 0, 1e-10, 'UᵀU');
          close(vv, i === j ? 1 : 0, 1e-10, 'VᵀV');
        }
      }
      for (let k = 1; k < D; k++) assert.ok(S[k] <= S[k - 1]);
    }
  }
});

test('metrics: clear errors for shapes, NaN and bad arguments', () => {
  assert.throws(() => pck(P, [[[0, 0]]], V, [1, 1], 0.1), /pck: gt must have shape \[N,K,D\] = \[2,3,2\], got \[1,1,2\]/);
  assert.throws(() => pck(P, G, [[1, 1]], [1, 1], 0.1), /pck: visible must have shape \[N,K\] = \[2,3\], got \[1,2\]/);
  assert.throws(() => pck(P, G, V, [1, 2, 3], 0.1), /pck: norm must have shape \[N\] = \[2\] or \[N,D\] = \[2,2\], got \[3\]/);
  assert.throws(() => pck(P, G, V, [1, -2], 0.1), /pck: norm must be finite and non-negative, got -2 at index \[1\]/);
  assert.throws(() => pck(P, G, V, [1, 1], NaN), /pck: alpha must be a finite positive number, got NaN/);
  assert.throws(() => mpjpe(new Float32Array(12), new Float32Array(12)), /mpjpe: pred is a flat array of 12 values and its \[N,K,D\] shape cannot be inferred/);
  assert.throws(() => mpjpe([[[NaN, 0]]], [[[0, 0]]]), /mpjpe: pred must be finite at visible joints, got NaN at index \[0,0,0\]/);
  // NaN at an invisible joint is fine.
  assert.equal(mpjpe([[[NaN, 0], [1, 0]]], [[[0, 0], [0, 0]]], [[0, 1]]).mean, 1);
  assert.throws(() => pckh(P, G, V, [0, 1]), /pckh: headSize must be finite and positive, got 0 at index \[0\]/);
  assert.throws(() => mpjpe(P, G, null, { rootJoint: 3 }), /mpjpe: opts.rootJoint must be a joint index in \[0,3\), got 3/);
  assert.throws(() => mpjpe('x' as never, G), TypeError);
});

// ---------------------------------------------------------------------------------------------------
// Distribution helpers

test('region radii: Laplace (Gamma(D,1)) and Gaussian (χ²_D) quantiles', () => {
  close(gaussianRegionRadius(0.5, 2), Math.sqrt(2 * Math.LN2), 1e-10);
  close(gaussianRegionRadius(0.8, 2), Math.sqrt(-2 * Math.log(0.2)), 1e-10);
  close(gaussianRegionRadius(0.95, 1), 1.959963984540054, 1e-9);
  close(gaussianRegionRadius(0.5, 3) ** 2, 2.365973884375338, 1e-9); // χ²_3 median
  const r = laplaceRegionRadius(0.5, 2);
  close(1 - Math.exp(-r) * (1 + r), 0.5, 1e-12);
  close(laplaceRegionRadius(0.9, 1), Math.log(10), 1e-10);
  close(gammaP(3, 2), 1 - Math.exp(-2) * (1 + 2 + 2), 1e-14);
  // P(5/2, x) = erf(√x) − x^½ e^−x / Γ(3/2) − x^{3/2} e^−x / Γ(5/2) = 0.99875026943696…
  close(gammaP(2.5, 10), 0.9987502694369687, 1e-13);
  close(gammaP(0.5, 0.3), 0.5614219739190001, 1e-13); // erf(√0.3)
});

// ---------------------------------------------------------------------------------------------------
// σ calibration

const LEVELS = [0.5, 0.8, 0.9, 0.95];
const NS = 500, KS = 20; // 10 000 residuals

function standardFlow(): RealNVP {
  const f = RealNVP.create({ dim: 2, hidden: 32, couplings: 4, seed: 0 });
  f.setFlatParams(new Float32Array(f.numParams)); // all-zero: s = t = 0, the identity, log p = log N(0, I)
  return f;
}

/** pred, sigma (per joint and coordinate, spread over ~1..8 px) and gt = pred − σ ⊙ x for residuals x [N·K·2]. */
function makeCase(x: Float32Array | Float64Array, seed: number, sign = 1) {
  const rng = new Rng(seed);
  const n = NS * KS * 2;
  const pred = new Float64Array(n), sigma = new Float64Array(n), gt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    pred[i] = rng.uniform(0, 256);
    sigma[i] = Math.exp(rng.uniform(0, Math.log(8)));
    gt[i] = pred[i] - sign * sigma[i] * x[i];
  }
  return { pred, sigma, gt, shape: [NS, KS, 2] as [number, number, number] };
}

test('calibration (1): standard-normal flow and N(0, I)·σ residuals: flow and Gaussian coverage ≈ p, Laplace not', () => {
  const flow = standardFlow();
  const rng = new Rng(5);
  const x = Float64Array.from({ length: NS * KS * 2 }, () => rng.normal());
  const c = makeCase(x, 6);
  const r = calibrationReport({ flow, ...c, levels: LEVELS, samples: 20000, seed: 1 });
  console.log(formatCalibration(r));
  assert.equal(r.count, NS * KS);
  r.levels.forEach((p, i) => {
    close(r.gaussian.coverage[i], p, 0.02, `gaussian p=${p}`);
    close(r.flow.coverage[i], p, 0.02, `flow p=${p}`);
    // t_p = log N at radius² = −2 ln(1 − p); its sampling sd is √(p(1 − p)/M) / (1 − p).
    close(r.flow.thresholds[i], -Math.log(2 * Math.PI) + Math.log(1 - p), 3 * Math.sqrt(p * (1 - p) / 20000) / (1 - p), `t_p p=${p}`);
  });
  // The same-mass Laplace(μ̂, σ) region is larger than the Gaussian's: it over-covers Gaussian errors.
  assert.ok(r.laplace.coverage[0] > 0.55 && r.laplace.coverage[1] > 0.9, `laplace coverage: ${r.laplace.coverage}`);
  assert.ok(r.laplace.calibrationError > 0.05);
  close(r.errorToSigma, Math.sqrt(2 / Math.PI), 0.02, 'E|x| of N(0,1)');
  assert.equal(r.flow.perJoint.length, LEVELS.length);
  assert.equal(r.flow.perJoint[0].length, KS);
  flow.dispose();
});

test('calibration (2): residuals drawn from the flow itself → flow coverage ≈ p within ±2 % (M = 20 000)', () => {
  const flow = RealNVP.create({ dim: 2, hidden: 64, couplings: 6, seed: 3 }); // official init: a non-Gaussian density
  const x = flow.sample(NS * KS, 1234);
  const c = makeCase(x, 8);
  const r = calibrationReport({ flow, ...c, samples: 20000, seed: 2 });
  console.log(formatCalibration(r));
  r.levels.forEach((p, i) => close(r.flow.coverage[i], p, 0.02, `flow p=${p}`));
  flow.dispose();
});

test('calibration: the residual sign is (μ̂ − μ)/σ, as in the loss (an off-centre flow tells the signs apart)', () => {
  // Zero parameters except the translation nets' last bias: every coupling shifts, so the flow is a
  // unit Gaussian centred away from 0 and the flipped residual lands in its tail.
  const flow = RealNVP.create({ dim: 2, hidden: 16, couplings: 2, seed: 0 });
  const flat = new Float32Array(flow.numParams);
  for (const s of flow.specs) if (/^t\.\d\.4\.bias$/.test(s.name)) flat.fill(1.5, s.offset, s.offset + s.size);
  flow.setFlatParams(flat);
  const x = flow.sample(NS * KS, 77);
  const right = calibrationReport({ flow, ...makeCase(x, 9, 1), samples: 20000, seed: 3 });
  const wrong = calibrationReport({ flow, ...makeCase(x, 9, -1), samples: 20000, seed: 3 });
  right.levels.forEach((p, i) => close(right.flow.coverage[i], p, 0.02, `p=${p}`));
  assert.ok(wrong.flow.coverage[3] < 0.5, `flipped sign coverage at 0.95: ${wrong.flow.coverage[3]}`);
  flow.dispose();
});

test('calibration (3): σ three times too large → coverage ≫ p; Laplace residuals → Laplace coverage ≈ p', () => {
  const flow = RealNVP.create({ dim: 2, hidden: 64, couplings: 6, seed: 3 });
  const x = flow.sample(NS * KS, 4321);
  const c = makeCase(x, 10);
  const big = Float64Array.from(c.sigma, (s) => 3 * s);
  const r = calibrationReport({ flow, ...c, sigma: big, samples: 20000, seed: 4 });
  console.log(formatCalibration(r));
  r.levels.forEach((p, i) => assert.ok(r.flow.coverage[i] > p + 0.03, `p=${p}: ${r.flow.coverage[i]}`));
  assert.ok(r.flow.coverage[0] > 0.8, `p=0.5: ${r.flow.coverage[0]}`);
  flow.dispose();
  // Laplace(0, 1) residuals: the analytic Laplace regions are calibrated.
  const f0 = standardFlow();
  const rng = new Rng(12);
  const lap = Float64Array.from({ length: NS * KS * 2 }, () => { const u = rng.next() - 0.5; return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)); });
  const rl = calibrationReport({ flow: f0, ...makeCase(lap, 13), samples: 20000 });
  rl.levels.forEach((p, i) => close(rl.laplace.coverage[i], p, 0.02, `laplace p=${p}`));
  // And √2 scale (the official Q) is a different, wider region.
  const rl2 = calibrationReport({ flow: f0, ...makeCase(lap, 13), samples: 20000, laplaceScale: Math.SQRT2 });
  assert.ok(rl2.laplace.coverage[0] > 0.6);
  f0.dispose();
});

test('calibrationReport: visibility, per-joint rows, errors', () => {
  const flow = standardFlow();
  const rng = new Rng(1);
  const x = Float64Array.from({ length: NS * KS * 2 }, () => rng.normal());
  const c = makeCase(x, 2);
  const vis = new Uint8Array(NS * KS).fill(1);
  for (let i = 0; i < NS; i++) vis[i * KS + 3] = 0; // joint 3 never visible
  const names = Array.from({ length: KS }, (_, k) => `kp${k}`);
  const r = calibrationReport({ flow, ...c, visible: vis, keypointNames: names, samples: 5000 });
  assert.equal(r.count, NS * (KS - 1));
  assert.equal(r.counts[3], 0);
  assert.ok(Number.isNaN(r.flow.perJoint[0][3]));
  const txt = formatCalibration(r, { perJoint: true });
  assert.match(txt, /kp19/);
  assert.match(txt, /Gaussian\(μ̂,σ\)/);
  const bad = Float64Array.from(c.sigma);
  bad[5] = 0;
  assert.throws(() => calibrationReport({ flow, ...c, sigma: bad }), /calibrationReport: sigma must be positive at visible joints, got 0 at index \[0,2,1\]/);
  assert.throws(() => calibrationReport({ flow, ...c, levels: [0.5, 1] }), /calibrationReport: levels must be numbers in \(0,1\), got 1/);
  assert.throws(() => calibrationReport({ flow, ...c, shape: [NS, KS * 2, 1] }), /D = 1 coordinates but the flow has dim 2/);
  flow.dispose();
});

// ---------------------------------------------------------------------------------------------------
// Contours

test('densityContours: a standard-normal flow gives circles of radius √(−2 ln(1 − p))', () => {
  const flow = standardFlow();
  const dc = densityContours(flow, [0.5, 0.8], 101, { samples: 20000, seed: 5 });
  for (const c of dc.contours) {
    assert.equal(c.lines.length, 1, `one line at p=${c.level}`);
    const line = c.lines[0];
    assert.ok(line.closed);
    assert.ok(line.points.length > 40);
    const R = Math.sqrt(-2 * Math.log(1 - c.level));
    for (const [x, y] of line.points) close(Math.hypot(x, y), R, 0.03, `radius at p=${c.level}`);
  }
  close(Math.sqrt(-2 * Math.log(1 - 0.5)), 1.1774, 1e-4);
  // The default box spans the largest region (radius 1.79) plus a 15 % margin per side: about ±2.3.
  for (const [i, sgn] of [[0, -1], [1, 1], [2, -1], [3, 1]]) close(dc.box[i], sgn * 1.794 * 1.3, 0.12, `box[${i}]`);
  // boxMass: the central 99 % of the samples per axis (±2.576), here without a margin.
  const wide = densityContours(flow, [0.5], 21, { samples: 20000, boxMass: 0.99, margin: 0 });
  for (const [i, sgn] of [[0, -1], [1, 1], [2, -1], [3, 1]]) close(wide.box[i], sgn * 2.576, 0.12, `boxMass box[${i}]`); // sampling sd of that quantile ≈ 0.035
  assert.equal(dc.logProb.length, 101 * 101);
  // Image space: μ̂ − σ ⊙ c.
  const img = contourToImage(dc.contours[0].lines[0], [100, 50], [2, 4]);
  for (const [x, y] of img) close(Math.hypot((x - 100) / 2, (y - 50) / 4), 1.1774, 0.03);
  const th = flowRegionThresholds(flow, [0.5], 1000, 1);
  assert.equal(th.thresholds.length, 1);
  assert.throws(() => densityContours(flow, [0.5], 2), /gridSize must be an integer in \[3, 2048\], got 2/);
  flow.dispose();
});

test('marchingSquares: closed circles, two blobs, saddles and lines cut by the edge', () => {
  const n = 81;
  const X = (i: number) => -4 + (8 * i) / (n - 1);
  const f = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) f[j * n + i] = -(X(i) ** 2 + X(j) ** 2);
  const c = marchingSquares(f, n, n, -4, X, X);
  assert.equal(c.length, 1);
  assert.ok(c[0].closed);
  for (const [x, y] of c[0].points) close(Math.hypot(x, y), 2, 0.02);
  // Two separate bumps → two closed lines.
  const g = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) g[j * n + i] = Math.exp(-((X(i) - 2) ** 2 + X(j) ** 2)) + Math.exp(-((X(i) + 2) ** 2 + X(j) ** 2));
  const two = marchingSquares(g, n, n, 0.5, X, X);
  assert.equal(two.length, 2);
  assert.ok(two.every((l) => l.closed));
  // A 2×2 saddle: both resolutions give two segments.
  assert.equal(marchingSquares([1, 0, 0, 1], 2, 2, 0.5).length, 2);
  assert.equal(marchingSquares([1, 0, 0, 1], 2, 2, 0.4).length, 2);
  // A plane cut by the grid edge: one open line.
  const h = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) h[j * n + i] = X(i);
  const open = marchingSquares(h, n, n, 0.05, X, X);
  assert.equal(open.length, 1);
  assert.equal(open[0].closed, false);
  assert.equal(open[0].points.length, n);
});

test('calibration in 3-D: a standard-normal 3-D flow and N(0, I)·σ residuals (χ²₃ and Gamma(3) regions)', () => {
  const flow = RealNVP.create({ dim: 3, hidden: 16, couplings: 2, seed: 0 });
  flow.setFlatParams(new Float32Array(flow.numParams));
  const rng = new Rng(21);
  const n = 4000;
  const pred = new Float64Array(n * 3), gt = new Float64Array(n * 3), sigma = new Float64Array(n * 3);
  for (let i = 0; i < n * 3; i++) { pred[i] = rng.uniform(-500, 500); sigma[i] = rng.uniform(5, 50); gt[i] = pred[i] - sigma[i] * rng.normal(); }
  const r = calibrationReport({ flow, pred, gt, sigma, shape: [n, 1, 3], seed: 9 });
  r.levels.forEach((p, i) => {
    close(r.flow.coverage[i], p, 0.025, `flow p=${p}`);
    close(r.gaussian.coverage[i], p, 0.025, `gaussian p=${p}`);
  });
  close(r.gaussian.thresholds[0] ** 2, 2.365973884375338, 1e-9);
  flow.dispose();
});
