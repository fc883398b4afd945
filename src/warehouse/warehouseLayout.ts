/**
 * The embedded warehouse's folder, the one module that knows its names:
 *
 *   DIR/warehouse.json                 marker: { format, version, created_at }
 *   DIR/<table>/data.parquet           one file per source table (columns: warehouseSchema.ts)
 *   DIR/<table>/snapshot=S/wiki_db=W/  MediaWiki exports (importMediaWiki.ts, mediawikiSource.ts)
 *   DIR/metastore.json, views.sql      result partitions (EmbeddedMetastore.ts)
 *   DIR/.imgpipe-write.lock            the writer's lock (PidLock)
 *   DIR/.imgpipe-staging-<pid>-*       a writer's private staging folder
 *
 * Readers glob `DIR/<table>/*.parquet`; everything a writer has in flight is hidden (`.`-prefixed)
 * so no glob sees it, and leftovers of a dead writer are only ever removed under the lock.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAtomicTempOf, writeFileAtomic } from '../util/atomicWrite.js';
import { SOURCE_TABLE_NAMES, type SourceTableName } from './warehouseSchema.js';

export const WAREHOUSE_MARKER = 'warehouse.json';
export const WAREHOUSE_FORMAT = 'imgpipe-warehouse';
export const WAREHOUSE_VERSION = 1;
export const TABLE_FILE = 'data.parquet';
export const WRITE_LOCK_FILE = '.imgpipe-write.lock';
export const STAGING_PREFIX = '.imgpipe-staging-';

export type DirState = 'missing' | 'empty' | 'warehouse' | 'foreign' | 'not_a_folder';

/** What is at `dir`: nothing, an empty folder, a warehouse (has the marker), or something else. */
export function warehouseDirState(dir: string): DirState {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  if (!st.isDirectory()) return 'not_a_folder';
  if (isWarehouse(dir)) return 'warehouse';
  // Leftovers of an interrupted writer (lock, staging) do not make a folder foreign.
  const entries = fs.readdirSync(dir).filter((f) => !f.startsWith('.imgpipe-'));
  return entries.length === 0 ? 'empty' : 'foreign';
}

/** Whether DIR holds the marker (init has run). */
export const isWarehouse = (dir: string): boolean => fs.existsSync(path.join(dir, WAREHOUSE_MARKER));

/** Write the marker unless it is there (a second init keeps the first's created_at). */
export function writeMarker(dir: string): void {
  const marker = path.join(dir, WAREHOUSE_MARKER);
  if (fs.existsSync(marker)) return;
  const body = { format: WAREHOUSE_FORMAT, version: WAREHOUSE_VERSION, created_at: new Date().toISOString() };
  writeFileAtomic(marker, JSON.stringify(body, null, 2) + '\n');
}

export const tableDir = (dir: string, table: SourceTableName): string => path.join(dir, table);

/** Visible Parquet files of a table folder (what a reader's `*.parquet` glob sees), sorted. */
export function parquetFiles(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.parquet') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(folder, f));
}

/** Remove staging folders and half-written table files of writers that died. Call only under the write lock. */
export function removeLeftovers(dir: string): void {
  for (const e of fs.readdirSync(dir)) {
    if (e.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  for (const table of SOURCE_TABLE_NAMES) {
    const folder = tableDir(dir, table);
    if (!fs.existsSync(folder)) continue;
    for (const f of fs.readdirSync(folder)) if (isAtomicTempOf(f, TABLE_FILE)) fs.rmSync(path.join(folder, f), { force: true });
  }
}
