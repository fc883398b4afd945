/**
 * `imgpipe report RUN_ID` (or `--warehouse W --table T --snapshot D --model M`): a static HTML
 * report of a committed run, written to one folder (index.html + thumbs/) that opens from disk.
 * Prints the path of index.html. Bad input (unknown run, run not committed or replaced, no such
 * partition) exits 2.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { ByteSourceSpec } from '../bytes/ByteSource.js';
import { loadModel, readModelCard } from '../model/loadModelCard.js';
import { modelCardSchema, type ModelCard } from '../model/ModelCard.js';
import { RunPlanDir, type RunSpec } from '../plan/manifest.js';
import { runReportModel } from '../report/runReportModel.js';
import type { RunSummaryFile } from '../sink/Committer.js';
import { isRemoteLocation } from '../sink/location.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { checkOutputMetadataPath, outputMetadataOption, writeOutputMetadata } from './outputMetadata.js';

interface ReportFlags {
  partitionsDir?: string;
  warehouse?: string;
  table?: string;
  snapshot?: string;
  model?: string;
  modelsDir: string[];
  out?: string;
  perLabel: string;
  json?: boolean;
  outputMetadata?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('Write a static HTML report of a committed run: metadata, counts per label, a confidence histogram, thumbnails of the most and least confident images per label, the error rows, and a trained model\'s evaluation.')
    .argument('[run_id]', 'the run to report (its plan is in --partitions-dir)')
    .option('--partitions-dir <dir>', 'where run plans are (default: $IMGPIPE_PARTITIONS or ./partitions)')
    .option('--warehouse <dir>', 'instead of RUN_ID: the warehouse …')
    .option('--table <name>', '… the table (classifications, embeddings …)')
    .option('--snapshot <yyyy-mm-dd>', '… the snapshot …')
    .option('--model <name|card>', '… and the model (name, name-version, or card path)')
    .option('--models-dir <dir>', 'extra folder of model cards (repeatable)', collect, [])
    .option('--out <dir>', 'report folder (default: ./reports/<run-id>)')
    .option('--per-label <n>', 'most and least confident images shown per label', '8')
    .option('--json', 'print one JSON object (index, run_id, partition, thumbnails) on stdout')
    .addOption(outputMetadataOption())
    .addHelpText(
      'after',
      `
The folder holds index.html and thumbs/; open index.html in a browser (no server needed).

Examples:
  imgpipe report 20261125T101500Z-quality-basic-1-3fa2c1
  imgpipe report --warehouse ./wh --table classifications --snapshot 2026-11-25 --model quality-basic
  imgpipe report 20261125T101500Z-quality-basic-1-3fa2c1 --out /tmp/report && xdg-open /tmp/report/index.html`,
    )
    .action(async (runId: string | undefined, flags: ReportFlags) => {
      process.exitCode = await reportAction(runId, flags);
    });
}

interface Located {
  partition: string;
  summary: RunSummaryFile;
  run: RunSpec | null;
  card: ModelCard | null;
  cardPath: string | null;
  /** Where the thumbnails' bytes come from. */
  bytes: ByteSourceSpec;
}

function readSummary(partition: string): RunSummaryFile {
  if (!existsSync(path.join(partition, '_SUCCESS'))) throw new UsageError(`No committed partition at ${partition} (no _SUCCESS)`);
  return JSON.parse(readFileSync(path.join(partition, '_summary.json'), 'utf8')) as RunSummaryFile;
}

/** The card as the commit recorded it (`_summary.json`), else the card file now, else null. */
function tryCard(summary: RunSummaryFile, cardPath: string | null): ModelCard | null {
  const recorded = modelCardSchema.safeParse(summary.model_card);
  if (recorded.success) return recorded.data;
  if (!cardPath) return null;
  try {
    return readModelCard(cardPath);
  } catch {
    return null;
  }
}

async function locate(runId: string | undefined, flags: ReportFlags, partitionsDir: string): Promise<Located> {
  const byTable = [flags.warehouse, flags.table, flags.snapshot, flags.model].some((v) => v !== undefined);
  if (runId !== undefined && byTable) throw new UsageError('Expected either RUN_ID or --warehouse/--table/--snapshot/--model but received both');
  if (runId !== undefined) {
    if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw invalidParameterError('RUN_ID', 'a run id (letters, digits, ".", "_", "-")', runId);
    const run = RunPlanDir.forRun(partitionsDir, runId).readRun();
    if (isRemoteLocation(run.table_location)) throw new UsageError(`Run ${runId} wrote to ${run.table_location}; imgpipe report reads tables on local or mounted paths only`);
    const partition = path.join(run.table_location, `model=${run.model.qualified}`, `snapshot=${run.snapshot}`);
    if (!existsSync(path.join(partition, '_SUCCESS'))) {
      throw new UsageError(`Run ${runId} has not committed (no ${path.join(partition, '_SUCCESS')}); finish it with \`imgpipe run --resume ${runId}\``);
    }
    const summary = readSummary(partition);
    if (summary.run_id !== runId) {
      throw new UsageError(`Run ${runId} is no longer what ${partition} holds: run ${summary.run_id} replaced it. Report that one with \`imgpipe report ${summary.run_id}\``);
    }
    return { partition, summary, run, card: tryCard(summary, run.model.card), cardPath: run.model.card, bytes: run.bytes };
  }
  const missing = (['warehouse', 'table', 'snapshot', 'model'] as const).filter((k) => flags[k] === undefined).map((k) => `--${k}`);
  if (missing.length === 4) throw new UsageError('Expected a RUN_ID, or --warehouse, --table, --snapshot and --model, but received none of them');
  if (missing.length > 0) throw new UsageError(`Expected --warehouse, --table, --snapshot and --model together but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`);
  const warehouse = path.resolve(flags.warehouse!);
  const tableDir = path.join(warehouse, flags.table!);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(flags.table!)) throw invalidParameterError('--table', 'table name of letters, digits and underscores', flags.table);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(flags.snapshot!)) throw invalidParameterError('--snapshot', 'a date YYYY-MM-DD', flags.snapshot);
  let qualified: string;
  let card: ModelCard | null = null;
  let cardPath: string | null = null;
  if (!flags.model!.includes('/') && existsSync(path.join(tableDir, `model=${flags.model}`))) {
    qualified = flags.model!;
  } else {
    const loaded = await loadModel(flags.model!, flags.modelsDir);
    qualified = loaded.qualifiedName;
    card = loaded.card;
    cardPath = loaded.cardPath;
  }
  const partition = path.join(tableDir, `model=${qualified}`, `snapshot=${flags.snapshot}`);
  const summary = readSummary(partition);
  const runFile = RunPlanDir.forRun(partitionsDir, summary.run_id);
  const run = existsSync(runFile.runPath) ? runFile.readRun() : null;
  cardPath ??= run?.model.card ?? null;
  card = tryCard(summary, cardPath) ?? card;
  return { partition, summary, run, card, cardPath, bytes: run?.bytes ?? { kind: 'warehouse', warehouseDir: warehouse } };
}

async function reportAction(runId: string | undefined, flags: ReportFlags): Promise<number> {
  const perLabel = parseIntegerFlag('--per-label', flags.perLabel, 1, 100);
  const metadataFile = checkOutputMetadataPath(flags.outputMetadata);
  const partitionsDir = path.resolve(flags.partitionsDir ?? process.env.IMGPIPE_PARTITIONS ?? 'partitions');
  const src = await locate(runId, flags, partitionsDir);
  const model = await runReportModel(src, { perLabel });
  const out = path.resolve(flags.out ?? path.join('reports', src.summary.run_id));
  const { writeReport } = await import('../report/writeReport.js'); // sharp (thumbnails): loaded only to write a report
  const written = await writeReport(model, out, src.bytes);
  const summary = { index: written.index, run_id: src.summary.run_id, partition: src.partition, thumbnails: written.thumbnails };
  if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else process.stdout.write(written.index + '\n');
  writeOutputMetadata(metadataFile, summary);
  return 0;
}
