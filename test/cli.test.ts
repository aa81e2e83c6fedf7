// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
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

test('rlepose demo (tiny budget) runs end to end: data, two trainings, COCO eval, report folder with summary.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rlepose-demo-'));
  try {
    const r = spawnSync(process.execPath, [CLI, 'demo', '--quick', '--images', '60', '--steps', '2', '--sequential', '--out', dir], { encoding: 'utf8', timeout: 240_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout.slice(-2000));
    assert.match(r.stdout, /metric\s+RLE\s+L1/);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    for (const m of ['rle', 'l1']) {
      for (const k of ['AP', 'AP50', 'AR', 'AP_constant_score', 'PCK@0.05', 'PCK@0.1', 'mean_error_px']) {
        assert.equal(typeof summary[m][k], 'number', `${m}.${k}`);
      }
    }
    assert.ok(Array.isArray(summary.rle.calibration.flow));
    assert.equal(summary.config.augment, 'noflip');
    assert.equal(summary.config.flip_test, false);
    for (const m of ['rle', 'l1']) assert.equal(summary[m].train_augment.flipProb, 0, `${m} trained without flips`);
    for (const f of ['predictions.svg', 'density.svg', 'loss-curves.svg', 'metrics.svg', 'calibration.svg']) {
      assert.match(readFileSync(join(dir, f), 'utf8'), /<svg[\s\S]*<\/svg>\s*$/, f);
    }
    const bad = spawnSync(process.execPath, [CLI, 'demo', '--steps', 'x', '--out', dir], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--steps must be a positive integer, got x/);
    const badAug = spawnSync(process.execPath, [CLI, 'demo', '--augment', 'strong', '--out', dir], { encoding: 'utf8' });
    assert.notEqual(badAug.status, 0);
    assert.match(badAug.stderr, /augment: expected one of paper, mild, noflip, none, got "strong"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
