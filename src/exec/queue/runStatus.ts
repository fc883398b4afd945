/**
 * What `imgpipe status` reports about a run: from its plan folder (run.json, done records, the
 * committed snapshot) and, when a Redis is given, from the queue (which partitions wait, run, retry
 * or failed, which worker holds what and how far it is). Read-only: it adds, moves and removes
 * nothing, so it is safe to run beside a live driver.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { RunPlanDir, type RunSpec } from '../../plan/manifest.js';
import { Committer } from '../../sink/Committer.js';
import { openTableStore } from '../../sink/openTableStore.js';
import { partitionOfJobId, type PartitionJobProgress } from './jobs.js';

export type RunState = 'committed' | 'running' | 'incomplete';

export interface ActivePartition {
  partition: number;
  worker: string | null;
  images: number;
  total: number;
  attempt: number;
  started_at: string | null;
}

export interface RunStatus {
  run_id: string;
  model: string;
  table: string;
  snapshot: string;
  created_at: string;
  /** committed: visible in the table; running: jobs in the queue; incomplete: neither (resume it). */
  state: RunState;
  /**
   * Where each partition is; the states are disjoint and add up to `total`. The queue states are
   * null without --redis.
   */
  partitions: {
    total: number;
    /** Committed to the run's staging (or the table), ok or as partition_failed rows. */
    done: number;
    /** Of `done`: partitions whose images are partition_failed rows (all attempts failed). */
    partition_failed: number;
    /** In the queue, not started yet. */
    waiting: number | null;
    /** Running on a worker. */
    active: number | null;
    /** Waiting for a retry after a failed attempt. */
    retrying: number | null;
    /** Completed by a worker, waiting for the driver to commit it. */
    completed: number | null;
    /**
     * Failed all attempts, waiting for the driver: committed as partition_failed rows (poison), or,
     * when the last error was infrastructure (disk full, byte source gone), failing the run (a
     * resumed driver queues it afresh).
     */
    failed: number | null;
    /** Neither done nor in the queue: a driver has yet to add them. */
    not_queued: number | null;
  };
  images: { total: number; done: number };
  images_per_s: number | null;
  eta_s: number | null;
  /** Workers connected to the queue (null without --redis). */
  workers: string[] | null;
  active: ActivePartition[];
}

export interface RunListing {
  run_id: string;
  created_at: string;
  model: string;
  images: number;
  partitions: number;
  done: number;
  state: 'committed' | 'incomplete';
}

/** Runs planned under `partitionsDir`, newest first. */
export async function listRuns(partitionsDir: string): Promise<RunListing[]> {
  if (!existsSync(partitionsDir)) return [];
  const runs: RunListing[] = [];
  for (const entry of readdirSync(partitionsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const plan = new RunPlanDir(path.join(partitionsDir, entry.name));
    if (!existsSync(plan.runPath)) continue;
    let run: RunSpec;
    try {
      run = plan.readRun();
    } catch {
      continue;
    }
    const done = readdirSync(plan.dir).filter((f) => f.endsWith('.done.json')).length;
    runs.push({ run_id: run.run_id, created_at: run.created_at, model: run.model.qualified, images: run.images, partitions: run.partitions, done, state: (await committed(run)) ? 'committed' : 'incomplete' });
  }
  return runs.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
}

/** One run's status; `queue` adds what the queue knows. */
export async function runStatus(plan: RunPlanDir, queue: Queue | null): Promise<RunStatus> {
  const run = plan.readRun();
  let doneImages = 0;
  let failedRows = 0;
  let first = Infinity;
  let last = 0;
  const done = new Set<number>();
  for (let p = 0; p < run.partitions; p++) {
    const file = plan.donePath(p);
    if (!existsSync(file)) continue;
    const message = plan.readDone(p)!;
    done.add(p);
    doneImages += message.rows;
    if (message.failure) failedRows++;
    const mtime = statSync(file).mtimeMs;
    first = Math.min(first, mtime - message.metrics.elapsed_ms);
    last = Math.max(last, mtime);
  }
  const isCommitted = await committed(run);
  const status: RunStatus = {
    run_id: run.run_id,
    model: run.model.qualified,
    table: run.table,
    snapshot: run.snapshot,
    created_at: run.created_at,
    state: isCommitted ? 'committed' : 'incomplete',
    partitions: { total: run.partitions, done: done.size, partition_failed: failedRows, waiting: null, active: null, retrying: null, completed: null, failed: null, not_queued: null },
    images: { total: run.images, done: doneImages },
    images_per_s: null,
    eta_s: null,
    workers: null,
    active: [],
  };

  if (queue && !isCommitted) {
    const states = { waiting: 0, active: 0, retrying: 0, completed: 0, failed: 0 };
    const activeIds: string[] = [];
    const groups = [
      ['completed', ['completed']],
      ['failed', ['failed']],
      ['active', ['active']],
      ['retrying', ['delayed']],
      ['waiting', ['wait', 'prioritized', 'waiting-children']],
    ] as const;
    const seen = new Set<number>();
    for (const [state, types] of groups) {
      for (const id of await queue.getRanges([...types], 0, -1)) {
        const p = partitionOfJobId(run.run_id, id);
        if (p === null || done.has(p) || seen.has(p)) continue;
        seen.add(p);
        states[state]++;
        if (state === 'active') activeIds.push(id);
      }
    }
    status.partitions = { ...status.partitions, ...states, not_queued: run.partitions - done.size - seen.size };
    if (seen.size > 0) status.state = 'running';
    for (const id of activeIds) {
      const job = await queue.getJob(id);
      if (!job) continue;
      const progress = (typeof job.progress === 'object' ? job.progress : {}) as Partial<PartitionJobProgress>;
      status.active.push({
        partition: partitionOfJobId(run.run_id, id)!,
        worker: job.processedBy ?? progress.worker ?? null,
        images: progress.images ?? 0,
        total: progress.total ?? 0,
        attempt: job.attemptsMade + 1,
        started_at: job.processedOn ? new Date(job.processedOn).toISOString() : null,
      });
    }
    status.active.sort((a, b) => a.partition - b.partition);
    const names = (await queue.getWorkers()).map((w) => String(w.rawname ?? '').split(':w:')[1] ?? '(unnamed)');
    status.workers = [...new Set(names)].sort();
  }

  if (done.size > 0 && last > first) {
    const inFlight = status.active.reduce((n, a) => n + a.images, 0);
    const end = status.state === 'running' ? Date.now() : last;
    status.images_per_s = Math.round(((doneImages + (status.state === 'running' ? inFlight : 0)) / ((end - first) / 1000)) * 10) / 10;
    if (status.state === 'running' && status.images_per_s > 0) status.eta_s = Math.round((run.images - doneImages - inFlight) / status.images_per_s);
  }
  return status;
}

function committed(run: RunSpec): Promise<boolean> {
  const store = openTableStore(run.table_location, { hdfsUser: run.hdfs?.user });
  return new Committer(run.table_location, run.run_id, run.model.qualified, run.snapshot, undefined, store).alreadyCommitted();
}
