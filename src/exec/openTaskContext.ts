/**
 * Builds what `runPartition` needs, once per process (Ray's init_fn): the model card (sha256
 * checked), the scorer — decode + inference threads on the topology chosen for the device
 * (src/exec/scoring/openScorer.ts) — the run's byte source and the part writer factory.
 * Used by the local executor in the driver and by queue workers on other nodes alike.
 * `close()` releases everything; calling it twice is harmless.
 */
import { openByteSource } from '../bytes/openByteSource.js';
import { loadModel } from '../model/loadModelCard.js';
import type { RunSpec } from '../plan/manifest.js';
import { openTableStore } from '../sink/openTableStore.js';
import { createParquetPartWriter } from '../sink/parquetPartWriter.js';
import { withRemoteUpload } from '../sink/UploadingPartWriter.js';
import { UsageError } from '../util/errors.js';
import { openScorer, type ScorerOptions } from './scoring/openScorer.js';
import type { TaskContext } from './task.js';

/** How to open the scorer (ScorerOptions: device, topology, threads, batch), plus: */
export interface TaskContextOptions extends ScorerOptions {
  onImages?: (n: number) => void;
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
  const scorer = await openScorer(model, options);
  let bytes;
  try {
    bytes = await openByteSource(run.bytes);
  } catch (e) {
    await scorer.close();
    throw e;
  }
  let closed = false;
  return {
    ctx: {
      bytes,
      scorer,
      model,
      // A part for a webhdfs:// table is written locally, then uploaded (UploadingPartWriter).
      openPartWriter: withRemoteUpload((file) => createParquetPartWriter(file), openTableStore(run.table_location, { hdfsUser: run.hdfs?.user })),
      maxPixels: run.options.max_pixels,
      minScore: run.options.min_score,
      // One Hive query per chunk: fewer, larger ones (a Hive query costs seconds on the cluster).
      ...(run.bytes.kind === 'hive' ? { fetchChunk: run.bytes.batch_size } : {}),
      onImages: options.onImages,
    },
    async close() {
      if (closed) return;
      closed = true;
      bytes.close();
      await scorer.close();
    },
  };
}

