/**
 * The driver's half of the commit protocol (Spark's FileCommitProtocol), on a local or mounted path or
 * on HDFS (`webhdfs://…`), through a TableStore: the same steps either way (a folder rename is atomic
 * on both). Methods are async because the store may be remote.
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
import type { Logger } from 'pino';
import { partitionFileName, type PartCommitMessage, type RunPlanDir } from '../plan/manifest.js';
import { joinLocation, parentLocation } from './location.js';
import { openTableStore } from './openTableStore.js';
import type { TableStore } from './TableStore.js';

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
  /** Partitions that failed all their attempts (their rows are `partition_failed`), and why. */
  failed_partitions?: { partition: number; attempts: number; last_error: string }[];
  /** The ONNX sha256 of the model: an incremental run carries rows only from the same one. */
  model_sha256?: string;
  /** The model card as it was when the snapshot was made (for exports and reports). */
  model_card?: Record<string, unknown>;
  /** `run --incremental`: images scored now, rows carried from `previous_snapshot`, rows dropped. */
  incremental?: { previous_snapshot: string | null; scored: number; carried_forward: number; dropped: number };
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
    /** The filesystem of the table location. @defaultValue openTableStore(tableLocation) */
    readonly store: TableStore = openTableStore(tableLocation),
  ) {
    this.stagingDir = joinLocation(tableLocation, '_staging', runId);
    this.committedDir = joinLocation(this.stagingDir, 'committed');
    this.finalDir = joinLocation(tableLocation, `model=${model}`, `snapshot=${snapshot}`);
  }

  /** 1. Create the run's staging folders. Idempotent. */
  async setupJob(): Promise<void> {
    await this.store.mkdirs(this.committedDir);
  }

  /**
   * 2. Accept a finished attempt: move its part file into the run's committed folder and record the
   * partition as done. Returns false (and removes the attempt) when another attempt already won.
   * If this throws, the partition is not recorded as done and will run again.
   */
  async commitTask(message: PartCommitMessage, plan: RunPlanDir): Promise<boolean> {
    const target = joinLocation(this.committedDir, `${partitionFileName(message.partition)}.parquet`);
    const existing = plan.readDone(message.partition);
    if (existing && (await this.store.exists(existing.staged_path))) {
      await this.abortTask(parentLocation(message.staged_path));
      return false;
    }
    try {
      await this.store.rename(message.staged_path, target);
    } catch (e) {
      throw new Error(`Failed to rename ${message.staged_path} to ${target} when committing partition ${message.partition}: ${(e as Error).message}`);
    }
    plan.writeDone({ ...message, staged_path: target });
    await this.abortTask(parentLocation(message.staged_path));
    return true;
  }

  /** Remove an attempt's folder. Never throws: it must not hide the error that caused the abort. */
  async abortTask(attemptDir: string): Promise<void> {
    try {
      if (parentLocation(attemptDir) === this.stagingDir) await this.store.remove(attemptDir);
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
  async commitJob(summary: RunSummaryFile): Promise<boolean> {
    if (!(await this.store.exists(this.committedDir))) {
      if (await this.alreadyCommitted()) {
        await this.cleanup();
        return false;
      }
      throw new Error(`Cannot commit run ${this.runId}: ${this.committedDir} is missing and ${this.finalDir} holds another run`);
    }
    await this.store.writeFile(joinLocation(this.committedDir, '_summary.json'), JSON.stringify(summary, null, 2) + '\n');
    await this.store.writeFile(joinLocation(this.committedDir, '_SUCCESS'), '');
    await this.store.mkdirs(parentLocation(this.finalDir));
    const replaced = joinLocation(this.stagingDir, 'replaced');
    if ((await this.store.exists(this.finalDir)) && !(await this.alreadyCommitted())) {
      await this.store.remove(replaced);
      await this.store.rename(this.finalDir, replaced);
    }
    await this.store.rename(this.committedDir, this.finalDir);
    await this.cleanup();
    return true;
  }

  /** Abort the job: remove the run's staging. Best effort; logs and never throws. */
  async abortJob(): Promise<void> {
    try {
      await this.store.remove(this.stagingDir);
    } catch (e) {
      this.log?.warn({ err: e, dir: this.stagingDir }, 'could not remove staging folder');
    }
  }

  /** The visible snapshot was committed by this run (its summary names this run id). */
  async alreadyCommitted(): Promise<boolean> {
    if (!(await this.store.exists(joinLocation(this.finalDir, '_SUCCESS')))) return false;
    const summary = await this.store.readFile(joinLocation(this.finalDir, '_summary.json'));
    return summary !== null && (JSON.parse(summary.toString('utf8')) as RunSummaryFile).run_id === this.runId;
  }

  private async cleanup(): Promise<void> {
    await this.store.remove(this.stagingDir);
    // Fails (harmlessly) while other runs still stage here.
    await this.store.removeEmptyDir(parentLocation(this.stagingDir));
  }
}
