/**
 * `imgpipe worker`: one queue worker process (run one per GPU, or a few per CPU node). Checks Redis
 * first (exit 2 on a wrong password or an unreachable server), then takes partition jobs from the
 * queue until stopped. SIGINT/SIGTERM: with nothing in flight, exit 0 at once, whether Redis is
 * reachable or not (the connections are dropped, not drained: systemd and Kubernetes do not wait out
 * their stop timeout); with partitions in flight, finish them, then exit 0 (a second signal exits at
 * once; the jobs in flight are picked up by other workers once their lock expires).
 */
import os from 'node:os';
import { Command } from 'commander';
import type { AttemptEvent } from '../exec/queue/QueueWorker.js';
import type { Device } from '../model/ModelSession.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import type { TopologyChoice } from '../exec/scoring/openScorer.js';
import { getLogger, setLogLevel } from '../util/log.js';
import { queueNameOption, redisPasswordFileOption, redisUrlOption, resolveQueueFlags, type RedisFlags } from './redisOptions.js';
import { choiceOption } from './choiceOption.js';

interface WorkerFlags extends RedisFlags {
  concurrency: string;
  device: Device;
  threads?: string;
  topology: string;
  inferenceThreads?: string;
  modelsDir: string[];
  name?: string;
  lockDuration: string;
  quiet?: boolean;
  logLevel?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];
/** How long an idle worker gives its connections to close before it exits anyway. */
const IDLE_CLOSE_MS = 500;

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('Take partitions from the Redis queue and run them (bytes → decode → infer → part file); run one per GPU on any number of nodes.')
    .addOption(redisUrlOption())
    .addOption(redisPasswordFileOption())
    .addOption(queueNameOption())
    .option('--concurrency <n>', 'partitions this process runs at once', '1')
    .addOption(choiceOption('--device <device>', 'inference device', ['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(choiceOption('--topology <kind>', 'lanes (each thread decodes and runs its own session: CPU), pooled (decode threads feed one session: GPU), auto (by device)', ['auto', 'lanes', 'pooled']).default('auto'))
    .option('--threads <n>', `lanes (lanes topology) or decode threads (pooled) (default: ${os.availableParallelism()}, the cores)`)
    .option('--inference-threads <n>', 'onnxruntime intra-op threads per session (default: 1 per lane; the cores when pooled)')
    .option('--models-dir <dir>', 'where to find a run\'s model by name when its card path does not exist on this node (repeatable)', collect, [])
    .option('--name <name>', 'worker name shown by `imgpipe status` (default: <hostname>-<pid>)')
    .option('--lock-duration <ms>', 'job lock; a dead worker\'s partition is retried after about one to two of these', '30000')
    .option('--quiet', 'no per-partition lines on stderr')
    .addOption(choiceOption('--log-level <level>', 'log level on stderr', ['fatal', 'error', 'warn', 'info', 'debug']))
    .addHelpText(
      'after',
      `
The run spec (model card, byte source, table location) travels in each job: the table location
and the model card must be reachable at the same paths here (a shared filesystem), or the model
found by name with --models-dir.
Exit codes: 0 stopped by a signal after finishing its partitions, 2 bad usage or Redis refused/unreachable.

Examples:
  imgpipe worker --redis redis://:PASSWORD@redis-host:6379
  REDIS_URL=rediss://imgpipe@redis-host:6380 imgpipe worker --redis-password-file /run/secrets/redis --device cuda`,
    )
    .action(async (flags: WorkerFlags) => {
      process.exitCode = await workerAction(flags);
    });
}

async function workerAction(flags: WorkerFlags): Promise<number> {
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = getLogger();
  const { target, queueName } = resolveQueueFlags(flags);
  const concurrency = parseIntegerFlag('--concurrency', flags.concurrency, 1, 64);
  const threads = flags.threads === undefined ? undefined : parseIntegerFlag('--threads', flags.threads, 1, 256);
  const inferenceThreads = flags.inferenceThreads === undefined ? undefined : parseIntegerFlag('--inference-threads', flags.inferenceThreads, 1, 256);
  const lockDurationMs = parseIntegerFlag('--lock-duration', flags.lockDuration, 1000, 3_600_000);
  const name = flags.name ?? `${os.hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._@-]{1,128}$/.test(name)) throw invalidParameterError('--name', 'a name of letters, digits, ".", "_", "@" or "-"', name);

  const [{ checkRedis }, { QueueWorker }] = await Promise.all([import('../exec/queue/checkRedis.js'), import('../exec/queue/QueueWorker.js')]);
  const check = await checkRedis(target);
  for (const w of check.warnings) process.stderr.write(`imgpipe worker: warning: ${w}\n`);
  const worker = QueueWorker.start({
    target,
    queueName,
    name,
    concurrency,
    device: flags.device,
    threads,
    topology: flags.topology as TopologyChoice,
    inferenceThreads,
    modelsDirs: flags.modelsDir,
    lockDurationMs,
    log,
    onAttempt: flags.quiet ? undefined : (e) => process.stderr.write(attemptLine(e)),
  });
  process.stderr.write(`imgpipe worker ${name}: queue ${queueName} at ${target.display} (Redis ${check.version}), concurrency ${concurrency}; waiting for partitions (Ctrl-C stops after the ones in flight)\n`);

  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      signals++;
      if (signals === 1 && worker.inFlight === 0) {
        process.stderr.write(`imgpipe worker ${name}: idle; stopping now\n`);
        // Redis may be gone: closing would wait for it. Nothing is in flight, so nothing is lost.
        const timer = setTimeout(resolve, IDLE_CLOSE_MS);
        worker.close(true).then(
          () => (clearTimeout(timer), resolve()),
          () => (clearTimeout(timer), resolve()),
        );
      } else if (signals === 1) {
        process.stderr.write(`imgpipe worker ${name}: stopping after the partitions in flight (again to quit now)…\n`);
        worker.close().then(resolve, resolve);
      } else {
        process.stderr.write(`imgpipe worker ${name}: quitting now; other workers take over its partitions\n`);
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return 0;
}

/**
 * One line per attempt event, written synchronously (stderr is a pipe or a terminal), so a log
 * collector, or the chaos benchmark, sees it even when the process is killed right after:
 *   partition 3 of RUN: started (attempt q1-4f2a1c)
 *   partition 3 of RUN: 1000 rows (attempt q1-4f2a1c, 41.2 s, event loop max 35 ms)
 *   partition 3 of RUN: attempt q2-99e0b1 failed after 0.2 s: <error>
 */
export function attemptLine(e: AttemptEvent): string {
  const head = `partition ${e.partition} of ${e.run_id}:`;
  const secs = ((e.elapsed_ms ?? 0) / 1000).toFixed(1);
  if (e.phase === 'started') return `${head} started (attempt ${e.attempt})\n`;
  if (e.phase === 'done') return `${head} ${e.rows} rows (attempt ${e.attempt}, ${secs} s, event loop max ${e.loop_max_ms} ms)\n`;
  return `${head} attempt ${e.attempt} failed after ${secs} s: ${e.error}\n`;
}
