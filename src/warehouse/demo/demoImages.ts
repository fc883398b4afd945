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
import sharp from 'sharp';
import type { ErrorReason } from '../../util/errors.js';
import type { CategoryParentRow } from '../warehouseRows.js';
import { pngDeclaring } from './pngDeclaring.js';
import { EXT, PALETTES, paint, render, type Encode, type Format, type Quality, type Style } from './renderScene.js';
import { pick, rngFor, type Rng } from './rng.js';

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
