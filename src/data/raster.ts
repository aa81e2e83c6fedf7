// SPDX-License-Identifier: MIT
/**
 * A small anti-aliased rasteriser for the synthetic benchmark: shapes given by signed distance (negative
 * inside, in pixels), drawn with coverage clamp(0.5 − d, 0, 1) over a float RGB canvas. Pixel centres are
 * at integer coordinates, like the keypoints. The same distance functions decide joint visibility, so a
 * test can check the labels against the shapes exactly.
 */

export type Shape =
  /** A segment a→b with radius ra at a and rb at b (tapered capsule). */
  | { kind: 'capsule'; ax: number; ay: number; bx: number; by: number; ra: number; rb: number }
  /** An ellipse with semi-axes rx, ry, rotated by angle (radians). */
  | { kind: 'ellipse'; cx: number; cy: number; rx: number; ry: number; angle: number }
  /** A rectangle of half sizes hw, hh rotated by angle, corners rounded by `round`. */
  | { kind: 'rect'; cx: number; cy: number; hw: number; hh: number; angle: number; round: number }
  /** A convex polygon with positive shoelace area (clockwise on screen, y down; convexShape builds one) inflated by `round`. */
  | { kind: 'poly'; pts: number[]; round: number };

export type RGB = [number, number, number];

/** Signed distance from (x, y) to the shape's boundary; < 0 inside. (An approximation off the boundary.) */
export function shapeSignedDistance(s: Shape, x: number, y: number): number {
  switch (s.kind) {
    case 'capsule': {
      const dx = s.bx - s.ax, dy = s.by - s.ay;
      const px = x - s.ax, py = y - s.ay;
      const l2 = dx * dx + dy * dy;
      let t = l2 > 0 ? (px * dx + py * dy) / l2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const qx = px - t * dx, qy = py - t * dy;
      return Math.sqrt(qx * qx + qy * qy) - (s.ra + t * (s.rb - s.ra));
    }
    case 'ellipse': {
      const c = Math.cos(s.angle), sn = Math.sin(s.angle);
      const px = x - s.cx, py = y - s.cy;
      const lx = c * px + sn * py, ly = -sn * px + c * py;
      const k0 = Math.hypot(lx / s.rx, ly / s.ry);
      const k1 = Math.hypot(lx / (s.rx * s.rx), ly / (s.ry * s.ry));
      if (k1 === 0) return -Math.min(s.rx, s.ry);
      return (k0 * (k0 - 1)) / k1;
    }
    case 'rect': {
      const c = Math.cos(s.angle), sn = Math.sin(s.angle);
      const px = x - s.cx, py = y - s.cy;
      const qx = Math.abs(c * px + sn * py) - (s.hw - s.round), qy = Math.abs(-sn * px + c * py) - (s.hh - s.round);
      const ox = Math.max(qx, 0), oy = Math.max(qy, 0);
      return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0) - s.round;
    }
    case 'poly': {
      const p = s.pts, n = p.length / 2;
      let d = -Infinity;
      for (let i = 0; i < n; i++) {
        const j = (i + 1) % n;
        const ex = p[2 * j] - p[2 * i], ey = p[2 * j + 1] - p[2 * i + 1];
        const len = Math.sqrt(ex * ex + ey * ey) || 1;
        // outward normal of a counter-clockwise (screen: y down) polygon
        const nx = ey / len, ny = -ex / len;
        const e = (x - p[2 * i]) * nx + (y - p[2 * i + 1]) * ny;
        if (e > d) d = e;
      }
      return d - s.round;
    }
  }
}

/**
 * shapeSignedDistance with the per-shape constants computed once (for drawing). Agrees with it to rounding;
 * labels are decided by shapeSignedDistance itself.
 */
export function preparedDistance(s: Shape): (x: number, y: number) => number {
  switch (s.kind) {
    case 'capsule': {
      const { ax, ay, ra } = s, dx = s.bx - ax, dy = s.by - ay, dr = s.rb - ra;
      const l2 = dx * dx + dy * dy, il2 = l2 > 0 ? 1 / l2 : 0;
      return (x, y) => {
        const px = x - ax, py = y - ay;
        let t = (px * dx + py * dy) * il2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const qx = px - t * dx, qy = py - t * dy;
        return Math.sqrt(qx * qx + qy * qy) - (ra + t * dr);
      };
    }
    case 'ellipse': {
      const c = Math.cos(s.angle), sn = Math.sin(s.angle), { cx, cy } = s;
      const irx = 1 / s.rx, iry = 1 / s.ry, irx2 = irx * irx, iry2 = iry * iry, m = Math.min(s.rx, s.ry);
      return (x, y) => {
        const px = x - cx, py = y - cy;
        const lx = c * px + sn * py, ly = -sn * px + c * py;
        const k0 = Math.sqrt(lx * lx * irx2 + ly * ly * iry2);
        const k1 = Math.sqrt(lx * lx * irx2 * irx2 + ly * ly * iry2 * iry2);
        return k1 === 0 ? -m : (k0 * (k0 - 1)) / k1;
      };
    }
    case 'rect': {
      const c = Math.cos(s.angle), sn = Math.sin(s.angle), { cx, cy, round } = s, hw = s.hw - round, hh = s.hh - round;
      return (x, y) => {
        const px = x - cx, py = y - cy;
        const qx = Math.abs(c * px + sn * py) - hw, qy = Math.abs(-sn * px + c * py) - hh;
        const ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
        const inner = qx > qy ? qx : qy;
        return Math.sqrt(ox * ox + oy * oy) + (inner < 0 ? inner : 0) - round;
      };
    }
    case 'poly': {
      const n = s.pts.length / 2, e = new Float64Array(n * 3);
      for (let i = 0; i < n; i++) {
        const j = (i + 1) % n;
        const ex = s.pts[2 * j] - s.pts[2 * i], ey = s.pts[2 * j + 1] - s.pts[2 * i + 1];
        const len = Math.sqrt(ex * ex + ey * ey) || 1;
        e[3 * i] = ey / len; e[3 * i + 1] = -ex / len; e[3 * i + 2] = -(s.pts[2 * i] * e[3 * i] + s.pts[2 * i + 1] * e[3 * i + 1]);
      }
      const round = s.round;
      return (x, y) => {
        let d = -Infinity;
        for (let i = 0; i < 3 * n; i += 3) { const v = x * e[i] + y * e[i + 1] + e[i + 2]; if (v > d) d = v; }
        return d - round;
      };
    }
  }
}

/** Axis-aligned bounds [x0, y0, x1, y1] of the shape. */
export function shapeBounds(s: Shape): [number, number, number, number] {
  switch (s.kind) {
    case 'capsule':
      return [Math.min(s.ax - s.ra, s.bx - s.rb), Math.min(s.ay - s.ra, s.by - s.rb), Math.max(s.ax + s.ra, s.bx + s.rb), Math.max(s.ay + s.ra, s.by + s.rb)];
    case 'ellipse': {
      const c = Math.cos(s.angle), sn = Math.sin(s.angle);
      const ex = Math.sqrt((s.rx * c) ** 2 + (s.ry * sn) ** 2), ey = Math.sqrt((s.rx * sn) ** 2 + (s.ry * c) ** 2);
      return [s.cx - ex, s.cy - ey, s.cx + ex, s.cy + ey];
    }
    case 'rect': {
      const c = Math.abs(Math.cos(s.angle)), sn = Math.abs(Math.sin(s.angle));
      const ex = s.hw * c + s.hh * sn, ey = s.hw * sn + s.hh * c;
      return [s.cx - ex, s.cy - ey, s.cx + ex, s.cy + ey];
    }
    case 'poly': {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (let i = 0; i < s.pts.length; i += 2) {
        x0 = Math.min(x0, s.pts[i]); x1 = Math.max(x1, s.pts[i]);
        y0 = Math.min(y0, s.pts[i + 1]); y1 = Math.max(y1, s.pts[i + 1]);
      }
      return [x0 - s.round, y0 - s.round, x1 + s.round, y1 + s.round];
    }
  }
}

/**
 * A convex shape around points: the polygon of their convex hull inflated by `round`, or a capsule when the
 * hull is (nearly) a segment.
 */
export function convexShape(pts: number[], round: number): Shape {
  const n = pts.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => pts[2 * a] - pts[2 * b] || pts[2 * a + 1] - pts[2 * b + 1]);
  const cross = (o: number, a: number, b: number) =>
    (pts[2 * a] - pts[2 * o]) * (pts[2 * b + 1] - pts[2 * o + 1]) - (pts[2 * a + 1] - pts[2 * o + 1]) * (pts[2 * b] - pts[2 * o]);
  const lower: number[] = [], upper: number[] = [];
  for (const i of idx) { while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], i) <= 0) lower.pop(); lower.push(i); }
  for (let k = idx.length - 1; k >= 0; k--) { const i = idx[k]; while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], i) <= 0) upper.pop(); upper.push(i); }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  let area = 0;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i], b = hull[(i + 1) % hull.length];
    area += pts[2 * a] * pts[2 * b + 1] - pts[2 * b] * pts[2 * a + 1];
  }
  let far = 0;
  for (let i = 1; i < n; i++) if (Math.hypot(pts[2 * i] - pts[0], pts[2 * i + 1] - pts[1]) > Math.hypot(pts[2 * far] - pts[0], pts[2 * far + 1] - pts[1])) far = i;
  if (hull.length < 3 || Math.abs(area) < 0.5) {
    // a segment between the two extreme points
    let a = 0, b = far, best = -1;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      const d = Math.hypot(pts[2 * i] - pts[2 * j], pts[2 * i + 1] - pts[2 * j + 1]);
      if (d > best) { best = d; a = i; b = j; }
    }
    return { kind: 'capsule', ax: pts[2 * a], ay: pts[2 * a + 1], bx: pts[2 * b], by: pts[2 * b + 1], ra: round, rb: round };
  }
  // The monotone chain gives a positive shoelace area, the order shapeSignedDistance's normals expect.
  const out: number[] = [];
  for (const i of hull) out.push(pts[2 * i], pts[2 * i + 1]);
  return { kind: 'poly', pts: out, round };
}

/** Colour of a pixel: solid, or a function of position (textures). */
export type Paint = RGB | ((x: number, y: number, out: Float32Array) => void);

export interface Canvas {
  width: number;
  height: number;
  /** RGB, 0..255 as float, HWC. */
  px: Float32Array;
}

export function createCanvas(width: number, height: number): Canvas {
  return { width, height, px: new Float32Array(width * height * 3) };
}

const tmp = new Float32Array(3);

/**
 * Draws a shape with anti-aliased edges (opacity `alpha`). When `stamp` is given, pixels covered ≥ 50% get
 * `tag` and the number of pixels newly tagged is returned (silhouette areas).
 */
export function drawShape(cv: Canvas, s: Shape, paint: Paint, alpha = 1, stamp?: Int32Array, tag = 0): number {
  const [bx0, by0, bx1, by1] = shapeBounds(s);
  const x0 = Math.max(0, Math.floor(bx0 - 1)), y0 = Math.max(0, Math.floor(by0 - 1));
  const x1 = Math.min(cv.width - 1, Math.ceil(bx1 + 1)), y1 = Math.min(cv.height - 1, Math.ceil(by1 + 1));
  const px = cv.px, W = cv.width;
  const solid = typeof paint === 'function' ? null : paint;
  const sd = preparedDistance(s);
  let added = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const d = sd(x, y);
      if (d >= 0.5) continue;
      const cov = d <= -0.5 ? 1 : 0.5 - d;
      const a = cov * alpha;
      const o = (y * W + x) * 3;
      let r: number, g: number, b: number;
      if (solid) { r = solid[0]; g = solid[1]; b = solid[2]; } else { (paint as (x: number, y: number, o: Float32Array) => void)(x, y, tmp); r = tmp[0]; g = tmp[1]; b = tmp[2]; }
      px[o] += (r - px[o]) * a; px[o + 1] += (g - px[o + 1]) * a; px[o + 2] += (b - px[o + 2]) * a;
      if (stamp && cov >= 0.5) { const i = y * W + x; if (stamp[i] !== tag) { stamp[i] = tag; added++; } }
    }
  }
  return added;
}

/** Separable 3-tap box blur [1, 1, 1]/3 (edges clamp), in place. */
export function boxBlur3(cv: Canvas): void {
  const { width: W, height: H, px } = cv;
  const tmpRow = new Float32Array(Math.max(W, H) * 3);
  for (let y = 0; y < H; y++) {
    const base = y * W * 3;
    for (let i = 0; i < W * 3; i++) tmpRow[i] = px[base + i];
    for (let x = 0; x < W; x++) {
      const l = Math.max(0, x - 1) * 3, r = Math.min(W - 1, x + 1) * 3, c = x * 3;
      for (let ch = 0; ch < 3; ch++) px[base + c + ch] = (tmpRow[l + ch] + tmpRow[c + ch] + tmpRow[r + ch]) / 3;
    }
  }
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) { const o = (y * W + x) * 3; tmpRow[y * 3] = px[o]; tmpRow[y * 3 + 1] = px[o + 1]; tmpRow[y * 3 + 2] = px[o + 2]; }
    for (let y = 0; y < H; y++) {
      const u = Math.max(0, y - 1) * 3, d = Math.min(H - 1, y + 1) * 3, c = y * 3, o = (y * W + x) * 3;
      for (let ch = 0; ch < 3; ch++) px[o + ch] = (tmpRow[u + ch] + tmpRow[c + ch] + tmpRow[d + ch]) / 3;
    }
  }
}

/** Rounds (half to even) and clamps the canvas to 8-bit RGB. */
export function canvasToRgb(cv: Canvas): Uint8Array {
  // Uint8ClampedArray clamps and rounds half to even, the same on every engine.
  const c = new Uint8ClampedArray(cv.px.length);
  c.set(cv.px);
  return new Uint8Array(c.buffer);
}

export function rgbToCanvas(rgb: Uint8Array, width: number, height: number): Canvas {
  return { width, height, px: Float32Array.from(rgb) };
}

/** HSV (h in degrees, s and v in [0, 1]) → RGB 0..255. */
export function hsv(h: number, s: number, v: number): RGB {
  h = ((h % 360) + 360) % 360;
  const c = v * s, x = c * (1 - Math.abs(((h / 60) % 2) - 1)), m = v - c;
  const [r, g, b] = h < 60 ? [c, x, 0] : h < 120 ? [x, c, 0] : h < 180 ? [0, c, x] : h < 240 ? [0, x, c] : h < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}
