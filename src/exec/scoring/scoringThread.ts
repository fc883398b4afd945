/**
 * Piscina worker entry of every scoring thread. Set up by `workerData` (ScoringThreadSetup): a lane
 * holds a decoder and its own single-threaded model session and runs `score` tasks (decode and
 * infer in the same thread: no hand-off, no idle core); a decode thread runs `decode` tasks; the
 * inference thread of the pooled topology runs `infer` tasks on batches decoded elsewhere.
 *
 * The model is loaded once, when the thread starts (its sha256 checked against the run's). If that
 * fails, every task of this thread rejects with the reason (the executor fails the attempt; a bad
 * card was already refused by the driver). Tasks never reject for a bad image.
 */
import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import sharp from 'sharp';
import type { DecodeOutcome } from '../../decode/Decoder.js';
import { ImageDecoder } from '../../decode/ImageDecoder.js';
import { loadModel } from '../../model/loadModelCard.js';
import { ModelSession } from '../../model/ModelSession.js';
import { decodeItems, inferDecoded, type ScoreOutcome } from './scoreImages.js';
import type { ModelInfo, ScoringTask, ScoringThreadSetup, WireOutcomes } from './wire.js';

// Parallelism comes from the threads; one libvips thread per decode avoids oversubscribing the cores.
sharp.concurrency(1);
sharp.cache(false);

const setup = workerData as ScoringThreadSetup;
const decoder = new ImageDecoder();
const session: Promise<ModelSession> | null = setup.model ? openSession(setup.model) : null;
session?.catch(() => undefined); // reported by the first task that needs it

async function openSession(m: { card: string; sha256: string }): Promise<ModelSession> {
  const model = await loadModel(m.card);
  if (model.card.sha256 !== m.sha256) throw new Error(`model card ${m.card} now says sha256 ${model.card.sha256}, the run was planned with ${m.sha256}`);
  return ModelSession.create(model, {
    device: setup.device,
    intraOpThreads: setup.intraOpThreads,
    warn: (message) => process.stderr.write(`imgpipe: warning: ${message}\n`),
  });
}

function needSession(): Promise<ModelSession> {
  if (!session) throw new Error('this scoring thread has no model (a decode thread was given an inference task)');
  return session;
}

export default async function run(task: ScoringTask): Promise<unknown> {
  switch (task.kind) {
    case 'info': {
      const s = await needSession();
      const info: ModelInfo = { provider: s.provider, fixedBatch: s.fixedBatch, valuesPerImage: s.valuesPerImage, outputWidth: s.outputWidth };
      return info;
    }
    case 'score': {
      const s = await needSession();
      const items = task.items.map((i) => ({ bytes: new Uint8Array(i.bytes), sha1: i.sha1 }));
      const t0 = performance.now();
      const decoded = await decodeItems(decoder, items, task);
      const t1 = performance.now();
      const outcomes = await inferDecoded(s, decoded, task.batchSize);
      return packOutcomes(outcomes, t1 - t0, performance.now() - t1);
    }
    case 'decode': {
      const items = task.items.map((i) => ({ bytes: new Uint8Array(i.bytes), sha1: i.sha1 }));
      const decoded = await decodeItems(decoder, items, task);
      const buffers = decoded.flatMap((d) => (d.ok ? [d.tensor.buffer as ArrayBuffer] : []));
      return transferring(decoded, buffers);
    }
    case 'infer': {
      const s = await needSession();
      const t0 = performance.now();
      const outcomes = await inferDecoded(s, task.decoded as DecodeOutcome[], task.batchSize);
      return packOutcomes(outcomes, 0, performance.now() - t0);
    }
  }
}

/** Copy the ok outputs into one buffer (views into it travel in the outcomes) and transfer it. */
function packOutcomes(outcomes: ScoreOutcome[], decodeMs: number, inferMs: number): unknown {
  let total = 0;
  for (const o of outcomes) if (o.ok) total += o.output.length;
  const packed = new Float32Array(total);
  let at = 0;
  const wire = outcomes.map((o): ScoreOutcome => {
    if (!o.ok) return o;
    packed.set(o.output, at);
    const view = packed.subarray(at, at + o.output.length);
    at += o.output.length;
    return { ...o, output: view };
  });
  const result: WireOutcomes = { outcomes: wire, decodeMs, inferMs };
  return transferring(result, [packed.buffer]);
}

/** Wraps a result so piscina transfers the given buffers instead of cloning them. */
function transferring(value: unknown, buffers: ArrayBuffer[]): unknown {
  const movable = {
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(movable as unknown as ArrayBuffer);
}
