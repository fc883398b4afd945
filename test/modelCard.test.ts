import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, readModelCard, resolveCardPath } from '../src/model/loadModelCard.js';
import { UsageError } from '../src/util/errors.js';
import { REPO, tempDir } from './util/cli.js';

const tmp = tempDir('imgpipe-card-');
afterAll(() => tmp.cleanup());

const qualityCard = () => JSON.parse(readFileSync(path.join(REPO, 'models', 'quality-basic', 'model.json'), 'utf8'));

function writeCard(name: string, card: unknown): string {
  const dir = path.join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(REPO, 'models', 'quality-basic', 'model.onnx'), path.join(dir, 'model.onnx'));
  cpSync(path.join(REPO, 'models', 'quality-basic', 'labels.txt'), path.join(dir, 'labels.txt'));
  const file = path.join(dir, 'model.json');
  writeFileSync(file, JSON.stringify(card));
  return file;
}

describe('model cards', () => {
  it('loads the built-in cards by name with their labels', async () => {
    const q = await loadModel('quality-basic');
    expect(q.qualifiedName).toBe('quality-basic-1');
    expect(q.labels).toEqual(['too_dark', 'overexposed', 'low_contrast', 'blurry', 'ok']);
    const e = await loadModel('color-embed');
    expect(e.card.task).toBe('embedding');
    expect(e.labels).toBeNull();
  });

  it('rejects unknown fields, naming them with dotted paths', () => {
    const card = qualityCard();
    card.input.mena = [0, 0, 0];
    card.colour = 'x';
    const file = writeCard('unknown-fields', card);
    expect(() => readModelCard(file)).toThrow(
      `Model card ${file}: Expected no unknown field (known: name, layout, dtype, height, width, channels, resize, scale, mean, std) for input.mena but received [0,0,0] of type object; ` +
        'Expected no unknown field (known: name, version, onnx, sha256, input, license, source, description, training, task, output) for colour but received "x" of type string',
    );
  });

  it('rejects wrong types and values with the field name', () => {
    const card = qualityCard();
    card.input.layout = 'CHW';
    card.sha256 = 'ABC';
    const file = writeCard('bad-values', card);
    expect(() => readModelCard(file)).toThrow(UsageError);
    expect(() => readModelCard(file)).toThrow(
      `Model card ${file}: Expected 64 lower-case hex digits for sha256 but received "ABC" of type string; ` +
        'Expected one of: NCHW, NHWC for input.layout but received "CHW" of type string',
    );
  });

  it('refuses a std of 0 or below, naming the channel', () => {
    const card = qualityCard();
    card.input.std = [0.5, 0, -1];
    const file = writeCard('zero-std', card);
    expect(() => readModelCard(file)).toThrow(
      `Model card ${file}: Expected finite number above 0 for input.std[1] but received 0 of type number; ` +
        'Expected finite number above 0 for input.std[2] but received -1 of type number',
    );
  });

  it('refuses non-finite mean, std and scale (JSON 1e999 is Infinity)', () => {
    const file = writeCard('infinite', qualityCard());
    const text = readFileSync(file, 'utf8').replace(/"scale":[^,]+,/, '"scale":1e999,').replace(/"mean":\[[^\]]*\]/, '"mean":[0,-1e999,0]').replace(/"std":\[[^\]]*\]/, '"std":[1,1,"2"]');
    writeFileSync(file, text);
    expect(() => readModelCard(file)).toThrow(
      `Model card ${file}: Expected finite number above 0 for input.scale but received Infinity of type number; ` +
        'Expected finite number for input.mean[1] but received -Infinity of type number; ' +
        'Expected finite number above 0 for input.std[2] but received "2" of type string',
    );
  });

  it('checks the sha256 of the ONNX file before anything else uses it', async () => {
    const card = qualityCard();
    card.sha256 = '0'.repeat(64);
    const file = writeCard('bad-sha', card);
    await expect(loadModel(file)).rejects.toThrow(/sha256 of .*model\.onnx is [0-9a-f]{64} but the card says 0{64}/);
  });

  it('a top_k above the label count is an error', async () => {
    const card = qualityCard();
    card.output.top_k = 6;
    await expect(loadModel(writeCard('bad-topk', card))).rejects.toThrow('output.top_k is 6 but there are only 5 labels');
  });

  it('an unknown model name lists what is known', () => {
    expect(() => resolveCardPath('no-such-model')).toThrow(/Unknown model "no-such-model"\. Searched: .*Known models: .*quality-basic/);
  });

  it('finds models in --models-dir and IMGPIPE_MODELS before the project models', () => {
    const file = writeCard('quality-basic', qualityCard());
    expect(resolveCardPath('quality-basic', [tmp.dir])).toBe(file);
    process.env.IMGPIPE_MODELS = tmp.dir;
    try {
      expect(resolveCardPath('quality-basic')).toBe(file);
    } finally {
      delete process.env.IMGPIPE_MODELS;
    }
  });
});
