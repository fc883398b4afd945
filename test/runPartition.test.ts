/**
 * `runPartition` in-process with a fake Decoder and a fake Model (InlineScorer): batching and padding
 * to a graph's fixed batch, per-image isolation when the model rejects a batch, non-finite outputs,
 * bytes that no longer match the plan's sha1, missing bytes — one row per image, whatever fails.
 * The part file is real Parquet, read back with DuckDB. Then the threaded topologies (lanes, pooled)
 * against the inline one on a real built-in model: the same rows.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ByteSource } from '../src/bytes/ByteSource.js';
import type { DecodeOutcome, Decoder } from '../src/decode/Decoder.js';
import { ImageDecoder } from '../src/decode/ImageDecoder.js';
import { InlineScorer } from '../src/exec/scoring/InlineScorer.js';
import type { Scorer } from '../src/exec/scoring/Scorer.js';
import { runPartition, type TaskContext } from '../src/exec/task.js';
import { loadModel, type LoadedModel } from '../src/model/loadModelCard.js';
import type { Model } from '../src/model/Model.js';
import type { ModelCard } from '../src/model/ModelCard.js';
import { ModelSession } from '../src/model/ModelSession.js';
import type { PartitionManifest } from '../src/plan/manifest.js';
import { createParquetPartWriter } from '../src/sink/parquetPartWriter.js';
import { lit, query, REPO, tempDir } from './util/cli.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('imgpipe-partition-')));
afterEach(() => tmp.cleanup());

const PER = 4; // values per image of the fake model
const card = {
  name: 'fake', version: '1', task: 'classifier', onnx: 'x.onnx', sha256: '0'.repeat(64),
  input: { name: 'x', layout: 'NHWC', dtype: 'float32', height: 1, width: 1, channels: 'RGB', resize: { mode: 'stretch' } },
  output: { name: 'y', activation: 'none', labels: ['a', 'b', 'c'], top_k: 2 },
} as unknown as ModelCard;
const loaded: LoadedModel = { card, cardPath: '/nowhere/model.json', onnxPath: '/nowhere/x.onnx', labels: ['a', 'b', 'c'], qualifiedName: 'fake-1' };

/** Image bytes are one byte, the "pixel": 0xEE does not decode; others become a tensor filled with it. */
class FakeDecoder implements Decoder {
  async decode(bytes: Uint8Array): Promise<DecodeOutcome> {
    if (bytes[0] === 0xee) return { ok: false, reason: 'decode_failed', detail: 'fake' };
    return { ok: true, tensor: new Float32Array(PER).fill(bytes[0]!), width: bytes[0]!, height: 1 };
  }
}

/** Output per image: [v % 3 === 0 ? 9 : 0, v % 3 === 1 ? 9 : 0, …]; v = 13 makes the batch throw, v = 7 gives NaN. */
class FakeModel implements Model {
  readonly model = loaded;
  readonly provider = 'cpu' as const;
  readonly valuesPerImage = PER;
  readonly outputWidth = 3;
  readonly counts: number[] = [];
  constructor(readonly fixedBatch: number | null = null) {}
  async run(input: Float32Array | Uint8Array, count: number): Promise<Float32Array> {
    this.counts.push(count);
    expect(input.length).toBe(count * PER);
    const out = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) {
      const v = input[i * PER]!;
      if (v === 13) throw new Error('the model rejects 13');
      if (v === 7) out.fill(Number.NaN, i * 3, i * 3 + 3);
      else out[i * 3 + (v % 3)] = 9;
    }
    return out;
  }
  async close(): Promise<void> {}
}

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

function fakeBytes(map: Map<string, Uint8Array>, servesCatalogBytes = true): ByteSource & { fetched: number } {
  return {
    servesCatalogBytes,
    fetched: 0,
    async fetch(names) {
      this.fetched += names.length;
      return new Map(names.flatMap((n) => (map.has(n) ? [[n, map.get(n)!] as const] : [])));
    },
    close() {},
  };
}

function manifestOf(values: (number | null)[], changed = new Set<number>()): { manifest: PartitionManifest; bytes: Map<string, Uint8Array> } {
  const bytes = new Map<string, Uint8Array>();
  const images = values.map((v, i) => {
    const name = `img-${String(i).padStart(3, '0')}.jpg`;
    const b = v === null ? null : new Uint8Array([v]);
    if (b) bytes.set(name, b);
    return { image_name: name, page_id: String(i), sha1: b ? (changed.has(i) ? sha1(new Uint8Array([v! + 1])) : sha1(b)) : null };
  });
  return { manifest: { format: 1, run_id: 'run-x', partition: 0, images: images.reverse() }, bytes };
}

function context(scorer: Scorer, bytes: ByteSource): TaskContext {
  return { bytes, scorer, model: loaded, openPartWriter: (f) => createParquetPartWriter(f), maxPixels: 1e9, fetchChunk: 5 };
}

async function readPart(file: string) {
  return query(`SELECT image_name, status, error, label, width FROM read_parquet(${lit(file)}) ORDER BY image_name`);
}

describe('runPartition with a fake decoder and model', () => {
  it('one row per image, in name order, each failure its own reason', async () => {
    // 0..11 ok except: 0xEE undecodable, 13 rejected alone, 7 NaN, null missing, 4's bytes changed.
    const values = [0, 1, 2, 0xee, 4, 5, 13, 7, null, 9, 10, 11];
    const { manifest, bytes } = manifestOf(values, new Set([4]));
    const model = new FakeModel();
    const file = path.join(tmp.dir, 'part-00000.parquet');
    const message = await runPartition(manifest, context(new InlineScorer(new FakeDecoder(), model, 3), fakeBytes(bytes)), file, '1-a');
    const rows = await readPart(file);
    expect(rows.map((r) => r.image_name)).toEqual(values.map((_, i) => `img-${String(i).padStart(3, '0')}.jpg`));
    const byIndex = (i: number) => rows[i]!;
    expect(byIndex(3)).toMatchObject({ status: 'error', error: 'decode_failed' });
    expect(byIndex(4)).toMatchObject({ status: 'error', error: 'bytes_changed' });
    expect(byIndex(6)).toMatchObject({ status: 'error', error: 'inference_failed', width: 13 });
    expect(byIndex(7)).toMatchObject({ status: 'error', error: 'inference_failed', width: 7 });
    expect(byIndex(8)).toMatchObject({ status: 'error', error: 'missing_bytes' });
    for (const i of [0, 1, 2, 5, 9, 10, 11]) expect(byIndex(i)).toMatchObject({ status: 'ok', error: null, label: ['a', 'b', 'c'][values[i]! % 3] });
    expect(message).toMatchObject({ rows: 12, ok: 7, error: 5, error_reasons: { decode_failed: 1, bytes_changed: 1, inference_failed: 2, missing_bytes: 1 } });
    // The batch holding 13 failed whole, then each of its images ran alone.
    expect(model.counts.filter((c) => c === 1).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...model.counts)).toBeLessThanOrEqual(3);
  });

  it('pads to a fixed batch: every call has the graph batch size, results unchanged', async () => {
    const values = Array.from({ length: 10 }, (_, i) => i % 3);
    const { manifest, bytes } = manifestOf(values);
    const model = new FakeModel(4);
    const file = path.join(tmp.dir, 'part-00000.parquet');
    await runPartition(manifest, context(new InlineScorer(new FakeDecoder(), model, 8), fakeBytes(bytes)), file, '1-a');
    expect(new Set(model.counts)).toEqual(new Set([4]));
    const rows = await readPart(file);
    expect(rows.map((r) => r.label)).toEqual(values.map((v) => ['a', 'b', 'c'][v]));
  });

  it('does not check sha1 where the source serves other bytes than the catalog describes (thumbnails)', async () => {
    const { manifest, bytes } = manifestOf([1, 2, 4], new Set([0, 1, 2]));
    const file = path.join(tmp.dir, 'part-00000.parquet');
    const message = await runPartition(manifest, context(new InlineScorer(new FakeDecoder(), new FakeModel()), fakeBytes(bytes, false)), file, '1-a');
    expect(message).toMatchObject({ ok: 3, error: 0 });
  });

  it('a byte source that fails fails the attempt: no rows, no part file', async () => {
    const { manifest } = manifestOf([1, 2, 3]);
    const broken: ByteSource = { async fetch() { throw new Error('connection reset by the byte source'); }, close() {} };
    const file = path.join(tmp.dir, 'part-00000.parquet');
    await expect(runPartition(manifest, context(new InlineScorer(new FakeDecoder(), new FakeModel()), broken), file, '1-a')).rejects.toThrow('connection reset by the byte source');
    expect((await query(`SELECT count(*) AS n FROM glob(${lit(path.join(tmp.dir, '*'))})`))[0]!.n).toBe(0n);
  });

  it('a decoder that breaks (not one bad image) fails the attempt', async () => {
    const { manifest, bytes } = manifestOf([1, 2, 3, 4, 5, 6]);
    const broken: Decoder = { async decode() { throw new Error('decode thread died'); } };
    await expect(runPartition(manifest, context(new InlineScorer(broken, new FakeModel()), fakeBytes(bytes)), path.join(tmp.dir, 'p.parquet'), '1-a')).rejects.toThrow('decode thread died');
  });
});

describe('threaded topologies give the inline result', () => {
  it('lanes and pooled score a built-in model exactly as the decoder and session do in this thread', async () => {
    // Threads load the compiled scoring thread: use the build `npm test` made (dist/), as the CLI does.
    const { openScorer } = (await import(path.join(REPO, 'dist', 'src', 'exec', 'scoring', 'openScorer.js'))) as typeof import('../src/exec/scoring/openScorer.js');
    const model = await loadModel('quality-basic');
    const images = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        sharp({ create: { width: 300 + i * 40, height: 200 + i * 10, channels: 3, background: { r: i * 20, g: 255 - i * 20, b: 90 }, noise: { type: 'gaussian', mean: 120, sigma: 10 + i * 5 } } }).jpeg({ quality: 80 }).toBuffer(),
      ),
    );
    const items = [...images.map((b) => ({ bytes: new Uint8Array(b), sha1: sha1(b) })), { bytes: new Uint8Array([1, 2, 3]), sha1: null }];
    const request = { input: model.card.input, maxPixels: 1e9 };
    const session = await ModelSession.create(model, { intraOpThreads: 1 });
    const inline = await new InlineScorer(new ImageDecoder(), session).score(items.map((i) => ({ ...i, bytes: i.bytes.slice() })), request);
    await session.close();
    expect(inline.filter((o) => o.ok)).toHaveLength(12);
    expect(inline[12]).toMatchObject({ ok: false, reason: 'unsupported_format' });
    for (const topology of ['lanes', 'pooled'] as const) {
      const scorer = await openScorer(model, { device: 'cpu', topology, lanes: 2, threads: 2, inferenceThreads: 1, batchSize: topology === 'pooled' ? 5 : 1 });
      try {
        expect(scorer.topology.kind).toBe(topology);
        const timings = { decodeMs: 0, inferMs: 0 };
        const got = await scorer.score(items.map((i) => ({ ...i, bytes: i.bytes.slice() })), request, timings);
        expect(got.map((o) => (o.ok ? Array.from(o.output) : o.reason))).toEqual(inline.map((o) => (o.ok ? Array.from(o.output) : o.reason)));
        expect(timings.inferMs).toBeGreaterThan(0);
      } finally {
        await scorer.close();
        await scorer.close(); // twice is harmless
      }
    }
  }, 60_000);
});
