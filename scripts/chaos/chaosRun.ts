/**
 * One chaos run of the queue executor, with real processes: `workers` × `imgpipe worker` and one
 * driver (`imgpipe run --all --executor queue`), all the built CLI. While the run goes, every
 * 0.5–2 s (`killEveryMs`) a random worker that is in the middle of a partition is killed with SIGKILL (`kills`
 * times at most; a replacement starts each time), and
 * the driver is killed with SIGKILL once, after a few partitions are done, then restarted with
 * `--resume`. Optional infrastructure faults after that: Redis killed with SIGKILL and restarted
 * empty on the same port (`redisRestarts` times; the driver must ride through), and the table
 * location's filesystem filled to the last byte once (`diskFull`: the driver must exit 1 naming
 * ENOSPC, with no partition_failed rows; the space is freed and the run resumed). Then the
 * committed table is read back with DuckDB and checked against the selection:
 * lost (selected, not committed), duplicated (committed more than once), extra (committed, not
 * selected), and leftovers (staging folder, stray or missing files in the snapshot folder).
 * Every random choice (the waits, which worker dies) comes from `seed` (chaosSchedule.ts), so a
 * failing run can be replayed with the same choices.
 *
 * Used by test/queue.test.ts (small counts) and scripts/chaosQueue.ts (longer, for bench/RESULTS.md).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { chaosSchedule } from './chaosSchedule.js';
import { fillDisk } from './fillDisk.js';
import type { RedisServer } from './redisServer.js';

export interface ChaosOptions {
  /** The built CLI, `dist/src/cli/bin.js`. */
  cli: string;
  redis: RedisServer;
  /** Redis password in this file (the driver reads it with --redis-password-file). */
  passwordFile: string;
  warehouse: string;
  partitionsDir: string;
  queue: string;
  snapshot: string;
  /** @defaultValue 'quality-basic' */
  model?: string;
  partitionSize: number;
  /** @defaultValue 2 */
  batchSize?: number;
  /** Workers alive at any time. @defaultValue 3 */
  workers?: number;
  /** Worker kills (SIGKILL) during the run, at most. */
  kills: number;
  /** Time between kill attempts: uniform in [min, max] ms. @defaultValue [500, 2000] */
  killEveryMs?: [number, number];
  /** Workers' --lock-duration. @defaultValue 4000 */
  lockMs?: number;
  /** Kill the driver once (after `driverKillAfter` partitions are done) and resume it. @defaultValue true */
  killDriver?: boolean;
  /** @defaultValue a quarter of the partitions, at least 3 */
  driverKillAfter?: number;
  /** Drives every random choice (scripts/chaos/chaosSchedule.ts): the same seed, the same choices. */
  seed: number;
  /** Run every process with `--log-level debug` (for a post-mortem of `logs`). */
  debugLogs?: boolean;
  /** Redis SIGKILLs (each restarted empty, same port, after `redisOutageMs`), from a tenth of the partitions on. @defaultValue 0 */
  redisRestarts?: number;
  /** @defaultValue 1000 */
  redisOutageMs?: number;
  /**
   * A folder on a filesystem of its own (a tmpfs the caller mounted), used as `--table-location`;
   * filled once mid-run, after the Redis restarts. Absent: no disk-full fault.
   */
  diskFull?: { tableLocation: string };
}

export interface ChaosResult {
  runId: string;
  /** The seed of the run's random choices (`ChaosOptions.seed`). */
  seed: number;
  output: string;
  partitions: number;
  selected: number;
  workerKills: number;
  driverKills: number;
  lost: number;
  duplicated: number;
  extra: number;
  /** Partitions committed as partition_failed rows. */
  failedPartitions: number;
  /** Anything left behind: a staging folder, stray files, missing parts. Empty when clean. */
  leftovers: string[];
  /** Longest event-loop delay any worker reported while running a partition. */
  loopMaxMs: number;
  /** Partition attempts that workers started but never finished (killed mid-partition): work redone. */
  interruptedAttempts: number;
  /** Partitions that more than one attempt finished (killed between finishing and reporting, or a lost lock): harmless, the first committed wins. */
  finishedTwice: number;
  elapsedS: number;
  /** Redis SIGKILL + restarts done. */
  redisRestarts: number;
  /** Disk-full faults injected, and how many of them failed the run (exit 1, ENOSPC) before it was resumed. */
  diskFullFaults: number;
  diskFullFailures: number;
  /** The resumed driver's `--json` result. */
  result: Record<string, unknown>;
  /** `imgpipe status --json` taken while no driver ran (null if the driver was not killed). */
  midStatus: Record<string, unknown> | null;
  /** Every process's stderr, for a post-mortem. */
  logs: { name: string; stderr: string }[];
}

interface Proc {
  name: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

export async function chaosRun(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const procs: Proc[] = [];
  const start = (name: string, args: string[], env: Record<string, string> = {}): Proc => {
    const child = spawn(process.execPath, [o.cli, ...args], { env: { ...process.env, REDIS_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: Proc = { name, child, stdout: '', stderr: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
    child.stdout!.on('data', (d) => (proc.stdout += d));
    child.stderr!.on('data', (d) => (proc.stderr += d));
    procs.push(proc);
    return proc;
  };
  const redisArgs = ['--redis', `redis://127.0.0.1:${o.redis.port}`, '--redis-password-file', o.passwordFile, '--queue', o.queue];
  // No compaction after the commit: the check below wants the commit protocol's own output, one part per partition.
  const debug = o.debugLogs ? ['--log-level', 'debug'] : [];
  const driverArgs = ['--executor', 'queue', ...redisArgs, '--compact-below', '0', ...debug];
  const workers: Proc[] = [];
  let spawned = 0;
  const spawnWorker = () =>
    workers.push(start(`worker chaos-${++spawned}`, ['worker', '--queue', o.queue, '--threads', '1', '--name', `chaos-${spawned}`, '--lock-duration', String(o.lockMs ?? 4000), ...debug], { REDIS_URL: o.redis.url }));

  try {
    for (let i = 0; i < (o.workers ?? 3); i++) spawnWorker();
    let driver = start('driver', [
      'run', '--warehouse', o.warehouse, '--partitions-dir', o.partitionsDir, '--model', o.model ?? 'quality-basic', '--all',
      '--partition-size', String(o.partitionSize), '--batch-size', String(o.batchSize ?? 2), '--snapshot', o.snapshot, '--json', '--quiet', ...driverArgs,
      ...(o.diskFull ? ['--table-location', o.diskFull.tableLocation] : []),
    ]);
    const runId = await waitForRun(o.partitionsDir, o.snapshot, driver);
    const runDir = path.join(o.partitionsDir, runId);
    const partitions = JSON.parse(readFileSync(path.join(runDir, 'run.json'), 'utf8')).partitions as number;
    const doneCount = () => readdirSync(runDir).filter((f) => f.endsWith('.done.json')).length;

    let workerKills = 0;
    let driverKills = 0;
    let redisRestarts = 0;
    let diskFullFaults = 0;
    let diskFullFailures = 0;
    let filler: string | null = null;
    let lastFaultAt = 0;
    let doneAtResume = 0;
    let midStatus: Record<string, unknown> | null = null;
    const killDriver = o.killDriver ?? true;
    const schedule = chaosSchedule(o.seed, o.killEveryMs ?? [500, 2000]);
    for (;;) {
      while (alive(driver) || (killDriver && driverKills === 0 && !filler)) {
        await sleep(schedule.nextWaitMs());
        if (killDriver && driverKills === 0) {
          if (!alive(driver)) {
            if (filler) break; // failed on the full disk: resumed below, killed later
            throw new Error(`the run ended before its driver could be killed:\n${driver.stderr}`);
          }
          if (doneCount() >= (o.driverKillAfter ?? Math.max(3, Math.floor(partitions / 4)))) {
            driver.child.kill('SIGKILL');
            await driver.exited;
            driverKills++;
            const status = spawnSync(process.execPath, [o.cli, 'status', runId, '--partitions-dir', o.partitionsDir, '--json', ...redisArgs], { encoding: 'utf8' });
            if (status.status !== 0) throw new Error(`imgpipe status failed: ${status.stderr}`);
            midStatus = JSON.parse(status.stdout);
            driver = start('resumed driver', ['run', '--resume', runId, '--partitions-dir', o.partitionsDir, '--json', '--quiet', ...driverArgs]);
            lastFaultAt = Date.now();
            doneAtResume = doneCount();
            continue;
          }
        }
        // Infrastructure faults, one at a time, a few seconds apart, from a tenth of the partitions
        // on, while partitions are left and a driver is committing (not while a resumed one waits
        // for the dead one's lease): the Redis restarts, then the disk-full fault.
        const committing = alive(driver) && (driverKills === 0 || doneCount() > doneAtResume + 1);
        const faultsDue = committing && Date.now() - lastFaultAt > 3000 && doneCount() < partitions - 2 && doneCount() >= Math.max(2, Math.floor(partitions / 10));
        if (faultsDue && redisRestarts < (o.redisRestarts ?? 0)) {
          await o.redis.crash();
          await sleep(o.redisOutageMs ?? 1000);
          await o.redis.restart();
          redisRestarts++;
          lastFaultAt = Date.now();
          continue;
        }
        if (faultsDue && o.diskFull && diskFullFaults === 0 && redisRestarts >= (o.redisRestarts ?? 0)) {
          filler = fillDisk(o.diskFull.tableLocation);
          diskFullFaults++;
          lastFaultAt = Date.now();
          continue;
        }
        // Kill a worker in the middle of a partition (one that started an attempt it has not finished):
        // killing idle or still-starting workers tests little.
        const busy = workers.filter(alive).filter((w) => {
          const a = attemptsIn(w.stderr);
          return a.started.size > a.finished.size;
        });
        if (workerKills < o.kills && doneCount() < partitions && busy.length > 0) {
          busy[schedule.pickVictim(busy.length)]!.child.kill('SIGKILL');
          workerKills++;
          spawnWorker();
        }
      }
      const code = await driver.exited;
      if (filler) {
        // The disk was full: the run must have failed for it (or finished before it bit), never with rows.
        if (code !== 0 && !/No space left on device \(ENOSPC\)/.test(driver.stderr)) throw new Error(`with the disk full the driver exited ${code} without naming ENOSPC:\n${driver.stderr}`);
        rmSync(filler);
        filler = null;
        if (code !== 0) {
          diskFullFailures++;
          driver = start('driver resumed after disk full', ['run', '--resume', runId, '--partitions-dir', o.partitionsDir, '--json', '--quiet', ...driverArgs]);
          doneAtResume = doneCount();
          continue;
        }
      }
      if (code !== 0) throw new Error(`the resumed driver exited ${code}:\n${driver.stderr}`);
      if (killDriver && driverKills === 0) throw new Error(`the run ended before its driver could be killed:\n${driver.stderr}`);
      break;
    }
    const result = JSON.parse(driver.stdout) as Record<string, unknown>;
    const output = result.output as string;

    const check = await checkTable(o.warehouse, output);
    const leftovers: string[] = [];
    const expected = new Set(Array.from({ length: partitions }, (_, p) => `part-${String(p).padStart(5, '0')}.parquet`));
    for (const f of readdirSync(output)) if (!expected.delete(f) && f !== '_SUCCESS' && f !== '_summary.json') leftovers.push(`stray ${f}`);
    for (const f of expected) leftovers.push(`missing ${f}`);
    const staging = path.join(path.dirname(path.dirname(output)), '_staging');
    if (existsSync(staging)) {
      for (const f of readdirSync(staging, { recursive: true, encoding: 'utf8' })) leftovers.push(`staging ${path.join(staging, f)}`);
    }

    const attempts = workers.map((w) => attemptsIn(w.stderr, runId));
    const loopMaxMs = Math.max(0, ...attempts.map((a) => a.loopMaxMs));
    const interruptedAttempts = attempts.reduce((n, a) => n + [...a.started].filter((id) => !a.finished.has(id)).length, 0);
    const finishedPer = new Map<number, number>();
    for (const a of attempts) for (const p of a.finishedPartitions) finishedPer.set(p, (finishedPer.get(p) ?? 0) + 1);
    const finishedTwice = [...finishedPer.values()].filter((n) => n > 1).length;
    return {
      runId,
      seed: o.seed,
      output,
      partitions,
      selected: check.selected,
      workerKills,
      driverKills,
      lost: check.lost,
      duplicated: check.duplicated,
      extra: check.extra,
      failedPartitions: (result.failed_partitions as unknown[]).length,
      leftovers,
      loopMaxMs,
      interruptedAttempts,
      finishedTwice,
      elapsedS: (Date.now() - started) / 1000,
      result,
      midStatus,
      redisRestarts,
      diskFullFaults,
      diskFullFailures,
      logs: procs.map((p) => ({ name: p.name, stderr: p.stderr })),
    };
  } finally {
    for (const p of procs) if (alive(p)) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
  }
}

/**
 * The attempts a worker's stderr reports (`imgpipe worker` writes one line when an attempt starts
 * and one when it ends, synchronously, so they survive a SIGKILL right after).
 */
export function attemptsIn(stderr: string, runId?: string): { started: Set<string>; finished: Set<string>; finishedPartitions: number[]; loopMaxMs: number } {
  const started = new Set<string>();
  const finished = new Set<string>();
  const finishedPartitions: number[] = [];
  let loopMaxMs = 0;
  for (const line of stderr.split('\n')) {
    const m = /^partition (\d+) of (\S+): (?:started \(attempt (\S+)\)|\d+ rows \(attempt ([^,]+), [\d.]+ s, event loop max (\d+) ms\)|attempt (\S+) failed after)/.exec(line);
    if (!m || (runId !== undefined && m[2] !== runId)) continue;
    if (m[3]) started.add(m[3]);
    else {
      finished.add((m[4] ?? m[6])!);
      if (m[4]) finishedPartitions.push(Number(m[1]));
      if (m[5]) loopMaxMs = Math.max(loopMaxMs, Number(m[5]));
    }
  }
  return { started, finished, finishedPartitions, loopMaxMs };
}

async function waitForRun(partitionsDir: string, snapshot: string, driver: Proc): Promise<string> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (existsSync(partitionsDir)) {
      for (const d of readdirSync(partitionsDir)) {
        const file = path.join(partitionsDir, d, 'run.json');
        if (existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).snapshot === snapshot) return d;
      }
    }
    if (!alive(driver)) throw new Error(`the driver exited before planning:\n${driver.stderr}`);
    await sleep(20);
  }
  throw new Error('the run was not planned within 120 s');
}

/** Selected (all images of the warehouse) against committed rows, by DuckDB. */
async function checkTable(warehouse: string, output: string): Promise<{ selected: number; lost: number; duplicated: number; extra: number }> {
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`
      WITH selected AS (SELECT DISTINCT image_name FROM read_parquet(${q(path.join(warehouse, 'image', '*.parquet'))})),
           committed AS (SELECT image_name, count(*) AS n FROM read_parquet(${q(path.join(output, '*.parquet'))}) GROUP BY 1)
      SELECT (SELECT count(*) FROM selected)::INTEGER,
             (SELECT count(*) FROM selected s WHERE NOT EXISTS (SELECT 1 FROM committed c WHERE c.image_name = s.image_name))::INTEGER,
             (SELECT coalesce(sum(n - 1), 0) FROM committed)::INTEGER,
             (SELECT count(*) FROM committed c WHERE NOT EXISTS (SELECT 1 FROM selected s WHERE s.image_name = c.image_name))::INTEGER`);
    const [selected, lost, duplicated, extra] = reader.getRows()[0]!.map(Number) as [number, number, number, number];
    return { selected, lost, duplicated, extra };
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}
