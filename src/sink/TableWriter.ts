/**
 * The table layer: everything that changes a result table goes through here, through its TableStore
 * only: the writer's lock, a run's staging and commit (Committer), compaction, dropping a snapshot,
 * and registration in the catalog. Paths come from TableLayout.
 *
 * Call sequence (a run, driver only):
 *   TableWriter.open (takes `_lock.json`, or refuses naming the holder)
 *   → committer(…) handed to the executors (setupJob, commitTask, abortTask)
 *   → publish(…): lock still ours? → carried part → Committer.commitJob (compact in staging, seal,
 *     swap the pointer) → registerPartition → close (releases the lock).
 * `imgpipe compact` and `imgpipe table drop-snapshot` open a TableWriter the same way, so they never
 * overlap a run. What a reader sees at each step is in the Committer's doc and the README ("Tables").
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { PartitionRegistration } from '../catalog/Catalog.js';
import { compactParts, DEFAULT_COMPACT_TARGET_BYTES, partFiles, type CompactResult } from './compactSnapshot.js';
import { Committer, publishVersion, removeOldVersions, type RunSummaryFile } from './Committer.js';
import { afterRename } from './faultHook.js';
import { joinLocation, parentLocation } from './location.js';
import { openTableStore } from './openTableStore.js';
import { TableLayout } from './TableLayout.js';
import { TableLock, type TableLockOptions } from './TableLock.js';
import type { TableStore } from './TableStore.js';

export interface PublishOptions {
  /** Compact when the parts average under this many bytes (0: never). @defaultValue 32 MiB */
  compactBelow?: number;
  /** A local Parquet file to add as one more part (an incremental run's carried rows). */
  carriedFile?: string;
  /** Registers the published snapshot (the run's catalog). Called after the pointer moved; idempotent. */
  register?: (registration: PartitionRegistration) => Promise<void>;
  /** The catalog's table name, for the registration. */
  table: string;
}

export class TableWriter {
  readonly layout: TableLayout;

  private constructor(
    readonly tableLocation: string,
    readonly store: TableStore,
    readonly lock: TableLock,
    private readonly log?: Logger,
  ) {
    this.layout = new TableLayout(tableLocation);
  }

  /**
   * Take the table's lock as `ownerId` (a run id, or `compact-<pid>` …).
   * @throws {UsageError} naming the holder when another live writer holds the table.
   */
  static async open(tableLocation: string, ownerId: string, options: { store?: TableStore; hdfsUser?: string; log?: Logger; lock?: TableLockOptions } = {}): Promise<TableWriter> {
    const store = options.store ?? openTableStore(tableLocation, { hdfsUser: options.hdfsUser });
    const layout = new TableLayout(tableLocation);
    const lock = await TableLock.acquire(store, layout.lockFile, ownerId, { log: options.log, ...options.lock });
    return new TableWriter(tableLocation, store, lock, options.log);
  }

  /** The commit protocol of one run on this table (what the executors call). */
  committer(runId: string, model: string, snapshot: string): Committer {
    return new Committer(this.tableLocation, runId, model, snapshot, this.log, this.store);
  }

  /**
   * Publish a run whose partitions are all committed, then register it. Idempotent (resume).
   * If this throws before the pointer swap, readers see the previous snapshot and `--resume` goes
   * on; after it, only registration is missing and `--resume` (or the next run) adds it.
   * @throws {Error} when the lock was lost: nothing is published.
   */
  async publish(committer: Committer, summary: RunSummaryFile, options: PublishOptions): Promise<boolean> {
    await this.lock.assertHeld();
    if (options.carriedFile) await committer.addPart(options.carriedFile, 'part-carried.parquet');
    const fresh = await committer.commitJob(summary, { compactBelow: options.compactBelow });
    await options.register?.({ table: options.table, model: committer.model, snapshot: committer.snapshot, location: committer.finalDir, runId: committer.runId });
    return fresh;
  }

  /**
   * `imgpipe compact`: rewrite a published snapshot's parts as a new version and move the pointer to
   * it; the old version is removed after. Readers see the old files or the new ones, never a mix.
   * Returns null when there is nothing to do (one part, or no such snapshot).
   * If this throws, the old version is still the visible one; a half-written new one is removed by
   * the next compaction, commit or `table check --repair`.
   */
  async compact(model: string, snapshot: string, targetBytes = DEFAULT_COMPACT_TARGET_BYTES): Promise<CompactResult | null> {
    await this.lock.assertHeld();
    const current = await this.layout.resolve(this.store, model, snapshot);
    if (current.dir === null || !(await this.store.exists(this.layout.successFile(current.dir)))) return null;
    if ((await partFiles(this.store, current.dir)).length < 2) return null;
    const summaryRaw = await this.store.readFile(this.layout.summaryFile(current.dir));
    const summary = summaryRaw ? (JSON.parse(summaryRaw.toString('utf8')) as RunSummaryFile) : null;
    const version = `${summary?.run_id ?? 'unknown'}.c${Date.now()}`;
    const staging = joinLocation(this.layout.stagingRoot, `compact-${Date.now()}-${randomBytes(3).toString('hex')}`);
    try {
      const r = await compactParts(this.store, current.dir, staging, targetBytes);
      if (summary) await this.store.writeFile(this.layout.summaryFile(staging), JSON.stringify({ ...summary, compacted_at: new Date().toISOString(), compacted_from_files: r.filesBefore }, null, 2) + '\n');
      await this.store.writeFile(this.layout.successFile(staging), '');
      await this.store.mkdirs(this.layout.versionsDir(model, snapshot));
      await this.store.rename(staging, this.layout.versionDir(model, snapshot, version));
      afterRename();
      await publishVersion(this.store, this.layout, model, snapshot, version, this.log);
      await removeOldVersions(this.store, this.layout, model, snapshot, this.log);
      return r;
    } finally {
      await this.store.remove(staging);
      await this.store.removeEmptyDir(this.layout.stagingRoot);
    }
  }

  /**
   * `imgpipe table drop-snapshot`: the pointer goes first (one unlink or folder rename: globbing
   * readers stop seeing the snapshot at once), then the registration, then the versions.
   * If this throws midway, `table check --repair` removes what is left (a dead registration, orphan versions).
   */
  async dropSnapshot(model: string, snapshot: string, unregister: () => Promise<void>): Promise<{ removed: boolean }> {
    await this.lock.assertHeld();
    const current = await this.layout.resolve(this.store, model, snapshot);
    let removed = false;
    if (current.kind !== null) {
      const aside = joinLocation(parentLocation(current.path), `.snapshot=${snapshot}.dropping-${randomBytes(3).toString('hex')}`);
      await this.store.rename(current.path, aside);
      afterRename();
      await this.store.remove(aside);
      removed = true;
    }
    await unregister();
    for (const v of await this.layout.versions(this.store, model, snapshot)) await this.store.remove(this.layout.versionDir(model, snapshot, v));
    await this.store.removeEmptyDir(this.layout.versionsDir(model, snapshot));
    await this.store.removeEmptyDir(parentLocation(this.layout.versionsDir(model, snapshot)));
    await this.store.removeEmptyDir(this.layout.modelDir(model));
    return { removed: removed || current.version !== null };
  }

  /** Release the lock. Idempotent; never throws. */
  async close(): Promise<void> {
    await this.lock.release();
  }
}
