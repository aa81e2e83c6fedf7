// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ready, RealNVP } from '../src/index.js';
import { loadKernels, getKernels } from '../src/wasm/loader.js';
import { readJSON, relErr } from './helpers/util.js';

const releaseUrl = new URL('../../build/release.wasm', import.meta.url);

test('the inlined build loads, and a URL, bytes or a compiled Module override it with the same results', async () => {
  await ready();
  const j = readJSON('realnvp2d.json');
  const lp0 = (() => { const f = RealNVP.fromJSON(j.flow); try { return f.logProb(j.cases[0].x); } finally { f.dispose(); } })();
  const bytes = readFileSync(releaseUrl);
  const sources = [releaseUrl, new Uint8Array(bytes), await WebAssembly.compile(bytes)];
  try {
    for (const src of sources) {
      const k = await loadKernels(src);
      assert.equal(getKernels(), k);
      const f = RealNVP.fromJSON(j.flow);
      try {
        assert.equal(relErr(f.logProb(j.cases[0].x), lp0), 0);
      } finally {
        f.dispose();
      }
    }
  } finally {
    await loadKernels();
  }
});

test('a WASM trap becomes an Error carrying the AssemblyScript file:line:col', async () => {
  await ready();
  const k = getKernels();
  const desc = k.alloc(64);
  try {
    // A descriptor with hidden ≠ its padded width fails the kernels' own assert.
    new Int32Array(k.memory.buffer, desc, 12).set([2, 64, 7, 6]);
    assert.throws(() => k.exports.flowInverse(desc, 1), /rlepose WASM abort: bad flow descriptor at assembly\/realnvp\.ts:\d+:\d+/);
  } finally {
    k.free(desc);
  }
});
