/**
 * `imgpipe models wrap NAME`: write `<NAME>-u8`, the same model taking uint8 NHWC pixels (see
 * onnx/prependUint8Input.ts), with its card. The new card keeps the resize policy and output, and
 * records where it came from; its ONNX file lives beside it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadModel, readModelCard, sha256File } from './loadModelCard.js';
import type { ModelCard } from './ModelCard.js';
import { prependUint8Input } from './onnx/prependUint8Input.js';

export async function wrapModelUint8(nameOrPath: string, modelsDirs: readonly string[], outDir: string, newName?: string): Promise<{ cardPath: string; card: ModelCard }> {
  const source = await loadModel(nameOrPath, modelsDirs);
  const name = newName ?? `${source.card.name}-u8`;
  const dir = path.join(path.resolve(outDir), name);
  mkdirSync(dir, { recursive: true });
  const onnx = path.join(dir, 'model.onnx');
  writeFileSync(onnx, prependUint8Input(readFileSync(source.onnxPath), source.card.input));
  const { scale: _scale, mean: _mean, std: _std, ...geometry } = source.card.input;
  void _scale, void _mean, void _std;
  let output = source.card.output;
  if (source.card.task === 'classifier' && !Array.isArray(source.card.output.labels)) {
    writeFileSync(path.join(dir, 'labels.txt'), source.labels!.join('\n') + '\n');
    output = { ...source.card.output, labels: 'labels.txt' };
  }
  const card = {
    ...source.card,
    name,
    onnx: 'model.onnx',
    sha256: await sha256File(onnx),
    input: { ...geometry, name: 'pixels', layout: 'NHWC', dtype: 'uint8' },
    output,
    description: `${source.card.name}-${source.card.version} (sha256 ${source.card.sha256.slice(0, 12)}…) with uint8 NHWC input: Cast, layout and normalization folded into the graph by \`imgpipe models wrap\`.`,
  } as ModelCard;
  const cardPath = path.join(dir, 'model.json');
  writeFileSync(cardPath, JSON.stringify(card, null, 2) + '\n');
  readModelCard(cardPath);
  return { cardPath, card };
}
