/**
 * The driver's half of execution, the same for every Executor: which partitions are done (done
 * records), the fold over the commit messages the executor reports (commitTask: first committed
 * attempt per partition wins), the failed-partition fallback (`partition_failed` rows for poison),
 * and the rule that infrastructure failures fail the run instead of becoming rows.
 *
 * Sequence: read done records → drop the untrusted ones (below) → `executor.execute(pending)` →
 * per outcome: finished → commitTask; poison → write partition_failed rows, commitTask;
 * infrastructure → remember it, stop the executor (partitions in flight still end and are committed
 * to staging, so a resume does not redo them) → after execute: throw RunFailedError if any partition
 * failed for infrastructure reasons. The caller then commits the job only when every partition is done
 * and nothing failed, so a failed run never replaces a good snapshot.
 *
 * Done records on resume: a record is trusted when its part file is still in staging and it is not a
 * failure record. A failure record (`failure`: the partition's rows are partition_failed) is not
 * trusted: its part file and record are removed and the partition runs again, so a cause that is gone
 * (a node that could not read the bytes, a disk that was full under an older imgpipe that wrote such
 * rows) costs nothing, and a partition that is still poison ends as partition_failed rows again.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { partitionFileName, type PartCommitMessage, type RunPlanDir, type RunSpec } from '../plan/manifest.js';
import type { Committer } from '../sink/Committer.js';
import { afterPartitionCommit, beforePartitionCommit } from '../sink/faultHook.js';
import { joinLocation } from '../sink/location.js';
import { createParquetPartWriter } from '../sink/parquetPartWriter.js';
import type { TableStore } from '../sink/TableStore.js';
import { withRemoteUpload } from '../sink/UploadingPartWriter.js';
import { asInfrastructureError, InfrastructureError } from '../util/infraErrors.js';
import type { Executor, PartitionOutcome } from './Executor.js';
import { attemptDir, writeFailedPartition } from './task.js';
import { withWriteDiagnosis } from './withWriteDiagnosis.js';

/**
 * The run failed because the infrastructure did (exit 1). Nothing was committed; what finished is
 * kept in staging and `imgpipe run --resume <run_id>` goes on once the cause is gone.
 */
export class RunFailedError extends Error {
  override readonly name = 'RunFailedError';
  readonly exitCode = 1;
  constructor(
    readonly runId: string,
    /** The first infrastructure failure (what ran out, where). */
    readonly error: InfrastructureError,
    /** Partitions that failed for infrastructure reasons. */
    readonly partitions: number[],
  ) {
    const where = partitions.length === 0 ? '' : ` (partition${partitions.length === 1 ? '' : 's'} ${partitions.join(', ')})`;
    super(`Run ${runId} failed: ${error.message}${where}; nothing was committed`, { cause: error });
  }
}

export interface ExecutePartitionsOptions {
  log?: Logger;
  /** Called for each done partition: `fresh` false for those done before this driver started. */
  onPartitionDone?: (message: PartCommitMessage, fresh: boolean) => void;
}

/** Done records of partitions whose part file is still in the run's staging (failure records too). */
export async function readDoneMessages(run: RunSpec, plan: RunPlanDir, store: TableStore): Promise<Map<number, PartCommitMessage>> {
  const done = new Map<number, PartCommitMessage>();
  for (let p = 0; p < run.partitions; p++) {
    const message = plan.readDone(p);
    if (message && (await store.exists(message.staged_path))) done.set(p, message);
  }
  return done;
}

/** The done records a resumed driver trusts: `readDoneMessages` without failure records. */
export async function trustedDoneMessages(run: RunSpec, plan: RunPlanDir, store: TableStore): Promise<Map<number, PartCommitMessage>> {
  const done = await readDoneMessages(run, plan, store);
  for (const [p, m] of done) if (m.failure) done.delete(p);
  return done;
}

/**
 * Run every partition not done through `executor` and commit each to staging. Returns the done
 * partitions' messages (all of them unless stopped) and whether the executor was stopped.
 * @throws {RunFailedError} a partition failed for infrastructure reasons (after the partitions in
 *   flight ended); any other error from committing or the executor (the run is resumable).
 */
export async function executePartitions(
  executor: Executor,
  run: RunSpec,
  plan: RunPlanDir,
  committer: Committer,
  options: ExecutePartitionsOptions = {},
): Promise<{ messages: Map<number, PartCommitMessage>; stopped: boolean }> {
  const { log } = options;
  const store = committer.store;
  const done = await readDoneMessages(run, plan, store);
  for (const [p, m] of done) {
    if (!m.failure) continue;
    log?.info({ partition: p, failure: m.failure }, `partition ${p} ended as partition_failed rows before (${m.failure.last_error}); running it again`);
    // File first, then record: a driver dying in between leaves a record without its file (ignored).
    await store.remove(m.staged_path);
    rmSync(plan.donePath(p), { force: true });
    done.delete(p);
  }
  for (const message of done.values()) options.onPartitionDone?.(message, false);
  const pending: number[] = [];
  for (let p = 0; p < run.partitions; p++) if (!done.has(p)) pending.push(p);

  const infrastructure: { partition: number; error: InfrastructureError }[] = [];
  // commitTask writes the done record; a full partitions folder must name the file it could not write.
  const planForCommit: RunPlanDir = Object.assign(Object.create(plan) as RunPlanDir, {
    writeDone(message: PartCommitMessage) {
      try {
        plan.writeDone(message);
      } catch (e) {
        throw asInfrastructureError(e, plan.donePath(message.partition)) ?? e;
      }
    },
  });
  const commit = async (message: PartCommitMessage) => {
    await beforePartitionCommit();
    let fresh: boolean;
    try {
      const target = joinLocation(committer.committedDir, `${partitionFileName(message.partition)}.parquet`);
      if (!plan.readDone(message.partition) && !(await store.exists(message.staged_path)) && (await store.exists(target))) {
        // A driver died between moving this attempt's file and writing its done record.
        planForCommit.writeDone({ ...message, staged_path: target });
        fresh = true;
      } else {
        fresh = await committer.commitTask(message, planForCommit);
      }
    } catch (e) {
      throw asInfrastructureError(e) ?? e;
    }
    const committed = plan.readDone(message.partition)!;
    done.set(message.partition, committed);
    log?.debug({ partition: message.partition, attempt: message.attempt, fresh }, `partition ${message.partition} committed`);
    options.onPartitionDone?.(committed, fresh);
    afterPartitionCommit();
  };
  const onOutcome = async (outcome: PartitionOutcome): Promise<void> => {
    if (done.has(outcome.partition)) return;
    switch (outcome.kind) {
      case 'finished':
        return commit(outcome.message);
      case 'poison': {
        log?.error(
          { run_id: run.run_id, partition: outcome.partition, attempts: outcome.attempts, last_error: outcome.lastError },
          `partition ${outcome.partition} failed ${outcome.attempts} attempt(s); its images become partition_failed rows. Last error: ${outcome.lastError}`,
        );
        const manifest = await plan.readManifest(outcome.partition);
        const attempt = `failed-${randomBytes(3).toString('hex')}`;
        const file = joinLocation(attemptDir(run.table_location, run.run_id, outcome.partition, attempt), `${partitionFileName(outcome.partition)}.parquet`);
        const openPartWriter = withWriteDiagnosis(withRemoteUpload((f) => createParquetPartWriter(f), store));
        let message: PartCommitMessage;
        try {
          message = await writeFailedPartition(manifest, { openPartWriter }, file, attempt, { attempts: outcome.attempts, last_error: outcome.lastError });
        } catch (e) {
          throw asInfrastructureError(e) ?? e;
        }
        return commit(message);
      }
      case 'infrastructure':
        log?.error({ run_id: run.run_id, partition: outcome.partition, attempts: outcome.attempts, err: outcome.error }, `partition ${outcome.partition} failed ${outcome.attempts} attempt(s): ${outcome.error.message}; the run stops after the partitions in flight`);
        infrastructure.push({ partition: outcome.partition, error: outcome.error });
        executor.stop();
        return;
    }
  };
  try {
    await executor.execute(run, plan, pending, onOutcome);
  } catch (e) {
    // A commit that failed on a full disk (the partitions folder, the table store) fails the run alike.
    const infra = asInfrastructureError(e);
    if (infra) throw new RunFailedError(run.run_id, infra, [...infrastructure.map((f) => f.partition)]);
    throw e;
  }
  if (infrastructure.length > 0) {
    throw new RunFailedError(run.run_id, infrastructure[0]!.error, infrastructure.map((f) => f.partition).sort((a, b) => a - b));
  }
  return { messages: done, stopped: executor.stopped };
}
