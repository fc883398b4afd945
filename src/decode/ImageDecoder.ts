/**
 * The decoder imgpipe runs. Which path a file takes depends only on its bytes and the card (a run is
 * reproducible); `stats` counts them for the benchmark:
 *   turbo      plain JPEG (isPlainJpeg), reduction under 2×: libjpeg-turbo + Pillow-exact resampling;
 *   sharpLean  plain JPEG, larger reduction: one sharp pipeline with the header already read here
 *              (no metadata pass, no rotation, no colour transform), shrink-on-load as always;
 *   sharp      everything else: the full sharp path (`preprocess`), every format and case.
 */
import type { ModelInput } from '../model/ModelCard.js';
import { ImageError } from '../util/errors.js';
import { decodeJpegFast, isPlainJpeg, turboPays } from './decodeJpegFast.js';
import type { DecodeOutcome, Decoder } from './Decoder.js';
import { readJpegHeader } from './jpegHeader.js';
import { preprocess, type DecodedImage } from './preprocess.js';

export interface ImageDecoderOptions {
  /** Use the libjpeg-turbo path where it applies. @defaultValue true (IMGPIPE_FAST_JPEG=0 turns it off) */
  fastJpeg?: boolean;
}

export class ImageDecoder implements Decoder {
  readonly stats = { turbo: 0, sharpLean: 0, sharp: 0 };
  private readonly fastJpeg: boolean;

  constructor(options: ImageDecoderOptions = {}) {
    this.fastJpeg = options.fastJpeg ?? process.env.IMGPIPE_FAST_JPEG !== '0';
  }

  async decode(bytes: Uint8Array, input: ModelInput, maxPixels: number): Promise<DecodeOutcome> {
    try {
      const decoded = await this.decodeImage(bytes, input, maxPixels);
      return { ok: true, tensor: decoded.tensor, width: decoded.width, height: decoded.height };
    } catch (e) {
      if (e instanceof ImageError) return { ok: false, reason: e.reason, detail: e.message };
      return { ok: false, reason: 'decode_failed', detail: (e as Error)?.message ?? String(e) };
    }
  }

  private async decodeImage(bytes: Uint8Array, input: ModelInput, maxPixels: number): Promise<DecodedImage> {
    if (this.fastJpeg) {
      const header = readJpegHeader(bytes);
      if (header && isPlainJpeg(header, bytes)) {
        if (header.width * header.height > maxPixels) {
          throw new ImageError('too_many_pixels', `${header.width}x${header.height} is over the limit of ${maxPixels} pixels`);
        }
        if (turboPays(header, input)) {
          try {
            const decoded = decodeJpegFast(bytes, header, input);
            this.stats.turbo++;
            return decoded;
          } catch {
            // libjpeg-turbo refused the data: sharp decides, and names the reason as it always does.
          }
        } else {
          this.stats.sharpLean++;
          return preprocess(bytes, input, maxPixels, { width: header.width, height: header.height, srgb: true });
        }
      }
    }
    this.stats.sharp++;
    return preprocess(bytes, input, maxPixels);
  }
}
