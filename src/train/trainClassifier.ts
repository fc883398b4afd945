/**
 * `imgpipe train` as a function: categories → embeddings → softmax-regression head → one ONNX model
 * (backbone + head) with a card that `imgpipe run` uses like any other, plus a report.
 *
 * Sequence: validate (name, target folder, backbone is an embedding model) → select the labelled
 * images (images in two of the categories are left out) → ensure embeddings (reuse the committed
 * `embeddings` partition when it covers them, else one normal run) → drop error rows → split
 * (stratified, by hash of name and seed) → fit the head → evaluate on the held-out split → compose
 * the ONNX graph → write the model folder (built aside, checked by opening a session, then renamed
 * into place) → write the report into `<model>/report/`.
 *
 * If it throws before the model folder is renamed into place, no model is visible (an embedding
 * partition it committed stays: it is an ordinary run's output and a next attempt reuses it).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ByteSourceSpec } from '../bytes/byteSourceSpec.js';
import type { CatalogSpec } from '../catalog/catalogSpec.js';
import { hiveAddress } from '../catalog/hive/hiveSettings.js';
import { openCatalog } from '../catalog/openCatalog.js';
import { defaultSnapshot, type RunJobOptions } from '../exec/runJob.js';
import { loadModel, sha256File } from '../model/loadModelCard.js';
import { modelCardSchema, type ClassifierCard } from '../model/ModelCard.js';
import { ModelSession, type Device } from '../model/ModelSession.js';
import { composeLinearHead } from '../model/onnx/composeLinearHead.js';
import { trainingReportModel, type HeldOutPrediction } from '../report/trainingReportModel.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError } from '../util/is.js';
import { ensureEmbeddings } from './ensureEmbeddings.js';
import { evaluateClassifier } from './evaluateClassifier.js';
import { holdoutSplit } from './holdoutSplit.js';
import { readLabelsFile, selectLabelledFromList, type LabelPair } from './readLabels.js';
import { selectLabelledImages } from './selectLabelledImages.js';
import { linearLogits, softmax } from './softmaxRegression.js';
import { trainLinearHead } from './trainLinearHead.js';
import type { TrainingRecord } from './TrainingRecord.js';

export interface TrainOptions {
  /** The embedded warehouse (catalog, and by default the embeddings table's home); or give `catalog`. */
  warehouse?: string;
  /** Where images are selected (embedded, Hive, with a source profile). @defaultValue the embedded `warehouse` */
  catalog?: CatalogSpec;
  /** Bytes of the embedding run. @defaultValue the catalog's `image_bytes` */
  bytes?: ByteSourceSpec;
  /** The embeddings table's folder (local or mounted). @defaultValue `<warehouse>/embeddings`; required with a Hive catalog */
  tableLocation?: string;
  /**
   * Labels from a list instead of categories: a CSV/Parquet file, or a query on the catalog, with
   * image_name and label columns (readLabels.ts). `categories` must then be empty.
   */
  labels?: { kind: 'file'; file: string } | { kind: 'sql'; sql: string };
  /** Embedding model name or card path. */
  backbone: string;
  modelsDirs: string[];
  /** Two or more distinct category names; their order is the label order. Empty with `labels`. */
  categories: string[];
  /** @defaultValue 0 */
  depth: number;
  /** Fraction of each category held out for evaluation, in (0, 1). @defaultValue 0.2 */
  holdout: number;
  /** Seeds the split. @defaultValue 1 */
  seed: number;
  /** L2 penalty on the standardized head weights. @defaultValue 0.01 */
  l2: number;
  /** Name of the new model (card `name`). */
  name: string;
  /** @defaultValue '1' */
  version: string;
  /** Folder that receives `<name>/model.json`, `model.onnx`, `head.json`, `report/`. */
  outDir: string;
  /** Replace an existing model folder of that name. @defaultValue false */
  force: boolean;
  /** Snapshot of the embeddings partition. @defaultValue today (UTC) */
  snapshot?: string;
  partitionsDir: string;
  batchSize: number;
  maxPixels: number;
  threads?: number;
  device: Device;
  log: Logger;
  /** @defaultValue true */
  report?: boolean;
  onPlanned?: RunJobOptions['onPlanned'];
  onImages?: RunJobOptions['onImages'];
}

export interface TrainResult {
  name: string;
  /** `<name>-<version>` */
  model: string;
  card: string;
  onnx: string;
  /** index.html of the training report, or null with `report: false`. */
  report: string | null;
  embeddings: TrainingRecord['data']['embeddings'];
  counts: TrainingRecord['counts'];
  metrics: TrainingRecord['metrics'];
  head: TrainingRecord['head'];
  elapsed_s: number;
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * @throws {UsageError} bad options, an unknown or non-embedding backbone, an unknown or empty
 * category, a category with fewer than 2 usable images, an existing model folder without `force`.
 */
export async function trainClassifier(o: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  if (!NAME_PATTERN.test(o.name)) throw invalidParameterError('--name', 'a model name of lower-case letters, digits, ".", "_" or "-"', o.name);
  if (!/^[A-Za-z0-9._-]+$/.test(o.version)) throw invalidParameterError('--model-version', 'letters, digits, ".", "_" or "-"', o.version);
  if (o.labels && o.categories.length > 0) throw new UsageError('Expected either --category (repeated) or --labels/--labels-sql but received both');
  if (!o.labels && o.categories.length < 2) throw new UsageError(`Expected at least 2 categories for --category but received ${o.categories.length}`);
  if (!o.warehouse && !o.catalog) throw new UsageError('--warehouse DIR (or --catalog hive --hive HOST:PORT) is required');
  const catalogSpec: CatalogSpec = o.catalog ?? { kind: 'embedded', warehouse: path.resolve(o.warehouse!) };
  if (catalogSpec.kind === 'hive' && !o.tableLocation) {
    throw new UsageError('--table-location DIR is required with --catalog hive: the embeddings table\'s folder (local or mounted; train reads the rows back from it)');
  }
  if (new Set(o.categories).size !== o.categories.length) throw new UsageError(`Expected distinct categories for --category but received ${o.categories.map((c) => JSON.stringify(c)).join(', ')}`);
  if (!(o.holdout > 0 && o.holdout < 1)) throw invalidParameterError('--holdout', 'a number between 0 and 1 (exclusive)', o.holdout);
  const modelDir = path.join(path.resolve(o.outDir), o.name);
  if (existsSync(path.join(modelDir, 'model.json')) && !o.force) {
    throw new UsageError(`A model named ${o.name} already exists at ${modelDir}; pass --force to replace it, or choose another --name`);
  }
  const backbone = await loadModel(o.backbone, o.modelsDirs);
  if (backbone.card.task !== 'embedding') {
    throw new UsageError(`Expected an embedding model for --backbone but ${backbone.card.name} (${backbone.cardPath}) is a ${backbone.card.task}`);
  }
  const backboneCard = backbone.card;
  const warehouse = o.warehouse ? path.resolve(o.warehouse) : null;
  const snapshot = o.snapshot ?? defaultSnapshot();
  const namesFile = path.join(path.resolve(o.partitionsDir), `train-${o.name}-${o.version}-${Date.now()}-names.parquet`);
  const labelsWhat = !o.labels ? `categories ${o.categories.join(', ')} (depth ${o.depth})` : o.labels.kind === 'file' ? `--labels ${path.resolve(o.labels.file)}` : '--labels-sql';

  // 1. Labelled images.
  let pairs: LabelPair[] = [];
  if (o.labels?.kind === 'file') pairs = await readLabelsFile(o.labels.file);
  if (o.labels?.kind === 'sql') {
    // Its own catalog: the embedded one stays sandboxed after the user's query (EmbeddedCatalog),
    // and the names file below lies outside that sandbox.
    const labelsCatalog = await openCatalog(catalogSpec, { log: o.log });
    try {
      for await (const batch of labelsCatalog.selectLabels(o.labels.sql)) pairs.push(...batch);
    } finally {
      await labelsCatalog.close();
    }
  }
  const catalog = await openCatalog(catalogSpec, { log: o.log });
  let selection;
  let notFound = 0;
  try {
    if (!o.labels) selection = await selectLabelledImages(catalog, o.categories, o.depth);
    else {
      const listed = await selectLabelledFromList(catalog, pairs, namesFile, labelsWhat);
      selection = listed;
      notFound = listed.notFound;
      if (notFound > 0) o.log.warn({ not_found: notFound }, `${notFound} labelled images are not in the catalog; they are left out`);
    }
  } finally {
    await catalog.close();
  }
  const labels = selection.categories;
  const K = labels.length;

  // 2. Embeddings.
  const embeddings = await ensureEmbeddings(
    selection.images.map((i) => i.ref),
    {
      ...(warehouse ? { warehouse } : {}),
      catalog: catalogSpec,
      ...(o.bytes ? { bytes: o.bytes } : {}),
      ...(o.tableLocation ? { tableLocation: path.resolve(o.tableLocation) } : {}),
      backbone: backbone.cardPath,
      qualifiedName: backbone.qualifiedName,
      modelsDirs: o.modelsDirs,
      snapshot,
      names: [...selection.images.map((i) => i.ref.image_name), ...selection.overlaps.map((x) => x.ref.image_name)],
      namesFile,
      what: labelsWhat,
      partitionSize: 1000,
      partitionsDir: o.partitionsDir,
      batchSize: o.batchSize,
      maxPixels: o.maxPixels,
      threads: o.threads,
      device: o.device,
      log: o.log,
      onPlanned: o.onPlanned,
      onImages: o.onImages,
    },
  );

  // 3. Features of the ok rows; error rows are counted and left out.
  const D = backboneCard.output.dim;
  const usable: { name: string; label: number; embedding: Float32Array }[] = [];
  const errors: { image_name: string; reason: string; label: number }[] = [];
  for (const { ref, label } of selection.images) {
    const row = embeddings.rows.get(ref.image_name)!;
    if (row.status === 'ok' && row.embedding) {
      if (row.embedding.length !== D) throw new Error(`Embedding of ${ref.image_name} has ${row.embedding.length} values but ${backboneCard.name} declares dim ${D}`);
      usable.push({ name: ref.image_name, label, embedding: row.embedding });
    } else {
      errors.push({ image_name: ref.image_name, reason: row.error ?? 'unknown', label });
    }
  }
  const perClass = labels.map((_, c) => ({
    selected: selection.perCategory[c]!.selected,
    overlap_left_out: selection.perCategory[c]!.overlap,
    error_left_out: errors.filter((e) => e.label === c).length,
    used: usable.filter((u) => u.label === c).length,
    train: 0,
    holdout: 0,
  }));
  perClass.forEach((c, i) => {
    if (c.used < 2) {
      throw new UsageError(
        `Expected at least 2 usable images ${o.labels ? 'labelled' : 'in category'} ${JSON.stringify(labels[i])} (one to train on, one to hold out) but found ${c.used}: ` +
          `${c.selected} selected, ${c.overlap_left_out} also in another of the categories, ${c.error_left_out} error rows`,
      );
    }
  });

  // 4. Split, fit, evaluate.
  const held = holdoutSplit(usable.map((u) => ({ key: u.name, label: u.label })), o.holdout, o.seed);
  const trainIdx = usable.map((_, i) => i).filter((i) => !held[i]);
  const testIdx = usable.map((_, i) => i).filter((i) => held[i]);
  for (const i of trainIdx) perClass[usable[i]!.label]!.train++;
  for (const i of testIdx) perClass[usable[i]!.label]!.holdout++;
  const X = new Float64Array(trainIdx.length * D);
  trainIdx.forEach((i, r) => X.set(usable[i]!.embedding, r * D));
  const y = Int32Array.from(trainIdx, (i) => usable[i]!.label);
  const fit = trainLinearHead(X, y, trainIdx.length, D, K, { l2: o.l2, classWeights: 'balanced' });
  const predict = (i: number) => {
    const p = softmax(linearLogits(fit.head, usable[i]!.embedding));
    let best = 0;
    for (let c = 1; c < K; c++) if (p[c]! > p[best]!) best = c;
    return { predicted: best, score: p[best]! };
  };
  const heldOut: HeldOutPrediction[] = testIdx.map((i) => ({ image_name: usable[i]!.name, truth: usable[i]!.label, ...predict(i) }));
  const holdoutMetrics = evaluateClassifier(heldOut.map((p) => p.truth), heldOut.map((p) => p.predicted), labels);
  const trainCorrect = trainIdx.filter((i) => predict(i).predicted === usable[i]!.label).length;

  const errorsByReason: Record<string, number> = {};
  for (const e of errors) errorsByReason[e.reason] = (errorsByReason[e.reason] ?? 0) + 1;
  const record: TrainingRecord = {
    format: 1,
    tool: 'imgpipe train',
    created_at: new Date().toISOString(),
    backbone: { name: backboneCard.name, version: backboneCard.version, sha256: backboneCard.sha256, card: backbone.cardPath, normalize: backboneCard.output.normalize },
    data: {
      warehouse: catalogDescription(catalogSpec),
      labels_from: labelsWhat,
      not_found_left_out: notFound,
      snapshot,
      categories: [...labels],
      depth: o.depth,
      embeddings: { table: 'embeddings', partition: embeddings.output, run_id: embeddings.run_id, reused: embeddings.reused },
    },
    counts: {
      per_class: Object.fromEntries(labels.map((c, i) => [c, perClass[i]!])),
      overlap_left_out: selection.overlaps.length,
      error_left_out: errors.length,
      errors_by_reason: errorsByReason,
    },
    split: { holdout: o.holdout, seed: o.seed, method: 'per category, the images with the lowest sha256(seed:image_name) are held out' },
    head: {
      kind: 'multinomial logistic regression',
      l2: o.l2,
      class_weights: 'balanced',
      standardize: true,
      optimizer: 'L-BFGS',
      iterations: fit.optimizer.iterations,
      converged: fit.optimizer.converged,
      gradient_norm: fit.optimizer.gradientNorm,
      loss: fit.optimizer.value,
    },
    metrics: { holdout: holdoutMetrics, train: { n: trainIdx.length, accuracy: trainIdx.length ? trainCorrect / trainIdx.length : 0 } },
  };
  if (!fit.optimizer.converged) o.log.warn({ optimizer: fit.optimizer }, 'the head did not converge to the gradient tolerance; it is usable, but check the l2 penalty');

  // 5. The model folder, built aside and checked before it becomes visible.
  const onnx = composeLinearHead(readFileSync(backbone.onnxPath), {
    embeddingOutput: backboneCard.output.name,
    normalize: backboneCard.output.normalize,
    weights: Float32Array.from(fit.head.weights),
    bias: Float32Array.from(fit.head.bias),
    outputName: 'logits',
  });
  mkdirSync(path.dirname(modelDir), { recursive: true });
  const building = path.join(path.dirname(modelDir), `.${o.name}.building-${process.pid}`);
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  let card: ClassifierCard;
  try {
    writeFileSync(path.join(building, 'model.onnx'), onnx);
    card = {
      name: o.name,
      version: o.version,
      task: 'classifier',
      onnx: 'model.onnx',
      sha256: await sha256File(path.join(building, 'model.onnx')),
      input: structuredClone(backboneCard.input),
      output: { name: 'logits', activation: 'softmax', labels: [...labels], top_k: Math.min(5, K) },
      ...(backboneCard.license ? { license: backboneCard.license } : {}),
      source: `imgpipe train: ${backboneCard.name}-${backboneCard.version} with a softmax-regression head on ${labels.join(', ')}`,
      description: `Classifies images as ${labels.join(' / ')}. The backbone ${backboneCard.name} (embedding "${backboneCard.output.name}", normalize ${backboneCard.output.normalize}) and a linear head in one graph; output "logits".`,
      training: record as unknown as Record<string, unknown>,
    };
    modelCardSchema.parse(card);
    writeFileSync(path.join(building, 'model.json'), JSON.stringify(card, null, 2) + '\n');
    writeFileSync(
      path.join(building, 'head.json'),
      JSON.stringify({
        format: 1,
        about: `logits = e · weights + bias, where e is the ${backboneCard.output.name} output of ${backboneCard.name}-${backboneCard.version} after normalize "${backboneCard.output.normalize}" (as in the embeddings table). weights is D × K, rows per embedding dimension.`,
        labels: labels,
        dim: D,
        weights: Array.from({ length: D }, (_, j) => Array.from(fit.head.weights.subarray(j * K, (j + 1) * K))),
        bias: Array.from(fit.head.bias),
        standardization: { mean: Array.from(fit.mean), scale: Array.from(fit.scale) },
      }) + '\n',
    );
    const loaded = await loadModel(path.join(building, 'model.json'));
    const session = await ModelSession.create(loaded, { device: 'cpu', intraOpThreads: 1 });
    await session.close();
    const old = `${modelDir}.old-${process.pid}`;
    if (existsSync(modelDir)) renameSync(modelDir, old);
    renameSync(building, modelDir);
    rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
  const cardPath = path.join(modelDir, 'model.json');

  // 6. The report.
  let report: string | null = null;
  if (o.report ?? true) {
    const { writeReport } = await import('../report/writeReport.js'); // sharp: loaded only to write the report
    const written = await writeReport(
      trainingReportModel({ model: `${o.name}-${o.version}`, cardPath, record, heldOut, errors: errors.map(({ image_name, reason }) => ({ image_name, reason })), overlaps: selection.overlaps.map((x) => x.ref.image_name) }),
      path.join(modelDir, 'report'),
      o.bytes ?? (catalogSpec.kind === 'embedded' ? { kind: 'warehouse', warehouseDir: catalogSpec.warehouse } : { kind: 'hive', hive: catalogSpec.hive, batch_size: 256 }),
    );
    report = written.index;
  }
  return {
    name: o.name,
    model: `${o.name}-${o.version}`,
    card: cardPath,
    onnx: path.join(modelDir, 'model.onnx'),
    report,
    embeddings: record.data.embeddings,
    counts: record.counts,
    metrics: record.metrics,
    head: record.head,
    elapsed_s: Math.round((performance.now() - started) / 10) / 100,
  };
}

/** Where the training images were selected, for the training record. */
function catalogDescription(spec: CatalogSpec): string {
  const source = spec.source ? ` (source mediawiki, snapshot ${spec.source.snapshot}, wiki_db ${spec.source.wiki_db})` : '';
  return spec.kind === 'embedded' ? `${spec.warehouse}${source}` : `hive://${hiveAddress(spec.hive)}/${spec.hive.database}${source}`;
}
