// SPDX-License-Identifier: MIT
// `rlepose parity`: detect the kind of a reference file and run it.
import { isFlowFile, isLossFile, parityFlowFile, parityLossFile } from './flow.js';
import { finishReport, type ParityReport } from './report.js';
import { parityCocoFile } from '../eval/coco.js';

export type ParityKind = 'flow' | 'loss' | 'network' | 'coco' | 'unknown';

export function detectKind(j: unknown): ParityKind {
  if (Array.isArray(j) && j.length > 0 && typeof j[0] === 'object' && j[0] !== null && 'gt' in j[0] && 'dt' in j[0]) return 'coco';
  if (isFlowFile(j)) return 'flow';
  if (isLossFile(j)) return 'loss';
  if (j && typeof j === 'object' && 'layout' in (j as object)) return 'network';
  return 'unknown';
}

export interface ParityOptions {
  /** Path of the file (network files read their .safetensors beside it). */
  path?: string;
  /** The network's state dict bytes (instead of reading FILE.safetensors beside `path`). */
  safetensors?: Uint8Array;
  tolerance?: number;
}

/** Runs a parsed reference file of any supported schema. */
export async function runParity(j: unknown, opts: ParityOptions = {}): Promise<ParityReport> {
  const kind = detectKind(j);
  switch (kind) {
    case 'flow': return parityFlowFile(j as Parameters<typeof parityFlowFile>[0], opts.tolerance);
    case 'loss': return parityLossFile(j as Parameters<typeof parityLossFile>[0], opts.tolerance);
    case 'network': {
      let bytes = opts.safetensors;
      if (!bytes) {
        if (!opts.path) throw new Error('parity: a network file needs its state dict: pass the .safetensors bytes or the file path');
        const st = opts.path.replace(/\.json$/i, '') + '.safetensors';
        const spec = 'node:fs';
        const fs = await import(/* @vite-ignore */ spec) as typeof import('node:fs');
        if (!fs.existsSync(st)) throw new Error(`parity: the network file's state dict ${st} is missing (FILE.json needs FILE.safetensors beside it)`);
        bytes = new Uint8Array(fs.readFileSync(st));
      }
      const { parityNetworkFile } = await import('./network.js');
      const { tf } = await import('../backend/tf.js');
      await tf.ready();
      return parityNetworkFile(j as Parameters<typeof parityNetworkFile>[0], bytes, opts.tolerance);
    }
    case 'coco': {
      const r = parityCocoFile(j, opts.tolerance ?? 1e-6);
      return finishReport('coco', r.cases.map((c) => ({ name: c.name, quantities: c.quantities, ok: c.ok, error: c.error })));
    }
    default:
      throw new Error('parity: unrecognised file: expected a flow file ({flow, cases[{x, log_prob, ...}]}), a loss file ({flow, cases[{variant, ...}]}), a network file ({layout, ...}) or a COCO evaluation file ([{gt, dt, expected}])');
  }
}
