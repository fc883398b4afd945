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
 * Only a snapshot of the same model name, version and ONNX sha256 is a candidate: a different model
 * version never carries rows forward.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** SQL predicate over a previous result row (alias p): its result may be carried forward. */
export const CARRYABLE = "(p.status = 'ok' OR p.error NOT IN ('missing_bytes', 'inference_failed', 'partition_failed'))";

export interface PreviousSnapshot {
  snapshot: string;
  dir: string;
  rows: number;
}

/**
 * The latest committed snapshot (with `_SUCCESS`) of `model=<qualified>` strictly before `before`,
 * whose summary records the same model sha256; null when there is none.
 */
export function findPreviousSnapshot(tableLocation: string, qualifiedModel: string, sha256: string, before: string): PreviousSnapshot | null {
  const modelDir = path.join(tableLocation, `model=${qualifiedModel}`);
  if (!existsSync(modelDir)) return null;
  const candidates = readdirSync(modelDir)
    .map((d) => /^snapshot=(\d{4}-\d{2}-\d{2})$/.exec(d)?.[1])
    .filter((d): d is string => d !== undefined && d < before)
    .sort()
    .reverse();
  for (const snapshot of candidates) {
    const dir = path.join(modelDir, `snapshot=${snapshot}`);
    const summaryFile = path.join(dir, '_summary.json');
    if (!existsSync(path.join(dir, '_SUCCESS')) || !existsSync(summaryFile)) continue;
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { model_sha256?: string; ok?: number; error?: number };
    if (summary.model_sha256 !== sha256) continue;
    return { snapshot, dir, rows: (summary.ok ?? 0) + (summary.error ?? 0) };
  }
  return null;
}
