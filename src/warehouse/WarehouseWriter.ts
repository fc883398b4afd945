/**
 * The embedded warehouse's write side. A warehouse is a folder:
 *
 *   DIR/warehouse.json                 marker: { format, version, created_at }
 *   DIR/<table>/data.parquet           one file per source table (see warehouseSchema.ts)
 *
 * Readers glob `DIR/<table>/*.parquet`. The writer replaces `data.parquet` by writing
 * `.data.parquet.<pid>.tmp` in the same folder and renaming it over the old file (atomic on POSIX),
 * so a reader sees the old table or the new one, never both or neither. Tables are replaced one at a
 * time in dependency order (image_bytes, image, category_parent, categorylinks): a reader between
 * two swaps may see new bytes with old image rows, never image rows whose bytes are not written yet.
 *
 * Rows go in through `stage(batch)` (appended with DuckDB's appender and written to Parquet files
 * under a private staging folder `DIR/.imgpipe-staging-*`, so JS memory holds one batch at a time)
 * and become visible at `commit()`, which merges staged rows with the current table: keyed tables
 * keep the newest row per key (image, image_bytes: image_name), link tables keep distinct rows
 * (categorylinks: (page_id, category); category_parent: (category, parent)). `upsert(batch)` is
 * stage + commit. If anything fails before a table's rename, that table is unchanged.
 *
 * Memory: the merge of a keyed table is `old WHERE NOT staged(key) UNION ALL staged WHERE NOT
 * superseded(_seq)`, the two predicates being JS UDFs over key sets the writer tracked while
 * staging. DuckDB streams such filtered scans of blobs within its memory limit; hash joins and
 * sorts over blob rows ran out of memory on a few hundred MB (DuckDB 1.5), hence no joins. Image
 * bytes are also staged and written in row groups of about ROW_GROUP_BYTES, because DuckDB never
 * splits a vector chunk and reads a row group's column chunk whole. Measured: replacing 160 MB of
 * 4 MB files needs about 60 MB of DuckDB memory per thread (default: 512 MB, at most 4 threads).
 *
 * One writer at a time per warehouse: `DIR/.imgpipe-write.lock` (holding the pid) guards it; a lock
 * left by a dead process is taken over. Always `close()` (releases DuckDB handles, staging, lock).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BIGINT,
  BOOLEAN,
  DuckDBInstance,
  DuckDBScalarFunction,
  DuckDBTimestampValue,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBScalarMainFunction,
} from '@duckdb/node-api';
import { SOURCE_TABLES, SOURCE_TABLE_NAMES, type SourceTableName } from './warehouseSchema.js';
import { UsageError } from '../util/errors.js';

export const WAREHOUSE_MARKER = 'warehouse.json';
export const WAREHOUSE_FORMAT = 'imgpipe-warehouse';
export const WAREHOUSE_VERSION = 1;
export const TABLE_FILE = 'data.parquet';
const LOCK_FILE = '.imgpipe-write.lock';

export interface ImageRow {
  image_name: string;
  page_id: bigint;
  sha1: string;
  media_type: string;
  mime: string;
  width: number | null;
  height: number | null;
  size: number;
  uploaded_at: Date;
}
export interface ImageBytesRow {
  image_name: string;
  sha1: string;
  bytes: Uint8Array;
}
export interface CategoryLinkRow {
  page_id: bigint;
  category: string;
}
export interface CategoryParentRow {
  category: string;
  parent: string;
}
export interface WarehouseBatch {
  image?: readonly ImageRow[];
  image_bytes?: readonly ImageBytesRow[];
  categorylinks?: readonly CategoryLinkRow[];
  category_parent?: readonly CategoryParentRow[];
}

export type TableCounts = Record<SourceTableName, number>;

export interface WarehouseWriterOptions {
  /** DuckDB memory limit for merges; larger data spills to the staging folder. Default 512MB. */
  memoryLimit?: string;
  /** DuckDB threads; each needs ~60 MB for a blob merge (row groups of ~8 MB in flight). Default ≤ 4. */
  threads?: number;
}

/** Keys of each table; `null` marks a link table whose whole row is the key. */
const TABLE_KEYS: Record<SourceTableName, string | null> = {
  image: 'image_name',
  image_bytes: 'image_name',
  categorylinks: null,
  category_parent: null,
};
/** Replace order: what a row refers to is written before the row. */
const COMMIT_ORDER: readonly SourceTableName[] = ['image_bytes', 'image', 'category_parent', 'categorylinks'];

type DirState = 'missing' | 'empty' | 'warehouse' | 'foreign' | 'not_a_folder';

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
  if (fs.existsSync(path.join(dir, WAREHOUSE_MARKER))) return 'warehouse';
  // Leftovers of an interrupted writer (lock, staging) do not make a folder foreign.
  const entries = fs.readdirSync(dir).filter((f) => !f.startsWith('.imgpipe-'));
  return entries.length === 0 ? 'empty' : 'foreign';
}

/** The contract's columns of a table as [name, DuckDB type] pairs. */
export const columnsOf = (table: SourceTableName): ReadonlyArray<readonly [string, string]> => SOURCE_TABLES[table];

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export class WarehouseWriter {
  private seq = 0n; // staging order: a later staged row wins over an earlier one with the same key
  private maxStagedBlob = 0; // largest staged image_bytes.bytes, sizes the row groups
  /** Keyed tables: staged key → _seq of its newest staged row; and the _seqs that newer rows replaced. */
  private readonly stagedKeys: Partial<Record<SourceTableName, Map<string, bigint>>> = {};
  private readonly superseded: Partial<Record<SourceTableName, Set<bigint>>> = {};
  /** What the merge filters consult while one table's COPY runs (see registerMergeFilters). */
  private filterKeys: ReadonlyMap<string, bigint> = new Map();
  private filterSuperseded: ReadonlySet<bigint> = new Set();
  private batchNo = 0;
  private readonly staged = new Set<SourceTableName>();
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly stagingDir: string,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  /**
   * Open a writer on DIR (created if missing). Throws UsageError when DIR is a file, or a non-empty
   * folder that is not a warehouse (nothing there is touched), or when another writer holds the lock.
   */
  static async create(dir: string, options: WarehouseWriterOptions = {}): Promise<WarehouseWriter> {
    const abs = path.resolve(dir);
    const state = warehouseDirState(abs);
    if (state === 'not_a_folder') throw new UsageError(`--warehouse ${dir} exists and is not a folder`);
    if (state === 'foreign') {
      throw new UsageError(
        `--warehouse ${dir} is a non-empty folder that is not an imgpipe warehouse (no ${WAREHOUSE_MARKER}); ` +
          'choose a new or empty folder',
      );
    }
    fs.mkdirSync(abs, { recursive: true });
    acquireLock(abs);
    let stagingDir: string | undefined;
    try {
      removeLeftovers(abs); // we hold the lock: any staging or temp file is from a crashed writer
      stagingDir = fs.mkdtempSync(path.join(abs, `.imgpipe-staging-${process.pid}-`));
      const instance = await DuckDBInstance.create(':memory:', {
        memory_limit: options.memoryLimit ?? '512MB',
        threads: String(options.threads ?? Math.min(4, os.availableParallelism())), // I/O-bound merge
        temp_directory: path.join(stagingDir, 'spill'),
      });
      try {
        const writer = new WarehouseWriter(abs, stagingDir, instance, await instance.connect());
        writer.registerMergeFilters();
        return writer;
      } catch (e) {
        instance.closeSync();
        throw e;
      }
    } catch (e) {
      if (stagingDir) fs.rmSync(stagingDir, { recursive: true, force: true });
      releaseLock(abs);
      throw e;
    }
  }

  /** Whether DIR holds the marker (init has run). */
  get isWarehouse(): boolean {
    return fs.existsSync(path.join(this.dir, WAREHOUSE_MARKER));
  }

  /**
   * Make DIR a warehouse: the marker plus an empty, correctly typed table for every table that has
   * no file yet. Existing tables are kept (init on a warehouse is a no-op, never a wipe).
   * Returns the tables it created.
   */
  async init(): Promise<SourceTableName[]> {
    this.assertOpen();
    const created: SourceTableName[] = [];
    for (const table of SOURCE_TABLE_NAMES) {
      const tableDir = path.join(this.dir, table);
      fs.mkdirSync(tableDir, { recursive: true });
      if (parquetFiles(tableDir).length > 0) continue;
      const cols = columnsOf(table).map(([name, type]) => `NULL::${type} AS ${ident(name)}`).join(', ');
      await this.replaceTableFile(table, `SELECT ${cols} LIMIT 0`, 'FORMAT parquet');
      created.push(table);
    }
    const marker = path.join(this.dir, WAREHOUSE_MARKER);
    if (!fs.existsSync(marker)) {
      const body = { format: WAREHOUSE_FORMAT, version: WAREHOUSE_VERSION, created_at: new Date().toISOString() };
      writeFileAtomic(marker, JSON.stringify(body, null, 2) + '\n');
    }
    return created;
  }

  /** Stage rows; they become visible at commit(). The batch can be dropped once this resolves. */
  async stage(batch: WarehouseBatch): Promise<void> {
    this.assertOpen();
    for (const table of SOURCE_TABLE_NAMES) {
      const rows = batch[table];
      if (!rows || rows.length === 0) continue;
      if (table === 'image_bytes') {
        // DuckDB never splits a vector chunk (≤ 2048 rows) across row groups, so bytes are staged in
        // files of at most ROW_GROUP_BYTES each: every chunk the merge reads stays that small.
        for (const part of byteBoundedParts(rows as readonly ImageBytesRow[])) await this.stageFile(table, part);
      } else {
        await this.stageFile(table, rows);
      }
      this.staged.add(table);
    }
  }

  /** Append rows to a scratch table with the contract's types, then write it as one staging file. */
  private async stageFile(table: SourceTableName, rows: readonly unknown[]): Promise<void> {
    const tmpTable = `batch_${table}`;
    const cols = columnsOf(table).map(([name, type]) => `${ident(name)} ${type}`).join(', ');
    await this.conn.run(`CREATE OR REPLACE TABLE ${tmpTable} (${cols}, _seq BIGINT)`);
    try {
      const appender = await this.conn.createAppender(tmpTable);
      try {
        const keyColumn = TABLE_KEYS[table];
        const keys = keyColumn === null ? undefined : (this.stagedKeys[table] ??= new Map());
        const replaced = (this.superseded[table] ??= new Set());
        for (const row of rows) {
          const seq = this.seq++;
          appendRow(appender, table, row);
          appender.appendBigInt(seq);
          appender.endRow();
          if (keys && keyColumn) {
            const key = (row as Record<string, string>)[keyColumn]!;
            const previous = keys.get(key);
            if (previous !== undefined) replaced.add(previous);
            keys.set(key, seq);
          }
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      if (table === 'image_bytes') {
        const largest = Math.max(0, ...(rows as readonly ImageBytesRow[]).map((r) => r.bytes.length));
        this.maxStagedBlob = Math.max(this.maxStagedBlob, largest);
      }
      const dir = path.join(this.stagingDir, table);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `batch-${String(this.batchNo++).padStart(6, '0')}.parquet`);
      await this.conn.run(`COPY ${tmpTable} TO ${q(file)} (FORMAT parquet)`);
    } finally {
      await this.conn.run(`DROP TABLE IF EXISTS ${tmpTable}`);
    }
  }

  /**
   * Merge everything staged into the tables, one atomic file replacement per changed table.
   * With `replace` (`warehouse import --sync`), the staged rows replace every table instead: rows not
   * staged again are dropped (a table with nothing staged becomes empty). Same atomicity per table.
   */
  async commit(options: { replace?: boolean } = {}): Promise<void> {
    this.assertOpen();
    if (!this.isWarehouse) throw new UsageError(`${this.dir} is not an imgpipe warehouse; run "warehouse init" first`);
    for (const table of COMMIT_ORDER) {
      if (!this.staged.has(table)) {
        if (options.replace) {
          const colList = columnsOf(table).map(([name]) => ident(name)).join(', ');
          await this.replaceTableFile(table, `SELECT ${colList} FROM ${this.readCurrent(table)} LIMIT 0`, 'FORMAT parquet');
        }
        continue;
      }
      await this.mergeTable(table, options.replace ?? false);
      fs.rmSync(path.join(this.stagingDir, table), { recursive: true, force: true });
      this.staged.delete(table);
      delete this.stagedKeys[table];
      delete this.superseded[table];
    }
  }

  /** stage(batch) then commit(). */
  async upsert(batch: WarehouseBatch): Promise<void> {
    await this.stage(batch);
    await this.commit();
  }

  /** Row count of every table as committed. */
  async counts(): Promise<TableCounts> {
    this.assertOpen();
    const out = {} as TableCounts;
    for (const table of SOURCE_TABLE_NAMES) {
      const r = await this.conn.runAndReadAll(`SELECT count(*) FROM ${this.readCurrent(table)}`);
      out[table] = Number(r.getRows()[0]?.[0] ?? 0);
    }
    return out;
  }

  /** Distinct categories named anywhere (links or tree edges). */
  async categoryCount(): Promise<number> {
    this.assertOpen();
    const r = await this.conn.runAndReadAll(
      `SELECT count(DISTINCT c) FROM (
         SELECT category AS c FROM ${this.readCurrent('categorylinks')}
         UNION ALL SELECT category FROM ${this.readCurrent('category_parent')}
         UNION ALL SELECT parent FROM ${this.readCurrent('category_parent')})`,
    );
    return Number(r.getRows()[0]?.[0] ?? 0);
  }

  /** Release DuckDB handles, staged (uncommitted) rows and the lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.disconnectSync();
      this.instance.closeSync();
    } finally {
      fs.rmSync(this.stagingDir, { recursive: true, force: true });
      releaseLock(this.dir);
    }
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────────

  private assertOpen(): void {
    if (this.closed) throw new Error('WarehouseWriter is closed');
  }

  /** A FROM-clause source of the committed table with the contract's column types. */
  private readCurrent(table: SourceTableName): string {
    const files = parquetFiles(path.join(this.dir, table));
    const cols = columnsOf(table).map(([name, type]) =>
      files.length ? `${ident(name)}::${type} AS ${ident(name)}` : `NULL::${type} AS ${ident(name)}`,
    );
    if (files.length === 0) return `(SELECT ${cols.join(', ')} LIMIT 0)`;
    return `(SELECT ${cols.join(', ')} FROM read_parquet([${files.map(q).join(', ')}]))`;
  }

  /** Largest average blob size of any row group in the committed table (Parquet metadata only). */
  private async largestBlobIn(table: SourceTableName): Promise<number> {
    const files = parquetFiles(path.join(this.dir, table));
    if (files.length === 0) return 0;
    const r = await this.conn.runAndReadAll(
      `SELECT coalesce(max(total_uncompressed_size / greatest(num_values, 1)), 0)
         FROM parquet_metadata([${files.map(q).join(', ')}]) WHERE path_in_schema = 'bytes'`,
    );
    return Number(r.getRows()[0]?.[0] ?? 0);
  }

  private async mergeTable(table: SourceTableName, replace: boolean): Promise<void> {
    const colList = columnsOf(table).map(([name]) => ident(name)).join(', ');
    const stage = `read_parquet(${q(path.join(this.stagingDir, table, '*.parquet'))})`;
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
    this.filterKeys = this.stagedKeys[table] ?? new Map();
    this.filterSuperseded = this.superseded[table] ?? new Set();
    const stageFilter = this.filterSuperseded.size > 0 ? 'WHERE NOT imgpipe_superseded(_seq)' : '';
    const select = `
      SELECT ${colList} FROM ${old} WHERE NOT imgpipe_staged_key(${ident(key)})
      UNION ALL
      SELECT ${colList} FROM ${stage} ${stageFilter}`;
    try {
      if (table === 'image_bytes') {
        // Bytes stay in arrival order; row groups are sized from the largest blob so that reading or
        // writing one stays near ROW_GROUP_BYTES.
        const rows = rowsPerGroup(Math.max(this.maxStagedBlob, await this.largestBlobIn(table)));
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

  /**
   * Write the query's result as the table's new `data.parquet`: temp file in the same folder, rename
   * over the old file, then remove any other Parquet file there (e.g. copied in by hand), which the
   * merge has already read.
   */
  private async replaceTableFile(table: SourceTableName, select: string, copyOptions: string): Promise<void> {
    const tableDir = path.join(this.dir, table);
    fs.mkdirSync(tableDir, { recursive: true });
    const target = path.join(tableDir, TABLE_FILE);
    const tmp = path.join(tableDir, `.${TABLE_FILE}.${process.pid}.tmp`);
    const before = parquetFiles(tableDir);
    try {
      await this.conn.run(`COPY (${select}) TO ${q(tmp)} (${copyOptions})`);
      fs.renameSync(tmp, target);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    for (const f of before) if (f !== target) fs.rmSync(f, { force: true });
  }
}

/** Target bytes of one image_bytes row group: what a reader or the merge holds per column chunk. */
const ROW_GROUP_BYTES = 8 * 1024 * 1024;
const rowsPerGroup = (largestBlob: number): number =>
  Math.min(2048, Math.max(1, Math.floor(ROW_GROUP_BYTES / Math.max(1, largestBlob))));

/** Consecutive parts of the rows holding at most ROW_GROUP_BYTES of blobs (or one larger blob) each. */
function* byteBoundedParts(rows: readonly ImageBytesRow[]): Generator<ImageBytesRow[]> {
  let part: ImageBytesRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (part.length > 0 && (bytes + row.bytes.length > ROW_GROUP_BYTES || part.length >= 2048)) {
      yield part;
      part = [];
      bytes = 0;
    }
    part.push(row);
    bytes += row.bytes.length;
  }
  if (part.length > 0) yield part;
}

/** Visible Parquet files of a table folder (what a reader's `*.parquet` glob sees), sorted. */
function parquetFiles(tableDir: string): string[] {
  if (!fs.existsSync(tableDir)) return [];
  return fs
    .readdirSync(tableDir)
    .filter((f) => f.endsWith('.parquet') && !f.startsWith('.'))
    .sort()
    .map((f) => path.join(tableDir, f));
}

function appendRow(a: DuckDBAppender, table: SourceTableName, row: unknown): void {
  switch (table) {
    case 'image': {
      const r = row as ImageRow;
      a.appendVarchar(r.image_name);
      a.appendBigInt(r.page_id);
      a.appendVarchar(r.sha1);
      a.appendVarchar(r.media_type);
      a.appendVarchar(r.mime);
      if (r.width === null) a.appendNull();
      else a.appendInteger(r.width);
      if (r.height === null) a.appendNull();
      else a.appendInteger(r.height);
      a.appendBigInt(BigInt(r.size));
      a.appendTimestamp(new DuckDBTimestampValue(BigInt(r.uploaded_at.getTime()) * 1000n));
      return;
    }
    case 'image_bytes': {
      const r = row as ImageBytesRow;
      a.appendVarchar(r.image_name);
      a.appendVarchar(r.sha1);
      a.appendBlob(r.bytes);
      return;
    }
    case 'categorylinks': {
      const r = row as CategoryLinkRow;
      a.appendBigInt(r.page_id);
      a.appendVarchar(r.category);
      return;
    }
    case 'category_parent': {
      const r = row as CategoryParentRow;
      a.appendVarchar(r.category);
      a.appendVarchar(r.parent);
      return;
    }
  }
}

/** Staging folders and half-written table files of writers that died before cleaning up. */
function removeLeftovers(dir: string): void {
  for (const e of fs.readdirSync(dir)) {
    if (e.startsWith('.imgpipe-staging-')) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  for (const table of SOURCE_TABLE_NAMES) {
    const tableDir = path.join(dir, table);
    if (!fs.existsSync(tableDir)) continue;
    for (const f of fs.readdirSync(tableDir)) {
      if (f.startsWith(`.${TABLE_FILE}.`) && f.endsWith('.tmp')) fs.rmSync(path.join(tableDir, f), { force: true });
    }
  }
}

function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function acquireLock(dir: string): void {
  const lock = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new UsageError(`warehouse ${dir} is being written by process ${holder} (lock ${lock})`);
      }
      if (holder === process.pid) {
        throw new UsageError(`warehouse ${dir} already has an open writer in this process`);
      }
      fs.rmSync(lock, { force: true }); // stale: its process is gone
    }
  }
  throw new UsageError(`could not take the write lock ${lock}`);
}

function releaseLock(dir: string): void {
  const lock = path.join(dir, LOCK_FILE);
  try {
    if (Number.parseInt(fs.readFileSync(lock, 'utf8'), 10) === process.pid) fs.rmSync(lock, { force: true });
  } catch {
    // already gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
