// SPDX-License-Identifier: MIT
// Renders a sheet of synthetic benchmark samples with their labels drawn on top (docs/synthetic-samples.png).
//   node scripts/synthetic-sheet.mjs [out.png] [seed] [count] [cols] [difficulty]
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateSynthetic, renderKeypointOverlay, tileImages } from '../dist/src/data/synthetic.js';
import { encodePng } from '../dist/src/data/image.js';

const out = process.argv[2] ?? 'docs/synthetic-samples.png';
const seed = Number(process.argv[3] ?? 7);
const count = Number(process.argv[4] ?? 12);
const cols = Number(process.argv[5] ?? 6);
const difficulty = Number(process.argv[6] ?? 0.5);
const res = await generateSynthetic({ numImages: count, seed, valFraction: 0, difficulty });
const byImage = new Map();
for (const a of res.train.coco.annotations) {
  if (!byImage.has(a.image_id)) byImage.set(a.image_id, []);
  byImage.get(a.image_id).push(a);
}
const tiles = res.train.images.map((im) => renderKeypointOverlay(
  { width: im.width, height: im.height, data: im.data }, byImage.get(im.id) ?? [], { scale: 2 }));
const sheet = tileImages(tiles, cols, 6);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, encodePng(sheet.data, sheet.width, sheet.height, { deflateLevel: 9 }));
console.log(`wrote ${out} (${sheet.width}×${sheet.height}), seed ${seed}`);
