/**
 * The decode stage: bytes of one image → the model's input tensor, as the card's `input` says.
 * A pure function of its arguments, run in whatever thread holds the decoder (a lane, a decode-pool
 * thread, or the test's own thread with a fake).
 *
 * `decode` never rejects for a bad image: it resolves to an outcome with a stable reason
 * (empty_bytes, unsupported_format, truncated, too_many_pixels, decode_failed). It rejects only when
 * the decoder itself is broken (then the partition attempt fails and is retried).
 */
import type { ModelInput } from '../model/ModelCard.js';
import type { ErrorReason } from '../util/errors.js';

export type DecodeOutcome =
  | { ok: true; tensor: Float32Array | Uint8Array; width: number; height: number }
  | { ok: false; reason: ErrorReason; detail: string };

export interface Decoder {
  decode(bytes: Uint8Array, input: ModelInput, maxPixels: number): Promise<DecodeOutcome>;
}
