// SPDX-License-Identifier: MIT
// The training loop: seeded epoch shuffling, progress callbacks, periodic atomic checkpoints, and a
// resumable data order (the RNG and position travel in the checkpoint).
import type * as tfNs from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import type { Trainer } from './trainer.js';

type TF = typeof tfNs;

/** Anything that assembles training batches by sample index. */
export interface BatchProvider {
  readonly size: number;
  /** `step` is the training step the batch is for (a deterministic key for per-sample augmentation). */
  batch(indices: number[], step: number): Promise<{ images: Float32Array; target: Float32Array; weight: Float32Array }>;
}

export interface LoopState {
  step: number;
  epoch: number;
  pos: number;
  order: number[];
  rng: ReturnType<Rng['getState']>;
  history: Array<[number, number]>;
}

export interface TrainLoopOptions {
  steps: number;
  batchSize: number;
  inputSize: [number, number];
  seed?: number;
  /** Called after every step. */
  onStep?: (info: { step: number; steps: number; loss: number; lr: number; gradNorm: number; ms: number }) => void;
  /** Save a checkpoint here every `checkpointEvery` steps and at the end (atomic). */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Continue from a state saved in a checkpoint's extra. */
  resume?: LoopState;
  /** Stop early (e.g. on SIGINT) after the current step; a checkpoint is still written. */
  shouldStop?: () => boolean;
}

function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = p[i]; p[i] = p[j]; p[j] = t; }
  return p;
}

export async function trainLoop(tf: TF, trainer: Trainer, data: BatchProvider, opts: TrainLoopOptions): Promise<LoopState> {
  const op = 'trainLoop';
  if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new RangeError(`${op}: steps must be a non-negative integer, got ${opts.steps}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`${op}: batchSize must be a positive integer, got ${opts.batchSize}`);
  if (data.size < 1) throw new RangeError(`${op}: the dataset is empty`);
  const [H, W] = opts.inputSize;
  const rng = new Rng(opts.seed ?? 0);
  let st: LoopState;
  if (opts.resume) {
    st = { ...opts.resume, order: opts.resume.order.slice(), history: opts.resume.history.slice() };
    rng.setState(st.rng);
  } else {
    st = { step: trainer.step, epoch: 0, pos: 0, order: permutation(data.size, rng), rng: rng.getState(), history: [] };
  }
  const save = async () => {
    if (!opts.checkpointPath) return;
    st.rng = rng.getState();
    const { saveCheckpointFile } = await import('./checkpoint.js');
    await saveCheckpointFile(opts.checkpointPath, trainer, { loop: st });
  };
  while (st.step < opts.steps) {
    const idx: number[] = [];
    while (idx.length < opts.batchSize) {
      if (st.pos >= st.order.length) { st.epoch++; st.pos = 0; st.order = permutation(data.size, rng); }
      idx.push(st.order[st.pos++]);
    }
    const t0 = performance.now();
    const b = await data.batch(idx, st.step);
    const x = tf.tensor4d(b.images, [idx.length, H, W, 3]);
    let r;
    try {
      r = await trainer.trainStep(x, b.target, b.weight);
    } finally {
      x.dispose();
    }
    st.step = trainer.step;
    st.history.push([st.step, r.loss]);
    opts.onStep?.({ step: st.step, steps: opts.steps, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, ms: performance.now() - t0 });
    if (opts.checkpointEvery && st.step % opts.checkpointEvery === 0) await save();
    if (opts.shouldStop?.()) break;
  }
  await save();
  st.rng = rng.getState();
  return st;
}
