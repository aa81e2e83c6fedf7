// SPDX-License-Identifier: MIT
// Parity of the flow and loss against reference files of the golden schema (../shared/golden/README.md).
import { RealNVP } from '../flow/realnvp.js';
import { rleLoss, RLE_VARIANTS, type RleVariant } from '../loss/rle.js';
import { relativeError, quantity, finishCase, finishReport, type ParityReport, type ParityCase, type ParityQuantity } from './report.js';

export const FLOW_TOLERANCE = 1e-4;

interface Arr { shape: number[]; data: number[] }
type FlowJSON = { dim: number; hidden: number; masks: number[][]; leaky_slope?: number; params: Record<string, Arr> };

function isArr(x: unknown): x is Arr {
  return typeof x === 'object' && x !== null && Array.isArray((x as Arr).shape) && Array.isArray((x as Arr).data);
}

/** Relative error over a set of named gradients, all concatenated (one norm), plus the worst single one. */
function namedError(ours: Record<string, { data: Float32Array }>, ref: Record<string, Arr>): { all: number; worst: string; worstErr: number; missing: string[] } {
  let num = 0, den = 0, worstErr = 0, worst = '';
  const missing: string[] = [];
  for (const [k, v] of Object.entries(ref)) {
    const key = k.replace(/^(?:.*\.)?(?=[st]\.\d+\.\d\.(?:weight|bias)$)/, '');
    const o = ours[key];
    if (!o) { missing.push(k); continue; }
    for (let i = 0; i < v.data.length; i++) { const d = o.data[i] - v.data[i]; num += d * d; den += v.data[i] * v.data[i]; }
    const e = relativeError(o.data, v.data);
    if (e > worstErr) { worstErr = e; worst = k; }
  }
  return { all: den === 0 ? Math.sqrt(num) : Math.sqrt(num / den), worst, worstErr, missing };
}

function gradQuantities(prefix: string, ours: Record<string, { data: Float32Array }>, ref: Record<string, Arr>, tol: number): ParityQuantity[] {
  const e = namedError(ours, ref);
  // Per array, as the golden README asks: report the worst array by name.
  const qs = [quantity(`${prefix} (worst of ${Object.keys(ref).length}: ${e.worst || '-'})`, e.missing.length ? Infinity : e.worstErr, tol)];
  if (e.missing.length) qs[0].name += ` missing: ${e.missing.join(', ')}`;
  return qs;
}

export function isFlowFile(j: unknown): boolean {
  const o = j as { flow?: unknown; cases?: Array<Record<string, unknown>> };
  return !!o && typeof o === 'object' && !!o.flow && Array.isArray(o.cases) && o.cases.length > 0 && 'log_prob' in o.cases[0];
}

export function isLossFile(j: unknown): boolean {
  const o = j as { flow?: unknown; cases?: Array<Record<string, unknown>> };
  return !!o && typeof o === 'object' && !!o.flow && Array.isArray(o.cases) && o.cases.length > 0 && 'variant' in o.cases[0];
}

/** Runs every case of a flow file: z, log|det|, log p, ∂/∂x, ∂/∂θ, forward. */
export function parityFlowFile(j: { flow: FlowJSON; cases: Array<Record<string, unknown>> }, tol = FLOW_TOLERANCE): ParityReport {
  const flow = RealNVP.fromJSON(j.flow);
  const cases: ParityCase[] = [];
  try {
    j.cases.forEach((c, idx) => {
      const name = `case ${idx}` + (isArr(c.x) ? ` (N=${c.x.shape[0]})` : '');
      try {
        const qs: ParityQuantity[] = [];
        const x = c.x as Arr;
        if (isArr(c.z) || isArr(c.log_det)) {
          const inv = flow.inverse(x);
          if (isArr(c.z)) qs.push(quantity('z', relativeError(inv.z, c.z.data), tol));
          if (isArr(c.log_det)) qs.push(quantity('log_det', relativeError(inv.logDet, c.log_det.data), tol));
        }
        const g = flow.logProbGrad(x);
        if (isArr(c.log_prob)) qs.push(quantity('log_prob', relativeError(g.logProb, c.log_prob.data), tol));
        if (isArr(c.grad_x)) qs.push(quantity('grad_x', relativeError(g.gradX, c.grad_x.data), tol));
        if (c.grad_params && typeof c.grad_params === 'object') qs.push(...gradQuantities('grad_params', g.gradParams, c.grad_params as Record<string, Arr>, tol));
        if (isArr(c.forward_in) && isArr(c.forward_out)) {
          qs.push(quantity('forward_out', relativeError(flow.forward(c.forward_in).x, c.forward_out.data), tol));
        }
        cases.push(finishCase(name, qs));
      } catch (e) {
        cases.push({ name, quantities: [], ok: false, error: (e as Error).message });
      }
    });
  } finally {
    flow.dispose();
  }
  return finishReport('flow', cases);
}

/** Runs every case of a loss file: loss, ∂/∂pred, ∂/∂sigma_logit, ∂/∂θ. */
export function parityLossFile(j: { flow: FlowJSON; cases: Array<Record<string, unknown>> }, tol = FLOW_TOLERANCE): ParityReport {
  const flow = RealNVP.fromJSON(j.flow);
  const cases: ParityCase[] = [];
  try {
    j.cases.forEach((c, idx) => {
      const variant = String(c.variant) as RleVariant;
      const name = `case ${idx} ${variant}` + (isArr(c.pred) ? ` [${c.pred.shape.join(',')}]` : '');
      try {
        if (!RLE_VARIANTS.includes(variant)) throw new RangeError(`unknown variant '${variant}'`);
        const res = rleLoss({ pred: c.pred as Arr, sigmaLogit: c.sigma_logit as Arr, target: c.target as Arr,
          weight: isArr(c.weight) ? c.weight : undefined, flow, variant });
        const qs: ParityQuantity[] = [];
        if (typeof c.loss === 'number') qs.push(quantity('loss', Math.abs(res.loss - c.loss) / (Math.abs(c.loss) || 1), tol));
        if (isArr(c.grad_pred)) qs.push(quantity('grad_pred', relativeError(res.gradPred!, c.grad_pred.data), tol));
        if (isArr(c.grad_sigma_logit)) qs.push(quantity('grad_sigma_logit', relativeError(res.gradSigmaLogit!, c.grad_sigma_logit.data), tol));
        if (c.grad_params && typeof c.grad_params === 'object') qs.push(...gradQuantities('grad_params', res.gradParams!, c.grad_params as Record<string, Arr>, tol));
        cases.push(finishCase(name, qs));
      } catch (e) {
        cases.push({ name, quantities: [], ok: false, error: (e as Error).message });
      }
    });
  } finally {
    flow.dispose();
  }
  return finishReport('loss', cases);
}
