// SPDX-License-Identifier: MIT
// The smallest test the default suite always has: the inlined WASM loads and allocates/frees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ready } from '../src/index.js';
import { getKernels } from '../src/wasm/loader.js';

test('ready() loads the inlined WASM kernels; alloc/free leave the heap as it was', async () => {
  await ready();
  await ready(); // idempotent
  const k = getKernels();
  const before = k.heapInUse();
  const p = k.alloc(64);
  try {
    assert.equal(p % 16, 0);
    k.writeF32(p, [1, 2, 3]);
    assert.deepEqual([...k.readF32(p, 3)], [1, 2, 3]);
  } finally {
    k.free(p);
  }
  assert.equal(k.heapInUse(), before);
});
