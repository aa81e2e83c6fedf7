// SPDX-License-Identifier: MIT
// Small SVG building blocks shared by the report pictures: escaping, elements, number formatting,
// ticks, colours. Runtime-agnostic (no Node or DOM APIs).

/** Escapes text and attribute values for XML. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c] as string));
}

export type Attrs = Record<string, string | number | undefined | null | false>;

/** Rounds coordinates so that the SVG stays compact (0.01 px is far below what anyone sees). */
export function n2(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

function attrs(a: Attrs): string {
  let s = '';
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined || v === null || v === false) continue;
    s += ` ${k}="${escapeXml(typeof v === 'number' ? n2(v) : v)}"`;
  }
  return s;
}

/** An element; `children` are already-serialised strings (use `text()` for text content). */
export function el(tag: string, a: Attrs = {}, ...children: (string | false | null | undefined)[]): string {
  const kids = children.filter((c): c is string => typeof c === 'string' && c.length > 0);
  return kids.length === 0 ? `<${tag}${attrs(a)}/>` : `<${tag}${attrs(a)}>${kids.join('')}</${tag}>`;
}

/** A <text> element with escaped content. */
export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return `<text${attrs({ x, y, ...a })}>${escapeXml(content)}</text>`;
}

export const FONT = "'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif";

/** The root element with the namespaces and a white (or given) background. */
export function svgDoc(width: number, height: number, body: string[], opts: { background?: string | null; title?: string } = {}): string {
  const bg = opts.background === undefined ? '#ffffff' : opts.background;
  return '<?xml version="1.0" encoding="UTF-8"?>\n' + el('svg', {
    xmlns: 'http://www.w3.org/2000/svg',
    'xmlns:xlink': 'http://www.w3.org/1999/xlink',
    width, height, viewBox: `0 0 ${n2(width)} ${n2(height)}`,
    'font-family': FONT,
  },
  opts.title ? `<title>${escapeXml(opts.title)}</title>` : '',
  bg ? el('rect', { x: 0, y: 0, width, height, fill: bg }) : '',
  ...body) + '\n';
}

/**
 * Path data of a polyline ("M x y L x y ..."), closed with Z when asked. With `minStep` > 0, points closer
 * than that (in output units) to the last kept point are dropped (the last point is always kept).
 */
export function pathData(points: ArrayLike<readonly [number, number]> | [number, number][], close = false, minStep = 0): string {
  let pts = Array.from(points as ArrayLike<readonly [number, number]>);
  if (pts.length === 0) return '';
  if (minStep > 0 && pts.length > 2) {
    const kept = [pts[0]];
    for (let i = 1; i < pts.length - 1; i++) {
      const [lx, ly] = kept[kept.length - 1];
      if (Math.hypot(pts[i][0] - lx, pts[i][1] - ly) >= minStep) kept.push(pts[i]);
    }
    kept.push(pts[pts.length - 1]);
    pts = kept;
  }
  return pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n2(x)} ${n2(y)}`).join('') + (close ? 'Z' : '');
}

/** Approximate rendered width of a string (sans-serif averages ~0.58 em per character). */
export function textWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.58;
}

// ---------------------------------------------------------------------------------------------------
// Ticks and number formatting

/** "Nice" tick values (1, 2, 2.5, 5 × 10^k steps) covering [lo, hi] with about `count` intervals. */
export function niceTicks(lo: number, hi: number, count = 5): { ticks: number[]; step: number; lo: number; hi: number } {
  if (!(hi > lo)) { const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= d; hi += d; }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  const start = Math.floor(lo / step + 1e-9) * step, end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= end + step * 1e-6; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { ticks, step, lo: start, hi: end };
}

/** A tick label: as few digits as the step needs; exponent form for very large or small values. */
export function fmtTick(v: number, step?: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const s = v.toExponential(step !== undefined ? Math.max(0, Math.min(3, Math.round(Math.log10(a) - Math.log10(step)))) : 1);
    return s.replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  let dec = 0;
  if (step !== undefined) {
    dec = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    if (Math.abs(step / Math.pow(10, -dec) - Math.round(step / Math.pow(10, -dec))) > 1e-6) dec++;
  } else dec = a >= 100 ? 0 : a >= 1 ? 2 : 3;
  return v.toFixed(Math.min(dec, 6));
}

/** A value for a table cell: 3–4 significant digits, no float noise. */
export function fmtValue(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '—' : v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  if (a >= 1000) return v.toFixed(0);
  return v.toFixed(a >= 100 ? 1 : a >= 10 ? Math.max(1, digits - 2) : digits);
}

// ---------------------------------------------------------------------------------------------------
// Colours

/** Tableau-10: distinguishable categorical colours. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const VIRIDIS = ['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'];

function hexRgb(h: string): [number, number, number] {
  const v = parseInt(h.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
const VIRIDIS_RGB = VIRIDIS.map(hexRgb);

/** Viridis colour map (perceptually uniform, colour-blind friendly) for t in [0, 1], as RGB bytes. */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS_RGB.length - 1);
  const i = Math.min(VIRIDIS_RGB.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS_RGB[i], b = VIRIDIS_RGB[i + 1];
  return [Math.round(a[0] + f * (b[0] - a[0])), Math.round(a[1] + f * (b[1] - a[1])), Math.round(a[2] + f * (b[2] - a[2]))];
}

export function rgbHex([r, g, b]: readonly [number, number, number]): string {
  return '#' + [r, g, b].map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, '0')).join('');
}

/** A <linearGradient> body (stops) of the viridis map, bottom (0) to top (1) when used vertically. */
export function viridisStops(): string {
  return VIRIDIS.map((c, i) => el('stop', { offset: `${((i / (VIRIDIS.length - 1)) * 100).toFixed(1)}%`, 'stop-color': c })).join('');
}

// ---------------------------------------------------------------------------------------------------
// Axes for a rectangular plot area

export interface Scale {
  (v: number): number;
  ticks: number[];
  step: number;
  domain: [number, number];
  log: boolean;
}

/** A linear (or log10) map from [d0, d1] onto [r0, r1], with nice ticks; the domain is widened to them when `nice`. */
export function makeScale(d0: number, d1: number, r0: number, r1: number, opts: { log?: boolean; nice?: boolean; count?: number } = {}): Scale {
  const log = opts.log ?? false;
  let lo = log ? Math.log10(d0) : d0, hi = log ? Math.log10(d1) : d1;
  let ticks: number[], step: number;
  if (log) {
    if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
    lo = Math.floor(lo + 1e-9); hi = Math.ceil(hi - 1e-9);
    const decades = hi - lo;
    const per = decades <= 1 ? [1, 2, 5] : decades <= 3 ? [1, 3] : [1];
    const stride = Math.max(1, Math.ceil(decades / 8));
    ticks = [];
    for (let e = lo; e <= hi; e += stride) for (const m of per) { const v = m * Math.pow(10, e); if (Math.log10(v) <= hi + 1e-9) ticks.push(v); }
    step = 1;
  } else {
    const t = niceTicks(lo, hi, opts.count ?? 5);
    if (opts.nice ?? true) { lo = t.lo; hi = t.hi; }
    ticks = t.ticks.filter((v) => v >= lo - 1e-9 * Math.abs(t.step) && v <= hi + 1e-9 * Math.abs(t.step));
    step = t.step;
  }
  const f = ((v: number) => {
    const x = log ? Math.log10(v) : v;
    return r0 + ((x - lo) / (hi - lo)) * (r1 - r0);
  }) as Scale;
  f.ticks = ticks; f.step = step; f.domain = log ? [Math.pow(10, lo), Math.pow(10, hi)] : [lo, hi]; f.log = log;
  return f;
}

/** Axis lines, ticks, tick labels, grid lines and axis titles around the plot rectangle [x0, x1] × [y0, y1] (y0 top). */
export function axes(x: Scale, y: Scale, box: { x0: number; x1: number; y0: number; y1: number },
  labels: { x?: string; y?: string } = {}, opts: { grid?: boolean; fontSize?: number } = {}): string {
  const fs = opts.fontSize ?? 12;
  const parts: string[] = [];
  const grid = opts.grid ?? true;
  for (const t of x.ticks) {
    const px = x(t);
    if (grid) parts.push(el('line', { x1: px, x2: px, y1: box.y0, y2: box.y1, stroke: '#e6e6e6', 'stroke-width': 1 }));
    parts.push(el('line', { x1: px, x2: px, y1: box.y1, y2: box.y1 + 5, stroke: '#444' }));
    parts.push(text(px, box.y1 + 6 + fs, x.log ? fmtLog(t) : fmtTick(t, x.step), { 'font-size': fs, 'text-anchor': 'middle', fill: '#333' }));
  }
  for (const t of y.ticks) {
    const py = y(t);
    if (grid) parts.push(el('line', { x1: box.x0, x2: box.x1, y1: py, y2: py, stroke: '#e6e6e6', 'stroke-width': 1 }));
    parts.push(el('line', { x1: box.x0 - 5, x2: box.x0, y1: py, y2: py, stroke: '#444' }));
    parts.push(text(box.x0 - 8, py + fs * 0.35, y.log ? fmtLog(t) : fmtTick(t, y.step), { 'font-size': fs, 'text-anchor': 'end', fill: '#333' }));
  }
  parts.push(el('rect', { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0, fill: 'none', stroke: '#444', 'stroke-width': 1 }));
  if (labels.x) parts.push(text((box.x0 + box.x1) / 2, box.y1 + 2 * fs + 14, labels.x, { 'font-size': fs + 1, 'text-anchor': 'middle', fill: '#222' }));
  if (labels.y) {
    const widest = Math.max(0, ...y.ticks.map((t) => textWidth(y.log ? fmtLog(t) : fmtTick(t, y.step), fs)));
    const lx = box.x0 - widest - 20, ly = (box.y0 + box.y1) / 2;
    parts.push(text(lx, ly, labels.y, { 'font-size': fs + 1, 'text-anchor': 'middle', fill: '#222', transform: `rotate(-90 ${n2(lx)} ${n2(ly)})` }));
  }
  return el('g', { class: 'axes' }, ...parts);
}

function fmtLog(v: number): string {
  const e = Math.round(Math.log10(v));
  const m = v / Math.pow(10, e);
  if (e >= -3 && e <= 4) return fmtTick(v, Math.pow(10, Math.min(0, e)));
  return Math.abs(m - 1) < 1e-9 ? `1e${e}` : `${Math.round(m)}e${e}`;
}

/** A legend box: entries drawn as short line samples (dashed/marker optional) with labels. */
export function legend(x: number, y: number, entries: { label: string; color: string; dash?: string; marker?: boolean; width?: number; swatch?: 'line' | 'box' }[],
  opts: { fontSize?: number; anchor?: 'left' | 'right' } = {}): { svg: string; width: number; height: number } {
  const fs = opts.fontSize ?? 12;
  const lh = fs + 7;
  const w = 44 + Math.max(...entries.map((e) => textWidth(e.label, fs))) + 10;
  const h = entries.length * lh + 8;
  const left = opts.anchor === 'right' ? x - w : x;
  const parts: string[] = [el('rect', { x: left, y, width: w, height: h, rx: 4, fill: '#ffffff', 'fill-opacity': 0.9, stroke: '#bbbbbb' })];
  entries.forEach((e, i) => {
    const cy = y + 4 + lh * i + lh / 2;
    if (e.swatch === 'box') {
      parts.push(el('rect', { x: left + 10, y: cy - 6, width: 24, height: 12, fill: e.color, 'fill-opacity': 0.35, stroke: e.color, 'stroke-width': 1.5, 'stroke-dasharray': e.dash }));
    } else {
      parts.push(el('line', { x1: left + 8, x2: left + 36, y1: cy, y2: cy, stroke: e.color, 'stroke-width': e.width ?? 2.5, 'stroke-dasharray': e.dash }));
      if (e.marker) parts.push(el('circle', { cx: left + 22, cy, r: 3.5, fill: e.color }));
    }
    parts.push(text(left + 44, cy + fs * 0.35, e.label, { 'font-size': fs, fill: '#222' }));
  });
  return { svg: el('g', { class: 'legend' }, ...parts), width: w, height: h };
}
