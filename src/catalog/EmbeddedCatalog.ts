/**
 * The embedded warehouse as a Catalog: an in-memory DuckDB whose views (see EmbeddedMetastore) read
 * the warehouse's Parquet tables. Values from users are bound as parameters; a `--sql` selection is
 * the user's own query, run as a sub-query whose `image_name` column is joined back to `image`.
 *
 * Sandbox: before a `--sql` selection is first prepared, the instance is locked down for good
 * (`enable_external_access = false`, `allowed_directories` = the warehouse, the folders of registered
 * result partitions, DuckDB's temp folder and the folders the calling method reads or writes, then
 * `lock_configuration = true`). The user's SQL can then read only the warehouse's tables and cannot
 * ATTACH, COPY, INSTALL/LOAD or change a setting. A catalog plans one run: once locked, a later call
 * that needs another folder throws (a programming error, not bad input).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance, StatementType } from '@duckdb/node-api';
import { UsageError } from '../util/errors.js';
import { duckdbString } from './sqlQuote.js';
import { CARRYABLE } from '../plan/incremental.js';
import { emptyNamesError } from '../plan/planRun.js';
import type { Catalog, ImageRef, PartitionRegistration, Selection } from './Catalog.js';
import type { CarriedRows, ManifestWriter } from './ManifestWriter.js';
import { EmbeddedMetastore } from '../warehouse/EmbeddedMetastore.js';
import { mediawikiDuckdbViewsSql, type MediaWikiSource } from './mediawikiSource.js';
import { SOURCE_TABLE_NAMES } from '../warehouse/warehouseSchema.js';

export class EmbeddedCatalog implements Catalog, ManifestWriter {
  private closed = false;
  /** The folders DuckDB may touch once locked down for a `--sql` selection; null until then. */
  private allowedDirs: string[] | null = null;
  private constructor(
    readonly warehouseDir: string,
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    private readonly metastore: EmbeddedMetastore,
    private readonly tempDir: string,
  ) {}

  /**
   * @param source a source profile (mediawikiSource.ts): the warehouse's replica tables at one
   *   partition, seen as `image`, `categorylinks`, `category_parent`; absent: the warehouse layout.
   * @throws {UsageError} when DIR is not a warehouse made by `imgpipe warehouse init`, or lacks the
   *   profile's tables at that partition.
   */
  static async open(warehouseDir: string, source?: MediaWikiSource): Promise<EmbeddedCatalog> {
    const dir = path.resolve(warehouseDir);
    if (!existsSync(path.join(dir, 'warehouse.json'))) {
      throw new UsageError(`${dir} is not an imgpipe warehouse (no warehouse.json). Create one with \`imgpipe warehouse init --warehouse ${warehouseDir} [--demo]\`.`);
    }
    // Bounded memory: big selections (sort, distinct) spill to a temp folder instead of growing.
    const tempDir = path.join(os.tmpdir(), `imgpipe-duckdb-${process.pid}`);
    const instance = await DuckDBInstance.create(':memory:', { memory_limit: '256MB', temp_directory: tempDir });
    const connection = await instance.connect();
    const metastore = new EmbeddedMetastore(dir);
    await connection.run(metastore.viewsSql());
    if (source) {
      try {
        await connection.run(mediawikiDuckdbViewsSql(dir, source));
      } catch (e) {
        connection.disconnectSync();
        instance.closeSync();
        throw e;
      }
    }
    return new EmbeddedCatalog(dir, instance, connection, metastore, tempDir);
  }

  describe(selection: Selection): string {
    switch (selection.kind) {
      case 'all':
        return ALL_SQL;
      case 'category':
        return `${CATEGORY_SQL} -- $1 = ${JSON.stringify(selection.category)}, $2 = ${selection.depth}`;
      case 'sql':
        return userSqlWrapper(selection.sql);
      case 'names':
        return `${namesSql(selection.file)} -- ${selection.what}`;
    }
  }

  async *select(selection: Selection, batchSize = 10_000): AsyncGenerator<ImageRef[]> {
    const [sql, values] = await this.selectionQuery(selection);
    let result;
    try {
      result = await this.connection.stream(sql, values);
    } catch (e) {
      throw this.selectionError(selection, e);
    }
    let batch: ImageRef[] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const [name, pageId, sha1] of chunk.getRows()) {
        batch.push({ image_name: String(name), page_id: (pageId as bigint | null) ?? null, sha1: (sha1 as string | null) ?? null });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * The SQL (and its parameters) of a selection. For `--sql`: locks the instance down first (see the
   * file doc; `touches` are the extra folders the caller's statement reads or writes), then checks
   * that the user's SQL is one SELECT and that every row has an image_name.
   * @throws {UsageError} unknown category; `--sql` not one SELECT, reading outside the warehouse,
   *   without an image_name column or with NULL or empty names.
   */
  private async selectionQuery(selection: Selection, touches: string[] = []): Promise<[string, Record<string, string | number> | undefined]> {
    if (selection.kind === 'all') return [ALL_SQL, undefined];
    if (selection.kind === 'category') {
      const known = await this.connection.runAndReadAll(
        'SELECT count(*) FROM (SELECT category FROM categorylinks UNION ALL SELECT category FROM category_parent UNION ALL SELECT parent FROM category_parent) WHERE category = $c',
        { c: selection.category },
      );
      if (Number(known.getRows()[0]![0]) === 0) {
        throw new UsageError(`No category named ${JSON.stringify(selection.category)} in the warehouse (names are case-sensitive and use underscores for spaces, as on Commons).`);
      }
      return [CATEGORY_SQL, { category: selection.category, depth: selection.depth }];
    }
    if (selection.kind === 'names') {
      if (this.allowedDirs) await this.lockDown([...touches, path.dirname(selection.file)]);
      return [namesSql(selection.file), undefined];
    }
    await this.lockDown(touches);
    let statementType;
    try {
      const statements = await this.connection.extractStatements(selection.sql);
      if (statements.count !== 1) throw new UsageError(`--sql must be exactly one SELECT statement, found ${statements.count}`);
      statementType = (await statements.prepare(0)).statementType;
    } catch (e) {
      throw e instanceof UsageError ? e : this.selectionError(selection, e);
    }
    if (statementType !== StatementType.SELECT) {
      const keyword = /^\s*([A-Za-z]+)/.exec(selection.sql)?.[1]?.toUpperCase() ?? String(StatementType[statementType]);
      throw new UsageError(`Expected one SELECT statement for --sql but received ${/^[AEIOU]/.test(keyword) ? 'an' : 'a'} ${keyword} statement`);
    }
    await this.checkImageNames(selection.sql);
    return [userSqlWrapper(selection.sql), undefined];
  }

  /**
   * Refuse a `--sql` whose rows include a NULL or empty image_name, with the count and the first row
   * (1-based, in the query's own order). Costs one more run of the user's query; the row number is
   * computed only when some name is bad.
   */
  private async checkImageNames(sql: string): Promise<void> {
    const body = `(\n${sql.trim().replace(/;\s*$/, '')}\n) AS s`;
    const bad = "s.image_name IS NULL OR s.image_name::VARCHAR = ''";
    try {
      const count = Number((await this.connection.runAndReadAll(`SELECT count(*) FROM ${body} WHERE ${bad}`)).getRows()[0]![0]);
      if (count === 0) return;
      const first = await this.connection.runAndReadAll(`SELECT min(n) FROM (SELECT row_number() OVER () AS n, ${bad} AS bad FROM ${body}) WHERE bad`);
      throw emptyNamesError('--sql', count, Number(first.getRows()[0]![0]));
    } catch (e) {
      throw e instanceof UsageError ? e : this.selectionError({ kind: 'sql', sql }, e);
    }
  }

  /**
   * Lock the instance down before the user's SQL first runs (see the file doc). Idempotent; once
   * locked, `touches` must lie in the folders allowed then.
   * @throws {Error} when locked already and a folder in `touches` was not allowed (a programming error).
   */
  private async lockDown(touches: string[]): Promise<void> {
    const asDir = (d: string) => path.resolve(d) + path.sep;
    if (this.allowedDirs) {
      const outside = touches.map(asDir).filter((d) => !this.allowedDirs!.some((a) => d.startsWith(a)));
      if (outside.length > 0) throw new Error(`EmbeddedCatalog is locked down for ${this.allowedDirs.join(', ')}; cannot reach ${outside.join(', ')}`);
      return;
    }
    const locations = Object.values(this.metastore.read().tables).flatMap((t) => Object.values(t.partitions).map((p) => p.location));
    const dirs = [...new Set([this.warehouseDir, this.tempDir, ...locations.filter((l) => path.isAbsolute(l)), ...touches].map(asDir))].sort();
    await this.connection.run(
      `SET allowed_directories = [${dirs.map(duckdbString).join(', ')}]; SET enable_external_access = false; SET lock_configuration = true;`,
    );
    this.allowedDirs = dirs;
  }

  /** The user-facing error for a failed selection statement; a refused file names the tables `--sql` may read. */
  private selectionError(selection: Selection, e: unknown): UsageError {
    const message = ((e as Error).message ?? String(e)).replace(/^Failed to extract statements: /, '');
    if (selection.kind === 'sql' && /^Permission Error: /.test(message)) {
      const tables = [...SOURCE_TABLE_NAMES, ...Object.keys(this.metastore.read().tables).sort()];
      return new UsageError(`--sql may read only the warehouse's tables (${tables.join(', ')}): DuckDB refused: ${message.split('\n')[0]!.replace(/^Permission Error: /, '')}`);
    }
    return selectionError(selection, e);
  }

  async writeManifest(selection: Selection, file: string, partitionSize: number): Promise<number> {
    const [sql, values] = await this.selectionQuery(selection, [path.dirname(file)]);
    // row_number() over the selection's own order (image_name for category/sql, file order for all).
    const copy = `COPY (SELECT ((row_number() OVER ()) - 1) // ${Math.trunc(partitionSize)} AS partition, image_name, page_id, sha1 FROM (${sql})) TO ${duckdbString(file)} (FORMAT parquet, COMPRESSION zstd)`;
    try {
      const reader = await this.connection.runAndReadAll(copy, values);
      return Number(reader.getRows()[0]?.[0] ?? 0);
    } catch (e) {
      throw this.selectionError(selection, e);
    }
  }

  async writeChangedManifest(selection: Selection, previousDir: string, file: string, partitionSize: number, carryable = CARRYABLE): Promise<number> {
    const [sql, values] = await this.selectionQuery(selection, [previousDir, path.dirname(file)]);
    const changed = `SELECT s.image_name, s.page_id, s.sha1 FROM (${sql}) s ANTI JOIN (SELECT p.image_name, p.sha1 FROM ${previousRows(previousDir)} p WHERE ${carryable}) p ON p.image_name = s.image_name AND p.sha1 = s.sha1 ORDER BY s.image_name`;
    const copy = `COPY (SELECT ((row_number() OVER ()) - 1) // ${Math.trunc(partitionSize)} AS partition, image_name, page_id, sha1 FROM (${changed})) TO ${duckdbString(file)} (FORMAT parquet, COMPRESSION zstd)`;
    try {
      const reader = await this.connection.runAndReadAll(copy, values);
      return Number(reader.getRows()[0]?.[0] ?? 0);
    } catch (e) {
      throw this.selectionError(selection, e);
    }
  }

  async writeCarriedRows(selection: Selection, previousDir: string, file: string, carryable = CARRYABLE): Promise<CarriedRows> {
    const [sql, values] = await this.selectionQuery(selection, [previousDir, path.dirname(file)]);
    const carried = `SELECT p.* FROM ${previousRows(previousDir)} p SEMI JOIN (${sql}) s ON p.image_name = s.image_name AND p.sha1 = s.sha1 WHERE ${carryable} ORDER BY p.image_name`;
    try {
      await this.connection.run(`COPY (${carried}) TO ${duckdbString(file)} (FORMAT parquet, COMPRESSION snappy)`, values);
      const counts = await this.connection.runAndReadAll(
        `SELECT status, coalesce(error, label) AS what, count(*) AS n FROM read_parquet(${duckdbString(file)}) GROUP BY ALL`,
      );
      const gone = await this.connection.runAndReadAll(`SELECT count(*) FROM ${previousRows(previousDir)} p ANTI JOIN (${sql}) s ON p.image_name = s.image_name`, values);
      const result: CarriedRows = { dropped: Number(gone.getRows()[0]![0]), rows: 0, ok: 0, error: 0, error_reasons: {}, labels: {} };
      for (const [status, what, n] of counts.getRows()) {
        const count = Number(n);
        result.rows += count;
        if (status === 'ok') {
          result.ok += count;
          if (what !== null) result.labels[String(what)] = (result.labels[String(what)] ?? 0) + count;
        } else {
          result.error += count;
          result.error_reasons[String(what)] = (result.error_reasons[String(what)] ?? 0) + count;
        }
      }
      return result;
    } catch (e) {
      throw this.selectionError(selection, e);
    }
  }

  async *selectLabels(sql: string, batchSize = 10_000): AsyncGenerator<{ image_name: string; label: string | null }[]> {
    await this.lockDown([]);
    const what = '--labels-sql';
    try {
      const statements = await this.connection.extractStatements(sql);
      if (statements.count !== 1) throw new UsageError(`${what} must be exactly one SELECT statement, found ${statements.count}`);
      const type = (await statements.prepare(0)).statementType;
      if (type !== StatementType.SELECT) throw new UsageError(`Expected one SELECT statement for ${what} but received a ${StatementType[type]} statement`);
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError(`${what} failed: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
    let result;
    try {
      result = await this.connection.stream(`SELECT s.image_name::VARCHAR AS image_name, s.label::VARCHAR AS label FROM (\n${sql.trim().replace(/;\s*$/, '')}\n) AS s`);
    } catch (e) {
      const message = ((e as Error).message ?? String(e)).split(/\n\s*\n/)[0]!;
      if (/"(image_name|label)"/.test(message) && /not found|does not have a column|Referenced column/i.test(message)) {
        throw new UsageError(`${what} must return columns named image_name and label: ${message}`);
      }
      throw new UsageError(`${what} failed: ${message}`);
    }
    let batch: { image_name: string; label: string | null }[] = [];
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const [name, label] of chunk.getRows()) {
        batch.push({ image_name: name === null ? '' : String(name), label: label === null ? null : String(label) });
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length > 0) yield batch;
  }

  async registerPartition(registration: PartitionRegistration): Promise<void> {
    await this.metastore.register(registration);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.disconnectSync();
    this.instance.closeSync();
  }
}

/**
 * Every image, in the table's own order: `image` has one row per image_name (the warehouse writer
 * keeps it that way, sorted by name), so no DISTINCT or sort is needed and 100M ids stream through.
 */
const ALL_SQL = 'SELECT image_name, page_id, sha1 FROM image';

/** Images in a category and its subcategories down to `depth` levels (0 = the category alone). */
const CATEGORY_SQL = `WITH RECURSIVE tree(category, depth) AS (
  SELECT $category::VARCHAR, 0
  UNION
  SELECT cp.category, tree.depth + 1 FROM category_parent cp JOIN tree ON cp.parent = tree.category
  WHERE tree.depth < $depth
)
SELECT DISTINCT i.image_name, i.page_id, i.sha1
FROM categorylinks cl JOIN (SELECT DISTINCT category FROM tree) t ON cl.category = t.category
JOIN image i ON i.page_id = cl.page_id
ORDER BY i.image_name`;

/** The `names` selection: the file's names that `image` has, each once, by name. */
function namesSql(file: string): string {
  return `SELECT DISTINCT i.image_name, i.page_id, i.sha1 FROM read_parquet(${duckdbString(file)}) n JOIN image i ON i.image_name = n.image_name::VARCHAR ORDER BY 1`;
}

/** A committed snapshot's result rows, without the Hive partition columns of its path. */
function previousRows(dir: string): string {
  return `read_parquet(${duckdbString(path.join(dir, '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;
}

function userSqlWrapper(sql: string): string {
  const body = sql.trim().replace(/;\s*$/, '');
  // LEFT JOIN: a selected name with no row in `image` still gets a result row (missing_bytes).
  return `SELECT DISTINCT s.image_name::VARCHAR AS image_name, i.page_id, i.sha1 FROM (\n${body}\n) AS s LEFT JOIN image i ON i.image_name = s.image_name::VARCHAR ORDER BY 1`;
}

function selectionError(selection: Selection, e: unknown): UsageError {
  const message = ((e as Error).message ?? String(e)).replace(/^Failed to extract statements: /, '');
  if (selection.kind === 'sql' && /image_name/.test(message) && /not found|does not have a column|Referenced column/i.test(message)) {
    // The binder's LINE excerpt would point into imgpipe's wrapper query, not the user's text.
    return new UsageError(`--sql must return a column named image_name: ${message.split(/\n\s*\n/)[0]}`);
  }
  return new UsageError(`Selection query failed: ${message}`);
}
