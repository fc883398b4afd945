/**
 * Nightly runs (issue 7): incremental by sha1, complete snapshots, one writer per table, compaction,
 * public export — through the CLI on a demo warehouse, checked with DuckDB.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imgpipe, imgpipeHeld, lit, query, tempDir, copyDemoWarehouse } from './util/cli.js';

const tmp = tempDir('imgpipe-incr-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
afterAll(() => tmp.cleanup());

const CHANGED = ['Landscape_with_hills_001.jpg', 'Maiolica_plate_002.jpg', 'Night_street_with_lights_002.jpg'];
const DELETED = ['Texture_pattern_001.jpg', 'Portrait_like_figure_002.png'];
const ADDED = ['Day2_new_photo_1.jpg', 'Day2_new_photo_2.png'];

const run = (...args: string[]) => {
  const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--json', '--quiet', ...args]);
  if (r.code !== 0) throw new Error(`imgpipe run exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { run_id: string; output: string; selected: number; ok: number; error: number; inferred: number; incremental?: { previous_snapshot: string | null; scored: number; carried_forward: number; dropped: number } };
};
const rowsOf = (dir: string) =>
  query(`SELECT image_name, page_id, sha1, status, error, label, score, top_k, embedding, width, height FROM read_parquet(${lit(path.join(dir, '*.parquet'))}, hive_partitioning = false) ORDER BY image_name`);
const hashDir = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]));

/** Rewrite a warehouse table without some images (a file deleted on Commons). */
async function deleteFrom(table: 'image' | 'image_bytes', names: string[]) {
  const file = path.join(wh, table, 'data.parquet');
  const tmpFile = path.join(wh, table, '.rewrite.parquet');
  await query(`COPY (SELECT * FROM read_parquet(${lit(file)}) WHERE image_name NOT IN (${names.map(lit).join(', ')})) TO ${lit(tmpFile)} (FORMAT parquet)`);
  renameSync(tmpFile, file);
}

let names: string[];
let day1: ReturnType<typeof run>;

beforeAll(async () => {
  copyDemoWarehouse(wh);
  names = (await query(`SELECT image_name FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) ORDER BY 1`)).map((r) => r.image_name as string);
  for (const n of [...CHANGED, ...DELETED]) expect(names).toContain(n);
  day1 = run('--model', 'quality-basic', '--all', '--incremental', '--snapshot', '2026-05-01');
}, 300_000);

describe('incremental nightly runs', () => {
  let day1Files: Record<string, string>;
  let day2: ReturnType<typeof run>;

  beforeAll(async () => {
    day1Files = hashDir(day1.output);
    // Day 2 on Commons: some files re-uploaded (new bytes, new sha1), some added, some deleted.
    const src = path.join(tmp.dir, 'day2');
    mkdirSync(path.join(src, 'Day2'), { recursive: true });
    for (const [i, n] of CHANGED.entries()) {
      await sharp({ create: { width: 120 + i, height: 90, channels: 3, background: { r: 250, g: 250, b: 250 } } }).jpeg().toFile(path.join(src, n));
    }
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 3, g: 3, b: 3 } } }).jpeg().toFile(path.join(src, 'Day2', ADDED[0]!));
    await sharp({ create: { width: 50, height: 70, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(path.join(src, 'Day2', ADDED[1]!));
    const imported = imgpipe(['warehouse', 'import', src, '--warehouse', wh]);
    expect(imported.code, imported.stderr).toBe(0);
    await deleteFrom('image', DELETED);
    await deleteFrom('image_bytes', DELETED);
    day2 = run('--model', 'quality-basic', '--all', '--incremental', '--snapshot', '2026-05-02');
  }, 300_000);

  it('day 1 without an earlier snapshot scores everything', () => {
    expect(day1.incremental).toEqual({ previous_snapshot: null, scored: names.length, carried_forward: 0, dropped: 0 });
  });

  it('day 2 scores only the changed and added images (plus transient errors), counting inferences', () => {
    // The demo's Broken_missing_bytes.jpg had a transient error (missing_bytes): it is tried again.
    const scored = CHANGED.length + ADDED.length + 1;
    expect(day2.incremental).toEqual({ previous_snapshot: '2026-05-01', scored, carried_forward: names.length - CHANGED.length - DELETED.length - 1, dropped: DELETED.length });
    expect(day2.inferred).toBe(CHANGED.length + ADDED.length); // the missing-bytes image never reaches the model
    expect(day2.selected).toBe(names.length - DELETED.length + ADDED.length);
  });

  it('the day-2 snapshot equals a full re-run on day 2, and day 1 is untouched', async () => {
    const full = run('--model', 'quality-basic', '--all', '--table', 'full_rerun', '--snapshot', '2026-05-02');
    expect(full.inferred).toBeGreaterThan(day2.inferred);
    const a = await rowsOf(day2.output);
    const b = await rowsOf(full.output);
    expect(a.length).toBe(day2.selected);
    expect(a).toEqual(b);
    const changedRows = a.filter((r) => CHANGED.includes(r.image_name as string));
    expect(changedRows.map((r) => r.label)).toEqual(['overexposed', 'overexposed', 'overexposed']);
    expect(a.some((r) => DELETED.includes(r.image_name as string))).toBe(false);
    expect(hashDir(day1.output)).toEqual(day1Files);
  });

  it('a different model version never carries rows forward', async () => {
    const cards = path.join(tmp.dir, 'cards', 'quality-basic');
    mkdirSync(cards, { recursive: true });
    const card = JSON.parse(readFileSync(path.resolve('models/quality-basic/model.json'), 'utf8'));
    writeFileSync(path.join(cards, 'model.json'), JSON.stringify({ ...card, version: '2', onnx: path.resolve('models/quality-basic/model.onnx'), labels: undefined, output: { ...card.output, labels: path.resolve('models/quality-basic/labels.txt') } }));
    const v2 = run('--model', path.join(cards, 'model.json'), '--all', '--incremental', '--snapshot', '2026-05-03');
    expect(v2.incremental).toMatchObject({ previous_snapshot: null, carried_forward: 0 });
    expect(v2.inferred).toBe(v2.ok);
  });
});

describe('carry-forward keys on everything that changes a result (issue 11)', () => {
  const rowsByName = async (dir: string) =>
    new Map((await query(`SELECT image_name, status, error, run_id FROM read_parquet(${lit(path.join(dir, '*.parquet'))}, hive_partitioning = false)`)).map((r) => [r.image_name as string, r]));

  it('raising --max-pixels re-scores the too_many_pixels rows (and only those, besides transient errors)', async () => {
    const low = run('--model', 'quality-basic', '--all', '--incremental', '--table', 'pixels', '--snapshot', '2026-06-01', '--max-pixels', '10000');
    const lowRows = await rowsByName(low.output);
    const tooMany = [...lowRows.values()].filter((r) => r.error === 'too_many_pixels').map((r) => r.image_name as string);
    const transient = [...lowRows.values()].filter((r) => r.error === 'missing_bytes').length;
    expect(tooMany.length).toBeGreaterThan(5);
    expect(JSON.parse(readFileSync(path.join(low.output, '_summary.json'), 'utf8')).result_key).toMatchObject({ max_pixels: 10000, model_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), labels_sha256: expect.stringMatching(/^[0-9a-f]{64}$/), input_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const high = run('--model', 'quality-basic', '--all', '--incremental', '--table', 'pixels', '--snapshot', '2026-06-02');
    expect(high.incremental).toMatchObject({ previous_snapshot: '2026-06-01', scored: tooMany.length + transient, carried_forward: lowRows.size - tooMany.length - transient });
    const highRows = await rowsByName(high.output);
    // Only the image whose header really is over the default limit is still too_many_pixels.
    expect([...highRows.values()].filter((r) => r.error === 'too_many_pixels').map((r) => r.image_name)).toEqual(['Broken_too_many_pixels.png']);
    // Every one of them was scored again by this run (not carried); most are ok now.
    expect(tooMany.map((n) => highRows.get(n)!.run_id)).toEqual(tooMany.map(() => high.run_id));
    expect(tooMany.filter((n) => highRows.get(n)!.status === 'ok').length).toBeGreaterThan(5);
    // Lowering it again re-scores the ok rows now over the limit.
    const lower = run('--model', 'quality-basic', '--all', '--incremental', '--table', 'pixels', '--snapshot', '2026-06-03', '--max-pixels', '10000');
    const lowerRows = await rowsByName(lower.output);
    expect([...lowerRows.values()].filter((r) => r.error === 'too_many_pixels').map((r) => r.image_name).sort()).toEqual([...tooMany].sort());
  }, 300_000);

  it('a changed labels.txt (same model name, version and ONNX) re-scores everything', async () => {
    const first = run('--model', 'quality-basic', '--all', '--incremental', '--table', 'relabelled', '--snapshot', '2026-06-01');
    const dir = path.join(tmp.dir, 'cards-relabelled', 'quality-basic');
    mkdirSync(dir, { recursive: true });
    const card = JSON.parse(readFileSync(path.resolve('models/quality-basic/model.json'), 'utf8'));
    const labels = readFileSync(path.resolve('models/quality-basic/labels.txt'), 'utf8').replace('overexposed', 'too_bright');
    writeFileSync(path.join(dir, 'labels.txt'), labels);
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...card, onnx: path.resolve('models/quality-basic/model.onnx') }));
    const second = run('--model', path.join(dir, 'model.json'), '--all', '--incremental', '--table', 'relabelled', '--snapshot', '2026-06-02');
    expect(second.output).toBe(path.join(wh, 'relabelled', 'model=quality-basic-1', 'snapshot=2026-06-02'));
    expect(second.incremental).toMatchObject({ previous_snapshot: null, carried_forward: 0 });
    expect(second.selected).toBe(first.selected);
    const rows = await rowsOf(second.output);
    expect(rows.some((r) => r.label === 'too_bright')).toBe(true);
    expect(rows.some((r) => r.label === 'overexposed')).toBe(false);
    // The same card again: everything carries.
    const third = run('--model', path.join(dir, 'model.json'), '--all', '--incremental', '--table', 'relabelled', '--snapshot', '2026-06-03');
    expect(third.incremental).toMatchObject({ previous_snapshot: '2026-06-02' });
    expect(third.inferred).toBe(0);
  }, 300_000);
});

describe('one writer per table', () => {
  it('a second run on a table that is being written refuses, naming the holder; a dead holder is taken over', async () => {
    // The first run commits one partition and holds (a fault hook): it is writing the table, its lock
    // taken, until killed, however fast the machine.
    const { child: first, closed } = await imgpipeHeld(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'color-embed', '--all', '--table', 'locked', '--threads', '1', '--batch-size', '1', '--partition-size', '10', '--quiet'], 1);
    const lockFile = path.join(wh, 'locked', '_lock.json');
    const holder = JSON.parse(readFileSync(lockFile, 'utf8'));
    const second = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'color-embed', '--all', '--table', 'locked']);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`is being written by run ${holder.run_id} (pid ${first.pid} on `);
    first.kill('SIGKILL');
    await closed;
    const third = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'color-embed', '--all', '--table', 'locked', '--quiet', '--json']);
    expect(third.code, third.stderr).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  }, 300_000);
});

describe('compaction and export', () => {
  it('compact rewrites many small parts into one file, every row exactly once', async () => {
    const r = run('--model', 'color-embed', '--all', '--table', 'compact_me', '--partition-size', '25', '--compact-below', '0', '--snapshot', '2026-05-04');
    const before = readdirSync(r.output).filter((f) => f.endsWith('.parquet'));
    expect(before.length).toBe(Math.ceil(r.selected / 25));
    const rowsBefore = await rowsOf(r.output);
    const c = imgpipe(['compact', '--warehouse', wh, '--table', 'compact_me', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout)).toEqual([expect.objectContaining({ files_before: before.length, files_after: 1, rows: r.selected })]);
    expect(readdirSync(r.output).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
    expect(existsSync(path.join(r.output, '_SUCCESS'))).toBe(true);
    expect(await rowsOf(r.output)).toEqual(rowsBefore);
    expect(existsSync(path.join(wh, 'compact_me', '_staging'))).toBe(false);
  });

  it('runs compact automatically when their parts are small', () => {
    const r = run('--model', 'color-embed', '--all', '--table', 'auto_compact', '--partition-size', '25', '--snapshot', '2026-05-05');
    expect(readdirSync(r.output).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
  });

  it('export writes the snapshot without internal columns, a datasheet and checksums', async () => {
    const out = path.join(tmp.dir, 'export');
    const e = imgpipe(['export', '--warehouse', wh, '--table', 'classifications', '--snapshot', '2026-05-02', '--model', 'quality-basic-1', '--out', out]);
    expect(e.code, e.stderr).toBe(0);
    const exported = await query(`SELECT * FROM read_parquet(${lit(path.join(out, 'data', '*.parquet'))}) ORDER BY image_name`);
    const snapshot = await query(`SELECT * EXCLUDE (run_id, processed_at) FROM read_parquet(${lit(path.join(wh, 'classifications', 'model=quality-basic-1', 'snapshot=2026-05-02', '*.parquet'))}, hive_partitioning = false) ORDER BY image_name`);
    expect(exported).toEqual(snapshot);
    expect(Object.keys(exported[0]!)).not.toContain('run_id');
    const readme = readFileSync(path.join(out, 'README.md'), 'utf8');
    const ok = snapshot.filter((r) => r.status === 'ok').length;
    expect(readme).toContain(`| ok | — | ${ok} |`);
    expect(readme).toContain('"name": "quality-basic"');
    expect(readme).toContain('| top_k | STRUCT("label" VARCHAR, score FLOAT)[] |');
    for (const line of readFileSync(path.join(out, 'SHA256SUMS'), 'utf8').trim().split('\n')) {
      const [sum, file] = line.split('  ');
      expect(createHash('sha256').update(readFileSync(path.join(out, file!))).digest('hex')).toBe(sum);
    }
    const again = imgpipe(['export', '--warehouse', wh, '--table', 'classifications', '--snapshot', '2026-05-02', '--model', 'quality-basic-1', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists (export never overwrites)');
  });
});
