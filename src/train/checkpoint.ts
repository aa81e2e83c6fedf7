// SPDX-License-Identifier: MIT
// Training checkpoints: model, flow, both optimizers' moments, step and any caller state (RNG, data
// order, loss history) in ONE safetensors file, written atomically (temp file + rename) so a crash
// never leaves a broken checkpoint over a good one. A resumed run continues bit-identically on the
// same backend.
import type * as tfNs from '@tensorflow/tfjs';
import { parseSafetensors, serializeSafetensors, toFloat32 as stToFloat32, type SafetensorsTensorInput } from '../io/safetensors.js';
import { RegressFlowNet, type RegressFlowConfig } from '../model/regressflow.js';
import { Trainer, type TrainOptions } from './trainer.js';
import type { StateDict } from '../model/statedict.js';

type TF = typeof tfNs;

const FORMAT = 'rlepose-checkpoint-1';

export interface CheckpointMeta {
  format: string;
  step: number;
  config: RegressFlowConfig;
  train: TrainOptions;
  adamT: number;
  flowOptT: number;
  /** Caller state: RNG state, data order, history... (JSON). */
  extra: unknown;
}

/** Serialises the trainer's full state (see the file header). */
export function serializeCheckpoint(trainer: Trainer, extra: unknown = null): Uint8Array {
  const net = trainer.net;
  const tensors: Record<string, SafetensorsTensorInput> = Object.create(null) as Record<string, SafetensorsTensorInput>;
  for (const [name, t] of net.stateDict()) tensors[`model.${name}`] = { dtype: 'F32', shape: t.shape, data: t.data };
  const adam = trainer.adam.getState();
  const names = net.trainableParamNames();
  names.forEach((n, i) => {
    const shape = net.params.get(n)!.v.shape;
    tensors[`optim.net.m.${n}`] = { dtype: 'F32', shape, data: adam.m[i] };
    tensors[`optim.net.v.${n}`] = { dtype: 'F32', shape, data: adam.v[i] };
  });
  const fo = trainer.flowOpt.getState();
  tensors['optim.flow.m'] = { dtype: 'F32', shape: [fo.m.length], data: fo.m };
  if (fo.v) tensors['optim.flow.v'] = { dtype: 'F32', shape: [fo.v.length], data: fo.v };
  const meta: CheckpointMeta = {
    format: FORMAT, step: trainer.step, config: net.config, train: trainer.opts, adamT: adam.t, flowOptT: fo.step, extra,
  };
  return serializeSafetensors(tensors, { format: 'pt', rlepose: JSON.stringify(meta) });
}

/** Rebuilds the network and trainer from a checkpoint; returns the caller's extra state too. */
export function restoreCheckpoint(tf: TF, bytes: Uint8Array): { net: RegressFlowNet; trainer: Trainer; meta: CheckpointMeta } {
  const op = 'restoreCheckpoint';
  const file = parseSafetensors(bytes);
  const metaStr = file.metadata.get('rlepose');
  if (!metaStr) throw new RangeError(`${op}: not an rlepose training checkpoint (no 'rlepose' metadata); to load PyTorch weights use stateDictFromSafetensors`);
  const meta = JSON.parse(metaStr) as CheckpointMeta;
  if (meta.format !== FORMAT) throw new RangeError(`${op}: unsupported checkpoint format '${meta.format}', expected '${FORMAT}'`);
  const sd: StateDict = new Map();
  const get = (k: string): Float32Array => {
    const t = file.tensors.get(k);
    if (!t) throw new RangeError(`${op}: missing '${k}'`);
    return stToFloat32(t);
  };
  for (const [k, t] of file.tensors) if (k.startsWith('model.')) sd.set(k.slice(6), { shape: t.shape.slice(), data: stToFloat32(t) });
  const net = RegressFlowNet.fromStateDict(tf, sd, { layout: meta.config.layout, numJoints: meta.config.numJoints });
  try {
    const trainer = new Trainer(net, meta.train);
    const names = net.trainableParamNames();
    trainer.adam.setState({ t: meta.adamT, m: names.map((n) => get(`optim.net.m.${n}`)), v: names.map((n) => get(`optim.net.v.${n}`)) });
    trainer.flowOpt.setState({ step: meta.flowOptT, m: get('optim.flow.m'), v: file.tensors.has('optim.flow.v') ? get('optim.flow.v') : null });
    trainer.step = meta.step;
    return { net, trainer, meta };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/** Writes a checkpoint atomically (validated, temp file, fsync, rename). Node, Deno and Bun. */
export async function saveCheckpointFile(path: string, trainer: Trainer, extra: unknown = null): Promise<void> {
  const { writeSafetensorsFileAtomic } = await import('../io/safetensors_node.js');
  await writeSafetensorsFileAtomic(path, serializeCheckpoint(trainer, extra));
}

export async function loadCheckpointFile(tf: TF, path: string): Promise<ReturnType<typeof restoreCheckpoint>> {
  const spec = 'node:fs/promises';
  const fs = await import(/* @vite-ignore */ spec) as typeof import('node:fs/promises');
  return restoreCheckpoint(tf, new Uint8Array(await fs.readFile(path)));
}
