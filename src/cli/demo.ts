// SPDX-License-Identifier: MIT
// `rlepose demo`: the main job on the built-in data. Makes the synthetic benchmark, trains the small RLE
// model and an L1 baseline with the same budget (two threads, one core each), evaluates both exactly as
// pycocotools would, and writes a report folder (pictures + summary.json).
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import cliProgress from 'cli-progress';
import { init } from '../backend/facade.js';
import { tf } from '../backend/tf.js';
import { generateSynthetic, type SyntheticOptions } from '../data/synthetic.js';
import { resolveAugmentPreset } from '../data/augment.js';
import { loadCocoDataset } from '../data/coco.js';
import { TopDownDataset } from '../data/dataset.js';
import { loadCheckpointFile } from '../train/checkpoint.js';
import { runTrainingJob, type TrainingJob, type JobMessage } from '../train/job.js';
import { predictDataset, cocoResults, groundTruthArrays, type DatasetPredictions } from '../eval/evaluate.js';
import { evaluateCocoKeypoints, type CocoKeypointGt } from '../eval/coco.js';
import { pck, meanError, calibrationReport, formatCalibration, densityContours } from '../eval/metrics.js';
import { svgPosePrediction, svgGrid, svgDensityComparison, svgLossCurves, svgBarTable, svgCalibration } from '../report/index.js';
import { writeReport, encodePngNode } from '../report/node.js';
import type { RegressFlowNet } from '../model/regressflow.js';

export interface DemoOptions {
  quick: boolean;
  out: string;
  seed: number;
  images?: number;
  steps?: number;
  batch?: number;
  /** Run the two trainings one after the other in this thread (default: two worker threads). */
  sequential?: boolean;
  /** Training augmentation preset of both models (default 'noflip'). */
  augment?: string;
  /** Synthetic benchmark difficulty: a preset name or a number in [0, 1] (default 'medium'). */
  difficulty?: string | number;
  /** Average each prediction with that of the mirrored crop (default false: on the synthetic benchmark
   *  left and right are told apart by colour, which a mirror does not swap). */
  flipTest?: boolean;
  /** Network input [H, W] of both models (default 128×96). */
  input?: [number, number];
}

const DEFAULT_INPUT: [number, number] = [128, 96];

interface ModelEval {
  AP: number; AP50: number; AP75: number; APm: number; APl: number; AR: number;
  AP_constant_score: number;
  'PCK@0.05': number; 'PCK@0.1': number; 'PCK@0.2': number;
  mean_error_px: number;
  train_steps: number; train_seconds: number; final_loss: number;
  /** The augmentation options the training job reported it used (false: none). */
  train_augment?: unknown;
  calibration?: { levels: number[]; flow: number[]; laplace: number[]; gaussian: number[]; error_to_sigma: number };
}

function isTTY(): boolean { return !!process.stdout.isTTY; }

export async function runDemo(o: DemoOptions): Promise<number> {
  const t0 = performance.now();
  const out = resolve(o.out);
  const images = o.images ?? (o.quick ? 2000 : 6000);
  const steps = o.steps ?? (o.quick ? 400 : 2000);
  const batch = o.batch ?? 32;
  const INPUT = o.input ?? DEFAULT_INPUT;
  const augmentName = o.augment ?? 'noflip';
  const augment = resolveAugmentPreset(augmentName);
  // A numeric string from the command line is a number; a name is checked by generateSynthetic.
  const difficulty = (typeof o.difficulty === 'string' && o.difficulty.trim() !== '' && !Number.isNaN(Number(o.difficulty))
    ? Number(o.difficulty) : o.difficulty ?? 'medium') as NonNullable<SyntheticOptions['difficulty']>;
  mkdirSync(out, { recursive: true });
  console.log(`rlepose demo${o.quick ? ' --quick' : ''}: ${images} synthetic images, RLE vs L1, ${steps} steps of B=${batch} each, input ${INPUT[0]}x${INPUT[1]}, augmentation ${augmentName}, difficulty ${difficulty}, seed ${o.seed}`);
  console.log(`report folder: ${out}`);

  // 1. The synthetic benchmark on disk (the same COCO loader reads it back).
  const dataDir = join(out, 'data');
  const bar = new cliProgress.SingleBar({ format: '  data     [{bar}] {value}/{total} images {duration_formatted}', noTTYOutput: true, notTTYSchedule: 10000 }, cliProgress.Presets.shades_classic);
  bar.start(images, 0);
  const syn = await generateSynthetic({ outDir: dataDir, numImages: images, seed: o.seed, imageSize: [160, 128], difficulty, valFraction: o.quick ? 0.15 : 0.1, onProgress: (d) => bar.update(d) });
  bar.stop();
  console.log(`  data: ${syn.train.coco.annotations.length} train people, ${syn.val.coco.annotations.length} val people in ${(syn.elapsedMs / 1000).toFixed(1)} s`);

  // 2. Two trainings with the same budget.
  const modelsDir = join(out, 'models');
  mkdirSync(modelsDir, { recursive: true });
  const common = {
    annFile: syn.train.annFile!, imageDir: syn.train.imageDir!, steps, batchSize: batch, inputSize: INPUT, seed: o.seed,
    warmupSteps: Math.min(100, Math.round(steps / 10)), lr: 1e-3, trunk: 'small' as const, backend: 'wasm' as const,
    augment,
  };
  const jobs: TrainingJob[] = [
    { ...common, name: 'rle', variant: 'official', checkpointPath: join(modelsDir, 'rle.safetensors') },
    { ...common, name: 'l1', variant: 'l1', checkpointPath: join(modelsDir, 'l1.safetensors') },
  ];
  const histories = new Map<string, Array<[number, number]>>();
  const trainSeconds = new Map<string, number>();
  const multi = new cliProgress.MultiBar({ format: '  train {name} [{bar}] {value}/{total} steps  loss {loss}  {duration_formatted} (eta {eta_formatted})', noTTYOutput: true, notTTYSchedule: 15000, hideCursor: true }, cliProgress.Presets.shades_classic);
  const bars = new Map(jobs.map((j) => [j.name, multi.create(steps, 0, { name: j.name.padEnd(3), loss: '-' })]));
  const augmentUsed = new Map<string, unknown>();
  const onMsg = (m: JobMessage) => {
    if (m.type === 'start') augmentUsed.set(m.name, m.augment);
    else if (m.type === 'step') bars.get(m.name)!.update(m.step, { loss: m.loss.toFixed(3) });
    else if (m.type === 'done') { histories.set(m.name, m.history); trainSeconds.set(m.name, m.ms / 1000); }
  };
  const parallel = !o.sequential && cpus().length >= 2;
  if (parallel) {
    await Promise.all(jobs.map((job) => new Promise<void>((res, rej) => {
      const w = new Worker(new URL('../train/worker.js', import.meta.url), { workerData: job });
      w.on('message', (m: JobMessage) => { if (m.type === 'error') rej(new Error(`training ${job.name}: ${m.message}`)); else onMsg(m); });
      w.on('error', rej);
      w.on('exit', (code) => (code === 0 ? res() : rej(new Error(`training ${job.name} exited with code ${code}`))));
    })));
  } else {
    for (const job of jobs) await runTrainingJob(job, onMsg);
  }
  multi.stop();
  for (const j of jobs) console.log(`  trained ${j.name}: ${steps} steps in ${trainSeconds.get(j.name)?.toFixed(0)} s (${((trainSeconds.get(j.name) ?? 0) * 1000 / steps).toFixed(0)} ms/step)`);

  // 3. Evaluation.
  await init({ backend: 'wasm' });
  const val = await loadCocoDataset(syn.val.annFile!, syn.val.imageDir!);
  const vds = new TopDownDataset(val.samples, val.readImage, { inputSize: INPUT, convention: 'official', augment: false, seed: 0, cacheImages: true, flipPairs: val.flipPairs });
  const gt = JSON.parse(readFileSync(syn.val.annFile!, 'utf8')) as CocoKeypointGt;
  const N = vds.samples.length, K = vds.numJoints;
  const { gt: gtKp, visible: vis, norm } = groundTruthArrays(vds);
  const summary: Record<string, unknown> = {};
  const evals = new Map<string, ModelEval>();
  const preds = new Map<string, DatasetPredictions>();
  const nets = new Map<string, RegressFlowNet>();
  const ebar = new cliProgress.SingleBar({ format: '  eval {name} [{bar}] {value}/{total} people', noTTYOutput: true, notTTYSchedule: 10000 }, cliProgress.Presets.shades_classic);
  for (const j of jobs) {
    const { net, trainer } = await loadCheckpointFile(tf, j.checkpointPath);
    trainer.dispose();
    nets.set(j.name, net);
    ebar.start(N, 0, { name: j.name });
    const p = await predictDataset(tf, net, vds, { flipTest: !!o.flipTest, onProgress: (d) => ebar.update(d) });
    ebar.stop();
    preds.set(j.name, p);
    const ap = evaluateCocoKeypoints(gt, cocoResults(vds, p, j.variant === 'l1' ? 'constant' : 'rle'));
    const apConst = evaluateCocoKeypoints(gt, cocoResults(vds, p, 'constant'));
    const e: ModelEval = {
      AP: ap.stats[0], AP50: ap.stats[1], AP75: ap.stats[2], APm: ap.stats[3], APl: ap.stats[4], AR: ap.stats[5],
      AP_constant_score: apConst.stats[0],
      'PCK@0.05': pck(p.pred, gtKp, vis, norm, 0.05, { shape: [N, K, 2] }).pck,
      'PCK@0.1': pck(p.pred, gtKp, vis, norm, 0.1, { shape: [N, K, 2] }).pck,
      'PCK@0.2': pck(p.pred, gtKp, vis, norm, 0.2, { shape: [N, K, 2] }).pck,
      mean_error_px: meanError(p.pred, gtKp, vis, { shape: [N, K, 2] }).mean,
      train_steps: steps, train_seconds: trainSeconds.get(j.name) ?? NaN, train_augment: augmentUsed.get(j.name),
      final_loss: (histories.get(j.name) ?? []).slice(-20).reduce((a, [, l], _, arr) => a + l / arr.length, 0),
    };
    if (j.variant !== 'l1') {
      const cal = calibrationReport({ flow: net.flow, pred: p.predCrop, gt: p.targetCrop, sigma: p.sigma, visible: { shape: [N, K], data: Array.from(p.weight, (w) => (w > 0 ? 1 : 0)).filter((_, i) => i % 2 === 0) }, shape: [N, K, 2], seed: o.seed });
      e.calibration = { levels: cal.levels, flow: cal.flow.coverage, laplace: cal.laplace.coverage, gaussian: cal.gaussian.coverage, error_to_sigma: cal.errorToSigma };
      console.log(formatCalibration(cal));
      summary.calibration_table = formatCalibration(cal);
      summary._calibrationSvg = svgCalibration(cal, { title: 'σ calibration of the RLE model (val)', subtitle: 'coverage of the central regions of the learned density vs Laplace(μ̂, σ) and Gaussian(μ̂, σ)' });
    }
    evals.set(j.name, e);
  }

  // 4. The table, the pictures, summary.json.
  const rle = evals.get('rle')!, l1 = evals.get('l1')!;
  const rows: Array<[string, keyof ModelEval, boolean, number]> = [
    ['AP (paper scores: RLE 1−σ, L1 constant)', 'AP', true, 3], ['AP50', 'AP50', true, 3], ['AP75', 'AP75', true, 3], ['AR', 'AR', true, 3],
    ['AP with constant scores', 'AP_constant_score', true, 3], ['PCK@0.05 (box)', 'PCK@0.05', true, 3], ['PCK@0.1 (box)', 'PCK@0.1', true, 3],
    ['mean error (px)', 'mean_error_px', false, 2],
  ];
  console.log('');
  console.log(`metric                                      RLE      L1     RLE−L1`);
  for (const [label, key, , d] of rows) {
    const a = rle[key] as number, b = l1[key] as number;
    console.log(`${label.padEnd(42)} ${a.toFixed(d).padStart(6)}  ${b.toFixed(d).padStart(6)}  ${(a - b >= 0 ? '+' : '') + (a - b).toFixed(d)}`);
  }
  const verdict = rle.AP > l1.AP ? `RLE is ahead by ${((rle.AP - l1.AP) * 100).toFixed(1)} AP` : `RLE is NOT ahead (${((rle.AP - l1.AP) * 100).toFixed(1)} AP)`;
  console.log(verdict);

  const contours = densityContours(nets.get('rle')!.flow, [0.5, 0.8, 0.95], 80);
  const sheet: Array<{ svg: string; caption: string }> = [];
  const p = preds.get('rle')!;
  const shown = Math.min(8, N);
  for (let n = 0; n < shown; n++) {
    const s = vds.samples[Math.floor(n * N / shown)];
    const idx = vds.samples.indexOf(s);
    const img = await val.readImage(s.file);
    const pr: [number, number][] = [], sg: [number, number][] = [], g: [number, number][] = [];
    for (let k = 0; k < K; k++) {
      const i = (idx * K + k) * 2;
      pr.push([p.pred[i], p.pred[i + 1]]);
      sg.push([p.sigma[i] * p.boxScale[idx * 2], p.sigma[i + 1] * p.boxScale[idx * 2 + 1]]);
      g.push([s.keypoints[k * 3], s.keypoints[k * 3 + 1]]);
    }
    sheet.push({ svg: svgPosePrediction({ imageRgb: img, pred: pr, sigma: sg, gt: g, visible: Array.from({ length: K }, (_, k) => s.keypoints[k * 3 + 2]), flowContours: contours, level: 0.8, skeleton: val.skeleton, keypointNames: val.keypointNames, encodePng: encodePngNode, legend: n === 0 }), caption: `val ${String(s.annId)}` });
  }
  const files: Record<string, string> = {
    'predictions.svg': svgGrid(sheet, { columns: 4, title: 'RLE predictions on the synthetic val set: skeleton μ̂, ground truth ×, 80% region of the learned density' }),
    'density.svg': svgDensityComparison(nets.get('rle')!.flow, { title: 'Learned residual density (RLE flow) vs the Laplace Q' } as never),
    'loss-curves.svg': svgLossCurves(jobs.map((j) => ({ name: j.name === 'rle' ? 'RLE (official loss)' : 'L1', points: histories.get(j.name) ?? [] })), { title: 'Training loss', xLabel: 'step', yLabel: 'loss', smooth: 0.9 } as never),
    'metrics.svg': svgBarTable({ columns: ['RLE', 'L1'], rows: rows.map(([label, key, hib, d]) => ({ label, values: [rle[key] as number, l1[key] as number], higherIsBetter: hib, digits: d })) }, { title: 'RLE vs L1 on the synthetic benchmark (val)', note: verdict }),
  };
  if (summary._calibrationSvg) files['calibration.svg'] = summary._calibrationSvg as string;
  delete summary._calibrationSvg;
  Object.assign(summary, {
    rle, l1, verdict,
    config: { images, steps, batch, input: INPUT, seed: o.seed, quick: o.quick, augment: augmentName, flip_test: !!o.flipTest, difficulty, trunk: 'small (BasicBlock [32,64,128,256] x1)', parallel },
    seconds: (performance.now() - t0) / 1000,
  });
  files['summary.json'] = JSON.stringify(summary, null, 2);
  await writeReport(out, files);
  for (const n of nets.values()) n.dispose();
  console.log(`\nwrote ${Object.keys(files).map((f) => join(out, f)).join(', ')}`);
  console.log(`demo finished in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
  void existsSync;
  void isTTY;
  return 0;
}
