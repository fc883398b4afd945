/**
 * `imgpipe train` end to end on the demo warehouse, through the CLI: train color-embed + a head on
 * Sunsets vs Night_scenes (separable by colour; 6 images are in both, 1 is a truncated JPEG), check
 * the card and its training record, run the new model, compare its scores with "embedding, then
 * head" computed here, reuse of the embeddings, nothing lost when the partition grows, bad usage.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/model/loadModelCard.js';
import { ModelSession } from '../src/model/ModelSession.js';
import { readTrainingRecord } from '../src/train/TrainingRecord.js';
import { imgpipe, imgpipeCollect, lit, query, tempDir, imgpipeInProcess, copyDemoWarehouse } from './util/cli.js';
import { HiveServer2TestServer } from './util/hiveServer2.js';

const tmp = tempDir('imgpipe-train-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
const models = path.join(tmp.dir, 'models');
const SNAPSHOT = '2026-04-01';
const EMBEDDINGS = path.join(wh, 'embeddings', 'model=color-embed-1', `snapshot=${SNAPSHOT}`);
afterAll(() => tmp.cleanup());

/** Held-out accuracy the demo test requires: chance is 0.5 (two balanced-weight classes); we ask for 0.3 more. */
const MIN_ACCURACY = 0.8;

interface TrainJson {
  name: string;
  model: string;
  card: string;
  onnx: string;
  report: string | null;
  embeddings: { partition: string; run_id: string; reused: boolean };
  counts: { per_class: Record<string, { selected: number; overlap_left_out: number; error_left_out: number; used: number; train: number; holdout: number }>; overlap_left_out: number; error_left_out: number; errors_by_reason: Record<string, number> };
  metrics: { holdout: { n: number; accuracy: number; confusion: number[][]; labels: string[] }; train: { n: number; accuracy: number } };
  head: { converged: boolean; iterations: number };
}

const train = (...args: string[]) => imgpipe(['train', '--warehouse', wh, '--partitions-dir', parts, '--out-dir', models, '--snapshot', SNAPSHOT, '--quiet', ...args]);
/** The same in this process, for usage errors that end before anything is embedded. */
const trainInProcess = (...args: string[]) => imgpipeInProcess(['train', '--warehouse', wh, '--partitions-dir', parts, '--out-dir', models, '--snapshot', SNAPSHOT, '--quiet', ...args]);
const trainJson = (...args: string[]): TrainJson => {
  const r = train('--json', ...args);
  if (r.code !== 0) throw new Error(`imgpipe train exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as TrainJson;
};
const embeddingPlans = () => (existsSync(parts) ? readdirSync(parts).filter((d) => d.includes('-color-embed-1-')) : []);

beforeAll(() => {
  copyDemoWarehouse(wh);
}, 300_000);

describe('imgpipe train on the demo warehouse (color-embed, Sunsets vs Night_scenes)', () => {
  let first: TrainJson;
  beforeAll(() => {
    first = trainJson('--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'sunset-vs-night', '--seed', '7');
  }, 300_000);

  it(`held-out accuracy is at least ${MIN_ACCURACY} (chance 0.5), with images in both categories and error rows left out`, () => {
    const m = first.metrics.holdout;
    console.log(`demo Sunsets vs Night_scenes on color-embed: held-out accuracy ${m.accuracy} (${m.n} images), train ${first.metrics.train.accuracy}`);
    expect(m.accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
    expect(m.labels).toEqual(['Sunsets', 'Night_scenes']);
    expect(m.confusion.flat().reduce((a, b) => a + b, 0)).toBe(m.n);
    // Every 7th of the 44 generated sunsets is "Dusk_over_the_bay", in both categories: 6 left out.
    expect(first.counts.overlap_left_out).toBe(6);
    expect(first.counts.errors_by_reason).toEqual({ truncated: 1 }); // Broken_truncated.jpg is in Sunsets
    for (const c of Object.values(first.counts.per_class)) {
      expect(c.used).toBe(c.selected - c.overlap_left_out - c.error_left_out);
      expect(c.train + c.holdout).toBe(c.used);
    }
    expect(first.counts.per_class.Sunsets).toMatchObject({ overlap_left_out: 6, error_left_out: 1 });
    expect(first.head.converged).toBe(true);
    expect(first.embeddings).toMatchObject({ partition: EMBEDDINGS, reused: false });
  });

  it('writes a card that loads, records the training, and opens as a session', async () => {
    expect(first.card).toBe(path.join(models, 'sunset-vs-night', 'model.json'));
    const loaded = await loadModel(first.card);
    expect(loaded.card).toMatchObject({ name: 'sunset-vs-night', version: '1', task: 'classifier', output: { name: 'logits', activation: 'softmax', labels: ['Sunsets', 'Night_scenes'], top_k: 2 } });
    const backbone = await loadModel('color-embed');
    expect(loaded.card.input).toEqual(backbone.card.input);
    const record = readTrainingRecord(loaded.card.training)!;
    expect(record).not.toBeNull();
    expect(record.data).toMatchObject({ categories: ['Sunsets', 'Night_scenes'], depth: 0, snapshot: SNAPSHOT, warehouse: wh });
    expect(record.split).toMatchObject({ holdout: 0.2, seed: 7 });
    expect(record.backbone).toMatchObject({ name: 'color-embed', version: '1', sha256: backbone.card.sha256, normalize: 'l2' });
    expect(record.metrics.holdout.accuracy).toBe(first.metrics.holdout.accuracy);
    const session = await ModelSession.create(loaded);
    expect(session.outputWidth).toBe(2);
    await session.close();
    const show = imgpipe(['models', 'show', first.card]);
    expect(show.code, show.stderr).toBe(0);
    expect(existsSync(first.report!)).toBe(true);
  });

  it('`run` with the new card commits a table whose scores equal softmax(head(embedding)) within 1e-4', async () => {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', first.card, '--category', 'Landscapes', '--depth', '1', '--snapshot', SNAPSHOT, '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as { output: string; selected: number; ok: number; error: number };
    expect(run.output).toBe(path.join(wh, 'classifications', 'model=sunset-vs-night-1', `snapshot=${SNAPSHOT}`));
    expect(run.ok + run.error).toBe(run.selected);

    const head = JSON.parse(readFileSync(path.join(models, 'sunset-vs-night', 'head.json'), 'utf8')) as { labels: string[]; weights: number[][]; bias: number[] };
    const rows = (await query(
      `SELECT c.image_name, c.label, c.top_k, e.embedding FROM read_parquet(${lit(path.join(run.output, '*.parquet'))}) c
       JOIN read_parquet(${lit(path.join(EMBEDDINGS, '*.parquet'))}) e USING (image_name) WHERE c.status = 'ok' AND e.status = 'ok'`,
    )) as { image_name: string; label: string; top_k: { label: string; score: number }[]; embedding: number[] }[];
    expect(rows.length).toBeGreaterThanOrEqual(80); // every Sunsets and Night_scenes image embedded above
    let worst = 0;
    for (const row of rows) {
      const z = head.bias.map((b, c) => row.embedding.reduce((s, v, j) => s + v * head.weights[j]![c]!, b));
      const max = Math.max(...z);
      const p = z.map((v) => Math.exp(v - max));
      const sum = p.reduce((a, b) => a + b, 0);
      for (const t of row.top_k) worst = Math.max(worst, Math.abs(t.score - p[head.labels.indexOf(t.label)]! / sum));
    }
    console.log(`composed model vs head(embedding) in JS: max |Δp| = ${worst.toExponential(2)} over ${rows.length} images`);
    expect(worst).toBeLessThan(1e-4);
  });

  it('a second training on the same snapshot reuses the embeddings: no new run, same run_id in the table', async () => {
    const before = embeddingPlans();
    const runIds = await query(`SELECT DISTINCT run_id FROM read_parquet(${lit(path.join(EMBEDDINGS, '*.parquet'))})`);
    const second = trainJson('--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'again', '--seed', '7', '--no-report');
    expect(second.embeddings).toEqual({ ...first.embeddings, reused: true });
    expect(embeddingPlans()).toEqual(before);
    expect(await query(`SELECT DISTINCT run_id FROM read_parquet(${lit(path.join(EMBEDDINGS, '*.parquet'))})`)).toEqual(runIds);
    expect(runIds).toEqual([{ run_id: first.embeddings.run_id }]);
    expect(second.metrics).toEqual(first.metrics); // same data, same seed: the same head
    expect(second.report).toBeNull();
  });

  it('a training on other categories grows the embeddings partition and loses none of its images', async () => {
    const before = (await query(`SELECT image_name FROM read_parquet(${lit(path.join(EMBEDDINGS, '*.parquet'))}) ORDER BY 1`)).map((r) => r.image_name);
    const third = trainJson('--backbone', 'color-embed', '--category', 'Maiolica', '--category', 'Textures', '--no-report');
    expect(third.embeddings.reused).toBe(false);
    expect(third.counts.overlap_left_out).toBe(8); // every 5th of 40 maiolica images is a tile pattern, also in Textures
    const after = new Set((await query(`SELECT image_name FROM read_parquet(${lit(path.join(EMBEDDINGS, '*.parquet'))})`)).map((r) => r.image_name));
    for (const name of before) expect(after.has(name)).toBe(true);
    expect(after.size).toBeGreaterThan(before.length);
    console.log(`demo Maiolica vs Textures on color-embed: held-out accuracy ${third.metrics.holdout.accuracy} (${third.metrics.holdout.n} images)`);
  });
});

describe('bad usage fails fast with exit 2 and a message that names the problem', () => {
  it.each([
    [['--backbone', 'color-embed', '--category', 'Sunsets'], /Expected at least 2 categories for --category but received 1/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Sunsets'], /Expected distinct categories for --category but received "Sunsets", "Sunsets"/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--holdout', '1.5'], /Expected number between 0 and 1 \(exclusive\) for --holdout but received "1.5" of type string/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--holdout', 'half'], /Expected number between 0 and 1 \(exclusive\) for --holdout but received "half"/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--l2', '-1'], /Expected number between 0 and 1000 for --l2 but received "-1"/],
    [['--backbone', 'no-such-model', '--category', 'Sunsets', '--category', 'Night_scenes'], /Unknown model "no-such-model"/],
    [['--backbone', 'quality-basic', '--category', 'Sunsets', '--category', 'Night_scenes'], /Expected an embedding model for --backbone but quality-basic \(.*\) is a classifier/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'No_such_category'], /No category named "No_such_category"/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Demo'], /Expected images in category "Demo" but it selects none/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'Bad Name'], /Expected a model name of lower-case letters, digits, "\.", "_" or "-" for --name but received "Bad Name"/],
    [['--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'sunset-vs-night'], /A model named sunset-vs-night already exists at .*; pass --force to replace it/],
    [['--category', 'Sunsets', '--category', 'Night_scenes'], /--backbone NAME\|CARD is required/],
  ])('train %j', async (args, message) => {
    const r = await trainInProcess(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a category with a single usable image cannot be split', () => {
    // Broken_files holds the five broken demo files: none of them embeds.
    const r = train('--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Broken_files', '--name', 'broken');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Expected at least 2 usable images in category "Broken_files" \(one to train on, one to hold out\) but found 0: 5 selected, 1 also in another of the categories, 4 error rows/);
    expect(existsSync(path.join(models, 'broken'))).toBe(false);
  }, 120_000);

  it('--help lists the flags and examples', () => {
    const help = imgpipe(['train', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--backbone', '--category', '--depth', '--holdout', '--seed', '--l2', '--name', '--models-dir', '--out-dir', '--snapshot', '--force']) expect(help.stdout).toContain(flag);
    expect(help.stdout).toContain('Examples:');
  });
});

describe('imgpipe train from a list of labelled images (--labels FILE, --labels-sql)', () => {
  const labelsCsv = path.join(tmp.dir, 'labels.csv');
  let sunsets: string[];
  let nights: string[];

  beforeAll(async () => {
    const names = async (category: string) =>
      (await query(`SELECT i.image_name FROM read_parquet(${lit(path.join(wh, 'categorylinks', '*.parquet'))}) cl JOIN read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) i USING (page_id) WHERE cl.category = ${lit(category)} ORDER BY 1`)).map((r) => String(r.image_name));
    sunsets = await names('Sunsets');
    nights = await names('Night_scenes');
    // Every sunset and night scene, a name listed twice with one label, one not in the warehouse;
    // names in both categories get both labels (ambiguous, left out).
    const rows = ['image_name,label', ...sunsets.map((n) => `"${n}",sunset`), ...nights.map((n) => `"${n}",night`), `"${nights[0]}",night`, 'Not_in_the_warehouse.jpg,night'];
    writeFileSync(labelsCsv, rows.join('\n') + '\n');
  });

  it('--labels FILE.csv: labels sorted, ambiguous and unknown names left out, same split, metrics and card', async () => {
    const result = trainJson('--backbone', 'color-embed', '--labels', labelsCsv, '--name', 'labels-csv', '--seed', '7', '--no-report');
    const both = sunsets.filter((n) => nights.includes(n)).length;
    expect(both).toBe(6);
    expect(result.metrics.holdout.labels).toEqual(['night', 'sunset']);
    expect(result.metrics.holdout.accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
    expect(result.counts.overlap_left_out).toBe(both);
    expect(result.counts.per_class.sunset).toMatchObject({ selected: sunsets.length, overlap_left_out: both, error_left_out: 1 });
    expect(result.counts.per_class.night).toMatchObject({ selected: nights.length, overlap_left_out: both });
    const loaded = await loadModel(result.card);
    expect(loaded.card.output).toMatchObject({ labels: ['night', 'sunset'] });
    const record = readTrainingRecord(loaded.card.training)!;
    expect(record.data).toMatchObject({ labels_from: `--labels ${labelsCsv}`, not_found_left_out: 1, categories: ['night', 'sunset'], warehouse: wh });
  }, 300_000);

  it('--labels-sql: labels from a query on the warehouse', () => {
    const result = trainJson('--backbone', 'color-embed', '--name', 'labels-sql', '--seed', '7', '--no-report', '--labels-sql',
      "SELECT i.image_name, lower(cl.category) AS label FROM categorylinks cl JOIN image i USING (page_id) WHERE cl.category IN ('Sunsets', 'Night_scenes')");
    expect(result.metrics.holdout.labels).toEqual(['night_scenes', 'sunsets']);
    expect(result.counts.overlap_left_out).toBe(6);
    expect(result.metrics.holdout.accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
  }, 300_000);

  it.each([
    [['--labels', 'labels.txt', '--name', 'x'], 'Expected a .csv or .parquet file with image_name and label columns for --labels but received "labels.txt" of type string'],
    [['--labels', 'LABELS', '--category', 'Sunsets', '--name', 'x'], 'Expected one of --category (repeated), --labels, --labels-sql but received --category and --labels'],
    [['--labels', 'LABELS'], '--name NAME is required with --labels and --labels-sql'],
    [['--labels-sql', 'SELECT image_name FROM image', '--name', 'x'], '--labels-sql must return columns named image_name and label'],
    [['--labels-sql', "SELECT image_name, 'a' AS label FROM image", '--name', 'x'], 'Expected at least 2 distinct labels in --labels-sql but received 1 ("a")'],
  ])('train %j exits 2', async (args, message) => {
    const r = await trainInProcess('--backbone', 'color-embed', ...args.map((a) => (a === 'LABELS' ? labelsCsv : a)));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('a labels file without the columns names what it found', () => {
    const bad = path.join(tmp.dir, 'bad.csv');
    writeFileSync(bad, 'name,class\na.jpg,x\n');
    const r = train('--backbone', 'color-embed', '--labels', bad, '--name', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Expected columns image_name and label in --labels ${bad} but found name, class`);
  });
});

describe('imgpipe train --catalog hive (HiveServer2 test double, NOSASL, bytes from Hive)', () => {
  let server: HiveServer2TestServer;
  const table = path.join(tmp.dir, 'hive-tables', 'embeddings');

  beforeAll(async () => {
    server = await HiveServer2TestServer.start({
      setup: async (c) => {
        await c.run('CREATE SCHEMA commons');
        for (const t of ['image', 'image_bytes', 'categorylinks', 'category_parent']) {
          await c.run(`CREATE TABLE commons.${t} AS SELECT * FROM read_parquet(${lit(path.join(wh, t, '*.parquet'))})`);
        }
      },
    });
  }, 120_000);
  afterAll(async () => server?.close());

  it('selects through Hive, embeds with Hive bytes into --table-location, registers the partition, trains', async () => {
    const r = await imgpipeCollect([
      'train', '--catalog', 'hive', '--hive', server.address, '--hive-auth', 'nosasl', '--hive-user', 'trainer', '--table-location', table,
      '--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'hive-trained', '--seed', '7',
      '--partitions-dir', parts, '--out-dir', models, '--snapshot', '2026-04-02', '--json', '--quiet', '--no-report',
    ]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(r.stdout) as TrainJson;
    expect(result.metrics.holdout.accuracy).toBeGreaterThanOrEqual(MIN_ACCURACY);
    expect(result.counts.overlap_left_out).toBe(6);
    expect(result.counts.errors_by_reason).toEqual({ truncated: 1 });
    expect(result.embeddings.partition).toBe(path.join(table, 'model=color-embed-1', 'snapshot=2026-04-02'));
    expect(server.metastore.get('commons.embeddings')?.partitions.has('model=color-embed-1/snapshot=2026-04-02')).toBe(true);
    const record = readTrainingRecord((await loadModel(result.card)).card.training)!;
    expect(record.data.warehouse).toBe(`hive://${server.address}/commons`);
    // The training set was resolved by name through Hive, and the bytes came from Hive's image_bytes.
    const sent = server.queries();
    expect(sent.some((s) => s.startsWith('SELECT i.image_name AS image_name, i.page_id AS page_id, i.sha1 AS sha1 FROM `commons`.`image` i WHERE i.image_name IN ('))).toBe(true);
    expect(sent.some((s) => s.startsWith('SELECT image_name, bytes FROM `commons`.`image_bytes`'))).toBe(true);
    expect(server.statements.filter((s) => s.user !== 'trainer')).toEqual([]);
  }, 300_000);

  it('needs --table-location with --catalog hive (exit 2)', async () => {
    const r = await imgpipeCollect(['train', '--catalog', 'hive', '--hive', server.address, '--hive-auth', 'nosasl', '--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--out-dir', models, '--name', 'no-location']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--table-location DIR is required with --catalog hive: the embeddings table's folder");
  });
});
