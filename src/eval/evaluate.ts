// SPDX-License-Identifier: MIT
// Evaluation of a RegressFlowNet on a top-down dataset: predictions mapped back to the image, COCO
// results with the paper code's instance scores, and COCO AP exactly as pycocotools computes it.
import type * as tfNs from '@tensorflow/tfjs';
import type { RegressFlowNet } from '../model/regressflow.js';
import type { TopDownDataset } from '../data/dataset.js';
import { targetToImage } from '../data/transforms.js';
import { evaluateCocoKeypoints, type CocoKeypointGt, type CocoKeypointResult, type CocoEvalResult } from './coco.js';
import { bboxNorm } from './metrics.js';

type TF = typeof tfNs;

export interface DatasetPredictions {
  /** μ̂ in image coordinates [N, K, 2]. */
  pred: Float32Array;
  /** μ̂ in the crop convention [N, K, 2] (for calibration against crop-space targets). */
  predCrop: Float32Array;
  /** σ [N, K, 2] (crop convention units). */
  sigma: Float32Array;
  /** Per-joint confidence 1 − mean σ [N, K]. */
  jointScores: Float32Array;
  /** Ground truth in the crop convention [N, K, 2] and its weights. */
  targetCrop: Float32Array;
  weight: Float32Array;
  /** Size in image pixels of each crop's box [N, 2] (σ × this = σ in pixels, up to rotation). */
  boxScale: Float32Array;
  numJoints: number;
}

/** Runs the network over every sample of a (non-augmented) dataset. */
export async function predictDataset(tf: TF, net: RegressFlowNet, ds: TopDownDataset,
  opts: { batchSize?: number; flipTest?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<DatasetPredictions> {
  const N = ds.samples.length, K = ds.numJoints, [H, W] = ds.inputSize;
  const bs = opts.batchSize ?? 32;
  const out: DatasetPredictions = {
    pred: new Float32Array(N * K * 2), predCrop: new Float32Array(N * K * 2), sigma: new Float32Array(N * K * 2),
    jointScores: new Float32Array(N * K), targetCrop: new Float32Array(N * K * 2), weight: new Float32Array(N * K * 2),
    boxScale: new Float32Array(N * 2), numJoints: K,
  };
  for (let i0 = 0; i0 < N; i0 += bs) {
    const idx = Array.from({ length: Math.min(bs, N - i0) }, (_, j) => i0 + j);
    const b = await ds.batch(idx, { epoch: 0 });
    const x = tf.tensor4d(b.images, [idx.length, H, W, 3]);
    let p;
    try { p = net.predict(x, { flipTest: opts.flipTest }); } finally { x.dispose(); }
    idx.forEach((n, j) => {
      const crop = p.pred.subarray(j * K * 2, (j + 1) * K * 2);
      out.predCrop.set(crop, n * K * 2);
      out.pred.set(targetToImage(crop, ds.convention, b.crops[j].inverse, W, H), n * K * 2);
      out.sigma.set(p.sigma.subarray(j * K * 2, (j + 1) * K * 2), n * K * 2);
      out.jointScores.set(p.scores.subarray(j * K, (j + 1) * K), n * K);
      out.targetCrop.set(b.target.subarray(j * K * 2, (j + 1) * K * 2), n * K * 2);
      out.weight.set(b.weight.subarray(j * K * 2, (j + 1) * K * 2), n * K * 2);
      out.boxScale[n * 2] = b.crops[j].scale[0];
      out.boxScale[n * 2 + 1] = b.crops[j].scale[1];
    });
    opts.onProgress?.(Math.min(i0 + bs, N), N);
  }
  return out;
}

/**
 * COCO results, one per sample. Instance score as the RLE paper's code: mean(s) + 1.25·max(s) over the
 * joints' scores s = 1 − σ, times the box score ('rle'); or a constant ('constant': models without σ, and
 * the honest comparison of localisation alone).
 */
export function cocoResults(ds: TopDownDataset, p: DatasetPredictions, score: 'rle' | 'constant',
  boxScores?: ArrayLike<number>): CocoKeypointResult[] {
  const K = p.numJoints;
  return ds.samples.map((s, n) => {
    const keypoints: number[] = [];
    let mean = 0, max = -Infinity;
    for (let k = 0; k < K; k++) {
      const sc = p.jointScores[n * K + k];
      keypoints.push(p.pred[(n * K + k) * 2], p.pred[(n * K + k) * 2 + 1], sc);
      mean += sc / K;
      max = Math.max(max, sc);
    }
    const box = boxScores ? boxScores[n] : 1;
    return { image_id: s.imageId as number, category_id: 1, keypoints, score: score === 'rle' ? (mean + 1.25 * max) * box : box };
  });
}

export function cocoAP(gt: CocoKeypointGt, results: CocoKeypointResult[]): CocoEvalResult {
  return evaluateCocoKeypoints(gt, results);
}

/** Ground truth of a dataset as metric arrays: keypoints [N,K,2] (image px), visibility [N,K], box norms [N]. */
export function groundTruthArrays(ds: TopDownDataset): { gt: Float32Array; visible: Float32Array; norm: Float64Array } {
  const N = ds.samples.length, K = ds.numJoints;
  const gt = new Float32Array(N * K * 2), visible = new Float32Array(N * K), boxes: number[] = [];
  ds.samples.forEach((s, n) => {
    for (let k = 0; k < K; k++) {
      gt[(n * K + k) * 2] = s.keypoints[k * 3];
      gt[(n * K + k) * 2 + 1] = s.keypoints[k * 3 + 1];
      visible[n * K + k] = s.keypoints[k * 3 + 2] > 0 ? 1 : 0;
    }
    boxes.push(...s.bbox);
  });
  return { gt, visible, norm: bboxNorm({ shape: [N, 4], data: boxes }) };
}
