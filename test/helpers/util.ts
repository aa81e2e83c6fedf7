// SPDX-License-Identifier: MIT
import { readFileSync } from 'node:fs';

export function fixture(name: string): URL {
  return new URL(`../../../test/fixtures/${name}`, import.meta.url);
}
export function readJSON<T = any>(name: string): T {
  return JSON.parse(readFileSync(fixture(name), 'utf8')) as T;
}
/** ||a − b|| / ||b|| (b the reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relErr: length ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; num += d * d; den += b[i] * b[i]; }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}
