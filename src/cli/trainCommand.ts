/**
 * `imgpipe train`: flags → validated TrainOptions → trainClassifier, with embedding progress and a
 * summary. Every flag is checked before any work starts; a bad one exits 2 with the standard message.
 */
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { DEFAULT_MAX_PIXELS } from '../decode/maxPixels.js';
import type { Device } from '../model/ModelSession.js';
import { trainClassifier, type TrainResult } from '../train/trainClassifier.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { getLogger, setLogLevel } from '../util/log.js';
import { clusterOptions, resolveClusterFlags, type ClusterFlags } from './clusterFlags.js';
import { checkOutputMetadataPath, outputMetadataOption, writeOutputMetadata } from './outputMetadata.js';
import { createProgress, type Progress } from './progress.js';
import { choiceOption } from './choiceOption.js';

interface TrainFlags extends ClusterFlags {
  warehouse?: string;
  labels?: string;
  labelsSql?: string;
  backbone?: string;
  category: string[];
  depth: string;
  holdout: string;
  seed: string;
  l2: string;
  name?: string;
  modelVersion: string;
  modelsDir: string[];
  outDir?: string;
  force?: boolean;
  snapshot?: string;
  partitionsDir?: string;
  batchSize: string;
  maxPixels: string;
  threads?: string;
  device: Device;
  report: boolean;
  json?: boolean;
  outputMetadata?: string;
  quiet?: boolean;
  logLevel?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerTrainCommand(program: Command): void {
  const command = program
    .command('train')
    .description('Train a classifier from categories (or a list of labelled images): embed their images with a backbone, fit a softmax-regression head, evaluate it on held-out images, and write a model card (backbone + head in one ONNX file) that `run` can use.')
    .option('--warehouse <dir>', 'embedded warehouse folder (made by `warehouse init`)')
    .option('--backbone <name|card>', 'embedding model (see `models list`), e.g. color-embed or mobilenet-v2-embed')
    .option('--category <name>', 'a category whose images form one class (repeat: at least 2)', collect, [])
    .option('--depth <n>', 'include subcategories down to N levels', '0')
    .option('--labels <file>', 'instead of categories: a .csv (with a header) or .parquet file with image_name and label columns')
    .option('--labels-sql <select>', 'instead of categories: a query on the catalog returning image_name and label columns')
    .option('--holdout <fraction>', 'fraction of each category held out for evaluation, between 0 and 1', '0.2')
    .option('--seed <n>', 'seed of the held-out split', '1')
    .option('--l2 <lambda>', 'L2 penalty on the (standardized) head weights', '0.01')
    .option('--name <name>', 'name of the new model (default: the categories joined with "-vs-")')
    .option('--model-version <v>', 'version of the new model (the model=<name>-<version> partition)', '1')
    .option('--models-dir <dir>', 'extra folder of model cards, searched for the backbone (repeatable)', collect, [])
    .option('--out-dir <dir>', 'where the new model folder goes (default: the first entry of $IMGPIPE_MODELS, else ./models)')
    .option('--force', 'replace an existing model of the same name in --out-dir')
    .option('--snapshot <yyyy-mm-dd>', 'snapshot of the embeddings partition to use or write (default: today, UTC)')
    .option('--partitions-dir <dir>', 'where the embedding run plan goes (default: $IMGPIPE_PARTITIONS or ./partitions)')
    .option('--batch-size <n>', 'images per inference batch', '16')
    .option('--max-pixels <n>', 'refuse images whose header says more pixels than this', String(DEFAULT_MAX_PIXELS))
    .option('--threads <n>', `decode worker threads (default: ${os.availableParallelism()}, the cores)`)
    .addOption(choiceOption('--device <device>', 'inference device', ['auto', 'cpu', 'cuda']).default('auto'))
    .option('--no-report', 'do not write the HTML report')
    .option('--json', 'print one JSON object with the result on stdout')
    .addOption(outputMetadataOption())
    .option('--quiet', 'no progress output')
    .addOption(choiceOption('--log-level <level>', 'log level on stderr', ['fatal', 'error', 'warn', 'info', 'debug']))
    .addHelpText(
      'after',
      `
Images in two of the categories are left out (counted). Embeddings come from the embeddings table
(model=<backbone>-<version>/snapshot=<date>): reused when already committed for these images,
otherwise computed by an ordinary run. The new folder <out-dir>/<name>/ holds model.json, model.onnx,
head.json (the head alone) and report/index.html.
Exit codes: 0 trained, 1 failed, 2 bad usage or input.

Examples:
  imgpipe train --warehouse ./wh --backbone color-embed --category Sunsets --category Night_scenes
  imgpipe train --warehouse ./wh --backbone resnet50-embed --category Sculptures --category Maiolica --depth 2 --name sculpture-vs-maiolica
  imgpipe train --warehouse ./wh --backbone mobilenet-v2-embed --models-dir ../shared/models --out-dir ./my-models --category animals --category objects --holdout 0.3 --seed 7
  imgpipe train --warehouse ./wh --backbone color-embed --labels ./labels.csv --name my-labels
  imgpipe train --catalog hive --hive an-coord1001.eqiad.wmnet:10000 --source mediawiki --mediawiki-snapshot 2026-10 --output-database analytics_imgpipe \\
    --table-location /mnt/hdfs/user/me/embeddings --bytes-preset commons-thumb --backbone color-embed --category Sculptures --category Maiolica --depth 2
  imgpipe run --warehouse ./wh --model ./models/sculpture-vs-maiolica/model.json --category Maiolica --depth 2`,
    )
    .action(async (flags: TrainFlags) => {
      process.exitCode = await trainAction(flags);
    });
  // --catalog hive, --source mediawiki, HTTP bytes, --table-location: as for `run` (clusterFlags.ts).
  for (const option of clusterOptions()) command.addOption(option);
}

function parseNumberFlag(name: string, raw: string, expected: string, ok: (v: number) => boolean): number {
  const value = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || !ok(value)) throw invalidParameterError(name, expected, raw);
  return value;
}

function parseSnapshot(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(raw) && new Date(`${raw}T00:00:00Z`).toISOString().startsWith(raw);
  if (!ok) throw invalidParameterError('--snapshot', 'a date YYYY-MM-DD', raw);
  return raw;
}

/** Default model name: the categories, lower-cased, joined with "-vs-". */
export function defaultModelName(categories: readonly string[]): string {
  return categories.map((c) => c.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-._]+|-+$/g, '') || 'x').join('-vs-');
}

async function trainAction(flags: TrainFlags): Promise<number> {
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = getLogger();
  const cluster = resolveClusterFlags(flags);
  if (!flags.warehouse && !cluster.catalog) throw new UsageError('--warehouse DIR (or --catalog hive --hive HOST:PORT) is required');
  const metadataFile = checkOutputMetadataPath(flags.outputMetadata);
  if (!flags.backbone) throw new UsageError('--backbone NAME|CARD is required (an embedding model, e.g. color-embed)');
  const categories = flags.category.map((c) => c.trim().replaceAll(' ', '_'));
  if (categories.some((c) => c === '')) throw invalidParameterError('--category', 'a category name', '');
  const given = [categories.length > 0 ? '--category' : null, flags.labels !== undefined ? '--labels' : null, flags.labelsSql !== undefined ? '--labels-sql' : null].filter(Boolean);
  if (given.length > 1) throw new UsageError(`Expected one of --category (repeated), --labels, --labels-sql but received ${given.join(' and ')}`);
  if (flags.labelsSql !== undefined && flags.labelsSql.trim() === '') throw invalidParameterError('--labels-sql', 'a SELECT statement', flags.labelsSql);
  const labels = flags.labels !== undefined ? ({ kind: 'file', file: flags.labels } as const) : flags.labelsSql !== undefined ? ({ kind: 'sql', sql: flags.labelsSql } as const) : undefined;
  if (!labels && categories.length < 2) throw new UsageError(`Expected at least 2 categories for --category but received ${categories.length}`);
  if (labels && flags.name === undefined) throw new UsageError('--name NAME is required with --labels and --labels-sql (there are no categories to name the model after)');
  const holdout = parseNumberFlag('--holdout', flags.holdout, 'number between 0 and 1 (exclusive)', (v) => v > 0 && v < 1);
  const l2 = parseNumberFlag('--l2', flags.l2, 'number between 0 and 1000', (v) => v >= 0 && v <= 1000);
  const outDir = flags.outDir ?? (process.env.IMGPIPE_MODELS ?? '').split(':').find((p) => p.length > 0) ?? 'models';
  const options = {
    ...cluster,
    labels,
    warehouse: flags.warehouse,
    backbone: flags.backbone,
    modelsDirs: flags.modelsDir,
    categories,
    depth: parseIntegerFlag('--depth', flags.depth, 0, 100),
    holdout,
    seed: parseIntegerFlag('--seed', flags.seed, 0, 2 ** 31 - 1),
    l2,
    name: flags.name ?? defaultModelName(categories),
    tableLocation: cluster.tableLocation,
    version: flags.modelVersion,
    outDir: path.resolve(outDir),
    force: flags.force ?? false,
    snapshot: parseSnapshot(flags.snapshot),
    partitionsDir: path.resolve(flags.partitionsDir ?? process.env.IMGPIPE_PARTITIONS ?? 'partitions'),
    batchSize: parseIntegerFlag('--batch-size', flags.batchSize, 1, 4096),
    maxPixels: parseIntegerFlag('--max-pixels', flags.maxPixels, 1, Number.MAX_SAFE_INTEGER),
    threads: flags.threads === undefined ? undefined : parseIntegerFlag('--threads', flags.threads, 1, 256),
    device: flags.device,
    report: flags.report,
    log,
  };
  let progress: Progress | null = null;
  let result: TrainResult;
  try {
    result = await trainClassifier({
      ...options,
      onPlanned: (run) => {
        if (!flags.json && !flags.quiet) process.stderr.write(`embedding ${run.images} images with ${run.model.qualified} (run ${run.run_id})\n`);
        progress = createProgress('embedding', run.images, { quiet: flags.quiet || flags.json });
      },
      onImages: (n) => progress?.increment(n),
    });
  } finally {
    (progress as Progress | null)?.stop();
  }
  if (flags.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(formatTrainSummary(result));
  writeOutputMetadata(metadataFile, result);
  return 0;
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

/** The human summary printed at the end of `train`. */
export function formatTrainSummary(r: TrainResult): string {
  const m = r.metrics.holdout;
  const correct = m.confusion.reduce((a, row, i) => a + row[i]!, 0);
  const lines = [
    `Trained ${r.model}.`,
    `  card        ${r.card}`,
    `  embeddings  ${r.embeddings.partition} (run ${r.embeddings.run_id}${r.embeddings.reused ? ', reused' : ''})`,
    `  left out    ${r.counts.overlap_left_out} in two categories, ${r.counts.error_left_out} error rows`,
    `  held out    accuracy ${pct(m.accuracy)} (${correct}/${m.n}; chance ${pct(1 / m.labels.length)}), balanced ${pct(m.balanced_accuracy)}; train ${pct(r.metrics.train.accuracy)} of ${r.metrics.train.n}`,
  ];
  for (const label of m.labels) {
    const c = r.counts.per_class[label]!;
    const pc = m.per_class[label]!;
    lines.push(`    ${label}: ${c.used} used (${c.train} train, ${c.holdout} held out), precision ${pct(pc.precision)}, recall ${pct(pc.recall)}`);
  }
  if (!r.head.converged) lines.push(`  warning     the optimizer stopped before convergence (gradient ${r.head.gradient_norm.toExponential(2)})`);
  if (r.report) lines.push(`  report      ${r.report}`);
  lines.push(`Use it: imgpipe run --model ${r.card} --warehouse … --category …`);
  return lines.join('\n') + '\n';
}
