/**
 * The result row contract (`resultRow.ts`) as an Arrow schema: the one place that says which Arrow
 * type carries each column into Parquet, and so which type DuckDB, Hive and Spark read back.
 *
 *   Arrow                                   Parquet (physical / logical)            DuckDB
 *   Utf8                                    BYTE_ARRAY / STRING                     VARCHAR
 *   Int64                                   INT64                                   BIGINT
 *   Float32                                 FLOAT                                   FLOAT
 *   Int32                                   INT32                                   INTEGER
 *   List<Struct<label Utf8, score Float32>> LIST of group(label STRING, score FLOAT) STRUCT(label VARCHAR, score FLOAT)[]
 *   List<Float32>                           LIST of FLOAT                           FLOAT[]
 *   List<Struct<label, score, x, y, w, h>>  LIST of group(label STRING, 5 × FLOAT)   STRUCT(label VARCHAR, score FLOAT, x FLOAT, …)[]
 *   List<List<Float32>>                     LIST of LIST of FLOAT                   FLOAT[][]
 *   Timestamp(ms, no time zone)             INT64 / TIMESTAMP(MILLIS, isAdjustedToUTC=false)   TIMESTAMP
 *
 * `processed_at` deliberately has no time zone: a zoned Arrow timestamp becomes
 * `isAdjustedToUTC=true` in Parquet, which DuckDB reads as TIMESTAMP WITH TIME ZONE. The values are
 * UTC milliseconds all the same (the contract says so).
 *
 * List children are named `element` (the Parquet LIST spec's name), so the files read the same in
 * Hive and Spark as in DuckDB. Columns the contract always fills (image_name, status, run_id,
 * processed_at) are non-nullable; list elements are non-nullable too (a Float32Array has no nulls).
 */
import { Field, Float32, Int32, Int64, List, Schema, Struct, TimestampMillisecond, Utf8 } from 'apache-arrow';

export const TOP_K_ENTRY_TYPE = new Struct([
  new Field('label', new Utf8(), false),
  new Field('score', new Float32(), false),
]);

export const TOP_K_TYPE = new List(new Field('element', TOP_K_ENTRY_TYPE, false));

export const EMBEDDING_TYPE = new List(new Field('element', new Float32(), false));

export const DETECTION_ENTRY_TYPE = new Struct([
  new Field('label', new Utf8(), false),
  new Field('score', new Float32(), false),
  new Field('x', new Float32(), false),
  new Field('y', new Float32(), false),
  new Field('w', new Float32(), false),
  new Field('h', new Float32(), false),
]);

export const DETECTIONS_TYPE = new List(new Field('element', DETECTION_ENTRY_TYPE, false));

export const KEYPOINTS_ENTRY_TYPE = new List(new Field('element', new Float32(), false));
export const KEYPOINTS_TYPE = new List(new Field('element', KEYPOINTS_ENTRY_TYPE, false));

/** Timestamp in milliseconds without a time zone (see the module note). */
export const PROCESSED_AT_TYPE = new TimestampMillisecond(null);

/** Field order is the contract's column order (`RESULT_COLUMNS`). */
export const RESULT_ARROW_SCHEMA = new Schema([
  new Field('image_name', new Utf8(), false),
  new Field('page_id', new Int64(), true),
  new Field('sha1', new Utf8(), true),
  new Field('status', new Utf8(), false),
  new Field('error', new Utf8(), true),
  new Field('label', new Utf8(), true),
  new Field('score', new Float32(), true),
  new Field('top_k', TOP_K_TYPE, true),
  new Field('embedding', EMBEDDING_TYPE, true),
  new Field('width', new Int32(), true),
  new Field('height', new Int32(), true),
  new Field('run_id', new Utf8(), false),
  new Field('processed_at', PROCESSED_AT_TYPE, false),
  // Detector columns, last so that older files' columns keep their positions.
  new Field('detections', DETECTIONS_TYPE, true),
  new Field('keypoints', KEYPOINTS_TYPE, true),
  new Field('count', new Int32(), true),
  new Field('max_area_ratio', new Float32(), true),
  new Field('sum_area_ratio', new Float32(), true),
]);
