// SPDX-License-Identifier: MIT
// `rlepose train | eval | predict | export`.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, basename, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { init } from '../backend/facade.js';
import { tf } from '../backend/tf.js';
import { RegressFlowNet, type Layout } from '../model/regressflow.js';
import { stateDictFromSafetensors, safetensorsFromStateDict } from '../model/checkpoint.js';
import { restoreCheckpoint } from '../train/checkpoint.js';
import { runTrainingJob } from '../train/job.js';
import { resolveAugmentPreset } from '../data/augment.js';
import { loadCocoDataset } from '../data/coco.js';
import { TopDownDataset } from '../data/dataset.js';
import { decodeImage } from '../data/image.js';
import { boxToCenterScale, cropMatrix, invertAffine, warpAffineBilinear, targetToImage } from '../data/transforms.js';
import { predictDataset, cocoResults, groundTruthArrays } from '../eval/evaluate.js';
import { evaluateCocoKeypoints, formatCocoStats, type CocoKeypointGt } from '../eval/coco.js';
import { pck } from '../eval/metrics.js';
import { svgPosePrediction, COCO_SKELETON, COCO_KEYPOINT_NAMES } from '../report/index.js';
import { writeReport, encodePngNode } from '../report/node.js';
import type { RleVariant } from '../loss/rle.js';

export function parseSize(op: string, s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new RangeError(`${op}: --input must be HxW, e.g. 128x96, got '${s}'`);
  const hw: [number, number] = [Number(m[1]), Number(m[2])];
  if (hw[0] < 32 || hw[1] < 32) throw new RangeError(`${op}: --input must be at least 32x32, got '${s}'`);
  return hw;
}

/** A model from our training checkpoint or from a PyTorch state dict (official or MMPose layout). */
export function loadModel(op: string, path: string): RegressFlowNet {
  if (!existsSync(path)) throw new Error(`${op}: model file ${path} does not exist`);
  const bytes = new Uint8Array(readFileSync(path));
  const { stateDict, metadata } = stateDictFromSafetensors(bytes);
  if (metadata.has('rlepose')) return restoreCheckpoint(tf, bytes).net;
  return RegressFlowNet.fromStateDict(tf, stateDict);
}

export async function trainCommand(o: { data: string; images: string; steps: string; batch: string; variant: string; out: string; input: string; seed: string; lr: string; resume?: string; every: string; layout: string; augment?: string; clipNorm?: string }): Promise<number> {
  const op = 'rlepose train';
  const clipNorm = o.clipNorm === undefined ? undefined : Number(o.clipNorm);
  if (clipNorm !== undefined && !(clipNorm > 0)) throw new RangeError(`${op}: --clip-norm must be a number > 0, got ${o.clipNorm}`);
  const augment = resolveAugmentPreset(o.augment ?? 'paper');
  const steps = Number(o.steps), batch = Number(o.batch);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`${op}: --steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${op}: --batch must be a positive integer, got ${o.batch}`);
  const bar = new cliProgress.SingleBar({ format: '  train [{bar}] {value}/{total} steps  loss {loss}  lr {lr}  {duration_formatted} (eta {eta_formatted})', noTTYOutput: true, notTTYSchedule: 15000 }, cliProgress.Presets.shades_classic);
  let started = false;
  await runTrainingJob({
    name: 'train', annFile: o.data, imageDir: o.images, variant: o.variant as RleVariant, steps, batchSize: batch,
    inputSize: parseSize(op, o.input), layout: o.layout as Layout, seed: Number(o.seed), lr: Number(o.lr),
    checkpointPath: o.out, checkpointEvery: Number(o.every), resumeFrom: o.resume, augment, clipNorm,
  }, (m) => {
    if (m.type === 'start') {
      console.log(`${m.samples} people for training on ${m.backend}${m.skipped.length ? `; skipped: ${m.skipped.map((s) => `${s.count} ${s.reason}`).join(', ')}` : ''}`);
    } else if (m.type === 'step') {
      if (!started) { bar.start(m.steps, m.step - 1, { loss: '-', lr: '-' }); started = true; }
      bar.update(m.step, { loss: m.loss.toFixed(4), lr: m.lr.toExponential(1) });
    } else if (m.type === 'done') {
      bar.stop();
      console.log(`done in ${(m.ms / 1000).toFixed(0)} s; checkpoint: ${o.out}`);
    }
  });
  return 0;
}

export async function evalCommand(o: { model: string; data: string; images: string; flip?: boolean; batch: string; input: string }): Promise<number> {
  const op = 'rlepose eval';
  await init({ backend: 'wasm' });
  const net = loadModel(op, o.model);
  try {
    const data = await loadCocoDataset(o.data, o.images);
    const ds = new TopDownDataset(data.samples, data.readImage, { inputSize: parseSize(op, o.input), convention: net.config.layout, augment: false, seed: 0, cacheImages: true, flipPairs: data.flipPairs });
    if (data.skipped.length) console.log(`skipped: ${data.skipped.map((s) => `${s.count} ${s.reason}`).join(', ')}`);
    const bar = new cliProgress.SingleBar({ format: '  eval [{bar}] {value}/{total} people', noTTYOutput: true, notTTYSchedule: 10000 }, cliProgress.Presets.shades_classic);
    bar.start(ds.samples.length, 0);
    const p = await predictDataset(tf, net, ds, { flipTest: !!o.flip, batchSize: Number(o.batch), onProgress: (d) => bar.update(d) });
    bar.stop();
    const gt = JSON.parse(readFileSync(o.data, 'utf8')) as CocoKeypointGt;
    const r = evaluateCocoKeypoints(gt, cocoResults(ds, p, 'rle'));
    console.log(formatCocoStats(r));
    const N = ds.samples.length, K = ds.numJoints;
    const { gt: gtKp, visible: vis, norm } = groundTruthArrays(ds);
    console.log(`PCK@0.05 ${pck(p.pred, gtKp, vis, norm, 0.05, { shape: [N, K, 2] }).pck.toFixed(4)}  PCK@0.1 ${pck(p.pred, gtKp, vis, norm, 0.1, { shape: [N, K, 2] }).pck.toFixed(4)}`);
    return 0;
  } finally {
    net.dispose();
  }
}

export async function predictCommand(o: { model: string; image: string; boxes: string; out?: string; svg?: string; input: string; flip?: boolean }): Promise<number> {
  const op = 'rlepose predict';
  const boxes = o.boxes.split(';').filter(Boolean).map((b, i) => {
    const v = b.split(',').map(Number);
    if (v.length !== 4 || v.some((x) => !Number.isFinite(x))) throw new RangeError(`${op}: box ${i + 1} must be x,y,w,h numbers, got '${b}'`);
    if (v[2] <= 0 || v[3] <= 0) throw new RangeError(`${op}: box ${i + 1} has zero or negative size: '${b}'`);
    return v as [number, number, number, number];
  });
  if (!boxes.length) throw new RangeError(`${op}: --boxes must list at least one box as x,y,w,h (several separated by ';')`);
  if (!existsSync(o.image)) throw new Error(`${op}: image ${o.image} does not exist`);
  const img = decodeImage(new Uint8Array(readFileSync(o.image)));
  await init({ backend: 'wasm' });
  const net = loadModel(op, o.model);
  try {
    const [H, W] = parseSize(op, o.input);
    const K = net.config.numJoints;
    const people = [];
    for (const [i, box] of boxes.entries()) {
      if (box[0] >= img.width || box[1] >= img.height || box[0] + box[2] <= 0 || box[1] + box[3] <= 0) {
        throw new RangeError(`${op}: box ${i + 1} [${box.join(',')}] lies outside the ${img.width}x${img.height} image`);
      }
      const cs = boxToCenterScale(box, W / H);
      const M = cropMatrix(cs.center, cs.scale, 0, W, H);
      const crop = warpAffineBilinear(img.data, img.width, img.height, M, W, H);
      const x = tf.tensor4d(crop, [1, H, W, 3]);
      let p;
      try { p = net.predict(x, { flipTest: !!o.flip }); } finally { x.dispose(); }
      const xy = targetToImage(p.pred, net.config.layout, invertAffine(M), W, H);
      const keypoints = Array.from({ length: K }, (_, k) => ({
        name: K === 17 ? COCO_KEYPOINT_NAMES[k] : `joint_${k}`,
        x: xy[2 * k], y: xy[2 * k + 1],
        sigma: [p.sigma[2 * k] * cs.scale[0], p.sigma[2 * k + 1] * cs.scale[1]],
        confidence: p.scores[k],
      }));
      people.push({ box, keypoints });
    }
    const json = JSON.stringify({ image: o.image, width: img.width, height: img.height, coordinates: 'image pixels; sigma in pixels', people }, null, 2);
    const files: Record<string, string> = {};
    if (o.out) files[o.out] = json; else console.log(json);
    if (o.svg) {
      const p0 = people[0];
      files[o.svg] = svgPosePrediction({ imageRgb: img, pred: p0.keypoints.map((k) => [k.x, k.y]), sigma: p0.keypoints.map((k) => k.sigma as [number, number]), skeleton: K === 17 ? COCO_SKELETON : [], keypointNames: p0.keypoints.map((k) => k.name), encodePng: encodePngNode, title: `${o.image}` });
    }
    for (const [f, data] of Object.entries(files)) await writeReport(dirname(resolve(f)), { [basename(f)]: data });
    if (Object.keys(files).length) console.log(`wrote ${Object.keys(files).join(', ')}`);
    return 0;
  } finally {
    net.dispose();
  }
}

export async function exportCommand(o: { model: string; out: string }): Promise<number> {
  await init({ backend: 'cpu' });
  const net = loadModel('rlepose export', o.model);
  try {
    await writeReport(dirname(resolve(o.out)), { [basename(o.out)]: safetensorsFromStateDict(net.stateDict()) });
    console.log(`wrote ${o.out} (${net.config.layout} layout; load in PyTorch with safetensors.torch.load_file + load_state_dict)`);
    return 0;
  } finally {
    net.dispose();
  }
}
