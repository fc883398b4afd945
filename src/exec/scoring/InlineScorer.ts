/**
 * A Scorer that calls a Decoder and a Model in the calling thread: `runPartition` in-process with
 * fakes (tests), or with a real pair where threads are not wanted.
 */
import type { Decoder } from '../../decode/Decoder.js';
import type { Model } from '../../model/Model.js';
import { decodeItems, inferDecoded, type ScoreItem, type ScoreOutcome } from './scoreImages.js';
import type { ScoreRequest, ScoreTimings, Scorer, Topology } from './Scorer.js';

export class InlineScorer implements Scorer {
  readonly topology: Topology;
  readonly chunkSize: number;
  readonly concurrency = 1;

  constructor(
    private readonly decoder: Decoder,
    private readonly model: Model,
    /** @defaultValue 1 */
    private readonly batchSize = 1,
  ) {
    this.topology = { kind: 'inline', batchSize, provider: model.provider };
    this.chunkSize = Math.max(batchSize, 4);
  }

  async score(items: ScoreItem[], request: ScoreRequest, timings?: ScoreTimings): Promise<ScoreOutcome[]> {
    const t0 = performance.now();
    const decoded = await decodeItems(this.decoder, items, request);
    const t1 = performance.now();
    const outcomes = await inferDecoded(this.model, decoded, this.batchSize);
    if (timings) {
      timings.decodeMs += t1 - t0;
      timings.inferMs += performance.now() - t1;
    }
    return outcomes;
  }

  async close(): Promise<void> {
    // the decoder and model belong to the caller
  }
}
