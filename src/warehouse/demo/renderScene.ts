/**
 * The demo set's pictures: scenes painted into raw RGB(A) buffers from a palette and a PRNG, quality
 * defects applied, then encoded by sharp in the requested format and pixel layout. Same seed, same
 * library versions: same bytes.
 */
import sharp from 'sharp';
import { between, intBetween, pick, rngFor, type Rng } from './rng.js';

export type RGB = readonly [number, number, number];
export type Style = 'scene' | 'night' | 'object' | 'texture' | 'portrait';
export type Quality = 'normal' | 'dark' | 'bright' | 'flat' | 'blurred';

export interface Palette {
  top: RGB; // sky / background start
  bottom: RGB; // ground / background end
  accents: readonly RGB[]; // shapes, motifs
}

export const PALETTES: Record<string, Palette> = {
  Landscapes: { top: [120, 170, 225], bottom: [60, 120, 50], accents: [[40, 90, 40], [150, 130, 90], [230, 235, 240]] },
  Sunsets: { top: [250, 140, 60], bottom: [90, 30, 70], accents: [[255, 210, 90], [200, 60, 40], [60, 20, 40]] },
  Night_scenes: { top: [8, 12, 40], bottom: [20, 20, 30], accents: [[250, 220, 120], [255, 250, 200], [40, 50, 90]] },
  Objects: { top: [200, 195, 185], bottom: [120, 110, 100], accents: [[90, 70, 50], [160, 40, 40], [60, 90, 120]] },
  Pottery: { top: [225, 210, 185], bottom: [150, 120, 95], accents: [[180, 90, 50], [140, 70, 40], [90, 50, 30]] },
  Maiolica: { top: [240, 240, 235], bottom: [215, 220, 230], accents: [[25, 60, 160], [240, 190, 40], [30, 110, 70]] },
  Textures: { top: [130, 120, 110], bottom: [90, 100, 80], accents: [[200, 180, 150], [60, 60, 70], [170, 80, 60]] },
  'Portraits-like': { top: [60, 55, 60], bottom: [30, 28, 35], accents: [[225, 180, 150], [120, 80, 60], [40, 40, 80]] },
};

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
const mix = (a: RGB, b: RGB, t: number): RGB => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];

interface Shape {
  kind: 'ellipse' | 'rect';
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  color: RGB;
}

/** Paint a w×h RGB scene (or RGBA with a transparent background when `alpha`). */
export function paint(w: number, h: number, style: Style, palette: Palette, rng: Rng, alpha = false): Buffer {
  const ch = alpha ? 4 : 3;
  const out = Buffer.alloc(w * h * ch);
  const shapes = makeShapes(w, h, style, palette, rng);
  const angle = between(rng, -0.3, 0.3);
  const noise = style === 'texture' ? 40 : style === 'night' ? 10 : 18;
  const fx = between(rng, 4, 30) / w;
  const fy = between(rng, 4, 30) / h;
  const horizon = between(rng, 0.45, 0.7);
  const horizonAt = Float64Array.from({ length: w }, (_, x) => horizon + 0.06 * Math.sin((x / w) * 9 + angle * 10));
  const waveX = Float64Array.from({ length: w }, (_, x) => 0.25 * Math.sin(x * fx * 6.28));
  for (let y = 0; y < h; y++) {
    const v = y / h;
    const rowShapes = shapes.filter((s) => Math.abs(y - s.cy) <= s.ry);
    for (let x = 0; x < w; x++) {
      const u = x / w;
      let c: RGB;
      if (style === 'scene') {
        // sky gradient above a wavy horizon, ground below
        const hz = horizonAt[x]!;
        c = v < hz ? mix(palette.top, mix(palette.top, palette.bottom, 0.4), v / hz) : mix(palette.bottom, palette.accents[0]!, (v - hz) / (1 - hz));
      } else if (style === 'texture') {
        const s = 0.5 + waveX[x]! + 0.25 * Math.sin((y * fy + u * angle * 3) * 6.28);
        c = mix(palette.top, s > 0.5 ? palette.accents[0]! : palette.bottom, s);
      } else {
        c = mix(palette.top, palette.bottom, v + angle * (u - 0.5));
      }
      let a = 255;
      let inShape = false;
      for (const s of rowShapes) {
        if (Math.abs(x - s.cx) > s.rx) continue;
        const dx = (x - s.cx) / s.rx;
        const dy = (y - s.cy) / s.ry;
        const inside = s.kind === 'ellipse' ? dx * dx + dy * dy <= 1 : Math.abs(dx) <= 1 && Math.abs(dy) <= 1;
        if (inside) {
          inShape = true;
          // shaded: lighter towards the upper left, rings on objects (plates, vases)
          const shade = 1.1 - 0.3 * (dx + dy + 2) / 4;
          const ring = style === 'object' && Math.floor(Math.sqrt(dx * dx + dy * dy) * 6) % 2 === 1 ? 0.75 : 1;
          c = [s.color[0] * shade * ring, s.color[1] * shade * ring, s.color[2] * shade * ring];
        }
      }
      if (alpha && !inShape) a = 0;
      const n = (rng() - 0.5) * noise;
      const i = (y * w + x) * ch;
      out[i] = clamp(c[0] + n);
      out[i + 1] = clamp(c[1] + n);
      out[i + 2] = clamp(c[2] + n);
      if (alpha) out[i + 3] = a;
    }
  }
  return out;
}

const brightest = (cs: readonly RGB[]): RGB =>
  cs.reduce((a, b) => (a[0] + a[1] + a[2] >= b[0] + b[1] + b[2] ? a : b));

function makeShapes(w: number, h: number, style: Style, palette: Palette, rng: Rng): Shape[] {
  const m = Math.min(w, h);
  const shapes: Shape[] = [];
  const add = (kind: Shape['kind'], cx: number, cy: number, rx: number, ry: number, color: RGB) =>
    shapes.push({ kind, cx, cy, rx: Math.max(1, rx), ry: Math.max(1, ry), color });
  switch (style) {
    case 'scene': // a sun or moon, a few trees / houses
      add('ellipse', between(rng, 0.1, 0.9) * w, between(rng, 0.1, 0.35) * h, m * 0.08, m * 0.08, brightest(palette.accents));
      for (let k = intBetween(rng, 1, 4); k > 0; k--) {
        add(pick(rng, ['ellipse', 'rect'] as const), rng() * w, between(rng, 0.6, 0.9) * h, m * between(rng, 0.04, 0.15), m * between(rng, 0.05, 0.2), pick(rng, palette.accents));
      }
      break;
    case 'night': // lit windows and street lights
      for (let k = intBetween(rng, 5, 25); k > 0; k--) {
        add(pick(rng, ['ellipse', 'rect'] as const), rng() * w, between(rng, 0.3, 0.95) * h, m * between(rng, 0.005, 0.03), m * between(rng, 0.005, 0.04), pick(rng, palette.accents.slice(0, 2)));
      }
      break;
    case 'object': // one vase / plate, maybe a second smaller one
      add('ellipse', w * between(rng, 0.4, 0.6), h * between(rng, 0.45, 0.6), m * between(rng, 0.25, 0.4), m * between(rng, 0.3, 0.45), palette.accents[0]!);
      if (rng() < 0.5) add('ellipse', w * between(rng, 0.15, 0.85), h * 0.7, m * 0.12, m * 0.15, pick(rng, palette.accents));
      break;
    case 'portrait': // shoulders, then a face
      add('ellipse', w * 0.5, h * 1.0, w * 0.42, h * 0.35, palette.accents[2] ?? palette.bottom);
      add('ellipse', w * between(rng, 0.45, 0.55), h * 0.42, m * 0.22, m * 0.29, palette.accents[0]!);
      break;
    case 'texture':
      for (let k = intBetween(rng, 0, 6); k > 0; k--) {
        add('rect', rng() * w, rng() * h, m * between(rng, 0.02, 0.1), m * between(rng, 0.02, 0.1), pick(rng, palette.accents));
      }
      break;
  }
  return shapes;
}

/** Quality defects applied to painted pixels (blur is applied by sharp at encode time). */
function degrade(px: Buffer, channels: number, quality: Quality, rng: Rng): void {
  if (quality === 'dark') {
    const k = between(rng, 0.06, 0.14);
    for (let i = 0; i < px.length; i++) if (channels !== 4 || i % 4 !== 3) px[i] = px[i]! * k;
  } else if (quality === 'bright') {
    for (let i = 0; i < px.length; i++) if (channels !== 4 || i % 4 !== 3) px[i] = 238 + px[i]! * 0.07;
  } else if (quality === 'flat') {
    const base = [intBetween(rng, 90, 170), intBetween(rng, 90, 170), intBetween(rng, 90, 170)];
    for (let i = 0; i < px.length; i++) {
      const c = i % channels;
      if (c < 3) px[i] = base[c]! + Math.floor(rng() * 3) - 1;
    }
  }
}

export type Format = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
export const EXT: Record<Format, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif' };

export interface Encode {
  format: Format;
  quality?: Quality;
  grayscale?: boolean;
  alpha?: boolean;
  upscaleFrom?: number; // paint at 1/n size and enlarge (large images stay cheap to generate)
  orientation?: number; // EXIF orientation tag to write
  cmyk?: boolean;
  sixteenBit?: boolean;
  progressive?: boolean;
}

export async function render(w: number, h: number, style: Style, palette: Palette, seed: string, enc: Encode): Promise<Uint8Array> {
  const rng = rngFor(seed);
  const k = enc.upscaleFrom ?? 1;
  const pw = Math.max(1, Math.round(w / k));
  const ph = Math.max(1, Math.round(h / k));
  const channels = enc.alpha ? 4 : 3;
  const px = paint(pw, ph, style, palette, rng, enc.alpha);
  degrade(px, channels, enc.quality ?? 'normal', rng);
  let img = sharp(px, { raw: { width: pw, height: ph, channels } });
  if (k !== 1) img = img.resize(w, h, { kernel: 'cubic' });
  if (enc.quality === 'blurred') img = img.blur(4);
  if (enc.grayscale) img = img.toColourspace('b-w');
  if (enc.sixteenBit) img = img.toColourspace('rgb16');
  if (enc.cmyk) img = img.toColourspace('cmyk');
  if (enc.orientation) img = img.withMetadata({ orientation: enc.orientation });
  switch (enc.format) {
    case 'jpeg':
      return img.jpeg({ quality: 85, progressive: enc.progressive ?? false }).toBuffer();
    case 'png':
      return img.png().toBuffer();
    case 'webp':
      return img.webp({ quality: 80 }).toBuffer();
    case 'gif':
      return img.gif({ effort: 1, dither: 0 }).toBuffer();
    case 'tiff':
      return img.tiff({ compression: 'lzw' }).toBuffer();
  }
}
