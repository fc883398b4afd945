/**
 * Embeddings for a training set, from the normal run machinery: the `embeddings` table's partition
 * `model=<backbone>-<version>/snapshot=<date>/`. When that partition is committed and holds a row for
 * every wanted image with the same sha1, it is reused and no inference runs. Otherwise one `runJob`
 * embeds the categories' images, together with every image the partition already held (a commit
 * replaces the whole partition, and nothing already there may be lost), and commits as any run does.
 *
 * Rows are read back with DuckDB from the committed Parquet files, joined to the wanted names in
 * SQL, so memory holds the training set's embeddings only.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, DuckDBListValue } from '@duckdb/node-api';
import type { ImageRef } from '../catalog/Catalog.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { runJob, type RunJobOptions } from '../exec/runJob.js';

export interface EmbeddingRow {
  sha1: string | null;
  status: 'ok' | 'error';
  error: string | null;
  embedding: Float32Array | null;
}

export interface EnsureEmbeddingsOptions extends Omit<RunJobOptions, 'selection' | 'resume' | 'table' | 'model' | 'warehouse' | 'snapshot'> {
  warehouse: string;
  /** Backbone name or card path, as for `run --model`. */
  backbone: string;
  /** `<name>-<version>` of the backbone: the partition's `model=` value. */
  qualifiedName: string;
  snapshot: string;
  /** @defaultValue 'embeddings' */
  table?: string;
  /** The categories whose trees (down to `depth`) the embedding run selects. */
  categories: readonly string[];
  depth: number;
}

export interface EmbeddingsResult {
  /** The committed partition folder. */
  output: string;
  /** run_id of the run that committed it. */
  run_id: string;
  /** True when the partition already covered the images and no inference ran. */
  reused: boolean;
  rows: Map<string, EmbeddingRow>;
}

/**
 * @throws {UsageError} from the run (bad backbone, selection error); {Error} when the run fails or
 * its committed partition still lacks a wanted image.
 */
export async function ensureEmbeddings(images: readonly ImageRef[], options: EnsureEmbeddingsOptions): Promise<EmbeddingsResult> {
  const table = options.table ?? 'embeddings';
  const partition = path.join(path.resolve(options.warehouse), table, `model=${options.qualifiedName}`, `snapshot=${options.snapshot}`);
  const committed = () => existsSync(path.join(partition, '_SUCCESS'));
  if (committed()) {
    const rows = await readEmbeddingRows(partition, images);
    if (missingFrom(rows, images) === null) return { output: partition, run_id: committedRunId(partition), reused: true, rows };
  }
  const result = await runJob({
    ...options,
    model: options.backbone,
    table,
    selection: { kind: 'sql', sql: embeddingSelectionSql(options.categories, options.depth, committed() ? partition : null) },
  });
  if (result.interrupted) throw new Error(`The embedding run ${result.run_id} was interrupted; nothing was trained. Resume it with \`imgpipe run --resume ${result.run_id}\` and train again.`);
  const rows = await readEmbeddingRows(result.output, images);
  const missing = missingFrom(rows, images);
  if (missing !== null) throw new Error(`The embedding run ${result.run_id} committed ${result.output} without a row for ${JSON.stringify(missing)}`);
  return { output: result.output, run_id: result.run_id, reused: false, rows };
}

/** The first image without a row of the same sha1, or null when all are covered. */
function missingFrom(rows: Map<string, EmbeddingRow>, images: readonly ImageRef[]): string | null {
  for (const ref of images) {
    const row = rows.get(ref.image_name);
    if (!row || row.sha1 !== ref.sha1) return ref.image_name;
  }
  return null;
}

function committedRunId(partition: string): string {
  try {
    return String((JSON.parse(readFileSync(path.join(partition, '_summary.json'), 'utf8')) as { run_id: string }).run_id);
  } catch {
    return 'unknown';
  }
}

/**
 * The embedding run's selection: the images of the categories' trees (the same tree walk as
 * `--category C --depth N`), plus the images the partition already holds.
 */
export function embeddingSelectionSql(categories: readonly string[], depth: number, existingPartition: string | null): string {
  const roots = categories.map((c) => `(${duckdbString(c)}::VARCHAR, 0)`).join(', ');
  let sql = `WITH RECURSIVE tree(category, depth) AS (
  SELECT * FROM (VALUES ${roots}) AS roots(category, depth)
  UNION
  SELECT cp.category, tree.depth + 1 FROM category_parent cp JOIN tree ON cp.parent = tree.category WHERE tree.depth < ${Math.trunc(depth)}
)
SELECT i.image_name FROM categorylinks cl JOIN (SELECT DISTINCT category FROM tree) t ON cl.category = t.category JOIN image i ON i.page_id = cl.page_id`;
  if (existingPartition) sql += `\nUNION SELECT image_name FROM read_parquet(${duckdbString(path.join(existingPartition, '*.parquet'))}, union_by_name = true)`;
  return sql;
}

/** Rows of the wanted images from a committed partition (the wanted names go in through an appender, not SQL text). */
async function readEmbeddingRows(partition: string, images: readonly ImageRef[]): Promise<Map<string, EmbeddingRow>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run('CREATE TEMP TABLE wanted (image_name VARCHAR)');
    const appender = await connection.createAppender('wanted');
    for (const ref of images) {
      appender.appendVarchar(ref.image_name);
      appender.endRow();
    }
    appender.closeSync();
    const result = await connection.stream(
      `SELECT r.image_name, r.sha1, r.status, r.error, r.embedding FROM read_parquet(${duckdbString(path.join(partition, '*.parquet'))}, union_by_name = true) r JOIN wanted w ON w.image_name = r.image_name`,
    );
    const rows = new Map<string, EmbeddingRow>();
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const [name, sha1, status, error, embedding] of chunk.getRows()) {
        rows.set(String(name), {
          sha1: sha1 === null ? null : String(sha1),
          status: status === 'ok' ? 'ok' : 'error',
          error: error === null ? null : String(error),
          embedding: embedding instanceof DuckDBListValue ? Float32Array.from(embedding.items as number[]) : null,
        });
      }
    }
    return rows;
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}
