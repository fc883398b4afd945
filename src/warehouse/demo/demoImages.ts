/**
 * The built-in demo set for `warehouse init --demo`: ~300 Commons-like images generated at run time
 * with sharp, no downloads. Deterministic: every pixel comes from a PRNG seeded by the image name and
 * every timestamp is fixed, so the same library versions give the same bytes (and sha1s) every run.
 *
 * Content is chosen to exercise the pipeline: a category tree with per-category colour palettes
 * (warm sunsets, dark night scenes, blue-and-white maiolica …), a quality mix (mostly normal textured
 * scenes, some very dark, overexposed, flat or blurred), every common format (JPEG, PNG, WebP, GIF,
 * one TIFF, one SVG, one animated GIF), sizes from 32×32 to 3000×2000, an EXIF-rotated JPEG,
 * grayscale, alpha, 16-bit PNG, CMYK JPEG, and five broken files whose expected error reasons are in
 * DEMO_EXPECTED_ERRORS.
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import sharp from 'sharp';
import type { ErrorReason } from '../../util/errors.js';
import type { CategoryParentRow } from '../warehouseRows.js';

export interface DemoImage {
  name: string; // Commons-style file name
  bytes: Uint8Array; // the file (for Broken_missing_bytes.jpg: what the catalog describes, not stored)
  categories: readonly string[];
  uploadedAt: Date;
  /** true: the image has rows in `image` and `categorylinks` but none in `image_bytes`. */
  withoutBytes?: boolean;
}

export const DEMO_ROOT_CATEGORY = 'Demo';
export const DEMO_BROKEN_CATEGORY = 'Broken_files';

/** The category tree: child → parent. */
export const DEMO_CATEGORY_PARENTS: readonly CategoryParentRow[] = [
  { category: 'Landscapes', parent: 'Demo' },
  { category: 'Sunsets', parent: 'Landscapes' },
  { category: 'Night_scenes', parent: 'Landscapes' },
  { category: 'Objects', parent: 'Demo' },
  { category: 'Pottery', parent: 'Objects' },
  { category: 'Maiolica', parent: 'Pottery' },
  { category: 'Textures', parent: 'Demo' },
  { category: 'Portraits-like', parent: 'Demo' },
  { category: DEMO_BROKEN_CATEGORY, parent: 'Demo' },
];

/** Broken demo images and the error reason the decoder must report for each. */
export const DEMO_EXPECTED_ERRORS: Readonly<Record<string, ErrorReason>> = {
  'Broken_truncated.jpg': 'truncated', // a real JPEG cut in half
  'Broken_zero_bytes.png': 'empty_bytes', // 0 bytes
  'Broken_random_bytes.jpg': 'unsupported_format', // random bytes, no known magic
  'Broken_too_many_pixels.png': 'too_many_pixels', // valid IHDR declaring 40000×40000, tiny bogus IDAT
  'Broken_missing_bytes.jpg': 'missing_bytes', // in image and categorylinks, absent from image_bytes
};

// ── deterministic randomness ───────────────────────────────────────────────────────────────────

type Rng = () => number; // uniform in [0, 1)

function rngFor(seed: string): Rng {
  let a = createHash('sha1').update(seed).digest().readUInt32BE(0);
  return () => {
    // mulberry32
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
const between = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const intBetween = (rng: Rng, lo: number, hi: number): number => Math.floor(between(rng, lo, hi + 1));

// ── painting into raw RGB buffers ──────────────────────────────────────────────────────────────

type RGB = readonly [number, number, number];
type Style = 'scene' | 'night' | 'object' | 'texture' | 'portrait';
type Quality = 'normal' | 'dark' | 'bright' | 'flat' | 'blurred';

interface Palette {
  top: RGB; // sky / background start
  bottom: RGB; // ground / background end
  accents: readonly RGB[]; // shapes, motifs
}

const PALETTES: Record<string, Palette> = {
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
function paint(w: number, h: number, style: Style, palette: Palette, rng: Rng, alpha = false): Buffer {
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

// ── encoding ───────────────────────────────────────────────────────────────────────────────────

type Format = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff';
const EXT: Record<Format, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif' };

interface Encode {
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

async function render(w: number, h: number, style: Style, palette: Palette, seed: string, enc: Encode): Promise<Uint8Array> {
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

// ── the set ────────────────────────────────────────────────────────────────────────────────────

interface CategorySpec {
  category: string;
  count: number;
  stem: string; // file name stem, `<stem>_<nnn>.<ext>`
  style: Style;
  alsoIn?: { every: number; category: string; stem: string }; // every n-th image is in two categories
}

const CATEGORY_SPECS: readonly CategorySpec[] = [
  { category: 'Landscapes', count: 36, stem: 'Landscape_with_hills', style: 'scene' },
  { category: 'Sunsets', count: 44, stem: 'Sunset_over_hills', style: 'scene', alsoIn: { every: 7, category: 'Night_scenes', stem: 'Dusk_over_the_bay' } },
  { category: 'Night_scenes', count: 36, stem: 'Night_street_with_lights', style: 'night' },
  { category: 'Objects', count: 24, stem: 'Still_life_object', style: 'object' },
  { category: 'Pottery', count: 32, stem: 'Pottery_vase', style: 'object' },
  { category: 'Maiolica', count: 40, stem: 'Maiolica_plate', style: 'object', alsoIn: { every: 5, category: 'Textures', stem: 'Maiolica_tile_pattern' } },
  { category: 'Textures', count: 40, stem: 'Texture_pattern', style: 'texture' },
  { category: 'Portraits-like', count: 30, stem: 'Portrait_like_figure', style: 'portrait' },
];

const SIZES: readonly (readonly [number, number])[] = [
  [32, 32], [64, 48], [96, 96], [128, 96], [160, 120], [200, 150], [240, 180], [256, 256],
  [300, 200], [320, 240], [360, 270], [400, 300], [300, 400], [480, 320], [500, 375], [640, 480], [480, 640], [800, 600],
];

const FIXED_EPOCH = Date.UTC(2021, 2, 1);
const uploadedAt = (i: number): Date => new Date(FIXED_EPOCH + i * 11_820_000); // every 3h17m

function chooseFormat(rng: Rng): Format {
  const r = rng();
  return r < 0.58 ? 'jpeg' : r < 0.78 ? 'png' : r < 0.9 ? 'webp' : 'gif';
}
function chooseQuality(rng: Rng): Quality {
  const r = rng();
  return r < 0.7 ? 'normal' : r < 0.78 ? 'dark' : r < 0.85 ? 'bright' : r < 0.92 ? 'flat' : 'blurred';
}

/**
 * All demo images in a fixed order. Renders a few images ahead (painting on this thread overlaps
 * sharp's encoding on its own threads), so at most LOOKAHEAD + 1 images' bytes are alive at once.
 */
export async function* demoImages(): AsyncGenerator<DemoImage> {
  const jobs = demoJobs();
  const LOOKAHEAD = 4;
  const inFlight: Promise<DemoImage>[] = [];
  let next = 0;
  const refill = () => {
    while (inFlight.length <= LOOKAHEAD && next < jobs.length) {
      const job = jobs[next++]!();
      job.catch(() => {}); // a failure surfaces when this job is awaited, not as an unhandled rejection
      inFlight.push(job);
    }
  };
  refill();
  while (inFlight.length > 0) {
    const image = await inFlight.shift()!;
    refill();
    yield image;
  }
}

/** The demo set as a list of thunks, one per image, in a fixed order. */
function demoJobs(): (() => Promise<DemoImage>)[] {
  const jobs: (() => Promise<DemoImage>)[] = [];
  let i = 0;
  for (const spec of CATEGORY_SPECS) {
    const palette = PALETTES[spec.category]!;
    for (let n = 1; n <= spec.count; n++) {
      const both = spec.alsoIn && n % spec.alsoIn.every === 0 ? spec.alsoIn : undefined;
      const stem = both ? both.stem : spec.stem;
      const rng = rngFor(`${stem}/${n}`);
      const [w, h] = pick(rng, SIZES);
      const enc: Encode = { format: chooseFormat(rng), quality: chooseQuality(rng) };
      if (spec.style === 'portrait' && rng() < 0.35) enc.grayscale = true; // "old photographs"
      if (spec.category === 'Objects' && enc.format === 'png') enc.alpha = true; // cut-out objects
      const name = `${stem}_${String(n).padStart(3, '0')}.${EXT[enc.format]}`;
      const categories = both ? [spec.category, both.category] : [spec.category];
      const at = uploadedAt(i++);
      jobs.push(async () => ({ name, bytes: await render(w, h, spec.style, palette, name, enc), categories, uploadedAt: at }));
    }
  }
  for (const s of [...SPECIALS, ...BROKEN]) {
    const at = uploadedAt(i++);
    const extra = s.withoutBytes ? { withoutBytes: true } : {};
    jobs.push(async () => ({ name: s.name, bytes: await s.make(), categories: s.categories, uploadedAt: at, ...extra }));
  }
  return jobs;
}

interface Special {
  name: string;
  categories: readonly string[];
  make: () => Promise<Uint8Array>;
  withoutBytes?: boolean;
}

const P = PALETTES;
const SPECIALS: readonly Special[] = [
  // stored 640×480 with EXIF orientation 6: displays (and is catalogued) as 480×640
  { name: 'Rotated_camera_photo_orientation_6.jpg', categories: ['Landscapes'],
    make: () => render(640, 480, 'scene', P.Landscapes!, 'rotated', { format: 'jpeg', orientation: 6 }) },
  // large files, for shrink-on-load and the pixel budget
  { name: 'Large_panorama_of_the_valley.jpg', categories: ['Landscapes'],
    make: () => render(3000, 2000, 'scene', P.Landscapes!, 'large1', { format: 'jpeg', upscaleFrom: 4 }) },
  { name: 'Large_sunset_progressive.jpg', categories: ['Sunsets'],
    make: () => render(2400, 1600, 'scene', P.Sunsets!, 'large2', { format: 'jpeg', upscaleFrom: 4, progressive: true }) },
  { name: 'Large_portrait_scan.jpg', categories: ['Portraits-like'],
    make: () => render(1800, 2700, 'portrait', P['Portraits-like']!, 'large3', { format: 'jpeg', upscaleFrom: 4 }) },
  { name: 'Large_maiolica_dish_detail.webp', categories: ['Maiolica'],
    make: () => render(2048, 1536, 'object', P.Maiolica!, 'large4', { format: 'webp', upscaleFrom: 4 }) },
  // formats and pixel layouts
  { name: 'Maiolica_tile_scan.tif', categories: ['Maiolica'],
    make: () => render(800, 600, 'object', P.Maiolica!, 'tiff', { format: 'tiff' }) },
  { name: 'Pottery_glaze_16bit.png', categories: ['Pottery'],
    make: () => render(320, 240, 'object', P.Pottery!, 'png16', { format: 'png', sixteenBit: true }) },
  { name: 'Sunset_print_CMYK.jpg', categories: ['Sunsets'],
    make: () => render(400, 300, 'scene', P.Sunsets!, 'cmyk', { format: 'jpeg', cmyk: true }) },
  { name: 'Glass_bottle_with_transparency.png', categories: ['Objects'],
    make: () => render(300, 400, 'object', P.Objects!, 'alpha', { format: 'png', alpha: true }) },
  { name: 'Old_portrait_grayscale.jpg', categories: ['Portraits-like'],
    make: () => render(300, 400, 'portrait', P['Portraits-like']!, 'gray', { format: 'jpeg', grayscale: true }) },
  { name: 'Tiny_icon_texture.png', categories: ['Textures'],
    make: () => render(32, 32, 'texture', P.Textures!, 'tiny', { format: 'png' }) },
  { name: 'Very_wide_banner_texture.jpg', categories: ['Textures'],
    make: () => render(1600, 100, 'texture', P.Textures!, 'wide', { format: 'jpeg' }) },
  { name: 'Candle_flame_animation.gif', categories: ['Night_scenes'], make: animatedGif },
  { name: 'Pottery_kiln_diagram.svg', categories: ['Pottery'], make: async () => Buffer.from(KILN_SVG) },
];

/** A 4-frame animated GIF (decoders should take the first frame). */
async function animatedGif(): Promise<Uint8Array> {
  const w = 120;
  const h = 160;
  const frames = 4;
  const frameBufs = Array.from({ length: frames }, (_, f) => paint(w, h, 'night', P.Night_scenes!, rngFor(`candle/${f}`)));
  return sharp(Buffer.concat(frameBufs), { raw: { width: w, height: h * frames, channels: 3, pageHeight: h } })
    .gif({ delay: Array(frames).fill(120), loop: 0 })
    .toBuffer();
}

const KILN_SVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400" viewBox="0 0 600 400">
  <rect width="600" height="400" fill="#f4efe6"/>
  <path d="M120 340 L120 180 Q300 40 480 180 L480 340 Z" fill="#b5653a" stroke="#5a2e18" stroke-width="6"/>
  <rect x="250" y="260" width="100" height="80" fill="#2b1a10"/>
  <path d="M270 300 q15 -40 30 0 q15 -40 30 0" fill="#f5a623"/>
  <rect x="280" y="60" width="40" height="70" fill="#7a4a2a"/>
  <circle cx="300" cy="40" r="18" fill="#cccccc" opacity="0.7"/>
  <line x1="40" y1="340" x2="560" y2="340" stroke="#333" stroke-width="4"/>
</svg>
`;

// ── broken files ───────────────────────────────────────────────────────────────────────────────

const broken = (c: string): string[] => [DEMO_BROKEN_CATEGORY, c];
const BROKEN: readonly Special[] = [
  { name: 'Broken_truncated.jpg', categories: broken('Sunsets'), make: async () => {
    const real = await render(400, 300, 'scene', P.Sunsets!, 'truncated', { format: 'jpeg' });
    return real.subarray(0, Math.floor(real.length / 2));
  } },
  { name: 'Broken_zero_bytes.png', categories: broken('Textures'), make: async () => new Uint8Array(0) },
  { name: 'Broken_random_bytes.jpg', categories: broken('Objects'), make: async () => {
    const rng = rngFor('random-bytes');
    const bytes = Uint8Array.from({ length: 20_000 }, () => Math.floor(rng() * 256));
    bytes.set([0x13, 0x37], 0); // no known magic number, by construction
    return bytes;
  } },
  { name: 'Broken_too_many_pixels.png', categories: broken('Maiolica'), make: async () => pngDeclaring(40_000, 40_000) },
  // described in `image` from these bytes, but never stored in `image_bytes`
  { name: 'Broken_missing_bytes.jpg', categories: broken('Landscapes'), withoutBytes: true,
    make: () => render(400, 300, 'scene', P.Landscapes!, 'missing', { format: 'jpeg' }) },
];

/** A PNG whose header (valid CRCs) declares w×h RGB pixels, followed by a tiny, too-short IDAT. */
export function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filter, no interlace
  const idat = zlib.deflateSync(Buffer.alloc(64), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
