/**
 * The planner: turns a catalog selection into the run's manifest file, then writes run.json.
 * Memory stays bounded whatever the selection's size: an engine-side catalog writes the manifest
 * itself (`Catalog.writeManifest`); a streaming catalog's batches go through a DuckDB appender that
 * spills to disk. If it throws, the plan folder is incomplete (no run.json) and is removed.
 */
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Catalog, ImageRef, Selection } from '../catalog/Catalog.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';
import { RunPlanDir, writeJsonAtomically, type RunSpec } from './manifest.js';

export async function planRun(
  catalog: Catalog,
  selection: Selection,
  plan: RunPlanDir,
  spec: Omit<RunSpec, 'partitions' | 'images' | 'query' | 'format' | 'created_at'>,
): Promise<RunSpec> {
  mkdirSync(plan.dir, { recursive: true });
  try {
    const images = catalog.writeManifest
      ? await catalog.writeManifest(selection, plan.manifestPath, spec.partition_size)
      : await writeManifestFromBatches(catalog.select(selection, 10_000), plan.manifestPath, spec.partition_size);
    if (images === 0) throw new UsageError(`The selection matched no images; nothing to run (${catalog.describe(selection).split('\n')[0]}).`);
    const partitions = Math.ceil(images / spec.partition_size);
    const run: RunSpec = { format: 1, created_at: new Date().toISOString(), query: catalog.describe(selection), ...spec, partitions, images };
    writeJsonAtomically(plan.runPath, run);
    return run;
  } catch (e) {
    rmSync(plan.dir, { recursive: true, force: true });
    throw e;
  }
}

/** Streamed refs → the manifest Parquet file, numbering partitions in arrival order. */
export async function writeManifestFromBatches(batches: AsyncIterable<ImageRef[]>, file: string, partitionSize: number): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', temp_directory: path.join(os.tmpdir(), `imgpipe-plan-${process.pid}`) });
  const connection = await instance.connect();
  try {
    await connection.run('CREATE TABLE manifest (partition BIGINT, image_name VARCHAR, page_id BIGINT, sha1 VARCHAR)');
    const appender = await connection.createAppender('manifest');
    let n = 0;
    for await (const batch of batches) {
      for (const ref of batch) {
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
    await connection.run(`COPY manifest TO ${duckdbString(file)} (FORMAT parquet, COMPRESSION zstd)`);
    return n;
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}
