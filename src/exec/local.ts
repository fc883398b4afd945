/**
 * The local executor: runs a planned run's pending partitions in this process (decode on the pool's
 * worker threads, inference on onnxruntime's), commits each finished attempt, and retries a failed
 * partition with a new attempt. It only decides placement; the work is `runPartition`.
 *
 * A partition that fails `maxAttempts` times becomes `partition_failed` error rows (nothing is
 * silently missing) and the run still commits. `stop()` lets in-flight partitions finish and
 * schedules no more (Ctrl-C); the run is then resumable.
 */
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { partitionFileName, type PartCommitMessage, type RunPlanDir, type RunSpec } from '../plan/manifest.js';
import type { Committer } from '../sink/Committer.js';
import { joinLocation } from '../sink/location.js';
import { openTableStore } from '../sink/openTableStore.js';
import type { TableStore } from '../sink/TableStore.js';
import { attemptDir, runPartition, writeFailedPartition, type TaskContext } from './task.js';

export interface LocalExecutorOptions {
  /** Attempts per partition before its images become partition_failed rows. @defaultValue 3 */
  maxAttempts?: number;
  /** Partitions in flight at once (keeps the pipeline full across partition ends). @defaultValue 2 */
  partitionConcurrency?: number;
  log?: Logger;
  /** Called after each partition is committed to the run's staging. */
  onPartitionDone?: (message: PartCommitMessage, fresh: boolean) => void;
}

export class LocalExecutor {
  private stopping = false;
  constructor(private readonly options: LocalExecutorOptions = {}) {}

  stop(): void {
    this.stopping = true;
  }
  get stopped(): boolean {
    return this.stopping;
  }

  /** Partitions already done (committed to staging by an earlier, interrupted driver). */
  static async doneMessages(run: RunSpec, plan: RunPlanDir, store: TableStore = openTableStore(run.table_location, { hdfsUser: run.hdfs?.user })): Promise<Map<number, PartCommitMessage>> {
    const done = new Map<number, PartCommitMessage>();
    for (let p = 0; p < run.partitions; p++) {
      const message = plan.readDone(p);
      if (message && (await store.exists(message.staged_path))) done.set(p, message);
    }
    return done;
  }

  /** Run every partition not yet done; returns all partitions' messages (or fewer if stopped). */
  async execute(run: RunSpec, plan: RunPlanDir, committer: Committer, ctx: TaskContext): Promise<Map<number, PartCommitMessage>> {
    const done = await LocalExecutor.doneMessages(run, plan, committer.store);
    for (const message of done.values()) this.options.onPartitionDone?.(message, false);
    const limit = pLimit(this.options.partitionConcurrency ?? 2);
    const pending: Promise<void>[] = [];
    for (let p = 0; p < run.partitions; p++) {
      if (done.has(p)) continue;
      pending.push(
        limit(async () => {
          if (this.stopping) return;
          const message = await this.runWithRetries(run, plan, p, committer, ctx);
          if (await committer.commitTask(message, plan)) {
            const committed = plan.readDone(p)!;
            done.set(p, committed);
            this.options.onPartitionDone?.(committed, true);
          }
        }),
      );
    }
    await Promise.all(pending);
    return done;
  }

  private async runWithRetries(run: RunSpec, plan: RunPlanDir, partition: number, committer: Committer, ctx: TaskContext): Promise<PartCommitMessage> {
    const manifest = await plan.readManifest(partition);
    const maxAttempts = this.options.maxAttempts ?? 3;
    let lastError: unknown;
    for (let attemptNo = 1; attemptNo <= maxAttempts; attemptNo++) {
      const attempt = `${attemptNo}-${randomBytes(3).toString('hex')}`;
      const dir = attemptDir(run.table_location, run.run_id, partition, attempt);
      const file = joinLocation(dir, `${partitionFileName(partition)}.parquet`);
      try {
        return await runPartition(manifest, { ...ctx, onImages: attemptNo === 1 ? ctx.onImages : undefined }, file, attempt);
      } catch (e) {
        lastError = e;
        await committer.abortTask(dir);
        this.options.log?.warn({ err: e, partition, attempt }, `partition ${partition} attempt ${attemptNo} of ${maxAttempts} failed`);
      }
    }
    this.options.log?.error({ err: lastError, partition }, `partition ${partition} failed ${maxAttempts} times; its images become partition_failed rows`);
    const attempt = `failed-${randomBytes(3).toString('hex')}`;
    const dir = attemptDir(run.table_location, run.run_id, partition, attempt);
    const failure = { attempts: maxAttempts, last_error: lastError instanceof Error ? lastError.message : String(lastError) };
    const message = await writeFailedPartition(manifest, ctx, joinLocation(dir, `${partitionFileName(partition)}.parquet`), attempt, failure);
    ctx.onImages?.(manifest.images.length);
    return message;
  }
}
