/**
 * Piscina worker entry: one decode task per call. Never throws for a bad image: failures come back
 * as `{ ok: false, reason, detail }` so a broken file can never take the worker down. The tensor's
 * buffer is transferred back, not copied.
 */
import sharp from 'sharp';
import { Piscina } from 'piscina';
import { ImageError } from '../util/errors.js';
import { preprocess } from './preprocess.js';
import type { DecodeTask, DecodeOutcome } from './DecodePool.js';

// Parallelism comes from the pool's threads; one libvips thread per decode avoids oversubscribing.
sharp.concurrency(1);
sharp.cache(false);

/** Wraps an outcome so piscina transfers the tensor's buffer instead of cloning it. */
function transferring(outcome: DecodeOutcome, buffer: ArrayBuffer): unknown {
  const movable = {
    get [Piscina.transferableSymbol]() {
      return [buffer];
    },
    get [Piscina.valueSymbol]() {
      return outcome;
    },
  };
  return Piscina.move(movable as unknown as ArrayBuffer);
}

export default async function decode(task: DecodeTask): Promise<unknown> {
  try {
    const decoded = await preprocess(new Uint8Array(task.bytes), task.input, task.maxPixels);
    const outcome: DecodeOutcome = { ok: true, tensor: decoded.tensor, width: decoded.width, height: decoded.height };
    return transferring(outcome, decoded.tensor.buffer as ArrayBuffer);
  } catch (e) {
    if (e instanceof ImageError) return { ok: false, reason: e.reason, detail: e.message };
    return { ok: false, reason: 'decode_failed', detail: (e as Error)?.message ?? String(e) };
  }
}
