/**
 * A writer's staged rows: Parquet files under its private folder `DIR/.imgpipe-staging-<pid>-…/<table>/`,
 * appended with DuckDB's appender, so JS memory holds one batch at a time. Each staged row carries
 * `_seq` (staging order). For keyed tables (image, image_bytes: image_name) the staging tracks in JS
 * which keys were staged and which `_seq`s a later row with the same key replaced: the merge
 * (WarehouseTables.ts) filters on these sets instead of joining blobs.
 *
 * Image bytes are staged in files of at most ROW_GROUP_BYTES of blobs each: DuckDB never splits a
 * vector chunk (≤ 2048 rows) across row groups, so every chunk the merge reads stays that small.
 * Nothing here is visible to readers; the folder is removed on close or, after a crash, by the next
 * writer (warehouseLayout.ts, removeLeftovers).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { duckdbIdentifier as ident, duckdbString as q } from '../catalog/sqlQuote.js';
import { columnsOf, SOURCE_TABLE_NAMES, type SourceTableName } from './warehouseSchema.js';
import { appendRow, type ImageBytesRow, type WarehouseBatch } from './warehouseRows.js';

/** Target bytes of one image_bytes row group: what a reader or the merge holds per column chunk. */
export const ROW_GROUP_BYTES = 8 * 1024 * 1024;

/** Keys of each table; `null` marks a link table whose whole row is the key. */
export const TABLE_KEYS: Record<SourceTableName, string | null> = {
  image: 'image_name',
  image_bytes: 'image_name',
  categorylinks: null,
  category_parent: null,
};

export class WarehouseStaging {
  private seq = 0n; // staging order: a later staged row wins over an earlier one with the same key
  private batchNo = 0;
  private readonly staged = new Set<SourceTableName>();
  /** Keyed tables: staged key → _seq of its newest staged row; and the _seqs that newer rows replaced. */
  private readonly keys: Partial<Record<SourceTableName, Map<string, bigint>>> = {};
  private readonly replaced: Partial<Record<SourceTableName, Set<bigint>>> = {};
  /** Largest staged image_bytes.bytes: sizes the merged file's row groups. */
  maxBlob = 0;

  constructor(
    readonly dir: string,
    private readonly conn: DuckDBConnection,
  ) {}

  /** Stage every non-empty table of the batch. */
  async stage(batch: WarehouseBatch): Promise<void> {
    for (const table of SOURCE_TABLE_NAMES) {
      const rows = batch[table];
      if (!rows || rows.length === 0) continue;
      if (table === 'image_bytes') {
        for (const part of byteBoundedParts(rows as readonly ImageBytesRow[])) await this.stageFile(table, part);
      } else {
        await this.stageFile(table, rows);
      }
      this.staged.add(table);
    }
  }

  has(table: SourceTableName): boolean {
    return this.staged.has(table);
  }

  /** A FROM-clause source of the table's staged rows (the contract's columns and `_seq`). */
  scan(table: SourceTableName): string {
    return `read_parquet(${q(path.join(this.dir, table, '*.parquet'))})`;
  }

  /** Keys staged for a keyed table, each with the `_seq` of its newest staged row. */
  stagedKeys(table: SourceTableName): ReadonlyMap<string, bigint> {
    return this.keys[table] ?? new Map();
  }

  /** `_seq`s of staged rows that a later staged row with the same key replaced. */
  superseded(table: SourceTableName): ReadonlySet<bigint> {
    return this.replaced[table] ?? new Set();
  }

  /** Forget a table's staged rows (after its merge). */
  clear(table: SourceTableName): void {
    fs.rmSync(path.join(this.dir, table), { recursive: true, force: true });
    this.staged.delete(table);
    delete this.keys[table];
    delete this.replaced[table];
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
        const keys = keyColumn === null ? undefined : (this.keys[table] ??= new Map());
        const replaced = (this.replaced[table] ??= new Set());
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
        this.maxBlob = Math.max(this.maxBlob, largest);
      }
      const dir = path.join(this.dir, table);
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `batch-${String(this.batchNo++).padStart(6, '0')}.parquet`);
      await this.conn.run(`COPY ${tmpTable} TO ${q(file)} (FORMAT parquet)`);
    } finally {
      await this.conn.run(`DROP TABLE IF EXISTS ${tmpTable}`);
    }
  }
}

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
