/**
 * The fast path for the common case on Commons thumbnails: a small, plain JPEG. libjpeg-turbo
 * (@julusian/jpeg-turbo: prebuilt inside its npm package) decodes to RGB in ~1.2 ms, then
 * `resampleRgb` resizes exactly as Pillow does and `toTensor` normalizes: ~3.1 ms of CPU per
 * 500×375 photo where sharp's whole pipeline costs ~4.9 ms (bench/RESULTS.md, "Decoder paths").
 *
 * `isPlainJpeg` says whether a file can skip sharp's header pass, rotation and colour transform;
 * `turboPays` whether the reduction is small enough for a full decode to beat libjpeg's
 * shrink-on-load (DCT scaling 1/2…1/8, which sharp uses for large originals and small model inputs).
 * Everything else goes to sharp (`preprocess`), which owns the hard cases: EXIF rotation, real colour
 * conversion (non-sRGB profiles), CMYK, 12-bit, lossless and arithmetic-coded JPEGs, truncated files
 * (for their error reason). All paths give the same geometry (torchvision's Resize + CenterCrop) and
 * the same error reasons.
 */
import { createRequire } from 'node:module';
import type { ModelInput } from '../model/ModelCard.js';
import { ImageError } from '../util/errors.js';
import { isSrgbProfile } from './iccProfile.js';
import type { JpegHeader } from './jpegHeader.js';
import { shorterSideThenCenterCrop } from './centerCrop.js';
import { endsEarly, type DecodedImage } from './preprocess.js';
import { letterboxGeometry, type Letterbox } from './letterboxGeometry.js';
import { resampleRgb } from './resampleRgb.js';
import { toTensor } from './toTensor.js';

interface JpegTurbo {
  FORMAT_RGB: number;
  decompressSync(image: Buffer, options: { format: number }): { data: Buffer; width: number; height: number };
}
const jpegTurbo = createRequire(import.meta.url)('@julusian/jpeg-turbo') as JpegTurbo;

/**
 * Below this reduction factor a full decode is cheaper than sharp's shrink-on-load; from 2 on,
 * libjpeg can decode at half size (or less) and sharp wins (bench/RESULTS.md, 3600 px originals).
 */
const SHRINK_ON_LOAD_FACTOR = 2;

/**
 * An 8-bit baseline/progressive YCbCr or grey JPEG, upright, in sRGB (no profile, or an sRGB one),
 * not visibly cut short: decoding it needs no rotation and no colour transform.
 */
export function isPlainJpeg(header: JpegHeader, bytes: Uint8Array): boolean {
  if (header.frameType > 2 || header.precision !== 8) return false; // baseline, extended, progressive
  if (header.components !== 3 && header.components !== 1) return false; // CMYK/YCCK: sharp converts
  if (header.adobe && header.components === 3) return false; // RGB-coded (Adobe transform 0) files are rare; sharp reads them right
  if (header.orientation !== 1) return false;
  if (header.width === 0 || header.height === 0) return false;
  if (header.icc && !isSrgbProfile(header.icc)) return false;
  return !endsEarly(bytes); // a cut file goes to sharp, which names it `truncated`
}

/** A full libjpeg-turbo decode plus `resampleRgb` beats sharp here: linear kernel, reduction under 2×. */
export function turboPays(header: Pick<JpegHeader, 'width' | 'height'>, input: ModelInput): boolean {
  if ((input.resize.kernel ?? 'linear') !== 'linear') return false;
  const r = input.resize;
  const factor =
    'shorter' in r
      ? Math.min(header.width, header.height) / r.shorter
      : r.mode === 'letterbox'
        ? Math.max(header.width / input.width, header.height / input.height)
        : Math.min(header.width / input.width, header.height / input.height);
  return factor < SHRINK_ON_LOAD_FACTOR;
}

/**
 * Decode a plain JPEG for which `turboPays`. The pixel limit is the caller's (checked from the
 * header). @throws {ImageError} decode_failed when libjpeg-turbo rejects the data.
 */
export function decodeJpegFast(bytes: Uint8Array, header: JpegHeader, input: ModelInput): DecodedImage {
  let decoded: { data: Buffer; width: number; height: number };
  try {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    decoded = jpegTurbo.decompressSync(buffer, { format: jpegTurbo.FORMAT_RGB });
  } catch (e) {
    throw new ImageError('decode_failed', (e as Error)?.message ?? String(e));
  }
  const { width, height } = decoded;
  if (width !== header.width || height !== header.height) throw new ImageError('decode_failed', `decoded to ${width}x${height}, the header says ${header.width}x${header.height}`);
  let rgb: Uint8Array;
  if ('shorter' in input.resize) {
    const plan = shorterSideThenCenterCrop(width, height, input.resize.shorter, input.width, input.height);
    rgb = resampleRgb(decoded.data, width, height, plan.resizeWidth, plan.resizeHeight, plan.left, plan.top, input.width, input.height);
  } else if (input.resize.mode === 'letterbox') {
    const box = letterboxGeometry(width, height, input.width, input.height);
    const inner = resampleRgb(decoded.data, width, height, box.width, box.height, 0, 0, box.width, box.height);
    rgb = padRgb(inner, box, input.width, input.height, input.resize.pad);
  } else {
    rgb = resampleRgb(decoded.data, width, height, input.width, input.height, 0, 0, input.width, input.height);
  }
  return { tensor: toTensor(rgb, input), width, height };
}

/** Packed RGB `box.width` × `box.height` placed at (box.left, box.top) on a `width` × `height` canvas of `pad`. */
export function padRgb(inner: Uint8Array, box: Letterbox, width: number, height: number, pad: readonly [number, number, number]): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) (out[3 * i] = pad[0]), (out[3 * i + 1] = pad[1]), (out[3 * i + 2] = pad[2]);
  const row = box.width * 3;
  for (let y = 0; y < box.height; y++) out.set(inner.subarray(y * row, (y + 1) * row), ((box.top + y) * width + box.left) * 3);
  return out;
}
