/**
 * The catalog: where the driver selects images and registers committed partitions. Driver-only.
 * Two implementations share this interface: the embedded warehouse (DuckDB over Hive-layout Parquet,
 * `EmbeddedCatalog`) and Hive (HiveServer2 through hive-driver, `HiveCatalog`).
 *
 * Call sequence: open → select (once per run, streamed) → registerPartition (after a commit) → close.
 * A catalog that can also write the plan's files in its engine implements `ManifestWriter`
 * (ManifestWriter.ts; the embedded warehouse).
 */

/** One selected image: enough to fetch its bytes and key its result row. */
export interface ImageRef {
  image_name: string;
  page_id: bigint | null;
  sha1: string | null;
}

export type Selection =
  | { kind: 'all' }
  | { kind: 'category'; category: string; depth: number }
  | { kind: 'sql'; sql: string }
  /**
   * The images named in a Parquet file's `image_name` column (a training set: `imgpipe train`), each
   * resolved to its catalog row; names the catalog does not have are left out. Meant for lists of
   * training size (the Hive catalog holds the resolved list in memory).
   */
  | { kind: 'names'; file: string; what: string };

export interface PartitionRegistration {
  table: string;
  model: string;
  snapshot: string;
  /** Absolute location of the committed `model=…/snapshot=…` folder. */
  location: string;
  runId: string;
}

export interface Catalog {
  /**
   * Stream the selection in batches, each image once, ordered by image_name (a plan is reproducible).
   * Memory is bounded by one batch whatever the size of the selection.
   * @throws {UsageError} when the selection is invalid (unknown category, SQL error, no image_name column).
   */
  select(selection: Selection, batchSize?: number): AsyncGenerator<ImageRef[]>;

  /**
   * For `train --labels-sql`: run the user's one SELECT, which returns `image_name` and `label`
   * columns, and stream (image_name, label) pairs in batches, in the query's order. On the embedded
   * warehouse the query runs in the same sandbox as `--sql`.
   * @throws {UsageError} not one SELECT, no image_name or label column, a SQL error.
   */
  selectLabels(sql: string, batchSize?: number): AsyncGenerator<{ image_name: string; label: string | null }[]>;

  /** Human-readable description of the selection's query, for run.json. */
  describe(selection: Selection): string;

  /** Make a committed partition visible to readers of the catalog. Idempotent. */
  registerPartition(registration: PartitionRegistration): Promise<void>;

  /** Release handles (Hive: close the session); calling it twice is harmless; never throws. */
  close(): void | Promise<void>;
}
