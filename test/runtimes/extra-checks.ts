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

export async function extraChecks(lib: Lib, _tf: TF, ctx: ExtraContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
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
