/**
 * The executor side of the queue: a BullMQ Worker that takes partition jobs from the shared queue
 * and runs the same unit of work as the local executor (`runPartition`: bytes → decode → infer →
 * part file), in this process, on any node.
 *
 * Per job (one attempt):
 *   1. validate the job data (a malformed job fails at once: UnrecoverableError, no retries);
 *   2. take the TaskContext for the run's model card and byte source (opened once, reused);
 *   3. write the part under the attempt's own staging folder
 *      `<table>/_staging/<run>/attempt-<p>-q<n>-<random>/` (never visible to readers);
 *   4. confirm the job lock is still ours, then return the PartCommitMessage: BullMQ stores it as
 *      the job's return value and the driver commits it (first completed attempt wins).
 * If an attempt throws, its folder is removed and BullMQ retries the job with backoff (`attempts`,
 * set by the driver). An infrastructure failure (disk full, I/O error, lost byte source) is thrown
 * with its root cause named ("No space left on device (ENOSPC) writing …", see infraErrors.ts), so
 * the job's failedReason tells the driver to fail the run rather than write partition_failed rows.
 * If the process dies, the job's lock expires and another worker's stalled check puts it back (at
 * most `maxStalledCount` times; then it fails, and the driver writes the partition as poison).
 * Whatever a dead attempt left in staging is removed when the driver commits the run.
 *
 * Event loop: decode and inference run in the scoring threads (src/exec/scoring: lanes on CPU,
 * pooled on GPU; onnxruntime-node's `run` is synchronous on its caller, so never this thread); what
 * stays here is bookkeeping and the Parquet encoder, which streams a record batch at a time. Lock renewal (every `lockDurationMs / 2`) depends on this loop, so each job logs the
 * longest event-loop delay it saw (`loop_max_ms`), and the tests check it stays far below the lock.
 */
import { randomBytes } from 'node:crypto';
import type { TopologyChoice } from '../scoring/openScorer.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Device } from '../../model/ModelSession.js';
import { partitionFileName, type PartCommitMessage } from '../../plan/manifest.js';
import { Committer } from '../../sink/Committer.js';
import { joinLocation, parentLocation } from '../../sink/location.js';
import { openTableStore } from '../../sink/openTableStore.js';
import type { TableStore } from '../../sink/TableStore.js';
import { asInfrastructureError } from '../../util/infraErrors.js';
import { describeInputProblems } from '../../util/validateInput.js';
import { attemptDir, runPartition } from '../task.js';
import { withFaultDiagnosis } from '../withFaultDiagnosis.js';
import { partitionJobDataSchema, QUEUE_PREFIX, type PartitionJobData, type PartitionJobProgress } from './jobs.js';
import { bullConnection, maskRedisSecrets, type RedisTarget } from './RedisTarget.js';
import { TaskContextCache } from './TaskContextCache.js';

export interface QueueWorkerOptions {
  target: RedisTarget;
  queueName: string;
  /** Shown by `imgpipe status` as the holder of a partition. @defaultValue `<hostname>-<pid>` */
  name: string;
  /** Partitions this process runs at once. @defaultValue 1 */
  concurrency?: number;
  device: Device;
  /** Lanes (lanes topology) or decode threads (pooled). @defaultValue the machine's cores */
  threads?: number;
  /** @defaultValue 'auto' (lanes on CPU, pooled on GPU) */
  topology?: TopologyChoice;
  /** onnxruntime intra-op threads per session. @defaultValue 1 per lane; onnxruntime's choice pooled */
  inferenceThreads?: number;
  modelsDirs?: string[];
  /** BullMQ job lock; renewed at half. A dead worker's job is retried after about 1–2 locks. @defaultValue 30000 */
  lockDurationMs?: number;
  /** Times a job may be recovered from a dead worker before it fails (a partition that crashes workers). @defaultValue 3 */
  maxStalledCount?: number;
  log: Logger;
  /** Called when an attempt starts and when it ends, for the CLI's per-partition lines. */
  onAttempt?: (event: AttemptEvent) => void;
}

export interface AttemptEvent {
  phase: 'started' | 'done' | 'failed';
  run_id: string;
  partition: number;
  attempt: string;
  rows?: number;
  error?: string;
  elapsed_ms?: number;
  /** Longest event-loop delay during the attempt (whole process). */
  loop_max_ms?: number;
}

type PartitionJob = Job<PartitionJobData, PartCommitMessage>;

export class QueueWorker {
  private constructor(
    readonly worker: Worker<PartitionJobData, PartCommitMessage>,
    private readonly contexts: TaskContextCache,
    private readonly flight: { jobs: number },
  ) {}

  /** Jobs this process is running right now (0: idle, safe to stop at once). */
  get inFlight(): number {
    return this.flight.jobs;
  }

  /** Start taking jobs (Redis was checked by the caller: `checkRedis`). */
  static start(options: QueueWorkerOptions): QueueWorker {
    const lockDuration = options.lockDurationMs ?? 30_000;
    const contexts = new TaskContextCache({ device: options.device, threads: options.threads, topology: options.topology, inferenceThreads: options.inferenceThreads, modelsDirs: options.modelsDirs ?? [] });
    const log = options.log;
    const flight = { jobs: 0 };
    const processor = async (job: PartitionJob, token?: string): Promise<PartCommitMessage> => {
      flight.jobs++;
      try {
        return await attemptJob(job, token);
      } finally {
        flight.jobs--;
      }
    };
    const attemptJob = async (job: PartitionJob, token?: string): Promise<PartCommitMessage> => {
      const parsed = describeInputProblems(partitionJobDataSchema, job.data, 'the job data');
      if (!parsed.success) {
        throw new UnrecoverableError(`job ${job.id} is not an imgpipe partition job (format 1): ${parsed.problems.slice(0, 3).join('; ')}`);
      }
      const { run, manifest } = parsed.data;
      const partition = manifest.partition;
      const attempt = `q${job.attemptsMade + 1}-${randomBytes(3).toString('hex')}`;
      const dir = attemptDir(run.table_location, run.run_id, partition, attempt);
      const file = joinLocation(dir, `${partitionFileName(partition)}.parquet`);
      log.debug({ run_id: run.run_id, partition, attempt, job_attempts_started: job.attemptsStarted }, `partition ${partition} attempt started`);
      options.onAttempt?.({ phase: 'started', run_id: run.run_id, partition, attempt });
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const started = performance.now();
      try {
        const message = await contexts.use(run, async (ctx) => {
          let images = 0;
          let reported = 0;
          const device = ctx.scorer.topology.provider;
          const report = (force = false) => {
            if (!force && performance.now() - reported < 500) return;
            reported = performance.now();
            const progress: PartitionJobProgress = { images, total: manifest.images.length, worker: options.name, device };
            void job.updateProgress(progress).catch(() => undefined);
          };
          report(true);
          const result = await runPartition(manifest, { ...withFaultDiagnosis(ctx), onImages: (n) => ((images += n), report()) }, file, attempt);
          report(true);
          return result;
        });
        // Return only while the lock is ours: a job whose lock lapsed has been handed to another
        // worker (or removed by the driver), and this attempt's file would never be collected.
        if (token && (await job.extendLock(token, lockDuration)) !== 1) {
          throw new Error(`lost the lock on job ${job.id} (the event loop stalled or Redis was unreachable for over ${lockDuration} ms); another attempt runs it`);
        }
        // A stale duplicate that outlived its run's commit: its staging folder would outlive it too.
        const store = openTableStore(run.table_location, { hdfsUser: run.hdfs?.user });
        if (await new Committer(run.table_location, run.run_id, run.model.qualified, run.snapshot, undefined, store).alreadyCommitted()) {
          await removeAttempt(store, dir);
          log.warn({ run_id: run.run_id, partition, attempt }, `partition ${partition}: run ${run.run_id} was committed while this attempt ran; its output is dropped`);
          return message;
        }
        const event: AttemptEvent = { phase: 'done', run_id: run.run_id, partition, attempt, rows: message.rows, elapsed_ms: Math.round(performance.now() - started), loop_max_ms: Math.round(loop.max / 1e6) };
        log.debug(event, `partition ${partition} done`);
        options.onAttempt?.(event);
        return message;
      } catch (caught) {
        const e = asInfrastructureError(caught) ?? caught;
        await removeAttempt(openTableStore(run.table_location, { hdfsUser: run.hdfs?.user }), dir);
        const error = maskRedisSecrets((e as Error)?.message ?? String(e), options.target);
        log.warn({ run_id: run.run_id, partition, attempt, err: e }, `partition ${partition} attempt ${job.attemptsMade + 1} failed: ${error}`);
        options.onAttempt?.({ phase: 'failed', run_id: run.run_id, partition, attempt, error, elapsed_ms: Math.round(performance.now() - started), loop_max_ms: Math.round(loop.max / 1e6) });
        throw e;
      } finally {
        loop.disable();
      }
    };
    const worker = new Worker<PartitionJobData, PartCommitMessage>(options.queueName, processor, {
      connection: bullConnection(options.target),
      prefix: QUEUE_PREFIX,
      name: options.name,
      concurrency: options.concurrency ?? 1,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: options.maxStalledCount ?? 3,
    });
    worker.on('error', (e) => log.error({ err: { message: maskRedisSecrets(e.message, options.target) } }, `queue worker: ${maskRedisSecrets(e.message, options.target)}`));
    return new QueueWorker(worker, contexts, flight);
  }

  /**
   * Stop taking jobs. Graceful (default): let the jobs in flight finish and report, then release
   * the model sessions and decode threads. `force`: drop them (their locks expire and other workers
   * take them over). Calling it twice is harmless.
   */
  async close(force = false): Promise<void> {
    await this.worker.close(force);
    await this.contexts.close();
  }
}

/**
 * Remove a failed attempt's folder, and the run's staging folder if that leaves it empty (an
 * attempt that outlived its run). Never throws: the driver's commitJob removes what is left.
 */
async function removeAttempt(store: TableStore, dir: string): Promise<void> {
  try {
    await store.remove(dir);
    await store.removeEmptyDir(parentLocation(dir));
  } catch {
    // left for the driver's commitJob, which removes the run's whole staging folder
  }
}
