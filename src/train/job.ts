// SPDX-License-Identifier: MIT
// One training job from files: the COCO dataset on disk, a RegressFlowNet, a Trainer, the loop, the
// checkpoint. Used by `rlepose train` and by `rlepose demo` (in worker threads).
import { init } from '../backend/facade.js';
import { tf } from '../backend/tf.js';
import { RegressFlowNet, TRUNK_PRESETS, type TrunkSpec, type Layout } from '../model/regressflow.js';
import { Trainer } from './trainer.js';
import { trainLoop, type LoopState } from './loop.js';
import { loadCheckpointFile } from './checkpoint.js';
import { loadCocoDataset } from '../data/coco.js';
import { TopDownDataset } from '../data/dataset.js';
import type { RleVariant } from '../loss/rle.js';
import { AUGMENT_PRESETS, resolveAugmentPreset, type AugmentOptions } from '../data/augment.js';

export interface TrainingJob {
  name: string;
  annFile: string;
  imageDir: string;
  variant: RleVariant;
  steps: number;
  batchSize: number;
  inputSize: [number, number];
  layout?: Layout;
  trunk?: TrunkSpec | keyof typeof TRUNK_PRESETS;
  lr?: number;
  warmupSteps?: number;
  milestones?: number[];
  seed: number;
  checkpointPath: string;
  checkpointEvery?: number;
  backend?: 'auto' | 'wasm' | 'cpu' | 'webgpu';
  /** Continue from this checkpoint (model, flow, optimizers, step, data order). */
  resumeFrom?: string;
  /** Clip the global gradient norm (network and flow together) at this value; default: no clipping, as in
   *  the paper's and MMPose's configurations (the flow's gradients dominate the norm, so a fixed clip
   *  mostly shrinks the network's steps). */
  clipNorm?: number;
  /** Training augmentation: a preset name ('paper', 'mild', 'none'), options, or a boolean (true = 'paper'). */
  augment?: boolean | AugmentOptions | keyof typeof AUGMENT_PRESETS;
}

export type JobMessage =
  | { type: 'start'; name: string; samples: number; skipped: Array<{ reason: string; count: number }>; backend: string; augment: AugmentOptions | false }
  | { type: 'step'; name: string; step: number; steps: number; loss: number; lr: number; ms: number }
  | { type: 'done'; name: string; history: Array<[number, number]>; ms: number }
  | { type: 'error'; message: string; stack?: string };

export async function runTrainingJob(job: TrainingJob, post: (m: JobMessage) => void): Promise<void> {
  const rep = await init({ backend: job.backend ?? 'auto' });
  const data = await loadCocoDataset(job.annFile, job.imageDir);
  const layout = job.layout ?? 'official';
  const augment = typeof job.augment === 'string' ? resolveAugmentPreset(job.augment) : job.augment ?? true;
  const ds = new TopDownDataset(data.samples, data.readImage, {
    inputSize: job.inputSize, convention: layout, augment, seed: job.seed, cacheImages: true, flipPairs: data.flipPairs,
  });
  post({ type: 'start', name: job.name, samples: ds.samples.length, skipped: data.skipped, backend: rep.network ?? '?', augment: augment === true ? {} : augment });
  const trunk = typeof job.trunk === 'string' ? TRUNK_PRESETS[job.trunk] : job.trunk ?? TRUNK_PRESETS.small;
  let net: RegressFlowNet, trainer: Trainer, resume: LoopState | undefined;
  if (job.resumeFrom) {
    const r = await loadCheckpointFile(tf, job.resumeFrom);
    net = r.net; trainer = r.trainer;
    resume = (r.meta.extra as { loop?: LoopState } | null)?.loop;
    if (net.config.numJoints !== ds.numJoints) throw new RangeError(`training: the checkpoint has ${net.config.numJoints} joints but the dataset has ${ds.numJoints}`);
  } else {
    net = RegressFlowNet.create(tf, { layout, trunk, numJoints: ds.numJoints }, job.seed);
    trainer = new Trainer(net, {
      variant: job.variant, lr: job.lr ?? 1e-3, warmupSteps: job.warmupSteps ?? 0,
      milestones: job.milestones ?? [Math.round(job.steps * 0.8)], clipNorm: job.clipNorm,
    });
  }
  const t0 = performance.now();
  try {
    const st = await trainLoop(tf, trainer, { size: ds.samples.length, batch: (idx, step) => ds.batch(idx, { epoch: step }) }, {
      steps: job.steps, batchSize: job.batchSize, inputSize: job.inputSize, seed: job.seed, resume,
      checkpointPath: job.checkpointPath, checkpointEvery: job.checkpointEvery,
      onStep: (i) => post({ type: 'step', name: job.name, step: i.step, steps: i.steps, loss: i.loss, lr: i.lr, ms: i.ms }),
    });
    post({ type: 'done', name: job.name, history: st.history, ms: performance.now() - t0 });
  } finally {
    trainer.dispose();
    net.dispose();
  }
}
