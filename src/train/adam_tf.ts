// SPDX-License-Identifier: MIT
// PyTorch-convention Adam for tfjs variables (same update as our WASM Adam), with a state that can be
// saved and restored exactly.
import type * as tfNs from '@tensorflow/tfjs';
import { recordOp } from '../backend/report.js';
import type { TfBackend } from '../backend/table.js';

type TF = typeof tfNs;

export class TfAdam {
  private m = new Map<tfNs.Variable, tfNs.Variable>();
  private v = new Map<tfNs.Variable, tfNs.Variable>();
  t = 0;
  constructor(private tf: TF, private vars: tfNs.Variable[], public lr = 1e-3, private b1 = 0.9, private b2 = 0.999,
    private eps = 1e-8, private weightDecay = 0) {
    for (const p of vars) {
      this.m.set(p, tf.variable(tf.zerosLike(p), false));
      this.v.set(p, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Applies gradients (one per variable, same order as the constructor's list), scaled by gradScale. */
  apply(grads: Map<tfNs.Variable, tfNs.Tensor>, gradScale = 1): void {
    const tf = this.tf;
    recordOp('optimizer.network', tf.getBackend() as TfBackend);
    this.t++;
    const bc1 = 1 - Math.pow(this.b1, this.t), bc2 = 1 - Math.pow(this.b2, this.t);
    tf.tidy(() => {
      for (const p of this.vars) {
        let g = grads.get(p);
        if (!g) continue;
        if (gradScale !== 1) g = tf.mul(g, gradScale);
        if (this.weightDecay) g = tf.add(g, tf.mul(p, this.weightDecay));
        const m = this.m.get(p)!, v = this.v.get(p)!;
        m.assign(tf.add(tf.mul(m, this.b1), tf.mul(g, 1 - this.b1)));
        v.assign(tf.add(tf.mul(v, this.b2), tf.mul(tf.square(g), 1 - this.b2)));
        const den = tf.add(tf.sqrt(tf.div(v, bc2)), this.eps);
        p.assign(tf.sub(p, tf.div(tf.mul(m, this.lr / bc1), den)));
      }
    });
  }

  /** Moments per variable (copies), in the constructor's order. */
  getState(): { t: number; m: Float32Array[]; v: Float32Array[] } {
    return {
      t: this.t,
      m: this.vars.map((p) => Float32Array.from(this.m.get(p)!.dataSync())),
      v: this.vars.map((p) => Float32Array.from(this.v.get(p)!.dataSync())),
    };
  }

  setState(st: { t: number; m: ArrayLike<number>[]; v: ArrayLike<number>[] }): void {
    const tf = this.tf;
    if (st.m.length !== this.vars.length || st.v.length !== this.vars.length) {
      throw new RangeError(`TfAdam.setState: expected moments for ${this.vars.length} variables, got ${st.m.length}/${st.v.length}`);
    }
    this.t = st.t;
    this.vars.forEach((p, i) => {
      if (st.m[i].length !== p.size || st.v[i].length !== p.size) throw new RangeError(`TfAdam.setState: variable ${i} has ${p.size} values, moments have ${st.m[i].length}/${st.v[i].length}`);
      this.m.get(p)!.assign(tf.tensor(Array.from(st.m[i]), p.shape));
      this.v.get(p)!.assign(tf.tensor(Array.from(st.v[i]), p.shape));
    });
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear(); this.v.clear();
  }
}
