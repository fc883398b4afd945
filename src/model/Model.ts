/**
 * The inference stage as `runPartition` and the lanes see it: a model built once per thread (Ray's
 * init_fn) that runs batches of ready tensors. `ModelSession` (onnxruntime-node) is the one real
 * implementation; tests pass fakes.
 *
 * Threading: onnxruntime-node 1.30 runs `session.run` synchronously on the calling JavaScript
 * thread, whatever the promise suggests. So a Model lives in a worker thread (a lane, or the
 * inference thread of the pooled topology), never on the thread that renews queue locks and draws
 * progress; and two Models on one thread never overlap.
 */
import type { LoadedModel } from './loadModelCard.js';

export interface Model {
  readonly model: LoadedModel;
  /** The execution provider that runs it. */
  readonly provider: 'cpu' | 'cuda';
  /** Fixed batch size of the graph, or null when the batch dimension is symbolic. */
  readonly fixedBatch: number | null;
  /** Values per image in the input tensor (C × H × W). */
  readonly valuesPerImage: number;
  /**
   * Width of the output per image: the one output's width (classifier, embedding), or for a
   * detector the sum over its `scores` and `boxes` outputs of rows × values per row.
   */
  readonly outputWidth: number;
  /**
   * Run one batch: `input` holds `count` images back to back in the card's layout and dtype.
   * Returns `count × outputWidth` values. A detector's several outputs come packed per image: its
   * score outputs' rows in card order, then its box outputs' rows (what `DetectionDecoder` reads);
   * `ModelSession.runOutputs` gives them by name instead.
   * @throws the runtime's error (the caller isolates images).
   */
  run(input: Float32Array | Uint8Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}
