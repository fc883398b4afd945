/**
 * Placement only: an Executor runs the pending partitions of a planned run somewhere (this process:
 * `LocalExecutor`; `imgpipe worker`s through Redis: `QueueExecutor`) and reports each partition's
 * outcome as it ends. It retries attempts itself (it knows how its workers die), but it neither
 * tracks what is done nor commits: the driver (`executePartitions`, called by runJob) owns done
 * records, the fold over commit messages and the failed-partition fallback, once for both.
 *
 * Call sequence (driver process): `execute(run, plan, pending, onOutcome)` → zero or more awaited
 * `onOutcome` calls, at most one per partition → `execute` resolves → `close()`.
 * `stop()` may be called at any time from a signal handler.
 *
 * Concurrency: `onOutcome` calls may overlap (several partitions end at once); the driver
 * serialises what needs it.
 */
import type { PartCommitMessage, RunPlanDir, RunSpec } from '../plan/manifest.js';
import type { InfrastructureError } from '../util/infraErrors.js';

/** How one partition ended, as the executor saw it. */
export type PartitionOutcome =
  /** An attempt wrote its part under staging; `message` is its commit message (not yet committed). */
  | { kind: 'finished'; partition: number; message: PartCommitMessage }
  /**
   * Poison: the partition failed every attempt for a reason of its own: it killed or stalled its
   * workers (a crash in native decode), or failed the same way each time. The driver writes its
   * images as `partition_failed` rows and the run still commits.
   */
  | { kind: 'poison'; partition: number; attempts: number; lastError: string }
  /**
   * The infrastructure failed under every attempt (disk full, I/O error, byte source or table store
   * unreachable). The driver stops the run without committing; `--resume` runs the partition again.
   */
  | { kind: 'infrastructure'; partition: number; attempts: number; error: InfrastructureError };

export interface Executor {
  /**
   * Run `pending` (partition numbers, none of them done) and report each one's outcome through
   * `onOutcome`, awaiting it: once it resolves the outcome is booked (its done record written) and
   * the executor may forget the partition (the queue removes its job). Resolves when every pending
   * partition was reported, or, after `stop()`, when the partitions in flight have ended (the rest
   * stay pending; the run is resumable).
   * If `onOutcome` rejects, the executor stops and `execute` rejects with that error.
   * If this throws otherwise (Redis gone for good, the driver lease lost), nothing is visible and
   * the run is resumable.
   */
  execute(run: RunSpec, plan: RunPlanDir, pending: readonly number[], onOutcome: (outcome: PartitionOutcome) => Promise<void>): Promise<void>;
  /** Schedule no more partitions; let those in flight end. Calling it twice is harmless. */
  stop(): void;
  readonly stopped: boolean;
  /** The execution providers that ran partitions (`cpu`, `cuda`), for the run summary. */
  readonly devices: ReadonlySet<string>;
  /** Release what the executor holds (model sessions, connections). Never throws; twice is harmless. */
  close(): Promise<void>;
}
