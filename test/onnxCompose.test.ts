/**
 * The ONNX protobuf reader/writer and the backbone + head composition behind `imgpipe train`:
 * byte-exact round trips, and the composed graph computing exactly "embedding, then normalize, then
 * head" (checked with onnxruntime against the backbone's own output and the head in JavaScript).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { composeLinearHead } from '../src/model/onnx/composeLinearHead.js';
import { decodeOnnxModelProto, encodeOnnxModelProto, valueInfoShape } from '../src/model/onnx/OnnxModelProto.js';
import { decodeFields, encodeFields } from '../src/model/onnx/protoWire.js';
import { normalizeEmbedding } from '../src/model/postprocess.js';
import { encodeOnnxModel } from '../src/model/onnx/encodeOnnxModel.js';
import { REPO, SHARED } from './util/cli.js';

const COLOR_EMBED = path.join(REPO, 'models', 'color-embed', 'model.onnx');
const QUALITY = path.join(REPO, 'models', 'quality-basic', 'model.onnx');
const MOBILENET = path.join(SHARED, 'models', 'mobilenet-v2', 'model.onnx');
const haveMobilenet = existsSync(MOBILENET);
if (!haveMobilenet) console.warn(`SKIP mobilenet-v2 composition tests: ${MOBILENET} is absent (it lives in ../shared beside the repository)`);

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random head of D × K weights in [-1, 1) and K biases. */
function randomHead(d: number, k: number, seed: number) {
  const r = rng(seed);
  return { weights: Float32Array.from({ length: d * k }, () => 2 * r() - 1), bias: Float32Array.from({ length: k }, () => 2 * r() - 1) };
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, dims: number[], outputs: string[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ input: new ort.Tensor('float32', input, dims) }, outputs);
    return Object.fromEntries(outputs.map((o) => [o, out[o]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** logits = normalize(e) · W + b, in float64. */
function headInJs(embedding: Float32Array, normalize: 'none' | 'l2', head: { weights: Float32Array; bias: Float32Array }): number[] {
  const e = normalizeEmbedding(embedding, normalize);
  const k = head.bias.length;
  return Array.from({ length: k }, (_, c) => e.reduce((s, v, j) => s + v * head.weights[j * k + c]!, head.bias[c]!));
}

describe('protobuf wire format', () => {
  it('decodes and re-encodes every field verbatim, unknown ones included', () => {
    // field 1 varint 300, field 2 string "hi", field 9 fixed32, field 15 fixed64, field 1000 varint -1 (10 bytes)
    const bytes = Uint8Array.from([0x08, 0xac, 0x02, 0x12, 0x02, 0x68, 0x69, 0x4d, 1, 2, 3, 4, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0xc0, 0x3e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const fields = decodeFields(bytes);
    expect(fields.map((f) => [f.field, f.wire])).toEqual([[1, 0], [2, 2], [9, 5], [15, 1], [1000, 0]]);
    expect(fields[0]!.value).toBe(300n);
    expect(Array.from(encodeFields(fields))).toEqual(Array.from(bytes));
  });

  it('refuses truncated input with the offset', () => {
    expect(() => decodeFields(Uint8Array.from([0x12, 0x05, 0x68]))).toThrow('protobuf: field of 5 bytes at byte 2 runs past the end (3)');
    expect(() => decodeFields(Uint8Array.from([0x08, 0xff]))).toThrow('protobuf: truncated varint at byte 2');
    expect(() => decodeFields(Uint8Array.from([0x0b]))).toThrow('protobuf: unsupported wire type 3 for field 1 at byte 0');
  });
});

describe('ONNX ModelProto reader/writer', () => {
  it.each([COLOR_EMBED, QUALITY, ...(haveMobilenet ? [MOBILENET] : [])])('round-trips %s byte for byte', (file) => {
    const bytes = readFileSync(file);
    const model = decodeOnnxModelProto(bytes);
    expect(model.graph.nodes.length).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(encodeOnnxModelProto(model)), bytes)).toBe(0);
  });

  it('reads names, shapes and opsets', () => {
    const model = decodeOnnxModelProto(readFileSync(COLOR_EMBED));
    expect(model.opsetImports.map(({ domain, version }) => ({ domain, version }))).toEqual([{ domain: '', version: 13 }]);
    expect(model.graph.inputs.map((i) => [i.name, valueInfoShape(i)])).toEqual([['input', ['N', 3, 64, 64]]]);
    expect(model.graph.outputs.map((o) => [o.name, valueInfoShape(o)])).toEqual([['embedding', ['N', 48]]]);
  });

  it('refuses bytes that are not a model', () => {
    expect(() => decodeOnnxModelProto(new TextEncoder().encode('not a model'))).toThrow(/protobuf|ONNX/);
    expect(() => decodeOnnxModelProto(Uint8Array.from([0x08, 0x08]))).toThrow('ONNX: ModelProto has no graph (is this an ONNX model file?)');
  });
});

describe('composeLinearHead', () => {
  it('color-embed + head equals the backbone embedding, L2-normalized, then the head in JS (1e-5)', async () => {
    const backbone = readFileSync(COLOR_EMBED);
    const head = randomHead(48, 3, 1);
    const composed = composeLinearHead(backbone, { embeddingOutput: 'embedding', normalize: 'l2', ...head });
    const r = rng(2);
    const n = 4;
    const input = Float32Array.from({ length: n * 3 * 64 * 64 }, () => r());
    input.fill(0, 3 * 3 * 64 * 64); // the last image is black: Y = 0, Cb = Cr = 0.5, still well defined
    const { embedding } = await runOnnx(backbone, input, [n, 3, 64, 64], ['embedding']);
    const { logits } = await runOnnx(composed, input, [n, 3, 64, 64], ['logits']);
    expect(logits).toHaveLength(n * 3);
    for (let i = 0; i < n; i++) {
      const expected = headInJs(embedding!.subarray(i * 48, (i + 1) * 48), 'l2', head);
      for (let c = 0; c < 3; c++) expect(Math.abs(logits![i * 3 + c]! - expected[c]!)).toBeLessThan(1e-5);
    }
    const model = decodeOnnxModelProto(composed);
    expect(model.graph.outputs.map((o) => [o.name, valueInfoShape(o)])).toEqual([['logits', ['N', 3]]]);
    expect(model.graph.nodes.every((nd) => nd.name !== undefined && nd.name !== '')).toBe(true);
  });

  it('a zero embedding stays zero through the in-graph L2 step (as normalizeEmbedding does), never NaN', async () => {
    // A one-node backbone: embedding = input × scale, so the test chooses the embedding.
    const backbone = encodeOnnxModel({
      producerName: 'test',
      graph: {
        name: 'scale',
        nodes: [{ opType: 'Mul', name: 'mul', inputs: ['input', 'scale'], outputs: ['embedding'] }],
        initializers: [{ name: 'scale', dims: [4], values: [1, 2, 3, 4] }],
        inputs: [{ name: 'input', shape: ['N', 4] }],
        outputs: [{ name: 'embedding', shape: ['N', 4] }],
      },
    });
    const head = randomHead(4, 2, 3);
    const composed = composeLinearHead(backbone, { embeddingOutput: 'embedding', normalize: 'l2', ...head });
    const input = Float32Array.from([0, 0, 0, 0, 1, -1, 0.5, 2]);
    const { logits } = await runOnnx(composed, input, [2, 4], ['logits']);
    expect(Array.from(logits!.subarray(0, 2))).toEqual(Array.from(head.bias));
    const expected = headInJs(Float32Array.from([1, -2, 1.5, 8]), 'l2', head);
    for (let c = 0; c < 2; c++) expect(Math.abs(logits![2 + c]! - expected[c]!)).toBeLessThan(1e-6);
  });

  it('refuses a missing output or a head of the wrong width', () => {
    const backbone = readFileSync(COLOR_EMBED);
    const head = randomHead(48, 2, 4);
    expect(() => composeLinearHead(backbone, { embeddingOutput: 'features', normalize: 'none', ...head })).toThrow('Expected a graph output named "features" in the backbone but its outputs are: embedding');
    const wrong = randomHead(47, 2, 4);
    expect(() => composeLinearHead(backbone, { embeddingOutput: 'embedding', normalize: 'none', ...wrong })).toThrow('Expected a backbone output "embedding" of 47 values per image but the graph says 48');
  });

  it.skipIf(!haveMobilenet)('mobilenet-v2: its own `logits` is dropped, the new `logits` equals the head on `embedding` (1e-4)', async () => {
    const backbone = readFileSync(MOBILENET);
    const head = randomHead(1280, 2, 5);
    for (let i = 0; i < head.weights.length; i++) head.weights[i] = head.weights[i]! * 0.05;
    const composed = composeLinearHead(backbone, { embeddingOutput: 'embedding', normalize: 'none', ...head });
    const model = decodeOnnxModelProto(composed);
    expect(model.graph.outputs.map((o) => [o.name, valueInfoShape(o)])).toEqual([['logits', ['N', 2]]]);
    // The 1280 × 1000 classifier no longer runs: pruned with its weights.
    expect(composed.length).toBeLessThan(backbone.length - 4_000_000);
    const r = rng(6);
    const input = Float32Array.from({ length: 2 * 3 * 224 * 224 }, () => 2 * r() - 1);
    const { embedding } = await runOnnx(backbone, input, [2, 3, 224, 224], ['embedding']);
    const { logits } = await runOnnx(composed, input, [2, 3, 224, 224], ['logits']);
    for (let i = 0; i < 2; i++) {
      const expected = headInJs(embedding!.subarray(i * 1280, (i + 1) * 1280), 'none', head);
      for (let c = 0; c < 2; c++) expect(Math.abs(logits![i * 2 + c]! - expected[c]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected[c]!)));
    }
  });
});
