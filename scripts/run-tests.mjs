// SPDX-License-Identifier: MIT
// Runs the compiled unit tests: every dist/test/**/*.test.js, one file at a time, with node:test.
// Node 20's `node --test` does not expand globs (that came in Node 21), and given a directory it also
// runs every .js under a test/ folder (our runtime-matrix entries), so we list the files ourselves.
//   node scripts/run-tests.mjs [extra node --test flags]
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'dist/test');
const files = readdirSync(dir, { recursive: true, withFileTypes: false })
  .map(String)
  .filter((f) => f.endsWith('.test.js'))
  .sort()
  .map((f) => relative(root, join(dir, f)));
if (files.length === 0) {
  console.error(`no *.test.js under ${relative(root, dir)}: run npm run build first`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
