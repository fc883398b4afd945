/**
 * `warehouse import-mediawiki`: put exports of the MediaWiki replica tables (Parquet or CSV with a
 * header; e.g. `hive -e 'SELECT … FROM wmf_raw.mediawiki_image WHERE snapshot=… AND wiki_db=…'`
 * output, or a copy of the partition's Parquet files) into an embedded warehouse at one partition,
 * `<warehouse>/<table>/snapshot=S/wiki_db=W/data.parquet`, where `--source mediawiki` reads them
 * (mediawikiSource.ts).
 *
 * Input: in `from`, per table, `<table>.parquet`, `<table>.csv` or a folder `<table>/` of Parquet
 * files. Only the columns the profile reads are kept, cast to their types (CSV is read as text
 * first, so no type guessing). When an export still has `snapshot` and `wiki_db` columns, only the
 * rows of the requested partition are kept.
 *
 * Each table's partition is written to a temporary file and renamed into place (`replaceFileWith`):
 * a reader sees the old partition or the new one. Tables are replaced one after another (not one transaction); if it
 * fails midway, the tables not yet replaced keep their previous partition, and running it again
 * completes the import.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { UsageError } from '../util/errors.js';
import { replaceFileWith } from '../util/atomicWrite.js';
import { MEDIAWIKI_TABLES, mediawikiPartitionDir, type MediaWikiSource, type MediaWikiTable } from '../catalog/mediawikiSource.js';
import { duckdbIdentifier, duckdbString } from '../catalog/sqlQuote.js';
import { WAREHOUSE_MARKER } from './warehouseLayout.js';

/** The columns kept per table and their DuckDB types. */
export const MEDIAWIKI_COLUMN_TYPES: Record<MediaWikiTable, readonly (readonly [string, string])[]> = {
  mediawiki_image: [
    ['img_name', 'VARCHAR'], ['img_sha1', 'VARCHAR'], ['img_width', 'INTEGER'], ['img_height', 'INTEGER'], ['img_size', 'BIGINT'],
    ['img_media_type', 'VARCHAR'], ['img_major_mime', 'VARCHAR'], ['img_minor_mime', 'VARCHAR'], ['img_timestamp', 'VARCHAR'],
  ],
  mediawiki_page: [['page_id', 'BIGINT'], ['page_namespace', 'INTEGER'], ['page_title', 'VARCHAR']],
  mediawiki_categorylinks: [['cl_from', 'BIGINT'], ['cl_to', 'VARCHAR'], ['cl_type', 'VARCHAR']],
};

export interface ImportMediaWikiResult {
  /** Rows written per table. */
  rows: Record<MediaWikiTable, number>;
  /** The file or folder each table came from. */
  from: Record<MediaWikiTable, string>;
}

/**
 * @throws {UsageError} the warehouse is not one; a table's export is missing (names what was looked
 *   for) or lacks a column (names it); an export cannot be read.
 */
export async function importMediaWiki(warehouseDir: string, fromDir: string, source: MediaWikiSource): Promise<ImportMediaWikiResult> {
  const wh = path.resolve(warehouseDir);
  if (!fs.existsSync(path.join(wh, WAREHOUSE_MARKER))) throw new UsageError(`${wh} is not an imgpipe warehouse (no warehouse.json). Create one with \`imgpipe warehouse init --warehouse ${warehouseDir}\`.`);
  const from = path.resolve(fromDir);
  const inputs = {} as Record<MediaWikiTable, { path: string; scan: string }>;
  for (const table of MEDIAWIKI_TABLES) inputs[table] = findExport(from, table);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const result: ImportMediaWikiResult = { rows: {} as Record<MediaWikiTable, number>, from: {} as Record<MediaWikiTable, string> };
  try {
    // Check every table before writing any.
    const columnsOf: Partial<Record<MediaWikiTable, string[]>> = {};
    for (const table of MEDIAWIKI_TABLES) {
      let columns: string[];
      try {
        columns = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${inputs[table].scan}`)).getRows().map((r) => String(r[0]));
      } catch (e) {
        throw new UsageError(`Cannot read ${inputs[table].path}: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
      }
      const missing = MEDIAWIKI_COLUMN_TYPES[table].map(([c]) => c).filter((c) => !columns.includes(c));
      if (missing.length > 0) throw new UsageError(`Expected columns ${missing.join(', ')} in ${inputs[table].path} (${table}) but found ${columns.join(', ')}`);
      columnsOf[table] = columns;
    }
    for (const table of MEDIAWIKI_TABLES) {
      const columns = columnsOf[table]!;
      const filters = [
        columns.includes('snapshot') ? `snapshot::VARCHAR = ${duckdbString(source.snapshot)}` : null,
        columns.includes('wiki_db') ? `wiki_db::VARCHAR = ${duckdbString(source.wiki_db)}` : null,
      ].filter(Boolean);
      const select = `SELECT ${MEDIAWIKI_COLUMN_TYPES[table].map(([c, type]) => `${duckdbIdentifier(c)}::${type} AS ${duckdbIdentifier(c)}`).join(', ')} FROM ${inputs[table].scan}${filters.length ? ` WHERE ${filters.join(' AND ')}` : ''}`;
      const dir = mediawikiPartitionDir(wh, table, source);
      fs.mkdirSync(dir, { recursive: true });
      await replaceFileWith(path.join(dir, 'data.parquet'), async (tmp) => {
        try {
          const written = await connection.runAndReadAll(`COPY (${select}) TO ${duckdbString(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
          result.rows[table] = Number(written.getRows()[0]?.[0] ?? 0);
        } catch (e) {
          throw new UsageError(`Cannot import ${inputs[table].path} (${table}): ${((e as Error).message ?? String(e)).split('\n')[0]}`);
        }
      });
      for (const f of fs.readdirSync(dir)) if (f !== 'data.parquet' && f.endsWith('.parquet')) fs.rmSync(path.join(dir, f));
      result.from[table] = inputs[table].path;
    }
    return result;
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}

function findExport(from: string, table: MediaWikiTable): { path: string; scan: string } {
  const parquet = path.join(from, `${table}.parquet`);
  const csv = path.join(from, `${table}.csv`);
  const folder = path.join(from, table);
  if (fs.existsSync(parquet)) return { path: parquet, scan: `read_parquet(${duckdbString(parquet)})` };
  if (fs.existsSync(csv)) return { path: csv, scan: `read_csv(${duckdbString(csv)}, header = true, all_varchar = true)` };
  if (fs.existsSync(folder) && fs.statSync(folder).isDirectory()) {
    return { path: folder, scan: `read_parquet(${duckdbString(path.join(folder, '**', '*.parquet'))}, hive_partitioning = true, hive_types_autocast = false)` };
  }
  throw new UsageError(`No export of ${table} in ${from}: expected ${table}.parquet, ${table}.csv or a folder ${table}/ of Parquet files`);
}
