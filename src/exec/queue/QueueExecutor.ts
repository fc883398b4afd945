/**
 * The queue executor, driver side (an `Executor`): puts a planned run's pending partitions on the
 * shared BullMQ queue, one job per partition (`jobs.ts`), and reports each job's outcome as
 * `imgpipe worker` processes on any number of nodes finish them. Same shape as LocalExecutor: it
 * decides where the work runs; `runPartition` is the work, and the driver (`executePartitions`)
 * commits what it reports.
 *
 * Sequence of `execute`:
 *   1. take the run's driver lease (`DriverLock`): one driver per run;
 *   2. for each pending partition, re-attach to its job if the queue still holds it (waiting,
 *      active, delayed, completed or failed: never added twice), else add it — at most `maxQueued`
 *      of this run's jobs in Redis at once, so Redis memory does not grow with the selection;
 *   3. as jobs finish (QueueEvents, plus a poll that catches anything missed):
 *      completed → outcome `finished` (the worker's commit message), then the job is removed —
 *      kept until the driver has booked it, so a restarted driver finds it;
 *      failed (BullMQ exhausted `attempts`, or the job stalled workers `maxStalledCount` times) →
 *      `infrastructure` when its last error was (disk full, I/O, lost connection: the job is
 *      removed, so a resume queues it afresh), else `poison` (the driver writes partition_failed
 *      rows); a job that failed for infrastructure reasons before this driver started is queued
 *      again instead (a resume after the cause is gone);
 *   4. return when every pending partition was reported, or when stopped.
 * Redis restarts (without persistence): commands wait for the reconnection, the lease is taken
 * again, and jobs that vanished are queued again (jobs are self-contained, ids deterministic).
 * Jobs stay queued when the driver stops or dies; `--resume RUN_ID` re-attaches and commits what
 * finished meanwhile. If this throws (lease taken by another driver), nothing is visible and the run
 * is resumable.
 */
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { partCommitMessageSchema, partitionFileName, type PartCommitMessage, type RunPlanDir, type RunSpec } from '../../plan/manifest.js';
import { Committer } from '../../sink/Committer.js';
import { joinLocation } from '../../sink/location.js';
import { openTableStore } from '../../sink/openTableStore.js';
import { asInfrastructureError, infrastructureCode } from '../../util/infraErrors.js';
import { describeInputProblems } from '../../util/validateInput.js';
import type { Executor, PartitionOutcome } from '../Executor.js';
import { checkRedis } from './checkRedis.js';
import { DriverLock } from './DriverLock.js';
import { partitionJobData, partitionJobId, partitionOfJobId, QUEUE_PREFIX, type PartitionJobData, type PartitionJobProgress } from './jobs.js';
import { bullConnection, maskRedisSecrets, type RedisTarget } from './RedisTarget.js';

export interface QueueExecutorOptions {
  target: RedisTarget;
  queueName: string;
  /** Attempts per partition (BullMQ `attempts`) before its images become partition_failed rows. @defaultValue 3 */
  attempts?: number;
  /** Delay before the first retry; doubles each time. @defaultValue 1000 ms */
  backoffMs?: number;
  /** This run's jobs held in Redis at once (each carries its manifest). @defaultValue 512 */
  maxQueued?: number;
  /** Poll for finished jobs at least this often (events usually wake it sooner). @defaultValue 1000 ms */
  pollMs?: number;
  log?: Logger;
  /** Images finished across all workers (live, from job progress; never goes backwards). */
  onImages?: (n: number) => void;
}

type PartitionJob = Job<PartitionJobData, PartCommitMessage>;

/** How often tracked jobs are checked to still exist (Redis restarted without persistence). */
const RECONCILE_MS = 10_000;
/** After this long without progress, check that any worker is connected, and say so if none is. */
const NO_WORKER_HINT_MS = 15_000;

export class QueueExecutor implements Executor {
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Providers reported by the workers (`cpu`, `cuda`). */
  readonly devices = new Set<string>();

  private constructor(
    private readonly options: QueueExecutorOptions,
    private readonly queue: Queue<PartitionJobData, PartCommitMessage>,
    private readonly events: QueueEvents,
    private readonly redis: Redis,
  ) {}

  /**
   * Check Redis (fail fast, exit 2 on a bad password or an unreachable server), then connect.
   * Call it before planning, so a typo costs seconds, not a plan.
   */
  static async open(options: QueueExecutorOptions): Promise<QueueExecutor> {
    const check = await checkRedis(options.target);
    for (const w of check.warnings) options.log?.warn(w);
    const connection = bullConnection(options.target);
    const queue = new Queue<PartitionJobData, PartCommitMessage>(options.queueName, { connection, prefix: QUEUE_PREFIX });
    const events = new QueueEvents(options.queueName, { connection, prefix: QUEUE_PREFIX });
    const redis = new Redis({ ...connection, connectionName: 'imgpipe:driver' });
    const mask = (e: Error) => maskRedisSecrets(e.message, options.target);
    queue.on('error', (e) => options.log?.warn(`queue: ${mask(e)}`));
    events.on('error', (e) => options.log?.warn(`queue events: ${mask(e)}`));
    redis.on('error', (e) => options.log?.warn(`redis: ${mask(e)}`));
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new QueueExecutor(options, queue, events, redis);
  }

  /** Stop adding and committing; jobs stay queued for `--resume`. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }
  get stopped(): boolean {
    return this.stopping;
  }

  async execute(run: RunSpec, plan: RunPlanDir, pending: readonly number[], onOutcome: (outcome: PartitionOutcome) => Promise<void>): Promise<void> {
    const log = this.options.log;
    const lock = await DriverLock.acquire(this.redis, this.options.queueName, run.run_id, {
      onWait: (holder) => log?.warn(`run ${run.run_id}: waiting for the previous driver's lease (${holder}) to expire…`),
      onReacquired: () => log?.warn(`run ${run.run_id}: Redis had lost the driver lease (restarted without persistence?); took it again`),
    });
    try {
      await this.drive(run, plan, [...pending], onOutcome, lock);
    } finally {
      await lock.release();
    }
  }

  private async drive(run: RunSpec, plan: RunPlanDir, pending: number[], onOutcome: (outcome: PartitionOutcome) => Promise<void>, lock: DriverLock): Promise<void> {
    const { log } = this.options;
    const store = openTableStore(run.table_location, { hdfsUser: run.hdfs?.user });
    const committedDir = new Committer(run.table_location, run.run_id, run.model.qualified, run.snapshot, undefined, store).committedDir;
    /** Pending partitions not reported yet; the others' jobs are leftovers of an earlier driver. */
    const remaining = new Set(pending);
    const tracked = new Set<number>();
    const relaunches = new Map<number, number>();

    // Live progress: reported rows plus what active attempts report.
    let reportedImages = 0;
    let shown = 0;
    const live = new Map<number, number>();
    const showProgress = () => {
      const now = reportedImages + [...live.values()].reduce((a, b) => a + b, 0);
      if (now > shown) {
        this.options.onImages?.(now - shown);
        shown = now;
      }
    };
    let lastProgressAt = Date.now();
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      const p = partitionOfJobId(run.run_id, jobId);
      if (p === null || !tracked.has(p) || typeof data !== 'object' || data === null) return;
      const progress = data as Partial<PartitionJobProgress>;
      if (typeof progress.images === 'number') live.set(p, progress.images);
      if (typeof progress.device === 'string') this.devices.add(progress.device);
      lastProgressAt = Date.now();
      showProgress();
    };
    const onFinished = ({ jobId }: { jobId: string }) => {
      if (partitionOfJobId(run.run_id, jobId) !== null) this.wake?.();
    };
    this.events.on('progress', onProgress);
    this.events.on('completed', onFinished);
    this.events.on('failed', onFinished);

    /** Hand an outcome to the driver; once it is booked, the partition is no longer ours. */
    const report = async (outcome: PartitionOutcome, images: number) => {
      await onOutcome(outcome);
      remaining.delete(outcome.partition);
      tracked.delete(outcome.partition);
      live.delete(outcome.partition);
      reportedImages += images;
      lastProgressAt = Date.now();
      showProgress();
    };

    const onFailed = async (partition: number, job: PartitionJob, before: boolean) => {
      const attempts = job.attemptsStarted || job.attemptsMade;
      const reason = job.failedReason || 'failed without a reason';
      const images = (job.data as Partial<PartitionJobData>)?.manifest?.images?.length ?? 0;
      if (infrastructureCode(reason) && before) {
        // Failed before this driver started (the run failed on it, or workers went on after the
        // driver stopped): the cause may be gone, so it is queued afresh rather than failing again.
        log?.info({ partition, reason }, `partition ${partition}: its job failed before this driver started (${reason}); queueing it again`);
        await job.remove();
        tracked.delete(partition);
        pending.unshift(partition);
        return;
      }
      if (infrastructureCode(reason)) {
        // Not rows: the run fails, and the job goes so that a resume queues the partition afresh.
        await report({ kind: 'infrastructure', partition, attempts, error: asInfrastructureError(reason)! }, 0);
        await job.remove().catch((e: Error) => log?.warn(`could not remove job ${job.id}: ${e.message}`));
        return;
      }
      await report({ kind: 'poison', partition, attempts, lastError: reason }, images);
    };

    const onCompleted = async (partition: number, job: PartitionJob) => {
      const parsed = describeInputProblems(partCommitMessageSchema, job.returnvalue, 'the return value');
      if (!parsed.success || parsed.data.run_id !== run.run_id || parsed.data.partition !== partition) {
        const why = parsed.success ? `it names run ${parsed.data.run_id} partition ${parsed.data.partition}` : parsed.problems[0];
        return report({ kind: 'poison', partition, attempts: job.attemptsStarted, lastError: `the worker returned an invalid commit message (${why}); is it a different imgpipe version?` }, 0);
      }
      const message = parsed.data;
      // Visible: either the attempt's file, or (a driver died between moving it and writing its done
      // record) the committed one, which the driver recognises.
      const target = joinLocation(committedDir, `${partitionFileName(partition)}.parquet`);
      if ((await store.exists(message.staged_path)) || (await store.exists(target))) return report({ kind: 'finished', partition, message }, message.rows);
      // The attempt's file is gone (staging not on a shared filesystem? removed by hand?): run it again.
      const n = (relaunches.get(partition) ?? 0) + 1;
      relaunches.set(partition, n);
      if (n >= (this.options.attempts ?? 3)) {
        return report({ kind: 'poison', partition, attempts: n, lastError: `worker reported ${message.staged_path} but the driver cannot see it; is the table location ${run.table_location} on a filesystem shared by driver and workers?` }, message.rows);
      }
      log?.warn(`partition ${partition}: the worker's file ${message.staged_path} is not visible here; running the partition again (is ${run.table_location} shared by driver and workers?)`);
      await job.remove();
      tracked.delete(partition);
      pending.unshift(partition);
    };

    let lastReconcile = Date.now();
    let lastHint = 0;
    /** The first look at the queue: what failed there, failed before this driver. */
    let firstScan = true;
    try {
      for (;;) {
        if (lock.lost) throw new Error(`Run ${run.run_id}: ${lock.lost}`);
        // 1. Finished jobs of this run.
        for (const [state, ids] of [
          ['completed', await this.queue.getRanges(['completed'], 0, -1)],
          ['failed', await this.queue.getRanges(['failed'], 0, -1)],
        ] as const) {
          for (const id of ids) {
            const p = partitionOfJobId(run.run_id, id);
            if (p === null || this.stopping) continue;
            const job = (await this.queue.getJob(id)) as PartitionJob | undefined;
            if (!job) continue;
            if (!remaining.has(p)) {
              log?.debug({ partition: p, state }, 'job of a partition already done: removed');
              await job.remove().catch(() => undefined); // committed by an earlier driver
              continue;
            }
            if (state === 'completed') await onCompleted(p, job);
            else await onFailed(p, job, firstScan);
            if (!remaining.has(p)) await job.remove().catch((e: Error) => log?.warn(`could not remove job ${id}: ${e.message}`));
          }
        }
        firstScan = false;
        if (remaining.size === 0 || this.stopping) break;

        // 2. Jobs that vanished (Redis restarted without persistence, keys evicted): queue them again.
        if (Date.now() - lastReconcile > RECONCILE_MS) {
          lastReconcile = Date.now();
          const ids = [...tracked];
          const states = await Promise.all(ids.map((p) => this.queue.getJobState(partitionJobId(run.run_id, p))));
          ids.forEach((p, i) => {
            if (states[i] === 'unknown' && remaining.has(p)) {
              log?.warn(`partition ${p}: its job vanished from Redis (restarted without persistence? maxmemory-policy not noeviction?); queueing it again`);
              tracked.delete(p);
              live.delete(p);
              pending.unshift(p);
            }
          });
        }

        // 3. Keep up to maxQueued of this run's jobs in Redis.
        await this.enqueue(run, plan, pending, tracked, remaining);

        // 4. Nobody working? Say so.
        if (Date.now() - lastProgressAt > NO_WORKER_HINT_MS && Date.now() - lastHint > 60_000) {
          lastHint = Date.now();
          if ((await this.queue.getWorkersCount().catch(() => -1)) === 0) {
            log?.warn(`No worker is connected to queue ${this.options.queueName} at ${this.options.target.display}. Start some: imgpipe worker --redis ${this.options.target.display.replace(':***@', ':PASSWORD@')} --queue ${this.options.queueName}`);
          }
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollMs ?? 1000);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    } catch (e) {
      this.stop();
      throw e;
    } finally {
      this.events.off('progress', onProgress);
      this.events.off('completed', onFinished);
      this.events.off('failed', onFinished);
    }
    if (remaining.size === 0 && !this.stopping) await this.removeLeftovers(run);
  }

  /**
   * Add jobs for pending partitions (re-attaching to any the queue already holds). Partitions
   * reported meanwhile are dropped: a restarted driver books completed jobs before it adds any, and
   * a booked partition's job is gone, so adding it again would run it twice.
   */
  private async enqueue(run: RunSpec, plan: RunPlanDir, pending: number[], tracked: Set<number>, remaining: ReadonlySet<number>): Promise<void> {
    const maxQueued = this.options.maxQueued ?? 512;
    while (!this.stopping && pending.length > 0 && tracked.size < maxQueued) {
      const batch = pending.splice(0, Math.min(64, maxQueued - tracked.size)).filter((p) => remaining.has(p) && !tracked.has(p));
      if (batch.length === 0) continue;
      const states = await Promise.all(batch.map((p) => this.queue.getJobState(partitionJobId(run.run_id, p))));
      const toAdd = batch.filter((_, i) => states[i] === 'unknown');
      if (toAdd.length < batch.length) this.options.log?.info(`run ${run.run_id}: re-attached to ${batch.length - toAdd.length} job(s) already in the queue`);
      this.options.log?.debug({ added: toAdd, reattached: batch.filter((_, i) => states[i] !== 'unknown') }, 'enqueue');
      const manifests = await Promise.all(toAdd.map((p) => plan.readManifest(p)));
      await this.queue.addBulk(
        toAdd.map((p, i) => ({
          name: 'partition',
          data: partitionJobData(run, manifests[i]!),
          opts: {
            jobId: partitionJobId(run.run_id, p),
            attempts: this.options.attempts ?? 3,
            backoff: { type: 'exponential', delay: this.options.backoffMs ?? 1000 },
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      );
      for (const p of batch) tracked.add(p);
    }
  }

  /** After the last partition: drop any job of this run still in Redis (e.g. left by a driver that died after its commit). */
  private async removeLeftovers(run: RunSpec): Promise<void> {
    const ids = await this.queue.getRanges(['completed', 'failed', 'wait', 'delayed', 'prioritized', 'waiting-children', 'active'], 0, -1);
    for (const id of ids) {
      if (partitionOfJobId(run.run_id, id) === null) continue;
      await this.queue.remove(id).catch((e: Error) => this.options.log?.warn(`could not remove leftover job ${id}: ${e.message}`));
    }
  }

  /** Close the connections. Never throws; calling it twice is harmless. */
  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.redis.disconnect();
  }
}
