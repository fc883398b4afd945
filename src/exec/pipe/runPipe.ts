/**
 * The unit of work without a driver: windows of input rows in → one result row per input row out,
 * in input order. Spark (or any scheduler) owns partitioning, retries, speculation and the commit;
 * this only scores what it is handed.
 *
 * Per window, in bounded memory:
 *   rows without bytes → the byte source (one fetch per window) → the scorer (decode + inference on
 *   its threads, `concurrency` calls of `chunkSize` images in flight, shared by all windows) → rows
 *   (`scoredRow`, the same function `runPartition` uses) → the sink.
 * At most two windows are being scored while the next is read, and a window is written as soon as
 * it and every window before it are done; nothing else is kept.
 *
 * A bad image is an `error` row (decode_failed, truncated, … as in `run`); a row whose bytes are
 * neither given nor found is `missing_bytes`. If this throws (byte source down, a scoring thread
 * died, malformed input, stdout closed), the process fails and the scheduler retries the task; the
 * output written so far is a truncated stream the scheduler discards.
 */
import pLimit from 'p-limit';
import type { ByteSource } from '../../bytes/ByteSource.js';
import type { LoadedModel } from '../../model/loadModelCard.js';
import type { ResultRow } from '../../sink/resultRow.js';
import type { Scorer } from '../scoring/Scorer.js';
import { baseRow, scoredRow } from '../task.js';
import type { PipeRow } from './PipeRow.js';
import type { PipeSink } from './PipeSink.js';

export interface PipeDeps {
  scorer: Scorer;
  model: LoadedModel;
  /** Where rows without bytes get theirs; null: such rows are `missing_bytes`. */
  bytes: ByteSource | null;
}

export interface PipeOptions {
  /** The run_id column of every row (one per Spark job, shared by all its tasks). */
  runId: string;
  maxPixels: number;
  /**
   * Check inline bytes against the row's sha1 (`bytes_changed` when they differ). Fetched bytes are
   * checked when the source serves the catalog's bytes, as in `run`. @defaultValue false
   */
  checkInlineSha1?: boolean;
  /** Called after each window is written, with its row count. */
  onRows?: (rows: readonly ResultRow[]) => void;
}

export interface PipeStats {
  rows: number;
  ok: number;
  error: number;
  windows: number;
}

export async function runPipe(input: AsyncIterable<PipeRow[]>, sink: PipeSink, deps: PipeDeps, options: PipeOptions): Promise<PipeStats> {
  const stats: PipeStats = { rows: 0, ok: 0, error: 0, windows: 0 };
  const limit = pLimit(deps.scorer.concurrency);
  const pending: Promise<ResultRow[]>[] = [];
  const flushOldest = async () => {
    const rows = await pending.shift()!;
    await sink.write(rows);
    stats.windows++;
    stats.rows += rows.length;
    for (const r of rows) r.status === 'ok' ? stats.ok++ : stats.error++;
    options.onRows?.(rows);
  };
  try {
    for await (const window of input) {
      const scored = scoreWindow(window, deps, options, limit);
      scored.catch(() => {}); // awaited (and rethrown) in order by flushOldest
      pending.push(scored);
      if (pending.length >= 2) await flushOldest();
    }
    while (pending.length > 0) await flushOldest();
  } finally {
    // On failure, let the windows in flight settle before the caller closes the scorer.
    await Promise.allSettled(pending);
  }
  await sink.end();
  return stats;
}

type Limit = ReturnType<typeof pLimit>;

async function scoreWindow(window: PipeRow[], deps: PipeDeps, options: PipeOptions, limit: Limit): Promise<ResultRow[]> {
  const { scorer, model, bytes: source } = deps;
  const out: ResultRow[] = new Array(window.length);
  const toFetch = [...new Set(window.filter((r) => r.bytes === null).map((r) => r.image_name))];
  const fetched = source && toFetch.length > 0 ? await source.fetch(toFetch) : new Map<string, Uint8Array>();
  const checkFetched = source?.servesCatalogBytes === true;

  const items: { index: number; bytes: Uint8Array; sha1: string | null }[] = [];
  const handedOut = new Set<Uint8Array>();
  window.forEach((row, index) => {
    const inline = row.bytes;
    let found = inline ?? fetched.get(row.image_name) ?? null;
    if (found === null) {
      out[index] = { ...baseRow(row, options.runId), status: 'error', error: 'missing_bytes' };
      return;
    }
    // The same name twice in one window: each row gets its own copy (buffers are transferred).
    if (handedOut.has(found)) found = new Uint8Array(found);
    handedOut.add(found);
    const check = inline !== null ? options.checkInlineSha1 === true : checkFetched;
    items.push({ index, bytes: found, sha1: check ? row.sha1 : null });
  });

  const request = { input: model.card.input, maxPixels: options.maxPixels };
  const calls: Promise<void>[] = [];
  for (let i = 0; i < items.length; i += scorer.chunkSize) {
    const chunk = items.slice(i, i + scorer.chunkSize);
    calls.push(
      limit(async () => {
        const outcomes = await scorer.score(chunk.map((c) => ({ bytes: c.bytes, sha1: c.sha1 })), request);
        chunk.forEach((c, j) => (out[c.index] = scoredRow(window[c.index]!, outcomes[j]!, model, options.runId)));
      }),
    );
  }
  await Promise.all(calls);
  return out;
}
