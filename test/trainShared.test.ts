/**
 * `imgpipe train` on a real backbone: the 100 ImageNet sample photos in ../shared, split into two
 * categories by class index (animals: 0–397, 40 photos; objects: 398–999, 60 photos), trained on
 * mobilenet-v2-embed (1280 floats). Held out: 30% per category with seed 1, i.e. 12 + 18 = 30
 * photos; the test asks for accuracy ≥ 0.85 (at most 4 mistakes; chance is 0.5). Skips, saying why,
 * when ../shared is absent.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imgpipe, lit, query, SHARED, tempDir } from './util/cli.js';

const MODELS = path.join(SHARED, 'models');
const IMAGES = path.join(SHARED, 'images', 'imagenet-sample');
const LABELS = path.join(IMAGES, 'labels.csv');
const present = [path.join(MODELS, 'mobilenet-v2-embed', 'model.json'), path.join(MODELS, 'mobilenet-v2', 'model.onnx'), LABELS].every((p) => existsSync(p));
if (!present) console.warn(`SKIP shared training test: ${MODELS} or ${LABELS} is absent (they live in ../shared beside the repository)`);

const MIN_ACCURACY = 0.85;

describe.skipIf(!present)('train on mobilenet-v2-embed: ImageNet animals vs objects', () => {
  const tmp = tempDir('imgpipe-train-shared-');
  const wh = path.join(tmp.dir, 'wh');
  const parts = path.join(tmp.dir, 'partitions');
  const out = path.join(tmp.dir, 'models');
  afterAll(() => tmp.cleanup());
  let result: {
    card: string;
    embeddings: { partition: string };
    counts: { per_class: Record<string, { used: number; holdout: number }>; overlap_left_out: number; error_left_out: number };
    metrics: { holdout: { n: number; accuracy: number; confusion: number[][] } };
  };

  beforeAll(async () => {
    // Copies (never links or writes into ../shared): animals/ and objects/ by ImageNet class index.
    const rows = (await query(`SELECT file, class_index FROM read_csv(${lit(LABELS)}, header = true)`)) as { file: string; class_index: number }[];
    expect(rows).toHaveLength(100);
    for (const dir of ['animals', 'objects']) mkdirSync(path.join(tmp.dir, 'photos', dir), { recursive: true });
    for (const r of rows) copyFileSync(path.join(IMAGES, r.file), path.join(tmp.dir, 'photos', Number(r.class_index) <= 397 ? 'animals' : 'objects', r.file));
    expect(imgpipe(['warehouse', 'init', '--warehouse', wh]).code).toBe(0);
    const imported = imgpipe(['warehouse', 'import', path.join(tmp.dir, 'photos'), '--warehouse', wh]);
    expect(imported.code, imported.stderr).toBe(0);
    const r = imgpipe([
      'train', '--warehouse', wh, '--partitions-dir', parts, '--backbone', 'mobilenet-v2-embed', '--models-dir', MODELS, '--out-dir', out,
      '--category', 'animals', '--category', 'objects', '--holdout', '0.3', '--seed', '1', '--snapshot', '2026-05-01', '--json', '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    result = JSON.parse(r.stdout);
  }, 300_000);

  it(`held-out accuracy ≥ ${MIN_ACCURACY} on 30 photos`, () => {
    const m = result.metrics.holdout;
    console.log(`mobilenet-v2-embed animals vs objects: held-out accuracy ${m.accuracy.toFixed(3)} (${m.n} photos), confusion ${JSON.stringify(m.confusion)}`);
    expect(result.counts.per_class.animals).toMatchObject({ used: 40, holdout: 12 });
    expect(result.counts.per_class.objects).toMatchObject({ used: 60, holdout: 18 });
    expect(result.counts).toMatchObject({ overlap_left_out: 0, error_left_out: 0 });
    expect(m.n).toBe(30);
    expect(m.accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
  });

  it('the composed model (mobilenet graph + head) scores like softmax(head(embedding)) within 1e-4', async () => {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', result.card, '--all', '--snapshot', '2026-05-01', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as { output: string; ok: number };
    expect(run.ok).toBe(100);
    const { labels, weights, bias } = JSON.parse(readFileSync(path.join(path.dirname(result.card), 'head.json'), 'utf8')) as { labels: string[]; weights: number[][]; bias: number[] };
    const rows = (await query(
      `SELECT c.top_k, e.embedding FROM read_parquet(${lit(path.join(run.output, '*.parquet'))}) c JOIN read_parquet(${lit(path.join(result.embeddings.partition, '*.parquet'))}) e USING (image_name)`,
    )) as { top_k: { label: string; score: number }[]; embedding: number[] }[];
    expect(rows).toHaveLength(100);
    let worst = 0;
    for (const row of rows) {
      const z = bias.map((b, c) => row.embedding.reduce((s, v, j) => s + v * weights[j]![c]!, b));
      const max = Math.max(...z);
      const p = z.map((v) => Math.exp(v - max));
      const sum = p.reduce((a, b) => a + b, 0);
      for (const t of row.top_k) worst = Math.max(worst, Math.abs(t.score - p[labels.indexOf(t.label)]! / sum));
    }
    console.log(`mobilenet-v2 composed vs head(embedding): max |Δp| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  }, 300_000);
});
