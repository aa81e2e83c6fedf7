#!/usr/bin/env node
// SPDX-License-Identifier: MIT
import { main } from './program.js';
import { tf } from '../backend/tf.js';

// The CLI prints its own diagnostics; tfjs's console hints (e.g. to install tfjs-node) are noise here.
tf.env().set('PROD', true);

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (e) => { console.error(`rlepose: ${(e as Error).message}`); process.exitCode = 2; },
);
