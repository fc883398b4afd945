/**
 * Infrastructure faults through the CLI, with real parts: full disks (tmpfs mounts filled to the
 * last byte), an HTTP byte source whose server starts resetting connections, a redis-server killed
 * with SIGKILL and restarted empty on the same port, idle workers stopped with SIGTERM. Tables are
 * read back with DuckDB.
 *
 * - a full disk (table location, or partitions folder) fails the run with exit 1 and "No space left
 *   on device"; the good snapshot stays as it was; no partition_failed rows; `--resume` commits once
 *   the space is back;
 * - a byte source that goes away fails the run (exit 1), resumable, with no error rows for it;
 * - a queued run rides through a Redis restart and commits every image exactly once;
 * - an idle `imgpipe worker` exits at once on SIGTERM, Redis up or down;
 * - what counts as infrastructure (src/util/infraErrors.ts), branch by branch.
 * The poison case (partition_failed rows) is in test/queue.test.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillDisk, mountTmpfs as mount, unmountTmpfs } from '../scripts/chaos/fillDisk.js';
import { UsageError } from '../src/util/errors.js';
import { asInfrastructureError, diagnoseWriteFailure, InfrastructureError, infrastructureCode } from '../src/util/infraErrors.js';
import { CLI, imgpipe, imgpipeCollect, lit, query, tempDir, waitFor, copyDemoWarehouse } from './util/cli.js';
import { redisUnavailable, startRedis, type RedisServer } from './util/redisServer.js';

const COLUMNS = 'image_name, page_id, sha1, status, error, label, score, top_k, embedding, width, height';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tmp = tempDir('imgpipe-faults-');
const wh = path.join(tmp.dir, 'wh');
const mounts: string[] = [];

/** Mount a tmpfs (unmounted after all tests); returns why not, or null. */
function mountTmpfs(dir: string, size: string): string | null {
  const why = mount(dir, size);
  if (!why) mounts.push(dir);
  return why;
}

const rowsOf = (dir: string) => query(`SELECT ${COLUMNS}, run_id FROM read_parquet(${lit(path.join(dir, '*.parquet'))}) ORDER BY image_name`);
const withoutRunId = (rows: Record<string, unknown>[]) => rows.map(({ run_id: _run_id, ...rest }) => rest);
/** Rows with error partition_failed in any Parquet file under `dir` (snapshots and staging). */
const partitionFailedRows = async (dir: string) =>
  (await query(`SELECT count(*)::INTEGER AS n FROM read_parquet(${lit(path.join(dir, '**', '*.parquet'))}) WHERE error = 'partition_failed'`))[0]!.n;
const doneRecords = (plan: string) =>
  readdirSync(plan)
    .filter((f) => f.endsWith('.done.json'))
    .map((f) => JSON.parse(readFileSync(path.join(plan, f), 'utf8')) as { failure?: unknown; error_reasons: Record<string, number> });
const runIdFrom = (stderr: string) => /--resume (\S+)/.exec(stderr)?.[1] ?? null;

beforeAll(() => {
  copyDemoWarehouse(wh);
}, 120_000);

afterAll(() => {
  for (const dir of mounts.splice(0)) unmountTmpfs(dir);
  tmp.cleanup();
});

describe('a full disk', () => {
  const parts = path.join(tmp.dir, 'partitions');
  const run = (args: string[]) => imgpipe(['run', '--warehouse', wh, '--model', 'quality-basic', '--all', '--partition-size', '50', '--compact-below', '0', '--json', '--quiet', ...args]);

  it('under the table location fails the run with exit 1 and "No space left on device"; the good snapshot stays; no partition_failed rows; --resume commits', async (ctx) => {
    const table = path.join(tmp.dir, 'table-on-tmpfs');
    const why = mountTmpfs(table, '2m');
    if (why) {
      console.warn(`skipped: ${why}`);
      return ctx.skip();
    }
    const args = ['--partitions-dir', parts, '--table-location', table, '--snapshot', '2026-05-01'];
    const first = run(args);
    expect(first.code, first.stderr).toBe(0);
    const good = JSON.parse(first.stdout) as { run_id: string; output: string };
    const goodRows = await rowsOf(good.output);
    expect(goodRows.length).toBe(301);

    // The second run of the same snapshot fills the disk: 12 KiB are left, less than its parts need.
    const filler = fillDisk(table, 12 * 1024);
    const second = run(args);
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`No space left on device \\(ENOSPC\\) writing ${table}/_staging/`));
    // What the user is told names the cause; the parser's symptom stays in the logged cause chain only.
    const told = second.stderr.split('\n').filter((l) => l.startsWith('imgpipe:'));
    expect(told.join('\n')).toMatch(/No space left on device \(ENOSPC\)/);
    expect(told.join('\n')).not.toMatch(/Corrupt footer/);
    const runId = runIdFrom(second.stderr)!;
    expect(runId).not.toBe(good.run_id);

    // The good snapshot is intact: every image once, all the first run's rows; nothing became rows.
    expect(await rowsOf(good.output)).toEqual(goodRows);
    expect(new Set(goodRows.map((r) => r.run_id))).toEqual(new Set([good.run_id]));
    expect(JSON.parse(readFileSync(path.join(good.output, '_summary.json'), 'utf8')).run_id).toBe(good.run_id);
    expect(await partitionFailedRows(table)).toBe(0);
    expect(doneRecords(path.join(parts, runId)).filter((d) => d.failure !== undefined || d.error_reasons.partition_failed)).toEqual([]);

    // Space back: the resumed run commits a correct snapshot of its own.
    rmSync(filler);
    const resumed = imgpipe(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet', '--compact-below', '0']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result).toMatchObject({ run_id: runId, selected: 301, ok: 296, error: 5, failed_partitions: [], interrupted: false });
    const rows = await rowsOf(result.output);
    expect(new Set(rows.map((r) => r.run_id))).toEqual(new Set([runId]));
    expect(withoutRunId(rows)).toEqual(withoutRunId(goodRows));
    expect(existsSync(path.join(table, '_staging'))).toBe(false);
  }, 180_000);

  it('under the partitions folder fails the run with exit 1 naming the done record; nothing is committed; --resume commits', async (ctx) => {
    const planDir = path.join(tmp.dir, 'partitions-on-tmpfs');
    const why = mountTmpfs(planDir, '1m');
    if (why) {
      console.warn(`skipped: ${why}`);
      return ctx.skip();
    }
    const planned = imgpipe(['run', '--warehouse', wh, '--model', 'quality-basic', '--all', '--partition-size', '50', '--partitions-dir', planDir, '--snapshot', '2026-05-02', '--plan-only', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    const { run_id: runId } = JSON.parse(planned.stdout) as { run_id: string };
    const filler = fillDisk(planDir);
    const failed = imgpipe(['run', '--resume', runId, '--partitions-dir', planDir, '--json', '--quiet', '--compact-below', '0']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`No space left on device \\(ENOSPC\\) writing ${planDir}/${runId}/part-\\d{5}\\.done\\.json`));
    expect(failed.stderr).toContain(`imgpipe run --resume ${runId}`);
    const output = path.join(wh, 'classifications', 'model=quality-basic-1', 'snapshot=2026-05-02');
    expect(existsSync(output)).toBe(false);
    expect(await partitionFailedRows(path.join(wh, 'classifications'))).toBe(0);

    rmSync(filler);
    const resumed = imgpipe(['run', '--resume', runId, '--partitions-dir', planDir, '--json', '--quiet', '--compact-below', '0']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result).toMatchObject({ run_id: runId, output, selected: 301, ok: 296, error: 5, failed_partitions: [] });
    const rows = await rowsOf(output);
    expect(rows.length).toBe(301);
    expect(new Set(rows.map((r) => r.image_name)).size).toBe(301);
  }, 180_000);

  it('a write the Parquet layer reports as a corrupt footer, on a full filesystem, is diagnosed as ENOSPC; elsewhere it is left alone', async (ctx) => {
    const dir = path.join(tmp.dir, 'short-write');
    const why = mountTmpfs(dir, '256k');
    if (why) {
      console.warn(`skipped: ${why}`);
      return ctx.skip();
    }
    const file = path.join(dir, '_staging', 'r', 'attempt-00000-1-abc', 'part-00000.parquet');
    mkdirSync(path.dirname(file), { recursive: true });
    const corrupt = new Error('Parquet error: Corrupt footer');
    const filler = fillDisk(dir);
    const diagnosed = await diagnoseWriteFailure(corrupt, file);
    expect(diagnosed).toBeInstanceOf(InfrastructureError);
    expect((diagnosed as InfrastructureError).code).toBe('ENOSPC');
    expect((diagnosed as Error).message).toBe(`No space left on device (ENOSPC) writing ${file} (the filesystem is full; the writer failed with a short write)`);
    expect((diagnosed as Error).cause).toBe(corrupt);
    rmSync(filler);
    expect(await diagnoseWriteFailure(corrupt, file)).toBe(corrupt);
  });
});

describe('a byte source that goes away', () => {
  it("the warehouse's image_bytes unreadable fails the run (exit 1, nothing committed, no rows); back in place, --resume commits", async () => {
    const copy = path.join(tmp.dir, 'wh-bytes-gone');
    cpSync(wh, copy, { recursive: true });
    const parts = path.join(tmp.dir, 'bytes-gone-partitions');
    const planned = imgpipe(['run', '--warehouse', copy, '--model', 'quality-basic', '--all', '--partition-size', '50', '--partitions-dir', parts, '--snapshot', '2026-05-04', '--plan-only', '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    const { run_id: runId } = JSON.parse(planned.stdout) as { run_id: string };
    const bytesDir = path.join(copy, 'image_bytes');
    renameSync(bytesDir, `${bytesDir}.away`);
    const failed = imgpipe(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/The byte source failed \(EBYTESOURCE\) fetching 50 images: IO Error: No files found/);
    expect(failed.stderr).toContain(`imgpipe run --resume ${runId}`);
    const table = path.join(copy, 'classifications');
    expect(existsSync(path.join(table, 'model=quality-basic-1', 'snapshot=2026-05-04'))).toBe(false);
    expect(doneRecords(path.join(parts, runId))).toEqual([]);

    renameSync(`${bytesDir}.away`, bytesDir);
    const resumed = imgpipe(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ run_id: runId, selected: 301, ok: 296, error: 5, failed_partitions: [] });
    expect(await partitionFailedRows(table)).toBe(0);
  }, 120_000);

  it('an HTTP byte source resetting connections mid-run fails the run (exit 1), with no rows for it; --resume redoes what did not finish and distrusts failure records', async () => {
    const sharp = (await import('sharp')).default;
    const names = Array.from({ length: 40 }, (_, i) => `Img_${String(i).padStart(2, '0')}.png`);
    const bytes = new Map<string, Buffer>();
    for (let i = 0; i < names.length; i++) {
      bytes.set(names[i]!, await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: i * 6, g: 255 - i * 6, b: 128 } } }).png().toBuffer());
    }
    const hits = new Map<string, number>();
    let healthy = 20; // requests answered before the server starts resetting connections
    const server = http.createServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url!, 'http://x').pathname.replace(/^\/thumb\//, ''));
      if (healthy <= 0) return req.socket.destroy();
      healthy--;
      hits.set(name, (hits.get(name) ?? 0) + 1);
      res.writeHead(200, { 'content-type': 'image/png' }).end(bytes.get(name));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const httpWh = path.join(tmp.dir, 'http-wh');
      expect(imgpipe(['warehouse', 'init', '--warehouse', httpWh]).code).toBe(0);
      const parts = path.join(tmp.dir, 'http-partitions');
      const sql = names.map((n, i) => (i === 0 ? `SELECT '${n}' AS image_name` : `SELECT '${n}'`)).join(' UNION ALL ');
      const template = `http://127.0.0.1:${(server.address() as AddressInfo).port}/thumb/{name}`;
      const failed = await imgpipeCollect([
        'run', '--warehouse', httpWh, '--model', 'quality-basic', '--sql', sql, '--partition-size', '10', '--partitions-dir', parts, '--snapshot', '2026-05-03',
        '--bytes-url', template, '--bytes-retries', '1', '--bytes-concurrency', '4', '--json', '--quiet',
      ]);
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).toMatch(/The byte source failed \(EBYTESOURCE\)[^\n]*HTTP byte source: 10 of 10 requests failed/);
      const runId = runIdFrom(failed.stderr)!;
      const table = path.join(httpWh, 'classifications');
      expect(existsSync(path.join(table, 'model=quality-basic-1'))).toBe(false);
      // What finished before the source went is kept (only ok rows); nothing else became rows.
      const records = doneRecords(path.join(parts, runId));
      expect(records.length).toBe(2);
      expect(records.every((r) => r.failure === undefined && Object.keys(r.error_reasons).length === 0)).toBe(true);
      const staged = await query(`SELECT status, count(*)::INTEGER AS n FROM read_parquet(${lit(path.join(table, '**', '*.parquet'))}) GROUP BY ALL`);
      expect(staged).toEqual([{ status: 'ok', n: 20 }]);

      // A done record with `failure` (what an older imgpipe wrote for a partition that failed on
      // infrastructure: partition_failed rows) is not trusted on resume: that partition runs again.
      const [doneFile] = readdirSync(path.join(parts, runId)).filter((f) => f.endsWith('.done.json')).sort();
      const recordPath = path.join(parts, runId, doneFile!);
      const record = JSON.parse(readFileSync(recordPath, 'utf8'));
      const distrusted = (await query(`SELECT image_name FROM read_parquet(${lit(record.staged_path)}) ORDER BY 1`)).map((r) => r.image_name as string);
      expect(distrusted.length).toBe(10);
      writeFileSync(recordPath, JSON.stringify({ ...record, failure: { attempts: 3, last_error: 'Parquet error: Corrupt footer' } }));

      // The source is back: the resumed run fetches the 20 images not done and the 10 distrusted ones, each once.
      healthy = Number.MAX_SAFE_INTEGER;
      const before = new Map(hits);
      const resumed = await imgpipeCollect(['run', '--resume', runId, '--partitions-dir', parts, '--json', '--quiet']);
      expect(resumed.code, resumed.stderr).toBe(0);
      const result = JSON.parse(resumed.stdout);
      expect(result).toMatchObject({ run_id: runId, selected: 40, ok: 40, error: 0, failed_partitions: [] });
      const rows = await rowsOf(result.output);
      expect(rows.map((r) => r.image_name)).toEqual(names);
      const fetchedAgain = (n: string) => (hits.get(n) ?? 0) - (before.get(n) ?? 0);
      expect(names.filter((n) => fetchedAgain(n) !== (before.has(n) && !distrusted.includes(n) ? 0 : 1))).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 180_000);
});

const unavailable = redisUnavailable();
if (unavailable) console.warn(`test/execFaults.test.ts: Redis tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('Redis faults', () => {
  const parts = path.join(tmp.dir, 'queue-partitions');
  const passwordFile = path.join(tmp.dir, 'redis-password');
  let redis: RedisServer;
  let baseline: Record<string, unknown>[];
  const children: ChildProcess[] = [];

  interface Proc {
    child: ChildProcess;
    stdout: string;
    stderr: string;
    exited: Promise<number | null>;
  }
  const start = (args: string[], env: Record<string, string> = {}): Proc => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, REDIS_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const proc: Proc = { child, stdout: '', stderr: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
    child.stdout!.on('data', (d) => (proc.stdout += d));
    child.stderr!.on('data', (d) => (proc.stderr += d));
    return proc;
  };
  const startWorker = (name: string, queue: string) => start(['worker', '--queue', queue, '--threads', '1', '--name', name, '--lock-duration', '4000'], { REDIS_URL: redis.url });
  const exitWithin = (p: Proc, ms: number) => Promise.race([p.exited, sleep(ms).then(() => 'still running' as const)]);

  beforeAll(async () => {
    redis = (await startRedis())!;
    writeFileSync(passwordFile, `${redis.password}\n`);
    const local = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--partition-size', '10', '--snapshot', '2026-06-01', '--json', '--quiet']);
    expect(local.code, local.stderr).toBe(0);
    baseline = await query(`SELECT ${COLUMNS} FROM read_parquet(${lit(path.join(JSON.parse(local.stdout).output, '*.parquet'))}) ORDER BY image_name`);
    expect(baseline.length).toBe(301);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await redis?.stop();
  });

  it('a queued run rides through a Redis SIGKILL and restart (same port, empty): it takes its lease again, queues the lost jobs again, commits every image exactly once', async () => {
    const queue = 'restart';
    const workers = [startWorker('restart-a', queue), startWorker('restart-b', queue)];
    const driver = start([
      'run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--partition-size', '10', '--snapshot', '2026-06-02', '--json', '--quiet', '--compact-below', '0',
      '--executor', 'queue', '--redis', `redis://127.0.0.1:${redis.port}`, '--redis-password-file', passwordFile, '--queue', queue,
    ]);
    const runId = await waitFor('the run to be planned', () =>
      existsSync(parts) ? readdirSync(parts).find((d) => existsSync(path.join(parts, d, 'run.json')) && JSON.parse(readFileSync(path.join(parts, d, 'run.json'), 'utf8')).snapshot === '2026-06-02') : null,
    );
    await waitFor('3 partitions done', () => (readdirSync(path.join(parts, runId)).filter((f) => f.endsWith('.done.json')).length >= 3 ? true : null));
    // An outage, not a wait: Redis comes back empty however long it was gone, which is what the
    // assertions below are about; 1.5 s lets the clients see it go and reconnect.
    await redis.crash();
    await sleep(1500);
    await redis.restart();

    expect(await driver.exited, driver.stderr).toBe(0);
    const result = JSON.parse(driver.stdout);
    expect(result).toMatchObject({ run_id: runId, selected: 301, ok: 296, error: 5, interrupted: false, partitions: 31, failed_partitions: [] });
    expect(driver.stderr).toMatch(/Redis had lost the driver lease \(restarted without persistence\?\); took it again/);
    expect(driver.stderr).toMatch(/its job vanished from Redis/);
    const rows = await query(`SELECT ${COLUMNS} FROM read_parquet(${lit(path.join(result.output, '*.parquet'))}) ORDER BY image_name`);
    expect(rows).toEqual(baseline);
    const expected = Array.from({ length: 31 }, (_, p) => `part-${String(p).padStart(5, '0')}.parquet`);
    expect(readdirSync(result.output).sort()).toEqual([...expected, '_SUCCESS', '_summary.json'].sort());
    expect(existsSync(path.join(wh, 'classifications', '_staging'))).toBe(false);
    // The workers rode through too, and still stop cleanly.
    // Idle by now: they exit within the 500 ms close cap; 10 s still fails a worker that ignores SIGTERM.
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await exitWithin(w, 10_000)).toBe(0);
  }, 180_000);

  it('a full disk under queue workers fails the run (exit 1), never partition_failed rows; the resumed run queues the failed jobs afresh and commits', async (ctx) => {
    const table = path.join(tmp.dir, 'queue-table-on-tmpfs');
    const why = mountTmpfs(table, '2m');
    if (why) {
      console.warn(`skipped: ${why}`);
      return ctx.skip();
    }
    const queue = 'full';
    const queueArgs = ['--executor', 'queue', '--redis', `redis://127.0.0.1:${redis.port}`, '--redis-password-file', passwordFile, '--queue', queue, '--compact-below', '0', '--json', '--quiet'];
    const filler = fillDisk(table, 12 * 1024);
    const workers = [startWorker('full-a', queue), startWorker('full-b', queue)];
    const driver = start(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--partition-size', '50', '--snapshot', '2026-06-03', '--table-location', table, ...queueArgs]);
    expect(await driver.exited, driver.stderr).toBe(1);
    expect(driver.stderr).toMatch(new RegExp(`No space left on device \\(ENOSPC\\) writing ${table}/_staging/`));
    const runId = runIdFrom(driver.stderr)!;
    expect(driver.stderr).toContain(`--executor queue --redis redis://:***@127.0.0.1:${redis.port} --queue ${queue}`);
    expect(existsSync(path.join(table, 'model=quality-basic-1'))).toBe(false);
    expect(doneRecords(path.join(parts, runId)).filter((d) => d.failure !== undefined)).toEqual([]);

    rmSync(filler);
    const resumed = start(['run', '--resume', runId, '--partitions-dir', parts, ...queueArgs]);
    expect(await resumed.exited, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result).toMatchObject({ run_id: runId, selected: 301, ok: 296, error: 5, failed_partitions: [] });
    const rows = await query(`SELECT ${COLUMNS} FROM read_parquet(${lit(path.join(result.output, '*.parquet'))}) ORDER BY image_name`);
    expect(rows).toEqual(baseline);
    expect(await partitionFailedRows(table)).toBe(0);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await exitWithin(w, 10_000)).toBe(0);
  }, 180_000);

  it('an idle worker exits 0 within seconds of SIGTERM, with Redis up and with Redis gone', async () => {
    const ready = (p: Proc) => waitFor('the worker to wait for partitions', () => (p.stderr.includes('waiting for partitions') ? true : null), 60_000);
    // The worker gives up closing after 500 ms (IDLE_CLOSE_MS); 3 s catches waiting out BullMQ's 5 s
    // blocking wait (drainDelay) or a reconnect loop to a dead Redis (forever), with 6× room over the cap.
    const up = startWorker('idle-up', 'idle');
    await ready(up);
    up.child.kill('SIGTERM');
    expect(await exitWithin(up, 3000), up.stderr).toBe(0);

    const down = startWorker('idle-down', 'idle');
    await ready(down);
    await redis.crash();
    // SIGTERM once the worker is reconnecting to the dead Redis (it logs each refused connect).
    await waitFor('the worker to find Redis gone', () => (down.stderr.includes('queue worker: connect ECONNREFUSED') ? true : null), 30_000);
    down.child.kill('SIGTERM');
    expect(await exitWithin(down, 3000), down.stderr).toBe(0);
    expect(down.stderr).toMatch(/idle; stopping now/);
    await redis.restart();
  }, 180_000);
});

describe('infrastructure error classification', () => {
  const errno = (code: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code, ...extra });

  it('by code, through cause chains and AggregateErrors, naming the path', () => {
    const enospc = errno('ENOSPC', "ENOSPC: no space left on device, open '/t/x.tmp'", { path: '/t/x.tmp' });
    expect(infrastructureCode(enospc)).toBe('ENOSPC');
    expect(asInfrastructureError(enospc)!.message).toBe("No space left on device (ENOSPC) at /t/x.tmp: ENOSPC: no space left on device, open '/t/x.tmp'");
    expect(asInfrastructureError(enospc, '/t/part.parquet')!.message).toMatch(/^No space left on device \(ENOSPC\) writing \/t\/part\.parquet: /);
    expect(infrastructureCode(new Error('Failed to rename a to b', { cause: errno('EIO', 'EIO: i/o error, rename') }))).toBe('EIO');
    expect(infrastructureCode(new AggregateError([new Error('x'), errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1')]))).toBe('ECONNREFUSED');
    expect(infrastructureCode(new TypeError('fetch failed', { cause: errno('UND_ERR_SOCKET', 'other side closed') }))).toBe('UND_ERR_SOCKET');
  });

  it('by message, for errors that crossed a process boundary (a BullMQ failedReason)', () => {
    expect(infrastructureCode('No space left on device (ENOSPC) writing /t/part.parquet: …')).toBe('ENOSPC');
    expect(infrastructureCode('IO Error: Could not write file "/t/x": Disk quota exceeded')).toBe('EDQUOT');
    expect(infrastructureCode('EROFS: read-only file system, open')).toBe('EROFS');
    expect(infrastructureCode('socket hang up')).toBe('ECONNRESET');
    expect(infrastructureCode('HTTP byte source: 9 of 10 requests failed (first: A.jpg: HTTP 503 after 5 tries)')).toBe('EBYTESOURCE');
    expect(infrastructureCode('The byte source failed (EBYTESOURCE) fetching 5 images: read ECONNRESET')).toBe('EBYTESOURCE');
    expect(infrastructureCode('connect ETIMEDOUT 10.0.0.1:9870')).toBe('ETIMEDOUT');
  });

  it('anything else is not infrastructure, nor is a UsageError (it keeps exit 2)', () => {
    for (const e of [new Error('Parquet error: Corrupt footer'), new Error('job stalled more than allowable limit'), errno('ENOENT', 'ENOENT: no such file'), 'partition 3: 19 rows for 20 images', null, undefined]) {
      expect(infrastructureCode(e)).toBeNull();
      expect(asInfrastructureError(e)).toBeNull();
    }
    expect(asInfrastructureError(new UsageError('Cannot reach Redis at 127.0.0.1:1 within 5 s (ECONNREFUSED)'))).toBeNull();
    const already = new InfrastructureError('EIO', 'Input/output error (EIO) at /t');
    expect(asInfrastructureError(already)).toBe(already);
  });
});
