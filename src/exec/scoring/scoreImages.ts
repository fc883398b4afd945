/**
 * The per-image work of a partition, in one thread: check each image's bytes against the plan's
 * sha1 (when the byte source serves the bytes that sha1 describes), decode, batch, infer, and check
 * the outputs. A lane runs it on its own decoder and model; tests run it in-process with fakes.
 *
 * Every item yields exactly one outcome, in order. A bad image is an error outcome and never fails
 * the call: `bytes_changed`, the decoder's reasons, or `inference_failed` (the model rejected the
 * image alone, or returned non-finite values for it). It rejects only when the decoder or the model
 * is broken beyond one image (then the partition attempt fails and is retried).
 */
import { createHash } from 'node:crypto';
import type { DecodeOutcome, Decoder } from '../../decode/Decoder.js';
import type { ModelInput } from '../../model/ModelCard.js';
import type { Model } from '../../model/Model.js';
import type { ErrorReason } from '../../util/errors.js';

export interface ScoreItem {
  bytes: Uint8Array;
  /** Hex sha1 the bytes must have, or null when the byte source serves other bytes (thumbnails). */
  sha1: string | null;
}

export type ScoreOutcome =
  | { ok: true; output: Float32Array; width: number; height: number }
  | { ok: false; reason: ErrorReason; detail: string; width: number | null; height: number | null };

export interface ScoreOptions {
  input: ModelInput;
  maxPixels: number;
  /** Images per inference call. @defaultValue 1 */
  batchSize: number;
}

/** Decode every item, then run the decoded ones through the model in batches. */
export async function scoreImages(decoder: Decoder, model: Model, items: readonly ScoreItem[], options: ScoreOptions): Promise<ScoreOutcome[]> {
  const decoded = await decodeItems(decoder, items, options);
  return inferDecoded(model, decoded, options.batchSize);
}

/** The decode half (the pooled topology runs it on decode threads, the model elsewhere). */
export async function decodeItems(decoder: Decoder, items: readonly ScoreItem[], options: Pick<ScoreOptions, 'input' | 'maxPixels'>): Promise<DecodeOutcome[]> {
  const out: DecodeOutcome[] = [];
  for (const item of items) {
    if (item.sha1 !== null && !sha1Matches(item.bytes, item.sha1)) {
      out.push({ ok: false, reason: 'bytes_changed', detail: `the bytes' sha1 is ${hexSha1(item.bytes)}, the plan says ${item.sha1}` });
      continue;
    }
    out.push(await decoder.decode(item.bytes, options.input, options.maxPixels));
  }
  return out;
}

/** The inference half: ok decodes in batches of `batchSize`, one outcome per decode outcome. */
export async function inferDecoded(model: Model, decoded: readonly DecodeOutcome[], batchSize: number): Promise<ScoreOutcome[]> {
  const outcomes: ScoreOutcome[] = decoded.map((d) =>
    d.ok ? { ok: false, reason: 'inference_failed', detail: 'not run', width: d.width, height: d.height } : { ok: false, reason: d.reason, detail: d.detail, width: null, height: null },
  );
  const ready: number[] = [];
  for (let i = 0; i < decoded.length; i++) if (decoded[i]!.ok) ready.push(i);
  const step = Math.max(1, batchSize);
  for (let start = 0; start < ready.length; start += step) {
    const indices = ready.slice(start, start + step);
    const tensors = indices.map((i) => (decoded[i] as Extract<DecodeOutcome, { ok: true }>).tensor);
    const outputs = await inferWithIsolation(model, tensors);
    indices.forEach((i, k) => {
      const d = decoded[i] as Extract<DecodeOutcome, { ok: true }>;
      const out = outputs[k]!;
      outcomes[i] = out instanceof Float32Array ? { ok: true, output: out, width: d.width, height: d.height } : { ok: false, reason: 'inference_failed', detail: out, width: d.width, height: d.height };
    });
  }
  return outcomes;
}

/**
 * Run a batch; if the model rejects it, run its images one by one so a single bad tensor costs one
 * `inference_failed` outcome, not the batch. An output with NaN or ±Infinity is that image's failure.
 * Returns, per tensor, its output or the reason it has none.
 */
export async function inferWithIsolation(model: Model, tensors: readonly (Float32Array | Uint8Array)[]): Promise<(Float32Array | string)[]> {
  let outputs: Float32Array[];
  try {
    outputs = await inferBatch(model, tensors);
  } catch (e) {
    if (tensors.length === 1) return [`the model failed on this image: ${(e as Error)?.message ?? String(e)}`];
    const single: (Float32Array | string)[] = [];
    for (const t of tensors) single.push(...(await inferWithIsolation(model, [t])));
    return single;
  }
  return outputs.map((o) => (allFinite(o) ? o : 'the model returned NaN or infinite values for this image'));
}

/** Pack tensors into one input (padding to the graph's fixed batch size when it has one), split the output. */
export async function inferBatch(model: Model, tensors: readonly (Float32Array | Uint8Array)[]): Promise<Float32Array[]> {
  const per = model.valuesPerImage;
  const width = model.outputWidth;
  const groupSize = model.fixedBatch ?? tensors.length;
  const results: Float32Array[] = [];
  for (let start = 0; start < tensors.length; start += groupSize) {
    const group = tensors.slice(start, start + groupSize);
    const count = model.fixedBatch ?? group.length;
    for (const t of group) if (t.length !== per) throw new Error(`a tensor has ${t.length} values; the model takes ${per} per image`);
    // One image and no padding: hand its own buffer to the runtime, no copy.
    const input = group.length === count && count === 1 ? group[0]! : packTensors(group, count, per);
    const out = await model.run(input, count);
    for (let i = 0; i < group.length; i++) results.push(out.slice(i * width, (i + 1) * width));
  }
  return results;
}

function packTensors(group: readonly (Float32Array | Uint8Array)[], count: number, per: number): Float32Array | Uint8Array {
  const input = group[0] instanceof Float32Array ? new Float32Array(count * per) : new Uint8Array(count * per);
  group.forEach((t, i) => input.set(t, i * per));
  return input;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return false;
  return true;
}

const hexSha1 = (bytes: Uint8Array) => createHash('sha1').update(bytes).digest('hex');

/** The plan's sha1 is hex (the warehouse) or MediaWiki's base-36; either matches the bytes' digest. */
export function sha1Matches(bytes: Uint8Array, expected: string): boolean {
  const hex = hexSha1(bytes);
  const want = expected.trim().toLowerCase();
  if (want.length === 40) return want === hex;
  return want.replace(/^0+/, '') === BigInt(`0x${hex}`).toString(36);
}
