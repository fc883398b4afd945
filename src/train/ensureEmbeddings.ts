/**
 * Embeddings for a training set, from the normal run machinery: the `embeddings` table's partition
 * `model=<backbone>-<version>/snapshot=<date>/`. When that partition is committed and holds a row for
 * every wanted image with the same sha1, it is reused and no inference runs. Otherwise one `runJob`
 * embeds the training set's images (a `names` selection: the names are written to a Parquet file in
 * the partitions folder, and the catalog, embedded or Hive, resolves them), together with every image
 * the partition already held (a commit replaces the whole partition, and nothing already there may be
 * lost), and commits as any run does. The table must be a local or mounted folder (rows are read back
 * from it here).
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
import { isRemoteLocation } from '../sink/location.js';
import { replaceFileWith } from '../util/atomicWrite.js';
import { UsageError } from '../util/errors.js';
import { writeNamesFile } from './readLabels.js';

export interface EmbeddingRow {
  sha1: string | null;
  status: 'ok' | 'error';
  error: string | null;
  embedding: Float32Array | null;
}

export interface EnsureEmbeddingsOptions extends Omit<RunJobOptions, 'selection' | 'resume' | 'table' | 'model' | 'snapshot'> {
  /** The embeddings table's folder. @defaultValue `tableLocation`, else `<warehouse>/<table>` */
  tableDir?: string;
  /** Backbone name or card path, as for `run --model`. */
  backbone: string;
  /** `<name>-<version>` of the backbone: the partition's `model=` value. */
  qualifiedName: string;
  snapshot: string;
  /** @defaultValue 'embeddings' */
  table?: string;
  /** Every image to embed (the training set, overlaps included). */
  names: readonly string[];
  /** Where the names file of the embedding run's selection goes. */
  namesFile: string;
  /** What the names are, for run.json (e.g. `categories Sunsets, Night_scenes (depth 0)`). */
  what: string;
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
  const tableDir = options.tableDir ?? options.tableLocation ?? path.join(path.resolve(options.warehouse ?? '.'), table);
  if (isRemoteLocation(tableDir)) throw new UsageError(`train reads its embeddings back from the table folder, so --table-location must be a local or mounted path, not ${tableDir}`);
  const partition = path.join(path.resolve(tableDir), `model=${options.qualifiedName}`, `snapshot=${options.snapshot}`);
  const committed = () => existsSync(path.join(partition, '_SUCCESS'));
  if (committed()) {
    const rows = await readEmbeddingRows(partition, images);
    if (missingFrom(rows, images) === null) return { output: partition, run_id: committedRunId(partition), reused: true, rows };
  }
  await writeNamesFile(options.namesFile, options.names);
  if (committed()) await appendPartitionNames(options.namesFile, partition);
  const { tableDir: _tableDir, names: _names, namesFile: _namesFile, what: _what, ...runOptions } = options;
  const result = await runJob({
    ...runOptions,
    tableLocation: options.tableLocation ?? (options.tableDir ? tableDir : undefined),
    model: options.backbone,
    table,
    selection: { kind: 'names', file: options.namesFile, what: `${options.what}${committed() ? `, and the images already in ${partition}` : ''}` },
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

/** Add the names a committed partition holds to the names file (so the new commit loses none). */
async function appendPartitionNames(namesFile: string, partition: string): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await replaceFileWith(namesFile, (merged) =>
      connection.run(
        `COPY (SELECT image_name FROM read_parquet(${duckdbString(namesFile)}) UNION SELECT image_name FROM read_parquet(${duckdbString(path.join(partition, '*.parquet'))}, union_by_name = true) ORDER BY 1) TO ${duckdbString(merged)} (FORMAT parquet)`,
      ),
    );
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
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
