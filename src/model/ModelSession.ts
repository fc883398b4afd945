/**
 * One onnxruntime-node InferenceSession for a loaded model card (the `Model` of src/model/Model.ts),
 * made once per thread by `ModelSession.create` and then used for many batches. onnxruntime-node
 * 1.30 runs `session.run` synchronously on the calling JavaScript thread (the promise resolves
 * after the graph ran; intra-op threads only split the work inside one run), so the executors keep
 * sessions in worker threads (src/exec/scoring): the driver's and queue worker's event loop stays free.
 *
 * Creation checks that the graph fits the card (input and output names, layout and size, dtype,
 * output width against labels or dim; for a detector every score and box output, their rows against
 * each other and against the card's anchors) and fails with a UsageError naming the mismatch.
 *
 * Outputs: a classifier or embedding card names one output, and `run` returns it. A detector card
 * names several (`scores`, `boxes`); `runOutputs` returns each by name, and `run` packs them per
 * image as `DetectionDecoder` reads them: the score outputs' rows in card order, then the box
 * outputs' rows (so the scoring threads, the wire and isolation see one Float32Array per image, as
 * for the other tasks).
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../util/errors.js';
import type { LoadedModel } from './loadModelCard.js';
import type { DetectorOutput } from './ModelCard.js';
import type { Model } from './Model.js';
import { anchorCount, describeAnchors } from './detector/ssdAnchors.js';

/** Per-image geometry of one graph output: rows × width values (width only for 2-D outputs). */
interface OutputSlot {
  name: string;
  perImage: number;
}

export type Device = 'auto' | 'cpu' | 'cuda';

/** What `--device cuda` says on a CPU-only install (the provider library is absent), and how to fix it. */
export const CUDA_MISSING_WARNING =
  '--device cuda: the CUDA execution provider is not installed (this install is CPU-only); running on CPU. On a GPU node: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts, then check `imgpipe doctor`.';

export interface ModelSessionOptions {
  /** @defaultValue 'cpu' — 'auto' uses CUDA when its provider loads, else CPU. */
  device?: Device;
  /** onnxruntime intra-op threads; @defaultValue 0 (onnxruntime's choice: one per core). */
  intraOpThreads?: number;
  /** Receives a warning when CUDA was asked for but CPU runs instead. */
  warn?: (message: string) => void;
}

export class ModelSession implements Model {
  private constructor(
    readonly model: LoadedModel,
    private readonly session: ort.InferenceSession,
    /** The execution provider that was requested and loaded. */
    readonly provider: 'cpu' | 'cuda',
    /** Fixed batch size of the graph, or null when the batch dimension is symbolic. */
    readonly fixedBatch: number | null,
    /** Values per image in the input tensor (C × H × W). */
    readonly valuesPerImage: number,
    /** Width of the output per image. */
    readonly outputWidth: number,
    /** The outputs `run` reads, in packing order (one for classifiers and embeddings). */
    private readonly slots: readonly OutputSlot[],
  ) {}

  /**
   * A missing or failing CUDA provider is a warning (through `options.warn`) and the session runs on
   * CPU; `provider` says which one ran.
   * @throws {UsageError} the graph does not fit the card, or the ONNX file cannot be loaded.
   */
  static async create(model: LoadedModel, options: ModelSessionOptions = {}): Promise<ModelSession> {
    const device = options.device ?? 'cpu';
    const base: ort.InferenceSession.SessionOptions = {
      graphOptimizationLevel: 'all',
      // Warnings only about the graph (unused initializers in converted models), on every session: errors only.
      logSeverityLevel: 3,
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: 1,
      // Decode threads share the cores: onnxruntime's spinning workers would steal their time.
      extra: { session: { intra_op: { allow_spinning: process.env.IMGPIPE_ORT_SPIN ?? '0' } } },
    };
    let session: ort.InferenceSession | undefined;
    let provider: 'cpu' | 'cuda' = 'cpu';
    // 'auto' tries CUDA only when its provider library was installed (ONNXRUNTIME_NODE_INSTALL=cuda12);
    // otherwise onnxruntime would log a loud load failure on every CPU-only machine.
    if (device === 'cuda' && !cudaProviderInstalled()) {
      options.warn?.(CUDA_MISSING_WARNING);
    } else if (device !== 'cpu' && cudaProviderInstalled()) {
      try {
        session = await ort.InferenceSession.create(model.onnxPath, { ...base, executionProviders: ['cuda'] });
        provider = 'cuda';
      } catch (e) {
        options.warn?.(`--device ${device}: the CUDA execution provider did not load (${(e as Error).message.split('\n')[0]}); running on CPU. See \`imgpipe doctor\`.`);
      }
    }
    if (!session) {
      try {
        session = await ort.InferenceSession.create(model.onnxPath, { ...base, executionProviders: ['cpu'] });
      } catch (e) {
        throw new UsageError(`Cannot load ONNX model ${model.onnxPath}: ${(e as Error).message}`);
      }
    }
    const { fixedBatch, valuesPerImage, outputWidth, slots } = checkGraphFitsCard(model, session);
    return new ModelSession(model, session, provider, fixedBatch, valuesPerImage, outputWidth, slots);
  }

  /**
   * Run one batch. `input` holds `count` images back to back in the card's layout and dtype.
   * Returns `count × outputWidth` values: the named output, or for a detector the packed outputs
   * (see the module note).
   * @throws the onnxruntime error; the caller turns it into `inference_failed` rows.
   */
  async run(input: Float32Array | Uint8Array, count: number): Promise<Float32Array> {
    const outputs = await this.runOutputs(input, count);
    if (this.slots.length === 1) return outputs[this.slots[0]!.name]!;
    const packed = new Float32Array(count * this.outputWidth);
    let at = 0;
    for (let i = 0; i < count; i++) {
      for (const slot of this.slots) {
        packed.set(outputs[slot.name]!.subarray(i * slot.perImage, (i + 1) * slot.perImage), at);
        at += slot.perImage;
      }
    }
    return packed;
  }

  /**
   * Run one batch and return every output the card names, each `count × (its values per image)`
   * float32 values, by output name.
   * @throws the onnxruntime error, or an output that is missing, not float32 or of the wrong size.
   */
  async runOutputs(input: Float32Array | Uint8Array, count: number): Promise<Record<string, Float32Array>> {
    const { card } = this.model;
    const dims = card.input.layout === 'NCHW' ? [count, 3, card.input.height, card.input.width] : [count, card.input.height, card.input.width, 3];
    const tensor = new ort.Tensor(card.input.dtype, input, dims);
    const names = this.slots.map((s) => s.name);
    const out = await this.session.run({ [card.input.name]: tensor }, names);
    const result: Record<string, Float32Array> = {};
    try {
      for (const slot of this.slots) {
        const t = out[slot.name];
        if (!t) throw new Error(`model returned no output named ${slot.name}`);
        const data = t.data;
        if (!(data instanceof Float32Array)) throw new Error(`output ${slot.name} is ${t.type}, expected float32`);
        if (data.length !== count * slot.perImage) throw new Error(`output ${slot.name} has ${data.length} values for ${count} images`);
        result[slot.name] = data;
      }
    } finally {
      for (const [name, t] of Object.entries(out)) if (!(name in result)) t.dispose();
    }
    return result;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** Check the ONNX graph against the card; returns the batch and tensor geometry. */
function checkGraphFitsCard(model: LoadedModel, session: ort.InferenceSession) {
  const { card, cardPath } = model;
  const fail = (what: string) => new UsageError(`Model card ${cardPath} does not fit ${model.onnxPath}: ${what}`);
  const input = session.inputMetadata.find((m) => m.name === card.input.name);
  if (!input || !input.isTensor) throw fail(`no tensor input named "${card.input.name}" (graph inputs: ${session.inputNames.join(', ')})`);
  if (input.type !== card.input.dtype) throw fail(`input.dtype is ${card.input.dtype} but the graph wants ${input.type}`);
  const want = card.input.layout === 'NCHW' ? [3, card.input.height, card.input.width] : [card.input.height, card.input.width, 3];
  const shape = input.shape;
  if (shape.length !== 4) throw fail(`input has rank ${shape.length}, expected 4 (${card.input.layout})`);
  for (let i = 0; i < 3; i++) {
    const d = shape[i + 1];
    if (typeof d === 'number' && d !== want[i]) {
      throw fail(`input shape is [${shape.join(', ')}] but the card's ${card.input.layout} ${card.input.height}x${card.input.width} needs [N, ${want.join(', ')}]`);
    }
  }
  const batch = shape[0];
  const fixedBatch = typeof batch === 'number' ? batch : null;
  const valuesPerImage = want[0]! * want[1]! * want[2]!;
  if (card.task === 'detector') {
    const slots = checkDetectorOutputs(card.output, session, fail);
    return { fixedBatch, valuesPerImage, outputWidth: slots.reduce((n, s) => n + s.perImage, 0), slots };
  }
  const output = session.outputMetadata.find((m) => m.name === card.output.name);
  if (!output || !output.isTensor) throw fail(`no tensor output named "${card.output.name}" (graph outputs: ${session.outputNames.join(', ')})`);
  const width = output.shape[output.shape.length - 1];
  const expected = card.task === 'classifier' ? (model.labels?.length ?? 0) : card.output.dim;
  if (typeof width === 'number' && width !== expected) {
    throw fail(card.task === 'classifier' ? `output "${card.output.name}" has ${width} classes but there are ${expected} labels` : `output "${card.output.name}" has ${width} values but output.dim is ${expected}`);
  }
  return { fixedBatch, valuesPerImage, outputWidth: expected, slots: [{ name: card.output.name, perImage: expected }] };
}

/**
 * A detector's outputs: each `scores` output [N, rows, labels] and its `boxes` output
 * [N, rows, 4 + 2 × keypoints], with fixed rows equal between the two; for SSD anchors, the rows of
 * all outputs together equal the card's anchor count ("anchors: 2×16² + 6×8² = 896, but outputs
 * Identity_2:0 + Identity_3:0 have 512 + 512 = 1024 rows").
 */
function checkDetectorOutputs(output: DetectorOutput, session: ort.InferenceSession, fail: (what: string) => UsageError): OutputSlot[] {
  if (output.scores.length !== output.boxes.length) {
    throw fail(`output.scores names ${output.scores.length} output(s) but output.boxes names ${output.boxes.length}; give one boxes output per scores output`);
  }
  const boxValues = 4 + 2 * output.encoding.keypoints;
  const labels = output.labels.length;
  const geometry = (name: string, role: string, width: number, what: string) => {
    const meta = session.outputMetadata.find((m) => m.name === name);
    if (!meta || !meta.isTensor) throw fail(`no tensor output named "${name}" for output.${role} (graph outputs: ${session.outputNames.join(', ')})`);
    const shape = meta.shape;
    if (shape.length !== 3) throw fail(`output "${name}" has shape [${shape.join(', ')}], expected [N, rows, ${width}]`);
    const rows = shape[1];
    const last = shape[2];
    if (typeof rows !== 'number') throw fail(`output "${name}" has a symbolic row count (${String(rows)}); a detector needs a fixed number of rows`);
    if (typeof last === 'number' && last !== width) throw fail(`output "${name}" has ${last} values per row but ${what} needs ${width}`);
    return rows;
  };
  const scoreRows = output.scores.map((name) => geometry(name, 'scores', labels, `${labels} label(s)`));
  const boxRows = output.boxes.map((name) => geometry(name, 'boxes', boxValues, `4 box values + 2 × ${output.encoding.keypoints} key points`));
  output.scores.forEach((name, k) => {
    if (scoreRows[k] !== boxRows[k]) throw fail(`output "${name}" has ${scoreRows[k]} rows but its boxes output "${output.boxes[k]}" has ${boxRows[k]}`);
  });
  const rows = boxRows.reduce((a, b) => a + b, 0);
  if (output.encoding.kind === 'ssd_anchors' && rows !== anchorCount(output.encoding.groups)) {
    const which = output.boxes.length === 1 ? `output ${output.boxes[0]} has ${rows} rows` : `outputs ${output.boxes.join(' + ')} have ${boxRows.join(' + ')} = ${rows} rows`;
    throw fail(`anchors: ${describeAnchors(output.encoding.groups)}, but ${which}`);
  }
  return [
    ...output.scores.map((name, k) => ({ name, perImage: scoreRows[k]! * labels })),
    ...output.boxes.map((name, k) => ({ name, perImage: boxRows[k]! * boxValues })),
  ];
}

/** Whether onnxruntime-node's CUDA provider library is installed beside its native binding. */
export function cudaProviderInstalled(): boolean {
  try {
    const root = path.dirname(path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')));
    const bin = path.join(root, 'bin');
    const stack = [bin];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) stack.push(path.join(dir, entry.name));
        else if (entry.name.startsWith('libonnxruntime_providers_cuda')) return true;
      }
    }
    return false;
  } catch {
    return false;
  }
}
