// SPDX-License-Identifier: MIT
// Parity of the RegressFlow network against a reference pair: FILE.json (input and outputs) and
// FILE.safetensors (the PyTorch state_dict).
import { tf } from '../backend/tf.js';
import { RegressFlowNet, type Layout } from '../model/regressflow.js';
import { stateDictFromSafetensors } from '../model/checkpoint.js';
import { relativeError, quantity, finishCase, finishReport, type ParityReport } from './report.js';

export const NETWORK_TOLERANCE = 1e-4;

interface Arr { shape: number[]; data: number[] }
export interface NetworkFile {
  layout: Layout;
  num_joints?: number;
  input: Arr;
  input_layout?: string;
  pooled_features?: Arr;
  pred_jts?: Arr;
  sigma?: Arr;
  scores?: Arr;
}

/** Runs the reference input through the imported network on the current tfjs backend. */
export function parityNetworkFile(j: NetworkFile, safetensors: Uint8Array, tol = NETWORK_TOLERANCE): ParityReport {
  const name = `${j.layout} layout, input [${j.input?.shape?.join(',')}] on tfjs-${tf.getBackend()}`;
  let net: RegressFlowNet | null = null;
  try {
    if (!j.input || !Array.isArray(j.input.shape) || j.input.shape.length !== 4) throw new RangeError('network file: input must be an NCHW array {shape: [B,C,H,W], data}');
    const { stateDict } = stateDictFromSafetensors(safetensors);
    net = RegressFlowNet.fromStateDict(tf, stateDict, { layout: j.layout, numJoints: j.num_joints });
    const x = tf.tidy(() => tf.transpose(tf.tensor4d(j.input.data, j.input.shape as [number, number, number, number]), [0, 2, 3, 1]) as import('@tensorflow/tfjs').Tensor4D);
    let p;
    try { p = net.predict(x); } finally { x.dispose(); }
    const qs = [];
    if (j.pooled_features) qs.push(quantity('pooled_features', relativeError(p.pooled, j.pooled_features.data), tol));
    if (j.pred_jts) qs.push(quantity('pred_jts', relativeError(p.pred, j.pred_jts.data), tol));
    if (j.sigma) qs.push(quantity('sigma', relativeError(p.sigma, j.sigma.data), tol));
    if (j.scores) qs.push(quantity('scores', relativeError(p.scores, j.scores.data), tol));
    return finishReport('network', [finishCase(name, qs)]);
  } catch (e) {
    return finishReport('network', [{ name, quantities: [], ok: false, error: (e as Error).message }]);
  } finally {
    net?.dispose();
  }
}
