/**
 * The result row contract (design.md, "Contracts"): one row per selected image, `ok` or `error`.
 * `model` and `snapshot` are Hive partition columns: they live in the path
 * (`model=<name>-<version>/snapshot=<yyyy-mm-dd>/`), not in the part files.
 *
 * Parquet types (as DuckDB reads them back):
 *   image_name VARCHAR, page_id BIGINT, sha1 VARCHAR, status VARCHAR, error VARCHAR,
 *   label VARCHAR, score FLOAT, top_k STRUCT(label VARCHAR, score FLOAT)[], embedding FLOAT[],
 *   width INTEGER, height INTEGER, run_id VARCHAR, processed_at TIMESTAMP,
 *   detections STRUCT(label VARCHAR, score FLOAT, x FLOAT, y FLOAT, w FLOAT, h FLOAT)[],
 *   keypoints FLOAT[][], count INTEGER, max_area_ratio FLOAT, sum_area_ratio FLOAT
 *
 * The detector columns (the last five) are set on a detector's ok rows and null everywhere else
 * (classifier and embedding rows, error rows); a detector's rows leave label, score, top_k and
 * embedding null. They are optional in `ResultRow` (absent = null), so rows built before detectors
 * existed still type-check. Boxes are in pixels of the original image after EXIF orientation,
 * top-left origin: x, y the top-left corner, w, h the size; `keypoints[i]` belongs to
 * `detections[i]` (x0, y0, x1, y1, …, same pixels); `count` = len(detections); the area ratios are
 * box area / image area (largest, and summed over the boxes), 0 when nothing was detected.
 */
export interface DetectionEntry {
  label: string;
  score: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

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
  detections?: DetectionEntry[] | null;
  keypoints?: Float32Array[] | null;
  count?: number | null;
  max_area_ratio?: number | null;
  sum_area_ratio?: number | null;
}

export const RESULT_COLUMNS = [
  'image_name', 'page_id', 'sha1', 'status', 'error', 'label', 'score', 'top_k', 'embedding',
  'width', 'height', 'run_id', 'processed_at', 'detections', 'keypoints', 'count', 'max_area_ratio', 'sum_area_ratio',
] as const;
