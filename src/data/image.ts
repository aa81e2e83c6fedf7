// SPDX-License-Identifier: MIT
// PNG / JPEG decoding to packed RGB (HWC, 8 bit) and PNG encoding, on pngjs and jpeg-js.
// jpeg-js is plain JS; pngjs needs node:zlib and node:buffer, which Node, Deno and Bun provide. In a browser,
// bundle with zlib/buffer polyfills (browserify-zlib, buffer) or decode with createImageBitmap + canvas instead.
// Alpha is dropped (as cv2.imread and PIL's convert('RGB') do); 16-bit PNGs are rescaled to 8 bit; gray and
// palette images are expanded to RGB. EXIF orientation is not applied.
import { Buffer } from 'node:buffer';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';

const { PNG } = pngjs;

export interface RgbImage {
  width: number;
  height: number;
  /** Packed RGB, row-major (HWC), length width*height*3. */
  data: Uint8Array;
}

export interface DecodeOptions {
  /** Largest accepted width*height, in megapixels (default 100). Checked from the header before decoding. */
  maxMegapixels?: number;
}

export type ImageFormat = 'png' | 'jpeg';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format told by the first bytes, or null. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function hexHead(bytes: Uint8Array, n = 8): string {
  const parts: string[] = [];
  for (let i = 0; i < Math.min(n, bytes.length); i++) parts.push(bytes[i].toString(16).padStart(2, '0'));
  return parts.join(' ') + (bytes.length > n ? ' ..' : '');
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(b: Uint8Array): [number, number] {
  if (b.length < 24) throw new Error(`decodeImage: truncated PNG (${b.length} bytes, the header alone is 24)`);
  if (String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR') throw new Error('decodeImage: corrupt PNG (first chunk is not IHDR)');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return [dv.getUint32(16), dv.getUint32(20)];
}

/** Width and height from a JPEG's first SOF marker, or null when no SOF is found (truncated or corrupt). */
function jpegSize(b: Uint8Array): [number, number] | null {
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return null;
    const m = b[i + 1];
    if (m === 0xff) { i++; continue; }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; }
    const len = (b[i + 2] << 8) | b[i + 3];
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (i + 8 >= b.length) return null;
      return [(b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]];
    }
    if (m === 0xda || m === 0xd9) return null;
    i += 2 + len;
  }
  return null;
}

function checkSize(fmt: string, w: number, h: number, maxMp: number): void {
  if (!(w > 0 && h > 0)) throw new Error(`decodeImage: corrupt ${fmt} (size ${w}×${h})`);
  if (w * h > maxMp * 1e6) {
    throw new RangeError(`decodeImage: ${fmt} of ${w}×${h} = ${((w * h) / 1e6).toFixed(1)} MP exceeds maxMegapixels = ${maxMp}`);
  }
}

/**
 * Decodes a PNG or JPEG (chosen by its magic bytes) into packed 8-bit RGB. Throws Error with a reason for
 * corrupt or truncated data and for unknown formats, RangeError when the header's size exceeds the limit.
 */
export function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): RgbImage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`decodeImage: expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  const maxMp = opts.maxMegapixels ?? 100;
  if (!(maxMp > 0)) throw new RangeError(`decodeImage: maxMegapixels must be positive, got ${maxMp}`);
  const fmt = sniffImageFormat(bytes);
  if (fmt === 'png') {
    const [w, h] = pngSize(bytes);
    checkSize('PNG', w, h, maxMp);
    let png: { width: number; height: number; data: Uint8Array };
    try {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      png = PNG.sync.read(buf);
    } catch (e) {
      const truncated = !hasPngIend(bytes);
      throw new Error(`decodeImage: ${truncated ? 'truncated PNG (no IEND chunk)' : 'corrupt PNG'} (pngjs: ${errMsg(e)})`);
    }
    const n = png.width * png.height;
    const out = new Uint8Array(n * 3);
    const src = png.data;
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      out[i * 3] = src[j]; out[i * 3 + 1] = src[j + 1]; out[i * 3 + 2] = src[j + 2];
    }
    return { width: png.width, height: png.height, data: out };
  }
  if (fmt === 'jpeg') {
    const size = jpegSize(bytes);
    if (size) checkSize('JPEG', size[0], size[1], maxMp);
    const truncated = !(bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9) && !hasJpegEoi(bytes);
    try {
      const img = jpeg.decode(bytes, {
        useTArray: true, formatAsRGBA: false, tolerantDecoding: true,
        maxResolutionInMP: maxMp, maxMemoryUsageInMB: Math.max(512, Math.ceil(maxMp * 8)),
      });
      if (truncated) throw new Error('no end-of-image marker');
      return { width: img.width, height: img.height, data: img.data };
    } catch (e) {
      if (e instanceof RangeError) throw e;
      throw new Error(`decodeImage: ${truncated ? 'truncated JPEG (no end-of-image marker)' : 'corrupt JPEG'} (jpeg-js: ${errMsg(e)})`);
    }
  }
  throw new Error(`decodeImage: not a PNG or JPEG (first bytes ${bytes.length ? hexHead(bytes) : '(empty)'})`);
}

function hasPngIend(b: Uint8Array): boolean {
  // IEND is the last chunk: 'IEND' followed by its 4-byte CRC.
  const n = b.length;
  return n >= 12 && b[n - 8] === 0x49 && b[n - 7] === 0x45 && b[n - 6] === 0x4e && b[n - 5] === 0x44;
}

function hasJpegEoi(b: Uint8Array): boolean {
  // Some encoders append padding after EOI; look in the tail only.
  for (let i = b.length - 2; i >= Math.max(2, b.length - 4096); i--) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}

export interface EncodePngOptions {
  /** zlib level 0..9 (default 6). Output is byte-identical for the same input and zlib build. */
  deflateLevel?: number;
  /** PNG row filter 0..4 for every row, or -1 (default) to choose per row (smaller, slower). */
  filterType?: -1 | 0 | 1 | 2 | 3 | 4;
}

/** Encodes packed 8-bit RGB (HWC) as an RGB PNG. */
export function encodePng(rgb: Uint8Array, width: number, height: number, opts: EncodePngOptions = {}): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}×${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`encodePng: rgb must have length width*height*3 = ${width * height * 3}, got ${rgb.length}`);
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  const out = PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: opts.deflateLevel ?? 6, filterType: opts.filterType ?? -1 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
