/**
 * The unit of work: run one partition manifest, return its commit message. It does not know where it
 * runs (driver, a queue worker on another node) nor on which threads: everything it needs arrives in
 * TaskContext — per-process resources built once (Ray's init_fn: byte source, scorer, part writer)
 * and per-run options — and the result is plain JSON.
 *
 * Pipeline per partition, every stage bounded:
 *   fetch bytes in chunks (≤ 2 chunks in memory) → the scorer (decode + inference on its threads,
 *   `concurrency` calls of `chunkSize` images in flight) → rows, sorted by image_name → one part file.
 * This thread only fetches, turns outputs into rows and writes: it never runs a model, so queue lock
 * renewals and progress stay on time.
 *
 * Each image yields exactly one row; a bad image is an `error` row and never fails the partition.
 * If this throws (byte source down, disk full, a scoring thread died), the part file is aborted
 * (removed) and the caller retries the partition with a new attempt id; nothing of this attempt is
 * visible.
 */
import pLimit from 'p-limit';
import type { ByteSource } from '../bytes/ByteSource.js';
import type { LoadedModel } from '../model/loadModelCard.js';
import { detectionColumns } from '../model/detector/detectionRow.js';
import { activate, normalizeEmbedding, topK } from '../model/postprocess.js';
import { partitionFileName, type PartCommitMessage, type PartitionManifest } from '../plan/manifest.js';
import { joinLocation } from '../sink/location.js';
import type { PartWriter } from '../sink/PartWriter.js';
import type { ResultRow } from '../sink/resultRow.js';
import type { ScoreOutcome } from './scoring/scoreImages.js';
import type { Scorer } from './scoring/Scorer.js';

/** Built once per process (per model and byte source) and shared by every partition it runs. */
export interface TaskResources {
  bytes: ByteSource;
  /** Decode + inference, on the topology chosen for the device. */
  scorer: Scorer;
  /** The card and labels, for turning outputs into rows (no session here). */
  model: LoadedModel;
  openPartWriter: (file: string) => PartWriter;
}

/** What one run (or one attempt) sets. */
export interface TaskRunOptions {
  /** Header check before decoding. */
  maxPixels: number;
  /** Detector cards: the score threshold instead of the card's `output.min_score` (`run --min-score`). */
  minScore?: number;
  /** Names per byte-source request. @defaultValue 64 */
  fetchChunk?: number;
  /** Called as images finish (ok or error), for progress bars. */
  onImages?: (count: number) => void;
}

export type TaskContext = TaskResources & TaskRunOptions;

type Ref = PartitionManifest['images'][number];

/**
 * The folder an attempt writes into: `<table>/_staging/<run>/attempt-<partition>-<attempt>/`
 * (a local path, or a webhdfs:// URL when the table is on HDFS).
 */
export function attemptDir(tableLocation: string, runId: string, partition: number, attempt: string): string {
  return joinLocation(tableLocation, '_staging', runId, `attempt-${partitionFileName(partition).slice(5)}-${attempt}`);
}

export async function runPartition(manifest: PartitionManifest, ctx: TaskContext, stagedFile: string, attempt: string): Promise<PartCommitMessage> {
  const started = performance.now();
  const metrics = { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0, elapsed_ms: 0 };
  const timings = { decodeMs: 0, inferMs: 0 };
  const runId = manifest.run_id;
  const rows: ResultRow[] = [];
  const { scorer, model } = ctx;
  const request = { input: model.card.input, maxPixels: ctx.maxPixels };
  // Only a source that serves the very bytes the catalog's sha1 describes can be checked against it.
  const checkSha1 = ctx.bytes.servesCatalogBytes === true;

  const finish = (row: ResultRow) => {
    rows.push(row);
    ctx.onImages?.(1);
  };
  const rowOf = (ref: Ref, o: ScoreOutcome): ResultRow => scoredRow(ref, o, model, runId, ctx.minScore);

  const scoreLimit = pLimit(scorer.concurrency);
  const scoreChunk = async (refs: Ref[], found: Map<string, Uint8Array>) => {
    const present = refs.filter((r) => found.has(r.image_name));
    for (const ref of refs) if (!found.has(ref.image_name)) finish({ ...baseRow(ref, runId), status: 'error', error: 'missing_bytes' });
    if (present.length === 0) return;
    const items = present.map((r) => ({ bytes: found.get(r.image_name)!, sha1: checkSha1 ? r.sha1 : null }));
    const outcomes = await scorer.score(items, request, timings);
    present.forEach((ref, i) => finish(rowOf(ref, outcomes[i]!)));
  };

  // A fetch chunk holds at least one scorer call, so a large --batch-size really makes large batches.
  const fetchChunk = Math.max(ctx.fetchChunk ?? 64, scorer.chunkSize);
  let previousChunk: Promise<unknown> = Promise.resolve();
  let failure: unknown = null;
  for (let start = 0; start < manifest.images.length && failure === null; start += fetchChunk) {
    const chunk = manifest.images.slice(start, start + fetchChunk);
    const t0 = performance.now();
    const found = await ctx.bytes.fetch(chunk.map((r) => r.image_name));
    metrics.fetch_ms += performance.now() - t0;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < chunk.length; i += scorer.chunkSize) {
      calls.push(scoreLimit(() => scoreChunk(chunk.slice(i, i + scorer.chunkSize), found)));
    }
    // Keep at most two chunks of bytes in memory: wait for the previous chunk before fetching on.
    await previousChunk;
    previousChunk = Promise.all(calls).catch((e: unknown) => {
      failure ??= e;
    });
  }
  await previousChunk;
  if (failure !== null) throw failure;
  if (rows.length !== manifest.images.length) {
    throw new Error(`partition ${manifest.partition}: ${rows.length} rows for ${manifest.images.length} images`);
  }
  metrics.decode_ms = timings.decodeMs;
  metrics.infer_ms = timings.inferMs;
  metrics.elapsed_ms = performance.now() - started;
  return writePart(manifest, rows, ctx, stagedFile, attempt, metrics);
}

/**
 * A partition that failed all its attempts: one `partition_failed` row per image, so the run still
 * commits and nothing is silently missing. `failure` (attempts, last error) goes into the commit
 * message, hence the done record and the run summary.
 */
export async function writeFailedPartition(
  manifest: PartitionManifest,
  ctx: Pick<TaskContext, 'openPartWriter'>,
  stagedFile: string,
  attempt: string,
  failure?: NonNullable<PartCommitMessage['failure']>,
): Promise<PartCommitMessage> {
  const rows = manifest.images.map((ref): ResultRow => ({ ...baseRow(ref, manifest.run_id), status: 'error', error: 'partition_failed' }));
  const message = await writePart(manifest, rows, ctx, stagedFile, attempt, { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0, elapsed_ms: 0 });
  return failure ? { ...message, failure } : message;
}

/** Sort rows by image_name (parts are deterministic), write the part file, build the message. */
async function writePart(
  manifest: PartitionManifest,
  rows: ResultRow[],
  ctx: Pick<TaskContext, 'openPartWriter'>,
  stagedFile: string,
  attempt: string,
  metrics: PartCommitMessage['metrics'],
): Promise<PartCommitMessage> {
  rows.sort((a, b) => (a.image_name < b.image_name ? -1 : a.image_name > b.image_name ? 1 : 0));
  const t0 = performance.now();
  const writer = ctx.openPartWriter(stagedFile);
  let written;
  try {
    await writer.write(rows);
    written = await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  }
  metrics.write_ms = performance.now() - t0;
  const ok = rows.filter((r) => r.status === 'ok').length;
  const errorReasons: Record<string, number> = {};
  const labels: Record<string, number> = {};
  for (const r of rows) {
    if (r.error) errorReasons[r.error] = (errorReasons[r.error] ?? 0) + 1;
    if (r.label) labels[r.label] = (labels[r.label] ?? 0) + 1;
  }
  return {
    run_id: manifest.run_id,
    partition: manifest.partition,
    attempt,
    staged_path: written.path,
    rows: rows.length,
    ok,
    error: rows.length - ok,
    bytes: written.bytes,
    error_reasons: errorReasons,
    labels,
    metrics,
  };
}

/**
 * The result row of one scored image: an `error` row with the outcome's reason, or an `ok` row with
 * top-k (classifier) or the embedding. Shared with `imgpipe pipe`, so both write the same rows.
 */
export function scoredRow(ref: Ref, o: ScoreOutcome, model: LoadedModel, runId: string, minScore?: number): ResultRow {
  if (!o.ok) return { ...baseRow(ref, runId), status: 'error', error: o.reason, width: o.width, height: o.height };
  const row: ResultRow = { ...baseRow(ref, runId), status: 'ok', error: null, width: o.width, height: o.height };
  if (model.card.task === 'classifier') {
    const scores = activate(o.output, model.card.output.activation);
    const top = topK(scores, model.labels!, model.card.output.top_k);
    row.label = top[0]!.label;
    row.score = top[0]!.score;
    row.top_k = top;
  } else if (model.card.task === 'embedding') {
    row.embedding = normalizeEmbedding(o.output, model.card.output.normalize);
  } else {
    // Anchors' scores and boxes → boxes in original pixels (cheap: only rows above the threshold are decoded).
    Object.assign(row, detectionColumns(model, o.output, o.width, o.height, minScore));
  }
  return row;
}

/** The row of `ref` before scoring: identity columns set, results null, status `ok`. */
export function baseRow(ref: Ref, runId: string): ResultRow {
  return {
    image_name: ref.image_name,
    page_id: ref.page_id === null ? null : BigInt(ref.page_id),
    sha1: ref.sha1,
    status: 'ok',
    error: null,
    label: null,
    score: null,
    top_k: null,
    embedding: null,
    width: null,
    height: null,
    run_id: runId,
    processed_at: Date.now(),
  };
}
