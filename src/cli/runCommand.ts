/**
 * `imgpipe run`: flags → validated RunJobOptions → runJob, with a progress bar and a summary.
 * Every flag is checked before any work starts; a bad one exits 2 with the standard message.
 */
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { Selection } from '../catalog/Catalog.js';
import { DEFAULT_MAX_PIXELS } from '../decode/maxPixels.js';
import { DEFAULT_QUEUE } from '../exec/queue/jobs.js';
import { RunFailedError } from '../exec/executePartitions.js';
import { planNew, runJob, type RunJobResult } from '../exec/runJob.js';
import type { TopologyChoice } from '../exec/scoring/openScorer.js';
import { checkBatchFits } from '../model/checkBatchFits.js';
import { readModelCard, resolveCardPath } from '../model/loadModelCard.js';
import type { ModelInput } from '../model/ModelCard.js';
import type { Device } from '../model/ModelSession.js';
import { RunPlanDir } from '../plan/manifest.js';
import { UsageError } from '../util/errors.js';
import { asInfrastructureError } from '../util/infraErrors.js';
import { invalidParameterError, parseByteSizeFlag, parseIntegerFlag } from '../util/is.js';
import { getLogger, setLogLevel } from '../util/log.js';
import { clusterOptions, resolveClusterFlags, type ClusterFlags } from './clusterFlags.js';
import { checkOutputMetadataPath, outputMetadataOption, writeOutputMetadata } from './outputMetadata.js';
import { createProgress, type Progress } from './progress.js';
import { queueNameOption, redisPasswordFileOption, redisUrlOption, resolveQueueFlags } from './redisOptions.js';
import { choiceOption } from './choiceOption.js';

interface RunFlags {
  warehouse?: string;
  model?: string;
  modelsDir: string[];
  all?: boolean;
  category?: string;
  depth: string;
  sql?: string;
  snapshot?: string;
  table?: string;
  executor: string;
  partitionSize: string;
  partitionsDir?: string;
  batchSize?: string;
  maxPixels: string;
  minScore?: string;
  topology: string;
  lanes?: string;
  threads?: string;
  inferenceThreads?: string;
  device: Device;
  resume?: string;
  planOnly?: boolean;
  incremental?: boolean;
  compactBelow: string;
  redis?: string;
  redisPasswordFile?: string;
  queue: string;
  json?: boolean;
  outputMetadata?: string;
  quiet?: boolean;
  logLevel?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRunCommand(program: Command): void {
  const command = program
    .command('run')
    .description('Select images, plan partitions, run a model over them and commit a Parquet table partition.')
    .option('--warehouse <dir>', 'embedded warehouse folder (made by `warehouse init`)')
    .option('--model <name|card>', 'model name (see `models list`) or path to a model.json')
    .option('--models-dir <dir>', 'extra folder of model cards (repeatable)', collect, [])
    .option('--all', 'select every image')
    .option('--category <name>', 'select images in this category …')
    .option('--depth <n>', '… and its subcategories down to N levels', '0')
    .option('--sql <select>', 'select with your own query; it must return an image_name column')
    .option('--snapshot <yyyy-mm-dd>', 'snapshot partition to write (default: today, UTC)')
    .option('--table <name>', 'output table (default: classifications, embeddings or detections, by the model task)')
    .addOption(choiceOption('--executor <kind>', 'where partitions run', ['local', 'queue']).default('local'))
    .option('--partition-size <n>', 'images per partition manifest', '1000')
    .option('--partitions-dir <dir>', 'where plans go (default: $IMGPIPE_PARTITIONS or ./partitions)')
    .option('--batch-size <n>', 'images per inference call (default: 1 per lane on CPU, the cheapest per image there; 64 on GPU)')
    .option('--max-pixels <n>', 'refuse images whose header says more pixels than this', String(DEFAULT_MAX_PIXELS))
    .option('--min-score <p>', "detector models: keep detections scoring at least this, 0–1 (default: the card's output.min_score)")
    .addOption(choiceOption('--device <device>', 'inference device', ['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(
      choiceOption('--topology <kind>', 'how decode and inference share the machine: lanes (each thread decodes and runs its own session: CPU), pooled (decode threads feed one session: GPU), auto (by device)', ['auto', 'lanes', 'pooled']).default('auto'),
    )
    .option('--lanes <n>', `lanes of the lanes topology (default: ${os.availableParallelism()}, the cores)`)
    .option('--threads <n>', `decode threads of the pooled topology (default: ${os.availableParallelism()}, the cores)`)
    .option('--inference-threads <n>', 'onnxruntime intra-op threads per session (default: 1 per lane; the cores when pooled)')
    .option('--resume <run-id>', 'continue an interrupted run: only partitions not yet done run again')
    .option('--incremental', "score only images new or changed (by sha1) since this model's previous snapshot; carry the rest forward")
    .option('--compact-below <size>', 'compact the committed snapshot when its part files average under this size (0: never)', '32MB')
    .option('--plan-only', 'select and write the plan (manifests, run.json), print the run id, run nothing; execute later with --resume')
    .addOption(redisUrlOption())
    .addOption(redisPasswordFileOption())
    .addOption(queueNameOption())
    .option('--json', 'print one JSON object with the result on stdout')
    .addOption(outputMetadataOption())
    .option('--quiet', 'no progress output')
    .addOption(choiceOption('--log-level <level>', 'log level on stderr', ['fatal', 'error', 'warn', 'info', 'debug']))
    .addHelpText(
      'after',
      `
Exactly one of --all, --category or --sql (not needed with --resume).
Exit codes: 0 committed (even with error rows), 1 failed (disk full, I/O error, byte source lost…:
nothing committed, resumable), 2 bad usage or input, 130 interrupted (resumable).

Examples:
  imgpipe run --warehouse ./wh --model quality-basic --all
  imgpipe run --warehouse ./wh --model color-embed --category Landscapes --depth 2
  imgpipe run --warehouse ./wh --model ./my-resnet/model.json --sql "SELECT image_name FROM image WHERE width > 1000"
  imgpipe run --resume 20261125T101500Z-quality-basic-1-3fa2c1
  imgpipe run --warehouse ./wh --model quality-basic --all --executor queue --redis redis://:PASSWORD@redis-host:6379
    (partitions run on \`imgpipe worker --redis …\` processes, on any number of nodes)`,
    )
    .action(async (flags: RunFlags) => {
      process.exitCode = await runAction(flags);
    });
  for (const option of clusterOptions()) command.addOption(option);
}

function parseSelection(flags: RunFlags): Selection | undefined {
  const given = [flags.all ? '--all' : null, flags.category !== undefined ? '--category' : null, flags.sql !== undefined ? '--sql' : null].filter(Boolean);
  if (given.length > 1) throw new UsageError(`Expected exactly one of --all, --category, --sql but received ${given.join(' and ')}`);
  if (flags.resume) {
    if (given.length > 0) throw new UsageError('--resume continues a planned run; do not pass a selection with it');
    return undefined;
  }
  if (given.length === 0) throw new UsageError('Expected one of --all, --category C [--depth N] or --sql "SELECT image_name FROM image WHERE …" but received none of them');
  const depth = parseIntegerFlag('--depth', flags.depth, 0, 100);
  if (flags.all) return { kind: 'all' };
  if (flags.category !== undefined) {
    if (flags.category.trim() === '') throw invalidParameterError('--category', 'a category name', flags.category);
    return { kind: 'category', category: flags.category.replaceAll(' ', '_'), depth };
  }
  if (flags.sql!.trim() === '') throw invalidParameterError('--sql', 'a SELECT statement', flags.sql);
  return { kind: 'sql', sql: flags.sql! };
}

function parseSnapshot(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(raw) && !Number.isNaN(Date.parse(`${raw}T00:00:00Z`)) && new Date(`${raw}T00:00:00Z`).toISOString().startsWith(raw);
  if (!ok) throw invalidParameterError('--snapshot', 'a date YYYY-MM-DD', raw);
  return raw;
}

/**
 * The input of the card `--batch-size` is checked against: `--model`'s, or the resumed plan's. Null
 * when it cannot be read here; planning (or re-attaching) then fails with its own message.
 */
function cardInput(flags: RunFlags, partitionsDir: string): ModelInput | null {
  try {
    if (flags.resume) {
      if (!/^[A-Za-z0-9._-]+$/.test(flags.resume)) return null;
      return readModelCard(RunPlanDir.forRun(partitionsDir, flags.resume).readRun().model.card).input;
    }
    return flags.model ? readModelCard(resolveCardPath(flags.model, flags.modelsDir)).input : null;
  } catch {
    return null;
  }
}

async function runAction(flags: RunFlags): Promise<number> {
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = getLogger();
  if (flags.executor !== 'queue' && (flags.redis !== undefined || flags.redisPasswordFile !== undefined)) {
    throw new UsageError('--redis and --redis-password-file are for --executor queue: add --executor queue, or drop them');
  }
  const queue = flags.executor === 'queue' ? resolveQueueFlags(flags) : undefined;
  const metadataFile = checkOutputMetadataPath(flags.outputMetadata);
  const selection = parseSelection(flags);
  // Hive catalog, HTTP bytes, WebHDFS output (clusterFlags.ts); a resumed run takes them from its plan.
  const cluster = flags.resume ? {} : resolveClusterFlags(flags as RunFlags & ClusterFlags);
  const options = {
    ...cluster,
    warehouse: flags.warehouse,
    model: flags.model,
    modelsDirs: flags.modelsDir,
    selection,
    snapshot: parseSnapshot(flags.snapshot),
    table: flags.table,
    partitionSize: parseIntegerFlag('--partition-size', flags.partitionSize, 1, 1_000_000),
    partitionsDir: path.resolve(flags.partitionsDir ?? process.env.IMGPIPE_PARTITIONS ?? 'partitions'),
    batchSize: flags.batchSize === undefined ? 0 : parseIntegerFlag('--batch-size', flags.batchSize, 1, 4096),
    maxPixels: parseIntegerFlag('--max-pixels', flags.maxPixels, 1, Number.MAX_SAFE_INTEGER),
    minScore: flags.minScore === undefined ? undefined : parseMinScore(flags.minScore),
    topology: flags.topology as TopologyChoice,
    lanes: flags.lanes === undefined ? undefined : parseIntegerFlag('--lanes', flags.lanes, 1, 256),
    threads: flags.threads === undefined ? undefined : parseIntegerFlag('--threads', flags.threads, 1, 256),
    inferenceThreads: flags.inferenceThreads === undefined ? undefined : parseIntegerFlag('--inference-threads', flags.inferenceThreads, 1, 256),
    device: flags.device,
    resume: flags.resume,
    incremental: flags.incremental,
    compactBelow: parseByteSizeFlag('--compact-below', flags.compactBelow),
    executor: flags.executor as 'local' | 'queue',
    queue,
    log,
  };
  const input = cardInput(flags, options.partitionsDir);
  if (input && options.batchSize > 0) checkBatchFits(input, options.batchSize);
  if (flags.resume && (flags.model || flags.warehouse)) {
    log.info('--resume: model and warehouse come from the plan; --model/--warehouse are ignored');
  }

  if (flags.planOnly) {
    if (flags.resume) throw new UsageError('--plan-only plans a new run; it cannot be combined with --resume');
    const started = performance.now();
    const { run, plan } = await planNew(options);
    const elapsed = (performance.now() - started) / 1000;
    const planned = { run_id: run.run_id, plan: plan.dir, selected: run.images, partitions: run.partitions, elapsed_s: Math.round(elapsed * 1000) / 1000, ids_per_s: Math.round(run.images / Math.max(elapsed, 1e-9)) };
    if (flags.json) process.stdout.write(JSON.stringify(planned) + '\n');
    else process.stdout.write(`Planned run ${run.run_id}: ${run.images} images in ${run.partitions} partitions under ${plan.dir} (${planned.elapsed_s} s).\nExecute it with: imgpipe run --resume ${run.run_id}${flags.partitionsDir ? ` --partitions-dir ${flags.partitionsDir}` : ''}\n`);
    writeOutputMetadata(metadataFile, planned);
    return 0;
  }

  let progress: Progress | null = null;
  let interrupts = 0;
  let stopExecutor: (() => void) | null = null;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nimgpipe: stopping after the partitions in flight (Ctrl-C again to quit now)…\n');
    stopExecutor?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: RunJobResult;
  try {
    result = await runJob({
      ...options,
      onPlanned: (run, alreadyDone) => {
        if (!flags.json && !flags.quiet) {
          process.stderr.write(`run ${run.run_id}: ${run.images} images in ${run.partitions} partitions, model ${run.model.qualified} → ${run.table}/model=${run.model.qualified}/snapshot=${run.snapshot}\n`);
          if (alreadyDone > 0) process.stderr.write(`resuming: ${alreadyDone} images already done\n`);
        }
        progress = createProgress('scoring', run.images, { quiet: flags.quiet, initial: alreadyDone });
      },
      onImages: (n) => progress?.increment(n),
      onExecutor: (executor) => {
        stopExecutor = () => executor.stop();
      },
    });
  } catch (e) {
    const infra = e instanceof RunFailedError ? null : asInfrastructureError(e);
    if (infra) {
      // Before or after execution (the table lock, the commit): nothing new is visible.
      (progress as Progress | null)?.stop();
      log.error({ err: e }, infra.message);
      process.stderr.write(`imgpipe: error: the run failed: ${infra.message}; nothing new was committed. Fix the cause and run again${flags.resume ? ` (imgpipe run --resume ${flags.resume})` : ''}.\n`);
      return 1;
    }
    if (!(e instanceof RunFailedError)) throw e;
    // Infrastructure (disk full, I/O error, byte source or table store lost): nothing committed.
    (progress as Progress | null)?.stop();
    log.error({ err: e.error, run_id: e.runId, partitions: e.partitions }, e.message);
    process.stderr.write(`imgpipe: error: ${e.message}.\nFix the cause, then resume (what finished is kept): imgpipe run --resume ${e.runId}${flags.partitionsDir ? ` --partitions-dir ${flags.partitionsDir}` : ''}${resumeQueueFlags(queue)}\n`);
    return 1;
  } finally {
    (progress as Progress | null)?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (result.interrupted) {
    process.stderr.write(`imgpipe: interrupted; nothing committed. Resume with: imgpipe run --resume ${result.run_id}${flags.partitionsDir ? ` --partitions-dir ${flags.partitionsDir}` : ''}${resumeQueueFlags(queue)}\n`);
    if (flags.json) process.stdout.write(JSON.stringify(jsonResult(result)) + '\n');
    writeOutputMetadata(metadataFile, jsonResult(result));
    return 130;
  }
  if (flags.json) process.stdout.write(JSON.stringify(jsonResult(result)) + '\n');
  else process.stdout.write(formatSummary(result));
  writeOutputMetadata(metadataFile, jsonResult(result));
  return 0;
}

/** The queue flags a resume needs (the password masked). */
function resumeQueueFlags(queue: ReturnType<typeof resolveQueueFlags> | undefined): string {
  return queue ? ` --executor queue --redis ${queue.target.display}${queue.queueName === DEFAULT_QUEUE ? '' : ` --queue ${queue.queueName}`}` : '';
}

function jsonResult(r: RunJobResult) {
  return {
    run_id: r.run_id,
    output: r.output,
    selected: r.selected,
    ok: r.ok,
    error: r.error,
    elapsed_s: r.elapsed_s,
    images_per_s: r.images_per_s,
    interrupted: r.interrupted,
    table: r.table,
    model: r.model,
    snapshot: r.snapshot,
    partitions: r.partitions,
    error_reasons: r.error_reasons,
    labels: r.labels,
    device: r.device,
    topology: r.topology,
    failed_partitions: r.failed_partitions,
    /** Summed per-stage busy time across partitions (stages overlap, so they exceed elapsed). */
    stage_ms: r.metrics,
    inferred: r.inferred,
    ...(r.incremental ? { incremental: r.incremental } : {}),
  };
}

/** The human summary printed at the end of a run. */
export function formatSummary(r: RunJobResult): string {
  const lines = [
    `Run ${r.run_id} committed.`,
    `  model     ${r.model} (${r.device})`,
    `  topology  ${r.topology}`,
    `  output    ${r.output}`,
    `  selected  ${r.selected} images in ${r.partitions} partition${r.partitions === 1 ? '' : 's'}`,
    `  ok        ${r.ok}`,
    `  error     ${r.error}${r.error ? '  (' + Object.entries(r.error_reasons).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') + ')' : ''}`,
  ];
  if (r.incremental) {
    lines.push(
      r.incremental.previous_snapshot
        ? `  incremental  scored ${r.incremental.scored}, carried forward ${r.incremental.carried_forward} from snapshot ${r.incremental.previous_snapshot}, dropped ${r.incremental.dropped}`
        : '  incremental  no earlier snapshot of this model and version: scored everything',
    );
  }
  const labels = Object.entries(r.labels).sort((a, b) => b[1] - a[1]);
  if (labels.length > 0) {
    lines.push(`  labels    ${labels.slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', ')}${labels.length > 8 ? `, … (${labels.length} labels)` : ''}`);
  }
  for (const f of r.failed_partitions) {
    lines.push(`  failed    partition ${f.partition} after ${f.attempts} attempt${f.attempts === 1 ? '' : 's'}: ${f.last_error.split('\n')[0]}`);
  }
  lines.push(`  time      ${r.elapsed_s.toFixed(1)} s, ${r.images_per_s} images/s`);
  lines.push(`Look at it: imgpipe report ${r.run_id}   (an HTML page with counts, confidence and thumbnails)`);
  lines.push(`Query it:   SELECT status, label, count(*) FROM read_parquet('${r.output}/*.parquet') GROUP BY ALL;`);
  return lines.join('\n') + '\n';
}

/** `--min-score`: a number in [0, 1]; anything else is a usage error, never clamped. */
function parseMinScore(raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw invalidParameterError('--min-score', 'a number between 0 and 1', raw);
  return v;
}
