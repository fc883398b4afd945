/**
 * `imgpipe status [RUN_ID]`: a run's partitions (done / waiting / active / retrying / failed), which
 * worker holds what, images/s and time left; without RUN_ID, the runs planned in the partitions
 * folder. The queue part needs `--redis` (or REDIS_URL); without it, only the plan folder is read.
 */
import path from 'node:path';
import type { Queue } from 'bullmq';
import { Command } from 'commander';
import { QUEUE_PREFIX } from '../exec/queue/jobs.js';
import { bullConnection } from '../exec/queue/RedisTarget.js';
import { listRuns, runStatus, type RunStatus } from '../exec/queue/runStatus.js';
import { RunPlanDir } from '../plan/manifest.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { queueNameOption, redisPasswordFileOption, redisUrlOption, resolveQueueFlags, type RedisFlags } from './redisOptions.js';

interface StatusFlags extends RedisFlags {
  partitionsDir?: string;
  limit: string;
  json?: boolean;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Show a run (partitions done / waiting / active / failed, workers, images/s, time left), or list recent runs.')
    .argument('[run-id]', 'the run to show; without it, list the runs in the partitions folder')
    .option('--partitions-dir <dir>', 'where plans are (default: $IMGPIPE_PARTITIONS or ./partitions)')
    .addOption(redisUrlOption())
    .addOption(redisPasswordFileOption())
    .addOption(queueNameOption())
    .option('--limit <n>', 'runs listed without RUN_ID', '20')
    .option('--json', 'print JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  imgpipe status
  imgpipe status 20261125T101500Z-quality-basic-1-3fa2c1 --redis redis://:PASSWORD@redis-host:6379`,
    )
    .action(async (runId: string | undefined, flags: StatusFlags) => {
      process.exitCode = await statusAction(runId, flags);
    });
}

async function statusAction(runId: string | undefined, flags: StatusFlags): Promise<number> {
  const partitionsDir = path.resolve(flags.partitionsDir ?? process.env.IMGPIPE_PARTITIONS ?? 'partitions');
  if (runId === undefined) {
    const runs = (await listRuns(partitionsDir)).slice(0, parseIntegerFlag('--limit', flags.limit, 1, 100_000));
    if (flags.json) process.stdout.write(JSON.stringify(runs) + '\n');
    else if (runs.length === 0) process.stdout.write(`No runs planned under ${partitionsDir}.\n`);
    else {
      const rows = runs.map((r) => [r.run_id, r.state, `${r.done}/${r.partitions}`, String(r.images), r.created_at]);
      process.stdout.write(table(['run', 'state', 'partitions done', 'images', 'planned at'], rows));
    }
    return 0;
  }
  if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw invalidParameterError('RUN_ID', 'a run id (letters, digits, ".", "_", "-")', runId);
  const plan = RunPlanDir.forRun(partitionsDir, runId);
  const useQueue = flags.redis !== undefined || Boolean(process.env.REDIS_URL);
  let queue: Queue | null = null;
  if (useQueue) {
    const { target, queueName } = resolveQueueFlags(flags);
    plan.readRun(); // a wrong run id fails before connecting
    // BullMQ and ioredis load only when the queue is asked about.
    const [{ checkRedis }, { Queue }] = await Promise.all([import('../exec/queue/checkRedis.js'), import('bullmq')]);
    await checkRedis(target);
    queue = new Queue(queueName, { connection: bullConnection(target), prefix: QUEUE_PREFIX });
    queue.on('error', () => undefined);
  }
  try {
    const status = await runStatus(plan, queue);
    process.stdout.write(flags.json ? JSON.stringify(status) + '\n' : formatStatus(status, useQueue));
  } finally {
    await queue?.close();
  }
  return 0;
}

function formatStatus(s: RunStatus, withQueue: boolean): string {
  const p = s.partitions;
  const pct = s.images.total ? Math.round((100 * s.images.done) / s.images.total) : 100;
  const lines = [
    `run        ${s.run_id}`,
    `model      ${s.model} → ${s.table}/model=${s.model}/snapshot=${s.snapshot}`,
    `state      ${s.state}`,
    `partitions ${p.total}: ${p.done} done${p.partition_failed ? ` (${p.partition_failed} as partition_failed rows)` : ''}` +
      (p.active === null
        ? ''
        : `, ${p.active} active, ${p.waiting} waiting, ${p.retrying} retrying, ${p.completed} completed and ${p.failed} failed (to commit), ${p.not_queued} not queued`),
    `images     ${s.images.done}/${s.images.total} done (${pct}%)` +
      (s.images_per_s !== null ? `, ${s.images_per_s} images/s` : '') +
      (s.eta_s !== null ? `, about ${formatDuration(s.eta_s)} left` : ''),
  ];
  if (s.workers !== null) lines.push(`workers    ${s.workers.length}${s.workers.length ? `: ${s.workers.join(', ')}` : ''}`);
  if (s.active.length > 0) {
    lines.push('active');
    const rows = s.active.map((a) => [`part-${String(a.partition).padStart(5, '0')}`, a.worker ?? '?', `${a.images}/${a.total} images`, `attempt ${a.attempt}`, a.started_at ? `for ${formatDuration((Date.now() - Date.parse(a.started_at)) / 1000)}` : '']);
    lines.push(table(null, rows, '  ').trimEnd());
  }
  if (!withQueue && s.state !== 'committed') lines.push('(add --redis URL, or set REDIS_URL, to see the queue: waiting, active, workers)');
  return lines.join('\n') + '\n';
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function table(header: string[] | null, rows: string[][], indent = ''): string {
  const all = header ? [header, ...rows] : rows;
  const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => indent + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
