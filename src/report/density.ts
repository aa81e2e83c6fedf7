// SPDX-License-Identifier: MIT
// The learned residual density of a 2-D flow beside the Laplace Q density, as heat maps with their
// central-region contours, and the 1-D marginals as curves.
import type { RealNVP } from '../flow/realnvp.js';
import { densityContours, laplaceRegionRadius } from '../eval/metrics.js';
import { axes, el, fmtTick, legend, makeScale, pathData, svgDoc, text, textWidth, viridis, viridisStops, PALETTE } from './svg.js';
import { pngDataUrl, type PngEncoder } from './png.js';

const LEVEL_DASH = [undefined, '7 4', '2 3', '10 3 2 3'];

export interface DensityComparisonOptions {
  /** Grid nodes per axis. Default 161. */
  gridSize?: number;
  /** Half-width of the square box in normalised residual units; default from the flow's samples (≥ 3). */
  extent?: number;
  /** Laplace scale b in units of σ. Default 1 (Laplace(0, 1): MMPose's Q); √2 for the official code's Q. */
  laplaceScale?: number;
  /** Central-region levels drawn as contours. Default [0.5, 0.8, 0.95]. */
  levels?: number[];
  samples?: number;
  seed?: number;
  title?: string;
  encodePng?: PngEncoder;
}

/**
 * The flow's density φ(x̄) of normalised residuals x̄ = (μ̂ − μ)/σ as a heat map beside the Laplace Q
 * density (same box, same colour scale), each with the contours of its central 50 / 80 / 95 % regions;
 * below, the marginals of x̄₁ and x̄₂: the flow's (integrated over the grid), Laplace's and, for
 * reference, N(0, 1).
 */
export function svgDensityComparison(flow: RealNVP, opts: DensityComparisonOptions = {}): string {
  const op = 'svgDensityComparison';
  if (!flow || typeof flow.logProb !== 'function') throw new TypeError(`${op}: flow must be a RealNVP`);
  if (flow.dim !== 2) throw new RangeError(`${op}: the flow must be 2-D, got dim ${flow.dim}`);
  const G = opts.gridSize ?? 161;
  const b = opts.laplaceScale ?? 1;
  if (!(b > 0) || !Number.isFinite(b)) throw new RangeError(`${op}: laplaceScale must be finite and positive, got ${b}`);
  const levels = opts.levels ?? [0.5, 0.8, 0.95];
  let B = opts.extent;
  if (B === undefined) {
    // A square box that holds the largest flow region (densityContours' default box) and the Laplace
    // region of the same mass, ≥ 3.
    const pre = densityContours(flow, [Math.max(...levels)], 3, { samples: opts.samples ?? 20000, seed: opts.seed ?? 0, margin: 0.12 });
    const lapR = b * laplaceRegionRadius(Math.max(...levels), 2) * 1.12;
    B = Math.ceil(Math.max(3, lapR, ...pre.box.map(Math.abs)) * 2) / 2;
  }
  if (!(B > 0) || !Number.isFinite(B)) throw new RangeError(`${op}: extent must be finite and positive, got ${B}`);
  const dc = densityContours(flow, levels, G, { samples: opts.samples ?? 20000, seed: opts.seed ?? 0, box: [-B, B, -B, B] });
  const dx = (2 * B) / (G - 1);
  const flowD = Float64Array.from(dc.logProb, Math.exp);
  const lapD = new Float64Array(G * G);
  const node = (i: number) => -B + i * dx;
  for (let j = 0; j < G; j++) for (let i = 0; i < G; i++) lapD[j * G + i] = Math.exp(-(Math.abs(node(i)) + Math.abs(node(j))) / b) / (4 * b * b);
  let vmax = 0;
  for (let i = 0; i < G * G; i++) vmax = Math.max(vmax, flowD[i], lapD[i]);

  // Layout.
  const W = 940, S = 300;
  const titleH = 58;
  const pA = { x0: 80, y0: titleH + 34 }, pB = { x0: 80 + S + 110, y0: titleH + 34 };
  const cbX = pB.x0 + S + 34;
  const row2 = pA.y0 + S + 96;
  const mH = 190, mW = 330;
  const H = row2 + mH + 70;
  const body: string[] = [];
  body.push(text(20, 26, opts.title ?? 'Residual density: learned flow vs Laplace', { 'font-size': 18, 'font-weight': 'bold', fill: '#222' }));
  // Key of the contour line styles, then what the axes are.
  const keyLead = 'central (highest-density) regions:';
  body.push(text(20, 47, keyLead, { 'font-size': 12, fill: '#555' }));
  let kx = 20 + textWidth(keyLead, 12) * 1.1 + 10;
  levels.forEach((p, li) => {
    body.push(el('rect', { x: kx - 3, y: 35, width: 70, height: 16, rx: 3, fill: '#3b1c5a' }));
    body.push(el('line', { x1: kx, x2: kx + 26, y1: 43, y2: 43, stroke: '#ffffff', 'stroke-width': 1.8, 'stroke-dasharray': LEVEL_DASH[li % LEVEL_DASH.length] }));
    body.push(text(kx + 31, 47, `${Math.round(p * 100)} %`, { 'font-size': 12, fill: '#ffffff' }));
    kx += 78;
  });
  body.push(text(kx + 4, 47, '· x̄ = (μ̂ − μ)/σ per coordinate · one colour scale (√)', { 'font-size': 12, fill: '#555' }));

  const heat = (vals: Float64Array) => {
    const img = { width: G, height: G, data: new Uint8Array(G * G * 3) };
    for (let r = 0; r < G; r++) {
      const j = G - 1 - r; // image rows run downwards, x̄₂ upwards
      for (let i = 0; i < G; i++) {
        const [R, Gc, Bc] = viridis(Math.sqrt(vals[j * G + i] / vmax)); // √ scale: the tails stay visible
        const o = (r * G + i) * 3;
        img.data[o] = R; img.data[o + 1] = Gc; img.data[o + 2] = Bc;
      }
    }
    return pngDataUrl(img, opts.encodePng);
  };
  const panel = (p: { x0: number; y0: number }, title: string, vals: Float64Array, contours: { level: number; lines: [number, number][][] }[], cls: string) => {
    const sx = makeScale(-B, B, p.x0, p.x0 + S, { nice: false, count: 6 });
    const sy = makeScale(-B, B, p.y0 + S, p.y0, { nice: false, count: 6 });
    const half = dx / 2 * (S / (2 * B)); // nodes are pixel centres: extend the raster by half a cell
    const url = heat(vals);
    const parts: string[] = [
      text(p.x0 + S / 2, p.y0 - 10, title, { 'font-size': 13, 'font-weight': 'bold', 'text-anchor': 'middle', fill: '#222' }),
      el('image', { x: p.x0 - half, y: p.y0 - half, width: S + 2 * half, height: S + 2 * half, href: url, preserveAspectRatio: 'none', 'clip-path': `url(#clip-${cls})` }),
      el('clipPath', { id: `clip-${cls}` }, el('rect', { x: p.x0, y: p.y0, width: S, height: S })),
    ];
    const lines: string[] = [];
    contours.forEach((c, li) => {
      for (const l of c.lines) {
        lines.push(el('path', { class: `contour ${cls}`, d: pathData(l.map(([x, y]) => [sx(x), sy(y)] as [number, number]), true, 1), fill: 'none', stroke: '#ffffff', 'stroke-width': 1.6, 'stroke-opacity': 0.95, 'stroke-dasharray': LEVEL_DASH[li % LEVEL_DASH.length] }));
      }
    });
    parts.push(el('g', { 'clip-path': `url(#clip-${cls})` }, ...lines));
    parts.push(axes(sx, sy, { x0: p.x0, x1: p.x0 + S, y0: p.y0, y1: p.y0 + S }, { x: 'x̄₁', y: 'x̄₂' }, { grid: false, fontSize: 11 }));
    return el('g', { class: `panel ${cls}` }, ...parts);
  };
  const flowC = dc.contours.map((c) => ({ level: c.level, lines: c.lines.map((l) => l.points) }));
  const lapC = levels.map((p) => {
    const r = b * laplaceRegionRadius(p, 2);
    return { level: p, lines: [[[r, 0], [0, r], [-r, 0], [0, -r]] as [number, number][]] };
  });
  body.push(panel(pA, 'Learned flow φ(x̄)', flowD, flowC, 'flow'));
  const lapTitle = b === 1 ? 'Laplace Q(x̄) = ¼·exp(−|x̄₁| − |x̄₂|)' : `Laplace Q(x̄), scale b = ${fmtTick(b, 0.001)}`;
  body.push(panel(pB, lapTitle, lapD, lapC, 'laplace'));

  // Colour bar.
  const lin = makeScale(0, vmax, pB.y0 + S, pB.y0, { nice: false, count: 5 });
  const cs = Object.assign((v: number) => pB.y0 + S - Math.sqrt(Math.max(0, v) / vmax) * S, { ticks: [...new Set([0, lin.step / 4, lin.step / 2, ...lin.ticks])].sort((x, y) => x - y) });
  const cb: string[] = [
    el('defs', {}, el('linearGradient', { id: 'viridis-bar', x1: 0, y1: 1, x2: 0, y2: 0 }, viridisStops())),
    el('rect', { x: cbX, y: pB.y0, width: 16, height: S, fill: 'url(#viridis-bar)', stroke: '#444', 'stroke-width': 0.8 }),
    text(cbX + 8, pB.y0 - 10, 'density', { 'font-size': 11, 'text-anchor': 'middle', fill: '#333' }),
    text(cbX + 8, pB.y0 + S + 16, '(√ scale)', { 'font-size': 10, 'text-anchor': 'middle', fill: '#666' }),
  ];
  for (const t of cs.ticks) {
    if (t > vmax * 1.0001 || (t > 0 && cs(0) - cs(t) < 12)) continue;
    cb.push(el('line', { x1: cbX + 16, x2: cbX + 21, y1: cs(t), y2: cs(t), stroke: '#444' }));
    cb.push(text(cbX + 24, cs(t) + 4, String(Number(t.toPrecision(2))), { 'font-size': 11, fill: '#333' }));
  }
  body.push(el('g', { class: 'colorbar' }, ...cb));

  // Marginals.
  const margFlow = [new Float64Array(G), new Float64Array(G)];
  for (let j = 0; j < G; j++) for (let i = 0; i < G; i++) { margFlow[0][i] += flowD[j * G + i] * dx; margFlow[1][j] += flowD[j * G + i] * dx; }
  const lapM = (x: number) => Math.exp(-Math.abs(x) / b) / (2 * b);
  const gauM = (x: number) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  let mMax = 0;
  for (let i = 0; i < G; i++) mMax = Math.max(mMax, margFlow[0][i], margFlow[1][i], lapM(node(i)), gauM(node(i)));
  const marg = (x0: number, d: 0 | 1) => {
    const sx = makeScale(-B, B, x0, x0 + mW, { nice: false, count: 6 });
    const sy = makeScale(0, mMax * 1.08, row2 + mH, row2, { count: 4 });
    const curve = (f: (i: number) => number) => pathData(Array.from({ length: G }, (_, i) => [sx(node(i)), sy(f(i))] as [number, number]));
    const parts = [
      text(x0 + mW / 2, row2 - 10, `Marginal of x̄${d === 0 ? '₁' : '₂'}`, { 'font-size': 13, 'font-weight': 'bold', 'text-anchor': 'middle', fill: '#222' }),
      axes(sx, sy, { x0, x1: x0 + mW, y0: row2, y1: row2 + mH }, { x: d === 0 ? 'x̄₁' : 'x̄₂', y: 'density' }, { fontSize: 11 }),
      el('path', { class: 'marginal gaussian', d: curve((i) => gauM(node(i))), fill: 'none', stroke: '#888888', 'stroke-width': 1.5, 'stroke-dasharray': '2 3' }),
      el('path', { class: 'marginal laplace', d: curve((i) => lapM(node(i))), fill: 'none', stroke: PALETTE[1], 'stroke-width': 2, 'stroke-dasharray': '7 4' }),
      el('path', { class: 'marginal flow', d: curve((i) => margFlow[d][i]), fill: 'none', stroke: PALETTE[0], 'stroke-width': 2.5 }),
    ];
    return el('g', { class: 'marginal-plot' }, ...parts);
  };
  body.push(marg(80, 0), marg(80 + mW + 110, 1));
  const lg = legend(80 + 2 * mW + 110 - 8, row2 + 8, [
    { label: 'learned flow', color: PALETTE[0] },
    { label: b === 1 ? 'Laplace(0, 1)' : `Laplace(0, ${fmtTick(b, 0.001)})`, color: PALETTE[1], dash: '7 4', width: 2 },
    { label: 'N(0, 1)', color: '#888888', dash: '2 3', width: 1.5 },
  ], { fontSize: 11, anchor: 'right' });
  body.push(lg.svg);
  return svgDoc(W, H, body, { title: opts.title ?? 'residual density comparison' });
}
