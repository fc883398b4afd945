/**
 * `imgpipe models list | show NAME | add MODEL.onnx --name N [--preset imagenet]`.
 */
import { Command } from 'commander';
import type { PRESETS } from '../model/addModel.js';
import { listModelCards, loadModel, modelSearchPath } from '../model/loadModelCard.js';
import { invalidParameterError } from '../util/is.js';
import { choiceOption } from './choiceOption.js';

/** addModel's PRESETS by name (the compiler checks they match), without loading onnxruntime to show them. */
const PRESET_NAMES = ['imagenet'] as const satisfies readonly (keyof typeof PRESETS)[];

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('List, show and add model cards.');
  models
    .command('list')
    .description('Models found on the search path (--models-dir, $IMGPIPE_MODELS, the project models/).')
    .option('--models-dir <dir>', 'extra folder of model cards (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action((flags: { modelsDir: string[]; json?: boolean }) => {
      const list = listModelCards(flags.modelsDir);
      if (flags.json) {
        process.stdout.write(JSON.stringify(list.map((m) => ({ name: m.name, card: m.cardPath, task: m.card?.task ?? null, version: m.card?.version ?? null, problem: m.problem }))) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`No models found in: ${modelSearchPath(flags.modelsDir).join(', ')}\n`);
        return;
      }
      const rows = list.map((m) => [m.name, m.card?.version ?? '?', m.card?.task ?? 'INVALID', m.card ? `${m.card.input.width}x${m.card.input.height} ${m.card.input.layout}` : (m.problem ?? ''), m.cardPath]);
      const header = ['NAME', 'VERSION', 'TASK', 'INPUT', 'CARD'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [header, ...rows]) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n');
    });
  models
    .command('show <name>')
    .description('Validate a card (sha256 included) and print it with its resolved paths.')
    .option('--models-dir <dir>', 'extra folder of model cards (repeatable)', collect, [])
    .action(async (name: string, flags: { modelsDir: string[] }) => {
      const m = await loadModel(name, flags.modelsDir);
      process.stdout.write(JSON.stringify({ ...m.card, card_path: m.cardPath, onnx_path: m.onnxPath, sha256_verified: true, label_count: m.labels?.length ?? null }, null, 2) + '\n');
    });
  models
    .command('wrap <name>')
    .description('Write <name>-u8: the same model taking uint8 NHWC pixels, with Cast, layout and normalization folded into the graph.')
    .option('--models-dir <dir>', 'extra folder of model cards to find <name> in (repeatable)', collect, [])
    .option('--out-dir <dir>', 'where the new card folder goes (default: first of $IMGPIPE_MODELS, else the project models/)')
    .option('--name <name>', 'name of the new model (default: <name>-u8)')
    .addHelpText('after', '\nExample:\n  imgpipe models wrap mobilenet-v2 --models-dir ../shared/models --out-dir ./models\n  imgpipe run --model mobilenet-v2-u8 --models-dir ./models …')
    .action(async (name: string, flags: { modelsDir: string[]; outDir?: string; name?: string }) => {
      const outDir = flags.outDir ?? modelSearchPath([]).at(process.env.IMGPIPE_MODELS ? 0 : -1)!;
      const { wrapModelUint8 } = await import('../model/wrapModel.js');
      const { cardPath, card } = await wrapModelUint8(name, flags.modelsDir, outDir, flags.name);
      process.stdout.write(`Wrote ${cardPath} (${card.name}: input ${card.input.name} uint8 NHWC ${card.input.width}x${card.input.height})\n`);
    });
  models
    .command('add <model.onnx>')
    .description('Read an ONNX graph, check its input/output fit an image model, and write a card for it.')
    .requiredOption('--name <name>', 'model name (lower-case letters, digits, . _ -)')
    .option('--version <v>', 'model version', '1')
    .addOption(choiceOption('--preset <preset>', 'preprocessing preset', PRESET_NAMES))
    .addOption(choiceOption('--task <task>', 'classifier or embedding (default: from --labels / the output name)', ['classifier', 'embedding']))
    .option('--output <name>', 'graph output to use (needed when there are several)')
    .option('--labels <file>', 'class labels, one per line (classifiers)')
    .option('--top-k <n>', 'labels kept per image (classifiers)', '5')
    .option('--models-dir <dir>', 'where the card folder goes (default: first of $IMGPIPE_MODELS, else the project models/)')
    .option('--license <text>', 'license of the weights')
    .option('--source <text>', 'where the weights come from')
    .addHelpText('after', '\nExample:\n  imgpipe models add ./resnet50.onnx --name resnet50-embed --preset imagenet --output embedding --task embedding')
    .action(async (onnx: string, flags: { name: string; version: string; preset?: 'imagenet'; task?: 'classifier' | 'embedding'; output?: string; labels?: string; topK: string; modelsDir?: string; license?: string; source?: string }) => {
      const topK = Number(flags.topK);
      if (!Number.isInteger(topK) || topK < 1 || topK > 100) throw invalidParameterError('--top-k', 'integer between 1 and 100', flags.topK);
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(flags.name)) throw invalidParameterError('--name', 'lower-case letters, digits, ".", "_" or "-"', flags.name);
      const outDir = flags.modelsDir ?? modelSearchPath([]).at(process.env.IMGPIPE_MODELS ? 0 : -1)!;
      const { addModel } = await import('../model/addModel.js');
      const { cardPath, card } = await addModel({ onnx, name: flags.name, version: flags.version, preset: flags.preset, task: flags.task, output: flags.output, labels: flags.labels, topK, outDir, license: flags.license, source: flags.source });
      process.stdout.write(`Wrote ${cardPath} (${card.task}, input ${card.input.name} ${card.input.layout} ${card.input.width}x${card.input.height}, output ${'name' in card.output ? card.output.name : [...card.output.scores, ...card.output.boxes].join(', ')})\n`);
    });
}
