/**
 * ParquetPartWriter against the result-row contract, checked with the reader that matters: DuckDB
 * reading the parts back as a Hive-partitioned table (`model=…/snapshot=…/part-*.parquet`).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParquetFileStream } from '../src/sink/ParquetFileStream.js';
import { createParquetPartWriter, parquetWriterProperties } from '../src/sink/parquetPartWriter.js';
import { ResultBatchBuilder } from '../src/sink/ResultBatchBuilder.js';
import type { ResultRow, TopKEntry } from '../src/sink/resultRow.js';

const RUN_ID = 'run-2026-01-01T00-00-00Z-test';
const T0 = Date.UTC(2026, 0, 1, 12, 34, 56, 789);

function classifierRow(i: number): ResultRow {
  const top: TopKEntry[] = ['sculpture', 'maiolica', 'painting', 'drawing', 'coin'].map((label, j) => ({
    label,
    score: (5 - j + i / 100) / 15,
  }));
  return {
    image_name: i === 0 ? 'File:Ünïcödé_画像_🎨 (1).jpg' : `File:Classified_${String(i).padStart(4, '0')}.jpg`,
    page_id: i === 1 ? null : 2n ** 32n + 1000n * BigInt(i) + 7n,
    sha1: i === 2 ? null : i.toString(16).padStart(40, 'a'),
    status: 'ok',
    error: null,
    label: top[0]!.label,
    score: top[0]!.score,
    top_k: top,
    embedding: null,
    width: i === 3 ? null : 400 + i,
    height: 300,
    run_id: RUN_ID,
    processed_at: T0 + i,
  };
}

function embeddingRow(i: number, dim: number): ResultRow {
  const embedding = new Float32Array(dim);
  for (let j = 0; j < dim; j++) embedding[j] = Math.sin(i * 31 + j) * (j % 7 === 0 ? 1e-20 : 3.14159);
  return {
    image_name: `File:Embedded_${String(i).padStart(4, '0')}.png`,
    page_id: 9_007_199_254_740_993n + BigInt(i), // above 2^53 too
    sha1: 'f'.repeat(40),
    status: 'ok',
    error: null,
    label: null,
    score: null,
    top_k: null,
    embedding,
    width: 224,
    height: 224,
    run_id: RUN_ID,
    processed_at: T0 - 86_400_000 * 365 * 60 + i, // 1966: before the epoch
  };
}

function errorRow(i: number): ResultRow {
  return {
    image_name: `File:Broken_${i}.jpg`,
    page_id: BigInt(i),
    sha1: null,
    status: 'error',
    error: ['decode_failed', 'too_many_pixels', 'missing_bytes'][i % 3]!,
    label: null,
    score: null,
    top_k: null,
    embedding: null,
    width: null,
    height: null,
    run_id: RUN_ID,
    processed_at: T0,
  };
}

let dir: string;
let table: string;
let connection: DuckDBConnection;
const classifierRows = Array.from({ length: 2500 }, (_, i) => classifierRow(i)); // > 2 batches of 1024
const embeddingRows = Array.from({ length: 300 }, (_, i) => embeddingRow(i, 2048));
const errorRows = Array.from({ length: 7 }, (_, i) => errorRow(i));

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS();
}

const partPath = (model: string, part: number) =>
  join(table, `model=${model}`, 'snapshot=2026-01-01', `part-${String(part).padStart(5, '0')}.parquet`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgpipe-parquet-'));
  table = join(dir, 't');
  const instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();

  const classifier = createParquetPartWriter(partPath('m-1', 0));
  await classifier.write(classifierRows.slice(0, 1000));
  await classifier.write(classifierRows.slice(1000));
  expect(existsSync(classifier.path)).toBe(false); // nothing visible before close
  const written = await classifier.close();
  expect(written).toMatchObject({ path: partPath('m-1', 0), rows: 2500 });
  expect(written.bytes).toBeGreaterThan(0);

  const errors = createParquetPartWriter(partPath('m-1', 1));
  await errors.write(errorRows);
  await errors.close();

  const embedding = createParquetPartWriter(partPath('e-1', 0));
  for (let i = 0; i < embeddingRows.length; i += 64) await embedding.write(embeddingRows.slice(i, i + 64));
  await embedding.close();
});

afterAll(async () => {
  connection?.closeSync();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const glob = () => `read_parquet('${join(table, '*', '*', '*.parquet')}', hive_partitioning = true)`;

describe('ParquetPartWriter read back by DuckDB', () => {
  it('has exactly the contract types, plus the partition columns', async () => {
    const rows = await query(`DESCRIBE SELECT * FROM ${glob()}`);
    const types = rows.map((r) => [r['column_name'], String(r['column_type']).replaceAll('"', '')]);
    expect(types).toEqual([
      ['image_name', 'VARCHAR'],
      ['page_id', 'BIGINT'],
      ['sha1', 'VARCHAR'],
      ['status', 'VARCHAR'],
      ['error', 'VARCHAR'],
      ['label', 'VARCHAR'],
      ['score', 'FLOAT'],
      ['top_k', 'STRUCT(label VARCHAR, score FLOAT)[]'],
      ['embedding', 'FLOAT[]'],
      ['width', 'INTEGER'],
      ['height', 'INTEGER'],
      ['run_id', 'VARCHAR'],
      ['processed_at', 'TIMESTAMP'],
      ['detections', 'STRUCT(label VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[]'],
      ['keypoints', 'FLOAT[][]'],
      ['count', 'INTEGER'],
      ['max_area_ratio', 'FLOAT'],
      ['sum_area_ratio', 'FLOAT'],
      ['model', 'VARCHAR'],
      ['snapshot', 'DATE'],
    ]);
  });

  it('counts every row of every part, per partition', async () => {
    const rows = await query(
      `SELECT model, status, count(*)::INTEGER AS n FROM ${glob()} GROUP BY ALL ORDER BY model, status`,
    );
    expect(rows).toEqual([
      { model: 'e-1', status: 'ok', n: 300 },
      { model: 'm-1', status: 'error', n: 7 },
      { model: 'm-1', status: 'ok', n: 2500 },
    ]);
  });

  it('round-trips classifier rows exactly (unicode, int64 above 2^32, float32, nulls, ms timestamps)', async () => {
    const rows = await query(
      `SELECT *, epoch_ms(processed_at) AS ms, strftime(processed_at, '%Y-%m-%d %H:%M:%S.%g') AS shown
       FROM ${glob()} WHERE model = 'm-1' AND status = 'ok' ORDER BY image_name`,
    );
    const expected = [...classifierRows].sort((a, b) => (a.image_name < b.image_name ? -1 : 1));
    expect(rows).toHaveLength(expected.length);
    rows.forEach((got, k) => {
      const want = expected[k]!;
      expect(got['image_name']).toBe(want.image_name);
      expect(got['page_id']).toBe(want.page_id);
      expect(got['sha1']).toBe(want.sha1);
      expect(got['status']).toBe('ok');
      expect(got['error']).toBeNull();
      expect(got['label']).toBe(want.label);
      expect(got['score']).toBe(Math.fround(want.score!));
      expect(got['top_k']).toEqual(want.top_k!.map((e) => ({ label: e.label, score: Math.fround(e.score) })));
      expect(got['embedding']).toBeNull();
      expect(got['width']).toBe(want.width);
      expect(got['height']).toBe(want.height);
      expect(got['run_id']).toBe(RUN_ID);
      expect(got['ms']).toBe(BigInt(want.processed_at));
    });
    const unicode = rows.find((r) => r['image_name'] === 'File:Ünïcödé_画像_🎨 (1).jpg');
    expect(unicode?.['shown']).toBe('2026-01-01 12:34:56.789'); // UTC wall time, no zone shift
  });

  it('round-trips embedding rows bit for bit, with label/top_k null', async () => {
    const rows = await query(
      `SELECT image_name, page_id, label, score, top_k, embedding, len(embedding) AS dim, epoch_ms(processed_at) AS ms
       FROM ${glob()} WHERE model = 'e-1' ORDER BY image_name`,
    );
    expect(rows).toHaveLength(embeddingRows.length);
    rows.forEach((got, i) => {
      const want = embeddingRows[i]!;
      expect(got['image_name']).toBe(want.image_name);
      expect(got['page_id']).toBe(want.page_id);
      expect(got['label']).toBeNull();
      expect(got['score']).toBeNull();
      expect(got['top_k']).toBeNull();
      expect(got['dim']).toBe(2048n);
      expect(Float32Array.from(got['embedding'] as number[])).toEqual(want.embedding);
      expect(got['ms']).toBe(BigInt(want.processed_at));
    });
  });

  it('writes a part of only error rows', async () => {
    const rows = await query(
      `SELECT image_name, page_id, sha1, error, label, top_k, embedding, width, height
       FROM read_parquet('${partPath('m-1', 1)}') ORDER BY image_name`,
    );
    expect(rows).toEqual(
      errorRows.map((r) => ({
        image_name: r.image_name,
        page_id: r.page_id,
        sha1: null,
        error: r.error,
        label: null,
        top_k: null,
        embedding: null,
        width: null,
        height: null,
      })),
    );
  });
});

describe('ParquetPartWriter file layout', () => {
  it('keeps dictionary and statistics off the embedding values, compresses with snappy', async () => {
    const rows = await query(
      `SELECT path_in_schema AS col, any_value(encodings) AS enc, any_value(compression) AS codec,
              bool_or(stats_min_value IS NOT NULL OR stats_min IS NOT NULL) AS stats,
              count(DISTINCT row_group_id)::INTEGER AS groups
       FROM parquet_metadata('${partPath('e-1', 0)}') GROUP BY ALL`,
    );
    const byColumn = new Map(rows.map((r) => [String(r['col']), r]));
    const embedding = byColumn.get('embedding, list, element')!;
    expect(embedding['enc']).not.toMatch(/DICTIONARY/);
    expect(embedding['stats']).toBe(false);
    expect(embedding['codec']).toBe('SNAPPY');
    expect(byColumn.get('status')!['enc']).toMatch(/DICTIONARY/); // low-cardinality columns keep one
    expect(byColumn.get('processed_at')!['stats']).toBe(true);
  });

  it('cuts row groups by size: a 10k × 2048-float part gets several', async () => {
    const path = join(dir, 'big', 'part-00000.parquet');
    const writer = createParquetPartWriter(path);
    // Distinct rows: the limit counts compressed bytes, so repeated rows would fit one group.
    for (let i = 0; i < 10; i++) await writer.write(Array.from({ length: 1000 }, (_, j) => embeddingRow(i * 1000 + j, 2048)));
    // Row groups are written as they fill: the hidden temporary file already holds most of the data.
    const [temp] = (await readdir(join(dir, 'big'))).filter((name) => name.startsWith('.part-00000.parquet.'));
    expect((await stat(join(dir, 'big', temp!))).size).toBeGreaterThan(30e6);
    expect(await writer.close()).toMatchObject({ rows: 10_000 });
    const [meta] = await query(
      `SELECT count(DISTINCT row_group_id)::INTEGER AS groups, max(row_group_num_rows)::INTEGER AS biggest
       FROM parquet_metadata('${path}')`,
    );
    // 80 MB of floats, 32 MiB (compressed) per group: 3 groups when incompressible, 2 for these.
    expect(meta!['groups']).toBeGreaterThanOrEqual(2);
    expect(meta!['biggest']).toBeLessThan(10_000);
    expect(await query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${path}')`)).toEqual([{ n: 10_000 }]);
    await rm(join(dir, 'big'), { recursive: true });
  });
});

describe('ParquetPartWriter lifecycle', () => {
  it('writes a valid zero-row file with the full schema on close without rows', async () => {
    const path = join(dir, 'empty', 'part-00000.parquet');
    const writer = createParquetPartWriter(path);
    expect(await writer.close()).toMatchObject({ path, rows: 0 });
    expect(await query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${path}')`)).toEqual([{ n: 0 }]);
    const types = await query(`DESCRIBE SELECT * FROM read_parquet('${path}')`);
    expect(types.map((r) => String(r['column_type']).replaceAll('"', ''))).toEqual([
      'VARCHAR', 'BIGINT', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'FLOAT',
      'STRUCT(label VARCHAR, score FLOAT)[]', 'FLOAT[]', 'INTEGER', 'INTEGER', 'VARCHAR', 'TIMESTAMP',
      'STRUCT(label VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[]', 'FLOAT[][]', 'INTEGER', 'FLOAT', 'FLOAT',
    ]);
  });

  it('abort removes the written file and is harmless twice', async () => {
    const folder = join(dir, 'aborted');
    const writer = createParquetPartWriter(join(folder, 'part-00000.parquet'));
    await writer.write(errorRows);
    await writer.close();
    expect(existsSync(writer.path)).toBe(true);
    await writer.abort();
    await writer.abort();
    expect(await readdir(folder)).toEqual([]);
    await expect(writer.write(errorRows)).rejects.toThrow(/aborted/);
  });

  it('abort before close leaves nothing, and during close waits for it', async () => {
    const folder = join(dir, 'aborted-early');
    const early = createParquetPartWriter(join(folder, 'part-00000.parquet'));
    await early.write(classifierRows.slice(0, 10));
    await early.abort();
    expect(existsSync(folder)).toBe(false);

    const racing = createParquetPartWriter(join(folder, 'part-00001.parquet'));
    await racing.write(embeddingRows.slice(0, 50));
    const closing = racing.close();
    await racing.abort();
    await closing;
    expect(await readdir(folder)).toEqual([]);
  });

  it('refuses a write while the previous one is still running', async () => {
    const writer = createParquetPartWriter(join(dir, 'overlap', 'part-00000.parquet'));
    const first = writer.write(embeddingRows.slice(0, 200));
    await expect(writer.write(embeddingRows.slice(200))).rejects.toThrow(/still running/);
    await first;
    await writer.abort();
  });

  it('fails close when the footer does not count every row handed in', async () => {
    const path = join(dir, 'short.parquet');
    const stream = await ParquetFileStream.create(path, parquetWriterProperties());
    const builder = new ResultBatchBuilder(8);
    for (const row of errorRows.slice(0, 3)) builder.append(row);
    await stream.write(builder.finish());
    await expect(stream.finish(4)).rejects.toThrow(/holds 3 rows, expected 4/);
    await rm(path);
  });

  it('rejects a row that breaks the contract, naming it, and then refuses to close', async () => {
    const writer = createParquetPartWriter(join(dir, 'bad', 'part-00000.parquet'));
    const bad = { ...classifierRow(5), page_id: 42 as unknown as bigint };
    await expect(writer.write([classifierRow(4), bad])).rejects.toThrow(/File:Classified_0005\.jpg.*page_id/);
    await expect(writer.close()).rejects.toThrow(/failed/);
    await writer.abort();
    expect(existsSync(join(dir, 'bad'))).toBe(false);

    const inconsistent = createParquetPartWriter(join(dir, 'bad', 'part-00001.parquet'));
    await expect(inconsistent.write([{ ...errorRow(1), error: null }])).rejects.toThrow(/error must be a reason/);
    await inconsistent.abort();
  });
});
