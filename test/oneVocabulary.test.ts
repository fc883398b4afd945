/**
 * One validation vocabulary: a bad flag on any command, a bad card field and a bad config key all
 * read "Expected … for NAME but received … of type …" (sharp's `invalidParameterError`), after any
 * "source: " prefix, and are UsageErrors (exit 2). In-process: argv is parsed by a fresh
 * `buildProgram()`, the program `imgpipe` runs; every case throws before any work starts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMediaWikiSource } from '../src/catalog/mediawikiSource.js';
import { checkIdentifier } from '../src/catalog/sqlQuote.js';
import { resolveHiveSettings } from '../src/catalog/hive/hiveSettings.js';
import { readClusterConfig, resolveClusterFlags } from '../src/cli/clusterFlags.js';
import { buildProgram } from '../src/cli/program.js';
import { parseRedisUrl } from '../src/exec/queue/RedisTarget.js';
import { readModelCard } from '../src/model/loadModelCard.js';
import { UsageError } from '../src/util/errors.js';
import { REPO, tempDir } from './util/cli.js';

/** sharp's sentence; field names may carry [i] indexes. */
const SHARP_SENTENCE = /^Expected .+ for [\w.[\]-]+ but received .+ of type \w+$/;

const tmp = tempDir('imgpipe-vocabulary-');
afterAll(() => tmp.cleanup());

/** Parse `argv` against the program `imgpipe` runs (buildProgram); the error it throws (commander's own errors would be CommanderErrors). */
async function refusal(argv: string[]): Promise<unknown> {
  const program = buildProgram();
  const silence = { writeErr: () => {}, writeOut: () => {} };
  for (const c of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) c.configureOutput(silence);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    return e;
  }
  throw new Error(`imgpipe ${argv.join(' ')} was accepted`);
}

function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal');
}

function expectSentence(e: unknown, exact: string, prefix = ''): void {
  expect(e).toBeInstanceOf(UsageError);
  const message = (e as Error).message;
  expect(message.startsWith(prefix), message).toBe(true);
  const sentence = message.slice(prefix.length);
  expect(sentence).toMatch(SHARP_SENTENCE);
  expect(sentence).toBe(exact);
}

const wh = path.join(tmp.dir, 'no-warehouse');
const redis = ['--redis', 'redis://127.0.0.1:6379'];

describe('every bad flag, card field and config key in the same words', () => {
  it.each([
    // commander-level choices
    [['run', '--topology', 'grid'], 'Expected one of: auto, lanes, pooled for --topology but received "grid" of type string'],
    [['run', '--executor', 'spark'], 'Expected one of: local, queue for --executor but received "spark" of type string'],
    [['run', '--catalog', 'mysql'], 'Expected one of: embedded, hive for --catalog but received "mysql" of type string'],
    [['worker', '--device', 'tpu'], 'Expected one of: auto, cpu, cuda for --device but received "tpu" of type string'],
    [['pipe', '--format', 'csv'], 'Expected one of: arrow, jsonl for --format but received "csv" of type string'],
    [['train', '--log-level', 'loud'], 'Expected one of: fatal, error, warn, info, debug for --log-level but received "loud" of type string'],
    [['models', 'add', 'x.onnx', '--name', 'x', '--task', 'detector'], 'Expected one of: classifier, embedding for --task but received "detector" of type string'],
    // checked in the action, before any work
    [['run', '--warehouse', wh, '--all', '--depth', 'deep'], 'Expected integer between 0 and 100 for --depth but received "deep" of type string'],
    [['run', '--warehouse', wh, '--all', '--batch-size', '0'], 'Expected integer between 1 and 4096 for --batch-size but received "0" of type string'],
    [['run', '--warehouse', wh, '--all', '--snapshot', '2026-02-30'], 'Expected a date YYYY-MM-DD for --snapshot but received "2026-02-30" of type string'],
    [['run', '--warehouse', wh, '--all', '--min-score', '2'], 'Expected a number between 0 and 1 for --min-score but received "2" of type string'],
    [['run', '--warehouse', wh, '--all', '--compact-below', 'lots'], 'Expected a size such as 256MB, 1GB or a number of bytes for --compact-below but received "lots" of type string'],
    [['run', '--warehouse', wh, '--category', ' '], 'Expected a category name for --category but received " " of type string'],
    [['run', '--warehouse', wh, '--all', '--bytes-preset', 'commons-thumb', '--thumb-width', '0'], 'Expected integer between 1 and 10000 for --thumb-width but received "0" of type string'],
    [['worker', ...redis, '--concurrency', '0'], 'Expected integer between 1 and 64 for --concurrency but received "0" of type string'],
    [['worker', ...redis, '--queue', 'a b'], 'Expected a queue name of 1 to 64 letters, digits, ".", "_" or "-" for --queue but received "a b" of type string'],
    [['pipe', '--model', 'quality-basic', '--run-id', 'a b'], 'Expected a run id (letters, digits, ".", "_", "-") for --run-id but received "a b" of type string'],
    [['pipe', '--model', 'quality-basic', '--window', '0'], 'Expected integer between 1 and 100000 for --window but received "0" of type string'],
    [['status', '--partitions-dir', tmp.dir, '--limit', '0'], 'Expected integer between 1 and 100000 for --limit but received "0" of type string'],
    [['report', 'a b', '--partitions-dir', tmp.dir], 'Expected a run id (letters, digits, ".", "_", "-") for RUN_ID but received "a b" of type string'],
    [['report', '--per-label', '500'], 'Expected integer between 1 and 100 for --per-label but received "500" of type string'],
    [['train', '--warehouse', wh, '--backbone', 'color-embed', '--category', 'A', '--category', 'B', '--holdout', '1.5'], 'Expected number between 0 and 1 (exclusive) for --holdout but received "1.5" of type string'],
    [['train', '--warehouse', wh, '--backbone', 'color-embed', '--category', 'A', '--category', 'B', '--seed', '-1'], 'Expected integer between 0 and 2147483647 for --seed but received "-1" of type string'],
    [['models', 'add', 'x.onnx', '--name', 'x', '--top-k', '0'], 'Expected integer between 1 and 100 for --top-k but received "0" of type string'],
  ])('imgpipe %j', async (argv, sentence) => {
    expectSentence(await refusal(argv), sentence);
  });

  it('flags resolved outside the commands', () => {
    expectSentence(thrownBy(() => resolveHiveSettings({ address: 'h:1', auth: 'token' }, {})), 'Expected one of: nosasl, plain, ldap, kerberos for --hive-auth but received "token" of type string');
    expectSentence(thrownBy(() => resolveHiveSettings({ address: 'h:1', database: 'x;y' }, {})), 'Expected letters, digits and underscores (not starting with a digit, at most 128) for --database but received "x;y" of type string');
    expectSentence(thrownBy(() => resolveClusterFlags({ bytesPreset: 'other' }, {})), 'Expected one of: commons-thumb for --bytes-preset but received "other" of type string');
    expectSentence(thrownBy(() => parseMediaWikiSource('2026-13', undefined)), 'Expected a month YYYY-MM for --mediawiki-snapshot but received "2026-13" of type string');
    expectSentence(thrownBy(() => parseMediaWikiSource('2026-10', 'Commons')), 'Expected a wiki database name such as commonswiki (lower-case letters, digits, underscores) for --wiki-db but received "Commons" of type string');
    expectSentence(thrownBy(() => checkIdentifier('bad-name;', '--table')), 'Expected letters, digits and underscores (not starting with a digit, at most 128) for --table but received "bad-name;" of type string');
    expectSentence(thrownBy(() => parseRedisUrl('http://h:6379')), 'Expected a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS) for --redis but received "http://h:6379" of type string');
  });

  it('card fields and config keys, after the file they came from', () => {
    const base = JSON.parse(readFileSync(path.join(REPO, 'models', 'quality-basic', 'model.json'), 'utf8'));
    const cards: [(c: Record<string, any>) => void, string][] = [
      [(c) => (c.input.resize = { shorter: 0, crop: 'center', kernel: 'cubic' }), 'Expected integer between 1 and 16384 for input.resize.shorter but received 0 of type number'],
      [(c) => (c.input.layout = 'CHW'), 'Expected one of: NCHW, NHWC for input.layout but received "CHW" of type string'],
      [(c) => (c.output.top_k = 101), 'Expected integer between 1 and 100 for output.top_k but received 101 of type number'],
      [(c) => (c.input.std = [1, 0, 1]), 'Expected finite number above 0 for input.std[1] but received 0 of type number'],
      [(c) => (c.task = 'segmenter'), 'Expected one of: classifier, embedding, detector for task but received "segmenter" of type string'],
    ];
    cards.forEach(([edit, sentence], i) => {
      const card = structuredClone(base);
      edit(card);
      const dir = path.join(tmp.dir, `card-${i}`);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'model.json');
      writeFileSync(file, JSON.stringify(card));
      expectSentence(thrownBy(() => readModelCard(file)), sentence, `Model card ${file}: `);
    });
    const config = path.join(tmp.dir, 'imgpipe.json');
    writeFileSync(config, JSON.stringify({ bytes: { concurrency: 'many' } }));
    expectSentence(thrownBy(() => readClusterConfig(config)), 'Expected integer for bytes.concurrency but received "many" of type string', `Config file ${config} (--config): `);
  });
});
