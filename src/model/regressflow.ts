// SPDX-License-Identifier: MIT
// The RegressFlow network of the RLE paper on tfjs (NHWC): a ResNet trunk (BasicBlock or Bottleneck, any
// widths and depths), global average pooling, optional FC layers, the coordinate head with the
// feature-normalised linear y = xWᵀ/‖x‖ + b and the σ head; the flow (RealNVP, WASM) rides along for
// training. Layouts: 'official' (the RLE paper's code) and 'mmpose' (MMPose RLEHead).
import type * as tfNs from '@tensorflow/tfjs';
import { RealNVP, type CreateFlowOptions } from '../flow/realnvp.js';
import { Rng } from '../util/rng.js';
import { getChoice, recordOp } from '../backend/report.js';
import { BN_TRAIN_KERNEL, BN_TRAIN_GRAD_KERNEL } from '../backend/wasm_kernels.js';
import { StateDictReader, oihwToHwio, hwioToOihw, type StateDict, type Tensor32 } from './statedict.js';

type TF = typeof tfNs;

export type BlockType = 'basic' | 'bottleneck';
export type Layout = 'official' | 'mmpose';

export interface TrunkSpec {
  block: BlockType;
  /** Output channels of the 7×7 stem. */
  stem: number;
  /** Planes per stage (a Bottleneck stage outputs 4× this). */
  widths: number[];
  /** Blocks per stage. */
  depths: number[];
  /** Input channels (3 for RGB). */
  inChannels?: number;
}

export const TRUNK_PRESETS: Record<'resnet18' | 'resnet34' | 'resnet50' | 'small', TrunkSpec> = {
  resnet18: { block: 'basic', stem: 64, widths: [64, 128, 256, 512], depths: [2, 2, 2, 2] },
  resnet34: { block: 'basic', stem: 64, widths: [64, 128, 256, 512], depths: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', stem: 64, widths: [64, 128, 256, 512], depths: [3, 4, 6, 3] },
  /** The small trunk for edge use, tests, benchmarks and the demo. */
  small: { block: 'basic', stem: 32, widths: [32, 64, 128, 256], depths: [1, 1, 1, 1] },
};

export interface RegressFlowConfig {
  layout: Layout;
  trunk: TrunkSpec;
  numJoints: number;
  /** Coordinates per joint (2; 3 for uvd). */
  dim?: number;
  /** Extra FC layers (Linear → BatchNorm1d → ReLU) between pooling and the heads (official layout). */
  fcDims?: number[];
  /** Flow options (official layout default: dim, hidden 64, 6 couplings). */
  flow?: CreateFlowOptions;
}

export interface Prediction {
  /** Pooled trunk features [B, C]. */
  pooled: Float32Array;
  /** μ̂ [B, K, D]: official layout in [−0.5, 0.5] of the input box, MMPose in [0, 1]. */
  pred: Float32Array;
  /** σ = sigmoid(logit) [B, K, D]. */
  sigma: Float32Array;
  /** Confidence 1 − mean_d σ [B, K]. */
  scores: Float32Array;
  batch: number;
}

const BN_EPS = 1e-5;

/** COCO's left/right joint pairs (0-based): eyes, ears, shoulders, elbows, wrists, hips, knees, ankles. */
export const COCO_FLIP_PAIRS: ReadonlyArray<readonly [number, number]> = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]];

export interface PredictOptions {
  /** Average with the prediction on the horizontally flipped image, as the official code does. */
  flipTest?: boolean;
  /** Joint pairs swapped by a flip; default COCO's when K = 17. */
  flipPairs?: ReadonlyArray<readonly [number, number]>;
}

function blockExpansion(b: BlockType): number { return b === 'bottleneck' ? 4 : 1; }

interface ParamEntry { v: tfNs.Variable; trainable: boolean; kind: 'conv' | 'linear_w' | 'vec' | 'bn_stat' }

/** Pytorch-like initialisation: Kaiming-normal (fan_out, ReLU) convs, BN γ=1 β=0, default Linear. */
function initTensor(rng: Rng, kind: string, shape: number[], fanIn: number, fanOut: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (kind === 'conv') { const std = Math.sqrt(2 / fanOut); for (let i = 0; i < n; i++) out[i] = rng.normal() * std; }
  else if (kind === 'uniform') { const b = 1 / Math.sqrt(fanIn); for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * b; }
  else if (kind === 'ones') out.fill(1);
  return out;
}

export class RegressFlowNet {
  readonly tf: TF;
  readonly config: Required<Omit<RegressFlowConfig, 'flow'>> & { flow?: CreateFlowOptions };
  readonly params = new Map<string, ParamEntry>();
  flow: RealNVP;
  private disposed = false;

  private constructor(tf: TF, config: RegressFlowConfig, flow: RealNVP) {
    this.tf = tf;
    this.config = { dim: 2, fcDims: [], ...config };
    this.flow = flow;
  }

  // ---- construction -----------------------------------------------------------------------------

  /** A fresh network (PyTorch-like init) and flow. */
  static create(tf: TF, config: RegressFlowConfig, seed = 0): RegressFlowNet {
    validateConfig(config);
    const dim = config.dim ?? 2;
    const flow = RealNVP.create({ dim, seed, ...config.flow });
    const net = new RegressFlowNet(tf, config, flow);
    const rng = new Rng(seed + 1);
    for (const spec of net.paramSpecs()) {
      let data: Float32Array;
      const [fanIn, fanOut] = spec.fan;
      if (spec.kind === 'conv') data = initTensor(rng, 'conv', spec.shape, fanIn, fanOut);
      else if (spec.kind === 'linear_w' || spec.role === 'linear_b') data = initTensor(rng, 'uniform', spec.shape, fanIn, fanOut);
      else if (spec.role === 'bn_w' || spec.role === 'bn_var') data = initTensor(rng, 'ones', spec.shape, 0, 0);
      else data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
      net.addParam(spec.name, spec.kind === 'conv' ? oihwToHwio({ shape: spec.shape, data }) : { shape: spec.shape, data }, spec.kind, spec.kind !== 'bn_stat');
    }
    return net;
  }

  /**
   * Imports a PyTorch state dict (official `preact.` / `fc_coord` / `fc_sigma` / `flow.` layout, or MMPose's
   * `backbone.` / `head.fc` / `head.loss_module.flow_model.`). The architecture is read from the shapes;
   * every missing, unexpected or mis-shaped key is reported at once.
   */
  static fromStateDict(tf: TF, sd: StateDict, opts: { layout?: Layout; numJoints?: number } = {}): RegressFlowNet {
    const op = 'RegressFlowNet.fromStateDict';
    const layout: Layout = opts.layout ?? ([...sd.keys()].some((k) => k.startsWith('preact.')) ? 'official'
      : [...sd.keys()].some((k) => k.startsWith('backbone.')) ? 'mmpose' : (() => {
        throw new RangeError(`${op}: cannot tell the layout: expected keys under 'preact.' (official) or 'backbone.' (mmpose), got ${[...sd.keys()].slice(0, 6).join(', ')}...`);
      })());
    const tp = layout === 'official' ? 'preact.' : 'backbone.';
    const trunk = inferTrunk(sd, tp, op);
    const feat = trunk.widths[trunk.widths.length - 1] * blockExpansion(trunk.block);
    let numJoints: number, dim = 2;
    const fcDims: number[] = [];
    if (layout === 'official') {
      let inCh = feat;
      for (let j = 0; ; j++) {
        const w = sd.get(`fcs.${j}.weight`);
        if (!w) { if ([...sd.keys()].some((k) => k.startsWith(`fcs.${j + 1}.`))) continue; break; }
        if (w.shape.length === 2 && w.shape[1] === inCh) { fcDims.push(w.shape[0]); inCh = w.shape[0]; j += 1; }
      }
      const c = sd.get('fc_coord.linear.weight');
      if (!c) throw new RangeError(`${op}: missing 'fc_coord.linear.weight' [K*D, C] (official layout)`);
      const s = sd.get('fc_sigma.linear.weight');
      const fm = sd.get('flow.s.0.0.weight');
      dim = fm ? fm.shape[1] : 2;
      numJoints = opts.numJoints ?? c.shape[0] / dim;
      if (s && s.shape[0] !== c.shape[0]) throw new RangeError(`${op}: fc_sigma.linear.weight has ${s.shape[0]} outputs but fc_coord.linear.weight has ${c.shape[0]}`);
    } else {
      const f = sd.get('head.fc.weight');
      if (!f) throw new RangeError(`${op}: missing 'head.fc.weight' [K*4, C] (MMPose RLEHead layout)`);
      numJoints = opts.numJoints ?? f.shape[0] / 4;
    }
    if (!Number.isInteger(numJoints) || numJoints < 1) throw new RangeError(`${op}: cannot read the number of joints from the head's shape`);
    const flowPrefix = layout === 'official' ? 'flow.' : 'head.loss_module.flow_model.';
    const flowSd = new Map<string, unknown>();
    for (const [k, v] of sd) if (k.startsWith(flowPrefix)) flowSd.set(k, v);
    const flow = flowSd.size ? RealNVP.fromStateDict(flowSd) : RealNVP.create({ dim });
    const net = new RegressFlowNet(tf, { layout, trunk, numJoints, dim, fcDims }, flow);
    const reader = new StateDictReader(sd, op);
    try {
      for (const spec of net.paramSpecs()) {
        const t = reader.get(spec.name, spec.shape);
        if (!t) continue;
        net.addParam(spec.name, spec.kind === 'conv' ? oihwToHwio(t) : t, spec.kind, spec.kind !== 'bn_stat');
      }
      reader.finish([tp, 'fc_coord.', 'fc_sigma.', 'fcs.', 'head.'], (k) =>
        k.startsWith(flowPrefix) || k.endsWith('num_batches_tracked'));
    } catch (e) {
      net.dispose();
      throw e;
    }
    return net;
  }

  private addParam(name: string, t: Tensor32, kind: ParamEntry['kind'], trainable: boolean): void {
    const tf = this.tf;
    this.params.set(name, { v: tf.variable(tf.tensor(t.data, t.shape), trainable, `rlepose/${name}/${Math.random().toString(36).slice(2, 8)}`), trainable, kind });
  }

  /** Every parameter the architecture needs, with PyTorch names and shapes (conv weights OIHW). */
  paramSpecs(): Array<{ name: string; shape: number[]; kind: ParamEntry['kind']; role: string; fan: [number, number] }> {
    const c = this.config;
    const out: Array<{ name: string; shape: number[]; kind: ParamEntry['kind']; role: string; fan: [number, number] }> = [];
    const conv = (name: string, o: number, i: number, k: number) => out.push({ name: `${name}.weight`, shape: [o, i, k, k], kind: 'conv', role: 'conv', fan: [i * k * k, o * k * k] });
    const bn = (name: string, ch: number) => {
      out.push({ name: `${name}.weight`, shape: [ch], kind: 'vec', role: 'bn_w', fan: [0, 0] });
      out.push({ name: `${name}.bias`, shape: [ch], kind: 'vec', role: 'bn_b', fan: [0, 0] });
      out.push({ name: `${name}.running_mean`, shape: [ch], kind: 'bn_stat', role: 'bn_mean', fan: [0, 0] });
      out.push({ name: `${name}.running_var`, shape: [ch], kind: 'bn_stat', role: 'bn_var', fan: [0, 0] });
    };
    const lin = (name: string, o: number, i: number, bias = true) => {
      out.push({ name: `${name}.weight`, shape: [o, i], kind: 'linear_w', role: 'linear_w', fan: [i, o] });
      if (bias) out.push({ name: `${name}.bias`, shape: [o], kind: 'vec', role: 'linear_b', fan: [i, o] });
    };
    const tp = c.layout === 'official' ? 'preact.' : 'backbone.';
    const t = c.trunk;
    const exp = blockExpansion(t.block);
    conv(`${tp}conv1`, t.stem, t.inChannels ?? 3, 7);
    bn(`${tp}bn1`, t.stem);
    let inCh = t.stem;
    t.widths.forEach((w, L) => {
      for (let b = 0; b < t.depths[L]; b++) {
        const p = `${tp}layer${L + 1}.${b}`;
        const stride = b === 0 && L > 0 ? 2 : 1;
        if (t.block === 'basic') {
          conv(`${p}.conv1`, w, inCh, 3); bn(`${p}.bn1`, w);
          conv(`${p}.conv2`, w, w, 3); bn(`${p}.bn2`, w);
        } else {
          conv(`${p}.conv1`, w, inCh, 1); bn(`${p}.bn1`, w);
          conv(`${p}.conv2`, w, w, 3); bn(`${p}.bn2`, w);
          conv(`${p}.conv3`, w * exp, w, 1); bn(`${p}.bn3`, w * exp);
        }
        if (b === 0 && (stride !== 1 || inCh !== w * exp)) { conv(`${p}.downsample.0`, w * exp, inCh, 1); bn(`${p}.downsample.1`, w * exp); }
        inCh = w * exp;
      }
    });
    const KD = c.numJoints * c.dim;
    if (c.layout === 'official') {
      c.fcDims.forEach((d, i) => { lin(`fcs.${3 * i}`, d, inCh); bn(`fcs.${3 * i + 1}`, d); inCh = d; });
      lin('fc_coord.linear', KD, inCh);
      lin('fc_sigma.linear', KD, inCh);
    } else {
      lin('head.fc', c.numJoints * 4, inCh);
    }
    return out;
  }

  private p(name: string): tfNs.Variable {
    const e = this.params.get(name);
    if (!e) throw new Error(`RegressFlowNet: parameter '${name}' is missing`);
    return e.v;
  }

  // ---- forward ----------------------------------------------------------------------------------

  private bn(x: tfNs.Tensor, name: string, training: boolean, updateStats = training, momentum = 0.1): tfNs.Tensor {
    const tf = this.tf;
    const g = this.p(`${name}.weight`), b = this.p(`${name}.bias`);
    if (!training) return tf.batchNorm(x, this.p(`${name}.running_mean`), this.p(`${name}.running_var`), b, g, BN_EPS);
    const rm = this.p(`${name}.running_mean`), rv = this.p(`${name}.running_var`);
    return batchNormTrain(tf, x, g, b, updateStats ? { mean: rm, variance: rv, momentum } : null);
  }

  private conv(x: tfNs.Tensor4D, name: string, stride: number, pad: number): tfNs.Tensor4D {
    const tf = this.tf;
    const w = this.p(`${name}.weight`) as unknown as tfNs.Tensor4D;
    const padding = pad === 0 ? 'valid' : [[0, 0], [pad, pad], [pad, pad], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]];
    return tf.conv2d(x, w, stride, padding, 'NHWC');
  }

  /** Trunk + pooling: features [B, C] from NHWC images. */
  features(x: tfNs.Tensor4D, training = false, updateStats = training): tfNs.Tensor2D {
    const tf = this.tf;
    const c = this.config;
    const tp = c.layout === 'official' ? 'preact.' : 'backbone.';
    let h = tf.relu(this.bn(this.conv(x, `${tp}conv1`, 2, 3), `${tp}bn1`, training, updateStats)) as tfNs.Tensor4D;
    // After ReLU every value is ≥ 0, so tfjs's padding equals PyTorch's −∞ padding for the max-pool.
    h = tf.maxPool(h, 3, 2, 1);
    const t = c.trunk;
    let inCh = t.stem;
    const exp = blockExpansion(t.block);
    t.widths.forEach((w, L) => {
      for (let b = 0; b < t.depths[L]; b++) {
        const p = `${tp}layer${L + 1}.${b}`;
        const stride = b === 0 && L > 0 ? 2 : 1;
        let y: tfNs.Tensor4D;
        if (t.block === 'basic') {
          y = tf.relu(this.bn(this.conv(h, `${p}.conv1`, stride, 1), `${p}.bn1`, training, updateStats)) as tfNs.Tensor4D;
          y = this.bn(this.conv(y, `${p}.conv2`, 1, 1), `${p}.bn2`, training, updateStats) as tfNs.Tensor4D;
        } else {
          y = tf.relu(this.bn(this.conv(h, `${p}.conv1`, 1, 0), `${p}.bn1`, training, updateStats)) as tfNs.Tensor4D;
          y = tf.relu(this.bn(this.conv(y, `${p}.conv2`, stride, 1), `${p}.bn2`, training, updateStats)) as tfNs.Tensor4D;
          y = this.bn(this.conv(y, `${p}.conv3`, 1, 0), `${p}.bn3`, training, updateStats) as tfNs.Tensor4D;
        }
        const skip = this.params.has(`${p}.downsample.0.weight`)
          ? this.bn(this.conv(h, `${p}.downsample.0`, stride, 0), `${p}.downsample.1`, training, updateStats) as tfNs.Tensor4D
          : h;
        h = tf.relu(tf.add(y, skip)) as tfNs.Tensor4D;
        inCh = w * exp;
      }
    });
    void inCh;
    return tf.mean(h, [1, 2]) as tfNs.Tensor2D;
  }

  private linear(x: tfNs.Tensor2D, name: string, normalise = false): tfNs.Tensor2D {
    const tf = this.tf;
    let y = tf.matMul(x, this.p(`${name}.weight`) as unknown as tfNs.Tensor2D, false, true);
    if (normalise) y = tf.div(y, tf.norm(x, 'euclidean', 1, true));
    if (this.params.has(`${name}.bias`)) y = tf.add(y, this.p(`${name}.bias`));
    return y as tfNs.Tensor2D;
  }

  /** The heads: μ̂ and σ logits [B, K, D] from pooled features. */
  heads(f: tfNs.Tensor2D, training = false, updateStats = training): { pred: tfNs.Tensor3D; sigmaLogit: tfNs.Tensor3D } {
    const tf = this.tf;
    const c = this.config;
    const B = f.shape[0];
    if (c.layout === 'official') {
      let h = f;
      c.fcDims.forEach((_, i) => { h = tf.relu(this.bn(this.linear(h, `fcs.${3 * i}`), `fcs.${3 * i + 1}`, training, updateStats)) as tfNs.Tensor2D; });
      const pred = tf.reshape(this.linear(h, 'fc_coord.linear', true), [B, c.numJoints, c.dim]) as tfNs.Tensor3D;
      const sigmaLogit = tf.reshape(this.linear(h, 'fc_sigma.linear'), [B, c.numJoints, c.dim]) as tfNs.Tensor3D;
      return { pred, sigmaLogit };
    }
    const out = tf.reshape(this.linear(f, 'head.fc'), [B, c.numJoints, 4]);
    return {
      pred: tf.slice(out, [0, 0, 0], [B, c.numJoints, 2]) as tfNs.Tensor3D,
      sigmaLogit: tf.slice(out, [0, 0, 2], [B, c.numJoints, 2]) as tfNs.Tensor3D,
    };
  }

  /**
   * Inference (eval-mode BatchNorm) on NHWC images [B, H, W, C]; returns copies. With `flipTest`, μ̂ and σ are
   * averaged with those of the mirrored image (x mirrored about the pixel grid: official −x − 1/W, MMPose
   * 1 − x − 1/W; left/right joints swapped).
   */
  predict(x: tfNs.Tensor4D, opts: PredictOptions = {}): Prediction {
    const tf = this.tf;
    this.checkInput('predict', x);
    const K = this.config.numJoints;
    const pairs = opts.flipPairs ?? (K === 17 ? COCO_FLIP_PAIRS : []);
    for (const [a, b] of pairs) {
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= K || b >= K) throw new RangeError(`RegressFlowNet.predict: flip pair [${a},${b}] is out of range for K = ${K}`);
    }
    const [pooled, pred, sigma] = tf.tidy(() => {
      const f = this.features(x, false);
      const { pred, sigmaLogit } = this.heads(f, false);
      if (!opts.flipTest) return [f, pred, tf.sigmoid(sigmaLogit)];
      const fh = this.heads(this.features(tf.reverse(x, 2) as tfNs.Tensor4D, false), false);
      const perm = Array.from({ length: K }, (_, k) => k);
      for (const [a, b] of pairs) { perm[a] = b; perm[b] = a; }
      const idx = tf.tensor1d(perm, 'int32');
      const W = x.shape[2];
      const offset = this.config.layout === 'official' ? -1 / W : 1 - 1 / W;
      const D = this.config.dim;
      const sign = tf.tensor1d(Array.from({ length: D }, (_, d) => (d === 0 ? -1 : 1)));
      const shift = tf.tensor1d(Array.from({ length: D }, (_, d) => (d === 0 ? offset : 0)));
      const fp = tf.add(tf.mul(tf.gather(fh.pred, idx, 1), sign), shift);
      const fs = tf.sigmoid(tf.gather(fh.sigmaLogit, idx, 1));
      return [f, tf.div(tf.add(pred, fp), 2), tf.div(tf.add(tf.sigmoid(sigmaLogit), fs), 2)];
    });
    try {
      const B = x.shape[0], D = this.config.dim;
      const s = sigma.dataSync() as Float32Array;
      const scores = new Float32Array(B * K);
      for (let i = 0; i < B * K; i++) { let m = 0; for (let d = 0; d < D; d++) m += s[i * D + d]; scores[i] = 1 - m / D; }
      return { pooled: Float32Array.from(pooled.dataSync()), pred: Float32Array.from(pred.dataSync()), sigma: Float32Array.from(s), scores, batch: B };
    } finally {
      pooled.dispose(); pred.dispose(); sigma.dispose();
    }
  }

  /** As `predict`, reading results asynchronously: required on WebGPU (no synchronous readback in
   *  Deno, Bun or browsers), fine everywhere. */
  async predictAsync(x: tfNs.Tensor4D, opts: PredictOptions = {}): Promise<Prediction> {
    const tf = this.tf;
    this.checkInput('predictAsync', x);
    const [pooled, pred, sigma] = tf.tidy(() => {
      const f = this.features(x, false);
      const { pred: p0, sigmaLogit } = this.heads(f, false);
      return [f, p0, tf.sigmoid(sigmaLogit)];
    });
    if (opts.flipTest) { tf.dispose([pooled, pred, sigma]); return this.predict(x, opts); }
    try {
      const [pv, mv, sv] = await Promise.all([pooled.data(), pred.data(), sigma.data()]);
      const B = x.shape[0], K = this.config.numJoints, D = this.config.dim;
      const scores = new Float32Array(B * K);
      for (let i = 0; i < B * K; i++) { let m = 0; for (let d = 0; d < D; d++) m += sv[i * D + d]; scores[i] = 1 - m / D; }
      return { pooled: Float32Array.from(pv), pred: Float32Array.from(mv), sigma: Float32Array.from(sv), scores, batch: B };
    } finally {
      tf.dispose([pooled, pred, sigma]);
    }
  }

  /** As `stateDict`, reading the variables asynchronously (WebGPU). */
  async stateDictAsync(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [name, e] of this.params) {
      const t: Tensor32 = { shape: e.v.shape.slice(), data: Float32Array.from(await e.v.data()) };
      out.set(name, e.kind === 'conv' ? hwioToOihw(t) : t);
    }
    const fp = this.config.layout === 'official' ? 'flow.' : 'head.loss_module.flow_model.';
    for (const [k, v] of Object.entries(this.flow.stateDict({ prefix: fp, includeMask: this.config.layout === 'official' }))) out.set(k, v);
    return out;
  }

  /** @internal */
  checkInput(op: string, x: tfNs.Tensor): void {
    const cin = this.config.trunk.inChannels ?? 3;
    const [, h, w, c] = x.shape;
    if (x.rank !== 4 || c !== cin) {
      throw new RangeError(`RegressFlowNet.${op}: images must be NHWC [B,H,W,${cin}], got [${x.shape.join(',')}]`);
    }
    if (h! < 32 || w! < 32) throw new RangeError(`RegressFlowNet.${op}: images must be at least 32×32 (the trunk downsamples 32×), got ${h}×${w}`);
  }

  /** The network's state dict with PyTorch names and layouts (conv OIHW), for export; flow included. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [name, e] of this.params) {
      const t: Tensor32 = { shape: e.v.shape.slice(), data: Float32Array.from(e.v.dataSync()) };
      out.set(name, e.kind === 'conv' ? hwioToOihw(t) : t);
    }
    const fp = this.config.layout === 'official' ? 'flow.' : 'head.loss_module.flow_model.';
    for (const [k, v] of Object.entries(this.flow.stateDict({ prefix: fp, includeMask: this.config.layout === 'official' }))) out.set(k, v);
    return out;
  }

  /** Trainable tfjs variables (conv, BN affine, linear), in `trainableParamNames()` order. */
  trainableVariables(): tfNs.Variable[] {
    return this.trainableParamNames().map((n) => this.params.get(n)!.v);
  }

  /** PyTorch names of the trainable parameters. */
  trainableParamNames(): string[] {
    return [...this.params.entries()].filter(([, e]) => e.trainable).map(([n]) => n);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const e of this.params.values()) e.v.dispose();
    this.params.clear();
    this.flow.dispose();
  }
}

/**
 * Training-mode BatchNorm with a hand-written backward pass (tfjs's autograd of batchNorm goes through
 * Tile and dozens of small ops): dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy.
 * Running statistics follow PyTorch (unbiased variance, momentum 0.1).
 */
export function batchNormTrain(tf: TF, x: tfNs.Tensor, gamma: tfNs.Tensor, beta: tfNs.Tensor,
  running: { mean: tfNs.Variable; variance: tfNs.Variable; momentum: number } | null): tfNs.Tensor {
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  const n = x.size / x.shape[x.rank - 1];
  if (useFusedBatchNorm(tf)) return fusedBatchNormTrain(tf, x, gamma, beta, running, n);
  recordOp('batchNorm.train', 'tfjs-ops');
  const op = tf.customGrad(((xi: tfNs.Tensor, gi: tfNs.Tensor, bi: tfNs.Tensor, save: (t: tfNs.Tensor[]) => void) => {
    const { mean, variance } = tf.moments(xi, axes);
    if (running) updateRunningStats(tf, running, mean, variance, n);
    const rstd = tf.rsqrt(tf.add(variance, BN_EPS));
    const xhat = tf.mul(tf.sub(xi, mean), rstd);
    save([xhat, rstd, gi]);
    return {
      value: tf.add(tf.mul(xhat, gi), bi),
      gradFunc: (dy: tfNs.Tensor, saved: tfNs.Tensor[]) => {
        const [xh, rs, gg] = saved;
        const sdy = tf.sum(dy, axes);
        const sdyx = tf.sum(tf.mul(dy, xh), axes);
        const dx = tf.mul(tf.mul(gg, rs), tf.sub(dy, tf.div(tf.add(sdy, tf.mul(xh, sdyx)), n)));
        return [dx, sdyx, sdy];
      },
    };
  }) as unknown as Parameters<TF['customGrad']>[0]);
  return op(x, gamma, beta);
}

type RunningStats = { mean: tfNs.Variable; variance: tfNs.Variable; momentum: number };

/** PyTorch's running averages: the batch mean, and the batch variance made unbiased (n / (n − 1)). */
function updateRunningStats(tf: TF, running: RunningStats, mean: tfNs.Tensor, variance: tfNs.Tensor, n: number): void {
  const m = running.momentum;
  running.mean.assign(tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m)));
  running.variance.assign(tf.add(tf.mul(running.variance, 1 - m), tf.mul(variance, m * n / Math.max(n - 1, 1))));
}

/** Our fused WASM kernels serve training-mode BatchNorm when the network runs on tfjs-wasm, they are
 *  registered (init() / registerWasmTrainingKernels) and the user has not forced 'tfjs-ops' for it. */
function useFusedBatchNorm(tf: TF): boolean {
  if (tf.getBackend() !== 'wasm' || !tf.getKernel(BN_TRAIN_KERNEL, 'wasm') || !tf.getKernel(BN_TRAIN_GRAD_KERNEL, 'wasm')) return false;
  const c = getChoice('batchNorm.train');
  return c === undefined || c.backend === 'wasm';
}

/** batchNormTrain on RleposeBatchNormTrain / RleposeBatchNormTrainGrad (backend/batchnorm.ts): two passes
 *  over x forward, two over (dy, x) backward, instead of a dozen tfjs ops. */
function fusedBatchNormTrain(tf: TF, x: tfNs.Tensor, gamma: tfNs.Tensor, beta: tfNs.Tensor,
  running: RunningStats | null, n: number): tfNs.Tensor {
  const attrs = { varianceEpsilon: BN_EPS };
  const op = tf.customGrad(((xi: tfNs.Tensor, gi: tfNs.Tensor, bi: tfNs.Tensor, save: (t: tfNs.Tensor[]) => void) => {
    const [y, mean, variance] = tf.engine().runKernel(BN_TRAIN_KERNEL, { x: xi, gamma: gi, beta: bi }, attrs) as tfNs.Tensor[];
    if (running) updateRunningStats(tf, running, mean, variance, n);
    save([xi, gi, mean, variance]);
    return {
      value: y,
      gradFunc: (dy: tfNs.Tensor, saved: tfNs.Tensor[]) => {
        const [xs, gs, ms, vs] = saved;
        return tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, { dy, x: xs, gamma: gs, mean: ms, variance: vs }, attrs) as tfNs.Tensor[];
      },
    };
  }) as unknown as Parameters<TF['customGrad']>[0]);
  return op(x, gamma, beta);
}

function validateConfig(c: RegressFlowConfig): void {
  const op = 'RegressFlowNet.create';
  if (c.layout !== 'official' && c.layout !== 'mmpose') throw new RangeError(`${op}: layout must be 'official' or 'mmpose', got '${String(c.layout)}'`);
  if (!Number.isInteger(c.numJoints) || c.numJoints < 1) throw new RangeError(`${op}: numJoints must be a positive integer, got ${c.numJoints}`);
  const t = c.trunk;
  if (!t || !Array.isArray(t.widths) || !Array.isArray(t.depths) || t.widths.length !== t.depths.length || t.widths.length < 1) {
    throw new RangeError(`${op}: trunk must have widths and depths of equal, non-zero length`);
  }
  if (c.layout === 'mmpose' && (c.dim ?? 2) !== 2) throw new RangeError(`${op}: the MMPose layout is 2D only`);
}

/** Reads block type, stem, widths and depths from a trunk's tensor shapes. */
export function inferTrunk(sd: StateDict, tp: string, op: string): TrunkSpec {
  const stem = sd.get(`${tp}conv1.weight`);
  if (!stem || stem.shape.length !== 4) throw new RangeError(`${op}: missing '${tp}conv1.weight' [C, 3, 7, 7] (the trunk's stem)`);
  const block: BlockType = sd.has(`${tp}layer1.0.conv3.weight`) ? 'bottleneck' : 'basic';
  const widths: number[] = [], depths: number[] = [];
  for (let L = 1; sd.has(`${tp}layer${L}.0.conv1.weight`); L++) {
    let d = 0;
    while (sd.has(`${tp}layer${L}.${d}.conv1.weight`)) d++;
    widths.push(sd.get(`${tp}layer${L}.0.conv1.weight`)!.shape[0]);
    depths.push(d);
  }
  if (!widths.length) throw new RangeError(`${op}: no residual stages found (expected '${tp}layer1.0.conv1.weight')`);
  return { block, stem: stem.shape[0], widths, depths, inChannels: stem.shape[1] };
}
