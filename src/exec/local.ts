/**
 * The local executor (an `Executor`): runs a planned run's pending partitions in this process
 * (decode on the pool's worker threads, inference on onnxruntime's) and retries a failed partition
 * with a new attempt. It only decides placement; the work is `runPartition`, and the driver
 * (`executePartitions`) commits what it reports.
 *
 * Per partition: up to `maxAttempts` attempts (1 s, then 2 s apart), each writing under its own
 * staging folder (removed when the attempt fails). Then one outcome: `finished` (the first attempt that wrote its part),
 * `infrastructure` (the last attempt failed on a full disk, an I/O error, a lost byte source…: the
 * run fails, resumable) or `poison` (every attempt failed for a reason of the partition's own, e.g.
 * a decode thread that died on it: its images become `partition_failed` rows).
 * `stop()` lets in-flight partitions finish and schedules no more (Ctrl-C); the run is resumable.
 */
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { partitionFileName, type RunPlanDir, type RunSpec } from '../plan/manifest.js';
import { joinLocation } from '../sink/location.js';
import { openTableStore } from '../sink/openTableStore.js';
import type { TableStore } from '../sink/TableStore.js';
import { asInfrastructureError } from '../util/infraErrors.js';
import type { Executor, PartitionOutcome } from './Executor.js';
import { openTaskContext, type OpenedTaskContext, type TaskContextOptions } from './openTaskContext.js';
import { describeTopology } from './scoring/Scorer.js';
import { attemptDir, runPartition, type TaskContext } from './task.js';
import { withFaultDiagnosis } from './withFaultDiagnosis.js';

export interface LocalExecutorOptions {
  /** Attempts per partition before it is reported as failed. @defaultValue 3 */
  maxAttempts?: number;
  /** Delay before the second attempt of a partition; doubles each time (a disk being freed, a source restarting). @defaultValue 1000 ms */
  backoffMs?: number;
  /** Partitions in flight at once (keeps the pipeline full across partition ends). @defaultValue 2 */
  partitionConcurrency?: number;
  /** How to open the TaskContext (scorer threads, byte source), once per execute. */
  context: TaskContextOptions;
  log?: Logger;
}

export class LocalExecutor implements Executor {
  private stopping = false;
  private opened: OpenedTaskContext | null = null;
  readonly devices = new Set<string>();
  /** The topology and thread split that ran (`describeTopology`), once a context was opened. */
  topology: string | null = null;

  constructor(private readonly options: LocalExecutorOptions) {}

  stop(): void {
    this.stopping = true;
  }
  get stopped(): boolean {
    return this.stopping;
  }

  async execute(run: RunSpec, plan: RunPlanDir, pending: readonly number[], onOutcome: (outcome: PartitionOutcome) => Promise<void>): Promise<void> {
    this.opened ??= await openTaskContext(run, this.options.context);
    const base = this.opened.ctx;
    this.devices.add(base.scorer.topology.provider);
    this.topology = describeTopology(base.scorer.topology);
    const ctx = withFaultDiagnosis(base);
    const store = openTableStore(run.table_location, { hdfsUser: run.hdfs?.user });
    const limit = pLimit(this.options.partitionConcurrency ?? 2);
    let failed: unknown = null;
    await Promise.all(
      pending.map((p) =>
        limit(async () => {
          if (this.stopping) return;
          try {
            await onOutcome(await this.runWithRetries(run, plan, p, store, ctx));
          } catch (e) {
            failed ??= e;
            this.stop();
          }
        }),
      ),
    );
    if (failed) throw failed;
  }

  private async runWithRetries(run: RunSpec, plan: RunPlanDir, partition: number, store: TableStore, ctx: TaskContext): Promise<PartitionOutcome> {
    const manifest = await plan.readManifest(partition);
    const maxAttempts = this.options.maxAttempts ?? 3;
    const log = this.options.log;
    let lastError: unknown;
    for (let attemptNo = 1; attemptNo <= maxAttempts; attemptNo++) {
      const attempt = `${attemptNo}-${randomBytes(3).toString('hex')}`;
      const dir = attemptDir(run.table_location, run.run_id, partition, attempt);
      const file = joinLocation(dir, `${partitionFileName(partition)}.parquet`);
      try {
        const message = await runPartition(manifest, { ...ctx, onImages: attemptNo === 1 ? ctx.onImages : undefined }, file, attempt);
        if (attemptNo > 1) ctx.onImages?.(manifest.images.length);
        return { kind: 'finished', partition, message };
      } catch (e) {
        lastError = asInfrastructureError(e) ?? e;
        await store.remove(dir).catch((err: Error) => log?.warn({ err, dir }, 'could not remove attempt folder; the commit removes it'));
        log?.warn({ err: lastError, partition, attempt }, `partition ${partition} attempt ${attemptNo} of ${maxAttempts} failed: ${(lastError as Error)?.message ?? lastError}`);
        if (attemptNo < maxAttempts && !this.stopping) await new Promise((r) => setTimeout(r, (this.options.backoffMs ?? 1000) * 2 ** (attemptNo - 1)));
      }
    }
    const infra = asInfrastructureError(lastError);
    if (infra) return { kind: 'infrastructure', partition, attempts: maxAttempts, error: infra };
    return { kind: 'poison', partition, attempts: maxAttempts, lastError: lastError instanceof Error ? lastError.message : String(lastError) };
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    await opened?.close().catch(() => undefined);
  }
}
