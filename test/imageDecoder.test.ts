/**
 * The decoder's paths (ImageDecoder): which files take libjpeg-turbo + Pillow-exact resampling,
 * which take one lean sharp pipeline, which the full sharp path — and that every path gives the same
 * geometry, close pixels and the same error reasons. ICC profiles are real ones (sharp's built-in
 * sRGB, Display P3 and CMYK profiles embedded in real JPEGs), not hand-made bytes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isSrgbProfile } from '../src/decode/iccProfile.js';
import { ImageDecoder } from '../src/decode/ImageDecoder.js';
import { readJpegHeader } from '../src/decode/jpegHeader.js';
import { shorterSideThenCenterCrop } from '../src/decode/centerCrop.js';
import { preprocess } from '../src/decode/preprocess.js';
import { resampleRgb } from '../src/decode/resampleRgb.js';
import type { ModelInput } from '../src/model/ModelCard.js';
import { SHARED } from './util/cli.js';

const crop224: ModelInput = { name: 'x', layout: 'NHWC', dtype: 'uint8', height: 224, width: 224, channels: 'RGB', resize: { shorter: 256, crop: 'center', kernel: 'linear' } };
const photo = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 90, b: 40 }, noise: { type: 'gaussian', mean: 110, sigma: 40 } } }).blur(1.2);

async function pathTaken(bytes: Buffer, input = crop224) {
  const decoder = new ImageDecoder();
  const outcome = await decoder.decode(new Uint8Array(bytes), input, 1e9);
  const [taken] = Object.entries(decoder.stats).filter(([, n]) => n === 1).map(([k]) => k);
  return { outcome, taken };
}

describe('JPEG header', () => {
  it('reads size, components, orientation and the embedded profile', async () => {
    const oriented = await photo(40, 30).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(readJpegHeader(oriented)).toMatchObject({ width: 40, height: 30, components: 3, orientation: 6, precision: 8, frameType: 0 });
    const progressive = await photo(40, 30).toColourspace('b-w').jpeg({ progressive: true }).toBuffer();
    expect(readJpegHeader(progressive)).toMatchObject({ components: 1, frameType: 2, orientation: 1, icc: null });
    const p3 = await photo(40, 30).withIccProfile('p3').jpeg().toBuffer();
    const icc = readJpegHeader(p3)!.icc!;
    expect(Buffer.from(icc).equals((await sharp(p3).metadata()).icc!)).toBe(true);
    expect(readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00]))).toBeNull();
    expect(readJpegHeader(await photo(4, 4).png().toBuffer())).toBeNull();
  });
});

describe('isSrgbProfile', () => {
  it('tells sRGB from Display P3, CMYK and damaged profiles by what they do', async () => {
    const profile = async (name: string, colourspace?: 'cmyk') => {
      let p = photo(16, 16);
      if (colourspace) p = p.toColourspace(colourspace);
      return (await sharp(await p.withIccProfile(name).jpeg().toBuffer()).metadata()).icc!;
    };
    const srgb = await profile('srgb');
    expect(isSrgbProfile(srgb)).toBe(true);
    expect(isSrgbProfile(await profile('p3'))).toBe(false);
    expect(isSrgbProfile(await profile('cmyk', 'cmyk'))).toBe(false);
    expect(isSrgbProfile(srgb.subarray(0, 200))).toBe(false);
    expect(isSrgbProfile(new Uint8Array(10))).toBe(false);
    // An sRGB profile whose green primary was moved is no longer sRGB.
    const moved = Buffer.from(srgb);
    const count = moved.readUInt32BE(128);
    for (let i = 0; i < count; i++) {
      const e = 132 + i * 12;
      if (moved.toString('latin1', e, e + 4) === 'gXYZ') moved.writeInt32BE(Math.round(0.3 * 65536), moved.readUInt32BE(e + 4) + 8);
    }
    expect(isSrgbProfile(moved)).toBe(false);
  });
});

describe('ImageDecoder paths', () => {
  it('plain small JPEGs (baseline, progressive, grey, sRGB-tagged) take libjpeg-turbo', async () => {
    for (const bytes of [
      await photo(500, 375).jpeg().toBuffer(),
      await photo(375, 500).jpeg({ progressive: true }).toBuffer(),
      await photo(500, 333).toColourspace('b-w').jpeg().toBuffer(),
      await photo(500, 375).withIccProfile('srgb').jpeg().toBuffer(),
    ]) {
      const { outcome, taken } = await pathTaken(bytes);
      expect(taken).toBe('turbo');
      expect(outcome.ok && outcome.tensor.length).toBe(224 * 224 * 3);
    }
  });

  it('large originals take one lean sharp pipeline (shrink-on-load); everything else the full sharp path', async () => {
    expect((await pathTaken(await photo(1600, 1200).jpeg().toBuffer())).taken).toBe('sharpLean');
    const cases: [string, Buffer][] = [
      ['EXIF-rotated', await photo(500, 375).jpeg().withMetadata({ orientation: 6 }).toBuffer()],
      ['Display P3', await photo(500, 375).withIccProfile('p3').jpeg().toBuffer()],
      ['CMYK', await photo(500, 375).toColourspace('cmyk').jpeg().toBuffer()],
      ['PNG', await photo(500, 375).png().toBuffer()],
    ];
    for (const [what, bytes] of cases) {
      const { outcome, taken } = await pathTaken(bytes);
      expect(taken, what).toBe('sharp');
      expect(outcome.ok, what).toBe(true);
    }
    const rotated = (await pathTaken(cases[0]![1])).outcome;
    expect(rotated.ok && [rotated.width, rotated.height]).toEqual([375, 500]);
  });

  it('gives sharp’s error reasons: truncated, too_many_pixels with the same message', async () => {
    const jpeg = await photo(500, 375).jpeg().toBuffer();
    const cut = await pathTaken(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    expect(cut.outcome).toMatchObject({ ok: false, reason: 'truncated' });
    const decoder = new ImageDecoder();
    const fast = await decoder.decode(new Uint8Array(jpeg), crop224, 1000);
    const slow = await new ImageDecoder({ fastJpeg: false }).decode(new Uint8Array(jpeg), crop224, 1000);
    expect(fast).toEqual({ ok: false, reason: 'too_many_pixels', detail: '500x375 is over the limit of 1000 pixels' });
    expect(slow).toEqual(fast);
  });

  it('a Display P3 photo is converted, not read as if it were sRGB', async () => {
    // sRGB (200, 100, 50) stored as P3 numbers (about 187, 106, 63) with the P3 profile attached.
    const p3 = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 100, b: 50 } } }).withIccProfile('p3').jpeg({ quality: 95 }).toBuffer();
    const stored = await sharp(p3, { ignoreIcc: true }).raw().toBuffer();
    expect(Math.abs(stored[0]! - 200) + Math.abs(stored[2]! - 50)).toBeGreaterThan(10);
    const decoded = await new ImageDecoder().decode(new Uint8Array(p3), crop224, 1e9);
    expect(decoded.ok).toBe(true);
    if (decoded.ok) {
      const t = decoded.tensor;
      const mid = (112 * 224 + 112) * 3;
      expect([t[mid]!, t[mid + 1]!, t[mid + 2]!].map((v, i) => Math.abs(v - [200, 100, 50][i]!) <= 3)).toEqual([true, true, true]);
    }
  });
});

describe('fidelity of the fast path', () => {
  const photos = path.join(SHARED, 'images', 'imagenet-sample');
  const present = existsSync(photos);
  if (!present) console.warn(`SKIP fast-path fidelity on real photos: ${photos} is absent`);
  const python = '/usr/bin/python3';
  const havePil = present && spawnSync(python, ['-c', 'import PIL'], { stdio: 'ignore' }).status === 0;
  if (present && !havePil) console.warn('SKIP Pillow-exact resampling check: /usr/bin/python3 with PIL is absent (apt-get install python3-pil)');

  it.skipIf(!present)('on the shared photos, the fast path is within ~1 level of sharp on average', async () => {
    const files = readdirSync(photos).filter((f) => f.endsWith('.JPEG'));
    let sum = 0;
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(path.join(photos, f)));
      const fast = await new ImageDecoder().decode(bytes.slice(), crop224, 1e9);
      const slow = await preprocess(bytes.slice(), crop224, 1e9);
      expect(fast.ok).toBe(true);
      if (fast.ok) sum += meanAbsDiff(fast.tensor, slow.tensor);
    }
    expect(sum / files.length).toBeLessThan(1.5);
  });

  it.skipIf(!havePil)('resampleRgb is bit-exact with Pillow: PIL’s own decoded pixels, resized and cropped both ways', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-pil-'));
    try {
      const files = readdirSync(photos).filter((f) => f.endsWith('.JPEG')).slice(0, 12);
      // torchvision's eval transform on a PIL image: Resize(256) (BILINEAR) + CenterCrop(224).
      const script = `
import sys, os
from PIL import Image
out = sys.argv[1]
for p in sys.argv[2:]:
    with Image.open(p) as im:
        im = im.convert('RGB'); w, h = im.size
        ow, oh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
        left, top = int(round((ow - 224) / 2.0)), int(round((oh - 224) / 2.0))
        crop = im.resize((ow, oh), Image.BILINEAR).crop((left, top, left + 224, top + 224))
        b = os.path.join(out, os.path.basename(p))
        open(b + '.full', 'wb').write(im.tobytes()); open(b + '.crop', 'wb').write(crop.tobytes())
        print(w, h)
`;
      const r = spawnSync(python, ['-c', script, tmp, ...files.map((f) => path.join(photos, f))], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const sizes = r.stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
      files.forEach((f, i) => {
        const [w, h] = sizes[i]!;
        const full = new Uint8Array(readFileSync(path.join(tmp, `${f}.full`)));
        const plan = shorterSideThenCenterCrop(w!, h!, 256, 224, 224);
        const ours = resampleRgb(full, w!, h!, plan.resizeWidth, plan.resizeHeight, plan.left, plan.top, 224, 224);
        expect(Buffer.from(ours).equals(readFileSync(path.join(tmp, `${f}.crop`))), f).toBe(true);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('resampleRgb (Pillow BILINEAR)', () => {
  it('keeps a constant image constant and the same size unchanged', () => {
    const src = new Uint8Array(50 * 40 * 3).fill(77);
    expect(resampleRgb(src, 50, 40, 31, 23, 3, 2, 20, 15).every((v) => v === 77)).toBe(true);
    const ramp = Uint8Array.from({ length: 8 * 6 * 3 }, (_, i) => (i * 5) % 256);
    expect(Array.from(resampleRgb(ramp, 8, 6, 8, 6, 0, 0, 8, 6))).toEqual(Array.from(ramp));
  });

  it('halves 4 → 2 pixels with the widened triangle filter, as Pillow does', () => {
    // Output 0: centre 1.0, support 2 → inputs 0..2 with weights .75 .75 .25 (normalised by 1.75).
    const row = new Uint8Array([0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
    const out = resampleRgb(row, 4, 1, 2, 1, 0, 0, 2, 1);
    const first = Math.round((0 * 0.75 + 100 * 0.75 + 200 * 0.25) / 1.75);
    const second = Math.round((100 * 0.25 + 200 * 0.75 + 255 * 0.75) / 1.75);
    expect(Array.from(out)).toEqual([first, first, first, second, second, second]);
  });
});

function meanAbsDiff(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
