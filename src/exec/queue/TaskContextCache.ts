/**
 * A queue worker's TaskContexts (Ray's init-once-per-worker), keyed by what a context is made of:
 * the model card and its sha256, the byte source and the batch size. Jobs of the same run, and of later runs with
 * the same model and source, reuse one scorer (its threads and sessions). At most `max`
 * contexts stay open; the least recently used idle one is closed to make room.
 *
 * The model card is found at the path the run names; on a node where that path does not exist, by
 * the model's name on this node's search path (`--models-dir`, `IMGPIPE_MODELS`, the project's
 * `models/`), accepted only if its sha256 is the run's.
 * If opening a context throws, nothing is cached and the job attempt fails (BullMQ retries it).
 */
import { existsSync } from 'node:fs';
import type { TopologyChoice } from '../scoring/openScorer.js';
import { loadModel } from '../../model/loadModelCard.js';
import type { Device } from '../../model/ModelSession.js';
import type { RunSpec } from '../../plan/manifest.js';
import { UsageError } from '../../util/errors.js';
import { openTaskContext, type OpenedTaskContext } from '../openTaskContext.js';
import type { TaskContext } from '../task.js';

export interface TaskContextCacheOptions {
  device: Device;
  /** Lanes (lanes topology) or decode threads (pooled) per context. @defaultValue the machine's cores */
  threads?: number;
  /** @defaultValue 'auto' */
  topology?: TopologyChoice;
  inferenceThreads?: number;
  modelsDirs: string[];
  /** Open contexts kept. @defaultValue 2 */
  max?: number;
}

interface Entry {
  opened: Promise<OpenedTaskContext>;
  users: number;
  lastUsed: number;
}

export class TaskContextCache {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly options: TaskContextCacheOptions) {}

  /** Run `body` with the context for `run`, opening it if needed. */
  async use<T>(run: RunSpec, body: (ctx: TaskContext) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('TaskContextCache is closed');
    // The batch size is part of the scorer (its threads batch), so it is part of the key.
    const key = JSON.stringify([run.model.card, run.model.sha256, run.bytes, run.options.batch_size]);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { opened: this.open(run), users: 0, lastUsed: Date.now() };
      this.entries.set(key, entry);
      entry.opened.catch(() => this.entries.delete(key));
    }
    entry.users++;
    try {
      const opened = await entry.opened;
      await this.evict();
      return await body({ ...opened.ctx, maxPixels: run.options.max_pixels, minScore: run.options.min_score });
    } finally {
      entry.users--;
      entry.lastUsed = Date.now();
    }
  }

  /** Close every context. Never throws; calling it twice is harmless. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.opened.then((o) => o.close()).catch(() => undefined)));
  }

  private async open(run: RunSpec): Promise<OpenedTaskContext> {
    let spec = run;
    if (!existsSync(run.model.card)) {
      const model = await loadModel(run.model.name, this.options.modelsDirs).catch((e: Error) => {
        throw new UsageError(`Model card ${run.model.card} of run ${run.run_id} does not exist on this node, and looking ${run.model.name} up by name failed: ${e.message}`);
      });
      spec = { ...run, model: { ...run.model, card: model.cardPath } };
    }
    const { device, threads, topology, inferenceThreads } = this.options;
    return openTaskContext(spec, { device, threads, topology, inferenceThreads, batchSize: run.options.batch_size });
  }

  private async evict(): Promise<void> {
    const max = this.options.max ?? 2;
    while (this.entries.size > max) {
      const idle = [...this.entries.entries()].filter(([, e]) => e.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
      if (idle.length === 0) return;
      const [key, entry] = idle[0]!;
      this.entries.delete(key);
      await entry.opened.then((o) => o.close()).catch(() => undefined);
    }
  }
}
