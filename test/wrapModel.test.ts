/**
 * `models wrap`: the uint8 NHWC variant of a model gives the float model's outputs (within float
 * tolerance) on the same pixels, and `run` with it commits the same labels.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/model/loadModelCard.js';
import { wrapModelUint8 } from '../src/model/wrapModel.js';
import { imgpipe, lit, query, SHARED, tempDir, copyDemoWarehouse } from './util/cli.js';

const tmp = tempDir('imgpipe-wrap-');
afterAll(() => tmp.cleanup());
const sharedModels = path.join(SHARED, 'models');
const haveShared = existsSync(path.join(sharedModels, 'mobilenet-v2', 'model.json'));
if (!haveShared) console.warn(`SKIP mobilenet-v2 wrap check: ${sharedModels} is absent`);

/** Deterministic pixels, N×H×W×3. */
function pixels(n: number, h: number, w: number): Uint8Array {
  const out = new Uint8Array(n * h * w * 3);
  let x = 12345;
  for (let i = 0; i < out.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = (x >> 16) & 0xff;
  }
  return out;
}

async function compare(name: string, modelsDirs: string[], tolerance: number) {
  const float = await loadModel(name, modelsDirs);
  const { cardPath } = await wrapModelUint8(name, modelsDirs, path.join(tmp.dir, 'models'));
  const wrapped = await loadModel(cardPath);
  const { height: h, width: w, scale = 1, mean = [0, 0, 0], std = [1, 1, 1], layout } = float.card.input;
  const n = 3;
  const u8 = pixels(n, h, w);
  const f32 = new Float32Array(n * 3 * h * w);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          const v = (u8[((b * h + y) * w + x) * 3 + c]! * scale - mean[c]!) / std[c]!;
          f32[layout === 'NCHW' ? ((b * 3 + c) * h + y) * w + x : ((b * h + y) * w + x) * 3 + c] = v;
        }
  const a = await ort.InferenceSession.create(float.onnxPath);
  const z = await ort.InferenceSession.create(wrapped.onnxPath);
  const out = float.card.output.name;
  const ra = (await a.run({ [float.card.input.name]: new ort.Tensor('float32', f32, layout === 'NCHW' ? [n, 3, h, w] : [n, h, w, 3]) }, [out]))[out]!.data as Float32Array;
  const rz = (await z.run({ pixels: new ort.Tensor('uint8', u8, [n, h, w, 3]) }, [out]))[out]!.data as Float32Array;
  expect(rz.length).toBe(ra.length);
  let worst = 0;
  for (let i = 0; i < ra.length; i++) worst = Math.max(worst, Math.abs(ra[i]! - rz[i]!) / Math.max(1, Math.abs(ra[i]!)));
  expect(worst).toBeLessThan(tolerance);
  expect(wrapped.card.input).toMatchObject({ name: 'pixels', layout: 'NHWC', dtype: 'uint8', height: h, width: w });
  expect(wrapped.card.input.scale).toBeUndefined();
  return worst;
}

describe('models wrap (uint8 NHWC input)', () => {
  it('color-embed and quality-basic: wrapped outputs equal the float model within 1e-4', async () => {
    await compare('color-embed', [], 1e-4);
    await compare('quality-basic', [], 1e-3); // its logits are ~1e5-scaled features: relative tolerance
  });

  it.skipIf(!haveShared)('mobilenet-v2: wrapped outputs equal the float model within 1e-3', async () => {
    await compare('mobilenet-v2', [sharedModels], 1e-3);
  }, 120_000);

  it('run with the wrapped card commits the same labels as the float card', async () => {
    const wh = path.join(tmp.dir, 'wh');
    copyDemoWarehouse(wh);
    const cli = imgpipe(['models', 'wrap', 'quality-basic', '--out-dir', path.join(tmp.dir, 'cli-models')]);
    expect(cli.code, cli.stderr).toBe(0);
    const runWith = (model: string) => {
      const r = imgpipe(['run', '--warehouse', wh, '--partitions-dir', path.join(tmp.dir, 'p'), '--models-dir', path.join(tmp.dir, 'cli-models'), '--model', model, '--all', '--json', '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).output as string;
    };
    const a = await query(`SELECT image_name, status, error, label FROM read_parquet(${lit(path.join(runWith('quality-basic'), '*.parquet'))}) ORDER BY 1`);
    const b = await query(`SELECT image_name, status, error, label FROM read_parquet(${lit(path.join(runWith('quality-basic-u8'), '*.parquet'))}) ORDER BY 1`);
    expect(b).toEqual(a);
    expect(JSON.parse(readFileSync(path.join(tmp.dir, 'cli-models', 'quality-basic-u8', 'model.json'), 'utf8')).output.labels).toBe('labels.txt');
  }, 120_000);
});
