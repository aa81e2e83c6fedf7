// SPDX-License-Identifier: MIT
// One RLE training step across the boundary: the network's forward on tfjs, the loss and its gradients
// (and the flow's own gradients) from our WASM, those gradients handed back into tfjs's backward pass.
import type * as tfNs from '@tensorflow/tfjs';
import { rleLoss, type RleVariant, RLE_VARIANTS } from '../loss/rle.js';
import { FlowOptimizer } from '../flow/optimizer.js';
import type { RegressFlowNet } from '../model/regressflow.js';
import { TfAdam } from './adam_tf.js';

type TF = typeof tfNs;

export interface TrainOptions {
  variant?: RleVariant;
  /** Base learning rate (network and flow). Default 1e-3 as in the official config. */
  lr?: number;
  /** Linear warm-up from lr·warmupFactor over this many steps. Default 0 (none). */
  warmupSteps?: number;
  warmupFactor?: number;
  /** Steps at which the learning rate is multiplied by `gamma`. */
  milestones?: number[];
  gamma?: number;
  /** Clip the global gradient norm (network and flow together) to this value. */
  clipNorm?: number;
  weightDecay?: number;
}

export interface StepResult {
  loss: number;
  lr: number;
  gradNorm: number;
}

/** Backends that can read tensors synchronously run the step in one pass; others (WebGPU) in two. */
const SYNC_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

export class Trainer {
  readonly tf: TF;
  readonly net: RegressFlowNet;
  readonly opts: Required<Omit<TrainOptions, 'clipNorm'>> & { clipNorm?: number };
  readonly adam: TfAdam;
  readonly flowOpt: FlowOptimizer;
  step = 0;
  private vars: tfNs.Variable[];

  constructor(net: RegressFlowNet, opts: TrainOptions = {}) {
    this.tf = net.tf;
    this.net = net;
    this.opts = {
      variant: 'official', lr: 1e-3, warmupSteps: 0, warmupFactor: 1e-3, milestones: [], gamma: 0.1, weightDecay: 0, ...opts,
    };
    if (!RLE_VARIANTS.includes(this.opts.variant)) throw new RangeError(`Trainer: unknown variant '${this.opts.variant}'; expected one of ${RLE_VARIANTS.join(', ')}`);
    if (!(this.opts.lr > 0)) throw new RangeError(`Trainer: lr must be positive, got ${this.opts.lr}`);
    this.vars = net.trainableVariables();
    this.adam = new TfAdam(this.tf, this.vars, this.opts.lr, 0.9, 0.999, 1e-8, this.opts.weightDecay);
    this.flowOpt = new FlowOptimizer(net.flow, { lr: this.opts.lr, weightDecay: this.opts.weightDecay });
  }

  /** The learning rate at a step: warm-up, then piecewise-constant decay. */
  lrAt(step: number): number {
    const o = this.opts;
    let f = 1;
    if (o.warmupSteps > 0 && step < o.warmupSteps) f = o.warmupFactor + (1 - o.warmupFactor) * (step / o.warmupSteps);
    for (const m of o.milestones) if (step >= m) f *= o.gamma;
    return o.lr * f;
  }

  /**
   * One step on a batch: images NHWC [B,H,W,C]; target and weight [B,K,D] flat (the layout's coordinate
   * convention: official [−0.5, 0.5], MMPose [0, 1]).
   */
  async trainStep(images: tfNs.Tensor4D, target: Float32Array, weight?: Float32Array): Promise<StepResult> {
    const tf = this.tf;
    const { numJoints: K, dim: D } = this.net.config;
    const B = images.shape[0];
    this.net.checkInput('trainStep', images);
    if (target.length !== B * K * D) throw new RangeError(`Trainer.trainStep: target must have shape [B,K,D] = [${B},${K},${D}], got ${target.length} values`);
    if (weight && weight.length !== B * K * D) throw new RangeError(`Trainer.trainStep: weight must have shape [B,K,D] = [${B},${K},${D}], got ${weight.length} values`);
    for (let i = 0; i < target.length; i++) if (!Number.isFinite(target[i])) throw new RangeError(`Trainer.trainStep: target must be finite, got ${target[i]} at flat index ${i}`);
    const w = weight ?? new Float32Array(B * K * D).fill(1);
    const shape: [number, number, number] = [B, K, D];
    const variant = this.opts.variant;
    let lossValue = NaN;
    let result: { value: tfNs.Scalar; grads: tfNs.NamedTensorMap };
    const names = new Map<string, tfNs.Variable>(this.vars.map((v) => [v.name, v]));

    if (SYNC_BACKENDS.has(tf.getBackend())) {
      const lossOp = tf.customGrad(((pred: tfNs.Tensor, sl: tfNs.Tensor) => {
        const r = rleLoss({ pred: pred.dataSync() as Float32Array, sigmaLogit: sl.dataSync() as Float32Array, target, weight: w, flow: this.net.flow, variant, shape });
        lossValue = r.loss;
        return {
          value: tf.scalar(r.loss),
          gradFunc: (dy: tfNs.Tensor) => [tf.mul(dy, tf.tensor(r.gradPred!, pred.shape)), tf.mul(dy, tf.tensor(r.gradSigmaLogit!, sl.shape))],
        };
      }) as unknown as Parameters<TF["customGrad"]>[0]);
      result = tf.variableGrads(() => {
        const f = this.net.features(images, true);
        const { pred, sigmaLogit } = this.net.heads(f, true);
        return lossOp(pred, sigmaLogit) as tfNs.Scalar;
      }, this.vars);
    } else {
      // Two passes where reads are asynchronous: the heads' outputs, then the loss in WASM, then the
      // backward pass through a surrogate Σ pred·∂L/∂pred + σlogit·∂L/∂σlogit (same gradients).
      const { pred, sigmaLogit } = tf.tidy(() => this.net.heads(this.net.features(images, true), true));
      const [pv, sv] = await Promise.all([pred.data(), sigmaLogit.data()]);
      pred.dispose(); sigmaLogit.dispose();
      const r = rleLoss({ pred: pv as Float32Array, sigmaLogit: sv as Float32Array, target, weight: w, flow: this.net.flow, variant, shape });
      lossValue = r.loss;
      const gp = tf.tensor(r.gradPred!, shape), gs = tf.tensor(r.gradSigmaLogit!, shape);
      result = tf.variableGrads(() => {
        const h = this.net.heads(this.net.features(images, true, false), true, false);
        return tf.add(tf.sum(tf.mul(h.pred, gp)), tf.sum(tf.mul(h.sigmaLogit, gs))) as tfNs.Scalar;
      }, this.vars);
      gp.dispose(); gs.dispose();
    }
    result.value.dispose();
    const grads = new Map<tfNs.Variable, tfNs.Tensor>();
    for (const [n, g] of Object.entries(result.grads)) grads.set(names.get(n)!, g);
    const sqT = tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))));
    let sq = (await sqT.data())[0];
    sqT.dispose();
    const fg = this.net.flow.getFlatGradients();
    for (let i = 0; i < fg.length; i++) sq += fg[i] * fg[i];
    const gradNorm = Math.sqrt(sq);
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
      for (const g of grads.values()) g.dispose();
      throw new RangeError(`Trainer.trainStep: non-finite loss (${lossValue}) or gradient norm (${gradNorm}) at step ${this.step}; parameters were not updated`);
    }
    const scale = this.opts.clipNorm && gradNorm > this.opts.clipNorm ? this.opts.clipNorm / gradNorm : 1;
    const lr = this.lrAt(this.step);
    this.adam.lr = lr;
    this.adam.apply(grads, scale);
    this.flowOpt.lr = lr;
    this.flowOpt.update(scale);
    for (const g of grads.values()) g.dispose();
    this.step++;
    return { loss: lossValue, lr, gradNorm };
  }

  dispose(): void {
    this.adam.dispose();
    this.flowOpt.dispose();
  }
}
