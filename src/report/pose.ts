// SPDX-License-Identifier: MIT
// Pose pictures: the image, the predicted skeleton, ground-truth crosses and, per joint, the region of
// the model's learned density (a flow contour scaled by σ) or a σ ellipse; and a sheet of several.
import type { DensityContours } from '../eval/metrics.js';
import { isTensorLike, type ShapedArray, type TensorLike } from '../util/arrays.js';
import { el, escapeXml, n2, pathData, svgDoc, text, textWidth, FONT } from './svg.js';
import { imageChannels, pngDataUrl, type PngEncoder, type RgbImage } from './png.js';

/** [K, 2] points: nested [[x, y], ...], flat [x0, y0, x1, ...], {shape, data} or a tensor. */
export type Points2D = ArrayLike<number> | number[][] | ShapedArray | TensorLike;

/** COCO's 17 person keypoints, in dataset order. */
export const COCO_KEYPOINT_NAMES: readonly string[] = Object.freeze([
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
  'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
]);

/** COCO's person skeleton as 0-based joint pairs (the dataset's 1-based `skeleton` minus one). */
export const COCO_SKELETON: readonly (readonly [number, number])[] = Object.freeze([
  [15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8], [7, 9], [8, 10],
  [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6],
].map((p) => Object.freeze(p as [number, number])));

/** Colours by body side (left blue, right orange, centre green), read from the names. */
export const SIDE_COLORS = { left: '#1f6fb4', right: '#e8590c', centre: '#2f9e44' } as const;

function sideOf(name: string): keyof typeof SIDE_COLORS {
  const s = name.toLowerCase();
  if (s.includes('left') || /(^|[_\s.-])l([_\s.-]|$)/.test(s)) return 'left';
  if (s.includes('right') || /(^|[_\s.-])r([_\s.-]|$)/.test(s)) return 'right';
  return 'centre';
}

function toPoints(op: string, name: string, x: Points2D, K: number | null): Float64Array {
  let data: ArrayLike<number>;
  let shape: number[] | null = null;
  if (isTensorLike(x)) { data = x.dataSync(); shape = x.shape; }
  else if (Array.isArray(x) && Array.isArray(x[0])) {
    const rows = x as number[][];
    if (rows.some((r) => !Array.isArray(r) || r.length !== 2)) throw new RangeError(`${op}: ${name} must have shape [K,2], got rows of length ${rows.map((r) => (Array.isArray(r) ? r.length : typeof r)).join(',')}`);
    data = rows.flat(); shape = [rows.length, 2];
  } else if (typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !Array.isArray(x) && Array.isArray((x as ShapedArray).shape)) {
    data = (x as ShapedArray).data; shape = (x as ShapedArray).shape;
  } else if (x && typeof (x as ArrayLike<number>).length === 'number') data = x as ArrayLike<number>;
  else throw new TypeError(`${op}: ${name} must be [K,2] points (nested array, flat array, {shape, data} or tensor), got ${x === null ? 'null' : typeof x}`);
  if (shape && (shape.length !== 2 || shape[1] !== 2)) throw new RangeError(`${op}: ${name} must have shape [K,2], got [${shape.join(',')}]`);
  if (data.length % 2 !== 0) throw new RangeError(`${op}: ${name} must hold K·2 values, got ${data.length}`);
  if (K !== null && data.length !== K * 2) throw new RangeError(`${op}: ${name} must have shape [K,2] = [${K},2], got [${data.length / 2},2]`);
  const out = Float64Array.from(data as ArrayLike<number>, Number);
  return out;
}

export interface PosePredictionOptions {
  /** The image as RGB(A) bytes (embedded as a PNG data URL). */
  imageRgb?: RgbImage;
  /** Or a URL / data URL of the image (then give width and height). */
  imageHref?: string;
  /** Image size in pixels when given by href or absent (default: the points' extent plus a margin). */
  width?: number;
  height?: number;
  /** Predicted means μ̂ [K,2], image pixels. */
  pred: Points2D;
  /** Predicted σ [K,2], image pixels. */
  sigma: Points2D;
  /** Ground truth [K,2] (drawn as crosses). */
  gt?: Points2D;
  /** [K] visibility of the ground truth (> 0 / true: drawn). */
  visible?: ArrayLike<number | boolean>;
  /** Contours of the flow's regions (densityContours); without them, ellipses with radii σ. */
  flowContours?: DensityContours;
  /** Which region to draw (the nearest level in flowContours). Default 0.8. */
  level?: number;
  skeleton: readonly (readonly [number, number])[];
  keypointNames: readonly string[];
  title?: string;
  /** Draw joint names next to the predictions. Default false. */
  showLabels?: boolean;
  /** Display scale; default scales the longer image side to 480 px (never below 1). */
  scale?: number;
  /** PNG encoder for imageRgb (default: the built-in uncompressed one; `encodePngNode` in Node). */
  encodePng?: PngEncoder;
  /** Draw the legend strip. Default true. */
  legend?: boolean;
}

/**
 * One pose prediction as an SVG string: the image, the predicted skeleton (coloured by body side),
 * ground truth as crosses, and for each joint the region of the learned density that holds `level` of
 * its mass: the flow contour c mapped to μ̂ − σ ⊙ c (the residual is (μ̂ − μ)/σ), or an ellipse with
 * radii σ when no contours are given. Elements carry classes (region, bone, joint, gt) for styling and tests.
 */
export function svgPosePrediction(opts: PosePredictionOptions): string {
  const op = 'svgPosePrediction';
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${op}: expected an options object`);
  const names = opts.keypointNames;
  if (!Array.isArray(names) && !(names && typeof names.length === 'number')) throw new TypeError(`${op}: keypointNames must be an array of strings`);
  const K = names.length;
  const pred = toPoints(op, 'pred', opts.pred, K);
  const sigma = toPoints(op, 'sigma', opts.sigma, K);
  const gt = opts.gt !== undefined ? toPoints(op, 'gt', opts.gt, K) : null;
  for (let i = 0; i < 2 * K; i++) {
    if (!Number.isFinite(pred[i])) throw new RangeError(`${op}: pred must be finite, got ${pred[i]} at index [${i >> 1},${i & 1}]`);
    if (!(sigma[i] > 0) || !Number.isFinite(sigma[i])) throw new RangeError(`${op}: sigma must be finite and positive, got ${sigma[i]} at index [${i >> 1},${i & 1}]`);
  }
  const vis = opts.visible;
  if (vis !== undefined && vis.length !== K) throw new RangeError(`${op}: visible must have shape [K] = [${K}], got ${vis.length} values`);
  for (const [a, b] of opts.skeleton) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= K || b >= K) {
      throw new RangeError(`${op}: skeleton pairs must be joint indices in [0,${K}), got [${a},${b}]`);
    }
  }
  let W: number, H: number;
  let imageUrl: string | null = null;
  if (opts.imageRgb) {
    imageChannels(op, opts.imageRgb);
    W = opts.imageRgb.width; H = opts.imageRgb.height;
    imageUrl = pngDataUrl(opts.imageRgb, opts.encodePng);
  } else {
    let mx = 0, my = 0;
    for (let k = 0; k < K; k++) { mx = Math.max(mx, pred[2 * k] + 3 * sigma[2 * k]); my = Math.max(my, pred[2 * k + 1] + 3 * sigma[2 * k + 1]); }
    W = opts.width ?? Math.ceil(mx + 10); H = opts.height ?? Math.ceil(my + 10);
    if (opts.imageHref !== undefined) {
      if (typeof opts.imageHref !== 'string') throw new TypeError(`${op}: imageHref must be a string`);
      imageUrl = opts.imageHref;
    }
  }
  const s = opts.scale ?? Math.max(1, 480 / Math.max(W, H));
  if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`${op}: scale must be finite and positive, got ${s}`);
  const titleH = opts.title ? 28 : 0;
  const showLegend = opts.legend ?? true;
  const legendH = showLegend ? 46 : 0;
  const Wd = Math.max(W * s, 360), Hd = H * s;
  const X = (x: number) => x * s, Y = (y: number) => y * s + titleH;
  const colors = Array.from(names, (nm) => SIDE_COLORS[sideOf(String(nm))]);

  // Region of each joint.
  let contourLevel: number | null = null;
  let lines: { points: [number, number][]; closed: boolean }[] | null = null;
  if (opts.flowContours) {
    const fc = opts.flowContours;
    if (!fc.contours || fc.contours.length === 0) throw new RangeError(`${op}: flowContours has no contour levels`);
    const want = opts.level ?? 0.8;
    const best = fc.contours.reduce((a, c) => (Math.abs(c.level - want) < Math.abs(a.level - want) ? c : a));
    contourLevel = best.level;
    lines = best.lines;
  }
  const regions: string[] = [];
  for (let k = 0; k < K; k++) {
    const mx = pred[2 * k], my = pred[2 * k + 1], sx = sigma[2 * k], sy = sigma[2 * k + 1];
    const style = { fill: colors[k], 'fill-opacity': 0.16, stroke: colors[k], 'stroke-opacity': 0.95, 'stroke-width': 1.4 };
    if (lines) {
      const d = lines.map((l) => pathData(l.points.map(([cx, cy]) => [X(mx - sx * cx), Y(my - sy * cy)] as [number, number]), l.closed, 1)).join('');
      regions.push(el('path', { class: 'region', 'data-joint': String(names[k]), d, ...style, 'fill-rule': 'evenodd' }));
    } else {
      regions.push(el('ellipse', { class: 'region', 'data-joint': String(names[k]), cx: X(mx), cy: Y(my), rx: sx * s, ry: sy * s, ...style }));
    }
  }
  const bones = opts.skeleton.map(([a, b]) => {
    const c = colors[a] === colors[b] ? colors[a] : SIDE_COLORS.centre;
    return el('line', { class: 'bone', x1: X(pred[2 * a]), y1: Y(pred[2 * a + 1]), x2: X(pred[2 * b]), y2: Y(pred[2 * b + 1]), stroke: c, 'stroke-width': 3, 'stroke-linecap': 'round', 'stroke-opacity': 0.9 });
  });
  const joints: string[] = [];
  const labels: string[] = [];
  for (let k = 0; k < K; k++) {
    joints.push(el('circle', { class: 'joint', cx: X(pred[2 * k]), cy: Y(pred[2 * k + 1]), r: 3.6, fill: colors[k], stroke: '#ffffff', 'stroke-width': 1.2 },
      `<title>${escapeXml(`${names[k]}: μ̂ = (${n2(pred[2 * k])}, ${n2(pred[2 * k + 1])}), σ = (${n2(sigma[2 * k])}, ${n2(sigma[2 * k + 1])})`)}</title>`));
  }
  if (opts.showLabels) {
    // Greedy placement: the first candidate position that overlaps no placed label (nor a joint); else none
    // (the joint's tooltip still names it).
    const fs = 10;
    const placed: [number, number, number, number][] = [];
    const jointBoxes = Array.from({ length: K }, (_, k) => [X(pred[2 * k]) - 4, Y(pred[2 * k + 1]) - 4, X(pred[2 * k]) + 4, Y(pred[2 * k + 1]) + 4] as [number, number, number, number]);
    const hit = (a: [number, number, number, number], b: [number, number, number, number]) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
    const order = Array.from({ length: K }, (_, k) => k);
    for (const k of order) {
      const label = String(names[k]).replace(/_/g, ' ');
      const w = textWidth(label, fs), h = fs + 1;
      const px = X(pred[2 * k]), py = Y(pred[2 * k + 1]);
      const cands: [number, number, 'start' | 'end'][] = [[px + 6, py - 5, 'start'], [px + 6, py + 12, 'start'], [px - 6, py - 5, 'end'], [px - 6, py + 12, 'end']];
      for (const [tx, ty, anchor] of cands) {
        const x0 = anchor === 'start' ? tx : tx - w;
        const box: [number, number, number, number] = [x0, ty - fs, x0 + w, ty - fs + h];
        if (box[0] < 0 || box[2] > Wd || box[1] < titleH || box[3] > titleH + Hd) continue;
        if (placed.some((b) => hit(b, box)) || jointBoxes.some((b, j) => j !== k && hit(b, box))) continue;
        placed.push(box);
        labels.push(text(tx, ty, label, { 'font-size': fs, 'text-anchor': anchor, fill: '#111', stroke: '#ffffff', 'stroke-width': 3, 'paint-order': 'stroke', 'stroke-linejoin': 'round' }));
        break;
      }
    }
  }
  const crosses: string[] = [];
  if (gt) {
    for (let k = 0; k < K; k++) {
      if (vis && !(Number(vis[k]) > 0)) continue;
      const gx = gt[2 * k], gy = gt[2 * k + 1];
      if (!Number.isFinite(gx) || !Number.isFinite(gy)) continue;
      const cx = X(gx), cy = Y(gy), r = 4.5;
      const d = `M${n2(cx - r)} ${n2(cy - r)}L${n2(cx + r)} ${n2(cy + r)}M${n2(cx - r)} ${n2(cy + r)}L${n2(cx + r)} ${n2(cy - r)}`;
      crosses.push(el('g', { class: 'gt', 'data-joint': String(names[k]) },
        el('path', { d, stroke: '#ffffff', 'stroke-width': 4, 'stroke-linecap': 'round' }),
        el('path', { d, stroke: '#d6336c', 'stroke-width': 2, 'stroke-linecap': 'round' })));
    }
  }
  const body: string[] = [];
  if (opts.title) body.push(text(8, 19, opts.title, { 'font-size': 14, 'font-weight': 'bold', fill: '#222' }));
  if (imageUrl !== null) {
    body.push(el('image', { x: 0, y: titleH, width: W * s, height: H * s, href: imageUrl, preserveAspectRatio: 'none' }));
  } else {
    body.push(el('rect', { x: 0, y: titleH, width: W * s, height: H * s, fill: '#f4f4f4', stroke: '#dddddd' }));
  }
  body.push(el('g', { class: 'regions' }, ...regions), el('g', { class: 'skeleton' }, ...bones), el('g', { class: 'gts' }, ...crosses),
    el('g', { class: 'joints' }, ...joints), labels.length ? el('g', { class: 'labels' }, ...labels) : '');
  if (showLegend) body.push(poseLegend(0, titleH + Hd, Wd, contourLevel, gt !== null));
  return svgDoc(Wd, titleH + Hd + legendH, body, { title: opts.title ?? 'pose prediction' });
}

function poseLegend(x0: number, y0: number, w: number, level: number | null, hasGt: boolean): string {
  const fs = 11;
  const parts: string[] = [el('rect', { x: x0, y: y0, width: w, height: 46, fill: '#ffffff' })];
  let x = x0 + 10;
  const y1 = y0 + 16, y2 = y0 + 35;
  parts.push(el('circle', { cx: x + 5, cy: y1 - 4, r: 3.6, fill: SIDE_COLORS.left, stroke: '#fff' }));
  parts.push(el('circle', { cx: x + 14, cy: y1 - 4, r: 3.6, fill: SIDE_COLORS.right, stroke: '#fff' }));
  parts.push(text(x + 24, y1, 'prediction μ̂ (left / right)', { 'font-size': fs, fill: '#222' }));
  x += 24 + textWidth('prediction μ̂ (left / right)', fs) + 16;
  if (hasGt) {
    const d = `M${n2(x + 1)} ${n2(y1 - 8)}L${n2(x + 9)} ${n2(y1)}M${n2(x + 1)} ${n2(y1)}L${n2(x + 9)} ${n2(y1 - 8)}`;
    parts.push(el('path', { d, stroke: '#d6336c', 'stroke-width': 2 }));
    parts.push(text(x + 15, y1, 'ground truth', { 'font-size': fs, fill: '#222' }));
  }
  const label = level !== null
    ? `region with ${Math.round(level * 100)} % of the learned density`
    : 'ellipse with radii σ (no flow contours given)';
  parts.push(el('rect', { x: x0 + 10, y: y2 - 9, width: 18, height: 10, fill: SIDE_COLORS.left, 'fill-opacity': 0.16, stroke: SIDE_COLORS.left, 'stroke-width': 1.2 }));
  parts.push(text(x0 + 34, y2, label, { 'font-size': fs, fill: '#222' }));
  return el('g', { class: 'legend' }, ...parts);
}

/** One cell of a sheet: an SVG document and an optional caption under it. */
export interface SheetItem {
  svg: string;
  caption?: string;
}

/**
 * Composes several SVG documents (e.g. svgPosePrediction results) into one sheet: a grid of `columns`
 * cells of width `cellWidth` (heights follow each picture's aspect ratio), each with its caption, and
 * an optional title. ids inside each cell are prefixed so that they cannot collide.
 */
export function svgGrid(items: SheetItem[], opts: { columns?: number; cellWidth?: number; gap?: number; title?: string } = {}): string {
  const op = 'svgGrid';
  if (!Array.isArray(items) || items.length === 0) throw new RangeError(`${op}: items must be a non-empty array of {svg, caption}`);
  const cols = opts.columns ?? Math.min(3, items.length);
  const cw = opts.cellWidth ?? 320;
  const gap = opts.gap ?? 16;
  if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`${op}: columns must be a positive integer, got ${cols}`);
  const parsed = items.map((it, i) => {
    if (!it || typeof it.svg !== 'string') throw new TypeError(`${op}: items[${i}].svg must be an SVG string`);
    return parseRoot(op, i, it.svg);
  });
  const cellH = parsed.map((p) => cw * (p.vb[3] / p.vb[2]));
  const capH = items.some((it) => it.caption) ? 40 : 0;
  const titleH = opts.title ? 36 : 0;
  const rows = Math.ceil(items.length / cols);
  const rowH = Array.from({ length: rows }, (_, r) => Math.max(...cellH.slice(r * cols, r * cols + cols)) + capH);
  const W = cols * cw + (cols + 1) * gap;
  const H = titleH + rowH.reduce((a, b) => a + b + gap, gap);
  const body: string[] = [];
  if (opts.title) body.push(text(gap, 24, opts.title, { 'font-size': 17, 'font-weight': 'bold', fill: '#222' }));
  let y = titleH + gap;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (i >= items.length) break;
      const x = gap + c * (cw + gap);
      const p = parsed[i];
      const inner = prefixIds(p.body, `c${i}-`);
      body.push(`<svg x="${n2(x)}" y="${n2(y)}" width="${n2(cw)}" height="${n2(cellH[i])}" viewBox="${p.vb.map(n2).join(' ')}" preserveAspectRatio="xMidYMid meet">${inner}</svg>`);
      if (items[i].caption) body.push(wrapCaption(items[i].caption as string, x, y + cellH[i] + 16, cw));
    }
    y += rowH[r] + gap;
  }
  return svgDoc(W, H, body, { title: opts.title ?? 'sheet' });
}

function wrapCaption(caption: string, x: number, y: number, w: number): string {
  const fs = 12;
  const words = caption.split(/\s+/);
  const lines: string[] = [];
  let cur = '';
  for (const wd of words) {
    const t = cur ? `${cur} ${wd}` : wd;
    if (textWidth(t, fs) > w && cur) { lines.push(cur); cur = wd; } else cur = t;
  }
  if (cur) lines.push(cur);
  return lines.slice(0, 2).map((l, i) => text(x + w / 2, y + i * (fs + 3), i === 1 && lines.length > 2 ? l + ' …' : l,
    { 'font-size': fs, 'text-anchor': 'middle', fill: '#333', 'font-family': FONT })).join('');
}

function parseRoot(op: string, i: number, svg: string): { vb: [number, number, number, number]; body: string } {
  const start = svg.indexOf('<svg');
  const end = svg.lastIndexOf('</svg>');
  if (start < 0 || end < 0) throw new RangeError(`${op}: items[${i}].svg is not an SVG document (no <svg> root)`);
  const close = svg.indexOf('>', start);
  const tag = svg.slice(start, close + 1);
  const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
  let vb: number[] | null = null;
  const v = attr('viewBox');
  if (v) vb = v.trim().split(/[\s,]+/).map(Number);
  else {
    const w = parseFloat(attr('width') ?? ''), h = parseFloat(attr('height') ?? '');
    if (w > 0 && h > 0) vb = [0, 0, w, h];
  }
  if (!vb || vb.length !== 4 || vb.some((x) => !Number.isFinite(x)) || !(vb[2] > 0 && vb[3] > 0)) {
    throw new RangeError(`${op}: items[${i}].svg needs a viewBox or width and height on its root`);
  }
  return { vb: vb as [number, number, number, number], body: svg.slice(close + 1, end) };
}

function prefixIds(body: string, prefix: string): string {
  return body
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`)
    .replace(/(\s(?:xlink:)?href)="#([^"]+)"/g, (_, a: string, id: string) => `${a}="#${prefix}${id}"`);
}
