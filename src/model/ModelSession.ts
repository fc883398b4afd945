/**
 * One onnxruntime-node InferenceSession for a loaded model card (the `Model` of src/model/Model.ts),
 * made once per thread by `ModelSession.create` and then used for many batches. onnxruntime-node
 * 1.30 runs `session.run` synchronously on the calling JavaScript thread (the promise resolves
 * after the graph ran; intra-op threads only split the work inside one run), so the executors keep
 * sessions in worker threads (src/exec/scoring): the driver's and queue worker's event loop stays free.
 *
 * Creation checks that the graph fits the card (input and output names, layout and size, dtype,
 * output width against labels or dim) and fails with a UsageError naming the mismatch.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../util/errors.js';
import type { LoadedModel } from './loadModelCard.js';
import type { Model } from './Model.js';

export type Device = 'auto' | 'cpu' | 'cuda';

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
      options.warn?.('--device cuda: the CUDA execution provider is not installed (this install is CPU-only); running on CPU. On a GPU node: ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --foreground-scripts, then check `imgpipe doctor`.');
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
    const { fixedBatch, valuesPerImage, outputWidth } = checkGraphFitsCard(model, session);
    return new ModelSession(model, session, provider, fixedBatch, valuesPerImage, outputWidth);
  }

  /**
   * Run one batch. `input` holds `count` images back to back in the card's layout and dtype.
   * Returns the named output, `count × outputWidth` values.
   * @throws the onnxruntime error; the caller turns it into `inference_failed` rows.
   */
  async run(input: Float32Array | Uint8Array, count: number): Promise<Float32Array> {
    const { card } = this.model;
    const dims = card.input.layout === 'NCHW' ? [count, 3, card.input.height, card.input.width] : [count, card.input.height, card.input.width, 3];
    const tensor = new ort.Tensor(card.input.dtype, input, dims);
    const out = await this.session.run({ [card.input.name]: tensor }, [card.output.name]);
    const result = out[card.output.name];
    if (!result) throw new Error(`model returned no output named ${card.output.name}`);
    const data = result.data;
    if (!(data instanceof Float32Array)) throw new Error(`output ${card.output.name} is ${result.type}, expected float32`);
    if (data.length !== count * this.outputWidth) throw new Error(`output ${card.output.name} has ${data.length} values for ${count} images`);
    for (const t of Object.values(out)) if (t !== result) t.dispose();
    return data;
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
  const output = session.outputMetadata.find((m) => m.name === card.output.name);
  if (!output || !output.isTensor) throw fail(`no tensor output named "${card.output.name}" (graph outputs: ${session.outputNames.join(', ')})`);
  const width = output.shape[output.shape.length - 1];
  const expected = card.task === 'classifier' ? (model.labels?.length ?? 0) : card.output.dim;
  if (typeof width === 'number' && width !== expected) {
    throw fail(card.task === 'classifier' ? `output "${card.output.name}" has ${width} classes but there are ${expected} labels` : `output "${card.output.name}" has ${width} values but output.dim is ${expected}`);
  }
  const batch = shape[0];
  return { fixedBatch: typeof batch === 'number' ? batch : null, valuesPerImage: want[0]! * want[1]! * want[2]!, outputWidth: expected };
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
