// SPDX-License-Identifier: MIT
// Adam / SGD on a flow's packed parameters, in WASM, using the gradients of the flow's last backward call.
import type { RealNVP } from './realnvp.js';
import { recordOp } from '../backend/report.js';

export interface OptimizerOptions {
  type?: 'adam' | 'adamw' | 'sgd';
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  momentum?: number;
}

export class FlowOptimizer {
  readonly flow: RealNVP;
  readonly type: 'adam' | 'adamw' | 'sgd';
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly momentum: number;
  private m = 0;
  private v = 0;
  private t = 0;
  private disposed = false;

  constructor(flow: RealNVP, opts: OptimizerOptions = {}) {
    this.flow = flow;
    this.type = opts.type ?? 'adam';
    if (!['adam', 'adamw', 'sgd'].includes(this.type)) throw new RangeError(`FlowOptimizer: type must be 'adam', 'adamw' or 'sgd', got '${String(this.type)}'`);
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.momentum = opts.momentum ?? 0;
    for (const [k, v] of Object.entries({ lr: this.lr, eps: this.eps, weightDecay: this.weightDecay, momentum: this.momentum })) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`FlowOptimizer: ${k} must be a finite non-negative number, got ${v}`);
    }
    const k = flow._kernels;
    const bytes = flow._packedFloats * 4;
    try {
      this.m = k.alloc(bytes);
      if (this.type !== 'sgd') this.v = k.alloc(bytes);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  get step(): number { return this.t; }

  /** One update from the flow's current gradients (those of its last backward call), scaled by `gradScale`
   *  (for gradient clipping). */
  update(gradScale = 1): void {
    if (this.disposed) throw new Error('FlowOptimizer: disposed');
    if (this.flow.isDisposed) throw new Error('FlowOptimizer: the flow has been disposed');
    const k = this.flow._kernels;
    const n = this.flow._packedFloats;
    recordOp('optimizer.flow', 'rlepose');
    this.t++;
    if (this.type === 'sgd') {
      k.exports.sgdStep(this.flow._params, this.flow._grads, this.m, n, this.lr, this.momentum, this.weightDecay, gradScale);
    } else {
      const [b1, b2] = this.betas;
      k.exports.adamStep(this.flow._params, this.flow._grads, this.m, this.v, n, this.lr, b1, b2, this.eps,
        this.weightDecay, 1 - Math.pow(b1, this.t), 1 - Math.pow(b2, this.t), this.type === 'adamw' ? 1 : 0, gradScale);
    }
    this.flow._sync();
  }

  /** Optimizer state (moments in the packed layout) for checkpoints. */
  getState(): { step: number; m: Float32Array; v: Float32Array | null } {
    if (this.disposed) throw new Error('FlowOptimizer.getState: disposed');
    const k = this.flow._kernels;
    const n = this.flow._packedFloats;
    return { step: this.t, m: k.readF32(this.m, n), v: this.v ? k.readF32(this.v, n) : null };
  }

  setState(st: { step: number; m: ArrayLike<number>; v: ArrayLike<number> | null }): void {
    if (this.disposed) throw new Error('FlowOptimizer.setState: disposed');
    const k = this.flow._kernels;
    const n = this.flow._packedFloats;
    if (st.m.length !== n || (this.v && (!st.v || st.v.length !== n))) {
      throw new RangeError(`FlowOptimizer.setState: moments must hold ${n} values each`);
    }
    this.t = st.step;
    k.writeF32(this.m, st.m);
    if (this.v && st.v) k.writeF32(this.v, st.v);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const k = this.flow._kernels;
    k.free(this.m);
    k.free(this.v);
    this.m = this.v = 0;
  }
}
