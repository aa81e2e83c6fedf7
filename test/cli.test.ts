// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJSON } from './helpers/util.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

test('rlepose parity checks the bundled references and ends with a one-line verdict', () => {
  const r = run('parity');
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(lastLine(r.stdout), /^PARITY OK: 5 file\(s\), 20 case\(s\), \d+ quantities, max error \d\.\d+e-\d+$/);
});

test('rlepose parity fails (exit 1) on a reference that disagrees, and names the quantity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rlepose-'));
  try {
    const j = readJSON('rle2d.json');
    j.cases = [j.cases[1]];
    j.cases[0].grad_sigma_logit.data[0] += 1;
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify(j));
    const r = run('parity', f);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /✗ grad_sigma_logit/);
    assert.match(lastLine(r.stdout), /^PARITY FAILED: 1 failure\(s\)/);
    writeFileSync(f, '{"hello": 1}');
    const u = run('parity', f);
    assert.equal(u.status, 1);
    assert.match(u.stdout, /unrecognised file/);
    writeFileSync(f, '{not json');
    assert.match(run('parity', f).stdout, /cannot read JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rlepose --help teaches the commands', () => {
  const r = run('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /parity/);
  assert.match(r.stdout, /bench/);
});
