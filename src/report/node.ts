// SPDX-License-Identifier: MIT
/** Node helpers for reports: atomic file writes and a compressing PNG encoder (pngjs). */
import { mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { imageChannels, type RgbImage } from './png.js';
import { writeFileAtomic } from '../io/atomic.js';

interface PngjsModule {
  PNG: { sync: { write(png: { width: number; height: number; data: Buffer }, opts?: Record<string, unknown>): Buffer } };
}
let pngjs: PngjsModule | null = null;

/** PNG bytes of an RGB(A) image, deflate-compressed by pngjs (smaller than the portable `encodePng`). */
export function encodePngNode(img: RgbImage): Uint8Array {
  const ch = imageChannels('encodePngNode', img);
  pngjs ??= createRequire(import.meta.url)('pngjs') as PngjsModule;
  const { width, height, data } = img;
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = data[i * ch]; rgba[i * 4 + 1] = data[i * ch + 1]; rgba[i * 4 + 2] = data[i * ch + 2];
    rgba[i * 4 + 3] = ch === 4 ? data[i * 4 + 3] : 255;
  }
  const out = pngjs.PNG.sync.write({ width, height, data: rgba }, { colorType: ch === 4 ? 6 : 2 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

const writeAtomic = writeFileAtomic;

/**
 * Writes report files under `outDir` (created with parents): each name (may contain sub-folders, no
 * `..`, not absolute) gets its content atomically (temporary file, fsync, rename), so a reader never
 * sees half a picture. Strings are written as UTF-8. Returns the absolute paths written.
 */
export async function writeReport(outDir: string, files: Record<string, string | Uint8Array>): Promise<string[]> {
  const op = 'writeReport';
  if (typeof outDir !== 'string' || outDir.length === 0) throw new TypeError(`${op}: outDir must be a non-empty path string`);
  if (typeof files !== 'object' || files === null) throw new TypeError(`${op}: files must be an object {name: string | Uint8Array}`);
  const root = resolve(outDir);
  const entries = Object.entries(files);
  for (const [name, content] of entries) {
    if (name.length === 0 || isAbsolute(name) || normalize(name).split(/[\\/]/).includes('..')) {
      throw new RangeError(`${op}: file names must be relative paths inside outDir, got '${name}'`);
    }
    if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
      throw new TypeError(`${op}: files['${name}'] must be a string or a Uint8Array, got ${content === null ? 'null' : typeof content}`);
    }
  }
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  for (const [name, content] of entries) {
    const target = join(root, name);
    await mkdir(dirname(target), { recursive: true });
    await writeAtomic(target, content);
    written.push(target);
  }
  return written;
}
