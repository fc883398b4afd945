/**
 * The unit of work: run one partition manifest, return its commit message. It does not know where it
 * runs (driver thread, a queue worker on another node): everything it needs arrives in TaskContext,
 * built once per process (Ray's init_fn), and the result is plain JSON.
 *
 * Pipeline per partition, every stage bounded:
 *   fetch bytes in chunks (≤ 2 chunks in flight) → decode in the pool (≤ 2 tasks per thread)
 *   → batches → inference (≤ 2 batches waiting) → rows, sorted by image_name → one part file.
 *
 * Each image yields exactly one row; a bad image is an `error` row and never fails the partition.
 * If this throws (byte source down, disk full, decode pool died), the part file is aborted (removed)
 * and the caller retries the partition with a new attempt id; nothing of this attempt is visible.
 */
import pLimit from 'p-limit';
import type { ByteSource } from '../bytes/ByteSource.js';
import type { DecodePool } from '../decode/DecodePool.js';
import type { ModelSession } from '../model/ModelSession.js';
import { activate, normalizeEmbedding, topK } from '../model/postprocess.js';
import { partitionFileName, type PartCommitMessage, type PartitionManifest } from '../plan/manifest.js';
import { joinLocation } from '../sink/location.js';
import type { PartWriter } from '../sink/PartWriter.js';
import type { ResultRow } from '../sink/resultRow.js';
import type { ErrorReason } from '../util/errors.js';

export interface TaskContext {
  bytes: ByteSource;
  decoder: DecodePool;
  session: ModelSession;
  openPartWriter: (file: string) => PartWriter;
  /** Images per inference batch. @defaultValue 16 */
  batchSize: number;
  /** Header check before decoding. */
  maxPixels: number;
  /** Names per byte-source request. @defaultValue 64 */
  fetchChunk?: number;
  /** Called as images finish (ok or error), for progress bars. */
  onImages?: (count: number) => void;
}

type Ref = PartitionManifest['images'][number];
interface Decoded {
  ref: Ref;
  tensor: Float32Array | Uint8Array;
  width: number;
  height: number;
}

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
  const runId = manifest.run_id;
  const rows: ResultRow[] = [];
  const { session } = ctx;
  const model = session.model;

  const errorRow = (ref: Ref, reason: ErrorReason, width: number | null = null, height: number | null = null): ResultRow => ({
    ...baseRow(ref, runId),
    status: 'error',
    error: reason,
    width,
    height,
  });
  const finish = (row: ResultRow) => {
    rows.push(row);
    ctx.onImages?.(1);
  };

  // Inference: batches run one after another, overlapped with decoding of the next ones.
  let batch: Decoded[] = [];
  let inferTail: Promise<void> = Promise.resolve();
  let batchesWaiting = 0;
  let inferError: unknown = null;
  const inferBatch = async (items: Decoded[]) => {
    const t0 = performance.now();
    try {
      const outputs = await inferWithIsolation(session, items);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const out = outputs[i];
        finish(out ? okRow(item, out) : errorRow(item.ref, 'inference_failed', item.width, item.height));
      }
    } catch (e) {
      inferError ??= e;
    } finally {
      metrics.infer_ms += performance.now() - t0;
      batchesWaiting--;
    }
  };
  const flushBatch = () => {
    if (batch.length === 0) return;
    const items = batch;
    batch = [];
    batchesWaiting++;
    inferTail = inferTail.then(() => inferBatch(items));
  };
  const okRow = (item: Decoded, out: Float32Array): ResultRow => {
    const row: ResultRow = { ...baseRow(item.ref, runId), status: 'ok', error: null, width: item.width, height: item.height };
    if (model.card.task === 'classifier') {
      const scores = activate(out, model.card.output.activation);
      const top = topK(scores, model.labels!, model.card.output.top_k);
      row.label = top[0]!.label;
      row.score = top[0]!.score;
      row.top_k = top;
    } else {
      row.embedding = normalizeEmbedding(out, model.card.output.normalize);
    }
    return row;
  };

  const decodeLimit = pLimit(ctx.decoder.threads * 2);
  const decodeOne = async (ref: Ref, bytes: Uint8Array) => {
    const t0 = performance.now();
    const outcome = await ctx.decoder.decode(bytes, model.card.input, ctx.maxPixels);
    metrics.decode_ms += performance.now() - t0;
    if (!outcome.ok) return finish(errorRow(ref, outcome.reason));
    // Back-pressure: do not let decoded tensors pile up behind a slower model.
    while (batchesWaiting >= 2) await inferTail;
    batch.push({ ref, tensor: outcome.tensor, width: outcome.width, height: outcome.height });
    if (batch.length >= ctx.batchSize) flushBatch();
  };

  const chunkSize = ctx.fetchChunk ?? 64;
  let previousChunk: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < manifest.images.length; start += chunkSize) {
    const chunk = manifest.images.slice(start, start + chunkSize);
    const t0 = performance.now();
    const found = await ctx.bytes.fetch(chunk.map((r) => r.image_name));
    metrics.fetch_ms += performance.now() - t0;
    const decodes: Promise<unknown>[] = [];
    for (const ref of chunk) {
      const bytes = found.get(ref.image_name);
      if (!bytes) finish(errorRow(ref, 'missing_bytes'));
      else decodes.push(decodeLimit(() => decodeOne(ref, bytes)));
    }
    // Keep at most two chunks of bytes in memory: wait for the previous chunk before fetching on.
    await previousChunk;
    previousChunk = Promise.all(decodes);
  }
  await previousChunk;
  flushBatch();
  await inferTail;
  if (inferError) throw inferError;
  if (rows.length !== manifest.images.length) {
    throw new Error(`partition ${manifest.partition}: ${rows.length} rows for ${manifest.images.length} images`);
  }

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

function baseRow(ref: Ref, runId: string): ResultRow {
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

/**
 * Run a batch; if onnxruntime rejects it, run its images one by one so a single bad tensor costs one
 * `inference_failed` row, not the batch. Returns one output (or null) per item.
 */
async function inferWithIsolation(session: ModelSession, items: Decoded[]): Promise<(Float32Array | null)[]> {
  try {
    return await inferBatch(session, items);
  } catch (e) {
    if (items.length === 1) return [null];
    const single: (Float32Array | null)[] = [];
    for (const item of items) single.push(...(await inferWithIsolation(session, [item])));
    return single;
  }
}

/** Pack tensors into one input (padding to a fixed batch size when the graph has one), split the output. */
async function inferBatch(session: ModelSession, items: Decoded[]): Promise<Float32Array[]> {
  const per = session.valuesPerImage;
  const width = session.outputWidth;
  const groupSize = session.fixedBatch ?? items.length;
  const results: Float32Array[] = [];
  for (let start = 0; start < items.length; start += groupSize) {
    const group = items.slice(start, start + groupSize);
    const count = session.fixedBatch ?? group.length;
    const first = group[0]!.tensor;
    const input = first instanceof Float32Array ? new Float32Array(count * per) : new Uint8Array(count * per);
    group.forEach((item, i) => input.set(item.tensor, i * per));
    const out = await session.run(input, count);
    for (let i = 0; i < group.length; i++) results.push(out.slice(i * width, (i + 1) * width));
  }
  return results;
}
