// SPDX-License-Identifier: MIT
/** Node file helpers for safetensors; the format itself is in the runtime-agnostic safetensors.ts. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from './atomic.js';
import {
  parseSafetensors,
  serializeSafetensors,
  type ParseSafetensorsOptions,
  type SafetensorsFile,
} from './safetensors.js';

function toPath(path: string | URL): string {
  return path instanceof URL ? fileURLToPath(path) : path;
}

/** Reads and parses a .safetensors file (whole file in memory; see parseSafetensors for options). */
export async function readSafetensorsFile(path: string | URL, opts?: ParseSafetensorsOptions): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(toPath(path)), opts);
}

export interface AtomicWriteOptions {
  /** Default true: parse `bytes` first and refuse to write anything that is not a valid safetensors file. */
  validate?: boolean;
}

/**
 * Writes `bytes` to `path` so that `path` holds either its old content or all of the new one, never
 * a mix: write a temporary file in the same directory, fsync it, rename it over `path`, then fsync
 * the directory (best effort). On any failure the temporary file is removed and the error rethrown.
 * A file being replaced keeps its permission bits; a symlink at `path` is replaced, not followed.
 */
export async function writeSafetensorsFileAtomic(path: string | URL, bytes: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`safetensors: writeSafetensorsFileAtomic: bytes must be a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
  if (opts.validate ?? true) parseSafetensors(bytes, { copy: false });
  await writeFileAtomic(toPath(path), bytes);
}

/** serializeSafetensors + writeSafetensorsFileAtomic. */
export async function saveSafetensorsFile(
  path: string | URL,
  tensors: Parameters<typeof serializeSafetensors>[0],
  metadata?: Parameters<typeof serializeSafetensors>[1],
): Promise<void> {
  await writeSafetensorsFileAtomic(path, serializeSafetensors(tensors, metadata), { validate: false });
}
