// SPDX-License-Identifier: MIT
// Atomic file replacement (Node, Deno, Bun): a reader sees the old content or all of the new, never a mix.
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a temporary file in the same directory, fsyncs it, renames it over `target`, then fsyncs the
 * directory (best effort). On any failure the temporary file is removed and the error rethrown. A
 * replaced file keeps its permission bits; a symlink at `target` is replaced, not followed.
 */
export async function writeFileAtomic(target: string, bytes: Uint8Array | string): Promise<void> {
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
