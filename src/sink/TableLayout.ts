/**
 * The one place that knows how a result table is laid out under its location. Everything else asks
 * here (the Committer, compaction, the lock, `imgpipe table`, incremental listing).
 *
 *   _lock.json                                       the writer's lock (TableLock)
 *   _staging/<run>/attempt-<p>-<a>/part-<p>.parquet  a task attempt's output
 *   _staging/<run>/committed/part-<p>.parquet        the winning attempts (commitTask)
 *   _staging/<run>/compacted/                        the compacted parts, before the version is sealed
 *   _staging/compact-<id>/                           `imgpipe compact`'s rewrite of a published version
 *   model=<m>/_v/snapshot=<d>/<version>/             a sealed version: parts, _summary.json, _SUCCESS
 *   model=<m>/snapshot=<d>                           what readers see: a symlink to `_v/snapshot=<d>/<version>`
 *                                                    (local); the folder itself (WebHDFS, no links)
 *
 * A reader globbing `<table>/model=*\/snapshot=*\/*.parquet` (hive_partitioning) follows the link and
 * gets `model` and `snapshot` from the link's path; `_v`, `_staging` and `.`-prefixed temp names never
 * match the glob. A `**` glob would also read the versions: don't.
 * A version id is the run id of the commit that sealed it, or `<run>.c<time>` for a compaction.
 */
import { joinLocation } from './location.js';
import type { TableStore } from './TableStore.js';

export interface ResolvedSnapshot {
  model: string;
  snapshot: string;
  /** `model=<m>/snapshot=<d>`: the path readers use and the catalog registers. */
  path: string;
  /** The folder holding the files (the link's target, or `path` itself), or null when the pointer is dangling or absent. */
  dir: string | null;
  /** The version the link points at; null for a plain folder (WebHDFS, or a table written before versions). */
  version: string | null;
  kind: 'link' | 'dir' | null;
}

const SNAPSHOT = /^snapshot=(\d{4}-\d{2}-\d{2})$/;

export class TableLayout {
  constructor(readonly tableLocation: string) {}

  get lockFile(): string {
    return joinLocation(this.tableLocation, '_lock.json');
  }
  get stagingRoot(): string {
    return joinLocation(this.tableLocation, '_staging');
  }
  runStaging(runId: string): string {
    return joinLocation(this.stagingRoot, runId);
  }
  committedDir(runId: string): string {
    return joinLocation(this.runStaging(runId), 'committed');
  }
  compactedDir(runId: string): string {
    return joinLocation(this.runStaging(runId), 'compacted');
  }
  modelDir(model: string): string {
    return joinLocation(this.tableLocation, `model=${model}`);
  }
  snapshotPath(model: string, snapshot: string): string {
    return joinLocation(this.modelDir(model), `snapshot=${snapshot}`);
  }
  versionsDir(model: string, snapshot: string): string {
    return joinLocation(this.modelDir(model), '_v', `snapshot=${snapshot}`);
  }
  versionDir(model: string, snapshot: string, version: string): string {
    return joinLocation(this.versionsDir(model, snapshot), version);
  }
  /** The link target, relative to the model folder (the table can be moved as a whole). */
  linkTarget(snapshot: string, version: string): string {
    return `_v/snapshot=${snapshot}/${version}`;
  }

  /** Models with a folder in the table, sorted. */
  async models(store: TableStore): Promise<string[]> {
    return (await store.list(this.tableLocation)).filter((n) => n.startsWith('model=')).map((n) => n.slice('model='.length));
  }

  /** Snapshot dates with a visible entry (link or folder) under the model, sorted. */
  async snapshots(store: TableStore, model: string): Promise<string[]> {
    return (await store.list(this.modelDir(model))).map((n) => SNAPSHOT.exec(n)?.[1]).filter((d): d is string => d !== undefined);
  }

  /** Snapshot dates that have versions folders (published or not), sorted. */
  async versionedSnapshots(store: TableStore, model: string): Promise<string[]> {
    return (await store.list(joinLocation(this.modelDir(model), '_v'))).map((n) => SNAPSHOT.exec(n)?.[1]).filter((d): d is string => d !== undefined);
  }

  async versions(store: TableStore, model: string, snapshot: string): Promise<string[]> {
    return (await store.list(this.versionsDir(model, snapshot))).filter((n) => !n.startsWith('.'));
  }

  /** Where `model=<m>/snapshot=<d>` points now. */
  async resolve(store: TableStore, model: string, snapshot: string): Promise<ResolvedSnapshot> {
    const p = this.snapshotPath(model, snapshot);
    const base = { model, snapshot, path: p };
    const target = store.supportsLinks ? await store.readLink(p) : null;
    if (target !== null) {
      const m = /^_v\/snapshot=[^/]+\/([^/]+)$/.exec(target);
      const dir = joinLocation(this.modelDir(model), target);
      return { ...base, kind: 'link', version: m?.[1] ?? null, dir: (await store.stat(dir)) === 'dir' ? dir : null };
    }
    const kind = await store.stat(p);
    return { ...base, kind: kind === 'dir' ? 'dir' : null, version: null, dir: kind === 'dir' ? p : null };
  }

  successFile(dir: string): string {
    return joinLocation(dir, '_SUCCESS');
  }
  summaryFile(dir: string): string {
    return joinLocation(dir, '_summary.json');
  }
}
