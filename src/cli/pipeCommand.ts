/**
 * `imgpipe pipe --model M`: the unit of work without a driver, for engines that already schedule
 * (Spark's mapInArrow or RDD.pipe, a shell). Image rows on stdin → one result row per input row on
 * stdout, in the contract's schema and in input order; logs and the summary on stderr.
 *
 * Exit codes: 0 every input row was answered (error rows included); 2 bad flag, unknown model or bad
 * card — checked before stdin is read — or malformed input; 1 the process failed (byte source down,
 * a scoring thread died, stdout closed). On any non-zero exit the output is incomplete and the
 * caller (Spark) must discard it and retry the task.
 */
import os from 'node:os';
import { Command } from 'commander';
import type { ByteSourceSpec } from '../bytes/byteSourceSpec.js';
import { openByteSource } from '../bytes/openByteSource.js';
import { DEFAULT_MAX_PIXELS } from '../decode/maxPixels.js';
import { openPipeSink, type PipeFormat } from '../exec/pipe/PipeSink.js';
import { readArrowRows } from '../exec/pipe/readArrowRows.js';
import { readJsonlRows } from '../exec/pipe/readJsonlRows.js';
import { runPipe } from '../exec/pipe/runPipe.js';
import { openScorer, type TopologyChoice } from '../exec/scoring/openScorer.js';
import { describeTopology } from '../exec/scoring/Scorer.js';
import { checkBatchFits } from '../model/checkBatchFits.js';
import { loadModel } from '../model/loadModelCard.js';
import type { Device } from '../model/ModelSession.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError, parseIntegerFlag } from '../util/is.js';
import { getLogger, setLogLevel } from '../util/log.js';
import { clusterOptions, resolveClusterFlags, type ClusterFlags } from './clusterFlags.js';
import { choiceOption } from './choiceOption.js';

interface PipeFlags extends ClusterFlags {
  model?: string;
  modelsDir: string[];
  inputFormat: PipeFormat;
  format: PipeFormat;
  warehouse?: string;
  runId?: string;
  window: string;
  checkSha1?: boolean;
  batchSize?: string;
  maxPixels: string;
  device: Device;
  topology: string;
  lanes?: string;
  threads?: string;
  inferenceThreads?: string;
  quiet?: boolean;
  logLevel?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];
/** The byte-source part of `run`'s cluster flags (clusterFlags.ts); the catalog and output ones do not apply. */
const BYTE_FLAGS = new Set(['--bytes-url', '--bytes-concurrency', '--bytes-timeout', '--bytes-retries', '--user-agent', '--config']);

export function registerPipeCommand(program: Command): void {
  const command = program
    .command('pipe')
    .description('Score image rows streamed on stdin and write one result row per input row to stdout (Arrow IPC or JSON lines): the per-partition worker for Spark and other schedulers.')
    .option('--model <name|card>', 'model name (see `models list`) or path to a model.json')
    .option('--models-dir <dir>', 'extra folder of model cards (repeatable)', collect, [])
    .addOption(choiceOption('--input-format <format>', 'stdin: an Arrow IPC stream, or JSON lines (bytes in base64)', ['arrow', 'jsonl']).default('arrow'))
    .addOption(choiceOption('--format <format>', 'stdout: an Arrow IPC stream in the result schema, or JSON lines', ['arrow', 'jsonl']).default('arrow'))
    .option('--warehouse <dir>', "fetch bytes missing from the input from this warehouse's image_bytes")
    .option('--run-id <id>', 'the run_id column of every row; give every task of one job the same (default: a new id)')
    .option('--window <n>', 'rows scored and written together (one output batch); bounds memory', '256')
    .option('--check-sha1', "check bytes given in the input against the row's sha1 (bytes_changed when they differ); fetched warehouse bytes are always checked, as in `run`")
    .option('--batch-size <n>', 'images per inference call (default: 1 per lane on CPU; 64 on GPU)')
    .option('--max-pixels <n>', 'refuse images whose header says more pixels than this', String(DEFAULT_MAX_PIXELS))
    .addOption(choiceOption('--device <device>', 'inference device', ['auto', 'cpu', 'cuda']).default('auto'))
    .addOption(choiceOption('--topology <kind>', 'lanes (CPU), pooled (GPU), auto (by device)', ['auto', 'lanes', 'pooled']).default('auto'))
    .option('--lanes <n>', `lanes of the lanes topology (default: ${os.availableParallelism()}, the cores; set it to the task's cores)`)
    .option('--threads <n>', `decode threads of the pooled topology (default: ${os.availableParallelism()}, the cores)`)
    .option('--inference-threads <n>', 'onnxruntime intra-op threads per session (default: 1 per lane; the cores when pooled)')
    .option('--quiet', 'no summary line on stderr')
    .addOption(choiceOption('--log-level <level>', 'log level on stderr', ['fatal', 'error', 'warn', 'info', 'debug']))
    .addHelpText(
      'after',
      `
Input columns: image_name (required), page_id, sha1, bytes (Arrow binary, or base64 in JSON lines).
A row without bytes gets them from --warehouse or --bytes-url; with neither, it is a missing_bytes
error row. Other columns are ignored. Output: the result row contract (image_name, page_id, sha1,
status, error, label, score, top_k, embedding, width, height, run_id, processed_at), one row per
input row, in input order; model and snapshot are for the caller to add as partition columns.
Exit codes: 0 all rows answered (even error rows), 1 failed (retry the task), 2 bad usage or input.

Examples:
  imgpipe pipe --model quality-basic --warehouse ./wh --input-format jsonl --format jsonl <<< '{"image_name":"Example.jpg"}'
  base64 -w0 cat.jpg | jq -Rc '{image_name:"cat.jpg",bytes:.}' | imgpipe pipe --model quality-basic --input-format jsonl --format jsonl
  imgpipe pipe --model quality-basic --run-id "$RUN_ID" --lanes 4 < rows.arrows > results.arrows
  (Spark: integrations/spark/imgpipe_spark.py runs it per partition through mapInArrow)`,
    )
    .action(async (flags: PipeFlags) => {
      process.exitCode = await pipeAction(flags);
    });
  for (const option of clusterOptions()) if (BYTE_FLAGS.has(option.long!)) command.addOption(option);
}

function resolveBytes(flags: PipeFlags): ByteSourceSpec | null {
  const http = resolveClusterFlags(flags).bytes ?? null;
  if (http && flags.warehouse !== undefined) throw new UsageError('Expected at most one of --warehouse, --bytes-url but received both');
  if (flags.warehouse !== undefined) return { kind: 'warehouse', warehouseDir: flags.warehouse };
  return http;
}

async function pipeAction(flags: PipeFlags): Promise<number> {
  if (flags.logLevel) setLogLevel(flags.logLevel);
  const log = getLogger();
  if (!flags.model) throw new UsageError('--model NAME|CARD is required');
  if (flags.runId !== undefined && !/^[A-Za-z0-9._-]{1,200}$/.test(flags.runId)) {
    throw invalidParameterError('--run-id', 'a run id (letters, digits, ".", "_", "-")', flags.runId);
  }
  const windowRows = parseIntegerFlag('--window', flags.window, 1, 100_000);
  const batchSize = flags.batchSize === undefined ? 0 : parseIntegerFlag('--batch-size', flags.batchSize, 1, 4096);
  const maxPixels = parseIntegerFlag('--max-pixels', flags.maxPixels, 1, Number.MAX_SAFE_INTEGER);
  const lanes = flags.lanes === undefined ? undefined : parseIntegerFlag('--lanes', flags.lanes, 1, 256);
  const threads = flags.threads === undefined ? undefined : parseIntegerFlag('--threads', flags.threads, 1, 256);
  const inferenceThreads = flags.inferenceThreads === undefined ? undefined : parseIntegerFlag('--inference-threads', flags.inferenceThreads, 1, 256);
  const bytesSpec = resolveBytes(flags);
  const model = await loadModel(flags.model, flags.modelsDir);
  if (batchSize > 0) checkBatchFits(model.card.input, batchSize);
  if (flags.inputFormat === 'arrow' && process.stdin.isTTY) {
    throw new UsageError('imgpipe pipe reads an Arrow IPC stream on stdin, and stdin is a terminal: pipe rows in, or pass --input-format jsonl');
  }
  const runId = flags.runId ?? `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${model.qualifiedName}-pipe-${Math.random().toString(16).slice(2, 8)}`;

  // stdout is this command's data: a reader that closes it early (EPIPE) fails the command (exit 1,
  // after the scorer closed), instead of main's `| head` rule (exit 0 at once) taking a short stream
  // for a finished one. The sink sees the destroyed stream and throws.
  process.stdout.removeAllListeners('error');
  process.stdout.on('error', (e) => log.warn({ err: e }, 'stdout failed'));
  const started = performance.now();
  const scorer = await openScorer(model, { device: flags.device, topology: flags.topology as TopologyChoice, lanes, threads, inferenceThreads, batchSize });
  let bytes = null;
  try {
    bytes = bytesSpec ? await openByteSource(bytesSpec, { log }) : null;
    log.info({ run_id: runId, model: model.qualifiedName, topology: describeTopology(scorer.topology), bytes: bytesSpec?.kind ?? 'inline' }, 'pipe started');
    const input = flags.inputFormat === 'arrow' ? readArrowRows(process.stdin, windowRows) : readJsonlRows(process.stdin, windowRows);
    const sink = openPipeSink(flags.format, process.stdout);
    const stats = await runPipe(input, sink, { scorer, model, bytes }, {
      runId,
      maxPixels,
      checkInlineSha1: flags.checkSha1 === true,
      onRows: (rows) => log.debug({ rows: rows.length }, 'window written'),
    });
    const elapsed = (performance.now() - started) / 1000;
    if (!flags.quiet) {
      process.stderr.write(`imgpipe pipe: ${stats.rows} rows (${stats.ok} ok, ${stats.error} error) in ${elapsed.toFixed(1)} s, model ${model.qualifiedName}, run ${runId}, ${describeTopology(scorer.topology)}\n`);
    }
    return 0;
  } finally {
    bytes?.close();
    await scorer.close();
  }
}
