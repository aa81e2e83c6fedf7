// SPDX-License-Identifier: MIT
// Compares evaluateCocoKeypoints (dist/, so run `npm run build` first) with the oracle's stats.
// Usage: node scripts/coco-fuzz/compare.mjs CASES.json EXPECTED.json
import { readFileSync } from 'node:fs';
import { evaluateCocoKeypoints } from '../../dist/src/eval/coco.js';

const cases = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const want = JSON.parse(readFileSync(process.argv[3], 'utf8'));
let worst = 0;
let bad = 0;
cases.forEach((c, i) => {
  let r;
  try {
    r = evaluateCocoKeypoints(c.gt, c.dt, c.sigmas ? { sigmas: c.sigmas } : {});
  } catch (e) {
    console.log(c.name, 'threw', e.message);
    bad++;
    return;
  }
  const err = Math.max(...r.stats.map((v, j) => Math.abs(v - want[i].stats[j])));
  if (!(err <= 1e-12)) {
    bad++;
    console.log(c.name, err, JSON.stringify(r.stats), JSON.stringify(want[i].stats));
  }
  worst = Math.max(worst, err);
});
console.log(`cases ${cases.length}, over 1e-12: ${bad}, max abs stat error ${worst}`);
process.exitCode = bad ? 1 : 0;
