import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_MODELS, buildModels } from '../scripts/buildModels.js';
import { RGB_TO_YCBCR, YCBCR_OFFSET } from '../scripts/builtinModels/colorEmbedModel.js';
import { QUALITY_GAINS, QUALITY_LABELS, QUALITY_THRESHOLDS } from '../scripts/builtinModels/qualityBasicModel.js';
import { modelCardSchema } from '../src/model/ModelCard.js';

const COMMITTED = fileURLToPath(new URL('../models', import.meta.url));

/** An image as the model sees it: planar [3, size, size] float32 in 0..1. */
type Planar = Float32Array;

function uniform(size: number, r: number, g = r, b = r): Planar {
  const img = new Float32Array(3 * size * size);
  img.fill(r, 0, size * size).fill(g, size * size, 2 * size * size).fill(b, 2 * size * size);
  return img;
}

/** mulberry32: a seeded PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random `block`×`block` cells, each channel of each cell `lo` or `hi`: sharp edges, high contrast. */
function blocks(size: number, block: number, seed: number, lo = 0, hi = 1): Planar {
  const rand = prng(seed);
  const cells = size / block;
  const values = Array.from({ length: 3 * cells * cells }, () => (rand() < 0.5 ? lo : hi));
  const img = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) img[(c * size + y) * size + x] = values[(c * cells + Math.floor(y / block)) * cells + Math.floor(x / block)]!;
  return img;
}

/** Separable Gaussian blur, kernel radius ceil(3σ), edges clamped. */
function gaussianBlur(img: Planar, size: number, sigma: number): Planar {
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const clamp = (v: number): number => Math.min(size - 1, Math.max(0, v));
  const pass = (src: Planar, horizontal: boolean): Planar => {
    const out = new Float32Array(src.length);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          let acc = 0;
          for (let k = -radius; k <= radius; k++) {
            const [sx, sy] = horizontal ? [clamp(x + k), y] : [x, clamp(y + k)];
            acc += kernel[k + radius]! * src[(c * size + sy) * size + sx]!;
          }
          out[(c * size + y) * size + x] = acc / total;
        }
    return out;
  };
  return pass(pass(img, true), false);
}

/** [brightness, contrast, sharpness] as defined in qualityBasicModel.ts, in float64. */
function qualityFeatures(img: Planar, size: number): [number, number, number] {
  const n = size * size;
  const luma = Float64Array.from({ length: n }, (_, i) => 0.299 * img[i]! + 0.587 * img[n + i]! + 0.114 * img[2 * n + i]!);
  const mean = luma.reduce((a, b) => a + b, 0) / n;
  const variance = luma.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  let lapSq = 0;
  for (let y = 1; y < size - 1; y++)
    for (let x = 1; x < size - 1; x++) {
      const i = y * size + x;
      lapSq += (luma[i - 1]! + luma[i + 1]! + luma[i - size]! + luma[i + size]! - 4 * luma[i]!) ** 2;
    }
  return [mean, Math.sqrt(variance), Math.sqrt(lapSq / (size - 2) ** 2)];
}

function batch(images: Planar[], size: number): ort.Tensor {
  const data = new Float32Array(images.length * 3 * size * size);
  images.forEach((img, i) => data.set(img, i * img.length));
  return new ort.Tensor('float32', data, [images.length, 3, size, size]);
}

function rows(tensor: ort.Tensor): Float32Array[] {
  const [n, width] = tensor.dims as [number, number];
  const data = tensor.data as Float32Array;
  return Array.from({ length: n }, (_, i) => data.subarray(i * width, (i + 1) * width));
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('buildModels', () => {
  let dirA = '';
  let dirB = '';
  beforeAll(async () => {
    dirA = await mkdtemp(path.join(tmpdir(), 'imgpipe-models-a-'));
    dirB = await mkdtemp(path.join(tmpdir(), 'imgpipe-models-b-'));
  });
  afterAll(async () => {
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  });

  it('writes the same bytes twice, and cards that validate and hash their ONNX file', async () => {
    const writtenA = await buildModels(dirA);
    await buildModels(dirB);
    const files = await listFiles(dirA);
    expect(files).toEqual([
      'color-embed/model.json',
      'color-embed/model.onnx',
      'quality-basic/labels.txt',
      'quality-basic/model.json',
      'quality-basic/model.onnx',
    ]);
    expect(writtenA.map((f) => path.relative(dirA, f)).sort()).toEqual(files);
    expect(await listFiles(dirB)).toEqual(files);
    for (const file of files) {
      expect(Buffer.compare(await readFile(path.join(dirA, file)), await readFile(path.join(dirB, file))), file).toBe(0);
    }
    for (const model of BUILT_IN_MODELS) {
      const text = await readFile(path.join(dirA, model.name, 'model.json'), 'utf8');
      expect(text.endsWith('}\n')).toBe(true);
      const card = modelCardSchema.parse(JSON.parse(text));
      expect(card.name).toBe(model.name);
      const onnx = await readFile(path.join(dirA, model.name, card.onnx));
      expect(card.sha256).toBe(createHash('sha256').update(onnx).digest('hex'));
    }
    expect(await readFile(path.join(dirA, 'quality-basic/labels.txt'), 'utf8')).toBe('too_dark\noverexposed\nlow_contrast\nblurry\nok\n');
  });

  it('matches the committed models/ byte for byte', async () => {
    await buildModels(dirA);
    for (const model of BUILT_IN_MODELS) {
      const fresh = await listFiles(path.join(dirA, model.name));
      expect(await listFiles(path.join(COMMITTED, model.name))).toEqual(fresh);
      for (const file of fresh) {
        const committed = await readFile(path.join(COMMITTED, model.name, file));
        const built = await readFile(path.join(dirA, model.name, file));
        expect(Buffer.compare(committed, built), `models/${model.name}/${file} differs from a fresh build; run npm run build-models`).toBe(0);
      }
    }
  });
});

describe('quality-basic', () => {
  const SIZE = 128;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(COMMITTED, 'quality-basic/model.onnx'));
  });
  afterAll(async () => {
    await session.release();
  });

  async function logits(images: Planar[]): Promise<Float32Array[]> {
    const out = await session.run({ input: batch(images, SIZE) });
    expect(out.logits!.dims).toEqual([images.length, QUALITY_LABELS.length]);
    return rows(out.logits!);
  }

  const texture = blocks(SIZE, 8, 42);
  const blurred = gaussianBlur(texture, SIZE, 3);
  const cases: [string, Planar, (typeof QUALITY_LABELS)[number]][] = [
    ['near-black', uniform(SIZE, 5 / 255), 'too_dark'],
    ['near-white', uniform(SIZE, 250 / 255), 'overexposed'],
    ['mid-grey', uniform(SIZE, 128 / 255), 'low_contrast'],
    ['sharp random blocks', texture, 'ok'],
    ['the blocks blurred, sigma 3', blurred, 'blurry'],
    ['dark sharp blocks', blocks(SIZE, 8, 7, 0, 0.3), 'too_dark'],
    ['bright sharp blocks', blocks(SIZE, 8, 7, 0.85, 1), 'overexposed'],
    ['faint sharp blocks', blocks(SIZE, 8, 7, 0.48, 0.56), 'low_contrast'],
  ];

  it('the test images measure as intended', () => {
    const [, contrast, sharpness] = qualityFeatures(texture, SIZE);
    expect(contrast).toBeGreaterThan(0.3);
    expect(sharpness).toBeGreaterThan(0.3);
    const [, blurredContrast, blurredSharpness] = qualityFeatures(blurred, SIZE);
    expect(blurredContrast).toBeGreaterThan(2 * QUALITY_THRESHOLDS.FLAT_BELOW);
    expect(blurredSharpness).toBeLessThan(0.7 * QUALITY_THRESHOLDS.BLURRY_BELOW);
  });

  it('labels a batch of images by rule, crisply', async () => {
    const out = await logits(cases.map(([, img]) => img));
    const labels = out.map((row) => QUALITY_LABELS[row.indexOf(Math.max(...row))]);
    expect(Object.fromEntries(cases.map(([name], i) => [name, labels[i]]))).toEqual(
      Object.fromEntries(cases.map(([name, , label]) => [name, label])),
    );
    for (const row of out) expect(Math.max(...softmax(row))).toBeGreaterThan(0.999);
  });

  it('computes brightness, contrast and sharpness as the JS reference does', async () => {
    const { DARK_BELOW, FLAT_BELOW, BLURRY_BELOW } = QUALITY_THRESHOLDS;
    const { G_EXPOSURE, G_CONTRAST, G_SHARPNESS } = QUALITY_GAINS;
    const out = await logits(cases.map(([, img]) => img));
    cases.forEach(([name, img], i) => {
      const row = out[i]!;
      // Each problem logit is gain × margin, so the features can be read back from the logits.
      const measured = [DARK_BELOW - row[0]! / G_EXPOSURE, FLAT_BELOW - row[2]! / G_CONTRAST, BLURRY_BELOW - row[3]! / G_SHARPNESS];
      const expected = qualityFeatures(img, SIZE);
      measured.forEach((v, k) => expect(Math.abs(v - expected[k]!), `${name} feature ${k}: ${v} vs ${expected[k]}`).toBeLessThan(1e-4)); // float32 sums over 16384 pixels
      expect(row[1]).toBeCloseTo(-row[0]! + G_EXPOSURE * (DARK_BELOW - QUALITY_THRESHOLDS.BRIGHT_ABOVE), 1);
      expect(row[4]).toBe(0);
    });
  });

  it('puts the brightness boundaries of flat images within 0.01 of the thresholds', async () => {
    const { DARK_BELOW, BRIGHT_ABOVE } = QUALITY_THRESHOLDS;
    const out = await logits([DARK_BELOW - 0.01, DARK_BELOW + 0.01, BRIGHT_ABOVE - 0.01, BRIGHT_ABOVE + 0.01].map((v) => uniform(SIZE, v)));
    expect(out.map((row) => QUALITY_LABELS[row.indexOf(Math.max(...row))])).toEqual(['too_dark', 'low_contrast', 'low_contrast', 'overexposed']);
  });

  it('gives each image the same logits alone as in a batch', async () => {
    const all = await logits(cases.map(([, img]) => img));
    for (const [i, [, img]] of cases.entries()) {
      const [alone] = await logits([img]);
      expect(Array.from(alone!)).toEqual(Array.from(all[i]!));
    }
  });
});

describe('color-embed', () => {
  const SIZE = 64;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(COMMITTED, 'color-embed/model.onnx'));
  });
  afterAll(async () => {
    await session.release();
  });

  /** Direct computation: YCbCr per pixel, then the mean of each 16×16 cell; Y, Cb, Cr blocks of 16. */
  function colourLayout(img: Planar): number[] {
    const n = SIZE * SIZE;
    const out: number[] = [];
    for (let ch = 0; ch < 3; ch++)
      for (let cy = 0; cy < 4; cy++)
        for (let cx = 0; cx < 4; cx++) {
          let acc = 0;
          for (let y = cy * 16; y < cy * 16 + 16; y++)
            for (let x = cx * 16; x < cx * 16 + 16; x++) {
              const i = y * SIZE + x;
              const [wr, wg, wb] = RGB_TO_YCBCR[ch]!;
              acc += wr * img[i]! + wg * img[n + i]! + wb * img[2 * n + i]! + YCBCR_OFFSET[ch]!;
            }
          out.push(acc / 256);
        }
    return out;
  }

  function noise(seed: number): Planar {
    const rand = prng(seed);
    return Float32Array.from({ length: 3 * SIZE * SIZE }, rand);
  }

  it('embeds a batch as [N, 48] equal to the direct YCbCr cell means', async () => {
    const images = [uniform(SIZE, 1, 0, 0), uniform(SIZE, 0, 0, 1), noise(1), blocks(SIZE, 16, 3), blocks(SIZE, 4, 5)];
    const out = await session.run({ input: batch(images, SIZE) });
    expect(out.embedding!.dims).toEqual([images.length, 48]);
    rows(out.embedding!).forEach((row, i) => {
      const expected = colourLayout(images[i]!);
      const worst = Math.max(...Array.from(row, (v, k) => Math.abs(v - expected[k]!)));
      expect(worst, `image ${i}`).toBeLessThan(1e-4);
    });
  });

  it('puts a red image above a blue one in every Cr cell, and below it in every Cb cell', async () => {
    const out = await session.run({ input: batch([uniform(SIZE, 1, 0, 0), uniform(SIZE, 0, 0, 1)], SIZE) });
    const [red, blue] = rows(out.embedding!) as [Float32Array, Float32Array];
    for (let cell = 0; cell < 16; cell++) {
      expect(red[32 + cell]).toBeCloseTo(1, 5); // Cr of pure red: 0.5 + 0.5
      expect(blue[32 + cell]).toBeCloseTo(0.418688, 5);
      expect(red[16 + cell]).toBeCloseTo(0.331264, 5);
      expect(blue[16 + cell]).toBeCloseTo(1, 5);
      expect(red[cell]).toBeCloseTo(0.299, 5);
      expect(blue[cell]).toBeCloseTo(0.114, 5);
    }
  });
});
