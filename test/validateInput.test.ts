import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hiveConfigSchema } from '../src/catalog/hive/hiveSettings.js';
import { modelCardSchema } from '../src/model/ModelCard.js';
import { partCommitMessageSchema, runSpecSchema } from '../src/plan/manifest.js';
import { UsageError } from '../src/util/errors.js';
import { describeInputProblems, dottedName, validateInput } from '../src/util/validateInput.js';
import { REPO } from './util/cli.js';

/** sharp's sentence, after any "source: " prefix; field names may carry [i] indexes. */
const SHARP_SENTENCE = /^Expected .+ for [\w.[\]-]+ but received .+ of type \w+$/;

const card = () => JSON.parse(readFileSync(path.join(REPO, 'models', 'quality-basic', 'model.json'), 'utf8'));
const blazeface = () => JSON.parse(readFileSync(path.join(REPO, 'models', 'blazeface', 'model.json'), 'utf8'));

/** The problems a card edit causes (each must also read as sharp's sentence). */
function problems(schema: z.ZodType, input: unknown): string[] {
  const r = describeInputProblems(schema, input);
  if (r.success) throw new Error('expected the input to be refused');
  return r.problems;
}
function cardProblems(edit: (c: Record<string, any>) => void, base = card()): string[] {
  edit(base);
  return problems(modelCardSchema, base);
}

describe('validateInput: zod issues in sharp\'s words', () => {
  it('too_small / too_big: the whole range of an integer field, from the schema', () => {
    expect(cardProblems((c) => (c.input.resize = { shorter: 0, crop: 'center', kernel: 'cubic' }))).toEqual([
      'Expected integer between 1 and 16384 for input.resize.shorter but received 0 of type number',
    ]);
    expect(cardProblems((c) => (c.input.width = 9000))).toEqual(['Expected integer between 1 and 8192 for input.width but received 9000 of type number']);
    expect(cardProblems((c) => (c.input.resize.pad = [0, 0, 256]), blazeface())).toEqual(['Expected integer between 0 and 255 for input.resize.pad[2] but received 256 of type number']);
  });

  it('too_small / too_big: open and one-sided bounds', () => {
    expect(cardProblems((c) => (c.input.scale = 0))).toEqual(['Expected finite number above 0 for input.scale but received 0 of type number']);
    expect(cardProblems((c) => (c.output.nms.iou = 0), blazeface())).toEqual(['Expected finite number above 0 and at most 1 for output.nms.iou but received 0 of type number']);
    expect(cardProblems((c) => (c.output.min_score = 1.5), blazeface())).toEqual(['Expected finite number between 0 and 1 for output.min_score but received 1.5 of type number']);
    expect(problems(runSpecSchema.shape.partition_size, 0)).toEqual(['Expected integer at least 1 for (top level) but received 0 of type number']);
    expect(problems(z.number().lt(10), 10)).toEqual(['Expected finite number below 10 for (top level) but received 10 of type number']);
    expect(problems(z.number().max(10), 11)).toEqual(['Expected finite number at most 10 for (top level) but received 11 of type number']);
  });

  it('invalid_type: what the field takes, whatever the wrong value', () => {
    expect(cardProblems((c) => (c.input.height = '224'))).toEqual(['Expected integer between 1 and 8192 for input.height but received "224" of type string']);
    expect(cardProblems((c) => (c.input.height = 1.5))).toEqual(['Expected integer between 1 and 8192 for input.height but received 1.5 of type number']);
    expect(cardProblems((c) => (c.input.mean = [0, Number.NEGATIVE_INFINITY, 0]))).toEqual(['Expected finite number for input.mean[1] but received -Infinity of type number']);
    expect(problems(hiveConfigSchema, { database: 7 })).toEqual(['Expected string for database but received 7 of type number']);
    expect(problems(hiveConfigSchema, [])).toEqual(['Expected object for (top level) but received [] of type object']);
    expect(problems(z.strictObject({ on: z.boolean() }), { on: 'yes' })).toEqual(['Expected boolean for on but received "yes" of type string']);
    expect(problems(z.strictObject({ a: z.number().int().nullable() }), { a: 'x' })).toEqual(['Expected integer for a but received "x" of type string']);
  });

  it('a missing field: undefined, with what it should hold', () => {
    expect(cardProblems((c) => delete c.name)).toEqual(['Expected lower-case letters, digits, ".", "_" or "-" for name but received undefined of type undefined']);
    expect(cardProblems((c) => delete c.onnx)).toEqual(['Expected non-empty string for onnx but received undefined of type undefined']);
  });

  it('invalid_value: enums and literals as "one of"', () => {
    expect(cardProblems((c) => (c.input.layout = 'CHW'))).toEqual(['Expected one of: NCHW, NHWC for input.layout but received "CHW" of type string']);
    expect(cardProblems((c) => (c.input.channels = 'BGR'))).toEqual(['Expected "RGB" for input.channels but received "BGR" of type string']);
    expect(problems(hiveConfigSchema, { auth: 'token' })).toEqual(['Expected one of: nosasl, plain, ldap, kerberos for auth but received "token" of type string']);
  });

  it('invalid_format: the schema\'s own wording, else the pattern', () => {
    expect(cardProblems((c) => (c.sha256 = 'ABC'))).toEqual(['Expected 64 lower-case hex digits for sha256 but received "ABC" of type string']);
    const ref = { image_name: 'A.jpg', page_id: '12x', sha1: null };
    const manifest = z.strictObject({ images: z.array(z.strictObject({ image_name: z.string(), page_id: z.string().regex(/^-?\d+$/).nullable(), sha1: z.string().nullable() })) });
    expect(problems(manifest, { images: [ref] })).toEqual(['Expected string matching /^-?\\d+$/ for images[0].page_id but received "12x" of type string']);
  });

  it('unrecognized_keys: one sentence per unknown field, with the known ones', () => {
    expect(cardProblems((c) => ((c.input.mena = [0, 0, 0]), (c.colour = 'x')))).toEqual([
      'Expected no unknown field (known: name, layout, dtype, height, width, channels, resize, scale, mean, std) for input.mena but received [0,0,0] of type object',
      'Expected no unknown field (known: name, version, onnx, sha256, input, license, source, description, training, task, output) for colour but received "x" of type string',
    ]);
  });

  it('invalid_union: the discriminator\'s values, or each option', () => {
    expect(cardProblems((c) => (c.task = 'segmenter'))).toEqual(['Expected one of: classifier, embedding, detector for task but received "segmenter" of type string']);
    expect(cardProblems((c) => delete c.task)).toEqual(['Expected one of: classifier, embedding, detector for task but received undefined of type undefined']);
    expect(cardProblems((c) => (c.input.resize = { mode: 'crop' }))).toEqual([
      'Expected object with shorter, crop, kernel or object with mode "stretch" or object with mode "letterbox" for input.resize but received {"mode":"crop"} of type object',
    ]);
    // The one option whose literal fields match: its own issue, not the union's.
    expect(cardProblems((c) => (c.input.resize = { mode: 'stretch', kernel: 'bicubic' }))).toEqual([
      'Expected one of: nearest, linear, cubic, lanczos3 for input.resize.kernel but received "bicubic" of type string',
    ]);
    expect(problems(modelCardSchema, 'model.json')).toEqual([
      'Expected object with task "classifier" or object with task "embedding" or object with task "detector" for (top level) but received "model.json" of type string',
    ]);
  });

  it('arrays and tuples: length and element', () => {
    expect(cardProblems((c) => (c.input.std = [1, 1]))).toEqual(['Expected array of 3 items, each finite number above 0 for input.std but received [1,1] of type object']);
    expect(cardProblems((c) => (c.output.labels = []), blazeface())).toEqual(['Expected non-empty array of non-empty string for output.labels but received [] of type object']);
    expect(problems(z.array(z.number()).min(2), [1])).toEqual(['Expected array of at least 2 items, each finite number for (top level) but received [1] of type object']);
    expect(problems(z.string().min(3).max(5), 'ab')).toEqual(['Expected string of 3 to 5 characters for (top level) but received "ab" of type string']);
  });

  it('not_multiple_of, and a schema\'s own message overriding the wording', () => {
    expect(problems(z.strictObject({ step: z.number().multipleOf(8) }), { step: 12 })).toEqual(['Expected multiple of 8 for step but received 12 of type number']);
    expect(problems(z.strictObject({ port: z.number().int().min(1).max(65535, { error: 'a TCP port (1 to 65535)' }) }), { port: 70000 })).toEqual([
      'Expected a TCP port (1 to 65535) for port but received 70000 of type number',
    ]);
  });

  it('long values are cut; every sentence has sharp\'s shape', () => {
    const [long] = cardProblems((c) => (c.input.resize = { mode: 'crop', note: 'x'.repeat(200) }));
    expect(long).toMatch(/received \{"mode":"crop","note":"x+… of type object$/);
    expect(long!.length).toBeLessThan(260);
    const all = [
      ...cardProblems((c) => ((c.input.layout = 1), (c.input.extra = true), (c.output.top_k = 0), (c.version = 'a b'))),
      ...problems(partCommitMessageSchema, { run_id: 'r' }),
      ...problems(runSpecSchema, { format: 2 }),
    ];
    expect(all.length).toBeGreaterThan(10);
    for (const p of all) expect(p).toMatch(SHARP_SENTENCE);
  });

  it('validateInput: the data, or a UsageError prefixed by the source', () => {
    const ok = card();
    expect(validateInput(modelCardSchema, ok, 'Model card x').name).toBe('quality-basic');
    const bad = card();
    bad.input.height = 0;
    bad.input.width = 0;
    const thrown = (() => {
      try {
        validateInput(modelCardSchema, bad, 'Model card /x/model.json', 'the card');
      } catch (e) {
        return e;
      }
    })();
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exitCode).toBe(2);
    expect((thrown as Error).message).toBe(
      'Model card /x/model.json: Expected integer between 1 and 8192 for input.height but received 0 of type number; ' +
        'Expected integer between 1 and 8192 for input.width but received 0 of type number',
    );
    expect(() => validateInput(modelCardSchema, [], 'Model card /x/model.json', 'the card')).toThrow(/ for the card but received \[\] of type object$/);
  });

  it('dottedName: dots between keys, brackets around indexes', () => {
    expect(dottedName(['input', 'std', 1])).toBe('input.std[1]');
    expect(dottedName(['output', 'encoding', 'groups', 0, 'grid'])).toBe('output.encoding.groups[0].grid');
    expect(dottedName([])).toBe('');
  });
});
