/**
 * End to end through the CLI, in a temporary folder: init --demo, run each built-in model, then read
 * the committed tables back with DuckDB (an independent reader) and check the contract. A run is
 * killed while a fault hook holds it mid-way (IMGPIPE_FAULT_HOLD_AFTER_DONE), then resumed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, cpSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EXPECTED_ERRORS } from '../src/warehouse/demo/demoImages.js';
import { imgpipe, imgpipeHeld, imgpipeInProcess, lit, query, REPO, tempDir, copyDemoWarehouse } from './util/cli.js';

const tmp = tempDir('imgpipe-e2e-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
afterAll(() => tmp.cleanup());

const tableGlob = (table: string) => lit(path.join(wh, table, '*', '*', '*.parquet'));
const snapshotGlob = (output: string) => lit(path.join(output, '*.parquet'));
const runJson = (args: string[]) => {
  const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--json', '--quiet', ...args]);
  if (r.code !== 0) throw new Error(`imgpipe run exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { run_id: string; output: string; selected: number; ok: number; error: number; images_per_s: number };
};

let imageTable: { image_name: string; page_id: bigint; width: number | null; height: number | null }[];

beforeAll(async () => {
  copyDemoWarehouse(wh);
  imageTable = (await query(`SELECT image_name, page_id, width, height FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) ORDER BY 1`)) as typeof imageTable;
}, 300_000);

describe('imgpipe run, classifier over the demo warehouse', () => {
  let result: ReturnType<typeof runJson>;
  beforeAll(() => {
    result = runJson(['--model', 'quality-basic', '--all', '--partition-size', '64', '--snapshot', '2026-01-01']);
  }, 300_000);

  it('reports the run as the contract says', () => {
    expect(result.selected).toBe(imageTable.length);
    expect(result.ok + result.error).toBe(imageTable.length);
    expect(result.error).toBe(Object.keys(DEMO_EXPECTED_ERRORS).length);
    expect(result.output).toBe(path.join(wh, 'classifications', 'model=quality-basic-1', 'snapshot=2026-01-01'));
    expect(result.images_per_s).toBeGreaterThan(0);
  });

  it('commits every selected image exactly once, atomically, with no staging left', async () => {
    const rows = await query(`SELECT image_name, count(*) AS n FROM read_parquet(${snapshotGlob(result.output)}) GROUP BY 1 ORDER BY 1`);
    expect(rows.map((r) => r.image_name)).toEqual(imageTable.map((r) => r.image_name));
    expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    expect(existsSync(path.join(result.output, '_SUCCESS'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(result.output, '_summary.json'), 'utf8')).run_id).toBe(result.run_id);
    expect(existsSync(path.join(wh, 'classifications', '_staging'))).toBe(false);
  });

  it('writes the contract types, with model and snapshot as Hive partition columns', async () => {
    const cols = await query(`DESCRIBE SELECT * FROM read_parquet(${tableGlob('classifications')}, hive_partitioning = true)`);
    expect(Object.fromEntries(cols.map((c) => [c.column_name, c.column_type]))).toEqual({
      image_name: 'VARCHAR', page_id: 'BIGINT', sha1: 'VARCHAR', status: 'VARCHAR', error: 'VARCHAR', label: 'VARCHAR',
      score: 'FLOAT', top_k: 'STRUCT("label" VARCHAR, score FLOAT)[]', embedding: 'FLOAT[]', width: 'INTEGER', height: 'INTEGER',
      run_id: 'VARCHAR', processed_at: 'TIMESTAMP',
      // The detector's columns (null for a classifier): one schema for every result table.
      detections: 'STRUCT("label" VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[]', keypoints: 'FLOAT[][]', count: 'INTEGER',
      max_area_ratio: 'FLOAT', sum_area_ratio: 'FLOAT',
      model: 'VARCHAR', snapshot: 'DATE',
    });
  });

  it('turns every broken demo image into an error row with the right reason, and nothing else', async () => {
    const errors = await query(`SELECT image_name, error, label, top_k FROM read_parquet(${snapshotGlob(result.output)}) WHERE status = 'error' ORDER BY 1`);
    expect(Object.fromEntries(errors.map((r) => [r.image_name, r.error]))).toEqual(DEMO_EXPECTED_ERRORS);
    expect(errors.every((r) => r.label === null && r.top_k === null)).toBe(true);
  });

  it('ok rows carry label, score and top_k consistent with each other and the image table', async () => {
    const rows = await query(`SELECT r.*, i.page_id AS i_page_id, i.width AS i_width, i.height AS i_height FROM read_parquet(${snapshotGlob(result.output)}) r JOIN read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) i USING (image_name) WHERE status = 'ok'`);
    const labels = new Set(['too_dark', 'overexposed', 'low_contrast', 'blurry', 'ok']);
    for (const r of rows) {
      const topK = r.top_k as { label: string; score: number }[];
      expect(topK).toHaveLength(3);
      expect(topK[0]!.label).toBe(r.label);
      expect(topK[0]!.score).toBe(r.score);
      expect(topK[0]!.score).toBeGreaterThanOrEqual(topK[1]!.score);
      expect(topK[1]!.score).toBeGreaterThanOrEqual(topK[2]!.score);
      expect(labels.has(r.label as string)).toBe(true);
      expect(r.page_id).toBe(r.i_page_id);
      expect([r.width, r.height]).toEqual([r.i_width, r.i_height]);
      expect(r.embedding).toBeNull();
      expect(r.run_id).toBe(result.run_id);
    }
    // The demo set is made so the quality model sees several kinds of image.
    expect(new Set(rows.map((r) => r.label)).size).toBeGreaterThanOrEqual(4);
  });

  it('registers the partition: the warehouse views see the committed table', async () => {
    const views = readFileSync(path.join(wh, 'views.sql'), 'utf8');
    const rows = await query(`${views}\nSELECT count(*) AS n FROM classifications WHERE model = 'quality-basic-1' AND snapshot = DATE '2026-01-01'`);
    expect(Number(rows[0]!.n)).toBe(imageTable.length);
  });

  it('re-running the same model and snapshot replaces the partition', async () => {
    const again = runJson(['--model', 'quality-basic', '--all', '--partition-size', '200', '--snapshot', '2026-01-01', '--compact-below', '0']);
    const rows = await query(`SELECT run_id, count(*) AS n FROM read_parquet(${snapshotGlob(again.output)}) GROUP BY 1`);
    expect(rows).toEqual([{ run_id: again.run_id, n: BigInt(imageTable.length) }]);
    expect(readdirSync(again.output).filter((f) => f.endsWith('.parquet'))).toHaveLength(Math.ceil(imageTable.length / 200));
  });
});

describe('imgpipe run, embedding over a category tree', () => {
  /** Images in category C and its subcategories down to depth, computed here from the raw tables. */
  async function expectedCategorySet(category: string, depth: number): Promise<string[]> {
    const parents = await query(`SELECT category, parent FROM read_parquet(${lit(path.join(wh, 'category_parent', '*.parquet'))})`);
    const links = await query(`SELECT page_id, category FROM read_parquet(${lit(path.join(wh, 'categorylinks', '*.parquet'))})`);
    let frontier = new Set([category]);
    const all = new Set([category]);
    for (let d = 0; d < depth; d++) {
      frontier = new Set(parents.filter((p) => frontier.has(p.parent as string)).map((p) => p.category as string));
      frontier.forEach((c) => all.add(c));
    }
    const pages = new Set(links.filter((l) => all.has(l.category as string)).map((l) => l.page_id as bigint));
    return imageTable.filter((i) => pages.has(i.page_id)).map((i) => i.image_name).sort();
  }

  it('--category with --depth selects the category tree, each image once, with unit-norm embeddings', async () => {
    for (const depth of [0, 1, 2]) {
      // Objects → Pottery → Maiolica: each level adds images.
      const expected = await expectedCategorySet('Objects', depth);
      if (depth > 0) expect(expected.length).toBeGreaterThan((await expectedCategorySet('Objects', depth - 1)).length);
      const r = runJson(['--model', 'color-embed', '--category', 'Objects', '--depth', String(depth), '--snapshot', `2026-02-0${depth + 1}`]);
      const rows = await query(`SELECT image_name, status, embedding FROM read_parquet(${snapshotGlob(r.output)}) ORDER BY 1`);
      expect(rows.map((x) => x.image_name)).toEqual(expected);
      for (const x of rows.filter((x) => x.status === 'ok')) {
        const e = x.embedding as number[];
        expect(e).toHaveLength(48);
        expect(Math.hypot(...e)).toBeCloseTo(1, 4);
      }
    }
  });

  it('--sql selects by the user query; a name with no image becomes a missing_bytes row', async () => {
    const r = runJson(['--model', 'color-embed', '--table', 'sql_test', '--sql', "SELECT 'No_such_file.jpg' AS image_name UNION ALL SELECT image_name FROM image WHERE width >= 1000"]);
    const rows = await query(`SELECT image_name, status, error FROM read_parquet(${snapshotGlob(r.output)}) ORDER BY 1`);
    const wide = imageTable.filter((i) => (i.width ?? 0) >= 1000).map((i) => i.image_name);
    expect(wide.length).toBeGreaterThan(0);
    expect(rows.map((x) => x.image_name)).toEqual(['No_such_file.jpg', ...wide].sort());
    expect(rows.find((x) => x.image_name === 'No_such_file.jpg')).toEqual({ image_name: 'No_such_file.jpg', status: 'error', error: 'missing_bytes' });
  });
});

describe('interrupted and resumed runs', () => {
  it('a run killed with SIGKILL and resumed gives the same table as an uninterrupted run', async () => {
    const args = ['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'color-embed', '--all', '--partition-size', '8', '--threads', '1', '--batch-size', '2', '--quiet'];
    // The run commits 3 partitions and holds every later one (a fault hook): it is provably mid-way
    // (3 of 38 done) when killed, however fast the machine.
    const { child, closed } = await imgpipeHeld([...args, '--snapshot', '2026-03-01'], 3);
    child.kill('SIGKILL');
    await closed;
    expect(child.signalCode).toBe('SIGKILL');
    const runDir = path.join(parts, readdirSync(parts).find((d) => existsSync(path.join(parts, d, 'run.json')) && JSON.parse(readFileSync(path.join(parts, d, 'run.json'), 'utf8')).snapshot === '2026-03-01')!);
    const runId = path.basename(runDir);
    const snapshotDir = path.join(wh, 'embeddings', 'model=color-embed-1', 'snapshot=2026-03-01');
    expect(existsSync(snapshotDir)).toBe(false); // nothing visible from the killed run
    const doneBefore = readdirSync(runDir).filter((f) => f.endsWith('.done.json'));
    const mtimes = Object.fromEntries(doneBefore.map((f) => [f, statSync(path.join(runDir, f)).mtimeMs]));
    const total = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')).partitions as number;
    expect([doneBefore.length, total]).toEqual([3, Math.ceil(imageTable.length / 8)]);

    const resumed = imgpipe(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).output).toBe(snapshotDir);
    // Partitions done before the kill were not run again.
    for (const f of doneBefore) expect(statSync(path.join(runDir, f)).mtimeMs).toBe(mtimes[f]);

    const full = imgpipe([...args, '--snapshot', '2026-03-02', '--json']);
    expect(full.code, full.stderr).toBe(0);
    const cols = 'image_name, page_id, sha1, status, error, label, score, top_k, embedding, width, height';
    const a = await query(`SELECT ${cols} FROM read_parquet(${snapshotGlob(snapshotDir)}) ORDER BY image_name`);
    const b = await query(`SELECT ${cols} FROM read_parquet(${snapshotGlob(JSON.parse(full.stdout).output)}) ORDER BY image_name`);
    expect(a.map((r) => r.image_name)).toEqual(imageTable.map((r) => r.image_name)); // every image exactly once
    expect(a).toEqual(b);
    expect(existsSync(path.join(wh, 'embeddings', '_staging'))).toBe(false);
  }, 300_000);

  it('--resume of an unknown run fails fast with exit 2', async () => {
    const r = await imgpipeInProcess(['run', '--resume', 'no-such-run', '--partitions-dir', parts]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/No complete plan at .*no-such-run \(run\.json missing\)/);
  });
});

describe('bad usage fails fast with exit 2 and a message that names the problem', () => {
  const run = (...args: string[]) => imgpipeInProcess(['run', '--warehouse', wh, '--partitions-dir', parts, ...args]);

  it.each([
    [['--model', 'no-such-model', '--all'], /Unknown model "no-such-model"/],
    [['--model', 'quality-basic'], /Expected one of --all, --category C \[--depth N\] or --sql .* but received none of them/],
    [['--model', 'quality-basic', '--all', '--category', 'Demo'], /Expected exactly one of --all, --category, --sql but received --all and --category/],
    [['--model', 'quality-basic', '--all', '--partition-size', '0'], /Expected integer between 1 and 1000000 for --partition-size but received "0" of type string/],
    [['--model', 'quality-basic', '--all', '--batch-size', 'lots'], /Expected integer between 1 and 4096 for --batch-size but received "lots" of type string/],
    [['--model', 'quality-basic', '--all', '--snapshot', '2026-13-45'], /Expected a date YYYY-MM-DD for --snapshot but received "2026-13-45" of type string/],
    [['--model', 'quality-basic', '--all', '--table', 'bad-name;'], /Expected letters, digits and underscores \(not starting with a digit, at most 128\) for --table but received "bad-name;" of type string/],
    [['--model', 'quality-basic', '--category', 'No_such_category'], /No category named "No_such_category"/],
    [['--model', 'quality-basic', '--sql', 'SELEC image_name FROM image'], /Selection query failed: Parser Error/],
    [['--model', 'quality-basic', '--sql', 'SELECT page_id FROM image'], /--sql must return a column named image_name/],
    [['--model', 'quality-basic', '--sql', 'SELECT image_name FROM image; DROP VIEW image'], /--sql must be exactly one SELECT statement, found 2/],
    [['--model', 'quality-basic', '--sql', "SELECT image_name FROM image WHERE image_name = 'none'"], /The selection matched no images/],
    [['--model', 'quality-basic', '--all', '--device', 'tpu'], /^imgpipe: error: Expected one of: auto, cpu, cuda for --device but received "tpu" of type string\n$/],
  ])('run %j', async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a card whose sha256 does not match its ONNX file', async () => {
    const dir = path.join(tmp.dir, 'models', 'tampered');
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(REPO, 'models', 'color-embed'), dir, { recursive: true });
    const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...card, name: 'tampered', sha256: 'f'.repeat(64) }));
    const r = await run('--model', path.join(dir, 'model.json'), '--all');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sha256 of .*model\.onnx is [0-9a-f]{64} but the card says f{64}/);
  });

  it('a folder that is not a warehouse', async () => {
    const r = await imgpipeInProcess(['run', '--warehouse', tmp.dir, '--model', 'quality-basic', '--all', '--partitions-dir', parts]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not an imgpipe warehouse \(no warehouse\.json\)\. Create one with `imgpipe warehouse init/);
  });

  it('an unknown flag, and --help', async () => {
    const bad = await imgpipeInProcess(['run', '--modle', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown option '--modle'/);
    const help = await imgpipeInProcess(['run', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--warehouse', '--model', '--all', '--category', '--depth', '--sql', '--snapshot', '--table', '--executor', '--resume', '--json', '--max-pixels']) {
      expect(help.stdout).toContain(flag);
    }
  });
});

describe('models and doctor', () => {
  it('models list shows the built-in models; models show validates one', async () => {
    const list = await imgpipeInProcess(['models', 'list', '--json']);
    expect(list.code).toBe(0);
    const names = (JSON.parse(list.stdout) as { name: string; task: string }[]).map((m) => `${m.name}:${m.task}`);
    expect(names).toEqual(expect.arrayContaining(['quality-basic:classifier', 'color-embed:embedding']));
    const show = await imgpipeInProcess(['models', 'show', 'quality-basic']);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'quality-basic', sha256_verified: true, label_count: 5 });
  });

  it('doctor reports versions and that the CPU provider loads', () => {
    const r = imgpipe(['doctor', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.node).toBe(process.version);
    expect(report.decode_formats).toEqual(expect.arrayContaining(['jpeg', 'png', 'webp', 'gif']));
    expect(report.providers.find((p: { provider: string }) => p.provider === 'cpu')).toMatchObject({ loads: true });
  });
});
