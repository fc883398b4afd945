/**
 * Compaction: rewrite a committed snapshot's part files into files of about `targetBytes`, the same
 * rows in the same order, atomically. The new files are written and checked (row count) in a staging
 * folder under the table, `_SUCCESS` and the summary copied, then the folder is swapped in the way a
 * commit is (old folder aside, new folder in, old removed): a reader sees the old files or the new
 * ones, never a mix. If it throws before the swap, the snapshot is untouched.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';

/** @defaultValue 256 MiB: large enough for efficient scans, small enough to parallelize reads. */
export const DEFAULT_COMPACT_TARGET_BYTES = 256 * 2 ** 20;
/** Runs compact their snapshot when its parts average less than this (`--compact-below`). */
export const DEFAULT_COMPACT_BELOW_BYTES = 32 * 2 ** 20;

export interface CompactResult {
  snapshotDir: string;
  filesBefore: number;
  filesAfter: number;
  rows: number;
  bytesBefore: number;
  bytesAfter: number;
}

export function partFiles(snapshotDir: string): string[] {
  return readdirSync(snapshotDir).filter((f) => f.endsWith('.parquet') && !f.startsWith('.')).sort();
}

/** Whether a run should compact: more than one part and the parts average under `belowBytes`. */
export function shouldCompact(snapshotDir: string, belowBytes: number): boolean {
  const files = partFiles(snapshotDir);
  if (belowBytes <= 0 || files.length < 2) return false;
  const total = files.reduce((n, f) => n + statSync(path.join(snapshotDir, f)).size, 0);
  return total / files.length < belowBytes;
}

export async function compactSnapshot(snapshotDir: string, targetBytes = DEFAULT_COMPACT_TARGET_BYTES): Promise<CompactResult> {
  if (!existsSync(path.join(snapshotDir, '_SUCCESS'))) throw new UsageError(`${snapshotDir} is not a committed snapshot (no _SUCCESS)`);
  const files = partFiles(snapshotDir);
  const bytesBefore = files.reduce((n, f) => n + statSync(path.join(snapshotDir, f)).size, 0);
  const tableLocation = path.dirname(path.dirname(snapshotDir));
  const staging = path.join(tableLocation, '_staging', `compact-${Date.now()}-${randomBytes(3).toString('hex')}`);
  const fresh = path.join(staging, 'new');
  mkdirSync(staging, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '512MB', temp_directory: path.join(os.tmpdir(), `imgpipe-compact-${process.pid}`), preserve_insertion_order: 'true' });
  const connection = await instance.connect();
  try {
    const source = `read_parquet(${duckdbString(path.join(snapshotDir, '*.parquet'))}, hive_partitioning = false)`;
    const before = Number((await connection.runAndReadAll(`SELECT count(*) FROM ${source}`)).getRows()[0]![0]);
    // Files in name order, rows in file order: the compacted table keeps the order of the parts.
    await connection.run(`COPY (SELECT * FROM ${source}) TO ${duckdbString(fresh)} (FORMAT parquet, COMPRESSION snappy, FILE_SIZE_BYTES ${Math.max(1, Math.trunc(targetBytes))}, FILENAME_PATTERN 'part-{i}')`);
    const after = Number((await connection.runAndReadAll(`SELECT count(*) FROM read_parquet(${duckdbString(path.join(fresh, '*.parquet'))}, hive_partitioning = false)`)).getRows()[0]![0]);
    if (after !== before) throw new Error(`compaction of ${snapshotDir} wrote ${after} rows for ${before}; nothing was changed`);
    for (const marker of ['_summary.json', '_SUCCESS']) {
      if (existsSync(path.join(snapshotDir, marker))) copyFileSync(path.join(snapshotDir, marker), path.join(fresh, marker));
    }
    const summaryFile = path.join(fresh, '_summary.json');
    if (existsSync(summaryFile)) {
      const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(summaryFile, JSON.stringify({ ...summary, compacted_at: new Date().toISOString(), compacted_from_files: files.length }, null, 2) + '\n');
    }
    const filesAfter = partFiles(fresh);
    const bytesAfter = filesAfter.reduce((n, f) => n + statSync(path.join(fresh, f)).size, 0);
    const old = path.join(staging, 'old');
    renameSync(snapshotDir, old);
    try {
      renameSync(fresh, snapshotDir);
    } catch (e) {
      renameSync(old, snapshotDir); // put the old files back before anything is removed
      throw e;
    }
    return { snapshotDir, filesBefore: files.length, filesAfter: filesAfter.length, rows: after, bytesBefore, bytesAfter };
  } finally {
    connection.disconnectSync();
    instance.closeSync();
    rmSync(staging, { recursive: true, force: true });
    try {
      rmdirSync(path.join(tableLocation, '_staging'));
    } catch {
      // other runs stage there
    }
  }
}
