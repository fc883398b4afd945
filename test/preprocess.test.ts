import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { roundHalfEven, shorterSideThenCenterCrop } from '../src/decode/centerCrop.js';
import { classifySharpError, endsEarly, preprocess } from '../src/decode/preprocess.js';
import type { ModelInput } from '../src/model/ModelCard.js';
import { ImageError } from '../src/util/errors.js';

const imagenet: ModelInput = {
  name: 'input', layout: 'NCHW', dtype: 'float32', height: 224, width: 224, channels: 'RGB',
  resize: { shorter: 256, crop: 'center', kernel: 'linear' },
  scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
};
const stretch8: ModelInput = { name: 'x', layout: 'NHWC', dtype: 'uint8', height: 8, width: 8, channels: 'RGB', resize: { mode: 'stretch', kernel: 'nearest' } };

const solid = (w: number, h: number, rgb: [number, number, number], alpha?: number) =>
  sharp({ create: { width: w, height: h, channels: alpha === undefined ? 3 : 4, background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha: alpha ?? 1 } } });

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    return (e as ImageError).reason;
  }
}

describe('preprocess', () => {
  it('mirrors torchvision Resize(256) + CenterCrop(224), round half to even', () => {
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(1.5)).toBe(2);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(16)).toBe(16);
    // 500x375 → 341x256 (int(256*500/375) = 341), crop left round(58.5) = 58, top 16.
    expect(shorterSideThenCenterCrop(500, 375, 256, 224, 224)).toEqual({ resizeWidth: 341, resizeHeight: 256, left: 58, top: 16 });
    // portrait 375x500 → 256x341, crop top 58
    expect(shorterSideThenCenterCrop(375, 500, 256, 224, 224)).toEqual({ resizeWidth: 256, resizeHeight: 341, left: 16, top: 58 });
  });

  it('normalizes into NCHW float32 with mean/std', async () => {
    const bytes = await solid(300, 260, [255, 0, 128]).png().toBuffer();
    const out = await preprocess(bytes, imagenet, 1e8);
    expect(out.width).toBe(300);
    expect(out.height).toBe(260);
    expect(out.tensor).toBeInstanceOf(Float32Array);
    expect(out.tensor.length).toBe(3 * 224 * 224);
    const px = 224 * 224;
    expect(out.tensor[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(out.tensor[px + 100]).toBeCloseTo((0 - 0.456) / 0.224, 5);
    expect(out.tensor[2 * px + 5000]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 5);
  });

  it('applies EXIF orientation and reports oriented dimensions', async () => {
    // 40 wide x 20 tall, left half red; orientation 6 means "rotate 90° clockwise to view".
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) raw[(y * 40 + x) * 3] = 255;
    const bytes = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const out = await preprocess(bytes, stretch8, 1e8);
    expect([out.width, out.height]).toEqual([20, 40]);
    // After rotating clockwise, the red half is on top: top-left pixel red, bottom-left not.
    expect(out.tensor[0]).toBeGreaterThan(200);
    expect(out.tensor[(7 * 8 + 0) * 3]).toBeLessThan(50);
  });

  it('drops alpha and expands grayscale to RGB', async () => {
    const rgba = await solid(16, 16, [10, 200, 30], 0.5).png().toBuffer();
    const a = await preprocess(rgba, stretch8, 1e8);
    // libvips premultiplies alpha around the resize: colour survives to within one level.
    Array.from(a.tensor.slice(0, 3)).forEach((v, i) => expect(Math.abs(v - [10, 200, 30][i]!)).toBeLessThanOrEqual(1));
    expect(a.tensor.length).toBe(8 * 8 * 3);
    const grey = await solid(16, 16, [90, 90, 90]).grayscale().png().toBuffer();
    const g = await preprocess(grey, stretch8, 1e8);
    expect(g.tensor.length).toBe(8 * 8 * 3);
    expect(Array.from(g.tensor.slice(0, 3))).toEqual([90, 90, 90]);
  });

  it('turns every kind of bad input into a reason', async () => {
    const jpeg = await solid(64, 64, [1, 2, 3]).jpeg().toBuffer();
    expect(await reason(preprocess(new Uint8Array(0), stretch8, 1e8))).toBe('empty_bytes');
    expect(await reason(preprocess(Buffer.from('definitely not an image, just text'), stretch8, 1e8))).toBe('unsupported_format');
    expect(await reason(preprocess(jpeg.subarray(0, Math.floor(jpeg.length / 2)), stretch8, 1e8))).toBe('truncated');
    expect(await reason(preprocess(jpeg, stretch8, 64 * 64 - 1))).toBe('too_many_pixels');
    expect(await reason(preprocess(jpeg, stretch8, 64 * 64))).toBe('no error');
  });

  it('classifies libvips messages', () => {
    expect(classifySharpError(new Error('Input buffer contains unsupported image format')).reason).toBe('unsupported_format');
    expect(classifySharpError(new Error('Input image exceeds pixel limit')).reason).toBe('too_many_pixels');
    expect(classifySharpError(new Error('VipsJpeg: Premature end of input file')).reason).toBe('truncated');
    expect(classifySharpError(new Error('something odd')).reason).toBe('decode_failed');
  });

  it('a garbled libvips message (its error buffer is shared by threads) still gives truncated for a cut file', async () => {
    const jpeg = await solid(64, 64, [1, 2, 3]).jpeg().toBuffer();
    const png = await solid(64, 64, [1, 2, 3]).png().toBuffer();
    const gif = await solid(64, 64, [1, 2, 3]).gif().toBuffer();
    const webp = await solid(64, 64, [1, 2, 3]).webp().toBuffer();
    for (const whole of [jpeg, png, gif, webp]) {
      expect(endsEarly(whole)).toBe(false);
      expect(endsEarly(whole.subarray(0, whole.length - 5))).toBe(true);
      expect(classifySharpError(new Error('Unknown error'), whole.subarray(0, whole.length >> 1)).reason).toBe('truncated');
      expect(classifySharpError(new Error('Unknown error'), whole).reason).toBe('decode_failed');
    }
    expect(endsEarly(Buffer.concat([jpeg, Buffer.alloc(16)]))).toBe(false);
  });
});
