// SPDX-License-Identifier: MIT
// Checks beyond the conv2d smoke test, run once per runtime and per available tfjs backend: the flow and
// the RLE loss (our WASM kernels) against golden values, and the backend report.
import type { CheckResult, Lib, TF } from './body.js';
import { compare } from './body.js';
import { GOLDEN_SMALL as G } from './golden-small.js';

export interface ExtraContext {
  backend: 'cpu' | 'wasm' | 'webgpu';
  runtime: string;
}

/** One RLE training step of a tiny network from a fixed init: loss and the updated parameters. */
async function trainingStep(lib: Lib, tf: TF): Promise<{ loss: number; params: Float32Array; predAfter: Float32Array }> {
  const net = lib.RegressFlowNet.create(tf, { layout: 'official', numJoints: 3, trunk: { block: 'basic', stem: 8, widths: [8, 8, 8, 8], depths: [1, 1, 1, 1] }, flow: { hidden: 16, couplings: 2 } }, 4);
  const tr = new lib.Trainer(net, { lr: 1e-3 });
  const rng = new lib.Rng(9);
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 64 * 48 * 3 }, () => rng.normal()), [2, 64, 48, 3]);
  const target = Float32Array.from({ length: 12 }, () => rng.uniform(-0.4, 0.4));
  try {
    const r = await tr.trainStep(x, target);
    const sd = await net.stateDictAsync();
    const params = new Float32Array([...sd.values()].reduce((n, t) => n + t.data.length, 0));
    let o = 0;
    for (const t of sd.values()) { params.set(t.data, o); o += t.data.length; }
    return { loss: r.loss, params, predAfter: (await net.predictAsync(x)).pred };
  } finally {
    x.dispose(); tr.dispose(); net.dispose();
  }
}

let cpuStep: Awaited<ReturnType<typeof trainingStep>> | null = null;

export async function extraChecks(lib: Lib, tf: TF, ctx: ExtraContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  // Training crosses the boundary (tfjs forward/backward, WASM loss and flow): the same step on every
  // backend must give the same loss and parameters as on tfjs-cpu (float tolerance).
  const ts = performance.now();
  const step = await trainingStep(lib, tf);
  const ms = performance.now() - ts;
  if (ctx.backend === 'cpu') cpuStep = step;
  else if (cpuStep) {
    out.push(compare('RLE training step: loss vs tfjs-cpu', [step.loss], [cpuStep.loss], 'tfjs-cpu', ms));
    out.push(compare('RLE training step: updated parameters vs tfjs-cpu', step.params, cpuStep.params, 'tfjs-cpu', ms));
    out.push(compare('RLE training step: prediction after the step vs tfjs-cpu', step.predAfter, cpuStep.predAfter, 'tfjs-cpu', ms));
  }
  // The flow and loss run in our WASM whatever the tfjs backend: check them once per runtime.
  if (ctx.backend !== 'cpu') return out;
  const t0 = performance.now();
  const flow = lib.RealNVP.fromJSON(G.flow);
  try {
    const g = flow.logProbGrad(G.flowCase.x);
    const ms = performance.now() - t0;
    out.push(compare('flow logProb vs golden realnvp2d (rlepose WASM)', g.logProb, G.flowCase.log_prob.data, 'PyTorch f64', ms));
    out.push(compare('flow grad_x vs golden realnvp2d (rlepose WASM)', g.gradX, G.flowCase.grad_x.data, 'PyTorch f64', ms));
    out.push(compare('flow inverse z vs golden realnvp2d (rlepose WASM)', flow.inverse(G.flowCase.x).z, G.flowCase.z.data, 'PyTorch f64', ms));
  } finally {
    flow.dispose();
  }
  const lf = lib.RealNVP.fromJSON(G.lossFlow);
  try {
    const c = G.lossCase;
    const t1 = performance.now();
    const r = lib.rleLoss({ pred: c.pred, sigmaLogit: c.sigma_logit, target: c.target, weight: c.weight, flow: lf, variant: c.variant as 'official' });
    const ms = performance.now() - t1;
    out.push(compare(`rleLoss ${c.variant} value vs golden rle2d`, [r.loss], [c.loss], 'PyTorch f64', ms));
    out.push(compare(`rleLoss ${c.variant} grad_pred vs golden rle2d`, r.gradPred!, c.grad_pred.data, 'PyTorch f64', ms));
    out.push(compare(`rleLoss ${c.variant} grad_sigma_logit vs golden rle2d`, r.gradSigmaLogit!, c.grad_sigma_logit.data, 'PyTorch f64', ms));
  } finally {
    lf.dispose();
  }
  return out;
}
