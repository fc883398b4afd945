/**
 * The sink's part writer: turns the result rows of one partition attempt into one Parquet part file.
 *
 * Contract (every implementation keeps it; the executor relies on it):
 *
 * - **One writer per partition attempt.** The worker creates it with the part's final path (inside
 *   the attempt's staging folder, e.g. `…/_staging/<attempt>/model=…/snapshot=…/part-00042.parquet`),
 *   then calls `write(rows)` any number of times (zero included) with rows of that partition only,
 *   then `close()`; or `abort()` at any point. Calls are sequential: await each `write` before the
 *   next call (its promise is the writer's backpressure); only `abort()` may be called meanwhile.
 * - **Visibility.** No file exists under the final path until `close()` resolves: the writer works
 *   in a hidden temporary file beside it and renames it into place as the last step. So a file under
 *   the final name is always a complete, readable Parquet file with the contract schema
 *   (`resultRow.ts`), even after a crash. Temporary names start with `.` (ignored by Hive, Spark and
 *   DuckDB's `*.parquet` globs).
 * - **Failure.** If `write()` or `close()` throws (a row that breaks the contract, out of memory,
 *   disk full, …), the writer is failed: further `write`/`close` calls throw, and the caller must
 *   `abort()` it and retry the whole partition with a new writer. Partial parts are never committed.
 * - **Abort.** `abort()` removes everything this writer wrote (the temporary file and, if `close()`
 *   already succeeded, the final file), waits for an in-flight `close()` first, never throws and may
 *   be called any number of times.
 * - **Empty parts.** `close()` after zero rows writes a valid Parquet file with zero rows and the
 *   full schema, so "this partition selected nothing" is a committed fact, not a missing file.
 * - **Memory.** A writer copies rows into columnar buffers (typed arrays) before `write` resolves,
 *   so callers may drop or reuse their rows, embeddings included, once it has. An implementation
 *   may hold up to one partition (≤ ~10k rows; ≤ ~80 MB for 10k × 2048 floats); the Parquet one
 *   holds about one row group, writing row groups to the temporary file as rows arrive.
 * - **Durability.** `close()` does not fsync; making a committed run durable (fsync of the committed
 *   files and folders) is the commit protocol's job, done once per run rather than once per part.
 */
import type { ResultRow } from './resultRow.js';

/** What `close()` reports about the file it wrote. */
export interface PartWriteResult {
  /** The final path the writer was created with; the file is complete and visible. */
  path: string;
  /** Rows in the file: the number of rows passed to `write`. */
  rows: number;
  /** Size of the file in bytes. */
  bytes: number;
}

export interface PartWriter {
  /** The final path of the part file (nothing is there until `close()` resolves). */
  readonly path: string;

  /**
   * Append rows of this partition. Rows are validated against the result-row contract and copied
   * into column buffers; the row objects are not retained. Resolves when the writer can take more
   * (at most about a row group is then waiting to be encoded). Rejects (and fails the writer) on a
   * row that breaks the contract, an encoding or I/O error, or when called after close/abort.
   */
  write(rows: readonly ResultRow[]): Promise<void>;

  /**
   * Encode and write the Parquet file, then make it visible under `path`. Resolves once the file is
   * complete. On rejection the writer is failed: the caller aborts it and retries the partition.
   */
  close(): Promise<PartWriteResult>;

  /** Remove everything this writer wrote. Never throws; idempotent; safe in any state. */
  abort(): Promise<void>;
}

/** Creates the writer for one partition attempt; `path` is the part's final file path. */
export type PartWriterFactory = (path: string) => PartWriter;
