/**
 * The result row contract (design.md, "Contracts"): one row per selected image, `ok` or `error`.
 * `model` and `snapshot` are Hive partition columns: they live in the path
 * (`model=<name>-<version>/snapshot=<yyyy-mm-dd>/`), not in the part files.
 *
 * Parquet types (as DuckDB reads them back):
 *   image_name VARCHAR, page_id BIGINT, sha1 VARCHAR, status VARCHAR, error VARCHAR,
 *   label VARCHAR, score FLOAT, top_k STRUCT(label VARCHAR, score FLOAT)[], embedding FLOAT[],
 *   width INTEGER, height INTEGER, run_id VARCHAR, processed_at TIMESTAMP
 */
export interface TopKEntry {
  label: string;
  score: number;
}

export interface ResultRow {
  image_name: string;
  page_id: bigint | null;
  sha1: string | null;
  status: 'ok' | 'error';
  error: string | null;
  label: string | null;
  score: number | null;
  top_k: TopKEntry[] | null;
  embedding: Float32Array | null;
  width: number | null;
  height: number | null;
  run_id: string;
  /** Milliseconds since the epoch, UTC. */
  processed_at: number;
}

export const RESULT_COLUMNS = [
  'image_name', 'page_id', 'sha1', 'status', 'error', 'label', 'score', 'top_k', 'embedding',
  'width', 'height', 'run_id', 'processed_at',
] as const;
