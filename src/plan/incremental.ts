/**
 * Incremental runs: score only what changed since the model's previous snapshot, carry the rest.
 *
 * An image's previous row is carried forward into the new snapshot, unchanged and without
 * inference, when its (image_name, sha1) is still in the selection and its result was final: `ok`,
 * or an error that the same bytes would give again (decode errors). Rows whose error could be
 * transient (missing_bytes, inference_failed, partition_failed) are scored again. Files no longer
 * selected are dropped. The scored set is the anti-join and the carried set the semi-join of the
 * same predicate, so together they hold every selected image exactly once. Both are computed by the
 * engine (DuckDB), never in JavaScript memory.
 *
 * A result depends on more than the bytes, so a snapshot is a candidate only when its summary's
 * `result_key` matches on everything that changes a row: the ONNX sha256, the labels (sha256 of the
 * label list), the preprocessing (sha256 of the card's `input` section). `max_pixels` may differ: then
 * rows whose outcome depends on that setting are scored again (carryablePredicate). A snapshot without a `result_key` (made before it was recorded) never
 * carries. The previous snapshots are listed through the table's TableStore and TableLayout.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelCard } from '../model/ModelCard.js';
import type { ResultKey, RunSummaryFile } from '../sink/Committer.js';
import { openTableStore } from '../sink/openTableStore.js';
import { TableLayout } from '../sink/TableLayout.js';

/** SQL predicate over a previous result row (alias p): its result may be carried forward with an equal key. */
export const CARRYABLE = "(p.status = 'ok' OR p.error NOT IN ('missing_bytes', 'inference_failed', 'partition_failed'))";

export interface PreviousSnapshot {
  snapshot: string;
  /** The sealed folder of its files (the version the pointer showed when planning; immutable). */
  dir: string;
  rows: number;
  /** SQL predicate (alias p) of the rows that may be carried from it into this run. */
  carryable: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Canonical JSON (sorted keys), so a re-ordered card section hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

/**
 * The result key of a model card under `maxPixels`. Labels are read as the loader reads them
 * (inline, or the labels file relative to the card).
 */
export function resultKey(card: ModelCard, cardPath: string, maxPixels: number, minScore?: number): ResultKey {
  const output = card.output as { labels?: string[] | string };
  let labels: string[] | null = null;
  if (Array.isArray(output.labels)) labels = output.labels;
  else if (typeof output.labels === 'string') labels = readFileSync(path.resolve(path.dirname(cardPath), output.labels), 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
  return {
    model_sha256: card.sha256,
    labels_sha256: labels === null ? null : sha256(labels.join('\n')),
    input_sha256: sha256(canonical(card.input)),
    output_sha256: sha256(canonical(card.task === 'detector' && minScore !== undefined ? { ...card.output, min_score: minScore } : card.output)),
    max_pixels: maxPixels,
  };
}

/**
 * The predicate of carryable rows from a snapshot made under `previousMaxPixels`. The pixel limit is
 * checked from the header before decoding, so: raised, only `too_many_pixels` rows can change;
 * lowered, any row whose size is unknown or over the new limit can become `too_many_pixels` (rows
 * already over the old, higher limit stay as they are).
 */
export function carryablePredicate(previousMaxPixels: number, maxPixels: number): string {
  if (previousMaxPixels === maxPixels) return CARRYABLE;
  if (maxPixels > previousMaxPixels) return `(${CARRYABLE} AND p.error IS DISTINCT FROM 'too_many_pixels')`;
  return `(${CARRYABLE} AND (p.error = 'too_many_pixels' OR (p.width IS NOT NULL AND p.height IS NOT NULL AND p.width::BIGINT * p.height::BIGINT <= ${Math.trunc(maxPixels)})))`;
}

/**
 * The latest published snapshot (with `_SUCCESS`) of `model=<qualified>` strictly before `before`
 * whose summary's result key matches `key` (max_pixels aside); null when there is none.
 */
export async function findPreviousSnapshot(tableLocation: string, qualifiedModel: string, key: ResultKey, before: string): Promise<PreviousSnapshot | null> {
  const store = openTableStore(tableLocation);
  const layout = new TableLayout(tableLocation);
  const candidates = (await layout.snapshots(store, qualifiedModel)).filter((d) => d < before).reverse();
  for (const snapshot of candidates) {
    const { dir } = await layout.resolve(store, qualifiedModel, snapshot);
    if (dir === null || !(await store.exists(layout.successFile(dir)))) continue;
    const raw = await store.readFile(layout.summaryFile(dir));
    if (raw === null) continue;
    const summary = JSON.parse(raw.toString('utf8')) as RunSummaryFile;
    const k = summary.result_key;
    if (!k || k.model_sha256 !== key.model_sha256 || k.labels_sha256 !== key.labels_sha256 || k.input_sha256 !== key.input_sha256 || k.output_sha256 !== key.output_sha256) continue;
    return { snapshot, dir, rows: (summary.ok ?? 0) + (summary.error ?? 0), carryable: carryablePredicate(k.max_pixels, key.max_pixels) };
  }
  return null;
}
