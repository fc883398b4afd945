/**
 * The committed source tables of one warehouse, through the writer's DuckDB connection: read them,
 * count them, and replace a table's `data.parquet` with a merge of its rows and the staged ones.
 *
 * Replace: DuckDB writes the new file beside the old one and it is renamed over it
 * (`replaceFileWith`), so a reader sees the old table or the new one, never both or neither; any
 * other Parquet file in the folder (copied in by hand), already read by the merge, is removed after.
 * If anything fails before the rename, the table is unchanged.
 *
 * Merge: keyed tables keep the newest row per key (image, image_bytes: image_name), link tables keep
 * distinct rows (categorylinks: (page_id, category); category_parent: (category, parent)). The merge
 * of a keyed table is `old WHERE NOT staged(key) UNION ALL staged WHERE NOT superseded(_seq)`, the
 * two predicates being JS UDFs over the key sets the staging tracked (WarehouseStaging.ts). DuckDB
 * streams such filtered scans of blobs within its memory limit; hash joins and sorts over blob rows
 * ran out of memory on a few hundred MB (DuckDB 1.5), hence no joins. Image bytes are written in row
 * groups of about ROW_GROUP_BYTES, because DuckDB reads a row group's column chunk whole. Measured:
 * replacing 160 MB of 4 MB files needs about 60 MB of DuckDB memory per thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BIGINT, BOOLEAN, DuckDBScalarFunction, VARCHAR, type DuckDBConnection, type DuckDBScalarMainFunction } from '@duckdb/node-api';
import { duckdbIdentifier as ident, duckdbString as q } from '../catalog/sqlQuote.js';
import { replaceFileWith } from '../util/atomicWrite.js';
import { parquetFiles, TABLE_FILE, tableDir } from './warehouseLayout.js';
import { columnsOf, SOURCE_TABLE_NAMES, type SourceTableName } from './warehouseSchema.js';
import { ROW_GROUP_BYTES, TABLE_KEYS, type WarehouseStaging } from './WarehouseStaging.js';
import type { TableCounts } from './warehouseRows.js';

export class WarehouseTables {
  /** What the merge filters consult while one table's COPY runs (see registerMergeFilters). */
  private filterKeys: ReadonlyMap<string, bigint> = new Map();
  private filterSuperseded: ReadonlySet<bigint> = new Set();

  constructor(
    readonly dir: string,
    private readonly conn: DuckDBConnection,
  ) {
    this.registerMergeFilters();
  }

  /** Whether the table has a visible Parquet file. */
  exists(table: SourceTableName): boolean {
    return parquetFiles(tableDir(this.dir, table)).length > 0;
  }

  /** Write an empty, correctly typed table (init, or `--sync` with nothing staged for it). */
  async replaceWithEmpty(table: SourceTableName): Promise<void> {
    const cols = columnsOf(table).map(([name, type]) => `NULL::${type} AS ${ident(name)}`).join(', ');
    await this.replaceTableFile(table, `SELECT ${cols} LIMIT 0`, 'FORMAT parquet');
  }

  /**
   * Merge the staged rows of `table` into it; with `replace`, the staged rows replace the table
   * (rows not staged again are dropped).
   */
  async merge(table: SourceTableName, staging: WarehouseStaging, replace: boolean): Promise<void> {
    const colList = columnsOf(table).map(([name]) => ident(name)).join(', ');
    const stage = staging.scan(table);
    // Replace: the old table contributes no row (its columns still type the union).
    const old = replace ? `(SELECT * FROM ${this.readCurrent(table)} LIMIT 0)` : this.readCurrent(table);
    const key = TABLE_KEYS[table];
    if (key === null) {
      // link tables: small; the distinct union of old and staged rows, sorted
      const select = `SELECT DISTINCT ${colList} FROM (SELECT ${colList} FROM ${old} UNION ALL SELECT ${colList} FROM ${stage})`;
      await this.replaceTableFile(table, `${select} ORDER BY ${colList}`, 'FORMAT parquet');
      return;
    }
    // Keyed tables: old rows whose key was not staged, then the newest staged row per key. The
    // decisions are made on keys in JS and applied as row filters (UDFs): DuckDB streams filtered
    // scans of blobs in bounded memory, but not hash joins or sorts over them.
    this.filterKeys = staging.stagedKeys(table);
    this.filterSuperseded = staging.superseded(table);
    const stageFilter = this.filterSuperseded.size > 0 ? 'WHERE NOT imgpipe_superseded(_seq)' : '';
    const select = `
      SELECT ${colList} FROM ${old} WHERE NOT imgpipe_staged_key(${ident(key)})
      UNION ALL
      SELECT ${colList} FROM ${stage} ${stageFilter}`;
    try {
      if (table === 'image_bytes') {
        // Bytes stay in arrival order; row groups are sized from the largest blob so that reading or
        // writing one stays near ROW_GROUP_BYTES.
        const rows = rowsPerGroup(Math.max(staging.maxBlob, await this.largestBlobIn(table)));
        await this.replaceTableFile(table, select, `FORMAT parquet, ROW_GROUP_SIZE ${rows}`);
      } else {
        // no blobs: sorted by key, so files are deterministic and row-group stats prune lookups
        await this.replaceTableFile(table, `${select} ORDER BY ${ident(key)}`, 'FORMAT parquet');
      }
    } finally {
      this.filterKeys = new Map();
      this.filterSuperseded = new Set();
    }
  }

  /** Row count of every table as committed. */
  async counts(): Promise<TableCounts> {
    const out = {} as TableCounts;
    for (const table of SOURCE_TABLE_NAMES) {
      const r = await this.conn.runAndReadAll(`SELECT count(*) FROM ${this.readCurrent(table)}`);
      out[table] = Number(r.getRows()[0]?.[0] ?? 0);
    }
    return out;
  }

  /** Distinct categories named anywhere (links or tree edges). */
  async categoryCount(): Promise<number> {
    const r = await this.conn.runAndReadAll(
      `SELECT count(DISTINCT c) FROM (
         SELECT category AS c FROM ${this.readCurrent('categorylinks')}
         UNION ALL SELECT category FROM ${this.readCurrent('category_parent')}
         UNION ALL SELECT parent FROM ${this.readCurrent('category_parent')})`,
    );
    return Number(r.getRows()[0]?.[0] ?? 0);
  }

  /** A FROM-clause source of the committed table with the contract's column types. */
  private readCurrent(table: SourceTableName): string {
    const files = parquetFiles(tableDir(this.dir, table));
    const cols = columnsOf(table).map(([name, type]) =>
      files.length ? `${ident(name)}::${type} AS ${ident(name)}` : `NULL::${type} AS ${ident(name)}`,
    );
    if (files.length === 0) return `(SELECT ${cols.join(', ')} LIMIT 0)`;
    return `(SELECT ${cols.join(', ')} FROM read_parquet([${files.map(q).join(', ')}]))`;
  }

  /** Largest average blob size of any row group in the committed table (Parquet metadata only). */
  private async largestBlobIn(table: SourceTableName): Promise<number> {
    const files = parquetFiles(tableDir(this.dir, table));
    if (files.length === 0) return 0;
    const r = await this.conn.runAndReadAll(
      `SELECT coalesce(max(total_uncompressed_size / greatest(num_values, 1)), 0)
         FROM parquet_metadata([${files.map(q).join(', ')}]) WHERE path_in_schema = 'bytes'`,
    );
    return Number(r.getRows()[0]?.[0] ?? 0);
  }

  /** Write the query's result as the table's new `data.parquet` (module comment: Replace). */
  private async replaceTableFile(table: SourceTableName, select: string, copyOptions: string): Promise<void> {
    const folder = tableDir(this.dir, table);
    fs.mkdirSync(folder, { recursive: true });
    const target = path.join(folder, TABLE_FILE);
    const before = parquetFiles(folder);
    await replaceFileWith(target, (tmp) => this.conn.run(`COPY (${select}) TO ${q(tmp)} (${copyOptions})`));
    for (const f of before) if (f !== target) fs.rmSync(f, { force: true });
  }

  /** The two row filters of the merge; they read the sets of the table being merged. */
  private registerMergeFilters(): void {
    const filter =
      <T>(test: (v: T) => boolean): DuckDBScalarMainFunction =>
      (_info, input, output) => {
        const v = input.getColumnVector(0);
        for (let i = 0; i < input.rowCount; i++) output.setItem(i, test(v.getItem(i) as T));
        output.flush();
      };
    this.conn.registerScalarFunction(
      DuckDBScalarFunction.create({
        name: 'imgpipe_staged_key',
        returnType: BOOLEAN,
        parameterTypes: [VARCHAR],
        volatile: true, // reads writer state: never constant-folded or cached
        mainFunction: filter<string>((k) => this.filterKeys.has(k)),
      }),
    );
    this.conn.registerScalarFunction(
      DuckDBScalarFunction.create({
        name: 'imgpipe_superseded',
        returnType: BOOLEAN,
        parameterTypes: [BIGINT],
        volatile: true,
        mainFunction: filter<bigint>((seq) => this.filterSuperseded.has(seq)),
      }),
    );
  }
}

const rowsPerGroup = (largestBlob: number): number =>
  Math.min(2048, Math.max(1, Math.floor(ROW_GROUP_BYTES / Math.max(1, largestBlob))));
