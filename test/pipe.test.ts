/**
 * `imgpipe pipe` through the built CLI, tested like `run`: the same rows as a `run` over the same
 * images (read back from the committed Parquet with DuckDB), Arrow IPC in and out (read back with
 * apache-arrow's RecordBatchReader), JSON lines in and out, error rows, exit 2 on bad flags before
 * stdin is read, bounded memory on 10k rows (peak RSS from /proc), and a killed process writing
 * nothing but a truncated stdout.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import path from 'node:path';
import { Binary, Int64, RecordBatch, Utf8, vectorFromArray, makeData, Struct, Field, Schema } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EXPECTED_ERRORS } from '../src/warehouse/demo/demoImages.js';
import { RESULT_ARROW_SCHEMA } from '../src/sink/resultArrowSchema.js';
import { RESULT_COLUMNS } from '../src/sink/resultRow.js';
import { imgpipe, lit, query, REPO, tempDir, imgpipeInProcess, copyDemoWarehouse } from './util/cli.js';
import { arrowStreamChunks, endsWithEos, feed, readArrowStream, spawnPipe } from './util/pipeProcess.js';

const tmp = tempDir('imgpipe-pipe-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
afterAll(() => tmp.cleanup());
const LANES = ['--lanes', '2'];

interface ImageRow { image_name: string; page_id: bigint | null; sha1: string | null }
let images: ImageRow[];
let bytesByName: Map<string, Uint8Array>;
/** The committed rows of `run --model quality-basic --all`, by image_name. */
let runRows: Map<string, Record<string, unknown>>;
let runEmbeddings: Map<string, Record<string, unknown>>;

/** A value as plain JSON-ish data: bigint → number, Arrow vectors and struct rows → arrays and objects. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as Float32Array);
  if (Array.isArray(v)) return v.map(plain);
  const o = v as { toArray?: () => unknown; toJSON?: () => unknown };
  if (typeof o.toArray === 'function' && typeof (v as { length?: unknown }).length === 'number') return Array.from(o.toArray() as ArrayLike<unknown>).map(plain);
  if (typeof o.toJSON === 'function' && !(v instanceof Date)) return plain(o.toJSON());
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
}

/** The columns that must agree between `run` and `pipe` (run_id and processed_at differ by design). */
function comparable(r: Record<string, unknown>) {
  const p = plain(r) as Record<string, unknown>;
  return Object.fromEntries(RESULT_COLUMNS.filter((c) => c !== 'run_id' && c !== 'processed_at').map((c) => [c, p[c] ?? null]));
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const parseJsonl = (out: Buffer) => out.toString('utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);

async function pipeJsonl(args: string[], rows: object[], env?: Record<string, string>) {
  const { child, done } = spawnPipe(['--input-format', 'jsonl', '--format', 'jsonl', ...LANES, ...args], { env });
  await feed(child, [jsonl(rows)]);
  return done;
}

function inputBatch(rows: { image_name: string; page_id?: bigint | null; sha1?: string | null; bytes?: Uint8Array | null }[]): RecordBatch {
  const schema = new Schema([new Field('image_name', new Utf8(), false), new Field('page_id', new Int64(), true), new Field('sha1', new Utf8(), true), new Field('bytes', new Binary(), true)]);
  const children = [
    vectorFromArray(rows.map((r) => r.image_name), new Utf8()).data[0]!,
    vectorFromArray(rows.map((r) => r.page_id ?? null), new Int64()).data[0]!,
    vectorFromArray(rows.map((r) => r.sha1 ?? null), new Utf8()).data[0]!,
    vectorFromArray(rows.map((r) => r.bytes ?? null), new Binary()).data[0]!,
  ];
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
}

beforeAll(async () => {
  copyDemoWarehouse(wh);
  images = (await query(`SELECT image_name, page_id, sha1 FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) ORDER BY image_name`)) as unknown as ImageRow[];
  const blobs = await query(`SELECT image_name, bytes FROM read_parquet(${lit(path.join(wh, 'image_bytes', '*.parquet'))})`);
  bytesByName = new Map(blobs.map((b) => [b.image_name as string, new Uint8Array(b.bytes as Uint8Array)]));
  for (const [model, target] of [['quality-basic', 'runRows'], ['color-embed', 'runEmbeddings']] as const) {
    const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', model, '--all', '--json', '--quiet', ...LANES]);
    expect(r.code, r.stderr).toBe(0);
    const rows = await query(`SELECT * FROM read_parquet(${lit(path.join(JSON.parse(r.stdout).output, '*.parquet'))})`);
    const byName = new Map(rows.map((x) => [x.image_name as string, x]));
    if (target === 'runRows') runRows = byName;
    else runEmbeddings = byName;
  }
}, 300_000);

describe('imgpipe pipe gives the rows `run` gives', () => {
  it('JSON lines, bytes fetched from --warehouse: every row equals the committed run row, in input order', async () => {
    const input = [...images].reverse().map((i) => ({ image_name: i.image_name, page_id: Number(i.page_id), sha1: i.sha1 }));
    const r = await pipeJsonl(['--model', 'quality-basic', '--warehouse', wh, '--run-id', 'spark-job-1'], input);
    expect(r.code, r.stderr).toBe(0);
    const out = parseJsonl(r.stdout);
    expect(out.map((o) => o.image_name)).toEqual(input.map((i) => i.image_name));
    expect(Object.keys(out[0]!)).toEqual([...RESULT_COLUMNS]);
    for (const o of out) expect(comparable(o)).toEqual(comparable(runRows.get(o.image_name as string)!));
    expect(new Set(out.map((o) => o.run_id))).toEqual(new Set(['spark-job-1']));
    expect(Object.fromEntries(out.filter((o) => o.status === 'error').map((o) => [o.image_name, o.error]))).toEqual(DEMO_EXPECTED_ERRORS);
    expect(r.stderr).toContain(`imgpipe pipe: ${images.length} rows (${images.length - 5} ok, 5 error)`);
  }, 120_000);

  it('embeddings: the same unit vectors as the run', async () => {
    const input = images.slice(0, 40).map((i) => ({ image_name: i.image_name, page_id: Number(i.page_id), sha1: i.sha1 }));
    const r = await pipeJsonl(['--model', 'color-embed', '--warehouse', wh], input);
    expect(r.code, r.stderr).toBe(0);
    const out = parseJsonl(r.stdout);
    expect(out).toHaveLength(40);
    for (const o of out) expect(comparable(o)).toEqual(comparable(runEmbeddings.get(o.image_name as string)!));
    expect(out.some((o) => Array.isArray(o.embedding) && (o.embedding as number[]).length > 0)).toBe(true);
  }, 120_000);

  it('Arrow IPC in (inline bytes, several batches) and out: the contract schema, the run rows', async () => {
    const rows = images.map((i) => ({ ...i, bytes: bytesByName.get(i.image_name) ?? null }));
    const batches = [rows.slice(0, 100), rows.slice(100, 101), rows.slice(101)].map(inputBatch);
    const { child, done } = spawnPipe(['--model', 'quality-basic', '--check-sha1', '--window', '64', ...LANES]);
    await feed(child, arrowStreamChunks(batches));
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(endsWithEos(r.stdout)).toBe(true);
    const { schema, batches: out } = readArrowStream(r.stdout);
    expect(schema.fields.map((f) => [f.name, String(f.type), f.nullable])).toEqual(RESULT_ARROW_SCHEMA.fields.map((f) => [f.name, String(f.type), f.nullable]));
    expect(out.map((b) => b.numRows)).toEqual([64, 36, 1, 64, 64, 64, 8]);
    const got = out.flatMap((b) => b.toArray().map((row) => row.toJSON() as Record<string, unknown>));
    expect(got.map((g) => g.image_name)).toEqual(images.map((i) => i.image_name));
    for (const g of got) expect(comparable(g)).toEqual(comparable(runRows.get(g.image_name as string)!));
  }, 120_000);

  it('an empty input gives a valid, empty Arrow stream with the schema, and exit 0', async () => {
    const { child, done } = spawnPipe(['--model', 'quality-basic', ...LANES]);
    child.stdin.end();
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const { schema, batches } = readArrowStream(r.stdout);
    expect(schema.fields.map((f) => f.name)).toEqual([...RESULT_COLUMNS]);
    expect(batches.reduce((n, b) => n + b.numRows, 0)).toBe(0);
  }, 60_000);
});

describe('error rows', () => {
  it('bad bytes become error rows with the reason; one row per input row, duplicates included; exit 0', async () => {
    const good = bytesByName.get(images.find((i) => runRows.get(i.image_name)!.status === 'ok')!.image_name)!;
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const input = [
      { image_name: 'a.jpg', bytes: b64(good) },
      { image_name: 'random.jpg', bytes: b64(new Uint8Array(2000).map((_, i) => (i * 7919) % 251)) },
      { image_name: 'truncated.jpg', bytes: b64(bytesByName.get('Broken_truncated.jpg')!) },
      { image_name: 'empty.png', bytes: '' },
      { image_name: 'no-bytes-no-source.jpg' },
      { image_name: 'a.jpg', bytes: b64(good), sha1: '0'.repeat(40) },
    ];
    const r = await pipeJsonl(['--model', 'quality-basic', '--check-sha1'], input);
    expect(r.code, r.stderr).toBe(0);
    const out = parseJsonl(r.stdout);
    expect(out.map((o) => [o.image_name, o.status, o.error])).toEqual([
      ['a.jpg', 'ok', null],
      ['random.jpg', 'error', 'unsupported_format'],
      ['truncated.jpg', 'error', 'truncated'],
      ['empty.png', 'error', 'empty_bytes'],
      ['no-bytes-no-source.jpg', 'error', 'missing_bytes'],
      ['a.jpg', 'error', 'bytes_changed'],
    ]);
  }, 60_000);

  it('malformed input fails the process with exit 2, naming the line', async () => {
    const r = await pipeJsonl(['--model', 'quality-basic'], [{ image_name: 'x.jpg' }, { page_id: 3 }]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('imgpipe: error: Input line 2: expected a non-empty string for image_name but received null');
    const notArrow = spawnPipe(['--model', 'quality-basic', ...LANES]);
    await feed(notArrow.child, ['{"image_name":"x.jpg"}\n']);
    const r2 = await notArrow.done;
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/imgpipe: error: stdin is not a valid Arrow IPC stream .*; for JSON lines pass --input-format jsonl/);
  }, 60_000);
});

describe('bad flags and cards exit 2 before stdin is read', () => {
  // stdin stays open and empty: a command that read it would hang until the test times out.
  // Refused before any input is read: in this process (no node start-up per case).
  const refuse = (args: string[]) => imgpipeInProcess(['pipe', ...args]);
  const badCard = () => {
    const dir = path.join(tmp.dir, 'bad-card');
    cpSync(path.join(REPO, 'models', 'quality-basic'), dir, { recursive: true });
    const card = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...card, sha256: 'f'.repeat(64) }));
    return path.join(dir, 'model.json');
  };
  it.each([
    [[], 'imgpipe: error: --model NAME|CARD is required'],
    [['--model', 'no-such-model'], 'no-such-model'],
    [['--model', 'quality-basic', '--window', '0'], 'imgpipe: error: Expected integer between 1 and 100000 for --window but received "0" of type string'],
    [['--model', 'quality-basic', '--run-id', 'a b'], 'imgpipe: error: Expected a run id (letters, digits, ".", "_", "-") for --run-id but received "a b" of type string\n'],
    [['--model', 'quality-basic', '--warehouse', '/x', '--bytes-url', 'https://example.org/{name}'], 'imgpipe: error: Expected at most one of --warehouse, --bytes-url but received both'],
    [['--model', 'quality-basic', '--bytes-url', 'ftp://x/{name}'], 'imgpipe: error: Expected an http(s) URL containing {name} for --bytes-url'],
    [['--model', 'quality-basic', '--bytes-timeout', '5'], 'imgpipe: error: --bytes-timeout is for HTTP bytes: add --bytes-url TEMPLATE or --bytes-preset commons-thumb, or drop it'],
    [['--model', 'quality-basic', '--format', 'csv'], 'imgpipe: error: Expected one of: arrow, jsonl for --format but received "csv" of type string\n'],
    [['--model', 'quality-basic', '--batch-size', '5000'], 'imgpipe: error: Expected integer between 1 and 4096 for --batch-size but received "5000" of type string'],
  ])('%j', async (args, message) => {
    const r = await refuse(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout.length).toBe(0);
  }, 30_000);
  it('a card whose sha256 does not match its ONNX file', async () => {
    const r = await refuse(['--model', badCard()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/imgpipe: error: Model card .*model\.json: sha256 of .* is [0-9a-f]{64} but the card says f{64}/);
  }, 30_000);
});

describe('bounded memory and kills', () => {
  it('10k rows carrying ~1 GB of bytes stream through in bounded memory (peak RSS from /proc)', async () => {
    const real = images.filter((i) => runRows.get(i.image_name)!.status === 'ok').slice(0, 50).map((i) => bytesByName.get(i.image_name)!);
    const junk = new Uint8Array(100 * 1024).fill(0x4a); // no image magic: unsupported_format, after the same path
    const N = 10_000;
    const BATCH = 250;
    const batches = function* () {
      for (let start = 0; start < N; start += BATCH) {
        yield inputBatch(Array.from({ length: BATCH }, (_, j) => {
          const i = start + j;
          return { image_name: `img-${String(i).padStart(5, '0')}.jpg`, page_id: BigInt(i), bytes: i % 20 === 0 ? real[(i / 20) % real.length]! : junk };
        }));
      }
    };
    let outBytes = 0;
    const { child, done } = spawnPipe(['--model', 'quality-basic', '--format', 'jsonl', '--quiet', ...LANES], {
      onStdout: (_c, _chunk, total) => (outBytes = total),
    });
    await feed(child, arrowStreamChunks(batches()));
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const out = parseJsonl(r.stdout);
    expect(out).toHaveLength(N);
    expect(out.map((o) => o.image_name)).toEqual(Array.from({ length: N }, (_, i) => `img-${String(i).padStart(5, '0')}.jpg`));
    expect(out.filter((o) => o.status === 'ok')).toHaveLength(N / 20);
    expect(new Set(out.filter((o) => o.status === 'error').map((o) => o.error))).toEqual(new Set(['unsupported_format']));
    expect(outBytes).toBe(r.stdout.length);
    const inputBytes = (N - N / 20) * junk.length;
    // Measured here: ~230 MiB with no input (runtime, onnxruntime, 2 lanes), 440-600 MiB at 4k and
    // 10k rows alike. A design that held the whole input would need the baseline plus > 900 MiB.
    console.log(`pipe peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB for ${(inputBytes / 2 ** 20).toFixed(0)} MiB of input bytes`);
    expect(inputBytes).toBeGreaterThan(900 * 2 ** 20);
    expect(r.peakRss).toBeGreaterThan(100 * 2 ** 20);
    expect(r.peakRss).toBeLessThan(768 * 2 ** 20);
  }, 300_000);

  it('a reader that closes stdout early gets exit 1, not 0: a short stream is never taken for a finished one', async () => {
    const rows = images.map((i) => ({ ...i, bytes: bytesByName.get(i.image_name) ?? null }));
    const { child, done } = spawnPipe(['--model', 'quality-basic', '--window', '8', ...LANES], {
      onStdout: (c) => c.stdout.destroy(),
    });
    await feed(child, arrowStreamChunks([inputBatch(rows)]));
    const r = await done;
    expect(r.signal).toBe(null);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/imgpipe: failed: .*(stdout was closed before all rows were written|EPIPE)/);
  }, 60_000);

  it('SIGKILL mid-stream: nothing but a truncated stdout (no end marker, no file of ours anywhere)', async () => {
    const work = path.join(tmp.dir, 'kill-cwd');
    const scratch = path.join(tmp.dir, 'kill-tmp');
    mkdirSync(work);
    mkdirSync(scratch);
    const rows = images.map((i) => ({ ...i, bytes: bytesByName.get(i.image_name) ?? null }));
    let killedAfter = 0;
    const { child, done } = spawnPipe(['--model', 'quality-basic', '--window', '16', ...LANES], {
      cwd: work,
      env: { TMPDIR: scratch },
      onStdout: (c, _chunk, total) => {
        if (killedAfter === 0 && total > 2000) {
          killedAfter = total;
          c.kill('SIGKILL');
        }
      },
    });
    // Feed the first half, then hold stdin open: the kill lands while the stream is unfinished.
    await feed(child, arrowStreamChunks([inputBatch(rows.slice(0, 150))]), false);
    const r = await done;
    expect(r.signal).toBe('SIGKILL');
    expect(killedAfter).toBeGreaterThan(0);
    expect(endsWithEos(r.stdout)).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    // onnxruntime itself drops a session id (.ses) and an empty mat-debug-<pid>.log in $TMPDIR; nothing else.
    expect(readdirSync(scratch).filter((f) => f !== '.ses' && !/^mat-debug-\d+\.log$/.test(f))).toEqual([]);
  }, 60_000);
});
