/**
 * What the `image` table records about a file, derived from its bytes and name alone, the same way
 * for `warehouse import` and the demo set: sha1, format (by magic bytes), mime, media type, and the
 * header dimensions after EXIF orientation. Never throws on bad bytes: unknown format gives
 * `application/octet-stream` / `UNKNOWN`, an unreadable header gives NULL width/height.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { ImageRow } from './warehouseRows.js';

export type MediaType = 'BITMAP' | 'DRAWING' | 'UNKNOWN';

export interface ImageFacts {
  sha1: string; // hex of the bytes
  format: string | null; // jpeg, png, gif, webp, tiff, svg, … ; null when not recognised
  mime: string;
  media_type: MediaType;
  width: number | null; // as displayed (EXIF orientations 5–8 swap width and height)
  height: number | null;
  size: number;
}

const MIME: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  tiff: 'image/tiff',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
  avif: 'image/avif',
  heif: 'image/heif',
  jp2: 'image/jp2',
  jxl: 'image/jxl',
};

/** File name extensions taken as images even when their bytes are unreadable (they become error rows). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.png', '.gif', '.webp', '.tif', '.tiff', '.svg', '.svgz',
  '.bmp', '.avif', '.heic', '.heif', '.jp2', '.jxl',
]);

export const sha1Hex = (data: Uint8Array | string): string => createHash('sha1').update(data).digest('hex');

/**
 * Stable page id for an image name: the first 53 bits of sha1(image_name), so the same name gets the
 * same id on every machine and it round-trips exactly through a JavaScript number.
 */
export function pageIdFor(imageName: string): bigint {
  const digest = createHash('sha1').update(imageName, 'utf8').digest();
  const id = digest.readBigUInt64BE(0) >> 11n; // 64 - 11 = 53 bits
  return id === 0n ? 1n : id;
}

/** Commons-style name: spaces become underscores. */
export const commonsName = (s: string): string => s.trim().replace(/\s+/g, '_');

/** Format by magic bytes; `null` when not an image format we know. Looks at most at the first 1 KiB. */
export function sniffFormat(b: Uint8Array): string | null {
  const at = (i: number, ...bytes: number[]) => bytes.every((x, k) => b[i + k] === x);
  const ascii = (i: number, s: string) => at(i, ...Array.from(s, (c) => c.charCodeAt(0)));
  if (b.length < 4) return null;
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (ascii(0, 'BM') && b.length > 26) return 'bmp';
  if (ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(...b.subarray(8, 12));
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(brand)) return 'heif';
  }
  if (at(0, 0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20) || at(0, 0xff, 0x4f, 0xff, 0x51)) return 'jp2';
  if (at(0, 0xff, 0x0a) || at(0, 0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20)) return 'jxl';
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.length, 1024)).toString('utf8');
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'svg';
  return null;
}

/** Facts about one file's bytes. Reads only the header (sharp metadata), not the pixels. */
export async function describeImage(bytes: Uint8Array): Promise<ImageFacts> {
  const format = sniffFormat(bytes);
  let width: number | null = null;
  let height: number | null = null;
  if (format !== null) {
    try {
      // The catalog records what the header declares; the pixel limit is the decoder's business.
      const m = await sharp(bytes, { limitInputPixels: false }).metadata();
      if (m.width && m.height) {
        const swap = (m.orientation ?? 1) >= 5;
        width = swap ? m.height : m.width;
        height = swap ? m.width : m.height;
      }
    } catch {
      // unreadable header: NULL dimensions, the decoder reports the reason per image
    }
  }
  return {
    sha1: sha1Hex(bytes),
    format,
    mime: (format && MIME[format]) ?? 'application/octet-stream',
    media_type: format === null ? 'UNKNOWN' : format === 'svg' ? 'DRAWING' : 'BITMAP',
    width,
    height,
    size: bytes.length,
  };
}

/** The `image` table's row for a file: its name and page id, its facts, its upload time. */
export function imageRowOf(image_name: string, page_id: bigint, facts: ImageFacts, uploaded_at: Date): ImageRow {
  return { image_name, page_id, sha1: facts.sha1, media_type: facts.media_type, mime: facts.mime, width: facts.width, height: facts.height, size: facts.size, uploaded_at };
}
