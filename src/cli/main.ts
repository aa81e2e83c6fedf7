#!/usr/bin/env node
// SPDX-License-Identifier: MIT
console.log('rlepose CLI: not yet');
