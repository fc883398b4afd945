/**
 * Packed 8-bit RGB (H×W×3) → the card's input tensor: uint8 as is (NHWC) or transposed (NCHW);
 * float32 as (v × scale − mean) / std per channel, through one 256-entry table per channel.
 */
import type { ModelInput } from '../model/ModelCard.js';

export function toTensor(hwc: Uint8Array, input: ModelInput): Float32Array | Uint8Array {
  const pixels = input.width * input.height;
  if (input.dtype === 'uint8') {
    if (input.layout === 'NHWC') return new Uint8Array(hwc.buffer.slice(hwc.byteOffset, hwc.byteOffset + hwc.length));
    const out = new Uint8Array(pixels * 3);
    for (let i = 0; i < pixels; i++) for (let c = 0; c < 3; c++) out[c * pixels + i] = hwc[i * 3 + c]!;
    return out;
  }
  // One 256-entry lookup table per channel: each pixel costs a load, not a multiply-add.
  const scale = input.scale ?? 1;
  const mean = input.mean ?? [0, 0, 0];
  const std = input.std ?? [1, 1, 1];
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * scale - mean[c]!) / std[c]!;
  const out = new Float32Array(pixels * 3);
  if (input.layout === 'NCHW') {
    for (let i = 0, j = 0; i < pixels; i++, j += 3) {
      out[i] = lut[hwc[j]!]!;
      out[pixels + i] = lut[256 + hwc[j + 1]!]!;
      out[2 * pixels + i] = lut[512 + hwc[j + 2]!]!;
    }
  } else {
    for (let j = 0; j < pixels * 3; j += 3) {
      out[j] = lut[hwc[j]!]!;
      out[j + 1] = lut[256 + hwc[j + 1]!]!;
      out[j + 2] = lut[512 + hwc[j + 2]!]!;
    }
  }
  return out;
}

