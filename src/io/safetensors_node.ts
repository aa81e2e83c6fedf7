// SPDX-License-Identifier: MIT
/** Node file helpers for safetensors; the format itself is in the runtime-agnostic safetensors.ts. */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  const target = toPath(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let mode: number | undefined;
  try {
    const st = await stat(target);
    if (st.isFile()) mode = st.mode & 0o7777;
  } catch {
    // No file yet: the new one gets the default mode.
  }
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    if (mode !== undefined) await handle.chmod(mode);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, target);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // Makes the rename itself durable; directories cannot be opened for this everywhere (Windows).
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}

/** serializeSafetensors + writeSafetensorsFileAtomic. */
export async function saveSafetensorsFile(
  path: string | URL,
  tensors: Parameters<typeof serializeSafetensors>[0],
  metadata?: Parameters<typeof serializeSafetensors>[1],
): Promise<void> {
  await writeSafetensorsFileAtomic(path, serializeSafetensors(tensors, metadata), { validate: false });
}
