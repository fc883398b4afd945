/**
 * What crosses the thread boundary between the executor and the scoring threads: plain objects whose
 * buffers are transferred, never copied (image bytes in, tensors between decode and inference
 * threads, one packed Float32Array of model outputs back).
 */
import type { DecodeOutcome } from '../../decode/Decoder.js';
import type { Device } from '../../model/ModelSession.js';
import type { ModelInput } from '../../model/ModelCard.js';
import type { ScoreOutcome } from './scoreImages.js';

/** How a scoring thread is set up (piscina `workerData`). */
export interface ScoringThreadSetup {
  /** The model card this thread runs (absolute path) and the sha256 the run was planned with; none for decode-only threads. */
  model: { card: string; sha256: string } | null;
  device: Device;
  /** onnxruntime intra-op threads of this thread's session. */
  intraOpThreads: number;
}

export interface WireItem {
  bytes: ArrayBuffer;
  sha1: string | null;
}

export type ScoringTask =
  | { kind: 'info' }
  | { kind: 'score'; items: WireItem[]; input: ModelInput; maxPixels: number; batchSize: number }
  | { kind: 'decode'; items: WireItem[]; input: ModelInput; maxPixels: number }
  | { kind: 'infer'; decoded: DecodeOutcome[]; batchSize: number };

export interface ModelInfo {
  provider: 'cpu' | 'cuda';
  fixedBatch: number | null;
  valuesPerImage: number;
  outputWidth: number;
}

/** Outcomes with every ok output a view into one transferred buffer. */
export interface WireOutcomes {
  outcomes: ScoreOutcome[];
  decodeMs: number;
  inferMs: number;
}

/** Own the bytes' memory so its buffer can be transferred (a view into a larger buffer is copied). */
export function toWireItem(bytes: Uint8Array, sha1: string | null): WireItem {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
  return { bytes: own, sha1 };
}
