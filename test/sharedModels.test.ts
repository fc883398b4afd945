/**
 * The real pretrained models and photos in ../shared (when present): import the ImageNet sample, run
 * the unchanged `mobilenet-v2` and `mobilenet-v2-embed` cards, and compare with the PyTorch reference
 * outputs of the same weights. Skips, saying why, when ../shared is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imgpipe, lit, query, SHARED, tempDir } from './util/cli.js';

const MODELS = path.join(SHARED, 'models');
const IMAGES = path.join(SHARED, 'images', 'imagenet-sample');
const REFERENCE = path.join(MODELS, 'mobilenet-v2', 'reference-imagenet-sample.csv');
const present = [path.join(MODELS, 'mobilenet-v2', 'model.json'), path.join(MODELS, 'mobilenet-v2-embed', 'model.json'), IMAGES, REFERENCE].every((p) => existsSync(p));
if (!present) console.warn(`SKIP shared-model tests: ${MODELS} or ${IMAGES} is absent (they live in ../shared beside the repository)`);

describe.skipIf(!present)('real models from ../shared against the PyTorch reference', () => {
  const tmp = tempDir('imgpipe-shared-');
  const wh = path.join(tmp.dir, 'wh');
  const parts = path.join(tmp.dir, 'partitions');
  let reference: { file: string; top1_label: string; embedding_l2_norm: number }[];
  afterAll(() => tmp.cleanup());

  beforeAll(async () => {
    expect(imgpipe(['warehouse', 'init', '--warehouse', wh]).code).toBe(0);
    const imported = imgpipe(['warehouse', 'import', IMAGES, '--warehouse', wh]);
    expect(imported.code, imported.stderr).toBe(0);
    reference = (await query(`SELECT file, top1_label, embedding_l2_norm FROM read_csv(${lit(REFERENCE)}, header = true)`)) as typeof reference;
    expect(reference).toHaveLength(100);
  }, 300_000);

  const run = (model: string, extra: string[] = []) => {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--models-dir', MODELS, '--model', model, '--all', '--json', '--quiet', ...extra]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { output: string; ok: number; error: number; topology: string };
  };

  it('mobilenet-v2: top-1 agrees with PyTorch on at least 99 of the 100 photos (lanes, the default topology)', async () => {
    const result = run('mobilenet-v2');
    expect(result).toMatchObject({ ok: 100, error: 0 });
    const rows = await query(`SELECT image_name, label, score FROM read_parquet(${lit(path.join(result.output, '*.parquet'))})`);
    const byName = new Map(rows.map((r) => [r.image_name as string, r]));
    const agree = reference.filter((ref) => byName.get(ref.file)?.label === ref.top1_label).length;
    console.log(`mobilenet-v2 top-1 agreement with the PyTorch reference: ${agree}/100`);
    expect(agree).toBeGreaterThanOrEqual(99);
    // The pooled topology (decode threads → one session, batches) gives the same labels and scores.
    const pooled = run('mobilenet-v2', ['--topology', 'pooled', '--batch-size', '8', '--table', 'classifications_pooled']);
    expect(pooled).toMatchObject({ ok: 100, error: 0, topology: expect.stringMatching(/^pooled: /) });
    const pooledRows = await query(`SELECT image_name, label, score FROM read_parquet(${lit(path.join(pooled.output, '*.parquet'))})`);
    for (const r of pooledRows) {
      expect(r.label).toBe(byName.get(r.image_name as string)!.label);
      expect(Math.abs((r.score as number) - (byName.get(r.image_name as string)!.score as number))).toBeLessThan(1e-4);
    }
  }, 300_000);

  it('mobilenet-v2-embed: 1280-float embeddings whose norms are within 3% of the reference', async () => {
    const result = run('mobilenet-v2-embed');
    expect(result).toMatchObject({ ok: 100, error: 0 });
    const rows = await query(`SELECT image_name, embedding FROM read_parquet(${lit(path.join(result.output, '*.parquet'))})`);
    const byName = new Map(rows.map((r) => [r.image_name as string, r.embedding as number[]]));
    let worst = 0;
    for (const ref of reference) {
      const e = byName.get(ref.file)!;
      expect(e).toHaveLength(1280);
      const rel = Math.abs(Math.hypot(...e) - ref.embedding_l2_norm) / ref.embedding_l2_norm;
      worst = Math.max(worst, rel);
    }
    console.log(`mobilenet-v2-embed: worst relative norm difference ${(100 * worst).toFixed(2)}%`);
    expect(worst).toBeLessThan(0.03);
  }, 300_000);

  it('models add reads the graph and writes a card equal in preprocessing to the shipped one', () => {
    const out = path.join(tmp.dir, 'models');
    const r = imgpipe(['models', 'add', path.join(MODELS, 'mobilenet-v2', 'model.onnx'), '--name', 'mnv2', '--preset', 'imagenet', '--labels', path.join(MODELS, 'mobilenet-v2', 'labels.txt'), '--output', 'logits', '--models-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    const added = JSON.parse(readFileSync(path.join(out, 'mnv2', 'model.json'), 'utf8'));
    const shipped = JSON.parse(readFileSync(path.join(MODELS, 'mobilenet-v2', 'model.json'), 'utf8'));
    expect(added.input).toEqual(shipped.input);
    expect(added.sha256).toBe(shipped.sha256);
    expect(added.output).toEqual(shipped.output);
    const show = imgpipe(['models', 'show', 'mnv2', '--models-dir', out]);
    expect(show.code, show.stderr).toBe(0);
    const wrong = imgpipe(['models', 'add', path.join(MODELS, 'mobilenet-v2', 'model.onnx'), '--name', 'mnv2-bad', '--preset', 'imagenet', '--labels', path.join(IMAGES, 'labels.csv'), '--output', 'logits', '--models-dir', out]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Output "logits" has 1000 classes but .*labels\.csv has 101 labels/);
  });
});
