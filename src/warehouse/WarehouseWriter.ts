/**
 * The embedded warehouse's one writer (folder layout: warehouseLayout.ts; columns: warehouseSchema.ts).
 *
 * Rows go in through `stage(batch)` (WarehouseStaging: Parquet files under a private staging folder,
 * so JS memory holds one batch at a time) and become visible at `commit()`, which merges staged rows
 * with each changed table and replaces its `data.parquet` atomically (WarehouseTables: merge rules,
 * memory bounds). Tables are replaced one at a time in dependency order (image_bytes, image,
 * category_parent, categorylinks): a reader between two swaps may see new bytes with old image rows,
 * never image rows whose bytes are not written yet. `upsert(batch)` is stage + commit. If anything
 * fails before a table's rename, that table is unchanged.
 *
 * One writer at a time per warehouse: `DIR/.imgpipe-write.lock` (a PidLock) guards it; a lock left
 * by a dead process is taken over, and the leftovers of that process (staging, temp files) removed.
 * Always `close()` (releases DuckDB handles, staging, lock).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UsageError } from '../util/errors.js';
import { PidLock } from '../util/pidLock.js';
import { isWarehouse, removeLeftovers, STAGING_PREFIX, WAREHOUSE_MARKER, warehouseDirState, writeMarker, WRITE_LOCK_FILE } from './warehouseLayout.js';
import type { TableCounts, WarehouseBatch } from './warehouseRows.js';
import { SOURCE_TABLE_NAMES, type SourceTableName } from './warehouseSchema.js';
import { WarehouseStaging } from './WarehouseStaging.js';
import { WarehouseTables } from './WarehouseTables.js';

export interface WarehouseWriterOptions {
  /** DuckDB memory limit for merges; larger data spills to the staging folder. Default 512MB. */
  memoryLimit?: string;
  /** DuckDB threads; each needs ~60 MB for a blob merge (row groups of ~8 MB in flight). Default ≤ 4. */
  threads?: number;
}

/** Replace order: what a row refers to is written before the row. */
const COMMIT_ORDER: readonly SourceTableName[] = ['image_bytes', 'image', 'category_parent', 'categorylinks'];

export class WarehouseWriter {
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly lock: PidLock,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly staging: WarehouseStaging,
    private readonly tables: WarehouseTables,
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
    const lock = PidLock.acquire(path.join(abs, WRITE_LOCK_FILE), `warehouse ${abs}`);
    let stagingDir: string | undefined;
    try {
      removeLeftovers(abs); // we hold the lock: any staging or temp file is from a crashed writer
      stagingDir = fs.mkdtempSync(path.join(abs, `${STAGING_PREFIX}${process.pid}-`));
      const instance = await DuckDBInstance.create(':memory:', {
        memory_limit: options.memoryLimit ?? '512MB',
        threads: String(options.threads ?? Math.min(4, os.availableParallelism())), // I/O-bound merge
        temp_directory: path.join(stagingDir, 'spill'),
      });
      try {
        const conn = await instance.connect();
        return new WarehouseWriter(abs, lock, instance, conn, new WarehouseStaging(stagingDir, conn), new WarehouseTables(abs, conn));
      } catch (e) {
        instance.closeSync();
        throw e;
      }
    } catch (e) {
      if (stagingDir) fs.rmSync(stagingDir, { recursive: true, force: true });
      lock.release();
      throw e;
    }
  }

  /** Whether DIR holds the marker (init has run). */
  get isWarehouse(): boolean {
    return isWarehouse(this.dir);
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
      if (this.tables.exists(table)) continue;
      await this.tables.replaceWithEmpty(table);
      created.push(table);
    }
    writeMarker(this.dir);
    return created;
  }

  /** Stage rows; they become visible at commit(). The batch can be dropped once this resolves. */
  async stage(batch: WarehouseBatch): Promise<void> {
    this.assertOpen();
    await this.staging.stage(batch);
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
      if (!this.staging.has(table)) {
        if (options.replace) await this.tables.replaceWithEmpty(table);
        continue;
      }
      await this.tables.merge(table, this.staging, options.replace ?? false);
      this.staging.clear(table);
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
    return this.tables.counts();
  }

  /** Distinct categories named anywhere (links or tree edges). */
  async categoryCount(): Promise<number> {
    this.assertOpen();
    return this.tables.categoryCount();
  }

  /** Release DuckDB handles, staged (uncommitted) rows and the lock. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.disconnectSync();
      this.instance.closeSync();
    } finally {
      fs.rmSync(this.staging.dir, { recursive: true, force: true });
      this.lock.release();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('WarehouseWriter is closed');
  }
}
