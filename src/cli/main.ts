#!/usr/bin/env node
// SPDX-License-Identifier: MIT
import { main } from './program.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (e) => { console.error(`rlepose: ${(e as Error).message}`); process.exitCode = 2; },
);
