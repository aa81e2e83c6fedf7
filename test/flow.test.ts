// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ready, RealNVP, rleLoss, setSimd, wasmHeapInUse, flowParamSpecs, RLE_VARIANTS, FlowOptimizer, Rng } from '../src/index.js';
import { parityFlowFile, parityLossFile } from '../src/parity/flow.js';
import { getKernels } from '../src/wasm/loader.js';
import { readJSON, relErr } from './helpers/util.js';
import { refLogProb, refLoss, type RefFlow } from './helpers/reference.js';

await ready();

for (const file of ['realnvp2d.json', 'realnvp3d.json']) {
  test(`golden parity: every case of ${file} within 1e-4`, () => {
    const rep = parityFlowFile(readJSON(file));
    for (const c of rep.cases) {
      assert.ok(c.ok, `${c.name}: ${c.error ?? c.quantities.map((q) => `${q.name}=${q.error}`).join(' ')}`);
      assert.ok(c.quantities.length >= 6, `${c.name}: every quantity is checked`);
    }
    assert.ok(rep.maxError < 1e-4);
  });
}

test('golden parity: every case of rle2d.json (all variants) within 1e-4', () => {
  const j = readJSON('rle2d.json');
  const rep = parityLossFile(j);
  assert.equal(rep.cases.length, j.cases.length);
  for (const c of rep.cases) assert.ok(c.ok, `${c.name}: ${c.error ?? c.quantities.map((q) => `${q.name}=${q.error}`).join(' ')}`);
});

test('parity detects a wrong reference (the check can fail)', () => {
  const j = readJSON('realnvp2d.json');
  j.cases[0].log_prob.data[3] += 0.5;
  const rep = parityFlowFile(j);
  assert.equal(rep.ok, false);
  assert.equal(rep.cases[0].quantities.find((q) => q.name === 'log_prob')!.ok, false);
});

// ---- random configurations against a float64 reference, gradients by finite differences ----------

function randomFlow(rng: Rng, dim: number, hidden: number, couplings: number, binary = true): { flow: RealNVP; ref: RefFlow } {
  const masks = Array.from({ length: couplings }, (_, c) => {
    const m = Array.from({ length: dim }, () => (binary ? rng.int(2) : rng.next()));
    if (binary && dim > 1 && m.every((v) => v === m[0])) m[c % dim] = 1 - m[0];
    return m;
  });
  const flow = new RealNVP({ dim, hidden, masks, leakySlope: 0.01 + 0.1 * rng.next() });
  const specs = flowParamSpecs(dim, hidden, couplings);
  const flat = new Float32Array(flow.numParams);
  for (const s of specs) for (let i = 0; i < s.size; i++) flat[s.offset + i] = (rng.next() * 2 - 1) * 0.8 / Math.sqrt(s.fanIn);
  flow.setFlatParams(flat);
  return { flow, ref: { dim, hidden, masks, slope: flow.leakySlope, params: Float64Array.from(flat) } };
}

test('finite differences: log-prob gradients on random configurations (dims 1-4, odd widths, 1-5 couplings)', () => {
  const rng = new Rng(7);
  const configs: Array<[number, number, number, boolean]> = [[1, 5, 1, true], [2, 13, 3, true], [3, 20, 2, true], [4, 9, 5, true], [2, 8, 4, false], [3, 33, 6, true]];
  for (const [dim, hidden, couplings, binary] of configs) {
    const { flow, ref } = randomFlow(rng, dim, hidden, couplings, binary);
    const N = 5;
    const x = Float64Array.from({ length: N * dim }, () => rng.normal());
    const w = Float64Array.from({ length: N }, () => rng.uniform(0.2, 1.5));
    const xf = Float32Array.from(x);
    const got = flow.logProbGrad(xf, Float32Array.from(w));
    const objective = (xs: Float64Array, p: Float64Array) => {
      let s = 0;
      for (let n = 0; n < N; n++) s += w[n] * refLogProb({ ...ref, params: p }, Array.from(xs.subarray(n * dim, (n + 1) * dim)));
      return s;
    };
    const xr = Float64Array.from(xf);
    const lp = Array.from({ length: N }, (_, n) => refLogProb(ref, Array.from(xr.subarray(n * dim, (n + 1) * dim))));
    assert.ok(relErr(got.logProb, lp) < 1e-5, `logProb dim=${dim} H=${hidden}: ${relErr(got.logProb, lp)}`);
    const h = 1e-5;
    const fdX = new Float64Array(N * dim);
    for (let i = 0; i < xr.length; i++) {
      const a = xr.slice(), b = xr.slice(); a[i] += h; b[i] -= h;
      fdX[i] = (objective(a, ref.params) - objective(b, ref.params)) / (2 * h);
    }
    assert.ok(relErr(got.gradX, fdX) < 1e-4, `gradX dim=${dim} H=${hidden} C=${couplings}: ${relErr(got.gradX, fdX)}`);
    const flatG = flow.getFlatGradients();
    const idx = Array.from({ length: 60 }, () => rng.int(flow.numParams));
    const fdP = idx.map((i) => {
      const a = ref.params.slice(), b = ref.params.slice(); a[i] += h; b[i] -= h;
      return (objective(xr, a) - objective(xr, b)) / (2 * h);
    });
    const an = idx.map((i) => flatG[i]);
    assert.ok(relErr(an, fdP) < 1e-4, `gradParams dim=${dim} H=${hidden} C=${couplings}: ${relErr(an, fdP)}`);
    flow.dispose();
  }
});

test('finite differences: every loss variant, 2D and 3D, against a float64 reference', () => {
  const rng = new Rng(11);
  for (const dim of [2, 3]) {
    const { flow, ref } = randomFlow(rng, dim, 12, 4);
    const B = 2, K = 3, n = B * K * dim;
    const pred = Float32Array.from({ length: n }, () => rng.uniform(-0.4, 0.4));
    const target = Float32Array.from({ length: n }, () => rng.uniform(-0.4, 0.4));
    const sl = Float32Array.from({ length: n }, () => rng.uniform(-3, 1));
    const weight = Float32Array.from({ length: n }, (_, i) => ((i / dim | 0) % 3 === 2 ? 0 : 0.5 + (i % dim) * 0.25));
    for (const variant of RLE_VARIANTS) {
      const res = rleLoss({ pred, sigmaLogit: sl, target, weight, flow, variant, shape: [B, K, dim] });
      const f64 = (p: ArrayLike<number>, s: ArrayLike<number>, params = ref.params) => refLoss({ ...ref, params }, variant, B, K, p, s, target, weight);
      const lossRef = f64(pred, sl);
      assert.ok(Math.abs(res.loss - lossRef) / Math.abs(lossRef) < 1e-5, `${variant} dim=${dim} loss ${res.loss} vs ${lossRef}`);
      const h = 1e-5;
      const fd = (arr: Float32Array, which: 'p' | 's') => Array.from(arr, (_, i) => {
        const a = Float64Array.from(arr), b = Float64Array.from(arr); a[i] += h; b[i] -= h;
        return which === 'p' ? (f64(a, sl) - f64(b, sl)) / (2 * h) : (f64(pred, a) - f64(pred, b)) / (2 * h);
      });
      assert.ok(relErr(res.gradPred!, fd(pred, 'p')) < 1e-4, `${variant} dim=${dim} gradPred ${relErr(res.gradPred!, fd(pred, 'p'))}`);
      assert.ok(relErr(res.gradSigmaLogit!, fd(sl, 's')) < 1e-4, `${variant} dim=${dim} gradSigmaLogit ${relErr(res.gradSigmaLogit!, fd(sl, 's'))}`);
      const flatG = flow.getFlatGradients();
      const idx = Array.from({ length: 30 }, () => rng.int(flow.numParams));
      const fdP = idx.map((i) => {
        const a = ref.params.slice(), b = ref.params.slice(); a[i] += h; b[i] -= h;
        return (f64(pred, sl, a) - f64(pred, sl, b)) / (2 * h);
      });
      assert.ok(relErr(idx.map((i) => flatG[i]), fdP) < 1e-4, `${variant} dim=${dim} gradParams ${relErr(idx.map((i) => flatG[i]), fdP)}`);
    }
    flow.dispose();
  }
});

test('the chunked fwd+bwd (logProbBackward, rows in chunks of 128) equals the one-pass inverse + backward and a float64 reference', () => {
  const rng = new Rng(21);
  for (const [dim, hidden, couplings, binary, N] of [[2, 64, 6, true, 300], [3, 20, 3, false, 257], [2, 13, 2, true, 128], [1, 8, 2, true, 129]] as const) {
    const { flow, ref } = randomFlow(rng, dim, hidden, couplings, binary);
    try {
      const x = Float32Array.from({ length: N * dim }, () => rng.normal());
      const w = Float32Array.from({ length: N }, () => rng.uniform(0.2, 1.5));
      const chunked = flow.logProbGrad(x, w);
      // One pass: inverse over all rows, then the backward of Σ w log p through inverseGrad.
      const inv = flow.inverse(x);
      const gz = inv.z.map((v, i) => -w[Math.floor(i / dim)] * v);
      const onePass = flow.inverseGrad(x, gz, w);
      assert.ok(relErr(chunked.gradX, onePass.gradX) < 1e-5, `gradX dim=${dim} N=${N}: ${relErr(chunked.gradX, onePass.gradX)}`);
      for (const [name, t] of Object.entries(onePass.gradParams)) {
        assert.ok(relErr(chunked.gradParams[name].data, t.data) < 2e-5, `${name} dim=${dim} N=${N}: ${relErr(chunked.gradParams[name].data, t.data)}`);
      }
      const lp = Array.from({ length: N }, (_, n) => refLogProb(ref, Array.from(x.subarray(n * dim, (n + 1) * dim))));
      assert.ok(relErr(chunked.logProb, lp) < 1e-5, `logProb dim=${dim} N=${N}: ${relErr(chunked.logProb, lp)}`);
    } finally {
      flow.dispose();
    }
  }
});

test('property: forward(inverse(x)) ≈ x and log-dets cancel', () => {
  const rng = new Rng(3);
  const flows = [RealNVP.create({ dim: 2, seed: 1 }), RealNVP.create({ dim: 3, seed: 2, init: 'mmpose' }), randomFlow(rng, 4, 11, 3).flow];
  try {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: flows.length - 1 }),
      fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 48 }),
      (fi, vals) => {
        const f = flows[fi];
        const n = Math.floor(vals.length / f.dim);
        if (n === 0) return true;
        const x = Float32Array.from(vals.slice(0, n * f.dim));
        const inv = f.inverse(x);
        const back = f.forward(inv.z);
        for (let i = 0; i < x.length; i++) if (Math.abs(back.x[i] - x[i]) > 1e-4 * (1 + Math.abs(x[i]))) return false;
        for (let i = 0; i < n; i++) if (Math.abs(inv.logDet[i] + back.logDet[i]) > 1e-4 * (1 + Math.abs(inv.logDet[i]))) return false;
        return true;
      }), { numRuns: 200, seed: 42 });
  } finally {
    flows.forEach((f) => f.dispose());
  }
});

test('SIMD kernels equal their scalar twins (GEMM in every epilogue and stride, row dots, whole flow)', () => {
  const k = getKernels();
  const e = k.exports;
  const rng = new Rng(5);
  for (const [M, Nc, K, mode, trans] of [[1, 8, 1, 0, 0], [7, 16, 5, 1, 0], [13, 24, 64, 2, 0], [64, 64, 37, 0, 1], [10, 8, 3, 3, 1], [545, 64, 64, 1, 0], [64, 64, 1100, 0, 1], [6, 16, 9, 4, 0]] as const) {
    const aLen = M * K, bLen = K * Nc, cLen = M * Nc;
    const bytes = (aLen + bLen + 2 * cLen + Nc + cLen + 3 * Nc) * 4 + 64;
    const base = k.alloc(bytes);
    try {
      const A = base, B = A + aLen * 4, C1 = B + bLen * 4, C2 = C1 + cLen * 4, bias = C2 + cLen * 4, act = bias + Nc * 4;
      const fill = (p: number, n: number) => k.writeF32(p, Float32Array.from({ length: n }, () => rng.normal()));
      const W = act + cLen * 4;
      fill(A, aLen); fill(B, bLen); fill(bias, Nc); fill(act, cLen); fill(W, 3 * Nc);
      const [sm, sk] = trans ? [1, M] : [K, 1];
      e.gemmF32x4(A, sm, sk, B, Nc, C1, Nc, M, Nc, K, mode, bias, act, 0.01);
      e.gemmScalar(A, sm, sk, B, Nc, C2, Nc, M, Nc, K, mode, bias, act, 0.01);
      const r = relErr(k.readF32(C1, cLen), k.readF32(C2, cLen));
      assert.ok(r < 1e-6, `gemm M=${M} Nc=${Nc} K=${K} mode=${mode} trans=${trans}: ${r}`);
      if (mode === 2) { // the column-sum variant (bias gradients) on the same inputs
        const sums: Float32Array[] = [];
        for (const f of [e.gemmF32x4, e.gemmScalar]) {
          k.zero(bias, Nc * 4);
          f(A, sm, sk, B, Nc, C1, Nc, M, Nc, K, 5, bias, act, 0.01);
          sums.push(k.readF32(bias, Nc));
        }
        const ref = new Float32Array(Nc);
        const c = k.readF32(C1, cLen);
        for (let m = 0; m < M; m++) for (let j = 0; j < Nc; j++) ref[j] += c[m * Nc + j];
        assert.ok(relErr(sums[0], ref) < 1e-5 && relErr(sums[1], ref) < 1e-5, `column sums M=${M}`);
        fill(bias, Nc);
      }
      if (mode === 1) { // the LeakyReLU epilogue for every kind of slope (max form in [0, 1], select form outside)
        for (const slope of [0, 0.2, 1, 1.5, -0.3]) {
          e.gemmF32x4(A, sm, sk, B, Nc, C1, Nc, M, Nc, K, mode, bias, act, slope);
          e.gemmScalar(A, sm, sk, B, Nc, C2, Nc, M, Nc, K, mode, bias, act, slope);
          const rs = relErr(k.readF32(C1, cLen), k.readF32(C2, cLen));
          assert.ok(rs < 1e-6, `gemm bias+leaky M=${M} slope ${slope}: ${rs}`);
        }
      }
      e.rowsDotF32x4(B, Nc, W, Nc, C1, 3, Math.min(K, 3), 3, Nc, bias);
      e.rowsDotScalar(B, Nc, W, Nc, C2, 3, Math.min(K, 3), 3, Nc, bias);
      const rd = relErr(k.readF32(C1, 3 * Math.min(K, 3)), k.readF32(C2, 3 * Math.min(K, 3)));
      assert.ok(rd < 1e-6, `rowsDot K=${Nc}: ${rd}`);
    } finally {
      k.free(base);
    }
  }
  const j = readJSON('realnvp2d.json');
  const flow = RealNVP.fromJSON(j.flow);
  try {
    const x = j.cases[0].x;
    const a = flow.logProbGrad(x);
    setSimd(false);
    const b = flow.logProbGrad(x);
    setSimd(true);
    assert.ok(relErr(a.logProb, b.logProb) < 1e-6);
    assert.ok(relErr(a.gradX, b.gradX) < 1e-5);
    assert.ok(relErr(flow.getFlatGradients(), Float32Array.from(Object.values(b.gradParams).flatMap((t) => Array.from(t.data)))) < 1e-5);
  } finally {
    setSimd(true);
    flow.dispose();
  }
});

test('the WASM heap in use is the same before and after every public call', () => {
  const before = wasmHeapInUse();
  const j = readJSON('rle2d.json');
  const flow = RealNVP.fromJSON(j.flow);
  const c = j.cases[0];
  const x = Float32Array.from({ length: 200 }, (_, i) => Math.sin(i));
  const calls: Array<[string, () => unknown]> = [
    ['logProb', () => flow.logProb(x)],
    ['inverse', () => flow.inverse(x)],
    ['forward', () => flow.forward(x)],
    ['sample', () => flow.sample(100, 1)],
    ['logProbGrad', () => flow.logProbGrad(x)],
    ['inverseGrad', () => flow.inverseGrad(x, x, new Float32Array(100))],
    ['stateDict', () => flow.stateDict()],
    ['gradients', () => flow.gradients()],
    ['loadStateDict', () => flow.loadStateDict(j.flow.params)],
    ...RLE_VARIANTS.map((v) => [`rleLoss ${v}`, () => rleLoss({ pred: c.pred, sigmaLogit: c.sigma_logit, target: c.target, weight: c.weight, flow, variant: v })] as [string, () => unknown]),
  ];
  for (const [, fn] of calls) fn(); // the flow grows its workspace once, to the largest N
  for (const [name, fn] of calls) {
    const h0 = wasmHeapInUse();
    fn();
    assert.equal(wasmHeapInUse(), h0, `${name} changed the heap`);
  }
  const h0 = wasmHeapInUse();
  assert.throws(() => flow.logProb(new Float32Array([1, NaN])));
  assert.equal(wasmHeapInUse(), h0, 'a rejected call allocates nothing');
  const opt = new FlowOptimizer(flow);
  opt.update();
  opt.dispose();
  flow.dispose();
  assert.equal(wasmHeapInUse(), before, 'dispose returns every byte');
});

test('Adam and SGD in WASM match PyTorch’s update rules', () => {
  const flow = RealNVP.create({ dim: 2, hidden: 8, couplings: 2, seed: 4 });
  try {
    const x = Float32Array.from({ length: 40 }, (_, i) => Math.cos(i * 0.7));
    for (const type of ['adam', 'adamw', 'sgd'] as const) {
      flow.initialize('official', 9);
      const opt = new FlowOptimizer(flow, { type, lr: 0.01, weightDecay: 0.1, momentum: 0.9 });
      let p = Float64Array.from(flow.getFlatParams());
      const m = new Float64Array(p.length), v = new Float64Array(p.length);
      for (let t = 1; t <= 3; t++) {
        flow.logProbGrad(x);
        const g = Float64Array.from(flow.getFlatGradients());
        opt.update();
        for (let i = 0; i < p.length; i++) {
          let gi = g[i];
          if (type === 'sgd') {
            gi += 0.1 * p[i];
            m[i] = t === 1 ? gi : 0.9 * m[i] + gi;
            p[i] -= 0.01 * m[i];
            continue;
          }
          if (type === 'adamw') p[i] *= 1 - 0.01 * 0.1; else gi += 0.1 * p[i];
          m[i] = 0.9 * m[i] + 0.1 * gi;
          v[i] = 0.999 * v[i] + 0.001 * gi * gi;
          p[i] -= (0.01 / (1 - 0.9 ** t)) * m[i] / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
        }
        assert.ok(relErr(flow.getFlatParams(), p) < 1e-5, `${type} step ${t}: ${relErr(flow.getFlatParams(), p)}`);
        p = Float64Array.from(flow.getFlatParams());
      }
      opt.dispose();
    }
  } finally {
    flow.dispose();
  }
});

test('training the flow with Adam raises the log-likelihood of its data', () => {
  const flow = RealNVP.create({ dim: 2, hidden: 16, couplings: 4, seed: 1 });
  const opt = new FlowOptimizer(flow, { lr: 3e-3 });
  const rng = new Rng(2);
  const data = Float32Array.from({ length: 512 }, (_, i) => (i % 2 ? 0.3 * rng.normal() : Math.sign(rng.next() - 0.5) + 0.2 * rng.normal()));
  try {
    const before = flow.logProb(data).reduce((a, b) => a + b, 0) / 256;
    for (let s = 0; s < 150; s++) { flow.logProbGrad(data, new Float32Array(256).fill(-1 / 256)); opt.update(); }
    const after = flow.logProb(data).reduce((a, b) => a + b, 0) / 256;
    assert.ok(after > before + 0.3, `mean log p ${before} → ${after}`);
  } finally {
    opt.dispose();
    flow.dispose();
  }
});

test('SIMD exp and tanh (coupling arithmetic) agree with Math.exp / Math.tanh to float32 accuracy', () => {
  const k = getKernels();
  const xs = new Float32Array(4096);
  for (let i = 0; i < xs.length; i++) xs[i] = i < 2048 ? -30 + 60 * i / 2047 : (i % 2 ? 1 : -1) * Math.pow(10, -8 + 9 * ((i - 2048) / 2047));
  const p = k.alloc(xs.length * 12);
  try {
    k.writeF32(p, xs);
    k.exports.vmathTest(p, p + xs.length * 4, p + xs.length * 8, xs.length);
    const ex = k.readF32(p + xs.length * 4, xs.length), th = k.readF32(p + xs.length * 8, xs.length);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const re = Math.abs(ex[i] - Math.exp(x)) / Math.exp(x);
      assert.ok(re < 4e-7, `exp(${x}): ${ex[i]} vs ${Math.exp(x)} (rel ${re})`);
      const t = Math.tanh(x);
      const err = Math.abs(th[i] - t);
      assert.ok(err <= 3e-7 * Math.abs(t) + 1e-30, `tanh(${x}): ${th[i]} vs ${t} (rel ${err / Math.abs(t)})`);
    }
  } finally {
    k.free(p);
  }
});
