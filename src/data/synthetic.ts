// SPDX-License-Identifier: MIT
/**
 * The built-in synthetic keypoint benchmark: articulated 17-joint figures in COCO order, posed in 3D within
 * joint limits (torso bend/lean/twist, head yaw/pitch, shoulder elevation/azimuth, elbow and knee flexion, hip
 * flexion/abduction), turned by a yaw, projected orthographically, rolled, scaled and placed, 1–3 per image,
 * often overlapping. Figures are painted back to front with anti-aliased filled shapes (torso, limbs, head,
 * hair, ears, eyes, nose, hands, feet) over gradient / noise / stripe / floor backgrounds with clutter
 * (including limb-like distractors), then occluders, blur, noise and a brightness change on some images.
 *
 * Labels, as COCO: v = 2 where the joint's own part is the topmost shape at the joint; v = 1 where something
 * else (an occluder, another person, another part of the same person, the head for a face point turned
 * away) covers it; v = 0 (x = y = 0) outside the image [0, W−1]×[0, H−1] and for face points turned well
 * away. Left and right limbs share a colour but the left is lighter and warmer, the right darker and cooler,
 * so left/right is learnable from colour plus the face (frontal) or hair (back view), never trivially.
 *
 * Deterministic: image i is drawn from Rng(mix(seed, i)), so the same seed gives byte-identical PNGs and
 * JSON (for the same JS engine and zlib). Runtime-agnostic except the file writing (node:fs, lazily).
 */
import { Rng } from '../util/rng.js';
import { encodePng, decodeImage, type RgbImage } from './image.js';
import {
  boxBlur3, canvasToRgb, convexShape, createCanvas, drawShape, hsv, rgbToCanvas, shapeBounds, shapeSignedDistance,
  type Canvas, type Paint, type RGB, type Shape,
} from './raster.js';

export const COCO_KEYPOINT_NAMES: readonly string[] = Object.freeze([
  'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
  'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
]);

/** COCO's person skeleton, 1-based as in the annotation files. */
export const COCO_SKELETON_1BASED: ReadonlyArray<readonly [number, number]> = Object.freeze([
  [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9], [8, 10], [9, 11],
  [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
].map((p) => Object.freeze(p as [number, number])));

const K = 17;
/** The Up filter on every row: as small as adaptive filtering here, at half the time. */
const PNG_OPTS = { filterType: 2 } as const;

/** Difficulty presets of generateSynthetic. */
export const SYNTHETIC_DIFFICULTY = Object.freeze({ easy: 0.15, medium: 0.5, hard: 0.85 });

export interface SyntheticOptions {
  /** Write train/ and val/ here (images/*.png + annotations.json); without it, everything stays in memory. */
  outDir?: string;
  numImages: number;
  seed: number;
  /** [H, W], default [160, 128]. */
  imageSize?: [number, number];
  /** Share of images in val (the last ones), default 0.1. */
  valFraction?: number;
  /** Most people per image (1..6, default 3). */
  maxPeople?: number;
  /**
   * 0..1 or a preset (default 'medium' = 0.5). Scales clutter and limb-like distractors, occluders (and
   * how many take background colours), overlapping placement, lying / upside-down people, blur and noise,
   * and narrows the left/right colour difference. 0: clean figures on plain backgrounds.
   */
  difficulty?: number | keyof typeof SYNTHETIC_DIFFICULTY;
  /** In-memory mode: keep decoded RGB (default) or the PNG bytes (4–6× smaller). */
  keep?: 'rgb' | 'png';
  onProgress?: (done: number, total: number) => void;
}

export interface CocoJson {
  info: Record<string, unknown>;
  licenses: unknown[];
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: {
    id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: 0; num_keypoints: number; keypoints: number[];
  }[];
  categories: { id: number; name: string; supercategory: string; keypoints: string[]; skeleton: number[][] }[];
}

export interface SyntheticImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  /** RGB (in-memory mode with keep 'rgb'). */
  data?: Uint8Array;
  /** PNG bytes (in-memory mode with keep 'png'). */
  png?: Uint8Array;
  /** The occluders drawn over the people, for checking labels (see shapeSignedDistance). */
  occluders: Shape[];
}

export interface SyntheticSplit {
  coco: CocoJson;
  images: SyntheticImage[];
  /** With outDir: the split's folder, its annotation file and image folder. */
  dir?: string;
  annFile?: string;
  imageDir?: string;
}

export interface SyntheticResult {
  train: SyntheticSplit;
  val: SyntheticSplit;
  elapsedMs: number;
}

/** One rendered image with its people (before PNG encoding). */
export interface SyntheticScene {
  width: number;
  height: number;
  rgb: Uint8Array;
  people: { bbox: [number, number, number, number]; area: number; keypoints: number[]; numKeypoints: number }[];
  occluders: Shape[];
}

type V3 = [number, number, number];
const add = (a: V3, b: V3): V3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const mul = (a: V3, s: number): V3 => [a[0] * s, a[1] * s, a[2] * s];
const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: V3): V3 => { const l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; };
/** The part of `a` orthogonal to unit `d`, normalised; `fallback` when `a` is (nearly) parallel to `d`. */
function ortho(a: V3, d: V3, fallback: V3): V3 {
  let p = add(a, mul(d, -dot(a, d)));
  if (Math.hypot(p[0], p[1], p[2]) < 0.15) p = add(fallback, mul(d, -dot(fallback, d)));
  return norm(p);
}
const D2R = Math.PI / 180;
const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);
const clampRgb = (c: number[]): RGB => [clamp(c[0], 0, 255), clamp(c[1], 0, 255), clamp(c[2], 0, 255)];

/** A 32-bit mix of integers, for per-image seeds. */
function mixSeed(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (b >>> 0) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

interface Posed {
  /** 3D joints in body units (height ≈ 1), after yaw: x right, y down, z towards the camera. */
  j: V3[];
  headC: V3; shoulderC: V3; hands: [V3, V3]; toes: [V3, V3];
  headUp: V3; rh: number;
  /** Depth (towards the camera) of each face point relative to the head centre, in head radii. */
  faceZ: number[];
  hairC: V3;
  tk: number;
  torsoRound: number;
}

/** Samples a 3D pose within joint limits and turns it by a yaw. Units: person height ≈ 1. */
function samplePose(rng: Rng): Posed {
  const U = (a: number, b: number) => rng.uniform(a, b);
  const N = (m: number, s: number) => m + s * rng.normal();
  const pr = U(0.92, 1.08), pa = U(0.92, 1.08), pl = U(0.92, 1.08);
  const ws = 0.115 * U(0.88, 1.12), wh = 0.08 * U(0.88, 1.12), Lt = 0.29 * pr, Ln = 0.1 * pr, rh = 0.062 * U(0.9, 1.12);
  const Lua = 0.165 * pa, Lfa = 0.15 * pa, Lth = 0.245 * pl, Lsh = 0.24 * pl;
  const u = rng.next();
  const kind = u < 0.42 ? 'stand' : u < 0.67 ? 'walk' : u < 0.9 ? 'active' : 'sit';

  // torso
  const beta = clamp(kind === 'sit' ? N(20, 20) : kind === 'active' ? N(5, 18) : N(3, 6), -20, 80) * D2R;
  const gamma = clamp(N(0, kind === 'active' ? 12 : 6), -35, 35) * D2R;
  const up: V3 = [Math.sin(gamma) * Math.cos(beta), -Math.cos(gamma) * Math.cos(beta), Math.sin(beta)];
  const lat0 = ortho([1, 0, 0], up, [0, 0, 1]);
  const fwd0 = cross(up, lat0);
  const tau = clamp(N(0, kind === 'walk' || kind === 'active' ? 18 : 8), -45, 45) * D2R;
  const lat = norm(add(mul(lat0, Math.cos(tau)), mul(fwd0, Math.sin(tau))));
  const fwd = cross(up, lat);
  const shoulderC = mul(up, Lt);

  const j: V3[] = new Array(K);
  j[5] = add(shoulderC, mul(lat, ws)); j[6] = add(shoulderC, mul(lat, -ws));
  j[11] = [wh, 0, 0]; j[12] = [-wh, 0, 0];

  // head
  const neckUp = norm(add(add(up, mul(fwd, N(0.05, 0.18))), mul(lat, N(0, 0.15))));
  const headC = add(shoulderC, mul(neckUp, Ln));
  const psi = clamp(N(0, 28), -80, 80) * D2R, rho = clamp(N(0, 12), -35, 35) * D2R;
  let hFwd = ortho(add(mul(fwd, Math.cos(psi)), mul(lat, Math.sin(psi))), neckUp, fwd);
  let hUp = neckUp;
  [hFwd, hUp] = [norm(add(mul(hFwd, Math.cos(rho)), mul(hUp, Math.sin(rho)))), norm(add(mul(hUp, Math.cos(rho)), mul(hFwd, -Math.sin(rho))))];
  const hLat = cross(hFwd, hUp);
  const facePoint = (alpha: number, elev: number, R: number): V3 => {
    const a = alpha * D2R, e = elev * D2R;
    return add(headC, mul(add(add(mul(hFwd, Math.cos(a) * Math.cos(e)), mul(hLat, Math.sin(a) * Math.cos(e))), mul(hUp, Math.sin(e))), rh * R));
  };
  j[0] = facePoint(0, -18, 1.0);
  j[1] = facePoint(32, 12, 0.93); j[2] = facePoint(-32, 12, 0.93);
  j[3] = facePoint(97, 0, 1.08); j[4] = facePoint(-97, 0, 1.08);
  const hairC = add(headC, mul(add(mul(hFwd, -0.42), mul(hUp, 0.25)), rh));

  // arms
  const down = mul(up, -1);
  const hands: V3[] = [];
  for (const s of [1, -1]) {
    const sh = s === 1 ? j[5] : j[6];
    const [e, az, b] =
      kind === 'stand' ? [Math.abs(N(0, 15)) + 4, N(0, 20), U(0, 30)]
        : kind === 'walk' ? [U(0, 40), (rng.next() < 0.5 ? 1 : -1) * U(50, 90), U(5, 70)]
          : kind === 'active' ? [U(15, 175), U(-40, 110), U(0, 150)]
            : [U(10, 70), U(20, 100), U(30, 120)];
    const ea = clamp(e, 0, 175) * D2R, aza = clamp(az, -60, 120) * D2R, bb = clamp(b, 0, 150) * D2R;
    const out = mul(lat, s);
    const ua = norm(add(mul(down, Math.cos(ea)), mul(add(mul(out, Math.cos(aza)), mul(fwd, Math.sin(aza))), Math.sin(ea))));
    const p0 = ortho(fwd, ua, up);
    const chi = U(-60, 60) * D2R;
    const p = norm(add(mul(p0, Math.cos(chi)), mul(cross(ua, p0), Math.sin(chi))));
    const fa = norm(add(mul(ua, Math.cos(bb)), mul(p, Math.sin(bb))));
    const elbow = add(sh, mul(ua, Lua));
    const wrist = add(elbow, mul(fa, Lfa));
    j[s === 1 ? 7 : 8] = elbow; j[s === 1 ? 9 : 10] = wrist;
    hands.push(add(wrist, mul(fa, 0.045)));
  }

  // legs
  const fL = kind === 'walk' ? U(-30, 40) : 0;
  const toes: V3[] = [];
  for (const s of [1, -1]) {
    const [f, ab, k] =
      kind === 'stand' ? [N(0, 5), U(0, 12), U(0, 12)]
        : kind === 'walk' ? [s === 1 ? fL : -fL * U(0.5, 1.1), U(0, 8), U(0, 65)]
          : kind === 'active' ? [U(-30, 100), U(0, 45), U(0, 125)]
            : [U(60, 100), U(0, 20), U(60, 110)];
    const fr = clamp(f, -35, 110) * D2R, abr = clamp(ab, -10, 50) * D2R, kr = clamp(k, 0, 140) * D2R;
    const th: V3 = [s * Math.sin(abr), Math.cos(abr) * Math.cos(fr), Math.cos(abr) * Math.sin(fr)];
    const q = ortho([0, 0, -1], th, [0, 1, 0]);
    const sn = norm(add(mul(th, Math.cos(kr)), mul(q, Math.sin(kr))));
    const hip = s === 1 ? j[11] : j[12];
    const knee = add(hip, mul(th, Lth)), ankle = add(knee, mul(sn, Lsh));
    j[s === 1 ? 13 : 14] = knee; j[s === 1 ? 15 : 16] = ankle;
    toes.push(add(ankle, mul(add(ortho([0, 0, 1], sn, [0, 1, 0]), mul(sn, 0.3)), 0.075)));
  }

  // yaw: frontal-ish, back-ish or profile
  const yu = rng.next();
  const phi = (yu < 0.5 ? N(0, 30) : yu < 0.75 ? N(180, 30) : (rng.next() < 0.5 ? 1 : -1) * U(60, 120)) * D2R;
  const c = Math.cos(phi), sn = Math.sin(phi);
  const yaw = (v: V3): V3 => [v[0] * c + v[2] * sn, v[1], -v[0] * sn + v[2] * c];
  const jy = j.map(yaw);
  const headCy = yaw(headC);
  const camZ: V3 = [0, 0, 1];
  const hUpY = yaw(hUp);
  const faceZ = [0, 1, 2, 3, 4].map((i) => dot(add(jy[i], mul(headCy, -1)), camZ) / rh);
  const torsoSide = Math.abs(dot(yaw(lat), [1, 0, 0]));
  return {
    j: jy, headC: headCy, shoulderC: yaw(shoulderC), hands: [yaw(hands[0]), yaw(hands[1])], toes: [yaw(toes[0]), yaw(toes[1])],
    headUp: hUpY, rh, faceZ, hairC: yaw(hairC), tk: U(0.85, 1.25),
    torsoRound: 0.03 + 0.035 * Math.sqrt(Math.max(0, 1 - torsoSide * torsoSide)),
  };
}

interface Prim { shape: Shape; paint: Paint; depth: number; person: number; owns: number }

interface Palette { skin: RGB; shirt: RGB; pants: RGB; hair: RGB; shoe: RGB; sleeves: 'long' | 'short' | 'none'; delta: number }

function samplePalette(rng: Rng, d: number): Palette {
  const U = (a: number, b: number) => rng.uniform(a, b);
  const skin = hsv(U(12, 38), U(0.25, 0.65), U(0.3, 0.95));
  const shirt = hsv(U(0, 360), U(0.15, 0.9), U(0.2, 0.95));
  const pants = hsv(U(0, 360), U(0.05, 0.7), U(0.15, 0.8));
  const hair = hsv(U(15, 45), U(0.2, 0.8), rng.next() < 0.7 ? U(0.05, 0.35) : U(0.4, 0.9));
  const shoe = hsv(U(0, 360), U(0, 0.5), U(0.05, 0.5));
  const r = rng.next();
  return { skin, shirt, pants, hair, shoe, sleeves: r < 0.45 ? 'long' : r < 0.8 ? 'short' : 'none', delta: Math.max(0.04, 0.3 - 0.4 * d) + 0.1 * rng.next() };
}

/** The left/right cue: left lighter and warmer, right darker and cooler. */
function sided(c: RGB, side: 1 | -1, delta: number): RGB {
  return side === 1
    ? clampRgb([c[0] * (1 + delta) + 14, c[1] * (1 + delta) + 6, c[2] * (1 + delta) - 6])
    : clampRgb([c[0] * (1 - delta) - 6, c[1] * (1 - delta), c[2] * (1 - delta) + 12]);
}

interface PlacedPerson { prims: Prim[]; joints: number[]; faceZ: number[]; bounds: [number, number, number, number] }

/** Projects, rolls, scales and places a pose; builds its shapes (joints rounded to 0.01 px first). */
function buildPerson(pose: Posed, pal: Palette, person: number, heightPx: number, roll: number, tx: number, ty: number): PlacedPerson {
  const c = Math.cos(roll), s = Math.sin(roll);
  const P = (v: V3): [number, number] => {
    const x = v[0] * heightPx, y = v[1] * heightPx;
    return [Math.round((c * x - s * y + tx) * 100) / 100, Math.round((s * x + c * y + ty) * 100) / 100];
  };
  const J = pose.j.map(P);
  const joints: number[] = [];
  for (const [x, y] of J) joints.push(x, y);
  const z = (v: V3) => v[2];
  const prims: Prim[] = [];
  const bit = (...ks: number[]) => ks.reduce((m, k) => m | (1 << k), 0);
  const cap = (a: [number, number], b: [number, number], ra: number, rb: number, paint: Paint, depth: number, owns: number) =>
    prims.push({ shape: { kind: 'capsule', ax: a[0], ay: a[1], bx: b[0], by: b[1], ra: Math.max(0.6, ra * heightPx), rb: Math.max(0.6, rb * heightPx) }, paint, depth, person, owns });
  const t = pose.tk;
  // torso
  const torsoPts = [...J[5], ...J[6], ...J[12], ...J[11]];
  // Biased back a little: limbs level with the torso (arms hanging at its sides) are drawn over it.
  const torsoDepth = (z(pose.j[5]) + z(pose.j[6]) + z(pose.j[11]) + z(pose.j[12])) / 4 - 0.04;
  prims.push({ shape: convexShape(torsoPts, Math.max(1, pose.torsoRound * t * heightPx)), paint: pal.shirt, depth: torsoDepth, person, owns: bit(5, 6, 11, 12) });
  // neck, head, hair, ears, face
  const H = P(pose.headC), S = P(pose.shoulderC);
  cap(S, H, 0.028 * t, 0.028 * t, pal.skin, torsoDepth + 0.001, 0);
  const hd = z(pose.headC);
  const rhPx = pose.rh * heightPx;
  const upAng = Math.atan2(pose.headUp[1], pose.headUp[0]) + roll;
  prims.push({ shape: { kind: 'ellipse', cx: H[0], cy: H[1], rx: Math.max(1, rhPx * 1.1), ry: Math.max(1, rhPx), angle: upAng }, paint: pal.skin, depth: hd, person, owns: bit(0, 1, 2) });
  const hair = P(pose.hairC);
  prims.push({ shape: { kind: 'ellipse', cx: hair[0], cy: hair[1], rx: Math.max(1, rhPx * 0.92), ry: Math.max(1, rhPx * 0.85), angle: upAng }, paint: pal.hair, depth: z(pose.hairC), person, owns: 0 });
  for (const e of [3, 4]) {
    prims.push({ shape: { kind: 'ellipse', cx: J[e][0], cy: J[e][1], rx: Math.max(0.7, rhPx * 0.2), ry: Math.max(0.7, rhPx * 0.28), angle: upAng }, paint: sided(pal.skin, e === 3 ? 1 : -1, pal.delta * 0.5), depth: hd + pose.faceZ[e] * pose.rh, person, owns: bit(e) });
  }
  for (const e of [0, 1, 2]) {
    if (pose.faceZ[e] < 0.1) continue;
    const r = Math.max(0.6, rhPx * (e === 0 ? 0.16 : 0.13));
    const paint: RGB = e === 0 ? clampRgb([pal.skin[0] * 0.7, pal.skin[1] * 0.65, pal.skin[2] * 0.65]) : [25, 22, 20];
    prims.push({ shape: { kind: 'ellipse', cx: J[e][0], cy: J[e][1], rx: r, ry: r, angle: 0 }, paint, depth: hd + pose.faceZ[e] * pose.rh + 0.001, person, owns: bit(e) });
  }
  // limbs
  for (const side of [1, -1] as const) {
    const [sh, el, wr, hp, kn, an] = side === 1 ? [5, 7, 9, 11, 13, 15] : [6, 8, 10, 12, 14, 16];
    const upper = sided(pal.sleeves === 'none' ? pal.skin : pal.shirt, side, pal.delta);
    const lower = sided(pal.sleeves === 'long' ? pal.shirt : pal.skin, side, pal.delta);
    const legs = sided(pal.pants, side, pal.delta);
    const zm = (a: number, b: number) => (z(pose.j[a]) + z(pose.j[b])) / 2;
    cap(J[sh], J[el], 0.034 * t, 0.03 * t, upper, zm(sh, el), bit(sh, el));
    cap(J[el], J[wr], 0.029 * t, 0.024 * t, lower, zm(el, wr), bit(el, wr));
    const hand = P(pose.hands[side === 1 ? 0 : 1]);
    cap(J[wr], hand, 0.025 * t, 0.028 * t, sided(pal.skin, side, pal.delta * 0.5), z(pose.hands[side === 1 ? 0 : 1]) + 0.002, bit(wr));
    cap(J[hp], J[kn], 0.05 * t, 0.04 * t, legs, zm(hp, kn), bit(hp, kn));
    cap(J[kn], J[an], 0.039 * t, 0.03 * t, legs, zm(kn, an), bit(kn, an));
    const toe = P(pose.toes[side === 1 ? 0 : 1]);
    cap(J[an], toe, 0.027 * t, 0.022 * t, pal.shoe, (z(pose.j[an]) + z(pose.toes[side === 1 ? 0 : 1])) / 2 + 0.001, bit(an));
  }
  prims.sort((a, b) => a.depth - b.depth);
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of prims) {
    const b = shapeBounds(p.shape);
    x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]); x1 = Math.max(x1, b[2]); y1 = Math.max(y1, b[3]);
  }
  return { prims, joints, faceZ: pose.faceZ, bounds: [x0, y0, x1, y1] };
}

/** Smooth value noise in [0, 1] on a (gw+1)×(gh+1) grid over W×H pixels. */
function valueNoise(rng: Rng, gw: number, gh: number, W: number, H: number): (x: number, y: number) => number {
  const g = new Float32Array((gw + 1) * (gh + 1));
  for (let i = 0; i < g.length; i++) g[i] = rng.next();
  const sx = gw / W, sy = gh / H;
  return (x, y) => {
    const fx = clamp(x * sx, 0, gw - 1e-6), fy = clamp(y * sy, 0, gh - 1e-6);
    const ix = Math.floor(fx), iy = Math.floor(fy);
    let tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx); ty = ty * ty * (3 - 2 * ty);
    const o = iy * (gw + 1) + ix;
    const a = g[o] + (g[o + 1] - g[o]) * tx, b = g[o + gw + 1] + (g[o + gw + 2] - g[o + gw + 1]) * tx;
    return a + (b - a) * ty;
  };
}

/** The same noise as a W×H field, computed row by row. */
function noiseField(rng: Rng, gw: number, gh: number, W: number, H: number): Float32Array {
  const g = new Float32Array((gw + 1) * (gh + 1));
  for (let i = 0; i < g.length; i++) g[i] = rng.next();
  const out = new Float32Array(W * H);
  const ix = new Int32Array(W), tx = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const fx = clamp((x * gw) / W, 0, gw - 1e-6), i = Math.floor(fx), t = fx - i;
    ix[x] = i; tx[x] = t * t * (3 - 2 * t);
  }
  const row0 = new Float32Array(gw + 1), row1 = new Float32Array(gw + 1);
  for (let y = 0; y < H; y++) {
    const fy = clamp((y * gh) / H, 0, gh - 1e-6), iy = Math.floor(fy);
    let ty = fy - iy; ty = ty * ty * (3 - 2 * ty);
    for (let i = 0; i <= gw; i++) { row0[i] = g[iy * (gw + 1) + i]; row1[i] = g[(iy + 1) * (gw + 1) + i]; }
    for (let x = 0; x < W; x++) {
      const i = ix[x], t = tx[x];
      const a = row0[i] + (row0[i + 1] - row0[i]) * t, b = row1[i] + (row1[i + 1] - row1[i]) * t;
      out[y * W + x] = a + (b - a) * ty;
    }
  }
  return out;
}

function randomColor(rng: Rng): RGB {
  return hsv(rng.uniform(0, 360), rng.uniform(0, 0.85), rng.uniform(0.1, 0.95));
}

function texturePaint(rng: Rng, W: number, H: number): Paint {
  const c1 = randomColor(rng), c2 = randomColor(rng);
  const u = rng.next();
  if (u < 0.45) return c1;
  if (u < 0.7) {
    const period = rng.uniform(3, 12), ang = rng.uniform(0, Math.PI), ca = Math.cos(ang) / period, sa = Math.sin(ang) / period;
    return (x, y, o) => { const t = x * ca + y * sa; const c = t - Math.floor(t) < 0.5 ? c1 : c2; o[0] = c[0]; o[1] = c[1]; o[2] = c[2]; };
  }
  const n = valueNoise(rng, 6, 6, W, H);
  return (x, y, o) => { const t = n(x, y); o[0] = c1[0] + (c2[0] - c1[0]) * t; o[1] = c1[1] + (c2[1] - c1[1]) * t; o[2] = c1[2] + (c2[2] - c1[2]) * t; };
}

function drawBackground(cv: Canvas, rng: Rng): void {
  const { width: W, height: H, px } = cv;
  const c1 = randomColor(rng), c2 = randomColor(rng);
  const kind = rng.int(4);
  const n1 = noiseField(rng, 3 + rng.int(6), 3 + rng.int(6), W, H);
  const n2 = noiseField(rng, 10 + rng.int(14), 10 + rng.int(14), W, H);
  const amp = rng.uniform(0, 0.6), amp2 = rng.uniform(0, 0.35);
  const ang = rng.uniform(0, 2 * Math.PI), ca = Math.cos(ang), sa = Math.sin(ang);
  const cx = rng.uniform(0, W), cy = rng.uniform(0, H), rad = rng.uniform(0.5, 1.2) * Math.max(W, H);
  const period = rng.uniform(4, 20);
  const floorY = rng.next() < 0.4 ? rng.uniform(0.4, 0.85) * H : Infinity;
  const floorC = randomColor(rng);
  const M = Math.max(W, H);
  for (let y = 0; y < H; y++) {
    const base = y > floorY ? floorC : c1;
    const d0 = c2[0] - base[0], d1 = c2[1] - base[1], d2 = c2[2] - base[2];
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const nn = n1[i];
      let t: number;
      if (kind === 0) t = ((x - W / 2) * ca + (y - H / 2) * sa) / M + 0.5;
      else if (kind === 1) t = Math.sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) / rad;
      else if (kind === 2) t = nn;
      else { const s = (x * ca + y * sa) / period; t = s - Math.floor(s) < 0.5 ? 0.25 : 0.75; }
      t += amp * (nn - 0.5) + amp2 * (n2[i] - 0.5);
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const o = i * 3;
      px[o] = base[0] + d0 * t; px[o + 1] = base[1] + d1 * t; px[o + 2] = base[2] + d2 * t;
    }
  }
}

function drawClutter(cv: Canvas, rng: Rng, limbLike: Palette[], d: number): void {
  const { width: W, height: H } = cv;
  const n = Math.round((rng.int(9) + 2) * 2 * d);
  const size = Math.min(W, H);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    const x = rng.uniform(-0.1, 1.1) * W, y = rng.uniform(-0.1, 1.1) * H;
    let shape: Shape;
    let paint: Paint = texturePaint(rng, W, H);
    if (u < 0.7 * d) {
      // a limb-like distractor in a person's colours
      const len = rng.uniform(0.08, 0.3) * H, ang = rng.uniform(0, 2 * Math.PI), r = rng.uniform(0.012, 0.03) * H;
      shape = { kind: 'capsule', ax: x, ay: y, bx: x + Math.cos(ang) * len, by: y + Math.sin(ang) * len, ra: r, rb: r * rng.uniform(0.7, 1.1) };
      if (limbLike.length && rng.next() < 0.7) {
        const p = limbLike[rng.int(limbLike.length)];
        paint = sided([p.shirt, p.pants, p.skin][rng.int(3)], rng.next() < 0.5 ? 1 : -1, p.delta);
      }
    } else if (u < 0.65) {
      shape = { kind: 'ellipse', cx: x, cy: y, rx: rng.uniform(0.03, 0.25) * size, ry: rng.uniform(0.03, 0.25) * size, angle: rng.uniform(0, Math.PI) };
    } else {
      const hw = rng.uniform(0.03, 0.3) * size, hh = rng.uniform(0.03, 0.3) * size;
      shape = { kind: 'rect', cx: x, cy: y, hw, hh, angle: rng.next() < 0.5 ? 0 : rng.uniform(0, Math.PI), round: rng.uniform(0, Math.min(hw, hh)) };
    }
    drawShape(cv, shape, paint, rng.uniform(0.5, 1));
  }
}

/** Renders one image of the benchmark with the generator's Rng for it. */
export function renderSyntheticScene(rng: Rng, width: number, height: number, maxPeople = 3, difficulty = 0.5): SyntheticScene {
  const d = difficulty;
  const W = width, Hh = height;
  const cv = createCanvas(W, Hh);
  const nPeople = 1 + rng.int(maxPeople);
  const palettes = Array.from({ length: nPeople }, () => samplePalette(rng, d));
  drawBackground(cv, rng);
  drawClutter(cv, rng, palettes, d);

  // people: sizes, poses, places; smaller (farther) ones first
  const specs = palettes.map(() => ({ h: rng.uniform(0.35, 1.0) * Hh * (nPeople > 1 ? rng.uniform(0.65, 1) : 1) })).sort((a, b) => a.h - b.h);
  const placed: PlacedPerson[] = [];
  const centers: [number, number, number][] = [];
  for (let p = 0; p < nPeople; p++) {
    const pose = samplePose(rng);
    const ru = rng.next();
    const pTilt = 0.4 * d; // people lying or upside down
    const roll = (ru < 1 - pTilt ? clamp(rng.normal() * 10, -30, 30) : ru < 1 - 0.35 * pTilt ? clamp(rng.normal() * 40, -90, 90) : rng.uniform(-180, 180)) * D2R;
    const hPx = specs[p].h;
    const probe = buildPerson(pose, palettes[p], p, hPx, roll, 0, 0);
    const bw = probe.bounds[2] - probe.bounds[0], bh = probe.bounds[3] - probe.bounds[1];
    let cx: number, cy: number;
    if (centers.length && rng.next() < 0.9 * d) {
      const [px0, py0, pw] = centers[rng.int(centers.length)];
      cx = px0 + (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.3, 0.9) * Math.max(pw, bw);
      cy = py0 + rng.uniform(-0.15, 0.15) * bh;
    } else {
      cx = rng.uniform(0.15, 0.85) * W; cy = rng.uniform(0.2, 0.8) * Hh;
    }
    const tx = cx - (probe.bounds[0] + probe.bounds[2]) / 2, ty = cy - (probe.bounds[1] + probe.bounds[3]) / 2;
    placed.push(buildPerson(pose, palettes[p], p, hPx, roll, tx, ty));
    centers.push([cx, cy, bw]);
  }

  // draw people, measuring silhouette areas
  const stamp = new Int32Array(W * Hh);
  const all: Prim[] = [];
  const areas: number[] = [];
  for (let p = 0; p < nPeople; p++) {
    let area = 0;
    for (const pr of placed[p].prims) { area += drawShape(cv, pr.shape, pr.paint, 1, stamp, p + 1); all.push(pr); }
    areas.push(area);
  }

  // occluders, mostly over joints
  const occluders: Shape[] = [];
  const nu = rng.next();
  const nOcc = Math.round((nu < 0.3 ? 0 : nu < 0.65 ? 1 : nu < 0.9 ? 2 : 3) * 2 * d);
  for (let i = 0; i < nOcc; i++) {
    const p = placed[rng.int(nPeople)];
    const hPx = specs[placed.indexOf(p)].h;
    let cx: number, cy: number;
    if (rng.next() < 0.75) { const k = rng.int(K); cx = p.joints[2 * k] + rng.uniform(-0.08, 0.08) * hPx; cy = p.joints[2 * k + 1] + rng.uniform(-0.08, 0.08) * hPx; }
    else { cx = rng.uniform(0, W); cy = rng.uniform(0, Hh); }
    const shape: Shape = rng.next() < 0.55
      ? { kind: 'rect', cx, cy, hw: rng.uniform(0.06, 0.22) * hPx, hh: rng.uniform(0.06, 0.22) * hPx, angle: rng.next() < 0.5 ? 0 : rng.uniform(0, Math.PI), round: rng.uniform(0, 2) }
      : { kind: 'ellipse', cx, cy, rx: rng.uniform(0.05, 0.18) * hPx, ry: rng.uniform(0.05, 0.18) * hPx, angle: rng.uniform(0, Math.PI) };
    // a quarter of the occluders take a background-like colour (camouflage)
    let paint: Paint = texturePaint(rng, W, Hh);
    if (rng.next() < 0.5 * d) {
      const ox = clamp(Math.round(cx), 0, W - 1), oy = clamp(Math.round(cy), 0, Hh - 1);
      const o = (oy * W + ox) * 3;
      paint = clampRgb([cv.px[o] + rng.uniform(-25, 25), cv.px[o + 1] + rng.uniform(-25, 25), cv.px[o + 2] + rng.uniform(-25, 25)]);
    }
    drawShape(cv, shape, paint);
    occluders.push(shape);
    all.push({ shape, paint, depth: Infinity, person: -1, owns: 0 });
  }

  // labels
  const people: SyntheticScene['people'] = [];
  for (let p = 0; p < nPeople; p++) {
    const pp = placed[p];
    const kps: number[] = [];
    let nk = 0;
    for (let k = 0; k < K; k++) {
      const x = pp.joints[2 * k], y = pp.joints[2 * k + 1];
      let v = 2;
      if (!(x >= 0 && x <= W - 1 && y >= 0 && y <= Hh - 1)) v = 0;
      else if (k <= 2 && pp.faceZ[k] < -0.35) v = 0;
      else if ((k === 3 || k === 4) && pp.faceZ[k] < -0.6) v = 0;
      else {
        for (let i = all.length - 1; i >= 0; i--) {
          const pr = all[i];
          if (shapeSignedDistance(pr.shape, x, y) < 0) { v = pr.person === p && pr.owns & (1 << k) ? 2 : 1; break; }
        }
        if (v === 2 && k <= 2 && pp.faceZ[k] < 0.1) v = 1;
      }
      if (v === 0) kps.push(0, 0, 0);
      else { kps.push(x, y, v); nk++; }
    }
    const [bx0, by0, bx1, by1] = pp.bounds;
    const x0 = Math.floor(clamp(bx0, 0, W) * 100) / 100, y0 = Math.floor(clamp(by0, 0, Hh) * 100) / 100;
    const x1 = Math.ceil(clamp(bx1, 0, W) * 100) / 100, y1 = Math.ceil(clamp(by1, 0, Hh) * 100) / 100;
    if (nk === 0 || !(x1 > x0 && y1 > y0)) continue;
    people.push({ bbox: [x0, y0, Math.round((x1 - x0) * 100) / 100, Math.round((y1 - y0) * 100) / 100], area: areas[p], keypoints: kps, numKeypoints: nk });
  }

  // camera effects
  const bu = rng.next();
  if (bu < 0.6 * d) { boxBlur3(cv); if (bu < 0.2 * d) boxBlur3(cv); }
  if (rng.next() < 0.3) {
    const gain = rng.uniform(0.7, 1.3), bias = rng.uniform(-25, 25);
    for (let i = 0; i < cv.px.length; i++) cv.px[i] = cv.px[i] * gain + bias;
  }
  if (rng.next() < d) {
    // sensor noise, triangular with std sigma, from a xorshift32 seeded by the image's Rng (cheaper per pixel)
    const sigma = rng.uniform(2, 9), k = (sigma * Math.sqrt(6)) / 4294967296;
    let st = rng.nextU32() | 1;
    const px = cv.px;
    for (let i = 0; i < px.length; i++) {
      st ^= st << 13; st ^= st >>> 17; st ^= st << 5;
      const a = st >>> 0;
      st ^= st << 13; st ^= st >>> 17; st ^= st << 5;
      px[i] += (a + (st >>> 0) - 4294967295) * k;
    }
  }
  return { width: W, height: Hh, rgb: canvasToRgb(cv), people, occluders };
}

function cocoCategories(): CocoJson['categories'] {
  return [{ id: 1, name: 'person', supercategory: 'person', keypoints: [...COCO_KEYPOINT_NAMES], skeleton: COCO_SKELETON_1BASED.map((p) => [p[0], p[1]]) }];
}

/**
 * Generates the benchmark: `numImages` images split into train (the first) and val (the last
 * round(numImages·valFraction)). With `outDir`, writes outDir/{train,val}/images/NNNNNN.png and
 * outDir/{train,val}/annotations.json (COCO keypoints); without, keeps everything in memory.
 */
export async function generateSynthetic(opts: SyntheticOptions): Promise<SyntheticResult> {
  const op = 'generateSynthetic';
  const t0 = Date.now();
  const { numImages, seed } = opts;
  if (!Number.isInteger(numImages) || numImages < 1) throw new RangeError(`${op}: numImages must be a positive integer, got ${numImages}`);
  if (!Number.isFinite(seed)) throw new TypeError(`${op}: seed must be a number, got ${seed}`);
  const [H, W] = opts.imageSize ?? [160, 128];
  if (!Number.isInteger(H) || !Number.isInteger(W) || H < 32 || W < 32 || H > 4096 || W > 4096) {
    throw new RangeError(`${op}: imageSize must be [H, W] integers in 32..4096, got ${JSON.stringify(opts.imageSize)}`);
  }
  const valFraction = opts.valFraction ?? 0.1;
  if (!(valFraction >= 0 && valFraction <= 1)) throw new RangeError(`${op}: valFraction must be in [0, 1], got ${valFraction}`);
  const maxPeople = opts.maxPeople ?? 3;
  if (!Number.isInteger(maxPeople) || maxPeople < 1 || maxPeople > 6) throw new RangeError(`${op}: maxPeople must be an integer in 1..6, got ${maxPeople}`);
  const keep = opts.keep ?? 'rgb';
  const difficulty = typeof opts.difficulty === 'string' ? SYNTHETIC_DIFFICULTY[opts.difficulty] : opts.difficulty ?? SYNTHETIC_DIFFICULTY.medium;
  if (!(difficulty >= 0 && difficulty <= 1)) throw new RangeError(`${op}: difficulty must be in [0, 1] or one of ${Object.keys(SYNTHETIC_DIFFICULTY).join(', ')}, got ${JSON.stringify(opts.difficulty)}`);
  const nVal = Math.round(numImages * valFraction);
  const nTrain = numImages - nVal;

  let fs: typeof import('node:fs/promises') | undefined;
  let path: typeof import('node:path') | undefined;
  const splits: Record<'train' | 'val', SyntheticSplit> = {
    train: { coco: emptyCoco(seed, 'train', difficulty), images: [] },
    val: { coco: emptyCoco(seed, 'val', difficulty), images: [] },
  };
  if (opts.outDir !== undefined) {
    fs = await import('node:fs/promises');
    path = await import('node:path');
    for (const name of ['train', 'val'] as const) {
      const dir = path.join(opts.outDir, name);
      splits[name].dir = dir;
      splits[name].imageDir = path.join(dir, 'images');
      splits[name].annFile = path.join(dir, 'annotations.json');
      await fs.mkdir(splits[name].imageDir!, { recursive: true });
    }
  }
  let annId = 1;
  for (let i = 0; i < numImages; i++) {
    const split = splits[i < nTrain ? 'train' : 'val'];
    const scene = renderSyntheticScene(new Rng(mixSeed(seed >>> 0, i)), W, H, maxPeople, difficulty);
    const id = i + 1;
    const file = `${String(id).padStart(6, '0')}.png`;
    split.coco.images.push({ id, file_name: file, width: W, height: H });
    for (const p of scene.people) {
      split.coco.annotations.push({ id: annId++, image_id: id, category_id: 1, bbox: p.bbox, area: p.area, iscrowd: 0, num_keypoints: p.numKeypoints, keypoints: p.keypoints });
    }
    const img: SyntheticImage = { id, file_name: file, width: W, height: H, occluders: scene.occluders };
    if (fs && path) {
      await fs.writeFile(path.join(split.imageDir!, file), encodePng(scene.rgb, W, H, PNG_OPTS));
    } else if (keep === 'png') img.png = encodePng(scene.rgb, W, H, PNG_OPTS);
    else img.data = scene.rgb;
    split.images.push(img);
    opts.onProgress?.(i + 1, numImages);
  }
  if (fs) {
    for (const name of ['train', 'val'] as const) await fs.writeFile(splits[name].annFile!, JSON.stringify(splits[name].coco));
  }
  return { train: splits.train, val: splits.val, elapsedMs: Date.now() - t0 };
}

function emptyCoco(seed: number, split: string, difficulty: number): CocoJson {
  return {
    info: { description: 'rlepose synthetic keypoint benchmark', version: '1', split, seed, difficulty },
    licenses: [], images: [], annotations: [], categories: cocoCategories(),
  };
}

/** An image provider (for TopDownDataset) over an in-memory split. */
export function syntheticImageProvider(split: SyntheticSplit): (file: string) => RgbImage {
  const byFile = new Map(split.images.map((im) => [im.file_name, im]));
  return (file) => {
    const im = byFile.get(file);
    if (!im) throw new RangeError(`syntheticImageProvider: no image ${JSON.stringify(file)} in this split`);
    if (im.data) return { width: im.width, height: im.height, data: im.data };
    if (im.png) return decodeImage(im.png);
    throw new Error(`syntheticImageProvider: image ${JSON.stringify(file)} was written to disk; read it from ${split.imageDir ?? 'outDir'}`);
  };
}

// ---- debugging pictures ----

const SIDE_COLORS: Record<'l' | 'r' | 'c', RGB> = { l: [255, 140, 0], r: [0, 170, 255], c: [60, 220, 60] };
function sideOf(name: string | undefined): 'l' | 'r' | 'c' {
  return name?.startsWith('left') ? 'l' : name?.startsWith('right') ? 'r' : 'c';
}

export interface OverlayOptions {
  /** Upscale the picture first (bilinear), default 1. */
  scale?: number;
  /** 0-based limbs (default COCO's for K = 17). */
  skeleton?: ReadonlyArray<readonly [number, number]>;
  keypointNames?: readonly string[];
  /** Draw the boxes (default true). */
  boxes?: boolean;
}

/**
 * Draws people (boxes, skeleton, joints) over an RGB image: left parts orange, right blue, centre green;
 * visible joints (v = 2) as filled dots, occluded ones (v = 1) as rings; unlabelled ones not at all.
 */
export function renderKeypointOverlay(
  image: RgbImage, people: ReadonlyArray<{ bbox?: ArrayLike<number>; keypoints: ArrayLike<number> }>, opts: OverlayOptions = {},
): RgbImage {
  const sc = opts.scale ?? 1;
  if (!(sc > 0 && sc <= 16)) throw new RangeError(`renderKeypointOverlay: scale must be in (0, 16], got ${sc}`);
  const W = Math.round(image.width * sc), H = Math.round(image.height * sc);
  const cv = sc === 1 ? rgbToCanvas(image.data, W, H) : upscale(image, W, H);
  const names = opts.keypointNames ?? COCO_KEYPOINT_NAMES;
  const skel = opts.skeleton ?? COCO_SKELETON_1BASED.map(([a, b]) => [a - 1, b - 1] as const);
  const lw = Math.max(0.5, sc * 0.45);
  const T = (v: number) => (v + 0.5) * sc - 0.5;
  for (const p of people) {
    const kp = p.keypoints;
    if (p.bbox && opts.boxes !== false) {
      const [x, y, w, h] = [p.bbox[0], p.bbox[1], p.bbox[2], p.bbox[3]];
      const xa = x * sc - 0.5, ya = y * sc - 0.5, xb = (x + w) * sc - 0.5, yb = (y + h) * sc - 0.5;
      for (const [ax, ay, bx, by] of [[xa, ya, xb, ya], [xb, ya, xb, yb], [xb, yb, xa, yb], [xa, yb, xa, ya]]) {
        drawShape(cv, { kind: 'capsule', ax, ay, bx, by, ra: lw * 0.5, rb: lw * 0.5 }, [255, 255, 255], 0.8);
      }
    }
    for (const [a, b] of skel) {
      if (!(kp[3 * a + 2] > 0 && kp[3 * b + 2] > 0)) continue;
      const sa = sideOf(names[a]), sb = sideOf(names[b]);
      const col = SIDE_COLORS[sa === sb ? sa : 'c'];
      drawShape(cv, { kind: 'capsule', ax: T(kp[3 * a]), ay: T(kp[3 * a + 1]), bx: T(kp[3 * b]), by: T(kp[3 * b + 1]), ra: lw, rb: lw }, col, 0.7);
    }
    for (let k = 0; k < kp.length / 3; k++) {
      const v = kp[3 * k + 2];
      if (!(v > 0)) continue;
      const x = T(kp[3 * k]), y = T(kp[3 * k + 1]);
      const col = SIDE_COLORS[sideOf(names[k])];
      const r = Math.max(1, sc * 1.1);
      drawShape(cv, { kind: 'ellipse', cx: x, cy: y, rx: r + 0.8 * lw, ry: r + 0.8 * lw, angle: 0 }, [0, 0, 0]);
      drawShape(cv, { kind: 'ellipse', cx: x, cy: y, rx: r, ry: r, angle: 0 }, col);
      if (v === 1) drawShape(cv, { kind: 'ellipse', cx: x, cy: y, rx: r * 0.5, ry: r * 0.5, angle: 0 }, [0, 0, 0]);
    }
  }
  return { width: W, height: H, data: canvasToRgb(cv) };
}

function upscale(img: RgbImage, W: number, H: number): Canvas {
  const cv = createCanvas(W, H);
  const sx = img.width / W, sy = img.height / H;
  for (let y = 0; y < H; y++) {
    const fy = clamp((y + 0.5) * sy - 0.5, 0, img.height - 1), y0 = Math.floor(fy), y1 = Math.min(img.height - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = clamp((x + 0.5) * sx - 0.5, 0, img.width - 1), x0 = Math.floor(fx), x1 = Math.min(img.width - 1, x0 + 1), tx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const a = img.data[(y0 * img.width + x0) * 3 + c], b = img.data[(y0 * img.width + x1) * 3 + c];
        const d = img.data[(y1 * img.width + x0) * 3 + c], e = img.data[(y1 * img.width + x1) * 3 + c];
        cv.px[(y * W + x) * 3 + c] = (a + (b - a) * tx) * (1 - ty) + (d + (e - d) * tx) * ty;
      }
    }
  }
  return cv;
}

/** Tiles equally sized images into a grid with `pad` pixels of gray between them. */
export function tileImages(images: readonly RgbImage[], cols: number, pad = 4): RgbImage {
  if (images.length === 0) throw new RangeError('tileImages: no images');
  const w = images[0].width, h = images[0].height;
  if (images.some((im) => im.width !== w || im.height !== h)) throw new RangeError('tileImages: images must share one size');
  const rows = Math.ceil(images.length / cols);
  const W = cols * w + (cols + 1) * pad, H = rows * h + (rows + 1) * pad;
  const out = new Uint8Array(W * H * 3).fill(48);
  images.forEach((im, i) => {
    const ox = pad + (i % cols) * (w + pad), oy = pad + Math.floor(i / cols) * (h + pad);
    for (let y = 0; y < h; y++) out.set(im.data.subarray(y * w * 3, (y + 1) * w * 3), ((oy + y) * W + ox) * 3);
  });
  return { width: W, height: H, data: out };
}
