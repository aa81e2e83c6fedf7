// SPDX-License-Identifier: MIT
// The RLE loss family as plain tfjs ops over a TfjsFlow: differentiable by tfjs autograd. It is the
// 'tfjs-ops' path (no WASM needed) and the pure-tfjs peer of the training benchmark.
import type * as tfNs from '@tensorflow/tfjs';
import type { TfjsFlow } from '../flow/tfjs_flow.js';
import type { RleVariant } from './rle.js';

type TF = typeof tfNs;
type T = tfNs.Tensor;

/** loss(pred, sigmaLogit) for [B,K,D] tensors, same formulas as rleLoss (golden README). */
export function rleLossTf(tf: TF, flow: TfjsFlow, variant: RleVariant, pred: T, sigmaLogit: T, target: T, weight: T): tfNs.Scalar {
  const [B, K, D] = pred.shape;
  const invB = 1 / B;
  if (variant === 'l1') return tf.mul(tf.sum(tf.mul(weight, tf.abs(tf.sub(pred, target)))), invB) as tfNs.Scalar;
  if (variant === 'l2') return tf.mul(tf.sum(tf.mul(weight, tf.square(tf.sub(pred, target)))), invB) as tfNs.Scalar;
  const sigma = tf.maximum(tf.sigmoid(sigmaLogit), 1e-6);
  const w0 = tf.slice(weight, [0, 0, 0], [B, K, 1]);
  const logSigma = tf.log(sigma);
  if (variant === 'direct') {
    const { z, logDet } = flow.inverse(tf.reshape(target, [B * K, D]) as tfNs.Tensor2D);
    const r = tf.sub(tf.reshape(z, [B, K, D]), pred);
    const nll = tf.sub(tf.sum(tf.add(tf.add(tf.div(tf.square(r), tf.mul(2, tf.square(sigma))), logSigma), 0.5 * Math.log(2 * Math.PI)), 2),
      tf.reshape(logDet, [B, K]));
    return tf.mul(tf.sum(tf.mul(nll, tf.reshape(w0, [B, K]))), invB) as tfNs.Scalar;
  }
  const mm = variant !== 'official';
  const bar = tf.div(tf.sub(pred, target), mm ? tf.add(sigma, 1e-9) : sigma);
  const logPhi = tf.reshape(flow.logProb(tf.reshape(bar, [B * K, D]) as tfNs.Tensor2D), [B, K, 1]);
  const nf = tf.sub(logSigma, logPhi);
  if (variant === 'official') {
    const q = tf.add(tf.sub(logSigma, -0.5 * Math.log(2 * Math.PI)), tf.div(tf.abs(tf.sub(target, pred)), tf.add(tf.mul(Math.SQRT2, sigma), 1e-9)));
    return tf.mul(tf.add(tf.sum(tf.mul(nf, w0)), tf.sum(tf.mul(q, weight))), invB) as tfNs.Scalar;
  }
  let q: T = tf.zerosLike(nf);
  if (variant === 'mmpose_laplace') q = tf.add(tf.log(tf.mul(sigma, 2)), tf.abs(bar));
  else if (variant === 'mmpose_gaussian') q = tf.add(tf.log(tf.mul(sigma, Math.sqrt(2 * Math.PI))), tf.mul(0.5, tf.square(bar)));
  return tf.mul(tf.sum(tf.mul(tf.add(nf, q), weight)), invB) as tfNs.Scalar;
}
