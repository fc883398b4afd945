/**
 * Bytes → the model's input tensor for one image through sharp (libvips), as the card's `input`
 * says: EXIF orientation, sRGB with alpha dropped, resize (shorter side + center crop, stretch, or
 * letterbox: the whole image fitted and centred, padded with the card's colour — `letterboxGeometry`),
 * then scale/mean/std into the card's layout and dtype. Every format, shrink-on-load for large JPEGs
 * and WebPs; an embedded profile is converted to sRGB unless it is sRGB already (`isSrgbProfile`:
 * then the transform, ~0.9 ms per image in lcms, is skipped). Pure function of its arguments; the
 * general path of `ImageDecoder` (small plain JPEGs take `decodeJpegFast`).
 *
 * Every failure is an ImageError with a stable reason (empty_bytes, unsupported_format, truncated,
 * too_many_pixels, decode_failed); the pixel limit is checked from the header before any decoding.
 */
import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { ImageError } from '../util/errors.js';
import { shorterSideThenCenterCrop } from './centerCrop.js';
import type { ModelInput } from '../model/ModelCard.js';
import { isSrgbProfile } from './iccProfile.js';
import { letterboxGeometry } from './letterboxGeometry.js';
import { toTensor } from './toTensor.js';

export interface DecodedImage {
  /** C×H×W (NCHW) or H×W×C (NHWC) values of one image, in the card's dtype. */
  tensor: Float32Array | Uint8Array;
  /** Of the original, after EXIF orientation. */
  width: number;
  height: number;
}


/**
 * What a caller already read from the header of an upright sRGB image (ImageDecoder, for plain
 * JPEGs): sharp's metadata pass, rotation and colour transform are then skipped.
 */
export interface KnownUprightSrgb {
  width: number;
  height: number;
  srgb: true;
}

export async function preprocess(bytes: Uint8Array, input: ModelInput, maxPixels: number, known?: KnownUprightSrgb): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageError('empty_bytes', 'the image has zero bytes');
  let width: number;
  let height: number;
  let ignoreIcc: boolean;
  let rotate: boolean;
  if (known) {
    ({ width, height } = known);
    ignoreIcc = true;
    rotate = false;
  } else {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw classifySharpError(e, bytes);
    }
    if (!meta.width || !meta.height) throw new ImageError('decode_failed', 'the header has no dimensions');
    const rotated = (meta.orientation ?? 1) >= 5;
    width = rotated ? meta.height : meta.width;
    height = rotated ? meta.width : meta.height;
    ignoreIcc = meta.icc !== undefined && isSrgbProfile(meta.icc);
    rotate = (meta.orientation ?? 1) !== 1;
  }
  if (width * height > maxPixels) {
    throw new ImageError('too_many_pixels', `${width}x${height} is over the limit of ${maxPixels} pixels`);
  }

  let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', ignoreIcc });
  if (rotate) pipeline = pipeline.rotate();
  const kernel = input.resize.kernel ?? 'linear';
  if ('shorter' in input.resize) {
    const plan = shorterSideThenCenterCrop(width, height, input.resize.shorter, input.width, input.height);
    pipeline = pipeline
      .resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill', kernel })
      .extract({ left: plan.left, top: plan.top, width: input.width, height: input.height });
  } else if (input.resize.mode === 'letterbox') {
    const box = letterboxGeometry(width, height, input.width, input.height);
    const [r, g, b] = input.resize.pad;
    pipeline = pipeline.resize(box.width, box.height, { fit: 'fill', kernel }).extend({
      left: box.left,
      top: box.top,
      right: input.width - box.width - box.left,
      bottom: input.height - box.height - box.top,
      background: { r, g, b, alpha: 1 },
    });
  } else {
    pipeline = pipeline.resize(input.width, input.height, { fit: 'fill', kernel });
  }
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw classifySharpError(e, bytes);
  }
  if (raw.info.channels !== 3 || raw.info.width !== input.width || raw.info.height !== input.height) {
    throw new ImageError('decode_failed', `decoded to ${raw.info.width}x${raw.info.height}x${raw.info.channels}, expected ${input.width}x${input.height}x3`);
  }
  return { tensor: toTensor(raw.data, input), width, height };
}

/**
 * Map a libvips/sharp failure onto our reasons; the message is kept as the detail. libvips keeps one
 * error buffer per process, so with decodes on several threads a message can come back garbled
 * ("Unknown error", or another thread's text): when the bytes are given, a file whose container
 * visibly ends early is `truncated` whatever the message says.
 */
export function classifySharpError(e: unknown, bytes?: Uint8Array): ImageError {
  if (e instanceof ImageError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/unsupported image format/i.test(message)) return new ImageError('unsupported_format', message);
  if (/pixel limit/i.test(message)) return new ImageError('too_many_pixels', message);
  if (/premature end|truncated|unexpected end|end of (file|stream)|not enough data|short read/i.test(message)) return new ImageError('truncated', message);
  if (bytes && endsEarly(bytes)) return new ImageError('truncated', message);
  return new ImageError('decode_failed', message);
}

/** The file's container says it is cut short: JPEG without its EOI marker, PNG without IEND, GIF without its trailer, WebP shorter than its RIFF size. */
export function endsEarly(b: Uint8Array): boolean {
  const n = b.length;
  if (n >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    let end = n;
    while (end > 2 && b[end - 1] === 0x00) end--; // zero padding after EOI is common
    return !(b[end - 2] === 0xff && b[end - 1] === 0xd9);
  }
  if (n >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    const tail = Buffer.from(b.subarray(Math.max(0, n - 12))).toString('latin1');
    return !tail.includes('IEND');
  }
  if (n >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return b[n - 1] !== 0x3b;
  if (n >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) {
    const riffSize = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
    return riffSize + 8 > n;
  }
  return false;
}
