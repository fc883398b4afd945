/**
 * The driver's job: plan (or re-attach to a plan with `resume`), execute the pending partitions,
 * commit, register — the whole `imgpipe run`, callable from the CLI, the demo and the benchmark.
 *
 * Sequence: load model card (sha256 checked) → open catalog → plan → setupJob → execute
 * (each partition committed to staging as it ends) → TableWriter.publish (compact in staging, seal
 * the version, swap the model=…/snapshot=… pointer, registerPartition) → summary. The table lock is
 * held from planning to registration. If execution throws, staging is kept so `--resume` can go on;
 * nothing is visible. If it is stopped (Ctrl-C), the result says so and the run is resumable.
 * If a partition failed for infrastructure reasons (disk full, I/O error, byte source or table
 * store lost), execution throws RunFailedError (exit 1) and nothing is committed: a failed run
 * never replaces a good snapshot.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ByteSourceSpec } from '../bytes/ByteSource.js';
import type { Selection } from '../catalog/Catalog.js';
import type { CatalogSpec } from '../catalog/catalogSpec.js';
import { openCatalog } from '../catalog/openCatalog.js';
import { checkIdentifier } from '../catalog/sqlQuote.js';
import { rmSync } from 'node:fs';
import { loadModel, readModelCard } from '../model/loadModelCard.js';
import { findPreviousSnapshot, resultKey } from '../plan/incremental.js';
import { DEFAULT_COMPACT_BELOW_BYTES } from '../sink/compactSnapshot.js';
import { TableWriter } from '../sink/TableWriter.js';
import { ModelSession, type Device } from '../model/ModelSession.js';
import { RunPlanDir, type PartCommitMessage, type RunSpec } from '../plan/manifest.js';
import { planRun } from '../plan/planRun.js';
import type { RunSummaryFile } from '../sink/Committer.js';
import { isRemoteLocation, resolveLocation } from '../sink/location.js';
import { defaultHdfsUser } from '../sink/openTableStore.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError } from '../util/is.js';
import type { Executor } from './Executor.js';
import { executePartitions, trustedDoneMessages } from './executePartitions.js';
import { LocalExecutor } from './local.js';
import type { TaskContextOptions } from './openTaskContext.js';
import type { TopologyChoice } from './scoring/openScorer.js';
import type { QueueExecutor } from './queue/QueueExecutor.js';
import type { RedisTarget } from './queue/RedisTarget.js';

export interface RunJobOptions {
  warehouse?: string;
  /** Where to select and register. @defaultValue the embedded warehouse `warehouse` */
  catalog?: CatalogSpec;
  /** Where image bytes come from. @defaultValue the catalog's `image_bytes` (warehouse or Hive) */
  bytes?: ByteSourceSpec;
  /**
   * The output table's location: a local or mounted path, or webhdfs://HOST:PORT/PATH.
   * @defaultValue `<warehouse>/<table>`; required with a Hive catalog
   */
  tableLocation?: string;
  /** HDFS user for a webhdfs:// table location. @defaultValue $HADOOP_USER_NAME, else the OS user */
  hdfsUser?: string;
  model?: string;
  modelsDirs?: string[];
  selection?: Selection;
  snapshot?: string;
  table?: string;
  partitionSize: number;
  partitionsDir: string;
  /** Images per inference call; 0: chosen by topology (1 per lane on CPU, 64 on GPU). */
  batchSize: number;
  maxPixels: number;
  /** Detector cards only: the score threshold instead of the card's `output.min_score`. */
  minScore?: number;
  /** @defaultValue 'auto' (lanes on CPU, pooled on GPU) */
  topology?: TopologyChoice;
  /** Lanes of the lanes topology. @defaultValue the cores */
  lanes?: number;
  /** Decode threads of the pooled topology. @defaultValue the cores */
  threads?: number;
  /** onnxruntime intra-op threads (`--inference-threads`). */
  inferenceThreads?: number;
  device: Device;
  resume?: string;
  /** Score only images new or changed since the model's previous snapshot; carry the rest. */
  incremental?: boolean;
  /** Compact the committed snapshot when its parts average under this many bytes (0: never). @defaultValue 32 MiB */
  compactBelow?: number;
  /** Where partitions run: this process, or `imgpipe worker`s pulling from Redis. @defaultValue 'local' */
  executor?: 'local' | 'queue';
  /** Required with executor 'queue': the Redis server and the queue name the workers listen on. */
  queue?: { target: RedisTarget; queueName: string };
  log: Logger;
  /** Called once the plan is known (total images, images already done on resume). */
  onPlanned?: (run: RunSpec, alreadyDone: number) => void;
  onImages?: (n: number) => void;
  /** Receives the executor so a signal handler can stop it. */
  onExecutor?: (executor: Pick<Executor, 'stop'>) => void;
}

export interface RunJobResult {
  run_id: string;
  /** The committed `model=…/snapshot=…` folder. */
  output: string;
  table: string;
  model: string;
  snapshot: string;
  selected: number;
  ok: number;
  error: number;
  error_reasons: Record<string, number>;
  labels: Record<string, number>;
  partitions: number;
  elapsed_s: number;
  images_per_s: number;
  /** True when stopped before all partitions ran: nothing was committed; resume with run_id. */
  interrupted: boolean;
  metrics: { fetch_ms: number; decode_ms: number; infer_ms: number; write_ms: number };
  device: string;
  /** Which topology ran, with its thread split (`describeTopology`); "queue" for queued runs. */
  topology: string;
  /** Partitions that failed all their attempts (their images are `partition_failed` rows), and why. */
  failed_partitions: { partition: number; attempts: number; last_error: string }[];
  /** Images that went through the model in this run (ok rows scored now, not carried). */
  inferred: number;
  /** `--incremental` only. */
  incremental: { previous_snapshot: string | null; scored: number; carried_forward: number; dropped: number } | null;
}

export function defaultSnapshot(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function newRunId(modelQualified: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${modelQualified}-${randomBytes(3).toString('hex')}`;
}

export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  if (options.executor !== 'queue') return runJobWith(options, null);
  if (!options.queue) throw new UsageError('--executor queue needs --redis URL (or REDIS_URL)');
  // Redis is checked before planning: a wrong password costs seconds, not a plan. BullMQ and ioredis
  // are loaded only here: a local run never pays for them.
  const { QueueExecutor } = await import('./queue/QueueExecutor.js');
  const queue = await QueueExecutor.open({ ...options.queue, log: options.log, onImages: options.onImages });
  try {
    return await runJobWith(options, queue);
  } finally {
    await queue.close();
  }
}

async function runJobWith(options: RunJobOptions, queueExecutor: QueueExecutor | null): Promise<RunJobResult> {
  const started = performance.now();
  const { run, plan } = options.resume ? await reattach(options) : await planNew(options);
  // One writer per table (any location): a second nightly run refuses, naming the holder.
  let writer: TableWriter;
  try {
    writer = await TableWriter.open(run.table_location, run.run_id, { hdfsUser: run.hdfs?.user, log: options.log });
  } catch (e) {
    if (!options.resume) rmSync(plan.dir, { recursive: true, force: true });
    throw e;
  }
  try {
    return await executeAndCommit(options, queueExecutor, run, plan, started, writer);
  } finally {
    await writer.close();
  }
}

function taskContextOptions(options: RunJobOptions): TaskContextOptions {
  return {
    device: options.device,
    topology: options.topology,
    lanes: options.lanes,
    threads: options.threads,
    inferenceThreads: options.inferenceThreads,
    batchSize: options.batchSize,
    onImages: options.onImages,
  };
}

async function executeAndCommit(
  options: RunJobOptions,
  queueExecutor: QueueExecutor | null,
  run: RunSpec,
  plan: RunPlanDir,
  started: number,
  writer: TableWriter,
): Promise<RunJobResult> {
  const store = writer.store;
  const committer = writer.committer(run.run_id, run.model.qualified, run.snapshot);
  const alreadyDone = await trustedDoneMessages(run, plan, store);
  options.onPlanned?.(run, [...alreadyDone.values()].reduce((n, m) => n + m.rows, 0));

  let messages: Map<number, PartCommitMessage>;
  let device = 'cpu';
  let topology = 'none (already committed)';
  if (await committer.alreadyCommitted()) {
    // A driver died after sealing the version: only the pointer swap or registration may be missing.
    // The staged parts are gone (sealed), but every partition's done record is still in the plan.
    messages = new Map(Array.from({ length: run.partitions }, (_, p) => [p, plan.readDone(p)] as const).filter((e): e is [number, PartCommitMessage] => e[1] !== null));
  } else {
    await committer.setupJob();
    // Placement is the executor's; done records, the fold and the fallback are executePartitions'.
    const executor: Executor =
      queueExecutor ??
      new LocalExecutor({
        log: options.log,
        context: taskContextOptions(options),
      });
    options.onExecutor?.(executor);
    let stopped: boolean;
    try {
      ({ messages, stopped } = await executePartitions(executor, run, plan, committer, { log: options.log }));
    } finally {
      if (!queueExecutor) await executor.close();
    }
    device = [...executor.devices].sort().join('+') || (queueExecutor ? 'queue' : 'cpu');
    topology = queueExecutor ? 'queue: each worker chooses its own (see its log)' : ((executor as LocalExecutor).topology ?? 'none (nothing to run)');
    if (stopped || messages.size < run.partitions) {
      return summarize(run, messages, started, device, topology, true, committer.finalDir);
    }
  }

  const result = summarize(run, messages, started, device, topology, false, committer.finalDir);
  const carried = run.incremental?.carried;
  const summary: RunSummaryFile = {
    run_id: run.run_id,
    model: run.model.qualified,
    snapshot: run.snapshot,
    table: run.table,
    partitions: run.partitions,
    selected: result.selected,
    ok: result.ok,
    error: result.error,
    error_reasons: result.error_reasons,
    labels: result.labels,
    committed_at: new Date().toISOString(),
    elapsed_s: result.elapsed_s,
    ...(result.failed_partitions.length > 0 ? { failed_partitions: result.failed_partitions } : {}),
    model_sha256: run.model.sha256,
    result_key: resultKey(readModelCard(run.model.card), run.model.card, run.options.max_pixels, run.options.min_score),
    model_card: readModelCard(run.model.card) as unknown as Record<string, unknown>,
    ...(result.incremental ? { incremental: result.incremental } : {}),
  };
  // Compaction, seal, pointer swap and registration: the table layer (src/sink/TableWriter.ts).
  await writer.publish(committer, summary, {
    table: run.table,
    compactBelow: options.compactBelow ?? DEFAULT_COMPACT_BELOW_BYTES,
    ...(carried && carried.rows > 0 ? { carriedFile: plan.carriedPath } : {}),
    register: async (registration) => {
      const catalog = await openCatalog(run.catalog, { log: options.log });
      try {
        await catalog.registerPartition(registration);
      } finally {
        await catalog.close();
      }
    },
  });
  return result;
}

/** The table a run writes when `--table` is not given, by the card's task. */
export const DEFAULT_TABLE = { classifier: 'classifications', embedding: 'embeddings', detector: 'detections' } as const;

/** Select and plan a new run (manifests + run.json) without executing it: `run --plan-only`. */
export async function planNew(
  options: Pick<
    RunJobOptions,
    'warehouse' | 'catalog' | 'bytes' | 'tableLocation' | 'hdfsUser' | 'model' | 'modelsDirs' | 'selection' | 'table' | 'snapshot' | 'partitionSize' | 'partitionsDir' | 'batchSize' | 'maxPixels' | 'minScore' | 'device'
  > & { log?: Logger; incremental?: boolean },
): Promise<{ run: RunSpec; plan: RunPlanDir }> {
  if (!options.warehouse && !options.catalog) throw new UsageError('--warehouse DIR (or --catalog hive --hive HOST:PORT) is required');
  if (!options.model) throw new UsageError('--model NAME|CARD is required');
  if (!options.selection) throw new UsageError('one of --all, --category C or --sql "SELECT image_name FROM image WHERE …" is required');
  const model = await loadModel(options.model, options.modelsDirs);
  if (options.minScore !== undefined && model.card.task !== 'detector') {
    throw new UsageError(`--min-score is for detector models, but ${model.qualifiedName} is a ${model.card.task}`);
  }
  if (model.card.task === 'detector') {
    // A detector's outputs and anchors are checked against the graph here, before any plan is
    // written, so a bad card exits 2 naming the mismatch (in a scoring thread the same check would
    // only fail the attempts). Small graphs: one CPU session, opened and closed.
    await (await ModelSession.create(model, { device: 'cpu', intraOpThreads: 1 })).close();
  }
  const table = checkIdentifier(options.table ?? DEFAULT_TABLE[model.card.task], '--table');
  const catalogSpec: CatalogSpec = options.catalog ?? { kind: 'embedded', warehouse: path.resolve(options.warehouse!) };
  let tableLocation: string;
  if (options.tableLocation) tableLocation = resolveLocation(options.tableLocation);
  else if (catalogSpec.kind === 'embedded') tableLocation = path.join(catalogSpec.warehouse, table);
  else throw new UsageError('--table-location LOCATION is required with --catalog hive: where the output table lives (a local or mounted path, or webhdfs://HOST:PORT/PATH)');
  const bytes: ByteSourceSpec =
    options.bytes ?? (catalogSpec.kind === 'embedded' ? { kind: 'warehouse', warehouseDir: catalogSpec.warehouse } : { kind: 'hive', hive: catalogSpec.hive, batch_size: 256 });
  const catalog = await openCatalog(catalogSpec, { log: options.log });
  try {
    const runId = newRunId(model.qualifiedName);
    const plan = RunPlanDir.forRun(options.partitionsDir, runId);
    const snapshot = options.snapshot ?? defaultSnapshot();
    let incremental: { previous: Awaited<ReturnType<typeof findPreviousSnapshot>> } | undefined;
    if (options.incremental) {
      if (isRemoteLocation(tableLocation) || catalogSpec.kind !== 'embedded') throw new UsageError('--incremental is supported on the embedded warehouse with a local table location');
      incremental = { previous: await findPreviousSnapshot(tableLocation, model.qualifiedName, resultKey(model.card, model.cardPath, options.maxPixels, options.minScore), snapshot) };
    }
    const run = await planRun(catalog, options.selection, plan, {
      run_id: runId,
      selection: options.selection,
      catalog: catalogSpec,
      bytes,
      model: { name: model.card.name, version: model.card.version, sha256: model.card.sha256, card: model.cardPath, qualified: model.qualifiedName },
      table,
      table_location: tableLocation,
      ...(isRemoteLocation(tableLocation) ? { hdfs: { user: options.hdfsUser ?? defaultHdfsUser() } } : {}),
      snapshot,
      partition_size: options.partitionSize,
      options: { batch_size: options.batchSize, max_pixels: options.maxPixels, device: options.device, ...(options.minScore !== undefined ? { min_score: options.minScore } : {}) },
    }, incremental);
    return { run, plan };
  } finally {
    await catalog.close();
  }
}

async function reattach(options: RunJobOptions): Promise<{ run: RunSpec; plan: RunPlanDir }> {
  const runId = options.resume!;
  if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw invalidParameterError('--resume', 'a run id (letters, digits, ".", "_", "-")', runId);
  const plan = RunPlanDir.forRun(options.partitionsDir, runId);
  const run = plan.readRun();
  return { run, plan };
}

function summarize(run: RunSpec, messages: Map<number, PartCommitMessage>, started: number, device: string, topology: string, interrupted: boolean, output: string): RunJobResult {
  const sum = { ok: 0, error: 0, error_reasons: {} as Record<string, number>, labels: {} as Record<string, number> };
  const metrics = { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0 };
  const failed: RunJobResult['failed_partitions'] = [];
  for (const m of messages.values()) {
    if (m.failure) failed.push({ partition: m.partition, ...m.failure });
    sum.ok += m.ok;
    sum.error += m.error;
    for (const [k, v] of Object.entries(m.error_reasons)) sum.error_reasons[k] = (sum.error_reasons[k] ?? 0) + v;
    for (const [k, v] of Object.entries(m.labels)) sum.labels[k] = (sum.labels[k] ?? 0) + v;
    metrics.fetch_ms += m.metrics.fetch_ms;
    metrics.decode_ms += m.metrics.decode_ms;
    metrics.infer_ms += m.metrics.infer_ms;
    metrics.write_ms += m.metrics.write_ms;
  }
  const inferred = sum.ok;
  const carried = run.incremental?.carried;
  if (carried) {
    sum.ok += carried.ok;
    sum.error += carried.error;
    for (const [k, v] of Object.entries(carried.error_reasons)) sum.error_reasons[k] = (sum.error_reasons[k] ?? 0) + v;
    for (const [k, v] of Object.entries(carried.labels)) sum.labels[k] = (sum.labels[k] ?? 0) + v;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    inferred,
    incremental: run.incremental ? { previous_snapshot: run.incremental.previous_snapshot, scored: run.images, carried_forward: run.incremental.carried.rows, dropped: run.incremental.dropped } : null,
    run_id: run.run_id,
    output,
    table: run.table,
    model: run.model.qualified,
    snapshot: run.snapshot,
    selected: run.images + (carried?.rows ?? 0),
    ...sum,
    partitions: run.partitions,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    images_per_s: Math.round(((sum.ok + sum.error) / Math.max(elapsed, 1e-9)) * 10) / 10,
    interrupted,
    metrics,
    device,
    topology,
    failed_partitions: failed.sort((a, b) => a.partition - b.partition),
  };
}
