// SPDX-License-Identifier: MIT
// PyTorch checkpoints as safetensors: read into a float32 StateDict, write one back.
import { parseSafetensors, serializeSafetensors, toFloat32 as stToFloat32, type SafetensorsTensorInput } from '../io/safetensors.js';
import type { StateDict } from './statedict.js';

/**
 * Reads a safetensors file (F32, F16, BF16, F64, integer dtypes) into float32 arrays with PyTorch names.
 * BatchNorm `num_batches_tracked` counters are kept aside (they do not change any number).
 */
export function stateDictFromSafetensors(bytes: Uint8Array): { stateDict: StateDict; counters: Map<string, number>; metadata: Map<string, string> } {
  const file = parseSafetensors(bytes);
  const stateDict: StateDict = new Map();
  const counters = new Map<string, number>();
  for (const [name, t] of file.tensors) {
    if (name.endsWith('num_batches_tracked')) { counters.set(name, Number(stToFloat32(t)[0] ?? 0)); continue; }
    stateDict.set(name, { shape: t.shape.slice(), data: stToFloat32(t) });
  }
  return { stateDict, counters, metadata: file.metadata };
}

/**
 * Serialises a StateDict as safetensors (float32), adding `num_batches_tracked` (I64) beside every
 * BatchNorm so that PyTorch's load_state_dict(strict=True) accepts it.
 */
export function safetensorsFromStateDict(sd: StateDict, opts: { metadata?: Record<string, string>; batchesTracked?: number } = {}): Uint8Array {
  const out: Record<string, SafetensorsTensorInput> = Object.create(null) as Record<string, SafetensorsTensorInput>;
  for (const [name, t] of sd) {
    out[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    if (name.endsWith('.running_var')) {
      out[`${name.slice(0, -'running_var'.length)}num_batches_tracked`] = { dtype: 'I64', shape: [], data: new BigInt64Array([BigInt(opts.batchesTracked ?? 0)]) };
    }
  }
  return serializeSafetensors(out, { format: 'pt', ...(opts.metadata ?? {}) });
}
