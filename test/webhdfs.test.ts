/**
 * Table stores against the WebHDFS test double (NameNode + DataNode on loopback): the REST calls,
 * the CREATE redirect, HDFS rename semantics made local, errors; then the commit protocol run the
 * same way on a local folder and on WebHDFS, with the same result.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptDir } from '../src/exec/task.js';
import { RunPlanDir, type PartCommitMessage } from '../src/plan/manifest.js';
import { Committer, type RunSummaryFile } from '../src/sink/Committer.js';
import { joinLocation, parentLocation, parseRemoteLocation, resolveLocation } from '../src/sink/location.js';
import { LocalTableStore } from '../src/sink/LocalTableStore.js';
import { openTableStore } from '../src/sink/openTableStore.js';
import { createParquetPartWriter } from '../src/sink/parquetPartWriter.js';
import type { ResultRow } from '../src/sink/resultRow.js';
import type { TableStore } from '../src/sink/TableStore.js';
import { withRemoteUpload } from '../src/sink/UploadingPartWriter.js';
import { TableLock } from '../src/sink/TableLock.js';
import { WebHdfsTableStore } from '../src/sink/WebHdfsTableStore.js';
import { closedPort, lit, query, tempDir } from './util/cli.js';
import { WebHdfsTestServer } from './util/webhdfsServer.js';

const tmp = tempDir('imgpipe-webhdfs-');
let hdfs: WebHdfsTestServer;
let store: WebHdfsTableStore;
beforeAll(async () => {
  hdfs = await WebHdfsTestServer.start(path.join(tmp.dir, 'hdfs'));
  store = new WebHdfsTableStore('analytics');
});
afterAll(async () => {
  await hdfs.close();
  tmp.cleanup();
});

describe('locations', () => {
  it('join and parent keep the URL, and are path.join/dirname for local paths', () => {
    expect(joinLocation('webhdfs://nn:9870/user/hive', '_staging', 'r1')).toBe('webhdfs://nn:9870/user/hive/_staging/r1');
    expect(parentLocation('webhdfs://nn:9870/user/hive/t')).toBe('webhdfs://nn:9870/user/hive');
    expect(resolveLocation('webhdfs://nn:9870/a//b/')).toBe('webhdfs://nn:9870/a/b');
    expect(joinLocation('/data/t', 'x')).toBe(path.join('/data/t', 'x'));
    expect(parentLocation('/data/t/x')).toBe('/data/t');
    expect(parseRemoteLocation('swebhdfs://nn:9871/p')).toEqual({ scheme: 'swebhdfs', authority: 'nn:9871', path: '/p' });
    for (const bad of ['hdfs://nn:8020/p', 'webhdfs://nn/p', 's3://bucket/p']) {
      expect(() => resolveLocation(bad)).toThrow(`Expected a local path or webhdfs://HOST:PORT/PATH for the table location but received ${JSON.stringify(bad)} of type string`);
    }
    expect(openTableStore('/x')).toBeInstanceOf(LocalTableStore);
    expect(openTableStore('webhdfs://nn:1/x', { hdfsUser: 'u' })).toBeInstanceOf(WebHdfsTableStore);
  });
});

describe('WebHdfsTableStore', () => {
  it('CREATE goes to the NameNode, follows its 307 to the DataNode, and the data lands', async () => {
    const at = hdfs.url('/t1/a/part.bin');
    const before = hdfs.requests.length;
    await store.writeFile(at, 'hello');
    expect(readFileSync(hdfs.local(at), 'utf8')).toBe('hello');
    expect(hdfs.requests.slice(before).map((r) => [r.server, r.method, r.op, r.status, r.user])).toEqual([
      ['namenode', 'PUT', 'CREATE', 307, 'analytics'],
      ['datanode', 'PUT', 'CREATE', 201, 'analytics'],
    ]);
    // Replacing a file, reading it back (OPEN redirects too), status and listing.
    await store.writeFile(at, new Uint8Array([1, 2, 3]));
    expect([...(await store.readFile(at))!]).toEqual([1, 2, 3]);
    expect(await store.readFile(hdfs.url('/t1/none'))).toBeNull();
    expect(await store.stat(at)).toBe('file');
    expect(await store.stat(hdfs.url('/t1/a'))).toBe('dir');
    expect(await store.stat(hdfs.url('/t1/none'))).toBeNull();
    expect(await store.list(hdfs.url('/t1/a'))).toEqual(['part.bin']);
    expect(await store.list(hdfs.url('/t1/none'))).toEqual([]);
  });

  it('uploads a local file by streaming it', async () => {
    const local = path.join(tmp.dir, 'big.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(local, data);
    await store.upload(local, hdfs.url('/t2/big.bin'));
    expect(readFileSync(hdfs.local(hdfs.url('/t2/big.bin'))).equals(data)).toBe(true);
  });

  it('rename: atomic move of files and folders; a file destination is replaced; a folder destination is refused, not moved into', async () => {
    await store.mkdirs(hdfs.url('/t3/src/deep'));
    await store.writeFile(hdfs.url('/t3/src/deep/f'), 'x');
    await store.rename(hdfs.url('/t3/src'), hdfs.url('/t3/dst'));
    expect(await store.list(hdfs.url('/t3'))).toEqual(['dst']);
    await store.writeFile(hdfs.url('/t3/f1'), 'one');
    await store.writeFile(hdfs.url('/t3/f2'), 'two');
    await store.rename(hdfs.url('/t3/f1'), hdfs.url('/t3/f2'));
    expect(readFileSync(hdfs.local(hdfs.url('/t3/f2')), 'utf8')).toBe('one');
    await store.mkdirs(hdfs.url('/t3/other'));
    await expect(store.rename(hdfs.url('/t3/dst'), hdfs.url('/t3/other'))).rejects.toThrow(`Cannot rename ${hdfs.url('/t3/dst')} to ${hdfs.url('/t3/other')}: the destination exists`);
    expect(await store.list(hdfs.url('/t3/other'))).toEqual([]);
    await expect(store.rename(hdfs.url('/t3/missing'), hdfs.url('/t3/m2'))).rejects.toThrow(
      `WebHDFS RENAME ${hdfs.url('/t3/missing')} to ${hdfs.url('/t3/m2')} returned false (the source or the destination's parent folder is missing)`,
    );
  });

  it('remove is recursive and quiet about missing paths; removeEmptyDir leaves a non-empty folder', async () => {
    await store.writeFile(hdfs.url('/t4/a/b'), 'x');
    expect(await store.removeEmptyDir(hdfs.url('/t4/a'))).toBe(false);
    expect(await store.exists(hdfs.url('/t4/a/b'))).toBe(true);
    await store.remove(hdfs.url('/t4/a'));
    await store.remove(hdfs.url('/t4/a'));
    expect(await store.exists(hdfs.url('/t4/a'))).toBe(false);
    expect(await store.removeEmptyDir(hdfs.url('/t4'))).toBe(true);
  });

  it('errors name the operation, the location and the server\'s RemoteException; an unreachable NameNode names host:port', async () => {
    hdfs.failNext('MKDIRS');
    await expect(store.mkdirs(hdfs.url('/t5'))).rejects.toThrow(`WebHDFS MKDIRS ${hdfs.url('/t5')} failed: HTTP 500 IOException: injected failure of MKDIRS`);
    await store.writeFile(hdfs.url('/t5/file'), 'x');
    await expect(store.mkdirs(hdfs.url('/t5/file'))).rejects.toThrow(`WebHDFS MKDIRS ${hdfs.url('/t5/file')} failed: HTTP 403 FileAlreadyExistsException: Path is not a directory: /t5/file`);
    const port = await closedPort();
    await expect(store.mkdirs(`webhdfs://127.0.0.1:${port}/x`)).rejects.toThrow(`WebHDFS MKDIRS webhdfs://127.0.0.1:${port}/x failed: cannot reach 127.0.0.1:${port} (ECONNREFUSED)`);
  });
});

describe('createExclusive', () => {
  it('creates a file with its content only if nothing is there (CREATE overwrite=false), on WebHDFS and locally', async () => {
    const local = new LocalTableStore();
    for (const [s, loc] of [[store, hdfs.url('/ex/_lock.json')], [local, path.join(tmp.dir, 'ex', '_lock.json')]] as const) {
      await s.mkdirs(parentLocation(loc));
      expect(await s.createExclusive(loc, 'first\n')).toBe(true);
      expect(await s.createExclusive(loc, 'second\n')).toBe(false);
      expect((await s.readFile(loc))!.toString('utf8')).toBe('first\n');
      await s.remove(loc);
      expect(await s.createExclusive(loc, 'third\n')).toBe(true);
      expect((await s.readFile(loc))!.toString('utf8')).toBe('third\n');
      expect(await s.list(parentLocation(loc))).toEqual(['_lock.json']); // no temp file left
    }
    expect(hdfs.requests.filter((r) => r.op === 'CREATE' && r.server === 'namenode' && r.path === '/ex/_lock.json').map((r) => r.status)).toEqual([307, 403, 307]);
  });

  it('of 10 concurrent exclusive creates on WebHDFS exactly one wins', async () => {
    const loc = hdfs.url('/ex/race.json');
    const won = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createExclusive(loc, `writer ${i}\n`)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect((await store.readFile(loc))!.toString('utf8')).toBe(`writer ${won.indexOf(true)}\n`);
  });
});

describe('table lock on WebHDFS', () => {
  it('a live lock refuses; a stale one (dead pid) is taken over by exactly one of five contenders', async () => {
    const file = hdfs.url('/locked/_lock.json');
    const held = await TableLock.acquire(store, file, 'run-live');
    await expect(TableLock.acquire(store, file, 'run-other')).rejects.toThrow(`Table ${hdfs.url('/locked')} is being written by run run-live (pid ${process.pid} on `);
    await held.release();
    expect(await store.exists(file)).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const at = new Date().toISOString();
    await store.writeFile(file, JSON.stringify({ run_id: 'dead-run', pid: dead, host: os.hostname(), started_at: at, heartbeat_at: at }));
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => TableLock.acquire(store, file, `run-${i}`)));
    const won = results.filter((r): r is PromiseFulfilledResult<TableLock> => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(JSON.parse((await store.readFile(file))!.toString('utf8')).run_id).toBe(won[0]!.value.holder.run_id);
    expect(await store.exists(`${file}.takeover`)).toBe(false);
    await won[0]!.value.release();
    expect(await store.list(hdfs.url('/locked'))).toEqual([]);
  });
});

describe('commit protocol on WebHDFS', () => {
  const RUN = 'run-1';
  const summary = (): RunSummaryFile => ({
    run_id: RUN, model: 'm-1', snapshot: '2026-01-01', table: 't', partitions: 2, selected: 2, ok: 2, error: 0, error_reasons: {}, labels: {}, committed_at: 'now', elapsed_s: 1,
  });
  const row = (name: string): ResultRow => ({
    image_name: name, page_id: 1n, sha1: null, status: 'ok', error: null, label: 'x', score: 0.5, top_k: [{ label: 'x', score: 0.5 }], embedding: null, width: 1, height: 1, run_id: RUN, processed_at: 0,
  });

  /** The whole protocol on one store: two partitions, a losing duplicate attempt, an older snapshot replaced. */
  async function protocol(table: string, s: TableStore, planDir: string, compactBelow = 0): Promise<Committer> {
    const plan = new RunPlanDir(planDir);
    const writers = withRemoteUpload((file) => createParquetPartWriter(file), s, tmp.dir);
    const old = joinLocation(table, 'model=m-1', 'snapshot=2026-01-01');
    await s.mkdirs(old);
    await s.writeFile(joinLocation(old, 'part-00009.parquet'), 'old');
    const c = new Committer(table, RUN, 'm-1', '2026-01-01', undefined, s);
    await c.setupJob();
    const stage = async (p: number, attempt: string): Promise<PartCommitMessage> => {
      const file = joinLocation(attemptDir(table, RUN, p, attempt), `part-0000${p}.parquet`);
      const w = writers(file);
      await w.write([row(`img_${p}.jpg`)]);
      const written = await w.close();
      return { run_id: RUN, partition: p, attempt, staged_path: written.path, rows: 1, ok: 1, error: 0, bytes: written.bytes, error_reasons: {}, labels: {}, metrics: { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0, elapsed_ms: 0 } };
    };
    expect(await c.commitTask(await stage(0, '1-a'), plan)).toBe(true);
    expect(await c.commitTask(await stage(0, '2-b'), plan)).toBe(false);
    expect(await c.commitTask(await stage(1, '1-c'), plan)).toBe(true);
    expect(await c.commitJob(summary(), { compactBelow })).toBe(true);
    expect(await c.commitJob(summary(), { compactBelow })).toBe(false);
    return c;
  }

  it('ends in the same committed table as on a local folder, with no staging left', async () => {
    const local = await protocol(path.join(tmp.dir, 'local-table'), new LocalTableStore(), path.join(tmp.dir, 'plan-local'));
    const remoteTable = hdfs.url('/warehouse/t');
    const before = hdfs.requests.length;
    const remote = await protocol(remoteTable, store, path.join(tmp.dir, 'plan-remote'));

    const listing = (dir: string) => readdirSync(dir).sort();
    expect(listing(hdfs.local(remote.finalDir))).toEqual(listing(local.finalDir));
    expect(listing(hdfs.local(remote.finalDir))).toEqual(['_SUCCESS', '_summary.json', 'part-00000.parquet', 'part-00001.parquet']);
    expect(await store.list(remoteTable)).toEqual(['model=m-1']);
    expect(existsSync(path.join(tmp.dir, 'local-table', '_staging'))).toBe(false);
    expect(await remote.alreadyCommitted()).toBe(true);
    // Parts were uploaded under a hidden name, then renamed into place; the reader sees the rows.
    const ops = hdfs.requests.slice(before);
    expect(ops.some((r) => r.op === 'CREATE' && r.server === 'datanode' && /\/\.part-00000\.parquet\.uploading-/.test(r.path))).toBe(true);
    const rows = await query(`SELECT image_name FROM read_parquet(${lit(path.join(hdfs.local(remote.finalDir), '*.parquet'))}) ORDER BY 1`);
    expect(rows.map((r) => r.image_name)).toEqual(['img_0.jpg', 'img_1.jpg']);
    expect(JSON.parse(readFileSync(path.join(hdfs.local(remote.finalDir), '_summary.json'), 'utf8')).run_id).toBe(RUN);
  });

  it('compacts small parts on WebHDFS before publishing (downloaded, compacted locally, uploaded into staging)', async () => {
    const remoteTable = hdfs.url('/warehouse/compacted');
    const c = await protocol(remoteTable, store, path.join(tmp.dir, 'plan-compact'), 32 * 2 ** 20);
    expect((await store.list(c.finalDir)).sort()).toEqual(['_SUCCESS', '_summary.json', 'part-0.parquet']);
    const rows = await query(`SELECT image_name FROM read_parquet(${lit(path.join(hdfs.local(c.finalDir), '*.parquet'))}) ORDER BY 1`);
    expect(rows.map((r) => r.image_name)).toEqual(['img_0.jpg', 'img_1.jpg']);
    expect(JSON.parse(readFileSync(path.join(hdfs.local(c.finalDir), '_summary.json'), 'utf8')).compacted_from_files).toBe(2);
    expect(await store.list(remoteTable)).toEqual(['model=m-1']);
    expect(await store.list(joinLocation(remoteTable, 'model=m-1'))).toEqual(['snapshot=2026-01-01']);
  });

  it('an aborted upload leaves nothing under the attempt', async () => {
    const writers = withRemoteUpload((file) => createParquetPartWriter(file), store, tmp.dir);
    const file = hdfs.url('/warehouse/u/_staging/r/attempt-00000-1/part-00000.parquet');
    hdfs.failNext('RENAME');
    const w = writers(file);
    await w.write([row('a.jpg')]);
    await expect(w.close()).rejects.toThrow('IOException: injected failure of RENAME');
    await w.abort();
    await w.abort();
    expect(await store.list(hdfs.url('/warehouse/u/_staging/r/attempt-00000-1'))).toEqual([]);
  });
});
