/**
 * Result rows → one Arrow RecordBatch with the contract schema (`resultArrowSchema.ts`).
 *
 * Each row is checked against the result-row contract, then copied column by column into typed
 * buffers (`arrowColumns.ts`): strings into one UTF-8 buffer per column, an embedding into one
 * Float32Array shared by the whole batch (a memcpy per row), top-k entries into a label column and
 * a score column, detections into one column per struct field and key points into a list of lists
 * over one Float32Array. The row objects are not kept. `finish()` wraps the buffers with `makeData`,
 * without copying them.
 */
import { RecordBatch, Struct } from 'apache-arrow';
import {
  DenseFloat32Column,
  Float32Column,
  Int32Column,
  Int64Column,
  ListOffsetsColumn,
  structData,
  Utf8Column,
} from './arrowColumns.js';
import {
  DETECTION_ENTRY_TYPE,
  DETECTIONS_TYPE,
  EMBEDDING_TYPE,
  KEYPOINTS_ENTRY_TYPE,
  KEYPOINTS_TYPE,
  PROCESSED_AT_TYPE,
  RESULT_ARROW_SCHEMA,
  TOP_K_ENTRY_TYPE,
  TOP_K_TYPE,
} from './resultArrowSchema.js';
import type { ResultRow } from './resultRow.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_MAX = 2 ** 31 - 1;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return `${typeof value} ${String(value).slice(0, 40)}`;
}

function rowError(row: { image_name?: unknown }, column: string, expected: string, actual: unknown): TypeError {
  const name = typeof row.image_name === 'string' ? JSON.stringify(row.image_name) : '(no image_name)';
  return new TypeError(`Result row ${name}: ${column} must be ${expected}, got ${describe(actual)}`);
}

const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isInt32 = (v: unknown): v is number => Number.isInteger(v) && Math.abs(v as number) <= INT32_MAX;

/**
 * Throws a TypeError naming the row and column when `row` breaks the result-row contract
 * (`resultRow.ts`, design.md "Contracts"), including: `error` set exactly when status is `error`,
 * `page_id` within int64, `width`/`height` within int32, `processed_at` integer milliseconds.
 */
export function assertResultRow(row: ResultRow): void {
  if (typeof row !== 'object' || row === null) throw new TypeError(`Result row must be an object, got ${describe(row)}`);
  if (typeof row.image_name !== 'string' || row.image_name === '') {
    throw rowError(row, 'image_name', 'a non-empty string', row.image_name);
  }
  const pageId: unknown = row.page_id;
  if (pageId !== null && (typeof pageId !== 'bigint' || pageId < INT64_MIN || pageId > INT64_MAX)) {
    throw rowError(row, 'page_id', 'a bigint within int64 or null', pageId);
  }
  if (!isNullableString(row.sha1)) throw rowError(row, 'sha1', 'a string or null', row.sha1);
  if (row.status !== 'ok' && row.status !== 'error') throw rowError(row, 'status', '"ok" or "error"', row.status);
  if (row.status === 'error' ? typeof row.error !== 'string' : row.error !== null) {
    throw rowError(row, 'error', row.status === 'error' ? 'a reason string when status is "error"' : 'null when status is "ok"', row.error);
  }
  if (!isNullableString(row.label)) throw rowError(row, 'label', 'a string or null', row.label);
  if (row.score !== null && typeof row.score !== 'number') throw rowError(row, 'score', 'a number or null', row.score);
  if (row.top_k !== null) {
    if (!Array.isArray(row.top_k)) throw rowError(row, 'top_k', 'an array or null', row.top_k);
    for (const entry of row.top_k) {
      if (typeof entry !== 'object' || entry === null || typeof entry.label !== 'string' || typeof entry.score !== 'number') {
        throw rowError(row, 'top_k', 'entries of { label: string, score: number }', entry);
      }
    }
  }
  if (row.embedding !== null && !(row.embedding instanceof Float32Array)) {
    throw rowError(row, 'embedding', 'a Float32Array or null', row.embedding);
  }
  if (row.width !== null && !isInt32(row.width)) throw rowError(row, 'width', 'an int32 or null', row.width);
  if (row.height !== null && !isInt32(row.height)) throw rowError(row, 'height', 'an int32 or null', row.height);
  if (typeof row.run_id !== 'string' || row.run_id === '') throw rowError(row, 'run_id', 'a non-empty string', row.run_id);
  if (!Number.isSafeInteger(row.processed_at)) {
    throw rowError(row, 'processed_at', 'integer milliseconds since the epoch', row.processed_at);
  }
  const detections = row.detections ?? null;
  if (detections !== null) {
    if (!Array.isArray(detections)) throw rowError(row, 'detections', 'an array or null', detections);
    for (const d of detections) {
      if (typeof d !== 'object' || d === null || typeof d.label !== 'string' || ![d.score, d.x, d.y, d.w, d.h].every((v) => typeof v === 'number')) {
        throw rowError(row, 'detections', 'entries of { label: string, score, x, y, w, h: number }', d);
      }
    }
  }
  const keypoints = row.keypoints ?? null;
  if (keypoints !== null) {
    if (!Array.isArray(keypoints) || !keypoints.every((k) => k instanceof Float32Array)) throw rowError(row, 'keypoints', 'an array of Float32Array or null', keypoints);
    if (detections === null || keypoints.length !== detections.length) {
      throw rowError(row, 'keypoints', `one entry per detection (${detections?.length ?? 0})`, `${keypoints.length} entries`);
    }
  }
  const count = row.count ?? null;
  if (count !== null && !isInt32(count)) throw rowError(row, 'count', 'an int32 or null', count);
  for (const column of ['max_area_ratio', 'sum_area_ratio'] as const) {
    const v = row[column] ?? null;
    if (v !== null && typeof v !== 'number') throw rowError(row, column, 'a number or null', v);
  }
}

export class ResultBatchBuilder {
  private readonly imageName: Utf8Column;
  private readonly pageId: Int64Column;
  private readonly sha1: Utf8Column;
  private readonly status: Utf8Column;
  private readonly error: Utf8Column;
  private readonly label: Utf8Column;
  private readonly score: Float32Column;
  private readonly topK: ListOffsetsColumn;
  private readonly topKLabel: Utf8Column;
  private readonly topKScore: DenseFloat32Column;
  private readonly embedding: ListOffsetsColumn;
  private readonly embeddingValues: DenseFloat32Column;
  private readonly width: Int32Column;
  private readonly height: Int32Column;
  private readonly runId: Utf8Column;
  private readonly processedAt: Int64Column;
  private readonly detections: ListOffsetsColumn;
  private readonly detectionLabel: Utf8Column;
  private readonly detectionValues: DenseFloat32Column[];
  private readonly keypoints: ListOffsetsColumn;
  private readonly keypointLists: ListOffsetsColumn;
  private readonly keypointValues: DenseFloat32Column;
  private readonly count: Int32Column;
  private readonly maxAreaRatio: Float32Column;
  private readonly sumAreaRatio: Float32Column;
  private embeddingBytes = 0;

  /**
   * A batch is `full` at `capacity` rows or `embeddingBytesLimit` bytes of embedding values, whichever
   * comes first (buffers are sized for that; appending past it works but re-grows them).
   */
  constructor(
    private readonly capacity: number,
    private readonly embeddingBytesLimit = Number.POSITIVE_INFINITY,
  ) {
    this.imageName = new Utf8Column(capacity, 64);
    this.pageId = new Int64Column(capacity);
    this.sha1 = new Utf8Column(capacity, 40);
    this.status = new Utf8Column(capacity, 5);
    this.error = new Utf8Column(capacity, 4);
    this.label = new Utf8Column(capacity, 16);
    this.score = new Float32Column(capacity);
    this.topK = new ListOffsetsColumn(capacity);
    this.topKLabel = new Utf8Column(capacity * 5, 16);
    this.topKScore = new DenseFloat32Column(capacity * 5);
    this.embedding = new ListOffsetsColumn(capacity);
    this.embeddingValues = new DenseFloat32Column(0);
    this.width = new Int32Column(capacity);
    this.height = new Int32Column(capacity);
    this.runId = new Utf8Column(capacity, 40);
    this.processedAt = new Int64Column(capacity);
    this.detections = new ListOffsetsColumn(capacity);
    this.detectionLabel = new Utf8Column(0, 4);
    this.detectionValues = [0, 1, 2, 3, 4].map(() => new DenseFloat32Column(0)); // score, x, y, w, h
    this.keypoints = new ListOffsetsColumn(capacity);
    this.keypointLists = new ListOffsetsColumn(0);
    this.keypointValues = new DenseFloat32Column(0);
    this.count = new Int32Column(capacity);
    this.maxAreaRatio = new Float32Column(capacity);
    this.sumAreaRatio = new Float32Column(capacity);
  }

  /** Rows appended so far. */
  get length(): number {
    return this.topK.length;
  }

  /** True once the batch holds `capacity` rows or `embeddingBytesLimit` bytes of embeddings. */
  get full(): boolean {
    return this.length >= this.capacity || this.embeddingBytes >= this.embeddingBytesLimit;
  }

  /** Validate `row` (see `assertResultRow`), then append it; a row that fails leaves no trace. */
  append(row: ResultRow): void {
    assertResultRow(row);
    this.imageName.append(row.image_name);
    this.pageId.append(row.page_id);
    this.sha1.append(row.sha1);
    this.status.append(row.status);
    this.error.append(row.error);
    this.label.append(row.label);
    this.score.append(row.score);
    const topK = row.top_k;
    if (topK !== null) {
      for (const entry of topK) {
        this.topKLabel.append(entry.label);
        this.topKScore.append(entry.score);
      }
    }
    this.topK.append(topK !== null, this.topKScore.length);
    const embedding = row.embedding;
    if (embedding !== null) {
      // First embedding of the batch: size the shared child buffer for the whole batch at once.
      if (this.embeddingValues.length === 0) {
        const rowsThatFit = Math.ceil(this.embeddingBytesLimit / Math.max(1, embedding.byteLength));
        this.embeddingValues.reserve(Math.min(this.capacity, rowsThatFit) * embedding.length);
      }
      this.embeddingValues.appendAll(embedding);
      this.embeddingBytes += embedding.byteLength;
    }
    this.embedding.append(embedding !== null, this.embeddingValues.length);
    this.width.append(row.width);
    this.height.append(row.height);
    this.runId.append(row.run_id);
    this.processedAt.append(BigInt(row.processed_at));
    const detections = row.detections ?? null;
    if (detections !== null) {
      const [score, x, y, w, h] = this.detectionValues as [DenseFloat32Column, DenseFloat32Column, DenseFloat32Column, DenseFloat32Column, DenseFloat32Column];
      for (const d of detections) {
        this.detectionLabel.append(d.label);
        score.append(d.score);
        x.append(d.x);
        y.append(d.y);
        w.append(d.w);
        h.append(d.h);
      }
    }
    this.detections.append(detections !== null, this.detectionLabel.length);
    const keypoints = row.keypoints ?? null;
    if (keypoints !== null) {
      for (const k of keypoints) {
        this.keypointValues.appendAll(k);
        this.keypointLists.append(true, this.keypointValues.length);
      }
    }
    this.keypoints.append(keypoints !== null, this.keypointLists.length);
    this.count.append(row.count ?? null);
    this.maxAreaRatio.append(row.max_area_ratio ?? null);
    this.sumAreaRatio.append(row.sum_area_ratio ?? null);
  }

  /** The rows as one RecordBatch over this builder's buffers; do not append afterwards. */
  finish(): RecordBatch {
    const length = this.length;
    const topKEntries = structData(TOP_K_ENTRY_TYPE, this.topKScore.length, [
      this.topKLabel.finish(),
      this.topKScore.finish(),
    ]);
    const children = [
      this.imageName.finish(),
      this.pageId.finish(),
      this.sha1.finish(),
      this.status.finish(),
      this.error.finish(),
      this.label.finish(),
      this.score.finish(),
      this.topK.finish(TOP_K_TYPE, topKEntries),
      this.embedding.finish(EMBEDDING_TYPE, this.embeddingValues.finish()),
      this.width.finish(),
      this.height.finish(),
      this.runId.finish(),
      this.processedAt.finishAsTimestamp(PROCESSED_AT_TYPE),
      this.detections.finish(DETECTIONS_TYPE, structData(DETECTION_ENTRY_TYPE, this.detectionLabel.length, [this.detectionLabel.finish(), ...this.detectionValues.map((c) => c.finish())])),
      this.keypoints.finish(KEYPOINTS_TYPE, this.keypointLists.finish(KEYPOINTS_ENTRY_TYPE, this.keypointValues.finish())),
      this.count.finish(),
      this.maxAreaRatio.finish(),
      this.sumAreaRatio.finish(),
    ];
    return new RecordBatch(RESULT_ARROW_SCHEMA, structData(new Struct(RESULT_ARROW_SCHEMA.fields), length, children));
  }
}
