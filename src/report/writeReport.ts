/**
 * Writes a report folder: `index.html` and `thumbs/*.jpg` (≤ 96 px, from the warehouse's
 * byte source: the warehouse's `image_bytes` for a local run), opened from disk with no server. The folder is built beside the target and renamed
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
export const THUMBNAIL_SIZE = 96;

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
  try {
    const names = new Set<string>();
    for (const g of model.galleries?.groups ?? []) for (const i of [...g.most, ...g.least]) names.add(i.image_name);
    for (const list of model.imageLists) for (const i of list.items) names.add(i.image_name);
    const thumbs = await writeThumbnails([...names], path.join(building, 'thumbs'), bytes);
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
            const { data, info } = await sharp(image, { failOn: 'none', limitInputPixels: 100_000_000 })
              .rotate()
              .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' })
              .flatten({ background: '#ffffff' })
              .jpeg({ quality: 80 })
              .toBuffer({ resolveWithObject: true });
            const file = `${createHash('sha1').update(name).digest('hex').slice(0, 20)}.jpg`;
            writeFileSync(path.join(dir, file), data);
            thumbs.set(name, { src: `thumbs/${file}`, width: info.width, height: info.height });
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
