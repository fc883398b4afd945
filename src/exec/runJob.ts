/**
 * The driver's job: plan (or re-attach to a plan with `resume`), execute the pending partitions,
 * commit, register — the whole `imgpipe run`, callable from the CLI, the demo and the benchmark.
 *
 * Sequence: load model card (sha256 checked) → open catalog → plan → setupJob → execute
 * (each partition committed to staging as it ends) → commitJob (swap in model=…/snapshot=…)
 * → registerPartition → summary. If execution throws, staging is kept so `--resume` can go on;
 * nothing is visible. If it is stopped (Ctrl-C), the result says so and the run is resumable.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Selection } from '../catalog/Catalog.js';
import { EmbeddedCatalog } from '../catalog/EmbeddedCatalog.js';
import { checkIdentifier } from '../catalog/sqlQuote.js';
import { loadModel } from '../model/loadModelCard.js';
import type { Device } from '../model/ModelSession.js';
import { RunPlanDir, type PartCommitMessage, type RunSpec } from '../plan/manifest.js';
import { planRun } from '../plan/planRun.js';
import { Committer, type RunSummaryFile } from '../sink/Committer.js';
import { UsageError } from '../util/errors.js';
import { LocalExecutor } from './local.js';
import { openTaskContext } from './openTaskContext.js';

export interface RunJobOptions {
  warehouse?: string;
  model?: string;
  modelsDirs?: string[];
  selection?: Selection;
  snapshot?: string;
  table?: string;
  partitionSize: number;
  partitionsDir: string;
  batchSize: number;
  maxPixels: number;
  threads?: number;
  device: Device;
  resume?: string;
  log: Logger;
  /** Called once the plan is known (total images, images already done on resume). */
  onPlanned?: (run: RunSpec, alreadyDone: number) => void;
  onImages?: (n: number) => void;
  /** Receives the executor so a signal handler can stop it. */
  onExecutor?: (executor: LocalExecutor) => void;
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
}

export function defaultSnapshot(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function newRunId(modelQualified: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${modelQualified}-${randomBytes(3).toString('hex')}`;
}

export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const started = performance.now();
  const { run, plan } = options.resume ? await reattach(options) : await planNew(options);
  const committer = new Committer(run.table_location, run.run_id, run.model.qualified, run.snapshot, options.log);
  const alreadyDone = LocalExecutor.doneMessages(run, plan);
  options.onPlanned?.(run, [...alreadyDone.values()].reduce((n, m) => n + m.rows, 0));

  let messages: Map<number, PartCommitMessage>;
  let device = 'cpu';
  if (committer.alreadyCommitted()) {
    messages = alreadyDone; // a driver died after the swap; only registration may be missing
  } else {
    committer.setupJob();
    const opened = await openTaskContext(run, { device: options.device, threads: options.threads, batchSize: options.batchSize, onImages: options.onImages });
    device = opened.ctx.session.provider;
    const executor = new LocalExecutor({ log: options.log });
    options.onExecutor?.(executor);
    try {
      messages = await executor.execute(run, plan, committer, opened.ctx);
    } finally {
      await opened.close();
    }
    if (executor.stopped || messages.size < run.partitions) {
      return summarize(run, messages, started, device, true, committer.finalDir);
    }
  }

  const result = summarize(run, messages, started, device, false, committer.finalDir);
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
  };
  committer.commitJob(summary);
  const catalog = await EmbeddedCatalog.open(run.catalog.warehouse);
  try {
    await catalog.registerPartition({ table: run.table, model: run.model.qualified, snapshot: run.snapshot, location: committer.finalDir, runId: run.run_id });
  } finally {
    catalog.close();
  }
  return result;
}

/** Select and plan a new run (manifests + run.json) without executing it: `run --plan-only`. */
export async function planNew(
  options: Pick<RunJobOptions, 'warehouse' | 'model' | 'modelsDirs' | 'selection' | 'table' | 'snapshot' | 'partitionSize' | 'partitionsDir' | 'batchSize' | 'maxPixels' | 'device'>,
): Promise<{ run: RunSpec; plan: RunPlanDir }> {
  if (!options.warehouse) throw new UsageError('--warehouse DIR is required');
  if (!options.model) throw new UsageError('--model NAME|CARD is required');
  if (!options.selection) throw new UsageError('one of --all, --category C or --sql "SELECT image_name FROM image WHERE …" is required');
  const model = await loadModel(options.model, options.modelsDirs);
  const table = checkIdentifier(options.table ?? (model.card.task === 'classifier' ? 'classifications' : 'embeddings'), 'table name');
  const warehouse = path.resolve(options.warehouse);
  const catalog = await EmbeddedCatalog.open(warehouse);
  try {
    const runId = newRunId(model.qualifiedName);
    const plan = RunPlanDir.forRun(options.partitionsDir, runId);
    const run = await planRun(catalog, options.selection, plan, {
      run_id: runId,
      selection: options.selection,
      catalog: { kind: 'embedded', warehouse },
      bytes: { kind: 'warehouse', warehouseDir: warehouse },
      model: { name: model.card.name, version: model.card.version, sha256: model.card.sha256, card: model.cardPath, qualified: model.qualifiedName },
      table,
      table_location: path.join(warehouse, table),
      snapshot: options.snapshot ?? defaultSnapshot(),
      partition_size: options.partitionSize,
      options: { batch_size: options.batchSize, max_pixels: options.maxPixels, device: options.device },
    });
    return { run, plan };
  } finally {
    catalog.close();
  }
}

async function reattach(options: RunJobOptions): Promise<{ run: RunSpec; plan: RunPlanDir }> {
  const runId = options.resume!;
  if (!/^[A-Za-z0-9._-]+$/.test(runId)) throw new UsageError(`Expected a run id (letters, digits, ".", "_", "-") for --resume but received ${JSON.stringify(runId)}`);
  const plan = RunPlanDir.forRun(options.partitionsDir, runId);
  const run = plan.readRun();
  return { run, plan };
}

function summarize(run: RunSpec, messages: Map<number, PartCommitMessage>, started: number, device: string, interrupted: boolean, output: string): RunJobResult {
  const sum = { ok: 0, error: 0, error_reasons: {} as Record<string, number>, labels: {} as Record<string, number> };
  const metrics = { fetch_ms: 0, decode_ms: 0, infer_ms: 0, write_ms: 0 };
  for (const m of messages.values()) {
    sum.ok += m.ok;
    sum.error += m.error;
    for (const [k, v] of Object.entries(m.error_reasons)) sum.error_reasons[k] = (sum.error_reasons[k] ?? 0) + v;
    for (const [k, v] of Object.entries(m.labels)) sum.labels[k] = (sum.labels[k] ?? 0) + v;
    metrics.fetch_ms += m.metrics.fetch_ms;
    metrics.decode_ms += m.metrics.decode_ms;
    metrics.infer_ms += m.metrics.infer_ms;
    metrics.write_ms += m.metrics.write_ms;
  }
  const elapsed = (performance.now() - started) / 1000;
  return {
    run_id: run.run_id,
    output,
    table: run.table,
    model: run.model.qualified,
    snapshot: run.snapshot,
    selected: run.images,
    ...sum,
    partitions: run.partitions,
    elapsed_s: Math.round(elapsed * 1000) / 1000,
    images_per_s: Math.round(((sum.ok + sum.error) / Math.max(elapsed, 1e-9)) * 10) / 10,
    interrupted,
    metrics,
    device,
  };
}
