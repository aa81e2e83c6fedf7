// SPDX-License-Identifier: MIT
// Renders one example of each report picture into docs/ (after `npm run build`):
//   node scripts/report-examples.mjs [outDir=docs]
// Everything is synthetic and computed here: a RealNVP is fitted to synthetic heavy-tailed, correlated
// residuals (its NLL per step gives the loss curves), the calibration report uses residuals drawn from
// that distribution, and the pose pictures use a drawn figure with known keypoints.
import { ready, RealNVP, FlowOptimizer, Rng } from '../dist/src/index.js';
import { calibrationReport, formatCalibration, densityContours, pck, meanError } from '../dist/src/eval/metrics.js';
import {
  svgPosePrediction, svgGrid, svgDensityComparison, svgLossCurves, svgCalibration, svgBarTable,
  COCO_KEYPOINT_NAMES, COCO_SKELETON,
} from '../dist/src/report/index.js';
import { writeReport, encodePngNode } from '../dist/src/report/node.js';

const outDir = process.argv[2] ?? 'docs';
await ready();

/** Synthetic residuals: 70 % N(0, 0.6²) + 30 % Laplace(0, 1.6), then a shear that correlates x̄₂ with x̄₁. */
function residual(rng) {
  const lap = () => { const u = rng.next() - 0.5; return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)); };
  let a, b;
  if (rng.next() < 0.7) { a = 0.6 * rng.normal(); b = 0.6 * rng.normal(); } else { a = 1.6 * lap(); b = 1.6 * lap(); }
  return [a, 0.35 * a + b];
}

function fit(couplings, steps, seed) {
  const flow = RealNVP.create({ dim: 2, hidden: 64, couplings, seed });
  const opt = new FlowOptimizer(flow, { lr: 2e-3 });
  const rng = new Rng(seed + 100);
  const B = 512;
  const curve = [];
  const w = new Float32Array(B).fill(-1 / B); // descend on −mean log p
  for (let s = 1; s <= steps; s++) {
    const x = new Float32Array(B * 2);
    for (let i = 0; i < B; i++) { const [a, b] = residual(rng); x[2 * i] = a; x[2 * i + 1] = b; }
    const { logProb } = flow.logProbBackward(x, w);
    let nll = 0;
    for (let i = 0; i < B; i++) nll -= logProb[i] / B;
    curve.push([s, nll]);
    if (s === Math.floor(steps * 0.7)) opt.lr = 5e-4;
    opt.update();
  }
  opt.dispose();
  return { flow, curve };
}

const t0 = Date.now();
const main = fit(6, 1500, 1);
const small = fit(2, 1500, 2);
console.log(`fitted two flows in ${((Date.now() - t0) / 1000).toFixed(1)} s; final NLL ${main.curve.at(-1)[1].toFixed(3)} (6 couplings), ${small.curve.at(-1)[1].toFixed(3)} (2 couplings)`);
const flow = main.flow;

// Loss curves.
const lossSvg = svgLossCurves([
  { name: 'RealNVP, 6 couplings', points: main.curve },
  { name: 'RealNVP, 2 couplings', points: small.curve },
], {
  title: 'Flow NLL while fitting synthetic residuals',
  subtitle: 'batch 512, Adam 2e-3 → 5e-4 at step 1050; faint: per-step values, bold: EMA 0.95',
  yLabel: '−mean log p(x̄)  [nats]', smooth: 0.95,
});

// Density comparison.
const densitySvg = svgDensityComparison(flow, { encodePng: encodePngNode, title: 'Residual density: learned flow vs Laplace Q (synthetic residuals)' });

// Calibration: K = 17 joints, σ per joint, residuals from the true distribution.
const SIG = [2, 2, 2, 2.5, 2.5, 4, 4, 5, 5, 7, 7, 5, 5, 6, 6, 8, 8];
const N = 1500, K = 17;
const rng = new Rng(7);
const pred = new Float64Array(N * K * 2), gt = new Float64Array(N * K * 2), sigma = new Float64Array(N * K * 2);
for (let i = 0; i < N; i++) {
  const scale = Math.exp(rng.uniform(-0.3, 0.3));
  for (let k = 0; k < K; k++) {
    const [a, b] = residual(rng);
    const j = (i * K + k) * 2;
    sigma[j] = SIG[k] * scale; sigma[j + 1] = SIG[k] * scale * 1.1;
    pred[j] = rng.uniform(0, 192); pred[j + 1] = rng.uniform(0, 256);
    gt[j] = pred[j] - sigma[j] * a; gt[j + 1] = pred[j + 1] - sigma[j + 1] * b;
  }
}
const rep = calibrationReport({ flow, pred, gt, sigma, shape: [N, K, 2], keypointNames: [...COCO_KEYPOINT_NAMES], seed: 3 });
const repText = formatCalibration(rep, { perJoint: true });
console.log(repText);
const calSvg = svgCalibration(rep);

// Pose pictures.
const POSES = {
  standing: [[96, 42], [101, 37], [91, 37], [108, 40], [84, 40], [121, 72], [71, 72], [130, 106], [62, 106], [134, 139], [58, 139],
    [111, 142], [81, 142], [113, 187], [79, 187], [115, 232], [77, 232]],
  armsUp: [[96, 52], [101, 47], [91, 47], [108, 50], [84, 50], [121, 80], [71, 80], [138, 52], [54, 52], [142, 22], [50, 22],
    [111, 150], [81, 150], [114, 193], [78, 193], [116, 236], [76, 236]],
  walking: [[100, 42], [105, 37], [95, 37], [112, 40], [88, 40], [124, 72], [76, 72], [138, 100], [66, 108], [150, 124], [62, 142],
    [114, 142], [86, 142], [130, 184], [74, 186], [140, 228], [60, 226]],
};

function drawFigure(kps, seed) {
  const W = 192, H = 256;
  const img = new Uint8Array(W * H * 3);
  const r = new Rng(seed);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      const t = y / H;
      const noise = (r.next() - 0.5) * 4;
      img[o] = 182 - 40 * t + noise; img[o + 1] = 196 - 30 * t + noise; img[o + 2] = 208 - 50 * t + noise;
      if (y > 236) { img[o] = 120 + noise; img[o + 1] = 112 + noise; img[o + 2] = 96 + noise; }
    }
  }
  const capsule = (a, b, rad, col) => {
    const [x0, y0] = a, [x1, y1] = b;
    const minX = Math.max(0, Math.floor(Math.min(x0, x1) - rad - 1)), maxX = Math.min(W - 1, Math.ceil(Math.max(x0, x1) + rad + 1));
    const minY = Math.max(0, Math.floor(Math.min(y0, y1) - rad - 1)), maxY = Math.min(H - 1, Math.ceil(Math.max(y0, y1) + rad + 1));
    const dx = x1 - x0, dy = y1 - y0, L2 = dx * dx + dy * dy || 1;
    for (let y = minY; y <= maxY; y++) {
      for (let x = minX; x <= maxX; x++) {
        const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / L2));
        const d = Math.hypot(x - (x0 + t * dx), y - (y0 + t * dy));
        const cov = Math.max(0, Math.min(1, rad + 0.5 - d));
        if (cov <= 0) continue;
        const o = (y * W + x) * 3;
        const shade = 1 - 0.25 * Math.max(0, Math.min(1, d / rad));
        for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - cov) + col[c] * shade * cov;
      }
    }
  };
  const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
  const skin = [224, 178, 150], shirt = [60, 90, 140], trousers = [50, 50, 62];
  capsule(kps[11], kps[13], 9, trousers); capsule(kps[13], kps[15], 7.5, trousers);
  capsule(kps[12], kps[14], 9, trousers); capsule(kps[14], kps[16], 7.5, trousers);
  capsule(mid(kps[5], kps[6]), mid(kps[11], kps[12]), 22, shirt);
  capsule(kps[5], kps[7], 7, shirt); capsule(kps[6], kps[8], 7, shirt);
  capsule(kps[7], kps[9], 5.5, skin); capsule(kps[8], kps[10], 5.5, skin);
  capsule(mid(kps[5], kps[6]), kps[0], 5, skin);
  capsule(kps[0], kps[0], 15, skin);
  return { width: W, height: H, data: img };
}

const contours = densityContours(flow, [0.5, 0.8, 0.95], 120, { seed: 5 });
const cells = [];
let first = null;
const prng = new Rng(42);
for (const [name, kps] of Object.entries(POSES)) {
  const image = drawFigure(kps, name.length);
  const p = [], s = [];
  for (let k = 0; k < K; k++) {
    const [a, b] = residual(prng);
    const sx = SIG[k] * 0.8, sy = SIG[k] * 0.9;
    p.push([kps[k][0] + sx * a, kps[k][1] + sy * b]); // μ̂ = μ + σ ⊙ x̄
    s.push([sx, sy]);
  }
  const err = meanError([p], [kps]).mean;
  const svg = svgPosePrediction({
    imageRgb: image, gt: kps, pred: p, sigma: s, flowContours: contours, level: 0.8,
    skeleton: COCO_SKELETON, keypointNames: COCO_KEYPOINT_NAMES, encodePng: encodePngNode,
    title: `${name}: mean error ${err.toFixed(1)} px`, showLabels: name === 'standing',
  });
  first ??= svg;
  const pk = pck([p], [kps], null, [Math.max(...kps.map((q) => q[1])) - Math.min(...kps.map((q) => q[1]))], 0.05).pck;
  cells.push({ svg: svgPosePrediction({
    imageRgb: image, gt: kps, pred: p, sigma: s, flowContours: contours, level: 0.8,
    skeleton: COCO_SKELETON, keypointNames: COCO_KEYPOINT_NAMES, encodePng: encodePngNode, legend: false,
  }), caption: `${name} · error ${err.toFixed(1)} px · PCK@0.05 ${(pk * 100).toFixed(0)} %` });
}
const gridSvg = svgGrid(cells, { columns: 3, cellWidth: 260, title: 'Predictions with their 80 % learned-density regions (synthetic figure)' });

// Bar table: two synthetic predictors on the calibration set's ground truth.
const predA = new Float64Array(gt.length), predB = new Float64Array(gt.length);
for (let i = 0; i < gt.length; i++) { predA[i] = pred[i]; predB[i] = gt[i] + (pred[i] - gt[i]) * 1.35 + rng.normal() * 0.8; }
const norm = new Float64Array(N).fill(200);
const shape = [N, K, 2];
const mA = { pck05: pck(predA, gt, null, norm, 0.05, { shape }), pck10: pck(predA, gt, null, norm, 0.1, { shape }), e: meanError(predA, gt, null, { shape }) };
const mB = { pck05: pck(predB, gt, null, norm, 0.05, { shape }), pck10: pck(predB, gt, null, norm, 0.1, { shape }), e: meanError(predB, gt, null, { shape }) };
const barSvg = svgBarTable({
  columns: ['model A', 'model B'],
  rows: [
    { label: 'PCK@0.05', values: [mA.pck05.pck * 100, mB.pck05.pck * 100], unit: '%', digits: 1 },
    { label: 'PCK@0.1', values: [mA.pck10.pck * 100, mB.pck10.pck * 100], unit: '%', digits: 1 },
    { label: 'mean error', values: [mA.e.mean, mB.e.mean], unit: 'px', higherIsBetter: false, digits: 2 },
    { label: 'wrist error', values: [(mA.e.perJoint[9] + mA.e.perJoint[10]) / 2, (mB.e.perJoint[9] + mB.e.perJoint[10]) / 2], unit: 'px', higherIsBetter: false, digits: 2 },
  ],
}, { title: 'Metrics side by side (synthetic predictions; the layout for RLE vs L1)', note: 'synthetic data, not a benchmark result · bars scaled per row · ▲ higher / ▼ lower is better · best in bold' });

const written = await writeReport(outDir, {
  'pose-example.svg': first,
  'pose-grid-example.svg': gridSvg,
  'density-example.svg': densitySvg,
  'loss-curves-example.svg': lossSvg,
  'calibration-example.svg': calSvg,
  'calibration-example.txt': repText + '\n',
  'metrics-table-example.svg': barSvg,
});
for (const w of written) console.log('wrote', w);
flow.dispose(); small.flow.dispose();
