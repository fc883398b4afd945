/**
 * Piscina worker entry of DecodePool: one decode task per call, through the decoder the executors
 * run (ImageDecoder). Never throws for a bad image: failures come back as `{ ok: false, reason,
 * detail }`. The tensor's buffer is transferred back, not copied.
 */
import sharp from 'sharp';
import { Piscina } from 'piscina';
import { ImageDecoder } from './ImageDecoder.js';
import type { DecodeTask } from './DecodePool.js';

// Parallelism comes from the pool's threads; one libvips thread per decode avoids oversubscribing.
sharp.concurrency(1);
sharp.cache(false);
const decoder = new ImageDecoder();

export default async function decode(task: DecodeTask): Promise<unknown> {
  const outcome = await decoder.decode(new Uint8Array(task.bytes), task.input, task.maxPixels);
  if (!outcome.ok) return outcome;
  const buffer = outcome.tensor.buffer as ArrayBuffer;
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
