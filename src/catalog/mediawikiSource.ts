/**
 * The `mediawiki` source profile: selection straight from the MediaWiki replicas as the analytics
 * cluster holds them (`wmf_raw.mediawiki_image`, `mediawiki_page`, `mediawiki_categorylinks`, each
 * partitioned by `snapshot` = `YYYY-MM` and `wiki_db`), instead of the embedded warehouse's layout
 * (`image`, `categorylinks`, `category_parent`; the default profile).
 *
 * The profile maps the warehouse layout's three relations onto those tables, so every selection
 * (`--all`, `--category`, `--sql`'s join back to `image`) keeps its one shape:
 * - `image(image_name, page_id, sha1, …)`: `mediawiki_image` rows, `page_id` of the file page
 *   (namespace 6) whose title is `img_name`;
 * - `categorylinks(page_id, category)`: `cl_type = 'file'` links (`cl_from` → `cl_to`);
 * - `category_parent(category, parent)`: `cl_type = 'subcat'` links, `cl_from` being the category
 *   page (namespace 14) whose title is the subcategory.
 * Every table is read at one `snapshot` and one `wiki_db` (the predicates are on each table, so Hive
 * prunes partitions); rows of other partitions never reach a selection.
 *
 * SHA-1: MediaWiki stores `img_sha1` in base 36 (31 digits, zero-padded). The profile hands the rest
 * of the pipeline 40-digit lowercase hex, the warehouse's form, so incremental runs compare like with
 * like: on DuckDB in the view (`imgpipe_sha1_hex`), on Hive in the driver (`base36Sha1ToHex` in
 * HiveCatalog.select), because Hive's `conv` works in 64 bits and overflows on a 160-bit value.
 * A value that is not base 36 becomes NULL (the image is then keyed by name alone).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../util/errors.js';
import { invalidParameterError } from '../util/is.js';
import { duckdbIdentifier, duckdbString, hiveQualified, hiveString } from './sqlQuote.js';

export const MEDIAWIKI_TABLES = ['mediawiki_image', 'mediawiki_page', 'mediawiki_categorylinks'] as const;
export type MediaWikiTable = (typeof MEDIAWIKI_TABLES)[number];

/** The columns of each table the profile reads (other columns are ignored). */
export const MEDIAWIKI_COLUMNS: Record<MediaWikiTable, readonly string[]> = {
  mediawiki_image: ['img_name', 'img_sha1', 'img_width', 'img_height', 'img_size', 'img_media_type', 'img_major_mime', 'img_minor_mime', 'img_timestamp'],
  mediawiki_page: ['page_id', 'page_namespace', 'page_title'],
  mediawiki_categorylinks: ['cl_from', 'cl_to', 'cl_type'],
};

export const FILE_NAMESPACE = 6;
export const CATEGORY_NAMESPACE = 14;

/** In run.json (the catalog spec's `source`): which replica partition a run selects from. */
export const mediawikiSourceSchema = z.strictObject({
  profile: z.literal('mediawiki'),
  /** `YYYY-MM` */
  snapshot: z.string(),
  wiki_db: z.string(),
});
export type MediaWikiSource = z.infer<typeof mediawikiSourceSchema>;

/**
 * Validate the profile's flags.
 * @defaultValue wikiDb 'commonswiki'
 * @throws {UsageError} snapshot not `YYYY-MM` (month 01–12); wiki_db not lower-case letters, digits, underscores.
 */
export function parseMediaWikiSource(snapshot: string | undefined, wikiDb: string | undefined): MediaWikiSource {
  if (snapshot === undefined) throw new UsageError('Expected a month YYYY-MM for --mediawiki-snapshot with --source mediawiki (the replicas\' monthly snapshot partition, e.g. 2026-10) but received nothing');
  const m = /^(\d{4})-(\d{2})$/.exec(snapshot);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw invalidParameterError('--mediawiki-snapshot', 'a month YYYY-MM', snapshot);
  const wiki = wikiDb ?? 'commonswiki';
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(wiki)) throw invalidParameterError('--wiki-db', 'a wiki database name such as commonswiki (lower-case letters, digits, underscores)', wiki);
  return { profile: 'mediawiki', snapshot, wiki_db: wiki };
}

const SHA1_BASE36 = /^[0-9a-z]{1,31}$/;

/**
 * MediaWiki's base-36 SHA-1 as 40 lowercase hex digits; an already-hex 40-digit value passes
 * (lower-cased). Null for null, empty, or anything else.
 */
export function base36Sha1ToHex(value: string | null): string | null {
  if (value === null) return null;
  const v = value.trim().toLowerCase();
  if (/^[0-9a-f]{40}$/.test(v)) return v;
  if (!SHA1_BASE36.test(v)) return null;
  let n = 0n;
  for (const c of v) n = n * 36n + BigInt(Number.parseInt(c, 36));
  if (n >= 1n << 160n) return null;
  return n.toString(16).padStart(40, '0');
}

/** The three warehouse-layout relations as HiveQL sub-queries (aliased by the caller). */
export interface ProfileRelations {
  image: string;
  categorylinks: string;
  category_parent: string;
}

/** The profile's relations over `database`'s replica tables, at the source's partition. */
export function mediawikiHiveRelations(database: string, source: MediaWikiSource): ProfileRelations {
  const t = (name: MediaWikiTable) => hiveQualified(database, name);
  const at = (alias: string) => `${alias}.snapshot = ${hiveString(source.snapshot)} AND ${alias}.wiki_db = ${hiveString(source.wiki_db)}`;
  return {
    image:
      `(SELECT im.img_name AS image_name, fp.page_id AS page_id, im.img_sha1 AS sha1 FROM ${t('mediawiki_image')} im ` +
      `LEFT JOIN (SELECT p.page_id, p.page_title FROM ${t('mediawiki_page')} p WHERE ${at('p')} AND p.page_namespace = ${FILE_NAMESPACE}) fp ON fp.page_title = im.img_name ` +
      `WHERE ${at('im')})`,
    categorylinks: `(SELECT l.cl_from AS page_id, l.cl_to AS category FROM ${t('mediawiki_categorylinks')} l WHERE ${at('l')} AND l.cl_type = 'file')`,
    category_parent:
      `(SELECT cp.page_title AS category, l.cl_to AS parent FROM ${t('mediawiki_categorylinks')} l ` +
      `JOIN ${t('mediawiki_page')} cp ON cp.page_id = l.cl_from ` +
      `WHERE ${at('l')} AND l.cl_type = 'subcat' AND ${at('cp')} AND cp.page_namespace = ${CATEGORY_NAMESPACE})`,
  };
}

/** Folder of one table's partition in an embedded warehouse (Hive layout). */
export const mediawikiPartitionDir = (warehouseDir: string, table: MediaWikiTable, source: MediaWikiSource) =>
  path.join(warehouseDir, table, `snapshot=${source.snapshot}`, `wiki_db=${source.wiki_db}`);

/**
 * DuckDB statements that make an embedded warehouse's connection see the profile: the replica
 * tables at the source's partition (`mediawiki_image`, … for `--sql`), and `image`, `categorylinks`,
 * `category_parent` mapped onto them (replacing the warehouse layout's views).
 * @throws {UsageError} when a table has no Parquet file at that partition (names the folder and `warehouse import-mediawiki`).
 */
export function mediawikiDuckdbViewsSql(warehouseDir: string, source: MediaWikiSource): string {
  const statements = [
    // Base 36 → hex in 160-bit arithmetic on HUGEINTs: hi (19 digits) · 36^12 + lo (12 digits).
    "CREATE OR REPLACE MACRO imgpipe_b36(s) AS list_reduce(list_prepend(0::HUGEINT, list_transform(string_split(s, ''), ch -> (instr('0123456789abcdefghijklmnopqrstuvwxyz', ch) - 1)::HUGEINT)), (a, d) -> a * 36 + d)",
    `CREATE OR REPLACE MACRO imgpipe_sha1_hex(raw) AS (
      WITH v AS (SELECT lower(trim(raw::VARCHAR)) AS s),
      x AS (SELECT s, imgpipe_b36(left(lpad(s, 31, '0'), 19)) AS hi, imgpipe_b36(right(lpad(s, 31, '0'), 12)) AS lo FROM v),
      z AS (SELECT s, hi // 18446744073709551616::HUGEINT AS h1, (hi % 18446744073709551616::HUGEINT) * 4738381338321616896::HUGEINT + lo AS t FROM x)
      SELECT CASE WHEN regexp_full_match(s, '[0-9a-f]{40}') THEN s
        WHEN regexp_full_match(s, '[0-9a-z]{1,31}') THEN lower(lpad(hex(h1 * 4738381338321616896::HUGEINT + t // 18446744073709551616::HUGEINT), 24, '0') || lpad(hex(t % 18446744073709551616::HUGEINT), 16, '0'))
        END FROM z)`,
  ];
  for (const table of MEDIAWIKI_TABLES) {
    const dir = mediawikiPartitionDir(warehouseDir, table, source);
    if (!existsSync(dir)) {
      throw new UsageError(
        `The warehouse has no ${table} at snapshot=${source.snapshot}/wiki_db=${source.wiki_db} (${dir}): import the replica tables with \`imgpipe warehouse import-mediawiki --warehouse ${warehouseDir} --from DIR --mediawiki-snapshot ${source.snapshot} --wiki-db ${source.wiki_db}\`.`,
      );
    }
    statements.push(`CREATE OR REPLACE VIEW ${duckdbIdentifier(table)} AS SELECT * FROM read_parquet(${duckdbString(path.join(dir, '*.parquet'))}, hive_partitioning = false)`);
  }
  statements.push(
    `CREATE OR REPLACE VIEW image AS SELECT im.img_name::VARCHAR AS image_name, fp.page_id::BIGINT AS page_id, imgpipe_sha1_hex(im.img_sha1) AS sha1,
      im.img_media_type::VARCHAR AS media_type, (im.img_major_mime || '/' || im.img_minor_mime)::VARCHAR AS mime, im.img_width::INTEGER AS width,
      im.img_height::INTEGER AS height, im.img_size::BIGINT AS size, try_strptime(im.img_timestamp::VARCHAR, '%Y%m%d%H%M%S') AS uploaded_at
      FROM mediawiki_image im LEFT JOIN (SELECT page_id, page_title FROM mediawiki_page WHERE page_namespace = ${FILE_NAMESPACE}) fp ON fp.page_title = im.img_name
      ORDER BY image_name`,
    "CREATE OR REPLACE VIEW categorylinks AS SELECT cl_from::BIGINT AS page_id, cl_to::VARCHAR AS category FROM mediawiki_categorylinks WHERE cl_type = 'file'",
    `CREATE OR REPLACE VIEW category_parent AS SELECT p.page_title::VARCHAR AS category, l.cl_to::VARCHAR AS parent FROM mediawiki_categorylinks l
      JOIN mediawiki_page p ON p.page_id = l.cl_from WHERE l.cl_type = 'subcat' AND p.page_namespace = ${CATEGORY_NAMESPACE}`,
  );
  return statements.join(';\n') + ';';
}
