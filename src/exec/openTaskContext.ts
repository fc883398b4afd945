/**
 * Builds what `runPartition` needs, once per process (Ray's init_fn): the model card (sha256 checked)
 * and one InferenceSession, a decode pool, the run's byte source and the part writer factory.
 * Used by the local executor in the driver and by queue workers on other nodes alike.
 * `close()` releases everything; calling it twice is harmless.
 */
import { openByteSource } from '../bytes/openByteSource.js';
import { DecodePool } from '../decode/DecodePool.js';
import { loadModel } from '../model/loadModelCard.js';
import { ModelSession, type Device } from '../model/ModelSession.js';
import type { RunSpec } from '../plan/manifest.js';
import { openTableStore } from '../sink/openTableStore.js';
import { createParquetPartWriter } from '../sink/parquetPartWriter.js';
import { withRemoteUpload } from '../sink/UploadingPartWriter.js';
import { UsageError } from '../util/errors.js';
import type { TaskContext } from './task.js';

export interface TaskContextOptions {
  device: Device;
  /** Decode threads; @defaultValue the machine's cores. */
  threads?: number;
  /** onnxruntime intra-op threads; @defaultValue onnxruntime's choice (the cores). */
  inferenceThreads?: number;
  batchSize: number;
  onImages?: (n: number) => void;
  /** Where warnings go (CUDA asked for but missing); @defaultValue stderr. */
  warn?: (message: string) => void;
}

export interface OpenedTaskContext {
  ctx: TaskContext;
  close(): Promise<void>;
}

export async function openTaskContext(run: RunSpec, options: TaskContextOptions): Promise<OpenedTaskContext> {
  const model = await loadModel(run.model.card);
  if (model.card.sha256 !== run.model.sha256) {
    throw new UsageError(`Run ${run.run_id} was planned with ${run.model.qualified} sha256 ${run.model.sha256}, but its card now says ${model.card.sha256}; start a new run.`);
  }
  const session = await ModelSession.create(model, { device: options.device, intraOpThreads: options.inferenceThreads, warn: options.warn ?? ((m) => process.stderr.write(`imgpipe: warning: ${m}\n`)) });
  const decoder = DecodePool.create({ threads: options.threads });
  let bytes;
  try {
    bytes = await openByteSource(run.bytes);
  } catch (e) {
    await decoder.close();
    await session.close();
    throw e;
  }
  let closed = false;
  return {
    ctx: {
      bytes,
      decoder,
      session,
      // A part for a webhdfs:// table is written locally, then uploaded (UploadingPartWriter).
      openPartWriter: withRemoteUpload((file) => createParquetPartWriter(file), openTableStore(run.table_location, { hdfsUser: run.hdfs?.user })),
      batchSize: options.batchSize,
      maxPixels: run.options.max_pixels,
      // One Hive query per chunk: fewer, larger ones (a Hive query costs seconds on the cluster).
      ...(run.bytes.kind === 'hive' ? { fetchChunk: run.bytes.batch_size } : {}),
      onImages: options.onImages,
    },
    async close() {
      if (closed) return;
      closed = true;
      bytes.close();
      await decoder.close();
      await session.close();
    },
  };
}
