// SPDX-License-Identifier: MIT
// Hook for checks beyond the conv2d smoke test (flow parity etc.). Runs once per runtime and per
// available tfjs backend, after tf.setBackend(ctx.backend). Return one CheckResult per comparison;
// `compare()` from body.ts computes the relative error and status. Throwing records an 'error' check.
import type { CheckResult, Lib, TF } from './body.js';

export interface ExtraContext {
  backend: 'cpu' | 'wasm' | 'webgpu';
  runtime: string;
}

export async function extraChecks(_lib: Lib, _tf: TF, _ctx: ExtraContext): Promise<CheckResult[]> {
  return [];
}
