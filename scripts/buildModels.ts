/**
 * Writes the project's built-in models (ONNX graph, card, side files) from code, deterministically:
 *   node dist/scripts/buildModels.js [--out models]
 * `--out` is relative to the working directory. Each model goes to OUT/<name>/; existing files of the
 * same names are overwritten, others are left alone.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { modelCardSchema } from '../src/model/ModelCard.js';
import { encodeOnnxModel } from '../src/model/onnx/encodeOnnxModel.js';
import type { BuiltInModel } from './builtinModels/BuiltInModel.js';
import { colorEmbed } from './builtinModels/colorEmbedModel.js';
import { qualityBasic } from './builtinModels/qualityBasicModel.js';

export const BUILT_IN_MODELS: readonly BuiltInModel[] = [qualityBasic, colorEmbed];

/**
 * Builds every model in BUILT_IN_MODELS into `outDir` and returns the paths written.
 * If this throws (an invalid card, an I/O error), files already written stay; rerun to finish.
 */
export async function buildModels(outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const model of BUILT_IN_MODELS) {
    const dir = path.join(outDir, model.name);
    await mkdir(dir, { recursive: true });
    const onnx = encodeOnnxModel(model.onnx);
    const card = model.card(createHash('sha256').update(onnx).digest('hex'));
    modelCardSchema.parse(card); // written as built (zod's output reorders keys)
    const files: [string, string | Uint8Array][] = [
      [card.onnx, onnx],
      ['model.json', JSON.stringify(card, null, 2) + '\n'],
      ...Object.entries(model.sideFiles),
    ];
    for (const [name, content] of files) {
      const file = path.join(dir, name);
      await writeFile(file, content);
      written.push(file);
    }
  }
  return written;
}

/** Exits 2 on bad arguments, 1 if the build fails. */
async function main(): Promise<void> {
  let out: string;
  try {
    out = parseArgs({ options: { out: { type: 'string', default: 'models' } } }).values.out;
  } catch (err) {
    console.error(`${(err as Error).message}\nUsage: node dist/scripts/buildModels.js [--out DIR]`);
    process.exitCode = 2;
    return;
  }
  for (const file of await buildModels(path.resolve(out))) console.log(file);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
