/**
 * Writes a report folder: `index.html`, `thumbs/*.jpg` (≤ 192 px) and `full/*.jpg` (≤ 1600 px, opened
 * when a thumbnail is clicked), from the run's byte source (the warehouse's `image_bytes` for a local
 * run), opened from disk with no server. Both copies apply EXIF orientation, as the decoders do, so a
 * detector's boxes (original pixels after orientation) line up with them. The folder is built beside the target and renamed
 * into place, so a reader sees the old report or the new one, never half of one; an existing report
 * in `outDir` is replaced.
 *
 * A thumbnail that cannot be made (missing bytes, undecodable) is left out and the page shows
 * "no preview" instead: never a broken image.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { ByteSourceSpec } from '../bytes/ByteSource.js';
import { openByteSource } from '../bytes/openByteSource.js';
import { packageVersion } from '../cli/packageVersion.js';
import type { ReportModel } from './ReportModel.js';
import { renderReportHtml, type Thumbnail } from './renderReportHtml.js';

/** Longest side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 192;
/** Longest side of the copy a click opens, in pixels. */
export const FULL_SIZE = 1600;

export interface WrittenReport {
  /** Absolute path of index.html. */
  index: string;
  thumbnails: number;
}

/**
 * @param bytes where the thumbnails' image bytes come from (a run's `bytes` spec).
 * @throws {Error} I/O errors, a byte source that does not open; the target folder is then unchanged
 * and the partial build removed.
 */
export async function writeReport(model: ReportModel, outDir: string, bytes: ByteSourceSpec): Promise<WrittenReport> {
  const target = path.resolve(outDir);
  const building = `${target}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(path.join(building, 'thumbs'), { recursive: true });
  mkdirSync(path.join(building, 'full'), { recursive: true });
  try {
    const names = new Set<string>();
    for (const g of model.galleries?.groups ?? []) for (const i of [...g.most, ...g.least]) names.add(i.image_name);
    for (const list of model.imageLists) for (const i of list.items) names.add(i.image_name);
    const thumbs = await writeThumbnails([...names], building, bytes);
    writeFileSync(path.join(building, 'index.html'), renderReportHtml(model, thumbs, `imgpipe ${packageVersion()}`));
    mkdirSync(path.dirname(target), { recursive: true });
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(building, target);
    rmSync(old, { recursive: true, force: true });
    return { index: path.join(target, 'index.html'), thumbnails: thumbs.size };
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw err;
  }
}

async function writeThumbnails(names: readonly string[], dir: string, bytes: ByteSourceSpec): Promise<Map<string, Thumbnail>> {
  const thumbs = new Map<string, Thumbnail>();
  if (names.length === 0) return thumbs;
  const source = await openByteSource(bytes);
  try {
    for (let start = 0; start < names.length; start += 64) {
      const found = await source.fetch(names.slice(start, start + 64));
      await Promise.all(
        [...found].map(async ([name, image]) => {
          try {
            const copy = (size: number, quality: number) =>
              sharp(image, { failOn: 'none', limitInputPixels: 100_000_000 })
                .rotate()
                .resize(size, size, { fit: 'inside', withoutEnlargement: size === FULL_SIZE })
                .flatten({ background: '#ffffff' })
                .jpeg({ quality })
                .toBuffer({ resolveWithObject: true });
            const { data, info } = await copy(THUMBNAIL_SIZE, 82);
            const full = await copy(FULL_SIZE, 85);
            const file = `${createHash('sha1').update(name).digest('hex').slice(0, 20)}.jpg`;
            writeFileSync(path.join(dir, 'thumbs', file), data);
            writeFileSync(path.join(dir, 'full', file), full.data);
            thumbs.set(name, { src: `thumbs/${file}`, width: info.width, height: info.height, full: `full/${file}` });
          } catch {
            // no thumbnail: the page says "no preview"
          }
        }),
      );
    }
  } finally {
    source.close();
  }
  return thumbs;
}
