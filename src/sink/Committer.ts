/**
 * The driver's half of the commit protocol (Spark's FileCommitProtocol, on local or mounted paths).
 * Layout under the table location `<table>/`:
 *   _staging/<run>/attempt-<p>-<a>/part-<p>.parquet   written by a task attempt (anywhere)
 *   _staging/<run>/committed/part-<p>.parquet          the winning attempt, moved by commitTask
 *   model=<m>/snapshot=<d>/                            the visible partition, swapped in by commitJob
 *
 * Call sequence: setupJob → (commitTask | abortTask)* → commitJob | abortJob.
 * Tasks may be retried and attempts may race; the first committed attempt per partition wins and
 * later ones are removed. Jobs are not retried but resumed: every step is idempotent, so a driver
 * that died anywhere in here runs the same sequence again (`--resume`) and ends in the same state.
 * Visibility: nothing is visible to readers until commitJob's final rename; a reader globbing
 * `model=*\/snapshot=*\/*.parquet` sees the old snapshot, then (for the instant between the two
 * renames of a replacement) no snapshot, then the new one — never a mix.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { partitionFileName, type PartCommitMessage, type RunPlanDir } from '../plan/manifest.js';

export interface RunSummaryFile {
  run_id: string;
  model: string;
  snapshot: string;
  table: string;
  partitions: number;
  selected: number;
  ok: number;
  error: number;
  error_reasons: Record<string, number>;
  labels: Record<string, number>;
  committed_at: string;
  elapsed_s: number;
}

export class Committer {
  readonly stagingDir: string;
  readonly committedDir: string;
  readonly finalDir: string;

  constructor(
    readonly tableLocation: string,
    readonly runId: string,
    readonly model: string,
    readonly snapshot: string,
    private readonly log?: Logger,
  ) {
    this.stagingDir = path.join(tableLocation, '_staging', runId);
    this.committedDir = path.join(this.stagingDir, 'committed');
    this.finalDir = path.join(tableLocation, `model=${model}`, `snapshot=${snapshot}`);
  }

  /** 1. Create the run's staging folders. Idempotent. */
  setupJob(): void {
    mkdirSync(this.committedDir, { recursive: true });
  }

  /**
   * 2. Accept a finished attempt: move its part file into the run's committed folder and record the
   * partition as done. Returns false (and removes the attempt) when another attempt already won.
   * If this throws, the partition is not recorded as done and will run again.
   */
  commitTask(message: PartCommitMessage, plan: RunPlanDir): boolean {
    const target = path.join(this.committedDir, `${partitionFileName(message.partition)}.parquet`);
    const existing = plan.readDone(message.partition);
    if (existing && existsSync(existing.staged_path)) {
      this.abortTask(path.dirname(message.staged_path));
      return false;
    }
    try {
      renameSync(message.staged_path, target);
    } catch (e) {
      throw new Error(`Failed to rename ${message.staged_path} to ${target} when committing partition ${message.partition}: ${(e as Error).message}`);
    }
    plan.writeDone({ ...message, staged_path: target });
    this.abortTask(path.dirname(message.staged_path));
    return true;
  }

  /** Remove an attempt's folder. Never throws: it must not hide the error that caused the abort. */
  abortTask(attemptDir: string): void {
    try {
      if (path.dirname(attemptDir) === this.stagingDir) rmSync(attemptDir, { recursive: true, force: true });
    } catch (e) {
      this.log?.warn({ err: e, attemptDir }, 'could not remove attempt folder; remove it by hand');
    }
  }

  /**
   * 3. Make the run visible: summary and `_SUCCESS` into the committed folder, then swap it in as
   * `model=…/snapshot=…` (replacing an earlier run's snapshot), and clean up staging.
   * Returns true if the swap happened now, false if an earlier call already did it (resume).
   * If this throws before the final rename, nothing new is visible and `--resume` finishes the job.
   */
  commitJob(summary: RunSummaryFile): boolean {
    if (!existsSync(this.committedDir)) {
      if (this.alreadyCommitted()) {
        this.cleanup();
        return false;
      }
      throw new Error(`Cannot commit run ${this.runId}: ${this.committedDir} is missing and ${this.finalDir} holds another run`);
    }
    writeFileSync(path.join(this.committedDir, '_summary.json'), JSON.stringify(summary, null, 2) + '\n');
    writeFileSync(path.join(this.committedDir, '_SUCCESS'), '');
    mkdirSync(path.dirname(this.finalDir), { recursive: true });
    const replaced = path.join(this.stagingDir, 'replaced');
    if (existsSync(this.finalDir) && !this.alreadyCommitted()) {
      rmSync(replaced, { recursive: true, force: true });
      renameSync(this.finalDir, replaced);
    }
    renameSync(this.committedDir, this.finalDir);
    this.cleanup();
    return true;
  }

  /** Abort the job: remove the run's staging. Best effort; logs and never throws. */
  abortJob(): void {
    try {
      rmSync(this.stagingDir, { recursive: true, force: true });
    } catch (e) {
      this.log?.warn({ err: e, dir: this.stagingDir }, 'could not remove staging folder');
    }
  }

  /** The visible snapshot was committed by this run (its summary names this run id). */
  alreadyCommitted(): boolean {
    const summary = path.join(this.finalDir, '_summary.json');
    if (!existsSync(path.join(this.finalDir, '_SUCCESS')) || !existsSync(summary)) return false;
    return (JSON.parse(readFileSync(summary, 'utf8')) as RunSummaryFile).run_id === this.runId;
  }

  private cleanup(): void {
    rmSync(this.stagingDir, { recursive: true, force: true });
    const stagingRoot = path.dirname(this.stagingDir);
    try {
      rmdirSync(stagingRoot);
    } catch {
      // other runs still stage here
    }
  }
}
