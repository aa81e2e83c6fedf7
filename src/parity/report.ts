// SPDX-License-Identifier: MIT
// The parity report shared by every reference-file kind.

export interface ParityQuantity {
  name: string;
  /** Relative error ||ours − ref|| / ||ref|| (absolute for COCO statistics). */
  error: number;
  tolerance: number;
  ok: boolean;
}

export interface ParityCase {
  name: string;
  quantities: ParityQuantity[];
  ok: boolean;
  error?: string;
}

export interface ParityReport {
  kind: string;
  cases: ParityCase[];
  ok: boolean;
  maxError: number;
}

/** ||a − b|| / ||b||; when ||b|| = 0, ||a − b||. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (!Number.isFinite(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function quantity(name: string, error: number, tolerance: number): ParityQuantity {
  return { name, error, tolerance, ok: Number.isFinite(error) && error <= tolerance };
}

export function finishCase(name: string, quantities: ParityQuantity[]): ParityCase {
  return { name, quantities, ok: quantities.length > 0 && quantities.every((q) => q.ok) };
}

export function finishReport(kind: string, cases: ParityCase[]): ParityReport {
  let maxError = 0;
  for (const c of cases) for (const q of c.quantities) maxError = Math.max(maxError, q.error);
  return { kind, cases, ok: cases.length > 0 && cases.every((c) => c.ok), maxError };
}
