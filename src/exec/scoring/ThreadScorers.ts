/**
 * The two threaded topologies (see Scorer.ts): `LaneScorer` for CPUs, `PooledScorer` for GPUs.
 * Both are built by `openScorer` (topology chosen by device) and live for the process (one per
 * model and byte source: TaskContext).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { DecodeOutcome } from '../../decode/Decoder.js';
import type { Device } from '../../model/ModelSession.js';
import type { ScoreItem, ScoreOutcome } from './scoreImages.js';
import type { ScoreRequest, ScoreTimings, Scorer, Topology } from './Scorer.js';
import { toWireItem, type ModelInfo, type ScoringTask, type ScoringThreadSetup, type WireOutcomes } from './wire.js';

const THREAD_FILE = fileURLToPath(new URL('./scoringThread.js', import.meta.url));

function scoringPool(threads: number, setup: ScoringThreadSetup): Piscina {
  // Callers bound what they keep in flight (runPartition: `concurrency` calls), so the pool's own
  // queue is not limited; threads stay for the process.
  return new Piscina({ filename: THREAD_FILE, minThreads: threads, maxThreads: threads, idleTimeout: 2 ** 31 - 1, workerData: setup });
}

function wireTask(items: ScoreItem[]): { wire: ReturnType<typeof toWireItem>[]; transferList: ArrayBuffer[] } {
  const wire = items.map((i) => toWireItem(i.bytes, i.sha1));
  // Two items may share one buffer only if the caller passed the same bytes twice: transfer each once.
  return { wire, transferList: [...new Set(wire.map((w) => w.bytes))] };
}

export interface LaneScorerOptions {
  model: { card: string; sha256: string };
  device: Device;
  lanes: number;
  intraOpThreads: number;
  batchSize: number;
}

export class LaneScorer implements Scorer {
  readonly chunkSize: number;
  readonly concurrency: number;
  private closed = false;

  private constructor(
    private readonly pool: Piscina,
    readonly topology: Extract<Topology, { kind: 'lanes' }>,
  ) {
    // Small calls keep every lane busy to the end of a partition; two per lane hide the hand-off.
    this.chunkSize = Math.max(topology.batchSize, 4);
    this.concurrency = topology.lanes * 2;
  }

  /** @throws the model's load error (bad ONNX, graph that does not fit the card) from the first lane. */
  static async open(options: LaneScorerOptions): Promise<LaneScorer> {
    const pool = scoringPool(options.lanes, { model: options.model, device: options.device, intraOpThreads: options.intraOpThreads });
    try {
      const info = (await pool.run({ kind: 'info' } satisfies ScoringTask)) as ModelInfo;
      return new LaneScorer(pool, { kind: 'lanes', lanes: options.lanes, intraOpThreads: options.intraOpThreads, batchSize: options.batchSize, provider: info.provider });
    } catch (e) {
      await pool.destroy();
      throw e;
    }
  }

  async score(items: ScoreItem[], request: ScoreRequest, timings?: ScoreTimings): Promise<ScoreOutcome[]> {
    const { wire, transferList } = wireTask(items);
    const task: ScoringTask = { kind: 'score', items: wire, input: request.input, maxPixels: request.maxPixels, batchSize: this.topology.batchSize };
    const result = (await this.pool.run(task, { transferList })) as WireOutcomes;
    if (timings) {
      timings.decodeMs += result.decodeMs;
      timings.inferMs += result.inferMs;
    }
    return result.outcomes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

export interface PooledScorerOptions {
  model: { card: string; sha256: string };
  device: Device;
  decodeThreads: number;
  /** onnxruntime intra-op threads of the one session (0: onnxruntime's choice). */
  intraOpThreads: number;
  batchSize: number;
}

export class PooledScorer implements Scorer {
  readonly chunkSize: number;
  readonly concurrency = 3; // decode the next batches while one is inferred
  private closed = false;

  private constructor(
    private readonly decodePool: Piscina,
    private readonly inferPool: Piscina,
    readonly topology: Extract<Topology, { kind: 'pooled' }>,
  ) {
    this.chunkSize = topology.batchSize;
  }

  static async open(options: PooledScorerOptions): Promise<PooledScorer> {
    const inferPool = scoringPool(1, { model: options.model, device: options.device, intraOpThreads: options.intraOpThreads });
    let info: ModelInfo;
    try {
      info = (await inferPool.run({ kind: 'info' } satisfies ScoringTask)) as ModelInfo;
    } catch (e) {
      await inferPool.destroy();
      throw e;
    }
    const decodePool = scoringPool(options.decodeThreads, { model: null, device: 'cpu', intraOpThreads: 1 });
    return new PooledScorer(decodePool, inferPool, { kind: 'pooled', decodeThreads: options.decodeThreads, intraOpThreads: options.intraOpThreads, batchSize: options.batchSize, provider: info.provider });
  }

  async score(items: ScoreItem[], request: ScoreRequest, timings?: ScoreTimings): Promise<ScoreOutcome[]> {
    // Spread the decodes over the decode threads in small tasks, then one inference task.
    const per = Math.max(1, Math.ceil(items.length / this.topology.decodeThreads));
    const t0 = performance.now();
    const parts: Promise<DecodeOutcome[]>[] = [];
    for (let start = 0; start < items.length; start += per) {
      const { wire, transferList } = wireTask(items.slice(start, start + per));
      const task: ScoringTask = { kind: 'decode', items: wire, input: request.input, maxPixels: request.maxPixels };
      parts.push(this.decodePool.run(task, { transferList }) as Promise<DecodeOutcome[]>);
    }
    const decoded = (await Promise.all(parts)).flat();
    const t1 = performance.now();
    const transferList = decoded.flatMap((d) => (d.ok ? [d.tensor.buffer as ArrayBuffer] : []));
    const result = (await this.inferPool.run({ kind: 'infer', decoded, batchSize: this.topology.batchSize } satisfies ScoringTask, { transferList })) as WireOutcomes;
    if (timings) {
      timings.decodeMs += t1 - t0;
      timings.inferMs += result.inferMs;
    }
    return result.outcomes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.decodePool.destroy(), this.inferPool.destroy()]);
  }
}

export const machineCores = () => os.availableParallelism();
