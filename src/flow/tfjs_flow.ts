// SPDX-License-Identifier: MIT
// The same RealNVP written with plain tfjs ops: the peer a JS user would write today, used as the
// benchmark baseline and as a cross-check of our kernels on any tfjs backend.
import type * as tfNs from '@tensorflow/tfjs';
import type { RealNVP } from './realnvp.js';

type TF = typeof tfNs;
type Getter = (name: string) => tfNs.Tensor;

export class TfjsFlow {
  readonly tf: TF;
  readonly dim: number;
  readonly masks: tfNs.Tensor1D[];
  readonly slope: number;
  /** Variables in canonical order (names as RealNVP.stateDict()). */
  readonly vars: Map<string, tfNs.Variable>;

  constructor(tf: TF, flow: RealNVP) {
    this.tf = tf;
    this.dim = flow.dim;
    this.slope = flow.leakySlope;
    this.masks = flow.masks.map((m) => tf.tensor1d(m));
    this.vars = new Map();
    for (const [name, t] of Object.entries(flow.stateDict())) {
      this.vars.set(name, tf.variable(tf.tensor(t.data, t.shape), true, `rlepose_tfjs_${name}_${Math.random().toString(36).slice(2)}`));
    }
  }

  private mlp(get: Getter, prefix: string, x: tfNs.Tensor2D, tanh: boolean): tfNs.Tensor2D {
    const tf = this.tf;
    const v = (n: string) => get(`${prefix}.${n}`);
    let h = tf.leakyRelu(tf.add(tf.matMul(x, v('0.weight') as tfNs.Tensor2D, false, true), v('0.bias')), this.slope) as tfNs.Tensor2D;
    h = tf.leakyRelu(tf.add(tf.matMul(h, v('2.weight') as tfNs.Tensor2D, false, true), v('2.bias')), this.slope) as tfNs.Tensor2D;
    const out = tf.add(tf.matMul(h, v('4.weight') as tfNs.Tensor2D, false, true), v('4.bias')) as tfNs.Tensor2D;
    return tanh ? tf.tanh(out) : out;
  }

  /** Data → latent, as tfjs ops (differentiable). */
  inverse(x: tfNs.Tensor2D, get: Getter = (n) => this.vars.get(n)!): { z: tfNs.Tensor2D; logDet: tfNs.Tensor1D } {
    const tf = this.tf;
    let z = x;
    let ld: tfNs.Tensor1D = tf.zeros([x.shape[0]]);
    for (let c = this.masks.length - 1; c >= 0; c--) {
      const m = this.masks[c];
      const om = tf.sub(1, m);
      const zm = tf.mul(z, m) as tfNs.Tensor2D;
      const s = tf.mul(this.mlp(get, `s.${c}`, zm, true), om);
      const t = tf.mul(this.mlp(get, `t.${c}`, zm, false), om);
      z = tf.add(tf.mul(tf.mul(om, tf.sub(z, t)), tf.exp(tf.neg(s))), zm) as tfNs.Tensor2D;
      ld = tf.sub(ld, tf.sum(s, 1));
    }
    return { z, logDet: ld };
  }

  logProb(x: tfNs.Tensor2D, get?: Getter): tfNs.Tensor1D {
    const tf = this.tf;
    const { z, logDet } = this.inverse(x, get);
    const q = tf.mul(-0.5, tf.sum(tf.square(z), 1));
    return tf.add(tf.add(q, -0.5 * this.dim * Math.log(2 * Math.PI)), logDet);
  }

  /** Σ log p(x) and its gradients with respect to x and every variable (tensors the caller disposes). */
  logProbGrad(x: tfNs.Tensor2D): { value: tfNs.Scalar; gradX: tfNs.Tensor; gradParams: Map<string, tfNs.Tensor> } {
    const tf = this.tf;
    const names = [...this.vars.keys()];
    const params = names.map((n) => this.vars.get(n)!);
    const f = (...args: tfNs.Tensor[]) => {
      const view = new Map<string, tfNs.Tensor>(names.map((n, i) => [n, args[i + 1]]));
      return tf.sum(this.logProb(args[0] as tfNs.Tensor2D, (n) => view.get(n)!)) as tfNs.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([x, ...params]);
    return { value, gradX: grads[0], gradParams: new Map(names.map((n, i) => [n, grads[i + 1]])) };
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    for (const m of this.masks) m.dispose();
  }
}
