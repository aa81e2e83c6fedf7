// SPDX-License-Identifier: MIT
// Line charts (loss curves, calibration diagram) and a bar table (metrics of several models side by side).
import type { CalibrationReport } from '../eval/metrics.js';
import { axes, el, fmtTick, fmtValue, legend, makeScale, n2, pathData, svgDoc, text, textWidth, PALETTE, type Scale } from './svg.js';

export interface Series {
  name: string;
  /** [x, y] pairs, e.g. [step, loss]. Non-finite y values break the line. */
  points: [number, number][];
  color?: string;
  dash?: string;
  /** Draw a dot at each point. */
  markers?: boolean;
}

export interface LineChartOptions {
  title?: string;
  subtitle?: string;
  xLabel?: string;
  yLabel?: string;
  logY?: boolean;
  logX?: boolean;
  width?: number;
  height?: number;
  /** Exponential moving average weight in [0, 1) drawn over the raw curve (raw shown faint). E.g. 0.9. */
  smooth?: number;
  xRange?: [number, number];
  yRange?: [number, number];
  /** Extra reference lines: y = x ('diagonal') or horizontal values. */
  diagonal?: { label: string } | null;
}

const MAX_POINTS = 1500;

function validateSeries(op: string, series: Series[], logX: boolean, logY: boolean): void {
  if (!Array.isArray(series) || series.length === 0) throw new RangeError(`${op}: series must be a non-empty array of {name, points}`);
  series.forEach((s, i) => {
    if (!s || typeof s.name !== 'string') throw new TypeError(`${op}: series[${i}].name must be a string`);
    if (!Array.isArray(s.points)) throw new TypeError(`${op}: series '${s.name}'.points must be an array of [x, y] pairs`);
    s.points.forEach((p, j) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number') {
        throw new TypeError(`${op}: series '${s.name}' point ${j} must be [x, y] numbers, got ${JSON.stringify(p)}`);
      }
      if (!Number.isFinite(p[0])) throw new RangeError(`${op}: series '${s.name}' has a non-finite x (${p[0]}) at point ${j}`);
      if (logX && !(p[0] > 0)) throw new RangeError(`${op}: logX needs positive x values; series '${s.name}' has ${p[0]} at point ${j}`);
      if (logY && Number.isFinite(p[1]) && !(p[1] > 0)) throw new RangeError(`${op}: logY needs positive y values; series '${s.name}' has ${p[1]} at x = ${p[0]}`);
    });
  });
}

function ema(points: [number, number][], w: number): [number, number][] {
  let m = NaN;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    m = Number.isNaN(m) ? y : w * m + (1 - w) * y; // the first value seeds the average
    return [x, m];
  });
}

function decimate(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS) return points;
  const stride = points.length / MAX_POINTS;
  const out: [number, number][] = [];
  for (let i = 0; i < MAX_POINTS; i++) out.push(points[Math.floor(i * stride)]);
  out.push(points[points.length - 1]);
  return out;
}

/** Polyline path data with gaps at non-finite y. */
function gappedPath(points: [number, number][], sx: Scale, sy: Scale): string {
  let d = '';
  let pen = false;
  for (const [x, y] of points) {
    if (!Number.isFinite(y)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${n2(sx(x))} ${n2(sy(y))}`;
    pen = true;
  }
  return d;
}

function lineChart(op: string, series: Series[], opts: LineChartOptions): string {
  const logY = opts.logY ?? false, logX = opts.logX ?? false;
  validateSeries(op, series, logX, logY);
  const smooth = opts.smooth;
  if (smooth !== undefined && !(smooth >= 0 && smooth < 1)) throw new RangeError(`${op}: smooth must be in [0, 1), got ${smooth}`);
  const W = opts.width ?? 760, H = opts.height ?? 440;
  const titleH = opts.title ? (opts.subtitle ? 52 : 36) : 12;
  const box = { x0: 84, x1: W - 32, y0: titleH + 8, y1: H - 58 };
  let xs: number[] = [], ys: number[] = [];
  for (const s of series) for (const [x, y] of s.points) { xs.push(x); if (Number.isFinite(y)) ys.push(y); }
  if (ys.length === 0) { ys = [logY ? 1 : 0]; }
  if (xs.length === 0) xs = [logX ? 1 : 0];
  const xr = opts.xRange ?? [Math.min(...xs), Math.max(...xs)];
  let yr = opts.yRange;
  if (!yr) {
    const lo = Math.min(...ys), hi = Math.max(...ys);
    yr = logY ? [lo, hi] : [lo - 0.04 * (hi - lo || 1), hi + 0.04 * (hi - lo || 1)];
  }
  const sx = makeScale(xr[0], xr[1], box.x0, box.x1, { log: logX, nice: opts.xRange === undefined, count: 6 });
  const sy = makeScale(yr[0], yr[1], box.y1, box.y0, { log: logY, nice: opts.yRange === undefined, count: 5 });
  const body: string[] = [];
  if (opts.title) body.push(text(box.x0, 24, opts.title, { 'font-size': 16, 'font-weight': 'bold', fill: '#222' }));
  if (opts.subtitle) body.push(text(box.x0, 42, opts.subtitle, { 'font-size': 12, fill: '#555' }));
  body.push(axes(sx, sy, box, { x: opts.xLabel, y: opts.yLabel }));
  body.push(el('clipPath', { id: 'plot-area' }, el('rect', { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0 })));
  const lines: string[] = [];
  const entries: Parameters<typeof legend>[2] = [];
  if (opts.diagonal) {
    const lo = Math.max(sx.domain[0], sy.domain[0]), hi = Math.min(sx.domain[1], sy.domain[1]);
    lines.push(el('line', { class: 'reference', x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi), stroke: '#777', 'stroke-width': 1.5, 'stroke-dasharray': '5 4' }));
    entries.push({ label: opts.diagonal.label, color: '#777', dash: '5 4', width: 1.5 });
  }
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (smooth !== undefined && smooth > 0) {
      lines.push(el('path', { class: 'series-raw', d: gappedPath(decimate(pts), sx, sy), fill: 'none', stroke: color, 'stroke-width': 1, 'stroke-opacity': 0.25 }));
      lines.push(el('path', { class: 'series', 'data-name': s.name, d: gappedPath(decimate(ema(pts, smooth)), sx, sy), fill: 'none', stroke: color, 'stroke-width': 2.2, 'stroke-dasharray': s.dash, 'stroke-linejoin': 'round' }));
    } else {
      lines.push(el('path', { class: 'series', 'data-name': s.name, d: gappedPath(decimate(pts), sx, sy), fill: 'none', stroke: color, 'stroke-width': 2.2, 'stroke-dasharray': s.dash, 'stroke-linejoin': 'round' }));
    }
    if (s.markers) for (const [x, y] of pts) if (Number.isFinite(y)) lines.push(el('circle', { cx: sx(x), cy: sy(y), r: 3.5, fill: color, stroke: '#fff', 'stroke-width': 1 }));
    entries.push({ label: s.name, color, dash: s.dash, marker: s.markers });
  });
  body.push(el('g', { 'clip-path': 'url(#plot-area)' }, ...lines));
  // Legend in the corner with the fewest data points under it.
  const probe = legend(0, 0, entries, { fontSize: 12 });
  const corners = [
    [box.x1 - 10 - probe.width, box.y0 + 10], [box.x0 + 10, box.y0 + 10],
    [box.x1 - 10 - probe.width, box.y1 - 10 - probe.height], [box.x0 + 10, box.y1 - 10 - probe.height],
  ];
  let best = corners[0], bestCount = Infinity;
  for (const [cx, cy] of corners) {
    let c = 0;
    for (const s of series) {
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y)) continue;
        const px = sx(x), py = sy(y);
        if (px >= cx - 4 && px <= cx + probe.width + 4 && py >= cy - 4 && py <= cy + probe.height + 4) c++;
      }
    }
    if (opts.diagonal) {
      // The diagonal runs corner to corner: count it as points too.
      for (let t = 0; t <= 1; t += 0.02) {
        const v = sx.domain[0] + t * (sx.domain[1] - sx.domain[0]);
        const px = sx(v), py = sy(v);
        if (px >= cx && px <= cx + probe.width && py >= cy && py <= cy + probe.height) c++;
      }
    }
    if (c < bestCount) { bestCount = c; best = [cx, cy]; }
  }
  body.push(legend(best[0], best[1], entries, { fontSize: 12 }).svg);
  return svgDoc(W, H, body, { title: opts.title ?? 'chart' });
}

/**
 * Loss curves: one line per series against step, with axes, ticks, grid and a legend placed where it
 * covers the fewest points. `logY` for a log10 y axis (positive values only), `smooth` for an EMA over
 * a faint raw curve. Long series are decimated to ~1500 points.
 */
export function svgLossCurves(series: Series[], opts: LineChartOptions = {}): string {
  return lineChart('svgLossCurves', series, { xLabel: 'step', yLabel: 'loss', title: 'Training loss', ...opts });
}

/**
 * The σ calibration of a report as a reliability diagram: observed coverage against the nominal level
 * p for the flow's own regions, the Laplace(μ̂, bσ) and the Gaussian(μ̂, σ) regions; the diagonal is
 * perfect calibration.
 */
export function svgCalibration(report: CalibrationReport, opts: LineChartOptions = {}): string {
  const r = report;
  if (!r || !Array.isArray(r.levels) || !r.flow) throw new TypeError('svgCalibration: expected a calibrationReport result');
  const lo = Math.min(0.4, ...r.levels.map((p) => p - 0.05)), hi = 1;
  const ser = (name: string, cov: number[], color: string, dash?: string): Series => ({ name, points: r.levels.map((p, i) => [p, cov[i]] as [number, number]), color, dash, markers: true });
  const lapName = r.laplaceScale === 1 ? 'Laplace(μ̂, σ) region' : `Laplace(μ̂, ${fmtTick(r.laplaceScale, 0.001)}σ) region`;
  return lineChart('svgCalibration', [
    ser('learned flow region (μ̂ − σ ⊙ flow)', r.flow.coverage, PALETTE[0]),
    ser(lapName, r.laplace.coverage, PALETTE[1], '7 4'),
    ser('Gaussian(μ̂, σ) region', r.gaussian.coverage, PALETTE[2], '2 3'),
  ], {
    title: 'σ calibration (reliability diagram)',
    subtitle: `${r.count} visible joints · mean |error| / mean σ = ${fmtValue(r.errorToSigma)} · flow regions from ${r.samples} samples`,
    xLabel: 'nominal mass p of the region',
    yLabel: 'ground truths inside the region',
    xRange: [lo, hi], yRange: [lo, hi],
    diagonal: { label: 'ideal (coverage = p)' },
    width: 640, height: 520,
    ...opts,
  });
}

export interface BarTableRow {
  label: string;
  /** One value per column (NaN: not available). */
  values: number[];
  /** Marks the best value of the row (bold) in this direction. Default true. */
  higherIsBetter?: boolean;
  /** Unit appended to the label, e.g. 'px'. */
  unit?: string;
  /** Digits after the point. Default: 3 significant-ish (fmtValue). */
  digits?: number;
}

export interface BarTable {
  /** Column headings, e.g. model names ['RLE', 'L1']. */
  columns: string[];
  rows: BarTableRow[];
}

/**
 * A metrics table with a bar behind each number (bars scaled per row, since metrics differ in scale):
 * e.g. RLE vs L1 on AP, AP50, PCK@0.05, EPE. The best value of each row is bold, with ▲ / ▼ telling
 * whether higher or lower is better.
 */
export function svgBarTable(table: BarTable, opts: { title?: string; note?: string; colors?: string[]; cellWidth?: number } = {}): string {
  const op = 'svgBarTable';
  if (!table || !Array.isArray(table.columns) || table.columns.length === 0) throw new RangeError(`${op}: table.columns must be a non-empty array of names`);
  if (!Array.isArray(table.rows) || table.rows.length === 0) throw new RangeError(`${op}: table.rows must be a non-empty array`);
  const C = table.columns.length;
  table.rows.forEach((r, i) => {
    if (!r || typeof r.label !== 'string') throw new TypeError(`${op}: rows[${i}].label must be a string`);
    if (!Array.isArray(r.values) || r.values.length !== C) throw new RangeError(`${op}: rows[${i}] ('${r.label}') must have ${C} values (one per column), got ${Array.isArray(r.values) ? r.values.length : typeof r.values}`);
  });
  const colors = opts.colors ?? PALETTE;
  const fs = 13;
  const labelOf = (r: BarTableRow) => `${(r.higherIsBetter ?? true) ? '▲' : '▼'} ${r.label}${r.unit ? ` (${r.unit})` : ''}`;
  const labelW = Math.max(120, ...table.rows.map((r) => textWidth(labelOf(r), fs))) + 28;
  const cw = opts.cellWidth ?? Math.max(170, ...table.columns.map((c) => textWidth(c, fs + 1) + 24));
  const rowH = 34;
  const titleH = opts.title ? 40 : 10;
  const headH = 30;
  const note = opts.note ?? 'bars are scaled per row · ▲ higher is better, ▼ lower is better · best value in bold';
  const W = Math.max(labelW + C * cw + 20, opts.title ? textWidth(opts.title, 16) * 1.06 + 40 : 0, textWidth(note, 11) + 36);
  const noteH = 34;
  const H = titleH + headH + table.rows.length * rowH + noteH;
  const body: string[] = [];
  if (opts.title) body.push(text(16, 26, opts.title, { 'font-size': 16, 'font-weight': 'bold', fill: '#222' }));
  table.columns.forEach((c, j) => {
    const x = labelW + j * cw;
    body.push(el('rect', { x: x + 8, y: titleH + 8, width: 12, height: 12, fill: colors[j % colors.length] }));
    body.push(text(x + 26, titleH + 19, c, { 'font-size': fs + 1, 'font-weight': 'bold', fill: '#222' }));
  });
  table.rows.forEach((r, i) => {
    const y = titleH + headH + i * rowH;
    if (i % 2 === 0) body.push(el('rect', { x: 8, y, width: W - 16, height: rowH, fill: '#f5f6f8' }));
    body.push(text(16, y + rowH / 2 + fs * 0.35, labelOf(r), { 'font-size': fs, fill: '#222' }));
    const finite = r.values.filter(Number.isFinite);
    const maxAbs = Math.max(1e-300, ...finite.map(Math.abs));
    const hib = r.higherIsBetter ?? true;
    const bestV = finite.length ? (hib ? Math.max(...finite) : Math.min(...finite)) : NaN;
    r.values.forEach((v, j) => {
      const x = labelW + j * cw;
      const barMax = cw - 80;
      const isBest = finite.length > 1 && v === bestV;
      if (Number.isFinite(v)) {
        body.push(el('rect', { class: 'bar', x: x + 8, y: y + 8, width: Math.max(1, (Math.abs(v) / maxAbs) * barMax), height: rowH - 16, rx: 2, fill: colors[j % colors.length], 'fill-opacity': isBest ? 0.85 : 0.45 }));
      }
      const label = Number.isFinite(v) ? (r.digits !== undefined ? v.toFixed(r.digits) : fmtValue(v)) : '—';
      body.push(text(x + 8 + barMax + 6, y + rowH / 2 + fs * 0.35, label, { 'font-size': fs, fill: '#111', 'font-weight': isBest ? 'bold' : undefined }));
    });
  });
  body.push(text(16, H - 12, note, { 'font-size': 11, fill: '#666' }));
  return svgDoc(W, H, body, { title: opts.title ?? 'metrics' });
}
