// SPDX-License-Identifier: MIT
// Every reference file of test/fixtures/extra (made with PyTorch by scripts/make-references; other dims,
// widths, masks, slopes, per-coordinate weights, 3D losses, MMPose and Bottleneck networks) passes parity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ready } from '../src/index.js';
import { runParity, detectKind } from '../src/parity/index.js';
import { fixture } from './helpers/util.js';

await ready();

const dir = fileURLToPath(fixture('extra/'));
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the extra reference set is there', () => {
  assert.ok(files.length >= 9, `found ${files.length}`);
  const kinds = new Set(files.map((f) => detectKind(JSON.parse(readFileSync(dir + f, 'utf8')))));
  assert.deepEqual([...kinds].sort(), ['flow', 'loss', 'network']);
});

for (const f of files) {
  test(`parity: extra/${f}`, async () => {
    const rep = await runParity(JSON.parse(readFileSync(dir + f, 'utf8')), { path: dir + f });
    for (const c of rep.cases) assert.ok(c.ok, `${c.name}: ${c.error ?? c.quantities.filter((q) => !q.ok).map((q) => `${q.name}=${q.error}`).join(' ')}`);
    assert.ok(rep.ok && rep.cases.length > 0);
  });
}
