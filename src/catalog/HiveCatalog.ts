/**
 * Hive as a Catalog: selection in HiveQL through HiveServer2 (hive-driver), partitions registered in
 * the metastore. Driver-only.
 *
 * HiveQL has no bound parameters, so every value from a user (category names, table and database
 * names, locations) reaches a statement through `sqlQuote.ts` (escaped literals, checked and
 * back-quoted names). A `--sql` selection is the user's own HiveQL, run as a sub-query (one statement:
 * HiveServer2 refuses a `;`).
 *
 * Category trees: Hive has no recursive CTEs, so the driver walks `category_parent` level by level
 * (one query per level and per chunk of names, down to `depth`), keeping the visited set (the category
 * tree is small next to the images), then selects the images linked to the collected categories.
 *
 * Source profiles: by default the source tables have the warehouse layout (`image`,
 * `categorylinks`, `category_parent` in `--database`). With the `mediawiki` profile the same queries
 * run over sub-queries of the MediaWiki replicas at one snapshot and wiki (mediawikiSource.ts), and
 * `img_sha1` is turned from base 36 into hex here, as each row is read.
 *
 * Results are read page by page (HiveConnection.query) and re-batched: memory holds one page and one
 * batch. Order is `image_name` (reproducible plans): on a very large selection that ORDER BY is one
 * reducer's work in Hive; it is done once per run, at planning.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { Logger } from 'pino';
import { UsageError } from '../util/errors.js';
import { isRemoteLocation, parentLocation, parseRemoteLocation } from '../sink/location.js';
import type { Catalog, ImageRef, PartitionRegistration, Selection } from './Catalog.js';
import type { HiveValue } from './hive/decodeRowSet.js';
import { HiveConnection } from './hive/HiveConnection.js';
import { addResultPartitionDdl, createResultTableDdl } from './hive/hiveDdl.js';
import type { HiveConnectionSpec } from './hive/hiveSettings.js';
import { base36Sha1ToHex, mediawikiHiveRelations, type MediaWikiSource, type ProfileRelations } from './mediawikiSource.js';
import { checkIdentifier, duckdbString, hiveQualified, hiveString, hiveStringList } from './sqlQuote.js';

export interface HiveCatalogOptions {
  log?: Logger;
  /**
   * Filesystem URI prefix under which Hive sees a `webhdfs://` location's path, e.g.
   * `hdfs://analytics-hadoop`; null keeps the webhdfs:// URL (Hadoop reads those too). Local paths are
   * registered as they are.
   */
  hdfsUri?: string | null;
  /** Categories per IN list when walking the tree. @defaultValue 500 */
  inListSize?: number;
  /** Most categories a tree walk may collect. @defaultValue 20000 */
  maxCategories?: number;
  env?: NodeJS.ProcessEnv;
  /** A source profile; absent: the warehouse layout. */
  source?: MediaWikiSource;
}

export class HiveCatalog implements Catalog {
  /** The image query of the last category selection (with its collected categories), for describe(). */
  private lastCategoryQuery: string | null = null;

  /** The relations selections read (tables, or the profile's sub-queries); see the file doc. */
  private readonly relations: ProfileRelations;

  private constructor(
    readonly connection: HiveConnection,
    private readonly options: HiveCatalogOptions,
  ) {
    const spec = connection.spec;
    this.relations = options.source
      ? mediawikiHiveRelations(spec.database, options.source)
      : { image: hiveQualified(spec.database, 'image'), categorylinks: hiveQualified(spec.database, 'categorylinks'), category_parent: hiveQualified(spec.database, 'category_parent') };
  }

  /** @throws {UsageError} as HiveConnection.open (unreachable, refused login, unknown database, …). */
  static async open(spec: HiveConnectionSpec, options: HiveCatalogOptions = {}): Promise<HiveCatalog> {
    return new HiveCatalog(await HiveConnection.open(spec, { log: options.log, env: options.env }), options);
  }

  private get spec(): HiveConnectionSpec {
    return this.connection.spec;
  }

  private table(name: keyof ProfileRelations): string {
    return this.relations[name];
  }

  /** Where the tree is walked, for messages. */
  private get treeDescription(): string {
    return this.options.source
      ? `${this.spec.database}.mediawiki_categorylinks (cl_type = 'subcat', snapshot ${this.options.source.snapshot}, wiki_db ${this.options.source.wiki_db})`
      : `${this.spec.database}.category_parent`;
  }

  describe(selection: Selection): string {
    switch (selection.kind) {
      case 'all':
        return this.allSql();
      case 'category':
        return this.lastCategoryQuery ?? `-- category ${JSON.stringify(selection.category)} to depth ${selection.depth}, walked level by level in ${this.treeDescription}`;
      case 'sql':
        return this.userSqlWrapper(selection.sql);
      case 'names':
        return `SELECT i.image_name AS image_name, i.page_id AS page_id, i.sha1 AS sha1 FROM ${this.table('image')} i WHERE i.image_name IN (…) -- ${this.options.inListSize ?? 500} names per query from ${selection.file}: ${selection.what}`;
    }
  }

  async *select(selection: Selection, batchSize = 10_000): AsyncGenerator<ImageRef[]> {
    if (selection.kind === 'names') {
      yield* this.selectNames(selection.file, batchSize);
      return;
    }
    const sql = selection.kind === 'all' ? this.allSql() : selection.kind === 'category' ? await this.categoryQuery(selection.category, selection.depth) : this.userSqlWrapper(selection.sql);
    let batch: ImageRef[] = [];
    try {
      for await (const page of this.connection.query(sql)) {
        for (const [name, pageId, sha1] of page) {
          // NULL becomes "" (not "null"), which the planner refuses with a count (planRun.ts).
          const rawSha1 = sha1 === null || sha1 === undefined ? null : String(sha1);
          batch.push({ image_name: name === null || name === undefined ? '' : String(name), page_id: toBigInt(pageId ?? null), sha1: this.options.source ? base36Sha1ToHex(rawSha1) : rawSha1 });
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
    } catch (e) {
      // Hive: "SemanticException [Error 10004]: … Invalid table alias or column reference 'image_name'".
      if (selection.kind === 'sql' && e instanceof UsageError && /Invalid (table alias or )?column reference '(\w+\.)?image_name'/i.test(e.message)) {
        throw new UsageError(`--sql must return a column named image_name: ${e.message}`);
      }
      throw e;
    }
    if (batch.length > 0) yield batch;
  }

  async *selectLabels(sql: string, batchSize = 10_000): AsyncGenerator<{ image_name: string; label: string | null }[]> {
    const body = sql.trim().replace(/;\s*$/, '');
    let batch: { image_name: string; label: string | null }[] = [];
    try {
      for await (const page of this.connection.query(`SELECT CAST(s.image_name AS STRING) AS image_name, CAST(s.label AS STRING) AS label FROM (\n${body}\n) s`)) {
        for (const [name, label] of page) {
          batch.push({ image_name: name === null || name === undefined ? '' : String(name), label: label === null || label === undefined ? null : String(label) });
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
    } catch (e) {
      if (e instanceof UsageError && /Invalid (table alias or )?column reference '(\w+\.)?(image_name|label)'/i.test(e.message)) {
        throw new UsageError(`--labels-sql must return columns named image_name and label: ${e.message}`);
      }
      throw e;
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * Register a committed partition: the external table (created once), then the partition.
   * Idempotent: both statements are IF NOT EXISTS.
   * @throws {UsageError} when Hive refuses a statement (its message); the committed files stay.
   */
  async registerPartition(r: PartitionRegistration): Promise<void> {
    checkIdentifier(r.table, 'table name');
    const tableLocation = parentLocation(parentLocation(r.location));
    await this.connection.execute(createResultTableDdl(this.spec.output_database, r.table, this.hiveLocation(tableLocation)));
    await this.connection.execute(addResultPartitionDdl(this.spec.output_database, r.table, r.model, r.snapshot, this.hiveLocation(r.location)));
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** The location as Hive should record it (see HiveCatalogOptions.hdfsUri). */
  hiveLocation(location: string): string {
    if (!isRemoteLocation(location) || !this.options.hdfsUri) return location;
    return this.options.hdfsUri.replace(/\/+$/, '') + parseRemoteLocation(location).path;
  }

  private allSql(): string {
    return `SELECT DISTINCT image_name AS image_name, page_id AS page_id, sha1 AS sha1 FROM ${this.table('image')} i ORDER BY image_name`;
  }

  /** The `names` selection: the file's names (read here with DuckDB), looked up in chunks; sorted, each once. */
  private async *selectNames(file: string, batchSize: number): AsyncGenerator<ImageRef[]> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    let names: string[];
    try {
      const reader = await connection.runAndReadAll(`SELECT DISTINCT image_name::VARCHAR FROM read_parquet(${duckdbString(file)}) WHERE image_name IS NOT NULL ORDER BY 1`);
      names = reader.getRows().map((r) => String(r[0]));
    } finally {
      connection.disconnectSync();
      instance.closeSync();
    }
    const found = new Map<string, ImageRef>();
    const chunk = this.options.inListSize ?? 500;
    for (let i = 0; i < names.length; i += chunk) {
      for await (const page of this.connection.query(this.namesSql(names.slice(i, i + chunk)))) {
        for (const [name, pageId, sha1] of page) {
          const rawSha1 = sha1 === null || sha1 === undefined ? null : String(sha1);
          found.set(String(name), { image_name: String(name), page_id: toBigInt(pageId ?? null), sha1: this.options.source ? base36Sha1ToHex(rawSha1) : rawSha1 });
        }
      }
    }
    const refs = [...found.values()].sort((a, b) => (a.image_name < b.image_name ? -1 : a.image_name > b.image_name ? 1 : 0));
    for (let i = 0; i < refs.length; i += batchSize) yield refs.slice(i, i + batchSize);
  }

  private namesSql(names: string[]): string {
    return `SELECT i.image_name AS image_name, i.page_id AS page_id, i.sha1 AS sha1 FROM ${this.table('image')} i WHERE i.image_name IN ${hiveStringList(names)}`;
  }

  private userSqlWrapper(sql: string): string {
    const body = sql.trim().replace(/;\s*$/, '');
    // LEFT JOIN: a selected name with no row in `image` still gets a result row (missing_bytes).
    return `SELECT DISTINCT CAST(s.image_name AS STRING) AS image_name, i.page_id AS page_id, i.sha1 AS sha1 FROM (\n${body}\n) s LEFT JOIN ${this.table('image')} i ON i.image_name = CAST(s.image_name AS STRING) ORDER BY image_name`;
  }

  /** Walk the tree (bounded by depth), then the query for the images in the collected categories. */
  private async categoryQuery(category: string, depth: number): Promise<string> {
    const root = hiveString(category);
    const known = await this.scalar(
      `SELECT count(*) FROM (SELECT cl.category FROM ${this.table('categorylinks')} cl WHERE cl.category = ${root} UNION ALL SELECT cp.category FROM ${this.table('category_parent')} cp WHERE cp.category = ${root} OR cp.parent = ${root}) t`,
    );
    if (Number(known) === 0) {
      const where = this.options.source ? `${this.spec.database}.mediawiki_categorylinks at snapshot ${this.options.source.snapshot}, wiki_db ${this.options.source.wiki_db}` : `Hive database ${this.spec.database}`;
      throw new UsageError(`No category named ${JSON.stringify(category)} in ${where} (names are case-sensitive and use underscores for spaces, as on Commons).`);
    }
    // The visited set stops cycles (Commons has them): a category is expanded at most once.
    const visited = new Set([category]);
    let frontier = [category];
    const chunk = this.options.inListSize ?? 500;
    const max = this.options.maxCategories ?? 20_000;
    for (let level = 1; level <= depth && frontier.length > 0; level++) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length; i += chunk) {
        const sql = `SELECT DISTINCT category FROM ${this.table('category_parent')} cp WHERE cp.parent IN ${hiveStringList(frontier.slice(i, i + chunk))}`;
        for await (const page of this.connection.query(sql)) {
          for (const [child] of page) {
            const name = String(child);
            if (visited.has(name)) continue;
            visited.add(name);
            next.push(name);
          }
        }
        if (visited.size > max) {
          throw new UsageError(`The tree under category ${JSON.stringify(category)} has more than ${max} categories by depth ${level}; use a smaller --depth or a --sql selection.`);
        }
      }
      frontier = next;
    }
    const categories = [...visited].sort();
    this.lastCategoryQuery =
      `SELECT DISTINCT i.image_name AS image_name, i.page_id AS page_id, i.sha1 AS sha1 FROM ${this.table('categorylinks')} cl ` +
      `JOIN ${this.table('image')} i ON i.page_id = cl.page_id WHERE cl.category IN ${hiveStringList(categories)} ORDER BY image_name`;
    return this.lastCategoryQuery;
  }

  private async scalar(sql: string): Promise<HiveValue> {
    for await (const page of this.connection.query(sql)) return page[0]?.[0] ?? null;
    return null;
  }
}

function toBigInt(v: HiveValue): bigint | null {
  if (v === null) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  throw new Error(`Expected an integer page_id from Hive but received ${typeof v}`);
}
