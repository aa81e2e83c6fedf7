// SPDX-License-Identifier: MIT
// What ran where: every op of the table records the backend that served it, how often, and why.

import type { BackendName } from './table.js';

export interface OpRecord {
  op: string;
  backend: BackendName;
  calls: number;
  why: string;
  /** Backends tried before this one, with the reason each was skipped. */
  skipped: Array<{ backend: BackendName; reason: string }>;
}

const records = new Map<string, OpRecord>();
const choices = new Map<string, { backend: BackendName; why: string; skipped: OpRecord['skipped'] }>();
const warned = new Set<string>();
let warnFn: (msg: string) => void = (m) => console.warn(m);

export function setWarn(fn: (msg: string) => void): void { warnFn = fn; }

/** Records the resolved backend of an op (once per resolution); warns once when it is a fallback. */
export function setChoice(op: string, backend: BackendName, why: string, skipped: OpRecord['skipped'] = []): void {
  choices.set(op, { backend, why, skipped });
  if (skipped.length && !warned.has(op)) {
    warned.add(op);
    warnFn(`rlepose: ${op} falls back to ${backend} (${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})`);
  }
}

export function getChoice(op: string): { backend: BackendName; why: string } | undefined {
  return choices.get(op);
}

/** Counts one call of `op` on `backend`. Cheap: a map lookup and an increment. */
export function recordOp(op: string, backend: BackendName): void {
  const key = `${op}\u0000${backend}`;
  const r = records.get(key);
  if (r) { r.calls++; return; }
  const c = choices.get(op);
  records.set(key, { op, backend, calls: 1, why: c && c.backend === backend ? c.why : 'direct call', skipped: c && c.backend === backend ? c.skipped : [] });
}

export function opRecords(): OpRecord[] {
  return [...records.values()].map((r) => ({ ...r, skipped: r.skipped.slice() }));
}

export function resolvedChoices(): Array<{ op: string; backend: BackendName; why: string; skipped: OpRecord['skipped'] }> {
  return [...choices.entries()].map(([op, c]) => ({ op, ...c }));
}

export function resetOpCounts(): void {
  records.clear();
}
