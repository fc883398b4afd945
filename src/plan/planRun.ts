/**
 * The planner: turns a catalog selection into the run's manifest file, then writes run.json.
 * Memory stays bounded whatever the selection's size: an engine-side catalog writes the manifest
 * itself (`ManifestWriter.writeManifest`); a streaming catalog's batches go through a DuckDB appender that
 * spills to disk. If it throws, the plan folder is incomplete (no run.json) and is removed.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Catalog, ImageRef, Selection } from '../catalog/Catalog.js';
import { writesManifests } from '../catalog/ManifestWriter.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';
import type { PreviousSnapshot } from './incremental.js';
import { RunPlanDir, writeJsonAtomically, type RunSpec } from './manifest.js';

export async function planRun(
  catalog: Catalog,
  selection: Selection,
  plan: RunPlanDir,
  spec: Omit<RunSpec, 'partitions' | 'images' | 'query' | 'format' | 'created_at' | 'incremental'>,
  incremental?: { previous: PreviousSnapshot | null },
): Promise<RunSpec> {
  mkdirSync(plan.dir, { recursive: true });
  try {
    const previous = incremental?.previous ?? null;
    let images: number;
    let carried: RunSpec['incremental'] | undefined;
    if (previous) {
      if (!writesManifests(catalog)) throw new UsageError('--incremental is supported on the embedded warehouse only');
      images = await catalog.writeChangedManifest(selection, previous.dir, plan.manifestPath, spec.partition_size, previous.carryable);
      const rows = await catalog.writeCarriedRows(selection, previous.dir, plan.carriedPath, previous.carryable);
      carried = { previous_snapshot: previous.snapshot, previous_dir: previous.dir, previous_rows: previous.rows, carried: rows, dropped: rows.dropped };
    } else {
      images = writesManifests(catalog)
        ? await catalog.writeManifest(selection, plan.manifestPath, spec.partition_size)
        : await writeManifestFromBatches(catalog.select(selection, 10_000), plan.manifestPath, spec.partition_size, selection.kind === 'sql' ? '--sql' : 'The selection');
      if (incremental) carried = { previous_snapshot: null, previous_dir: null, previous_rows: 0, carried: { dropped: 0, rows: 0, ok: 0, error: 0, error_reasons: {}, labels: {} }, dropped: 0 };
    }
    // An incremental run with nothing changed still commits a complete snapshot of carried rows.
    if (images === 0 && !(carried && carried.carried.rows > 0)) throw new UsageError(`The selection matched no images; nothing to run (${catalog.describe(selection).split('\n')[0]}).`);
    const partitions = Math.ceil(images / spec.partition_size);
    const run: RunSpec = { format: 1, created_at: new Date().toISOString(), query: catalog.describe(selection), ...spec, partitions, images, ...(carried ? { incremental: carried } : {}) };
    writeJsonAtomically(plan.runPath, run);
    return run;
  } catch (e) {
    rmSync(plan.dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Streamed refs → the manifest Parquet file, numbering partitions in arrival order.
 * @throws {UsageError} when some refs have an empty image_name (a catalog maps NULL to ""), after
 *   reading them all, with the count and the first row (1-based); `what` names the selection.
 */
export async function writeManifestFromBatches(batches: AsyncIterable<ImageRef[]>, file: string, partitionSize: number, what = 'The selection'): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', temp_directory: path.join(os.tmpdir(), `imgpipe-plan-${process.pid}`) });
  const connection = await instance.connect();
  try {
    await connection.run('CREATE TABLE manifest (partition BIGINT, image_name VARCHAR, page_id BIGINT, sha1 VARCHAR)');
    const appender = await connection.createAppender('manifest');
    let n = 0;
    let empty = 0;
    let firstEmpty = 0;
    for await (const batch of batches) {
      for (const ref of batch) {
        if (ref.image_name === '') {
          if (empty++ === 0) firstEmpty = n + empty;
          continue;
        }
        appender.appendBigInt(BigInt(Math.floor(n / partitionSize)));
        appender.appendVarchar(ref.image_name);
        if (ref.page_id === null) appender.appendNull();
        else appender.appendBigInt(ref.page_id);
        if (ref.sha1 === null) appender.appendNull();
        else appender.appendVarchar(ref.sha1);
        appender.endRow();
        n++;
      }
      appender.flushSync();
    }
    appender.closeSync();
    if (empty > 0) throw emptyNamesError(what, empty, firstEmpty);
    await connection.run(`COPY manifest TO ${duckdbString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    return n;
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}

/** "--sql returned 3 rows whose image_name is NULL or empty (first at row 17); …": one wording for every catalog. */
export function emptyNamesError(what: string, rows: number, firstRow: number): UsageError {
  return new UsageError(`${what} returned ${rows} row${rows === 1 ? '' : 's'} whose image_name is NULL or empty (first at row ${firstRow}); filter them out, e.g. WHERE image_name <> ''`);
}
