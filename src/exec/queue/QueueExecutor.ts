/**
 * The queue executor, driver side: puts a planned run's pending partitions on the shared BullMQ
 * queue, one job per partition (`jobs.ts`), and commits each finished attempt as `imgpipe worker`
 * processes on any number of nodes report them. Same shape as LocalExecutor: it decides where the
 * work runs; `runPartition` is the work and `Committer` the protocol.
 *
 * Sequence of `execute`:
 *   1. take the run's driver lease (`DriverLock`): one driver per run;
 *   2. partitions with a done record are finished; for the others, re-attach to their job if the
 *      queue still holds it (waiting, active, delayed, completed or failed: never added twice),
 *      else add it — at most `maxQueued` of this run's jobs in Redis at once, so Redis memory does
 *      not grow with the selection;
 *   3. as jobs finish (QueueEvents, plus a poll that catches anything missed):
 *      completed → `commitTask(returnvalue)` (first completed attempt wins; losers' folders go),
 *      then the job is removed — kept until then, so a restarted driver finds it;
 *      failed (BullMQ exhausted `attempts`, or the job crashed workers `maxStalledCount` times) →
 *      the driver writes the partition's `partition_failed` rows itself, with the last error, and
 *      commits them;
 *   4. return when every partition is done (the caller then runs commitJob), or when stopped.
 * Jobs stay queued when the driver stops or dies; `--resume RUN_ID` re-attaches and commits what
 * finished meanwhile. If this throws (Redis gone for good, lease lost), nothing is visible and the
 * run is resumable.
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { partCommitMessageSchema, partitionFileName, type PartCommitMessage, type RunPlanDir, type RunSpec } from '../../plan/manifest.js';
import type { Committer } from '../../sink/Committer.js';
import { joinLocation } from '../../sink/location.js';
import { createParquetPartWriter } from '../../sink/parquetPartWriter.js';
import { withRemoteUpload } from '../../sink/UploadingPartWriter.js';
import { LocalExecutor } from '../local.js';
import { attemptDir, writeFailedPartition } from '../task.js';
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
  /** Called after each partition is committed to the run's staging. */
  onPartitionDone?: (message: PartCommitMessage, fresh: boolean) => void;
}

type PartitionJob = Job<PartitionJobData, PartCommitMessage>;

/** How often tracked jobs are checked to still exist (Redis restarted without persistence). */
const RECONCILE_MS = 10_000;
/** After this long without progress, check that any worker is connected, and say so if none is. */
const NO_WORKER_HINT_MS = 15_000;

export class QueueExecutor {
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

  /** Run every partition not yet done; returns all partitions' messages (or fewer if stopped). */
  async execute(run: RunSpec, plan: RunPlanDir, committer: Committer): Promise<Map<number, PartCommitMessage>> {
    const log = this.options.log;
    const lock = await DriverLock.acquire(this.redis, this.options.queueName, run.run_id, {
      onWait: (holder) => log?.warn(`run ${run.run_id}: waiting for the previous driver's lease (${holder}) to expire…`),
    });
    try {
      return await this.drive(run, plan, committer, lock);
    } finally {
      await lock.release();
    }
  }

  private async drive(run: RunSpec, plan: RunPlanDir, committer: Committer, lock: DriverLock): Promise<Map<number, PartCommitMessage>> {
    const { log } = this.options;
    const store = committer.store;
    const done = await LocalExecutor.doneMessages(run, plan, store);
    for (const message of done.values()) this.options.onPartitionDone?.(message, false);
    const pending: number[] = [];
    for (let p = 0; p < run.partitions; p++) if (!done.has(p)) pending.push(p);
    const tracked = new Set<number>();
    const relaunches = new Map<number, number>();

    // Live progress: committed rows plus what active attempts report.
    let committedImages = [...done.values()].reduce((n, m) => n + m.rows, 0);
    let shown = committedImages;
    const live = new Map<number, number>();
    const showProgress = () => {
      const now = committedImages + [...live.values()].reduce((a, b) => a + b, 0);
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

    /** Book a partition whose done record is written. */
    const settle = (partition: number, fresh: boolean) => {
      const committed = plan.readDone(partition)!;
      done.set(partition, committed);
      tracked.delete(partition);
      live.delete(partition);
      committedImages += committed.rows;
      lastProgressAt = Date.now();
      if (fresh) this.options.onPartitionDone?.(committed, true);
      showProgress();
    };
    const commit = async (message: PartCommitMessage) => {
      const fresh = await committer.commitTask(message, plan);
      log?.debug({ partition: message.partition, attempt: message.attempt, fresh }, `partition ${message.partition} committed`);
      settle(message.partition, fresh);
    };

    const failPartition = async (partition: number, attempts: number, lastError: string) => {
      log?.error({ run_id: run.run_id, partition, attempts, last_error: lastError }, `partition ${partition} failed ${attempts} attempt(s); its images become partition_failed rows. Last error: ${lastError}`);
      const manifest = await plan.readManifest(partition);
      const attempt = `failed-${randomBytes(3).toString('hex')}`;
      const file = joinLocation(attemptDir(run.table_location, run.run_id, partition, attempt), `${partitionFileName(partition)}.parquet`);
      const openPartWriter = withRemoteUpload((f) => createParquetPartWriter(f), store);
      await commit(await writeFailedPartition(manifest, { openPartWriter }, file, attempt, { attempts, last_error: lastError }));
    };

    const onCompleted = async (partition: number, job: PartitionJob) => {
      const parsed = partCommitMessageSchema.safeParse(job.returnvalue);
      if (!parsed.success || parsed.data.run_id !== run.run_id || parsed.data.partition !== partition) {
        const why = parsed.success ? `it names run ${parsed.data.run_id} partition ${parsed.data.partition}` : parsed.error.issues[0]?.message;
        return failPartition(partition, job.attemptsStarted, `the worker returned an invalid commit message (${why}); is it a different imgpipe version?`);
      }
      const message = parsed.data;
      if (await store.exists(message.staged_path)) return commit(message);
      const target = joinLocation(committer.committedDir, `${partitionFileName(partition)}.parquet`);
      if (!plan.readDone(partition) && (await store.exists(target))) {
        // A driver died between moving this attempt's file and writing its done record.
        plan.writeDone({ ...message, staged_path: target });
        return settle(partition, true);
      }
      // The attempt's file is gone (staging not on a shared filesystem? removed by hand?): run it again.
      const n = (relaunches.get(partition) ?? 0) + 1;
      relaunches.set(partition, n);
      if (n >= (this.options.attempts ?? 3)) {
        return failPartition(partition, n, `worker reported ${message.staged_path} but the driver cannot see it; is the table location ${run.table_location} on a filesystem shared by driver and workers?`);
      }
      log?.warn(`partition ${partition}: the worker's file ${message.staged_path} is not visible here; running the partition again (is ${run.table_location} shared by driver and workers?)`);
      await job.remove();
      tracked.delete(partition);
      pending.unshift(partition);
    };

    let lastReconcile = Date.now();
    let lastHint = 0;
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
          if (done.has(p)) {
            log?.debug({ partition: p, state }, 'job of a partition already done: removed');
            await job.remove().catch(() => undefined); // committed by an earlier driver
            continue;
          }
          if (state === 'completed') await onCompleted(p, job);
          else await failPartition(p, job.attemptsStarted || job.attemptsMade, job.failedReason || 'failed without a reason');
          if (done.has(p)) await job.remove().catch((e: Error) => log?.warn(`could not remove job ${id}: ${e.message}`));
        }
      }
      if (done.size === run.partitions || this.stopping) break;

      // 2. Jobs that vanished (Redis restarted without persistence, keys evicted): queue them again.
      if (Date.now() - lastReconcile > RECONCILE_MS) {
        lastReconcile = Date.now();
        const ids = [...tracked];
        const states = await Promise.all(ids.map((p) => this.queue.getJobState(partitionJobId(run.run_id, p))));
        ids.forEach((p, i) => {
          if (states[i] === 'unknown' && !done.has(p)) {
            log?.warn(`partition ${p}: its job vanished from Redis (restarted without persistence? maxmemory-policy not noeviction?); queueing it again`);
            tracked.delete(p);
            pending.unshift(p);
          }
        });
      }

      // 3. Keep up to maxQueued of this run's jobs in Redis.
      await this.enqueue(run, plan, pending, tracked, done);

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
    this.events.off('progress', onProgress);
    this.events.off('completed', onFinished);
    this.events.off('failed', onFinished);
    if (done.size === run.partitions) await this.removeLeftovers(run);
    return done;
  }

  /**
   * Add jobs for pending partitions (re-attaching to any the queue already holds). Partitions done
   * meanwhile are dropped: a restarted driver commits completed jobs before it adds any, and a
   * committed partition's job is gone, so adding it again would run it twice.
   */
  private async enqueue(run: RunSpec, plan: RunPlanDir, pending: number[], tracked: Set<number>, done: Map<number, unknown>): Promise<void> {
    const maxQueued = this.options.maxQueued ?? 512;
    while (!this.stopping && pending.length > 0 && tracked.size < maxQueued) {
      const batch = pending.splice(0, Math.min(64, maxQueued - tracked.size)).filter((p) => !done.has(p) && !tracked.has(p));
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
