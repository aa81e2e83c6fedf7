// SPDX-License-Identifier: MIT
// Random COCO keypoint cases that exercise pycocotools' corner cases: gt id 0, several categories,
// K != 17 (with a `sigmas` field), results with a bbox (loadRes then takes bbox areas), empty result
// lists, crowds, num_keypoints = 0, areas on the range bounds, score ties, > 20 detections per image.
// Usage: node scripts/coco-fuzz/gen.mjs SEED COUNT OUT.json
// Then:  python3 scripts/coco-fuzz/pycocotools_oracle.py OUT.json EXPECTED.json   (needs pycocotools)
// and:   node scripts/coco-fuzz/compare.mjs OUT.json EXPECTED.json               (after npm run build)
import { writeFileSync } from 'node:fs';

let seed = Number(process.argv[2] ?? 1);
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};
const r2 = (x) => Math.round(x * 100) / 100;
const r4 = (x) => Math.round(x * 10000) / 10000;
const ri = (n) => Math.floor(rnd() * n);
// A person's keypoints around its centre, in units of its scale.
const OFF = [
  [0, -4], [-0.3, -4.3], [0.3, -4.3], [-0.6, -4], [0.6, -4], [-1, -3], [1, -3], [-1.5, -1.5], [1.5, -1.5],
  [-1.8, 0], [1.8, 0], [-0.7, 0], [0.7, 0], [-0.8, 2], [0.8, 2], [-0.8, 4], [0.8, 4],
];

const cases = [];
for (let c = 0; c < Number(process.argv[3] ?? 200); c++) {
  const K = rnd() < 0.2 ? 1 + ri(6) : 17;
  const nCat = rnd() < 0.25 ? 2 + ri(2) : 1;
  const catIds = Array.from({ length: nCat }, (_, k) => 1 + k * 3);
  const nImg = 1 + ri(6);
  const imgIds = Array.from({ length: nImg }, () => ri(1000)); // duplicates happen: harmless
  const images = imgIds.map((id) => ({ id }));
  const anns = [];
  const dts = [];
  let gid = ri(3); // sometimes 0: a match with gt id 0 counts as none in pycocotools
  for (const im of new Set(imgIds)) {
    for (const cat of catIds) {
      const nG = ri(5);
      for (let g = 0; g < nG; g++) {
        const s = [2, 4, 8, 10.5, 11, 12, 30][ri(7)] * (0.8 + 0.4 * rnd());
        const cx = 50 + rnd() * 500;
        const cy = 50 + rnd() * 300;
        const kp = [];
        for (let k = 0; k < K; k++) {
          const [dx, dy] = OFF[k % 17];
          const v = rnd() < 0.2 ? 0 : rnd() < 0.5 ? 1 : 2;
          kp.push(v ? Math.round(cx + dx * s + (k >= 17 ? k : 0)) : 0, v ? Math.round(cy + dy * s) : 0, v);
        }
        const nk = kp.filter((v, i) => i % 3 === 2 && v > 0).length;
        const areaChoices = [s * s * 20, 1024, 9216, 1023.99, 9216.01, s * s * 60];
        const area = r4(areaChoices[ri(areaChoices.length)]);
        const crowd = rnd() < 0.1 ? 1 : 0;
        anns.push({
          id: gid, image_id: im, category_id: cat, iscrowd: crowd, num_keypoints: rnd() < 0.1 ? 0 : nk,
          keypoints: kp, area, bbox: [r2(cx - 2 * s), r2(cy - 4.3 * s), r2(4 * s), r2(8.3 * s)],
        });
        gid += 1 + ri(3);
        const nD = ri(4);
        for (let d = 0; d < nD; d++) {
          const noise = [0.2, 1, 2, 5][ri(4)] * s * 0.2;
          const dk = [];
          for (let k = 0; k < K; k++) {
            const [dx, dy] = OFF[k % 17];
            dk.push(r2(cx + dx * s + (rnd() - 0.5) * noise), r2(cy + dy * s + (rnd() - 0.5) * noise), r2(rnd()));
          }
          dts.push({ image_id: im, category_id: cat, keypoints: dk, score: r4([0.5, 0.9, 0.3][ri(3)] * (rnd() < 0.5 ? 1 : rnd())) });
        }
      }
      const nFp = ri(3); // false positives anywhere, with tied scores
      for (let d = 0; d < nFp; d++) {
        const dk = [];
        for (let k = 0; k < K; k++) dk.push(r2(rnd() * 600), r2(rnd() * 400), 1);
        dts.push({ image_id: im, category_id: cat, keypoints: dk, score: ri(4) / 4 });
      }
      if (rnd() < 0.1) {
        for (let d = 0; d < 22; d++) { // more than maxDets=20 in one image
          const dk = [];
          for (let k = 0; k < K; k++) dk.push(r2(200 + rnd() * 20), r2(200 + rnd() * 60), 1);
          dts.push({ image_id: im, category_id: cat, keypoints: dk, score: r4(rnd()) });
        }
      }
    }
  }
  for (let i = dts.length - 1; i > 0; i--) {
    const j = ri(i + 1);
    [dts[i], dts[j]] = [dts[j], dts[i]];
  }
  if (rnd() < 0.15) for (const d of dts) d.bbox = [0, 0, r2(rnd() * 120), r2(rnd() * 120)];
  const dt = rnd() < 0.05 ? [] : dts;
  const categories = catIds.map((id) => ({ id, name: `c${id}`, keypoints: Array.from({ length: K }, (_, k) => `k${k}`) }));
  const cs = { name: `fuzz${c}`, gt: { images, annotations: anns, categories }, dt };
  if (K !== 17) cs.sigmas = Array.from({ length: K }, (_, k) => [0.025, 0.079, 0.107, 0.035][k % 4]);
  cases.push(cs);
}
writeFileSync(process.argv[4] ?? 'cases.json', JSON.stringify(cases));
