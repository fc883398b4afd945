/**
 * Compaction: rewrite a folder's part files into files of about `targetBytes`, the same rows in the
 * same order (DuckDB COPY). It never touches what readers see: a run compacts its committed parts in
 * its staging folder *before* the version is sealed and published (Committer.commitJob), and
 * `imgpipe compact` writes a new version of a published snapshot and moves the pointer
 * (TableWriter.compact). On WebHDFS the parts are downloaded to a local temp folder, compacted there
 * and uploaded into the destination.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import { isRemoteLocation, joinLocation, parentLocation } from './location.js';
import type { TableStore } from './TableStore.js';

/** @defaultValue 256 MiB: large enough for efficient scans, small enough to parallelize reads. */
export const DEFAULT_COMPACT_TARGET_BYTES = 256 * 2 ** 20;
/** Runs compact their snapshot when its parts average less than this (`--compact-below`). */
export const DEFAULT_COMPACT_BELOW_BYTES = 32 * 2 ** 20;

export interface CompactResult {
  filesBefore: number;
  filesAfter: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** The part files of a folder (`*.parquet`, not hidden), sorted by name. */
export async function partFiles(store: TableStore, dir: string): Promise<string[]> {
  return (await store.list(dir)).filter((f) => f.endsWith('.parquet') && !f.startsWith('.'));
}

async function totalBytes(store: TableStore, dir: string, files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await store.fileSize(joinLocation(dir, f))) ?? 0;
  return n;
}

/** Whether to compact: more than one part and the parts average under `belowBytes` (0: never). */
export async function shouldCompact(store: TableStore, dir: string, belowBytes: number): Promise<boolean> {
  const files = await partFiles(store, dir);
  if (belowBytes <= 0 || files.length < 2) return false;
  return (await totalBytes(store, dir, files)) / files.length < belowBytes;
}

/**
 * Write `sourceDir`'s parts, compacted, into `destDir` (created; removed first if a killed attempt
 * left it), checking the row count. Only `*.parquet` files are written to `destDir`.
 * If this throws, `destDir` may hold some files; `sourceDir` is untouched.
 */
export async function compactParts(store: TableStore, sourceDir: string, destDir: string, targetBytes = DEFAULT_COMPACT_TARGET_BYTES): Promise<CompactResult> {
  const files = await partFiles(store, sourceDir);
  const bytesBefore = await totalBytes(store, sourceDir, files);
  const scratch = path.join(os.tmpdir(), `imgpipe-compact-${process.pid}-${randomBytes(3).toString('hex')}`);
  const remote = isRemoteLocation(sourceDir);
  let localSource = sourceDir;
  let localDest = destDir;
  if (remote) {
    localSource = path.join(scratch, 'in');
    localDest = path.join(scratch, 'out');
    mkdirSync(localSource, { recursive: true });
    for (const f of files) {
      const data = await store.readFile(joinLocation(sourceDir, f));
      if (data === null) throw new Error(`compaction of ${sourceDir}: ${f} disappeared while it was read`);
      writeFileSync(path.join(localSource, f), data);
    }
  }
  await store.remove(destDir);
  if (!remote) await store.mkdirs(parentLocation(destDir));
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '512MB', temp_directory: path.join(scratch, 'duckdb'), preserve_insertion_order: 'true' });
  const connection = await instance.connect();
  try {
    const source = `read_parquet(${duckdbString(path.join(localSource, '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;
    const before = Number((await connection.runAndReadAll(`SELECT count(*) FROM ${source}`)).getRows()[0]![0]);
    // Files in name order, rows in file order: the compacted table keeps the order of the parts.
    await connection.run(`COPY (SELECT * FROM ${source}) TO ${duckdbString(localDest)} (FORMAT parquet, COMPRESSION snappy, FILE_SIZE_BYTES ${Math.max(1, Math.trunc(targetBytes))}, FILENAME_PATTERN 'part-{i}')`);
    const after = Number((await connection.runAndReadAll(`SELECT count(*) FROM read_parquet(${duckdbString(path.join(localDest, '*.parquet'))}, hive_partitioning = false)`)).getRows()[0]![0]);
    if (after !== before) throw new Error(`compaction of ${sourceDir} wrote ${after} rows for ${before}; nothing was changed`);
    const written = readdirSync(localDest).filter((f) => f.endsWith('.parquet')).sort();
    const bytesAfter = written.reduce((n, f) => n + statSync(path.join(localDest, f)).size, 0);
    if (remote) {
      await store.mkdirs(destDir);
      for (const f of written) await store.upload(path.join(localDest, f), joinLocation(destDir, f));
    }
    return { filesBefore: files.length, filesAfter: written.length, rows: after, bytesBefore, bytesAfter };
  } finally {
    connection.disconnectSync();
    instance.closeSync();
    rmSync(scratch, { recursive: true, force: true });
  }
}
