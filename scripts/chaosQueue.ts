/**
 * The longer chaos run of the queue executor (bench/RESULTS.md, "Queue executor under chaos"):
 * a private redis-server, a warehouse of `--copies` × the demo set, then `--runs` runs, each with workers killed
 * (SIGKILL) at random moments, its driver killed and resumed once, then Redis killed (SIGKILL) and
 * restarted empty `--redis-restarts` times, and the table location's disk filled once (a tmpfs per
 * run; skipped, with the reason printed, where mount is not allowed, or with `--no-disk-full`)
 * (scripts/chaos/chaosRun.ts). Prints, per run and in total: partitions, kills, faults, lost,
 * duplicated, extra, failed partitions and leftovers. Exits 1 if anything was lost, duplicated or
 * left behind, or a run failed.
 *
 * Seeds: run k (from 1) of `--seed S` uses seed S + k − 1 for its random choices
 * (scripts/chaos/chaosSchedule.ts); without `--seed` S is fresh. S is printed at the start, each run's
 * seed on its row's line before it, and a failing run's seed in its failure line, with the command
 * that replays that run alone (`--runs 1 --seed` its seed, the other flags as given).
 *
 *   npm run chaos -- [--runs 5] [--copies 10] [--kills 10] [--partition-size 20] [--workers 3]
 *                    [--lock-ms 4000] [--redis-restarts 1] [--no-disk-full] [--seed N]
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chaosRun, type ChaosResult } from './chaos/chaosRun.js';
import { chaosSeed, SEED_MAX } from './chaos/chaosSchedule.js';
import { makeChaosWarehouse } from './chaos/chaosWarehouse.js';
import { mountTmpfs, unmountTmpfs } from './chaos/fillDisk.js';
import { startRedis, redisUnavailable } from './chaos/redisServer.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'bin.js');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      copies: { type: 'string', default: '10' },
      kills: { type: 'string', default: '10' },
      'partition-size': { type: 'string', default: '20' },
      workers: { type: 'string', default: '3' },
      'lock-ms': { type: 'string', default: '4000' },
      'redis-restarts': { type: 'string', default: '1' },
      'no-disk-full': { type: 'boolean', default: false },
      seed: { type: 'string' },
    },
  });
  const int = (name: string, raw: string, min: number, max: number) => {
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`Expected integer between ${min} and ${max} for --${name} but received ${JSON.stringify(raw)}`);
    return v;
  };
  const runs = int('runs', values.runs, 1, 1000);
  const copies = int('copies', values.copies, 1, 1000);
  const kills = int('kills', values.kills, 0, 1000);
  const partitionSize = int('partition-size', values['partition-size'], 1, 1000);
  const workers = int('workers', values.workers, 1, 32);
  const lockMs = int('lock-ms', values['lock-ms'], 1000, 600_000);
  const redisRestarts = int('redis-restarts', values['redis-restarts'], 0, 100);
  const seed = chaosSeed(values.seed, '--seed');
  const runSeed = (i: number) => (seed + i) % (SEED_MAX + 1);
  /** The command that replays run i alone: the flags as given, `--runs 1` and its seed. */
  const replay = (i: number) => {
    const flags = process.argv.slice(2).filter((a, j, all) => !['--runs', '--seed'].includes(a) && !['--runs', '--seed'].includes(all[j - 1]!) && !/^--(runs|seed)=/.test(a));
    return `npm run chaos -- ${[...flags, '--runs', '1', '--seed', String(runSeed(i))].join(' ')}`;
  };

  const why = redisUnavailable();
  if (why) {
    process.stderr.write(`chaosQueue: ${why}\n`);
    return 2;
  }
  const cpu = (os.cpus()[0]?.model ?? 'unknown CPU').trim();
  process.stdout.write(`machine: ${os.availableParallelism()} cores (nproc ${execSync('nproc').toString().trim()}), ${cpu}, node ${process.version}\n`);
  process.stdout.write(`settings: ${runs} runs over ${copies} × the demo set, ${workers} workers, up to ${kills} worker kills, 1 driver kill, ${redisRestarts} Redis restarts and ${values['no-disk-full'] ? 'no' : '1'} disk-full fault per run, partition size ${partitionSize}, lock ${lockMs} ms, seed ${seed}\n`);

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-chaos-'));
  const redis = (await startRedis())!;
  const results: ChaosResult[] = [];
  const mounted: string[] = [];
  try {
    const passwordFile = path.join(tmp, 'redis-password');
    writeFileSync(passwordFile, redis.password + '\n');
    const warehouse = await makeChaosWarehouse(CLI, tmp, copies);
    process.stdout.write('run  partitions  worker kills  interrupted attempts  finished twice  driver kills  redis restarts  disk full (run failed)  lost  duplicated  extra  failed partitions  leftovers  loop max ms  seconds\n');
    for (let i = 0; i < runs; i++) {
      let diskFull: { tableLocation: string } | undefined;
      if (!values['no-disk-full']) {
        const tableLocation = path.join(tmp, `table-${i}`);
        const why = mountTmpfs(tableLocation, '32m');
        if (why) process.stdout.write(`run ${i + 1}: no disk-full fault: ${why}\n`);
        else {
          mounted.push(tableLocation);
          diskFull = { tableLocation };
        }
      }
      process.stdout.write(`run ${i + 1}: seed ${runSeed(i)}\n`);
      let r: ChaosResult;
      try {
        r = await chaosRun({
          redisRestarts,
          diskFull,
          cli: CLI,
          redis,
          passwordFile,
          warehouse,
          partitionsDir: path.join(tmp, 'partitions'),
          queue: `chaos-${i}`,
          snapshot: new Date(Date.UTC(2030, 0, 1 + i)).toISOString().slice(0, 10),
          partitionSize,
          workers,
          kills,
          lockMs,
          seed: runSeed(i),
        });
      } catch (e) {
        process.stdout.write(`run ${i + 1} (seed ${runSeed(i)}) FAILED: ${(e as Error).message}\nreplay it: ${replay(i)}\n`);
        throw e;
      }
      results.push(r);
      process.stdout.write(
        `${String(i + 1).padStart(3)}  ${String(r.partitions).padStart(10)}  ${String(r.workerKills).padStart(12)}  ${String(r.interruptedAttempts).padStart(20)}  ${String(r.finishedTwice).padStart(14)}  ${String(r.driverKills).padStart(12)}  ${String(r.redisRestarts).padStart(14)}  ${`${r.diskFullFaults} (${r.diskFullFailures})`.padStart(21)}  ${String(r.lost).padStart(4)}  ${String(r.duplicated).padStart(10)}  ${String(r.extra).padStart(5)}  ${String(r.failedPartitions).padStart(17)}  ${String(r.leftovers.length).padStart(9)}  ${String(r.loopMaxMs).padStart(11)}  ${r.elapsedS.toFixed(1).padStart(7)}\n`,
      );
      if (r.lost + r.duplicated + r.extra + r.leftovers.length > 0) {
        process.stdout.write(`run ${i + 1} (seed ${runSeed(i)}) FAILED: lost ${r.lost}, duplicated ${r.duplicated}, extra ${r.extra}, leftovers ${r.leftovers.length}; replay it: ${replay(i)}\n`);
      }
      for (const l of r.leftovers) process.stdout.write(`     leftover: ${l}\n`);
      for (const f of r.result.failed_partitions as { partition: number; attempts: number; last_error: string }[]) {
        process.stdout.write(`     failed partition ${f.partition} after ${f.attempts} attempts: ${f.last_error.split('\n')[0]}\n`);
      }
    }
  } finally {
    for (const dir of mounted) unmountTmpfs(dir);
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const sum = (f: (r: ChaosResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const bad = sum((r) => r.lost + r.duplicated + r.extra + r.leftovers.length);
  process.stdout.write(
    `total: ${results.length} runs, ${sum((r) => r.partitions)} partitions, ${sum((r) => r.selected)} images, ${sum((r) => r.workerKills)} worker kills (${sum((r) => r.interruptedAttempts)} mid-partition), ${sum((r) => r.driverKills)} driver kills, ${sum((r) => r.redisRestarts)} Redis restarts, ${sum((r) => r.diskFullFaults)} disk-full faults (${sum((r) => r.diskFullFailures)} failed the run, resumed), ${sum((r) => r.finishedTwice)} partitions finished twice; ` +
      `lost ${sum((r) => r.lost)}, duplicated ${sum((r) => r.duplicated)}, extra ${sum((r) => r.extra)}, failed partitions ${sum((r) => r.failedPartitions)}, leftovers ${sum((r) => r.leftovers.length)}; ` +
      `worst event-loop delay ${Math.max(...results.map((r) => r.loopMaxMs))} ms (lock ${lockMs} ms)\n`,
  );
  return bad === 0 ? 0 : 1;
}

process.exitCode = await main();
