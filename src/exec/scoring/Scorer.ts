/**
 * Where a partition's images are decoded and inferred — the topology — behind one call:
 * `score(items)` → one outcome per item, in order. `runPartition` keeps `concurrency` calls of
 * `chunkSize` items in flight and never sees threads.
 *
 *   lanes   (CPU)  N worker threads, each decoding *and* running its own session with few intra-op
 *                  threads, batch 1 by default: both stages share the cores without handing tensors
 *                  between threads, and no core waits on another stage (L = 1/(1/D + 1/I)).
 *   pooled  (GPU)  decode threads feed one inference thread holding the CUDA session, large batches:
 *                  the stages overlap and the slower one sets the pace (L = min(D, I)).
 *   inline  (tests) a Decoder and a Model called in this thread (fakes, or a real pair).
 *
 * `score` rejects only when a thread or the model is broken beyond one image; then the partition
 * attempt fails and is retried. `close` releases the threads; calling it twice is harmless.
 */
import type { ModelInput } from '../../model/ModelCard.js';
import type { ScoreItem, ScoreOutcome } from './scoreImages.js';

export type Topology =
  | { kind: 'lanes'; lanes: number; intraOpThreads: number; batchSize: number; provider: 'cpu' | 'cuda' }
  | { kind: 'pooled'; decodeThreads: number; intraOpThreads: number; batchSize: number; provider: 'cpu' | 'cuda' }
  | { kind: 'inline'; batchSize: number; provider: 'cpu' | 'cuda' };

export interface ScoreRequest {
  input: ModelInput;
  maxPixels: number;
}

export interface ScoreTimings {
  /** Thread-time spent decoding and inferring, summed over threads (for stage metrics). */
  decodeMs: number;
  inferMs: number;
}

export interface Scorer {
  readonly topology: Topology;
  /** Items per `score` call that keep the threads efficient. */
  readonly chunkSize: number;
  /** `score` calls worth having in flight at once. */
  readonly concurrency: number;
  score(items: ScoreItem[], request: ScoreRequest, timings?: ScoreTimings): Promise<ScoreOutcome[]>;
  close(): Promise<void>;
}

/** One line for the run summary: "lanes: 2 × (decode + 1 inference thread), batch 1, cpu". */
export function describeTopology(t: Topology): string {
  switch (t.kind) {
    case 'lanes':
      return `lanes: ${t.lanes} × (decode + ${t.intraOpThreads} inference thread${t.intraOpThreads === 1 ? '' : 's'}), batch ${t.batchSize}, ${t.provider}`;
    case 'pooled':
      return `pooled: ${t.decodeThreads} decode thread${t.decodeThreads === 1 ? '' : 's'} → 1 session (${t.intraOpThreads === 0 ? 'default' : t.intraOpThreads} intra-op), batch ${t.batchSize}, ${t.provider}`;
    case 'inline':
      return `inline: decode + inference in the calling thread, batch ${t.batchSize}, ${t.provider}`;
  }
}
