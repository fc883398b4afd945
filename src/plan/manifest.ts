/**
 * Plan files under `partitions/<run-id>/`:
 *   manifest.parquet     the partition manifests: one row per selected image with its partition
 *                        number (columns partition, image_name, page_id, sha1), sorted by partition,
 *                        written first. One Parquet file written by DuckDB rather than a JSON file per
 *                        partition: planning 10M ids goes at DuckDB's speed, not node's value
 *                        conversion (bench/RESULTS.md, "Planning").
 *   run.json             the run: selection, model, output, counts (written last: its presence
 *                        means the plan is complete);
 *   part-00000.done.json the commit message of the partition's winning attempt (written by the
 *                        driver when the attempt's part file is committed to the run's staging).
 * JSON files are validated with zod when read back (a hand-edited or truncated file is an error).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { z } from 'zod';
import { byteSourceSpecSchema } from '../bytes/byteSourceSpec.js';
import { catalogSpecSchema } from '../catalog/catalogSpec.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomicWrite.js';
import { validateInput } from '../util/validateInput.js';

const imageRefSchema = z.strictObject({
  image_name: z.string(),
  /** int64 as a decimal string (JSON numbers lose precision past 2^53). */
  page_id: z.string().regex(/^-?\d+$/).nullable(),
  sha1: z.string().nullable(),
});

export const partitionManifestSchema = z.strictObject({
  format: z.literal(1),
  run_id: z.string(),
  partition: z.number().int().min(0),
  images: z.array(imageRefSchema),
});
export type PartitionManifest = z.infer<typeof partitionManifestSchema>;

export const runSpecSchema = z.strictObject({
  format: z.literal(1),
  run_id: z.string(),
  created_at: z.string(),
  selection: z.unknown(),
  query: z.string(),
  catalog: catalogSpecSchema,
  bytes: byteSourceSpecSchema,
  model: z.strictObject({ name: z.string(), version: z.string(), sha256: z.string(), card: z.string(), qualified: z.string() }),
  table: z.string(),
  /** A local path, or webhdfs://host:port/path (then `hdfs` says as whom). */
  table_location: z.string(),
  hdfs: z.strictObject({ user: z.string() }).optional(),
  snapshot: z.string(),
  partition_size: z.number().int().min(1),
  partitions: z.number().int().min(0),
  images: z.number().int().min(0),
  /** `min_score`: `run --min-score` for a detector (absent: the card's `output.min_score`). */
  options: z.strictObject({ batch_size: z.number().int(), max_pixels: z.number().int(), device: z.string(), min_score: z.number().min(0).max(1).optional() }),
  /** `run --incremental` (src/plan/incremental.ts): what was carried from which snapshot. */
  incremental: z
    .strictObject({
      previous_snapshot: z.string().nullable(),
      previous_dir: z.string().nullable(),
      previous_rows: z.number().int(),
      /** Carried rows, in `carried.parquet` beside run.json until the commit moves them. */
      carried: z.strictObject({ dropped: z.number().int(), rows: z.number().int(), ok: z.number().int(), error: z.number().int(), error_reasons: z.record(z.string(), z.number().int()), labels: z.record(z.string(), z.number().int()) }),
      dropped: z.number().int(),
    })
    .optional(),
});
export type RunSpec = z.infer<typeof runSpecSchema>;

export const partCommitMessageSchema = z.strictObject({
  run_id: z.string(),
  partition: z.number().int(),
  attempt: z.string(),
  /** Where the attempt wrote its part file (under the run's staging folder). */
  staged_path: z.string(),
  rows: z.number().int(),
  ok: z.number().int(),
  error: z.number().int(),
  bytes: z.number().int(),
  /** Error rows by reason, and (classifiers) ok rows by top-1 label: for the run summary. */
  error_reasons: z.record(z.string(), z.number().int()),
  labels: z.record(z.string(), z.number().int()),
  metrics: z.strictObject({ fetch_ms: z.number(), decode_ms: z.number(), infer_ms: z.number(), write_ms: z.number(), elapsed_ms: z.number() }),
  /** Only on a partition that failed all its attempts (its rows are `partition_failed`): why. */
  failure: z.strictObject({ attempts: z.number().int(), last_error: z.string() }).optional(),
});
export type PartCommitMessage = z.infer<typeof partCommitMessageSchema>;

export const partitionFileName = (partition: number) => `part-${String(partition).padStart(5, '0')}`;

/** Write JSON so a reader never sees half a file (`writeFileAtomic`); missing folders are created. */
export function writeJsonAtomically(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, JSON.stringify(value) + '\n');
}

function readJson<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`Cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  return validateInput(schema, raw, `${what[0]!.toUpperCase()}${what.slice(1)} ${file}`, 'the file');
}

/** The folder of one run's plan files. */
export class RunPlanDir {
  constructor(readonly dir: string) {}

  static forRun(partitionsDir: string, runId: string): RunPlanDir {
    return new RunPlanDir(path.resolve(partitionsDir, runId));
  }

  get manifestPath(): string {
    return path.join(this.dir, 'manifest.parquet');
  }
  donePath(partition: number): string {
    return path.join(this.dir, `${partitionFileName(partition)}.done.json`);
  }
  /** Rows carried forward by an incremental run, waiting for the commit. */
  get carriedPath(): string {
    return path.join(this.dir, 'carried.parquet');
  }
  get runPath(): string {
    return path.join(this.dir, 'run.json');
  }

  readRun(): RunSpec {
    if (!existsSync(this.runPath)) {
      throw new UsageError(`No complete plan at ${this.dir} (run.json missing): the run id is wrong, --partitions-dir points elsewhere, or planning was interrupted (start a new run).`);
    }
    return readJson(this.runPath, runSpecSchema, 'run file');
  }
  /** One partition's images, in plan order. Reads only that partition's row groups. */
  async readManifest(partition: number): Promise<PartitionManifest> {
    const run = this.readRun();
    if (!Number.isInteger(partition) || partition < 0 || partition >= run.partitions) {
      throw new UsageError(`Run ${run.run_id} has partitions 0 to ${run.partitions - 1}; there is no partition ${partition}`);
    }
    const connection = await (await manifestDb()).connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT image_name, page_id::VARCHAR, sha1 FROM read_parquet(${duckdbString(this.manifestPath)}) WHERE partition = $p`,
        { p: partition },
      );
      const images = reader.getRows().map(([image_name, page_id, sha1]) => ({ image_name: String(image_name), page_id: (page_id as string | null) ?? null, sha1: (sha1 as string | null) ?? null }));
      if (images.length === 0) throw new UsageError(`Partition manifest ${this.manifestPath} has no rows for partition ${partition}: the plan is damaged; start a new run`);
      return { format: 1, run_id: run.run_id, partition, images };
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`Cannot read partition manifest ${this.manifestPath}: ${(e as Error).message}`);
    } finally {
      connection.disconnectSync();
    }
  }
  readDone(partition: number): PartCommitMessage | null {
    const file = this.donePath(partition);
    return existsSync(file) ? readJson(file, partCommitMessageSchema, 'partition commit record') : null;
  }
  writeDone(message: PartCommitMessage): void {
    writeJsonAtomically(this.donePath(message.partition), message);
  }
}

let sharedManifestDb: Promise<DuckDBInstance> | null = null;
/** One in-memory DuckDB per process for manifest reads (two threads: reads are small). */
function manifestDb(): Promise<DuckDBInstance> {
  sharedManifestDb ??= DuckDBInstance.create(':memory:', { threads: '2' });
  return sharedManifestDb;
}
