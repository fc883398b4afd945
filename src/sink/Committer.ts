/**
 * The driver's half of the commit protocol (Spark's FileCommitProtocol), on a local or mounted path or
 * on HDFS (`webhdfs://…`), through a TableStore. Paths come from TableLayout. Methods are async
 * because the store may be remote.
 *
 * Call sequence: setupJob → (commitTask | abortTask)* → commitJob | abortJob.
 *   setupJob:   `_staging/<run>/committed/` exists.                       Readers: unchanged.
 *   commitTask: the winning attempt's part is renamed into `committed/`.  Readers: unchanged.
 *   commitJob:  (a) small parts are compacted into `_staging/<run>/compacted/` (before anything is
 *               visible), `_summary.json` and `_SUCCESS` written there;   Readers: unchanged.
 *               (b) that folder is renamed to the sealed version `model=m/_v/snapshot=d/<run>/`;
 *                                                                        Readers: unchanged.
 *               (c) the pointer `model=m/snapshot=d` is swapped to it (one rename of a link);
 *                                                                        Readers: the new snapshot.
 *               (d) older versions of that snapshot and the run's staging are removed.
 * Tasks may be retried and attempts may race; the first committed attempt per partition wins and
 * later ones are removed. Jobs are not retried but resumed: each step is idempotent and commitJob
 * starts from whatever state a dead driver left (staged, sealed, published), so `--resume` ends in
 * the same state. A published snapshot is never rewritten in place: a reader globbing
 * `model=*\/snapshot=*\/*.parquet` sees the old complete snapshot until (c) and the new complete one
 * after, whatever step a kill hits.
 * On WebHDFS (no links) step (c) renames the version to `model=m/snapshot=d`: atomic for a first
 * snapshot of that date; a replacement first moves the old folder aside, so between those two
 * renames a globbing reader sees no snapshot of that date (README, "Tables").
 */
import type { Logger } from 'pino';
import { partitionFileName, type PartCommitMessage, type RunPlanDir } from '../plan/manifest.js';
import { compactParts, DEFAULT_COMPACT_BELOW_BYTES, shouldCompact } from './compactSnapshot.js';
import { afterRename } from './faultHook.js';
import { joinLocation, parentLocation } from './location.js';
import { openTableStore } from './openTableStore.js';
import { TableLayout, type ResolvedSnapshot } from './TableLayout.js';
import type { TableStore } from './TableStore.js';

/** What changes a result besides the image bytes; an incremental run carries rows only across equal keys. */
export interface ResultKey {
  model_sha256: string;
  /** sha256 of the label list (one label a line), or null for an embedding model. */
  labels_sha256: string | null;
  /** sha256 of the card's `input` section (preprocessing). */
  input_sha256: string;
  /**
   * sha256 of the card's `output` section as the run applied it (a detector's effective `min_score`,
   * from `--min-score` or the card): activation, top_k, thresholds and NMS change rows too.
   * Absent in snapshots written before it existed (they never carry).
   */
  output_sha256?: string;
  max_pixels: number;
}

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
  /** The ONNX sha256 of the model. */
  model_sha256?: string;
  /** Everything besides the bytes that decides a row: an incremental run carries rows only from an equal key. */
  result_key?: ResultKey;
  /** The parts were compacted from this many files before publishing. */
  compacted_from_files?: number;
  /** The model card as it was when the snapshot was made (for exports and reports). */
  model_card?: Record<string, unknown>;
  /** `run --incremental`: images scored now, rows carried from `previous_snapshot`, rows dropped. */
  incremental?: { previous_snapshot: string | null; scored: number; carried_forward: number; dropped: number };
}

export type CommitState = 'published' | 'sealed' | 'staged' | 'missing';

export class Committer {
  readonly layout: TableLayout;
  readonly stagingDir: string;
  readonly committedDir: string;
  /** `model=<m>/snapshot=<d>`: the path readers use (a link to the current version, locally). */
  readonly finalDir: string;
  /** `model=<m>/_v/snapshot=<d>/<run>`: this run's sealed version. */
  readonly versionDir: string;

  constructor(
    readonly tableLocation: string,
    readonly runId: string,
    readonly model: string,
    readonly snapshot: string,
    private readonly log?: Logger,
    /** The filesystem of the table location. @defaultValue openTableStore(tableLocation) */
    readonly store: TableStore = openTableStore(tableLocation),
  ) {
    this.layout = new TableLayout(tableLocation);
    this.stagingDir = this.layout.runStaging(runId);
    this.committedDir = this.layout.committedDir(runId);
    this.finalDir = this.layout.snapshotPath(model, snapshot);
    this.versionDir = this.layout.versionDir(model, snapshot, runId);
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
    afterRename();
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
   * Add a local file (an incremental run's carried rows) as one more part of the run, before
   * commitJob. Idempotent (a resumed driver does not add it twice); does nothing once sealed.
   */
  async addPart(localFile: string, name: string): Promise<void> {
    if (!(await this.store.exists(this.committedDir))) return;
    const target = joinLocation(this.committedDir, name);
    if (await this.store.exists(target)) return;
    const tmp = joinLocation(this.committedDir, `.${name}.adding`);
    await this.store.upload(localFile, tmp);
    await this.store.rename(tmp, target);
  }

  /** Where the job stands: published (the pointer shows this run), sealed, staged, or nothing of it left. */
  async state(): Promise<CommitState> {
    const resolved = await this.layout.resolve(this.store, this.model, this.snapshot);
    if (await this.isOurs(resolved.dir)) return 'published';
    if (await this.store.exists(this.layout.successFile(this.versionDir))) return 'sealed';
    if (await this.store.exists(this.committedDir)) return 'staged';
    return 'missing';
  }

  /**
   * 3. Make the run visible (steps a–d of the class doc) and return true, or false if an earlier
   * call already published it (resume: only the cleanup is redone).
   * If this throws, readers see what they saw before unless the pointer swap (c) already happened;
   * `--resume` goes on from the state left. A run whose staging and version are both gone while
   * another run holds the snapshot is refused.
   */
  async commitJob(summary: RunSummaryFile, options: { compactBelow?: number; compactTargetBytes?: number } = {}): Promise<boolean> {
    const state = await this.state();
    if (state === 'published') {
      await this.cleanup();
      return false;
    }
    if (state === 'missing') {
      throw new Error(`Cannot commit run ${this.runId}: ${this.committedDir} is missing and ${this.finalDir} holds another run`);
    }
    if (state === 'staged') {
      let sealed = this.committedDir;
      let compacted: { compacted_from_files: number } | null = null;
      if (await shouldCompact(this.store, this.committedDir, options.compactBelow ?? DEFAULT_COMPACT_BELOW_BYTES)) {
        sealed = this.layout.compactedDir(this.runId);
        const r = await compactParts(this.store, this.committedDir, sealed, options.compactTargetBytes);
        compacted = { compacted_from_files: r.filesBefore };
        this.log?.info({ ...r }, 'compacted the parts before publishing');
      }
      await this.store.writeFile(this.layout.summaryFile(sealed), JSON.stringify({ ...summary, ...(compacted ?? {}) }, null, 2) + '\n');
      await this.store.writeFile(this.layout.successFile(sealed), '');
      await this.store.mkdirs(this.layout.versionsDir(this.model, this.snapshot));
      await this.store.remove(this.versionDir); // a version without _SUCCESS cannot be ours; be safe
      await this.renameOrExplain(sealed, this.versionDir, 'sealing');
    }
    await publishVersion(this.store, this.layout, this.model, this.snapshot, this.runId, this.log);
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

  /**
   * The run's output is sealed or published (its summary names this run id): nothing is left to
   * execute, only the pointer swap or registration may be missing.
   */
  async alreadyCommitted(): Promise<boolean> {
    const s = await this.state();
    return s === 'published' || s === 'sealed';
  }

  private async isOurs(dir: string | null): Promise<boolean> {
    if (dir === null || !(await this.store.exists(this.layout.successFile(dir)))) return false;
    const summary = await this.store.readFile(this.layout.summaryFile(dir));
    return summary !== null && (JSON.parse(summary.toString('utf8')) as RunSummaryFile).run_id === this.runId;
  }

  private async renameOrExplain(from: string, to: string, step: string): Promise<void> {
    try {
      await this.store.rename(from, to);
    } catch (e) {
      throw new Error(`Failed to rename ${from} to ${to} when ${step} run ${this.runId}: ${(e as Error).message}`);
    }
    afterRename();
  }

  private async cleanup(): Promise<void> {
    await removeOldVersions(this.store, this.layout, this.model, this.snapshot, this.log);
    await this.store.remove(this.stagingDir);
    // Fails (harmlessly) while other runs still stage here.
    await this.store.removeEmptyDir(parentLocation(this.stagingDir));
  }
}

/**
 * Point `model=<m>/snapshot=<d>` at the sealed version `version` (must exist with `_SUCCESS`).
 * Local: one atomic link swap. A plain folder already there (a table written before versions, once)
 * is first moved into `_v/` as version `legacy-<time>`: between those two renames the snapshot is
 * not visible. WebHDFS: the version folder is renamed into place; an older folder there is first
 * moved back into `_v/` (same gap). If this throws, the previous snapshot is still visible, or
 * (legacy/WebHDFS gap) lies in `_v/` and a `--resume` finishes the swap.
 */
export async function publishVersion(store: TableStore, layout: TableLayout, model: string, snapshot: string, version: string, log?: Logger): Promise<void> {
  const pointer = layout.snapshotPath(model, snapshot);
  const versionDir = layout.versionDir(model, snapshot, version);
  const current: ResolvedSnapshot = await layout.resolve(store, model, snapshot);
  if (current.kind === 'dir') {
    const aside = layout.versionDir(model, snapshot, `${store.supportsLinks ? 'legacy' : 'replaced'}-${Date.now()}`);
    await store.mkdirs(layout.versionsDir(model, snapshot));
    await store.rename(pointer, aside);
    afterRename();
    log?.warn({ pointer, aside }, 'moved a plain snapshot folder aside to publish a new version');
  }
  if (store.supportsLinks) {
    await store.replaceLink(pointer, layout.linkTarget(snapshot, version));
  } else {
    await store.rename(versionDir, pointer);
  }
  afterRename();
}

/** Remove every version of a snapshot the pointer does not show (superseded, or left by a kill). Best effort. */
export async function removeOldVersions(store: TableStore, layout: TableLayout, model: string, snapshot: string, log?: Logger): Promise<string[]> {
  const current = await layout.resolve(store, model, snapshot);
  const removed: string[] = [];
  for (const v of await layout.versions(store, model, snapshot)) {
    if (v === current.version) continue;
    const dir = layout.versionDir(model, snapshot, v);
    try {
      await store.remove(dir);
      removed.push(dir);
    } catch (e) {
      log?.warn({ err: e, dir }, 'could not remove an old version; `imgpipe table check --repair` removes it');
    }
  }
  // Empty after a WebHDFS publish (the version was renamed out) or when every version went.
  if (await store.removeEmptyDir(layout.versionsDir(model, snapshot))) await store.removeEmptyDir(parentLocation(layout.versionsDir(model, snapshot)));
  return removed;
}
