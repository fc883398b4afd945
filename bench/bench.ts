/**
 * `npm run bench [-- --json] [--quick] [--model NAME|CARD …] [--models A,B (only these)] [--images N] [--no-planning] [--no-sink]
 *                 [--only models,sink,planning,pil,incremental] [--help]`
 *
 * Throughput against the machine's own limit, for each model:
 *   D  decode only: images/s of the exact preprocessing the model needs, all cores (decode pool);
 *   I  inference only: images/s on ready tensors, all cores, best of batch 1/8/16/32;
 *   L  the limit: on CPU both stages share the cores, L = 1 / (1/D + 1/I);
 *   E  end to end: `imgpipe run` (a child process) from selection to committed table; E/L;
 *   N  naive baseline in the same run: one image at a time, decode → infer, rows written at the end; E/N;
 * plus peak RSS of the run (driver and its worker threads: one process), the sink's own rows/s, and
 * planning speed and memory for synthetic selections of 10k, 100k and 10M ids.
 *
 * Images: the 100 ImageNet photos in ../shared (repeated to --images, default 1200, so that fixed
 * start-up costs — DuckDB, sessions, threads — weigh on E as they would on a real run of minutes) with
 * mobilenet-v2 and the built-in models when ../shared exists; the generated demo set otherwise.
 * Prints a table, writes bench/results/bench-<time>.json. Figures are noisy on shared machines:
 * compare ratios from one run.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { WarehouseByteSource } from '../src/bytes/WarehouseByteSource.js';
import { duckdbString } from '../src/catalog/sqlQuote.js';
import { importFolder } from '../src/warehouse/importFolder.js';
import { initWarehouse } from '../src/warehouse/initWarehouse.js';
import { preprocess } from '../src/decode/preprocess.js';
import { loadModel, type LoadedModel } from '../src/model/loadModelCard.js';
import { ModelSession } from '../src/model/ModelSession.js';
import { activate, normalizeEmbedding, topK } from '../src/model/postprocess.js';
import { detectionColumns } from '../src/model/detector/detectionRow.js';
import { createParquetPartWriter } from '../src/sink/parquetPartWriter.js';
import { wrapModelUint8 } from '../src/model/wrapModel.js';
import type { ResultRow } from '../src/sink/resultRow.js';
import { benchSink } from './benchSink.js';
import { Piscina } from 'piscina';
import { toWireItem, type ScoringTask, type ScoringThreadSetup } from '../src/exec/scoring/wire.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'bin.js');
const SHARED = path.resolve(ROOT, '..', 'shared');
const SHARED_MODELS = path.join(SHARED, 'models');
const SHARED_IMAGES = path.join(SHARED, 'images', 'imagenet-sample');
/** Measured by the author on this machine kind; not reproducible here (no PyTorch). */
const PYTORCH_DATALOADER_IMG_S = 22;

const USAGE = `npm run bench -- [--json] [--quick] [--model NAME|CARD …] [--models A,B] [--images N] [--no-planning] [--no-sink]
                    [--only models,sink,planning,pil,incremental] [--help]
  --quick     fewer images (at most 200) and rounds
  --models    only these models (instead of the default list plus --model)
  --only      only these sections
Writes bench/results/bench-<time>.json; the figures and their machine are in bench/RESULTS.md.`;

interface Args {
  help: boolean;
  /** Sections to run: models, sink, planning, pil, incremental (all by default). */
  only: Set<string> | null;
  json: boolean;
  quick: boolean;
  models: string[];
  images: number;
  planning: boolean;
  sink: boolean;
  /** `--models a,b`: only these models (instead of the default list plus `--model`s). */
  onlyModels: string[] | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { help: false, only: null, json: false, quick: false, models: [], images: 1200, planning: true, sink: true, onlyModels: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') a.json = true;
    else if (arg === '--help' || arg === '-h') a.help = true;
    else if (arg === '--quick') a.quick = true;
    else if (arg === '--no-planning') a.planning = false;
    else if (arg === '--no-sink') a.sink = false;
    else if (arg === '--model') a.models.push(argv[++i] ?? '');
    else if (arg === '--models') a.onlyModels = (argv[++i] ?? '').split(',').filter((m) => m.length > 0);
    else if (arg === '--images') a.images = Number(argv[++i]);
    else if (arg === '--only') a.only = new Set((argv[++i] ?? '').split(','));
    else throw new Error(`unknown argument ${arg}; see npm run bench -- --help`);
  }
  if (!Number.isInteger(a.images) || a.images < 10) throw new Error(`Expected integer of at least 10 for --images but received ${a.images}`);
  return a;
}

const log = (s: string) => process.stderr.write(s + '\n');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Run a command, sampling its peak RSS (VmHWM) from /proc while it runs. */
function runMeasured(args: string[]): Promise<{ code: number; stdout: string; stderr: string; peakRssMB: number; wallS: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited
      }
    }, 25);
    child.on('close', (code) => {
      clearInterval(timer);
      resolve({ code: code ?? -1, stdout, stderr, peakRssMB: round(peak, 0), wallS: (performance.now() - started) / 1000 });
    });
  });
}

async function buildDataset(dir: string, images: number): Promise<{ warehouse: string; source: string }> {
  const warehouse = path.join(dir, 'wh');
  if (existsSync(SHARED_IMAGES)) {
    const src = path.join(dir, 'photos');
    mkdirSync(src, { recursive: true });
    const files = readdirSync(SHARED_IMAGES).filter((f) => /\.jpe?g$/i.test(f)).sort();
    for (let i = 0; i < images; i++) copyFileSync(path.join(SHARED_IMAGES, files[i % files.length]!), path.join(src, `r${Math.floor(i / files.length)}_${files[i % files.length]}`));
    await initWarehouse(warehouse);
    await importFolder(src, warehouse);
    return { warehouse, source: `${images} ImageNet sample photos (../shared, ${files.length} distinct, repeated)` };
  }
  await initWarehouse(warehouse, { demo: true });
  return { warehouse, source: 'the generated demo set (../shared absent)' };
}

async function loadAllBytes(warehouse: string): Promise<Uint8Array[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const names = (await c.runAndReadAll(`SELECT image_name FROM read_parquet(${duckdbString(path.join(warehouse, 'image_bytes', '*.parquet'))}) ORDER BY 1`)).getRows().map((r) => String(r[0]));
  c.disconnectSync();
  db.closeSync();
  const source = await WarehouseByteSource.open(warehouse);
  const found = await source.fetch(names);
  source.close();
  return names.map((n) => found.get(n)!).filter((b) => b && b.length > 0);
}

/** D: the model's preprocessing on all cores, two tasks in flight per thread. */
async function measureDecode(model: LoadedModel, bytes: Uint8Array[], minSeconds: number): Promise<number> {
  // The decode-only threads of the pooled topology: the decoder runs use (ImageDecoder), one image a task.
  const threads = os.availableParallelism();
  const pool = scoringThreads(threads, { model: null, device: 'cpu', intraOpThreads: 1 });
  const decodeOne = (b: Uint8Array) => {
    const item = toWireItem(b.slice(), null);
    const task: ScoringTask = { kind: 'decode', items: [item], input: model.card.input, maxPixels: 1e9 };
    return pool.run(task, { transferList: [item.bytes] });
  };
  const inFlight = threads * 2;
  await Promise.all(bytes.slice(0, inFlight).map(decodeOne));
  const started = performance.now();
  let done = 0;
  while ((performance.now() - started) / 1000 < minSeconds) {
    let next = 0;
    const worker = async () => {
      while (next < bytes.length) {
        await decodeOne(bytes[next++]!);
        done++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  const rate = done / ((performance.now() - started) / 1000);
  await pool.destroy();
  return rate;
}

/** A pool of the threads runs score in (src/exec/scoring/scoringThread.ts), set up as `setup` says. */
function scoringThreads(threads: number, setup: ScoringThreadSetup): Piscina {
  const filename = fileURLToPath(new URL('../src/exec/scoring/scoringThread.js', import.meta.url));
  return new Piscina({ filename, minThreads: threads, maxThreads: threads, workerData: setup });
}

/**
 * I: inference on ready tensors, all cores, the best configuration of threads × batch × sessions:
 * one session with an intra-op thread per core (batch 1, 16, 32), or one single-threaded session per
 * core, each in its own thread as the lanes run them (batch 1, 8).
 */
async function measureInference(model: LoadedModel, minSeconds: number): Promise<{ rate: number; config: string; byConfig: Record<string, number> }> {
  const cores = os.availableParallelism();
  const byConfig: Record<string, number> = {};
  const session = await ModelSession.create(model, { device: 'cpu' });
  const per = session.valuesPerImage;
  const fixed = session.fixedBatch;
  const tensorOf = (n: number) => (model.card.input.dtype === 'uint8' ? new Uint8Array(n * per).map((_, i) => (i * 7919) % 256) : new Float32Array(n * per).map((_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5));
  for (const batch of fixed ? [fixed] : [1, 16, 32]) {
    const input = tensorOf(batch);
    await session.run(input, batch);
    const started = performance.now();
    let images = 0;
    while ((performance.now() - started) / 1000 < minSeconds) {
      await session.run(input, batch);
      images += batch;
    }
    byConfig[`1 session × ${cores} threads, batch ${batch}`] = images / ((performance.now() - started) / 1000);
  }
  await session.close();
  for (const batch of fixed ? [fixed] : [1, 8]) {
    const setup: ScoringThreadSetup = { model: { card: model.cardPath, sha256: model.card.sha256 }, device: 'cpu', intraOpThreads: 1 };
    const pool = scoringThreads(cores, setup);
    const template = tensorOf(1);
    const task = (): [ScoringTask, ArrayBuffer[]] => {
      const decoded = Array.from({ length: batch }, () => ({ ok: true as const, tensor: template.slice(), width: 1, height: 1 }));
      return [{ kind: 'infer', decoded, batchSize: batch }, decoded.map((d) => d.tensor.buffer as ArrayBuffer)];
    };
    const runOne = () => {
      const [t, transferList] = task();
      return pool.run(t, { transferList });
    };
    await Promise.all(Array.from({ length: cores * 2 }, runOne));
    const started = performance.now();
    let images = 0;
    const loop = async () => {
      while ((performance.now() - started) / 1000 < minSeconds) {
        await runOne();
        images += batch;
      }
    };
    await Promise.all(Array.from({ length: cores * 2 }, loop));
    byConfig[`${cores} sessions × 1 thread, batch ${batch}`] = images / ((performance.now() - started) / 1000);
    await pool.destroy();
  }
  const [config, rate] = Object.entries(byConfig).sort((a, b) => b[1] - a[1])[0]!;
  return { rate, config, byConfig };
}

/** N: what a user would write first — one image at a time, decode then infer, write at the end. */
async function measureNaive(model: LoadedModel, bytes: Uint8Array[], dir: string): Promise<number> {
  const session = await ModelSession.create(model, { device: 'cpu' });
  sharp.concurrency(os.availableParallelism());
  const rows: ResultRow[] = [];
  const started = performance.now();
  for (let i = 0; i < bytes.length; i++) {
    const decoded = await preprocess(bytes[i]!, model.card.input, 1e9);
    const out = await session.run(decoded.tensor, 1);
    const row: ResultRow = { image_name: `img_${i}`, page_id: BigInt(i), sha1: null, status: 'ok', error: null, label: null, score: null, top_k: null, embedding: null, width: decoded.width, height: decoded.height, run_id: 'naive', processed_at: Date.now() };
    if (model.card.task === 'classifier') {
      const top = topK(activate(out, model.card.output.activation), model.labels!, model.card.output.top_k);
      Object.assign(row, { label: top[0]!.label, score: top[0]!.score, top_k: top });
    } else if (model.card.task === 'embedding') row.embedding = normalizeEmbedding(out, model.card.output.normalize);
    else Object.assign(row, detectionColumns(model, out, decoded.width, decoded.height));
    rows.push(row);
  }
  const writer = createParquetPartWriter(path.join(dir, 'naive', `${model.card.name}.parquet`));
  await writer.write(rows);
  await writer.close();
  const rate = bytes.length / ((performance.now() - started) / 1000);
  await session.close();
  return rate;
}

interface ModelFigures {
  model: string;
  task: string;
  images: number;
  D: number;
  I: number;
  I_config: string;
  I_by_config: Record<string, number>;
  L: number;
  E: number;
  E_over_L: number;
  /** The topology E ran with (the default, auto), and E with the other one on the same cores. */
  E_topology: string;
  E_pooled: number;
  N: number;
  E_over_N: number;
  E_over_pytorch: number | null;
  run_peak_rss_mb: number;
  run_wall_s: number;
  stage_ms: Record<string, number>;
}

async function benchModel(name: string, modelsDirs: string[], warehouse: string, bytes: Uint8Array[], dir: string, quick: boolean): Promise<ModelFigures> {
  const model = await loadModel(name, modelsDirs);
  const seconds = quick ? 1 : 3;
  log(`[${model.qualifiedName}] decode only …`);
  const D = await measureDecode(model, bytes, seconds);
  log(`[${model.qualifiedName}] inference only …`);
  const inf = await measureInference(model, quick ? 1 : 2);
  const L = 1 / (1 / D + 1 / inf.rate);
  log(`[${model.qualifiedName}] end to end (imgpipe run) …`);
  const runArgs = (table: string, extra: string[]) => ['run', '--warehouse', warehouse, '--partitions-dir', path.join(dir, 'partitions'), ...modelsDirs.flatMap((d) => ['--models-dir', d]), '--model', name, '--all', '--table', table, ...extra, '--json', '--quiet'];
  const tableName = `bench_${model.card.name.replace(/[^a-z0-9_]/g, '_')}`;
  const e2e = await runMeasured(runArgs(tableName, []));
  if (e2e.code !== 0) throw new Error(`imgpipe run failed (${e2e.code}): ${e2e.stderr}`);
  const result = JSON.parse(e2e.stdout) as { selected: number; elapsed_s: number; stage_ms: Record<string, number>; topology: string };
  const E = result.selected / result.elapsed_s;
  log(`[${model.qualifiedName}] end to end, pooled topology (decode pool → one session) …`);
  const pooledRun = await runMeasured(runArgs(`${tableName}_pooled`, ['--topology', 'pooled', '--batch-size', '16']));
  if (pooledRun.code !== 0) throw new Error(`imgpipe run --topology pooled failed (${pooledRun.code}): ${pooledRun.stderr}`);
  const pooled = JSON.parse(pooledRun.stdout) as { selected: number; elapsed_s: number };
  log(`[${model.qualifiedName}] naive baseline …`);
  const N = await measureNaive(model, bytes.slice(0, quick ? 100 : 400), dir);
  return {
    model: model.qualifiedName,
    task: model.card.task,
    images: result.selected,
    D: round(D),
    I: round(inf.rate),
    I_config: inf.config,
    I_by_config: Object.fromEntries(Object.entries(inf.byConfig).map(([k, v]) => [k, round(v)])),
    L: round(L),
    E: round(E),
    E_over_L: round(E / L, 2),
    E_topology: result.topology,
    E_pooled: round(pooled.selected / pooled.elapsed_s),
    N: round(N),
    E_over_N: round(E / N, 2),
    E_over_pytorch: model.card.name.startsWith('mobilenet-v2') ? round(E / PYTORCH_DATALOADER_IMG_S, 2) : null,
    run_peak_rss_mb: e2e.peakRssMB,
    run_wall_s: round(e2e.wallS, 2),
    stage_ms: result.stage_ms,
  };
}

/**
 * Decode against PIL on the same cores, in the same run: the ImageNet photos (~500 px) and the same
 * photos re-encoded as 3600 px originals (the common case on Commons, where JPEG shrink-on-load
 * matters). PIL runs through bench/pil_decode.py with Debian's python3-pil; skipped when absent.
 */
async function benchDecodeVsPil(dir: string, quick: boolean): Promise<{ set: string; imgpipe_img_s: number; pil_img_s: number | null; pil_draft_img_s: number | null }[] | string> {
  if (!existsSync(SHARED_IMAGES)) return 'skipped: ../shared/images absent';
  const python = '/usr/bin/python3';
  const pilScript = path.join(ROOT, 'bench', 'pil_decode.py');
  const havePil = existsSync(python) && (await new Promise<boolean>((resolve) => spawn(python, ['-c', 'import PIL, numpy']).on('close', (code) => resolve(code === 0))));
  const mobilenet = await loadModel('mobilenet-v2', [SHARED_MODELS]);
  const small = readdirSync(SHARED_IMAGES).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => path.join(SHARED_IMAGES, f));
  const bigDir = path.join(dir, 'big-originals');
  mkdirSync(bigDir, { recursive: true });
  for (const f of small.slice(0, 30)) await sharp(f).resize({ width: 3600 }).jpeg({ quality: 90 }).toFile(path.join(bigDir, path.basename(f)));
  const big = readdirSync(bigDir).map((f) => path.join(bigDir, f));
  const runPil = (args: string[]) =>
    new Promise<number>((resolve) => {
      let text = '';
      const child = spawn(python, [pilScript, ...args]);
      child.stdout.on('data', (d) => (text += d));
      child.on('close', () => resolve((JSON.parse(text) as { images_per_s: number }).images_per_s));
    });
  const out = [];
  // What bounds D on small JPEGs: the JPEG decode alone, one thread against one process.
  const smallBytes = small.map((f) => readFileSync(f));
  sharp.concurrency(1);
  let decoded = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < (quick ? 1000 : 3000)) for (const b of smallBytes) (await sharp(b).raw().toBuffer(), decoded++);
  const sharpDecodeOnly = decoded / ((performance.now() - t0) / 1000);
  sharp.concurrency(os.availableParallelism());
  out.push({ set: 'JPEG decode only (no resize) with sharp, 1 thread / 1 process, ImageNet sample', imgpipe_img_s: round(sharpDecodeOnly), pil_img_s: havePil ? await runPil(['--decode-only', '1', quick ? '1' : '3', ...small]) : null, pil_draft_img_s: null });
  for (const [set, files] of [['ImageNet sample (~500 px)', small], ['3600 px originals', big]] as const) {
    const bytes = files.map((f) => new Uint8Array(readFileSync(f)));
    const ours = await measureDecode(mobilenet, bytes, quick ? 1 : 3);
    const cores = String(os.availableParallelism());
    const seconds = quick ? '1' : '3';
    const pilRate = havePil ? await runPil([cores, seconds, ...files]) : null;
    const pilDraft = havePil ? await runPil(['--draft', cores, seconds, ...files]) : null;
    out.push({ set, imgpipe_img_s: round(ours), pil_img_s: pilRate, pil_draft_img_s: pilDraft });
  }
  if (!havePil) log('note: PIL comparison skipped: /usr/bin/python3 with PIL and numpy not found (apt-get install python3-pil python3-numpy)');
  return out;
}

/**
 * Issue 7's measurement: the same data, a full run and then an incremental run after 1% of the
 * images changed (a re-upload: new bytes — the old ones plus a zero byte of padding after the JPEG's
 * end, which decoders ignore — and their new sha1 in `image`), same model.
 */
async function benchIncremental(warehouse: string, dir: string, model: string, modelsDirs: string[], images: number) {
  const common = ['run', '--warehouse', warehouse, '--partitions-dir', path.join(dir, 'partitions'), ...modelsDirs.flatMap((d) => ['--models-dir', d]), '--model', model, '--all', '--table', 'bench_incremental', '--json', '--quiet'];
  log(`[incremental] full run of ${model} …`);
  const full = await runMeasured([...common, '--snapshot', '2026-01-01']);
  if (full.code !== 0) throw new Error(`full run failed: ${full.stderr}`);
  const changed = Math.max(1, Math.round(images / 100));
  const imageFile = path.join(warehouse, 'image', 'data.parquet');
  const bytesFiles = readdirSync(path.join(warehouse, 'image_bytes')).filter((f) => f.endsWith('.parquet')).map((f) => path.join(warehouse, 'image_bytes', f));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`CREATE TABLE changed AS SELECT image_name FROM read_parquet(${duckdbString(imageFile)}) ORDER BY image_name LIMIT ${changed}`);
  for (const f of bytesFiles) {
    await c.run(`COPY (SELECT * REPLACE (CASE WHEN image_name IN (SELECT image_name FROM changed) THEN bytes || '\\x00'::BLOB ELSE bytes END AS bytes) FROM read_parquet(${duckdbString(f)})) TO ${duckdbString(f + '.new')} (FORMAT parquet)`);
  }
  await c.run(`CREATE TABLE new_sha1 AS SELECT image_name, sha1(bytes) AS sha1 FROM read_parquet([${bytesFiles.map((f) => duckdbString(f + '.new')).join(', ')}]) WHERE image_name IN (SELECT image_name FROM changed)`);
  await c.run(`COPY (SELECT i.* REPLACE (coalesce(n.sha1, i.sha1) AS sha1) FROM read_parquet(${duckdbString(imageFile)}) i LEFT JOIN new_sha1 n USING (image_name) ORDER BY i.image_name) TO ${duckdbString(imageFile + '.new')} (FORMAT parquet)`);
  c.disconnectSync();
  db.closeSync();
  for (const f of bytesFiles) renameSync(f + '.new', f);
  renameSync(imageFile + '.new', imageFile);
  log(`[incremental] incremental run with ${changed} of ${images} images changed …`);
  const incr = await runMeasured([...common, '--snapshot', '2026-01-02', '--incremental']);
  if (incr.code !== 0) throw new Error(`incremental run failed: ${incr.stderr}`);
  const f = JSON.parse(full.stdout) as { elapsed_s: number; inferred: number };
  const i = JSON.parse(incr.stdout) as { elapsed_s: number; inferred: number; incremental: { scored: number; carried_forward: number } };
  return { model, images, changed, full_s: f.elapsed_s, full_inferred: f.inferred, incremental_s: i.elapsed_s, incremental_scored: i.incremental.scored, incremental_inferred: i.inferred, carried_forward: i.incremental.carried_forward, speedup: round(f.elapsed_s / i.elapsed_s, 1) };
}

interface PlanningFigure {
  ids: number;
  seconds: number;
  ids_per_s: number;
  peak_rss_mb: number;
}

async function benchPlanning(dir: string, quick: boolean): Promise<PlanningFigure[]> {
  const warehouse = path.join(dir, 'synthetic');
  await initWarehouse(warehouse);
  const total = quick ? 1_000_000 : 10_000_000;
  log(`[planning] building a synthetic image table of ${total} rows …`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (SELECT 'File_' || lpad(i::VARCHAR, 9, '0') || '.jpg' AS image_name, i::BIGINT AS page_id, md5(i::VARCHAR) || '00000000' AS sha1, 'BITMAP' AS media_type, 'image/jpeg' AS mime, 640::INTEGER AS width, 480::INTEGER AS height, 100000::BIGINT AS size, TIMESTAMP '2020-01-01' AS uploaded_at FROM range(${total}) t(i)) TO ${duckdbString(path.join(warehouse, 'image', 'data.parquet'))} (FORMAT parquet)`);
  c.disconnectSync();
  db.closeSync();
  const figures: PlanningFigure[] = [];
  for (const ids of [10_000, 100_000, total]) {
    const selection = ids === total ? ['--all'] : ['--sql', `SELECT image_name FROM image WHERE page_id < ${ids}`];
    log(`[planning] ${ids} ids …`);
    const r = await runMeasured(['run', '--warehouse', warehouse, '--partitions-dir', path.join(dir, 'plans'), '--model', 'quality-basic', ...selection, '--plan-only', '--json']);
    if (r.code !== 0) throw new Error(`plan failed: ${r.stderr}`);
    const p = JSON.parse(r.stdout) as { selected: number; elapsed_s: number };
    figures.push({ ids: p.selected, seconds: p.elapsed_s, ids_per_s: Math.round(p.selected / p.elapsed_s), peak_rss_mb: r.peakRssMB });
    rmSync(path.join(dir, 'plans'), { recursive: true, force: true });
  }
  return figures;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r, j) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + (j === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'imgpipe-bench-'));
  const machine = {
    cpus: os.availableParallelism(),
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    libvips: sharp.versions.vips,
    onnxruntime: ort.env.versions.node,
    load_average: os.loadavg().map((x) => round(x, 2)),
  };
  try {
    const shared = existsSync(path.join(SHARED_MODELS, 'mobilenet-v2', 'model.json')) && existsSync(SHARED_IMAGES);
    // The uint8 NHWC variant (`imgpipe models wrap`): normalization in the graph, no float loop in JS.
    const wrappedDir = path.join(dir, 'models');
    if (shared) await wrapModelUint8('mobilenet-v2', [SHARED_MODELS], wrappedDir);
    await wrapModelUint8('quality-basic', [], wrappedDir);
    const modelsDirs = shared ? [SHARED_MODELS, wrappedDir] : [wrappedDir];
    const models = [...(shared ? ['mobilenet-v2', 'mobilenet-v2-u8'] : []), 'quality-basic', 'quality-basic-u8', 'color-embed', 'blazeface', ...args.models];
    if (args.onlyModels) models.splice(0, models.length, ...args.onlyModels);
    if (!shared) log(`note: ${SHARED} absent: benchmarking the built-in models on the demo set`);
    const { warehouse, source } = await buildDataset(dir, args.quick ? Math.min(args.images, 200) : args.images);
    const bytes = await loadAllBytes(warehouse);
    const on = (section: string) => args.only === null || args.only.has(section);
    const figures: ModelFigures[] = [];
    if (on('models')) for (const m of models) figures.push(await benchModel(m, modelsDirs, warehouse, bytes, dir, args.quick));
    const sink = args.sink && on('sink') ? await benchSink({ rows: args.quick ? 5_000 : 20_000, repeats: args.quick ? 1 : 3, only: ['pw-tuned-snappy'], workloads: ['classification', 'embedding-2048'], memory: false }) : null;
    const planning = args.planning && on('planning') ? await benchPlanning(dir, args.quick) : [];
    if (on('pil')) log('[decode vs PIL] …');
    const decodeVsPil = on('pil') ? await benchDecodeVsPil(dir, args.quick) : 'not run (--only)';
    const incremental = on('incremental') ? await benchIncremental(warehouse, dir, models[0]!, modelsDirs, bytes.length) : null;
    const result = { at: new Date().toISOString(), machine, images: source, models: figures, sink: sink?.figures.map((f) => ({ workload: f.workload, writer: f.writer, rows_per_s: Math.round(f.rowsPerSecond) })) ?? [], planning, decode_vs_pil: decodeVsPil, incremental, pytorch_dataloader_reference_img_s: PYTORCH_DATALOADER_IMG_S };
    mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    const out = path.join(ROOT, 'bench', 'results', `bench-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    if (args.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return;
    }
    const lines = [
      `imgpipe bench — ${machine.cpus} × ${machine.cpu_model}, node ${machine.node}, libvips ${machine.libvips}, onnxruntime ${machine.onnxruntime}, load ${machine.load_average.join(' ')}`,
      `images: ${source}`,
      '',
      table(
        ['model', 'D img/s', 'I img/s', 'L img/s', 'E img/s', 'E/L', 'E pooled', 'N img/s', 'E/N', 'E/PyTorch', 'run peak RSS MB'],
        figures.map((f) => [f.model, f.D, f.I, f.L, f.E, f.E_over_L, f.E_pooled, f.N, f.E_over_N, f.E_over_pytorch ?? '-', f.run_peak_rss_mb]),
      ),
      '',
      ...figures.map((f) => `${f.model}: I from ${f.I_config}; E ran ${f.E_topology}`),
      '',
      'D decode only (ImageDecoder), I inference only (best of threads × batch × sessions), all cores each; L = 1/(1/D + 1/I) the CPU limit;',
      'E end to end (imgpipe run with its defaults, selection → committed table); E pooled: the same with --topology pooled --batch-size 16;',
      `N naive one-at-a-time baseline, E/PyTorch against ${PYTORCH_DATALOADER_IMG_S} img/s (torchvision DataLoader + PyTorch, measured by the issue's author; not reproducible here).`,
    ];
    if (sink) lines.push('', table(['sink workload', 'rows/s (one core)'], sink.figures.map((f) => [f.workload, Math.round(f.rowsPerSecond)])));
    if (typeof decodeVsPil === 'string') lines.push('', `decode vs PIL: ${decodeVsPil}`);
    else lines.push('', table(['decode (mobilenet-v2 preprocessing, all cores, unless said)', 'imgpipe img/s', 'PIL img/s', 'PIL draft img/s'], decodeVsPil.map((d) => [d.set, d.imgpipe_img_s, d.pil_img_s ?? 'n/a', d.pil_draft_img_s ?? '-'])));
    if (incremental) lines.push('', table(['incremental (same data)', 'seconds', 'images inferred'], [[`full run, ${incremental.model}`, incremental.full_s, incremental.full_inferred], [`--incremental, ${incremental.changed} of ${incremental.images} changed (1%)`, incremental.incremental_s, incremental.incremental_inferred]]), `speed-up ${incremental.speedup}×, ${incremental.carried_forward} rows carried forward`);
    if (planning.length) lines.push('', table(['planning ids', 'seconds', 'ids/s', 'peak RSS MB'], planning.map((p) => [p.ids, p.seconds, p.ids_per_s, p.peak_rss_mb])));
    lines.push('', `JSON: ${path.relative(process.cwd(), out)}`);
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
