// SPDX-License-Identifier: MIT
// A dependency-free PNG writer (stored, i.e. uncompressed, deflate blocks) so that pictures can embed
// images in any runtime, and base64 data URLs without Buffer or btoa. In Node, `encodePngNode` from
// ./node.ts compresses with pngjs instead; pass it as `encodePng` to the picture functions.

/** An 8-bit RGB or RGBA image, row-major from the top-left. */
export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 (RGB) or width·height·4 (RGBA) bytes. */
  data: Uint8Array | Uint8ClampedArray | ArrayLike<number>;
}

export type PngEncoder = (img: RgbImage) => Uint8Array;

/** Channels of an image (3 or 4), checked against its size. */
export function imageChannels(op: string, img: RgbImage): 3 | 4 {
  if (typeof img !== 'object' || img === null) throw new TypeError(`${op}: image must be {width, height, data}, got ${img === null ? 'null' : typeof img}`);
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${op}: image width and height must be positive integers, got ${width}×${height}`);
  }
  if (!data || typeof data.length !== 'number') throw new TypeError(`${op}: image.data must be a byte array`);
  if (data.length === width * height * 3) return 3;
  if (data.length === width * height * 4) return 4;
  throw new RangeError(`${op}: image.data must hold width·height·3 (RGB) = ${width * height * 3} or ·4 (RGBA) = ${width * height * 4} bytes, got ${data.length}`);
}

let crcTable: Uint32Array | null = null;
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** PNG bytes of an RGB(A) image, zlib stream of stored blocks (no compression: portable and simple). */
export function encodePng(img: RgbImage): Uint8Array {
  const ch = imageChannels('encodePng', img);
  const { width: w, height: h, data } = img;
  const rowBytes = w * ch + 1;
  const raw = new Uint8Array(rowBytes * h);
  for (let y = 0; y < h; y++) {
    raw[y * rowBytes] = 0; // filter: none
    for (let i = 0; i < w * ch; i++) raw[y * rowBytes + 1 + i] = data[y * w * ch + i];
  }
  // zlib: header, stored blocks of ≤ 65535 bytes, Adler-32.
  const nBlocks = Math.max(1, Math.ceil(raw.length / 65535));
  const z = new Uint8Array(2 + raw.length + nBlocks * 5 + 4);
  let o = 0;
  z[o++] = 0x78; z[o++] = 0x01;
  for (let b = 0; b < nBlocks; b++) {
    const s = b * 65535, len = Math.min(65535, raw.length - s);
    z[o++] = b === nBlocks - 1 ? 1 : 0;
    z[o++] = len & 0xff; z[o++] = len >>> 8;
    z[o++] = ~len & 0xff; z[o++] = (~len >>> 8) & 0xff;
    z.set(raw.subarray(s, s + len), o); o += len;
  }
  let a = 1, bsum = 0;
  for (let i = 0; i < raw.length; i++) { a = (a + raw[i]) % 65521; bsum = (bsum + a) % 65521; }
  const adler = ((bsum << 16) | a) >>> 0;
  z[o++] = adler >>> 24; z[o++] = (adler >>> 16) & 0xff; z[o++] = (adler >>> 8) & 0xff; z[o++] = adler & 0xff;

  const chunks: [string, Uint8Array][] = [];
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w); dv.setUint32(4, h);
  ihdr[8] = 8; ihdr[9] = ch === 4 ? 6 : 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  chunks.push(['IHDR', ihdr], ['IDAT', z], ['IEND', new Uint8Array(0)]);
  const total = 8 + chunks.reduce((s, [, d]) => s + 12 + d.length, 0);
  const out = new Uint8Array(total);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  let p = 8;
  const odv = new DataView(out.buffer);
  for (const [type, d] of chunks) {
    odv.setUint32(p, d.length); p += 4;
    const typeStart = p;
    for (let i = 0; i < 4; i++) out[p++] = type.charCodeAt(i);
    out.set(d, p); p += d.length;
    odv.setUint32(p, crc32(out, typeStart, p)); p += 4;
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (with padding). */
export function base64(bytes: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    s += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + B64[v & 63];
  }
  if (i < bytes.length) {
    const v = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
    s += B64[v >>> 18] + B64[(v >>> 12) & 63] + (i + 1 < bytes.length ? B64[(v >>> 6) & 63] : '=') + '=';
  }
  return s;
}

/** A data: URL of the image as PNG. */
export function pngDataUrl(img: RgbImage, encode: PngEncoder = encodePng): string {
  return 'data:image/png;base64,' + base64(encode(img));
}
