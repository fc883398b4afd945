import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalog, ImageRef, Selection } from '../src/catalog/Catalog.js';
import { attemptDir } from '../src/exec/task.js';
import { RunPlanDir, type PartCommitMessage } from '../src/plan/manifest.js';
import { planRun } from '../src/plan/planRun.js';
import { Committer, type RunSummaryFile } from '../src/sink/Committer.js';
import { LocalTableStore } from '../src/sink/LocalTableStore.js';
import { TableLock } from '../src/sink/TableLock.js';
import { UsageError } from '../src/util/errors.js';
import { tempDir, waitFor } from './util/cli.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('imgpipe-commit-')));
afterEach(() => tmp.cleanup());

const RUN = 'run-1';
function stagedAttempt(table: string, partition: number, attempt: string, content: string, runId = RUN): PartCommitMessage {
  const dir = attemptDir(table, runId, partition, attempt);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `part-${String(partition).padStart(5, '0')}.parquet`);
  writeFileSync(file, content);
  return {
    run_id: runId, partition, attempt, staged_path: file, rows: 1, ok: 1, error: 0, bytes: content.length,
    error_reasons: {}, labels: {}, metrics: { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0, elapsed_ms: 0 },
  };
}
const summary = (runId = RUN): RunSummaryFile => ({
  run_id: runId, model: 'm-1', snapshot: '2026-01-01', table: 't', partitions: 2, selected: 2, ok: 2, error: 0,
  error_reasons: {}, labels: {}, committed_at: 'now', elapsed_s: 1,
});

describe('commit protocol', () => {
  it('the first committed attempt of a partition wins; a later one is removed', async () => {
    const table = path.join(tmp.dir, 't');
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan'));
    const c = new Committer(table, RUN, 'm-1', '2026-01-01');
    await c.setupJob();
    const a = stagedAttempt(table, 0, '1-aaaa', 'first');
    const b = stagedAttempt(table, 0, '2-bbbb', 'second');
    expect(await c.commitTask(a, plan)).toBe(true);
    expect(await c.commitTask(b, plan)).toBe(false);
    expect(readFileSync(path.join(c.committedDir, 'part-00000.parquet'), 'utf8')).toBe('first');
    expect(existsSync(path.dirname(a.staged_path))).toBe(false);
    expect(existsSync(path.dirname(b.staged_path))).toBe(false);
    expect(plan.readDone(0)!.staged_path).toBe(path.join(c.committedDir, 'part-00000.parquet'));
  });

  it('commitJob seals a version and points model=…/snapshot=… at it; a replacement moves the pointer and removes the old version', async () => {
    const table = path.join(tmp.dir, 't');
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan'));
    const first = new Committer(table, 'run-0', 'm-1', '2026-01-01');
    await first.setupJob();
    expect(await first.commitTask(stagedAttempt(table, 0, '1-z', 'old', 'run-0'), new RunPlanDir(path.join(tmp.dir, 'plan0')))).toBe(true);
    expect(await first.commitJob(summary('run-0'), { compactBelow: 0 })).toBe(true);
    const pointer = path.join(table, 'model=m-1', 'snapshot=2026-01-01');
    expect(readlinkSync(pointer)).toBe('_v/snapshot=2026-01-01/run-0');

    const c = new Committer(table, RUN, 'm-1', '2026-01-01');
    await c.setupJob();
    await c.commitTask(stagedAttempt(table, 0, '1-a', 'new0'), plan);
    await c.commitTask(stagedAttempt(table, 1, '1-b', 'new1'), plan);
    expect(await c.state()).toBe('staged');
    expect(await c.commitJob(summary(), { compactBelow: 0 })).toBe(true);
    expect(c.finalDir).toBe(pointer);
    expect(lstatSync(pointer).isSymbolicLink()).toBe(true);
    expect(readlinkSync(pointer)).toBe(`_v/snapshot=2026-01-01/${RUN}`);
    expect(readdirSync(pointer).sort()).toEqual(['_SUCCESS', '_summary.json', 'part-00000.parquet', 'part-00001.parquet']);
    expect(readFileSync(path.join(pointer, 'part-00000.parquet'), 'utf8')).toBe('new0');
    expect(readdirSync(path.join(table, 'model=m-1', '_v', 'snapshot=2026-01-01'))).toEqual([RUN]);
    expect(existsSync(path.join(table, '_staging'))).toBe(false);
    expect(await c.alreadyCommitted()).toBe(true);
    expect(await c.state()).toBe('published');
    // A resumed driver that runs commitJob again changes nothing.
    expect(await c.commitJob(summary(), { compactBelow: 0 })).toBe(false);
    expect(readFileSync(path.join(pointer, 'part-00001.parquet'), 'utf8')).toBe('new1');
  });

  it('a driver that died after sealing the version (before the pointer moved) finishes the swap on resume', async () => {
    const table = path.join(tmp.dir, 't');
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan'));
    const c = new Committer(table, RUN, 'm-1', '2026-01-01');
    await c.setupJob();
    await c.commitTask(stagedAttempt(table, 0, '1-a', 'new0'), plan);
    // Simulate the kill: summary and _SUCCESS written, committed/ renamed to the version, no pointer yet.
    writeFileSync(path.join(c.committedDir, '_summary.json'), JSON.stringify(summary()));
    writeFileSync(path.join(c.committedDir, '_SUCCESS'), '');
    mkdirSync(path.dirname(c.versionDir), { recursive: true });
    renameSync(c.committedDir, c.versionDir);
    expect(existsSync(c.finalDir)).toBe(false);
    expect(await c.state()).toBe('sealed');
    expect(await c.alreadyCommitted()).toBe(true); // nothing left to execute
    expect(await c.commitJob(summary(), { compactBelow: 0 })).toBe(true);
    expect(readFileSync(path.join(c.finalDir, 'part-00000.parquet'), 'utf8')).toBe('new0');
    expect(existsSync(c.stagingDir)).toBe(false);
  });

  it('a plain snapshot folder from before versions is moved into _v/ and replaced by the pointer', async () => {
    const table = path.join(tmp.dir, 't');
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan'));
    const old = path.join(table, 'model=m-1', 'snapshot=2026-01-01');
    mkdirSync(old, { recursive: true });
    writeFileSync(path.join(old, 'part-00007.parquet'), 'old, a part the new run does not have');
    const c = new Committer(table, RUN, 'm-1', '2026-01-01');
    await c.setupJob();
    await c.commitTask(stagedAttempt(table, 0, '1-a', 'new0'), plan);
    expect(await c.commitJob(summary(), { compactBelow: 0 })).toBe(true);
    expect(lstatSync(old).isSymbolicLink()).toBe(true);
    expect(readdirSync(old).sort()).toEqual(['_SUCCESS', '_summary.json', 'part-00000.parquet']);
    expect(readdirSync(path.join(table, 'model=m-1', '_v', 'snapshot=2026-01-01'))).toEqual([RUN]);
  });

  it('refuses to commit when its staged parts are gone and another run holds the snapshot', async () => {
    const table = path.join(tmp.dir, 't');
    const other = new Committer(table, 'run-0', 'm-1', '2026-01-01');
    await other.setupJob();
    await other.commitJob(summary('run-0'), { compactBelow: 0 });
    const c = new Committer(table, RUN, 'm-1', '2026-01-01');
    await expect(c.commitJob(summary())).rejects.toThrow(`Cannot commit run ${RUN}: ${c.committedDir} is missing and ${c.finalDir} holds another run`);
  });

  it('abortTask and abortJob never throw and are harmless twice', async () => {
    const c = new Committer(path.join(tmp.dir, 't'), RUN, 'm-1', '2026-01-01');
    await c.setupJob();
    const dir = attemptDir(c.tableLocation, RUN, 3, '1-x');
    await c.abortTask(dir);
    await c.abortTask(dir);
    await c.abortJob();
    await c.abortJob();
    expect(existsSync(c.stagingDir)).toBe(false);
  });
});


describe('table lock', () => {
  const store = new LocalTableStore();
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
  const staleHolder = () => {
    const at = new Date().toISOString();
    return JSON.stringify({ run_id: 'dead-run', pid: deadPid(), host: os.hostname(), started_at: at, heartbeat_at: at }) + '\n';
  };

  it('a held lock refuses another run, naming the holder; release removes only its own lock', async () => {
    const file = path.join(tmp.dir, 't', '_lock.json');
    const a = await TableLock.acquire(store, file, 'run-a');
    const b = TableLock.acquire(store, file, 'run-b');
    await expect(b).rejects.toBeInstanceOf(UsageError);
    await expect(b).rejects.toThrow(new RegExp(`^Table ${path.join(tmp.dir, 't')} is being written by run run-a \\(pid ${process.pid} on `));
    // Someone replaced the lock (by hand): release leaves theirs alone.
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), run_id: 'run-c', token: 'x' }));
    await a.release();
    await a.release();
    expect(JSON.parse(readFileSync(file, 'utf8')).run_id).toBe('run-c');
  });

  it('a stale lock (dead pid) is taken over by exactly one of ten concurrent contenders', async () => {
    for (let round = 0; round < 5; round++) {
      const file = path.join(tmp.dir, `t${round}`, '_lock.json');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, staleHolder());
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => TableLock.acquire(store, file, `run-${i}`)));
      const won = results.filter((r): r is PromiseFulfilledResult<TableLock> => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UsageError);
      expect(JSON.parse(readFileSync(file, 'utf8')).run_id).toBe(won[0]!.value.holder.run_id);
      expect(existsSync(`${file}.takeover`)).toBe(false);
      await won[0]!.value.release();
      expect(existsSync(file)).toBe(false);
    }
  });

  it('a heartbeat that finds the lock taken stops, and assertHeld refuses to publish', async () => {
    const file = path.join(tmp.dir, 't', '_lock.json');
    const lock = await TableLock.acquire(store, file, 'run-a', { heartbeatMs: 20 });
    await lock.assertHeld();
    const thief = { run_id: 'run-b', pid: 1, host: 'elsewhere', started_at: 'x', heartbeat_at: new Date().toISOString(), token: 't' };
    writeFileSync(file, JSON.stringify(thief));
    await waitFor('the heartbeat to find the lock taken', () => lock.lost || null, 10_000);
    // Five more beats' time: a heartbeat that went on would overwrite the thief (that nothing happens can only be waited for).
    await new Promise((r) => setTimeout(r, 100));
    expect(lock.lost).toBe(true);
    await expect(lock.assertHeld()).rejects.toThrow(`Lost the lock ${file} of run run-a: it is now held by run run-b (pid 1 on elsewhere); nothing was published by this run`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(thief); // the stopped heartbeat never overwrote it
    await lock.release();
    expect(existsSync(file)).toBe(true);
  });

  it('an unreadable lock counts as held, never as stale', async () => {
    const file = path.join(tmp.dir, 't', '_lock.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '');
    await expect(TableLock.acquire(store, file, 'run-a')).rejects.toThrow(`Table ${path.dirname(file)} is locked by ${file}, which cannot be read (being written, or damaged). If no run is writing, remove ${file}.`);
  });
});

/** A catalog over an in-memory list: the planner's only dependency, so its chunking can be checked exactly. */
class ListCatalog implements Catalog {
  constructor(private readonly names: string[]) {}
  async *select(_s: Selection, batchSize = 7): AsyncGenerator<ImageRef[]> {
    for (let i = 0; i < this.names.length; i += batchSize) {
      yield this.names.slice(i, i + batchSize).map((n, j) => ({ image_name: n, page_id: BigInt(2 ** 53) + BigInt(i + j), sha1: null }));
    }
  }
  async *selectLabels(): AsyncGenerator<{ image_name: string; label: string | null }[]> {
    throw new Error('ListCatalog has no labels');
  }
  describe(): string {
    return 'list';
  }
  async registerPartition(): Promise<void> {}
  close(): void {}
}

describe('planner', () => {
  const spec = (size: number) => ({
    run_id: RUN, selection: { kind: 'all' }, catalog: { kind: 'embedded' as const, warehouse: '/w' }, bytes: { kind: 'warehouse' as const, warehouseDir: '/w' },
    model: { name: 'm', version: '1', sha256: 'x', card: '/c', qualified: 'm-1' }, table: 't', table_location: '/w/t', snapshot: '2026-01-01',
    partition_size: size, options: { batch_size: 16, max_pixels: 1, device: 'cpu' },
  });

  it('streams the selection into manifests of partition_size, every image once, int64 ids intact', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `img_${i}.jpg`);
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan'));
    const run = await planRun(new ListCatalog(names), { kind: 'all' }, plan, spec(10));
    expect(run.partitions).toBe(3);
    expect(run.images).toBe(23);
    const manifests = await Promise.all([0, 1, 2].map((p) => plan.readManifest(p)));
    const all = manifests.flatMap((m) => m.images);
    expect(manifests.map((m) => m.images.length)).toEqual([10, 10, 3]);
    expect(manifests.map((m) => [m.run_id, m.partition])).toEqual([[RUN, 0], [RUN, 1], [RUN, 2]]);
    expect(all.map((r) => r.image_name)).toEqual(names);
    expect(all[22]!.page_id).toBe((BigInt(2 ** 53) + 22n).toString());
    expect(plan.readRun().partitions).toBe(3);
  });

  it('an empty selection is a usage error and leaves no plan behind', async () => {
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan-empty'));
    await expect(planRun(new ListCatalog([]), { kind: 'all' }, plan, spec(10))).rejects.toThrow('The selection matched no images; nothing to run (list).');
    expect(existsSync(plan.dir)).toBe(false);
  });

  it('a damaged manifest or a partition out of range is reported with its path', async () => {
    const plan = new RunPlanDir(path.join(tmp.dir, 'plan-bad'));
    await planRun(new ListCatalog(['a']), { kind: 'all' }, plan, spec(10));
    await expect(plan.readManifest(1)).rejects.toThrow(`Run ${RUN} has partitions 0 to 0; there is no partition 1`);
    writeFileSync(plan.manifestPath, 'not parquet');
    await expect(plan.readManifest(0)).rejects.toThrow(/^Cannot read partition manifest .*manifest\.parquet: /);
  });
});
