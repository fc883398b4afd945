/**
 * What travels through the queue, and under which names. One BullMQ job per partition manifest:
 *
 * - **Queue**: one shared queue (`--queue`, @defaultValue `imgpipe`) under the Redis key prefix
 *   `imgpipe`, so `imgpipe worker` on any node serves every run without knowing run ids. Runs are
 *   told apart by job id and job data.
 * - **Job id**: `<run_id>.part-00042` — deterministic, so adding the same partition twice (a
 *   restarted driver) is a no-op while the job is kept; BullMQ ids may not contain `:`.
 * - **Job data** (format 1): the run spec (run.json) and the partition manifest itself, so a worker
 *   on another host needs neither the driver's partitions folder nor its catalog; it opens the
 *   byte source and model card named in the spec.
 * - **Return value**: the attempt's PartCommitMessage (plain JSON).
 * - **Progress**: `{ images, total, worker }` while the attempt runs.
 */
import { z } from 'zod';
import { partitionFileName, partitionManifestSchema, runSpecSchema, type PartitionManifest, type RunSpec } from '../../plan/manifest.js';
import { invalidParameterError } from '../../util/is.js';

/** Redis key prefix of every imgpipe queue. */
export const QUEUE_PREFIX = 'imgpipe';
/** @defaultValue the queue name when `--queue` is not given. */
export const DEFAULT_QUEUE = 'imgpipe';

export const partitionJobDataSchema = z.strictObject({
  format: z.literal(1),
  run: runSpecSchema,
  manifest: partitionManifestSchema,
});
export type PartitionJobData = z.infer<typeof partitionJobDataSchema>;

export interface PartitionJobProgress {
  /** Images of the partition finished (ok or error) by the current attempt. */
  images: number;
  total: number;
  /** The worker's name (`--name`). */
  worker: string;
  /** The execution provider it runs on: `cpu` or `cuda`. */
  device: string;
}

export function partitionJobData(run: RunSpec, manifest: PartitionManifest): PartitionJobData {
  return { format: 1, run, manifest };
}

/** `<run_id>.part-00042` */
export function partitionJobId(runId: string, partition: number): string {
  return `${runId}.${partitionFileName(partition)}`;
}

/** The partition of one of this run's job ids, or null for another run's job. */
export function partitionOfJobId(runId: string, jobId: string): number | null {
  if (!jobId.startsWith(`${runId}.part-`)) return null;
  const rest = jobId.slice(runId.length + '.part-'.length);
  return /^\d{5,}$/.test(rest) ? Number(rest) : null;
}

/**
 * Check a queue name (`--queue`): it becomes part of Redis keys.
 * @throws {UsageError} anything but 1–64 letters, digits, `.`, `_`, `-`.
 */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw invalidParameterError('--queue', 'a queue name of 1 to 64 letters, digits, ".", "_" or "-"', name);
  return name;
}
