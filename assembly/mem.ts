// SPDX-License-Identifier: MIT
// Raw allocation for buffers that JS owns. Each block carries a 16-byte prefix holding its size, so the
// payload stays 16-byte aligned for v128 loads and we can account the bytes in use.

let liveBytes: usize = 0;

export function alloc(size: usize): usize {
  const p = heap.alloc(size + 16);
  store<usize>(p, size);
  liveBytes += size;
  const q = p + 16;
  memory.fill(q, 0, size);
  return q;
}

export function free(ptr: usize): void {
  if (ptr == 0) return;
  const p = ptr - 16;
  liveBytes -= load<usize>(p);
  heap.free(p);
}

/** Bytes allocated through `alloc` and not yet freed. */
export function heapInUse(): usize {
  return liveBytes;
}
