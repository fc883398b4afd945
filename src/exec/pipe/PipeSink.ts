/**
 * Where `imgpipe pipe` writes result rows: stdout, as an Arrow IPC stream in the contract schema
 * (`RESULT_ARROW_SCHEMA`, one record batch per window) or as JSON lines. Call sequence:
 * write(rows)* → end(). `write` resolves once the output has taken the bytes (it waits for 'drain'),
 * so a slow reader slows the pipe down instead of growing a buffer.
 *
 * Nothing but stdout is written, and there is no commit step: a killed process leaves a truncated
 * stream (an Arrow stream without its end marker, or a last line without its newline), which the
 * reader — Spark's task — fails and discards, as it discards any failed attempt's output.
 * If `write` throws (stdout closed), the caller stops: the process fails.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { RecordBatchStreamWriter } from 'apache-arrow';
import { RESULT_ARROW_SCHEMA } from '../../sink/resultArrowSchema.js';
import { ResultBatchBuilder } from '../../sink/ResultBatchBuilder.js';
import type { ResultRow } from '../../sink/resultRow.js';

export type PipeFormat = 'arrow' | 'jsonl';

export interface PipeSink {
  write(rows: readonly ResultRow[]): Promise<void>;
  /** Flush and close the stream (the Arrow end-of-stream marker); calling it twice is harmless. */
  end(): Promise<void>;
}

/** @throws when `out` was closed by its reader (EPIPE) or destroyed: the pipe must fail, not hang. */
async function writeOut(out: Writable, chunk: Uint8Array | string): Promise<void> {
  if (out.destroyed || out.writableEnded) throw new Error('stdout was closed before all rows were written');
  if (!out.write(chunk)) await once(out, 'drain'); // rejects on 'error'
  if (out.destroyed) throw new Error('stdout was closed before all rows were written');
}

export function openPipeSink(format: PipeFormat, out: Writable): PipeSink {
  return format === 'arrow' ? new ArrowPipeSink(out) : new JsonlPipeSink(out);
}

class ArrowPipeSink implements PipeSink {
  private readonly writer = new RecordBatchStreamWriter();
  private readonly pump: Promise<void>;
  /** Why the pump stopped (stdout closed): every later write throws it, not the writer's own error. */
  private failure: unknown = null;
  private ended = false;

  constructor(private readonly out: Writable) {
    // The writer queues IPC messages; the pump moves them to `out` as they come.
    this.pump = (async () => {
      for await (const chunk of this.writer as AsyncIterable<Uint8Array>) await writeOut(this.out, chunk);
    })();
    this.pump.catch((e: unknown) => (this.failure ??= e)); // surfaced by the next write, or end()
    // The schema goes out first, so a reader of an input with no rows still gets a valid, empty stream.
    this.writer.reset(undefined, RESULT_ARROW_SCHEMA);
  }

  async write(rows: readonly ResultRow[]): Promise<void> {
    if (rows.length === 0) return;
    if (this.failure !== null) throw this.failure;
    const builder = new ResultBatchBuilder(rows.length);
    for (const r of rows) builder.append(r);
    this.writer.write(builder.finish());
    // Let the pump hand the batch to `out`, then wait for `out` to take it.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failure !== null) throw this.failure;
    if (this.out.destroyed) throw new Error('stdout was closed before all rows were written');
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.writer.close(); // writes the end-of-stream marker
    await this.pump;
  }
}

class JsonlPipeSink implements PipeSink {
  constructor(private readonly out: Writable) {}

  async write(rows: readonly ResultRow[]): Promise<void> {
    if (rows.length === 0) return;
    await writeOut(this.out, rows.map((r) => JSON.stringify(jsonRow(r))).join('\n') + '\n');
  }

  async end(): Promise<void> {}
}

/**
 * A result row as a JSON object: the contract's columns in order; page_id a number (page ids are far
 * below 2^53), processed_at milliseconds since the epoch (UTC), embedding an array of numbers.
 */
export function jsonRow(r: ResultRow): Record<string, unknown> {
  return {
    image_name: r.image_name,
    page_id: r.page_id === null ? null : Number(r.page_id),
    sha1: r.sha1,
    status: r.status,
    error: r.error,
    label: r.label,
    score: r.score,
    top_k: r.top_k,
    embedding: r.embedding === null ? null : Array.from(r.embedding),
    width: r.width,
    height: r.height,
    run_id: r.run_id,
    processed_at: r.processed_at,
    detections: r.detections ?? null,
    keypoints: r.keypoints ? r.keypoints.map((k) => Array.from(k)) : null,
    count: r.count ?? null,
    max_area_ratio: r.max_area_ratio ?? null,
    sum_area_ratio: r.sum_area_ratio ?? null,
  };
}
