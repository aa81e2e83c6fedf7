// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ready, RealNVP, rleLoss, RLE_VARIANTS, SIGMA_MIN } from '../src/index.js';
import { readJSON } from './helpers/util.js';

await ready();

test('bad shapes and lengths name the op, the argument, what was expected and what came', () => {
  const flow = RealNVP.create({ dim: 2 });
  try {
    assert.throws(() => flow.logProb(new Float32Array(3)), /RealNVP\.logProb: x must hold N·D values with D = 2, got 3/);
    assert.throws(() => flow.logProb({ shape: [2, 3], data: new Array(6).fill(0) }), /x must have shape \[N,D\] = \[N,2\], got \[2,3\]/);
    assert.throws(() => flow.logProb({ shape: [2, 2], data: [1, 2, 3] }), /has shape \[2,2\] \(4 values\) but its data holds 3/);
    assert.throws(() => flow.logProb('abc' as never), TypeError);
    assert.throws(() => flow.logProb([[0, 1], [0]]), /ragged/);
    const p = new Float32Array(32 * 17 * 2);
    assert.throws(() => rleLoss({ pred: p, sigmaLogit: new Float32Array(32 * 17), target: p, flow, shape: [32, 17, 2] }),
      /rleLoss: sigmaLogit must have shape \[B,K,D\] = \[32,17,2\], got \[544\]/);
    assert.throws(() => rleLoss({ pred: { shape: [32, 17, 2], data: Array.from(p) }, sigmaLogit: { shape: [32, 17], data: new Array(544).fill(0) }, target: p, flow }),
      /rleLoss: sigmaLogit must have shape \[B,K,D\] = \[32,17,2\], got \[32,17\]/);
    assert.throws(() => rleLoss({ pred: p, sigmaLogit: p, target: p, flow }), /pred is a flat array: pass shape/);
    assert.throws(() => rleLoss({ pred: p, sigmaLogit: p, target: p, flow, shape: [32, 17, 2], variant: 'gauss' as never }),
      /unknown variant 'gauss'; expected one of official, mmpose_laplace/);
    assert.throws(() => rleLoss({ pred: new Float32Array(51), sigmaLogit: new Float32Array(51), target: new Float32Array(51), flow, shape: [1, 17, 3] }),
      /D must equal the flow's dim 2/);
    assert.throws(() => rleLoss({ pred: p, sigmaLogit: p, target: p, weight: p.map(() => -1), flow, shape: [32, 17, 2] }), /weight must be non-negative/);
  } finally {
    flow.dispose();
  }
});

test('NaN / Inf inputs are rejected before WASM runs, saying where', () => {
  const flow = RealNVP.create({ dim: 2 });
  try {
    const x = new Float32Array(10); x[7] = NaN;
    assert.throws(() => flow.logProb(x), /RealNVP\.logProb: x must be finite, got NaN at index \[3,1\]/);
    const p = new Float32Array(2 * 3 * 2); const t = p.slice(); t[5] = Infinity;
    assert.throws(() => rleLoss({ pred: p, sigmaLogit: p, target: t, flow, shape: [2, 3, 2] }), /target must be finite, got Infinity at index \[0,2,1\]/);
    assert.throws(() => flow.setFlatParams(new Float32Array(flow.numParams).fill(NaN)), /params must be finite/);
  } finally {
    flow.dispose();
  }
});

test('state dicts: every missing or mis-shaped entry is listed at once; prefixes are accepted', () => {
  const j = readJSON('realnvp2d.json');
  const sd: Record<string, unknown> = { ...j.flow.params };
  delete sd['s.1.2.bias'];
  sd['t.0.4.weight'] = { shape: [3, 64], data: new Array(192).fill(0) };
  const ref = new RealNVP({ dim: 2, hidden: 64, masks: j.flow.masks });
  try {
    assert.throws(() => ref.loadStateDict(sd), (e: Error) =>
      /2 problem\(s\)/.test(e.message) && /missing 's\.1\.2\.bias' \[64\]/.test(e.message) && /'t\.0\.4\.weight' must have shape \[2,64\], got \[3,64\]/.test(e.message));
  } finally {
    ref.dispose();
  }
  const prefixed: Record<string, unknown> = { 'flow.mask': { shape: [6, 2], data: j.flow.masks.flat() } };
  for (const [k, v] of Object.entries(j.flow.params)) prefixed[`flow.${k}`] = v;
  const f = RealNVP.fromStateDict(prefixed);
  const mm: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(j.flow.params)) mm[`head.loss_module.flow_model.${k}`] = v;
  const g = RealNVP.fromStateDict(mm);
  try {
    assert.deepEqual(f.masks, j.flow.masks);
    assert.equal(f.couplings, 6);
    const x = j.cases[0].x;
    assert.deepEqual(f.logProb(x), g.logProb(x));
    const back = f.stateDict({ prefix: 'flow.', includeMask: true });
    assert.deepEqual(Array.from(back['flow.s.0.0.weight'].data), Array.from(Float32Array.from(j.flow.params['s.0.0.weight'].data)));
    assert.deepEqual(back['flow.mask'].shape, [6, 2]);
  } finally {
    f.dispose(); g.dispose();
  }
  assert.throws(() => RealNVP.fromStateDict({ foo: 1 }), /no flow parameters found/);
});

test('σ at the extremes never yields NaN: σ→0 is clamped at SIGMA_MIN with zero logit gradient, σ→1 saturates', () => {
  const j = readJSON('rle2d.json');
  const flow = RealNVP.fromJSON(j.flow);
  try {
    const B = 1, K = 4, D = 2;
    const pred = Float32Array.from([0.1, -0.2, 0.3, 0.05, 0, 0, 0.2, 0.2]);
    const target = Float32Array.from([0.1, -0.1, 0.0, 0.05, 0, 0, -0.2, 0.2]);
    const sl = Float32Array.from([-60, -60, 60, 60, -30, 30, -13, 13]);
    for (const variant of RLE_VARIANTS) {
      const r = rleLoss({ pred, sigmaLogit: sl, target, flow, variant, shape: [B, K, D] });
      assert.ok(Number.isFinite(r.loss), `${variant}: loss ${r.loss}`);
      assert.ok(r.gradPred!.every(Number.isFinite) && r.gradSigmaLogit!.every(Number.isFinite), `${variant}: finite gradients`);
      assert.ok(Object.values(r.gradParams!).every((t) => t.data.every(Number.isFinite)), `${variant}: finite flow gradients`);
      assert.equal(r.sigma[0], Math.fround(SIGMA_MIN));
      if (variant !== 'l1' && variant !== 'l2') {
        assert.equal(r.gradSigmaLogit![0], 0, `${variant}: clamped σ passes no gradient`);
        assert.ok(Math.abs(r.gradSigmaLogit![2]) < 1e-12, `${variant}: saturated σ has a vanishing gradient`);
        assert.notEqual(r.gradSigmaLogit![6], 0, `${variant}: σ = sigmoid(-13) is above the clamp and still learns`);
      }
    }
  } finally {
    flow.dispose();
  }
});

test('a disposed flow refuses work', () => {
  const f = RealNVP.create();
  f.dispose();
  f.dispose();
  assert.throws(() => f.logProb(new Float32Array(2)), /disposed/);
});
