// SPDX-License-Identifier: MIT
// Runs one tfjs kernel directly on the 'wasm' backend (our registered kernels) and returns its output.
import * as tf from '@tensorflow/tfjs';

export function onWasm(kernel: string, inputs: Record<string, { v: Float32Array; s: readonly number[] }>, attrs: object): Float32Array {
  const prev = tf.getBackend();
  tf.setBackend('wasm');
  try {
    return tf.tidy(() => {
      const ins: Record<string, tf.Tensor> = {};
      for (const [k, { v, s }] of Object.entries(inputs)) ins[k] = tf.tensor(v, s as number[]);
      return (tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor).dataSync() as Float32Array;
    });
  } finally {
    tf.setBackend(prev);
  }
}
