/**
 * `models add`: read an ONNX graph's inputs and outputs, check they fit an image model, and write a
 * card beside a copy-free reference to the ONNX file (the card's `onnx` is a relative path to it).
 * Presets fill the preprocessing a family of exports expects; everything else comes from the graph.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { UsageError } from '../util/errors.js';
import { readModelCard, sha256File } from './loadModelCard.js';
import type { ModelCard, ModelInput } from './ModelCard.js';

export const PRESETS = {
  /** torchvision ImageNet evaluation: shorter side 256, center crop 224, ImageNet mean/std. */
  imagenet: {
    layout: 'NCHW', dtype: 'float32', height: 224, width: 224, channels: 'RGB',
    resize: { shorter: 256, crop: 'center', kernel: 'linear' },
    scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
  },
} as const;

export interface AddModelOptions {
  onnx: string;
  name: string;
  version: string;
  preset?: keyof typeof PRESETS;
  task?: 'classifier' | 'embedding';
  output?: string;
  labels?: string;
  topK: number;
  outDir: string;
  license?: string;
  source?: string;
}

export async function addModel(o: AddModelOptions): Promise<{ cardPath: string; card: ModelCard }> {
  const onnx = path.resolve(o.onnx);
  if (!existsSync(onnx)) throw new UsageError(`ONNX file not found: ${onnx}`);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx);
  } catch (e) {
    throw new UsageError(`Cannot read ${onnx} as an ONNX model: ${(e as Error).message}`);
  }
  try {
    const tensorInputs = session.inputMetadata.filter((m) => m.isTensor);
    if (tensorInputs.length !== 1) throw new UsageError(`Expected a graph with one image input but ${onnx} has inputs: ${session.inputNames.join(', ')}`);
    const input = tensorInputs[0]!;
    if (!input.isTensor || input.shape.length !== 4) throw new UsageError(`Expected a rank-4 image input (NCHW or NHWC) but "${input.name}" has shape [${input.isTensor ? input.shape.join(', ') : '?'}]`);
    const shape = input.shape;
    const layout = shape[1] === 3 ? 'NCHW' : shape[3] === 3 ? 'NHWC' : null;
    if (!layout) throw new UsageError(`Expected 3 channels in dimension 1 (NCHW) or 3 (NHWC) of input "${input.name}" but its shape is [${shape.join(', ')}]`);
    if (input.type !== 'float32' && input.type !== 'uint8') throw new UsageError(`Expected a float32 or uint8 input but "${input.name}" is ${input.type}`);
    const preset = o.preset ? PRESETS[o.preset] : undefined;
    const [hDim, wDim] = layout === 'NCHW' ? [shape[2], shape[3]] : [shape[1], shape[2]];
    const height = typeof hDim === 'number' ? hDim : preset?.height;
    const width = typeof wDim === 'number' ? wDim : preset?.width;
    if (!height || !width) throw new UsageError(`Input "${input.name}" has symbolic height/width; pass --preset to fix them`);
    if (!preset) throw new UsageError('Pass --preset imagenet (the only preset so far) or write the card by hand: the graph does not say how to preprocess');
    const cardInput: ModelInput = {
      name: input.name, layout, dtype: input.type, height, width, channels: 'RGB',
      resize: { ...preset.resize },
      ...(input.type === 'float32' ? { scale: preset.scale, mean: [...preset.mean], std: [...preset.std] } : {}),
    } as ModelInput;

    const outputs = session.outputMetadata.filter((m) => m.isTensor);
    const outputName = o.output ?? (outputs.length === 1 ? outputs[0]!.name : outputs.find((m) => m.name === (o.task === 'embedding' ? 'embedding' : 'logits'))?.name);
    const output = outputs.find((m) => m.name === outputName);
    if (!output || !output.isTensor) throw new UsageError(`Pass --output NAME: the graph has outputs ${session.outputNames.join(', ')}`);
    const widthOut = output.shape[output.shape.length - 1];
    if (typeof widthOut !== 'number') throw new UsageError(`Output "${output.name}" has a symbolic last dimension; cannot tell its width`);
    const task = o.task ?? (o.labels ? 'classifier' : /embed|feature|pool/i.test(output.name) ? 'embedding' : 'classifier');

    const dir = path.join(path.resolve(o.outDir), o.name);
    mkdirSync(dir, { recursive: true });
    const common = {
      name: o.name, version: o.version, onnx: path.relative(dir, onnx), sha256: await sha256File(onnx), input: cardInput,
      ...(o.license ? { license: o.license } : {}), ...(o.source ? { source: o.source } : {}),
    };
    let card: ModelCard;
    if (task === 'classifier') {
      if (!o.labels) throw new UsageError(`A classifier needs --labels FILE (one label per line, ${widthOut} lines)`);
      const labels = (await import('node:fs')).readFileSync(o.labels, 'utf8').split(/\r?\n/).filter((l) => l.length > 0);
      if (labels.length !== widthOut) throw new UsageError(`Output "${output.name}" has ${widthOut} classes but ${o.labels} has ${labels.length} labels`);
      copyFileSync(o.labels, path.join(dir, 'labels.txt'));
      card = { ...common, task, output: { name: output.name, activation: 'softmax', labels: 'labels.txt', top_k: Math.min(o.topK, widthOut) } };
    } else {
      card = { ...common, task, output: { name: output.name, normalize: 'none', dim: widthOut } };
    }
    const cardPath = path.join(dir, 'model.json');
    writeFileSync(cardPath, JSON.stringify(card, null, 2) + '\n');
    readModelCard(cardPath); // the card we wrote must pass our own validation
    return { cardPath, card };
  } finally {
    await session.release();
  }
}
