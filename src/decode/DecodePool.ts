/**
 * A pool of decode-only worker threads (piscina) running ImageDecoder, for measuring decode alone
 * (the benchmark's D). Runs themselves decode inside the scoring threads (src/exec/scoring).
 * `decode` never rejects for a bad image: it resolves to an outcome; it rejects only if the pool
 * itself is broken (a worker died).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ModelInput } from '../model/ModelCard.js';
import type { DecodeOutcome } from './Decoder.js';

export interface DecodeTask {
  bytes: ArrayBuffer;
  input: ModelInput;
  maxPixels: number;
}

export type { DecodeOutcome };

export interface DecodePoolOptions {
  /** Worker threads. @defaultValue os.availableParallelism() */
  threads?: number;
}

export class DecodePool {
  private constructor(private readonly pool: Piscina) {}

  static create(options: DecodePoolOptions = {}): DecodePool {
    const threads = options.threads ?? os.availableParallelism();
    const filename = fileURLToPath(new URL('./decodeWorker.js', import.meta.url));
    // Callers bound what they have in flight (runPartition keeps two tasks per thread), so the pool's
    // own queue is not limited here.
    return new DecodePool(new Piscina({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 }));
  }

  get threads(): number {
    return this.pool.options.maxThreads;
  }

  /** Decode one image's bytes; the bytes' buffer is transferred to the worker (do not reuse it). */
  async decode(bytes: Uint8Array, input: ModelInput, maxPixels: number): Promise<DecodeOutcome> {
    // Copy only when the bytes are a view into a larger buffer (transfer moves the whole buffer).
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
    const task: DecodeTask = { bytes: own, input, maxPixels };
    return (await this.pool.run(task, { transferList: [own] })) as DecodeOutcome;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
