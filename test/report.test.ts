// SPDX-License-Identifier: MIT
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ready, RealNVP } from '../src/index.js';
import { calibrationReport, densityContours } from '../src/eval/metrics.js';
import {
  svgPosePrediction, svgGrid, svgDensityComparison, svgLossCurves, svgCalibration, svgBarTable,
  encodePng, base64, escapeXml, COCO_KEYPOINT_NAMES, COCO_SKELETON,
} from '../src/report/index.js';
import { niceTicks, fmtTick } from '../src/report/svg.js';
import { writeReport, encodePngNode } from '../src/report/node.js';

await ready();

/**
 * A small well-formedness checker: one root, balanced tags, quoted attributes without '<' or duplicates,
 * only the five XML entities or numeric references. Returns the element names in order.
 */
function checkXml(s: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  let i = 0;
  const checkEntities = (t: string, where: string) => {
    for (let k = t.indexOf('&'); k >= 0; k = t.indexOf('&', k + 1)) {
      assert.match(t.slice(k, k + 10), /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/, `bad entity in ${where}: ${t.slice(k, k + 12)}`);
    }
  };
  while (i < s.length) {
    const lt = s.indexOf('<', i);
    const txt = lt < 0 ? s.slice(i) : s.slice(i, lt);
    if (stack.length === 0) assert.equal(txt.trim(), '', `text outside the root: ${txt.slice(0, 40)}`);
    checkEntities(txt, 'text');
    if (lt < 0) break;
    if (s.startsWith('<?', lt)) { const e = s.indexOf('?>', lt); assert.ok(e > 0 && roots === 0); i = e + 2; continue; }
    if (s.startsWith('<!--', lt)) { const e = s.indexOf('-->', lt); assert.ok(e > 0); i = e + 3; continue; }
    if (s.startsWith('</', lt)) {
      const e = s.indexOf('>', lt);
      const name = s.slice(lt + 2, e).trim();
      assert.equal(stack.pop(), name, `unbalanced </${name}> at ${lt}`);
      i = e + 1;
      continue;
    }
    const m = /^<([A-Za-z_][\w:.-]*)/.exec(s.slice(lt, lt + 100));
    assert.ok(m, `bad tag at ${lt}: ${s.slice(lt, lt + 30)}`);
    const name = m![1];
    names.push(name);
    if (stack.length === 0) roots++;
    let j = lt + 1 + name.length;
    const seen = new Set<string>();
    for (;;) {
      while (/\s/.test(s[j])) j++;
      if (s[j] === '/' && s[j + 1] === '>') { j += 2; break; }
      if (s[j] === '>') { stack.push(name); j++; break; }
      const a = /^([A-Za-z_][\w:.-]*)=(["'])/.exec(s.slice(j, j + 120));
      assert.ok(a, `bad attribute in <${name}> at ${j}: ${s.slice(j, j + 30)}`);
      assert.ok(!seen.has(a![1]), `duplicate attribute ${a![1]} in <${name}>`);
      seen.add(a![1]);
      const q = a![2];
      const start = j + a![0].length;
      const end = s.indexOf(q, start);
      assert.ok(end > 0, `unterminated attribute ${a![1]}`);
      const val = s.slice(start, end);
      assert.ok(!val.includes('<'), `'<' in attribute ${a![1]} of <${name}>`);
      checkEntities(val, `attribute ${a![1]}`);
      j = end + 1;
    }
    i = j;
  }
  assert.equal(stack.length, 0, `unclosed: ${stack.join(' > ')}`);
  assert.equal(roots, 1, 'exactly one root element');
  assert.equal(names[0], 'svg');
  return names;
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

function zeroFlow(): RealNVP {
  const f = RealNVP.create({ dim: 2, hidden: 16, couplings: 2, seed: 0 });
  f.setFlatParams(new Float32Array(f.numParams));
  return f;
}

const K = 17;
const gt = Array.from({ length: K }, (_, k) => [40 + (k % 4) * 30, 30 + Math.floor(k / 4) * 35]);
const pred = gt.map(([x, y], k) => [x + ((k * 7) % 5) - 2, y + ((k * 3) % 5) - 2]);
const sigma = gt.map((_, k) => [2 + (k % 3), 3 + (k % 2)]);

test('svgPosePrediction: well-formed, one region per joint, bones, joints, gt crosses, embedded PNG', () => {
  const flow = zeroFlow();
  const contours = densityContours(flow, [0.5, 0.8], 60, { samples: 5000 });
  const W = 32, H = 24;
  const img = { width: W, height: H, data: new Uint8Array(W * H * 3).map((_, i) => (i * 37) & 255) };
  const vis = Array.from({ length: K }, (_, k) => (k === 4 ? 0 : 2));
  const svg = svgPosePrediction({ imageRgb: img, gt, pred, sigma, visible: vis, flowContours: contours, skeleton: COCO_SKELETON, keypointNames: COCO_KEYPOINT_NAMES, title: 'sample 1', showLabels: true });
  checkXml(svg);
  assert.equal(count(svg, /class="region"/g), K);
  assert.equal(count(svg, /<path class="region"/g), K, 'flow contours drawn as paths');
  assert.equal(count(svg, /class="bone"/g), COCO_SKELETON.length);
  assert.equal(count(svg, /class="joint"/g), K);
  assert.equal(count(svg, /class="gt"/g), K - 1, 'invisible gt not drawn');
  assert.match(svg, /80 % of the learned density/);
  const m = /href="data:image\/png;base64,([A-Za-z0-9+/=]+)"/.exec(svg);
  assert.ok(m, 'image embedded as a PNG data URL');
  // The embedded PNG decodes (pngjs) to the same pixels.
  const { PNG } = createRequire(import.meta.url)('pngjs') as { PNG: { sync: { read(b: Buffer): { width: number; height: number; data: Buffer } } } };
  const dec = PNG.sync.read(Buffer.from(m![1], 'base64'));
  assert.equal(dec.width, W); assert.equal(dec.height, H);
  for (let p = 0; p < W * H; p++) for (let c = 0; c < 3; c++) assert.equal(dec.data[p * 4 + c], img.data[p * 3 + c]);
  // Without contours: ellipses with radii σ.
  const svg2 = svgPosePrediction({ pred, sigma, skeleton: COCO_SKELETON, keypointNames: COCO_KEYPOINT_NAMES, width: 200, height: 220, scale: 1 });
  checkXml(svg2);
  assert.equal(count(svg2, /<ellipse class="region"/g), K);
  assert.match(svg2, /rx="2" ry="3"/);
  assert.equal(count(svg2, /class="gt"/g), 0);
  assert.match(svg2, /radii σ/);
  flow.dispose();
});

test('svgPosePrediction: names and titles are escaped; bad inputs give clear errors', () => {
  const names = COCO_KEYPOINT_NAMES.map((n, k) => (k === 0 ? 'nose <&> "tip"' : n));
  const svg = svgPosePrediction({ pred, sigma, gt, skeleton: COCO_SKELETON, keypointNames: names, title: '<script>alert("x")</script> & more', showLabels: true, imageHref: 'img.png?a=1&b=<2>' });
  checkXml(svg);
  assert.ok(!svg.includes('<script>'));
  assert.match(svg, /&lt;script&gt;/);
  assert.match(svg, /nose &lt;&amp;&gt; &quot;tip&quot;/);
  assert.match(svg, /href="img\.png\?a=1&amp;b=&lt;2&gt;"/);
  assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
  assert.throws(() => svgPosePrediction({ pred: pred.slice(1), sigma, skeleton: [], keypointNames: COCO_KEYPOINT_NAMES }), /svgPosePrediction: pred must have shape \[K,2\] = \[17,2\], got \[16,2\]/);
  assert.throws(() => svgPosePrediction({ pred, sigma: sigma.map(() => [0, 1]), skeleton: [], keypointNames: COCO_KEYPOINT_NAMES }), /sigma must be finite and positive, got 0 at index \[0,0\]/);
  assert.throws(() => svgPosePrediction({ pred, sigma, skeleton: [[0, 17]], keypointNames: COCO_KEYPOINT_NAMES }), /skeleton pairs must be joint indices in \[0,17\), got \[0,17\]/);
  assert.throws(() => svgPosePrediction({ pred, sigma, skeleton: [], keypointNames: COCO_KEYPOINT_NAMES, imageRgb: { width: 2, height: 2, data: new Uint8Array(5) } }), /image.data must hold width·height·3 \(RGB\) = 12 or ·4 \(RGBA\) = 16 bytes, got 5/);
});

test('svgGrid: one nested svg per item, captions, ids made unique', () => {
  const flow = zeroFlow();
  const d1 = svgDensityComparison(flow, { gridSize: 41, samples: 4000 });
  const p1 = svgPosePrediction({ pred, sigma, gt, skeleton: COCO_SKELETON, keypointNames: COCO_KEYPOINT_NAMES });
  const sheet = svgGrid([{ svg: d1, caption: 'density & <co>' }, { svg: d1 }, { svg: p1, caption: 'pose' }], { columns: 2, title: 'Sheet' });
  const names = checkXml(sheet);
  assert.equal(names.filter((n) => n === 'svg').length, 4, 'root + 3 cells');
  assert.match(sheet, /density &amp; &lt;co&gt;/);
  const ids = [...sheet.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(ids.length >= 6);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const m of sheet.matchAll(/url\(#([^)]+)\)/g)) assert.ok(ids.includes(m[1]), `dangling reference #${m[1]}`);
  assert.throws(() => svgGrid([]), /svgGrid: items must be a non-empty array/);
  assert.throws(() => svgGrid([{ svg: '<g/>' }]), /items\[0\]\.svg is not an SVG document/);
  flow.dispose();
});

test('svgDensityComparison: heat maps, contours per level, marginals, colour bar', () => {
  const flow = zeroFlow();
  const svg = svgDensityComparison(flow, { gridSize: 61, samples: 5000, levels: [0.5, 0.8, 0.95], title: 'A & B' });
  checkXml(svg);
  assert.equal(count(svg, /class="contour flow"/g), 3, 'one closed line per level for a unimodal flow');
  assert.equal(count(svg, /class="contour laplace"/g), 3);
  assert.equal(count(svg, /class="marginal flow"/g), 2);
  assert.equal(count(svg, /class="marginal laplace"/g), 2);
  assert.equal(count(svg, /class="marginal gaussian"/g), 2);
  assert.equal(count(svg, /<image /g), 2);
  assert.match(svg, /class="colorbar"/);
  assert.match(svg, /A &amp; B/);
  const flow3 = RealNVP.create({ dim: 3, hidden: 8, couplings: 2 });
  assert.throws(() => svgDensityComparison(flow3), /svgDensityComparison: the flow must be 2-D, got dim 3/);
  flow3.dispose();
  flow.dispose();
});

test('svgLossCurves: one path per series, log scale, gaps, errors', () => {
  const a = Array.from({ length: 200 }, (_, i) => [i, 5 * Math.exp(-i / 40) + 0.5] as [number, number]);
  const b = Array.from({ length: 200 }, (_, i) => [i, i === 50 ? NaN : 4 * Math.exp(-i / 60) + 0.8] as [number, number]);
  const svg = svgLossCurves([{ name: 'RLE <official>', points: a }, { name: 'L1', points: b }], { logY: true, title: 'loss' });
  checkXml(svg);
  assert.equal(count(svg, /class="series"/g), 2);
  assert.match(svg, /RLE &lt;official&gt;/);
  // The NaN breaks L1's line into two subpaths.
  const l1 = /class="series" data-name="L1" d="([^"]+)"/.exec(svg)![1];
  assert.equal(count(l1, /M/g), 2);
  const sm = svgLossCurves([{ name: 'x', points: a }], { smooth: 0.9 });
  checkXml(sm);
  assert.equal(count(sm, /class="series-raw"/g), 1);
  // Long series are decimated.
  const long = Array.from({ length: 20000 }, (_, i) => [i, Math.sin(i / 100)] as [number, number]);
  const ls = svgLossCurves([{ name: 'long', points: long }]);
  assert.ok(count(ls, /L/g) < 2000);
  assert.throws(() => svgLossCurves([{ name: 'rle', points: [[0, 1], [10, -3.2]] }], { logY: true }), /svgLossCurves: logY needs positive y values; series 'rle' has -3.2 at x = 10/);
  assert.throws(() => svgLossCurves([]), /series must be a non-empty array/);
  assert.throws(() => svgLossCurves([{ name: 'a', points: [[0, 1, 2] as unknown as [number, number]] }]), /point 0 must be \[x, y\] numbers/);
});

test('svgCalibration and svgBarTable', () => {
  const flow = zeroFlow();
  const n = 200;
  const p = new Float64Array(n * 2), g = new Float64Array(n * 2), s = new Float64Array(n * 2).fill(2);
  for (let i = 0; i < n * 2; i++) { p[i] = i; g[i] = i + Math.sin(i) * 2; }
  const rep = calibrationReport({ flow, pred: p, gt: g, sigma: s, shape: [n, 1, 2], samples: 2000 });
  const cal = svgCalibration(rep);
  checkXml(cal);
  assert.equal(count(cal, /class="series"/g), 3);
  assert.equal(count(cal, /class="reference"/g), 1);
  assert.equal(count(cal, /<circle /g), 3 * rep.levels.length + 3, 'a marker per point, and one per legend entry');
  const bt = svgBarTable({
    columns: ['RLE', 'L1 <baseline>'],
    rows: [
      { label: 'AP', values: [0.712, 0.655] },
      { label: 'EPE', values: [5.1, 6.3], higherIsBetter: false, unit: 'px' },
      { label: 'PCK@0.05', values: [NaN, 0.8] },
    ],
  }, { title: 'RLE vs L1' });
  checkXml(bt);
  assert.equal(count(bt, /class="bar"/g), 5, 'one bar per finite value');
  assert.match(bt, /L1 &lt;baseline&gt;/);
  assert.match(bt, /font-weight="bold">0\.712</);
  assert.match(bt, /font-weight="bold">5\.100</);
  assert.throws(() => svgBarTable({ columns: ['a', 'b'], rows: [{ label: 'x', values: [1] }] }), /svgBarTable: rows\[0\] \('x'\) must have 2 values \(one per column\), got 1/);
  flow.dispose();
});

test('PNG encoders and base64', async () => {
  const img = { width: 300, height: 250, data: new Uint8Array(300 * 250 * 4).map((_, i) => (i * 13) & 255) };
  const { PNG } = createRequire(import.meta.url)('pngjs') as { PNG: { sync: { read(b: Buffer): { width: number; height: number; data: Buffer } } } };
  for (const enc of [encodePng, encodePngNode]) {
    const dec = PNG.sync.read(Buffer.from(enc(img)));
    assert.equal(dec.width, 300);
    assert.deepEqual(Uint8Array.from(dec.data), img.data);
  }
  for (const len of [0, 1, 2, 3, 4, 5, 100]) {
    const b = Uint8Array.from({ length: len }, (_, i) => (i * 91) & 255);
    assert.equal(base64(b), Buffer.from(b).toString('base64'));
  }
});

test('writeReport: creates folders, writes strings and bytes atomically, rejects escaping names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rlepose-report-'));
  try {
    const out = join(dir, 'a', 'b');
    const paths = await writeReport(out, { 'x.svg': '<svg/>', 'sub/y.bin': Uint8Array.of(1, 2, 3) });
    assert.equal(paths.length, 2);
    assert.equal(await readFile(join(out, 'x.svg'), 'utf8'), '<svg/>');
    assert.deepEqual([...(await readFile(join(out, 'sub', 'y.bin')))], [1, 2, 3]);
    await writeReport(out, { 'x.svg': '<svg>2</svg>' });
    assert.equal(await readFile(join(out, 'x.svg'), 'utf8'), '<svg>2</svg>');
    assert.deepEqual((await readdir(out)).sort(), ['sub', 'x.svg'], 'no temporary files left');
    await assert.rejects(writeReport(out, { '../evil.svg': 'x' }), /writeReport: file names must be relative paths inside outDir, got '\.\.\/evil\.svg'/);
    await assert.rejects(writeReport(out, { 'a.svg': 3 as unknown as string }), /files\['a\.svg'\] must be a string or a Uint8Array, got number/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ticks', () => {
  assert.deepEqual(niceTicks(0, 1, 5).ticks, [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1].map((v) => v));
  assert.deepEqual(niceTicks(0, 1500, 6).ticks, [0, 250, 500, 750, 1000, 1250, 1500]);
  assert.equal(fmtTick(0.6000000000000001, 0.2), '0.6');
  assert.equal(fmtTick(1250, 250), '1250');
  assert.equal(fmtTick(0.025, 0.025), '0.025');
  assert.equal(fmtTick(2e-5, 1e-5), '2e-5');
});
