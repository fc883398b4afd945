/**
 * URLs of Commons files and thumbnails by hash path, as MediaWiki's FileRepo lays them out
 * (`$wgHashedUploadDirectory`, two levels): a file `Name` lives under `{md5_1}/{md5_2}/Name`, where
 * md5 is the hex MD5 of the UTF-8 name with spaces as underscores; a thumbnail of width W lives under
 * `thumb/{md5_1}/{md5_2}/Name/{thumb}`, `{thumb}` being MediaWiki's thumbnail file name for the
 * file's type (`thumbnailFileName`). Pure functions, no I/O.
 *
 * Template placeholders (each may appear any number of times):
 * - `{name}`: the URL-encoded file name as the catalog gives it (Commons names have underscores);
 * - `{md5_1}`, `{md5_2}`: the first one and two hex digits of the name's MD5;
 * - `{width}`: the thumbnail width in pixels;
 * - `{thumb}`: the thumbnail's file name (`400px-Name.jpg`, `400px-Name.svg.png`, …), URL-encoded.
 *   A template's `{width}px-{name}` is read as `{thumb}`, so the path follows MediaWiki's naming.
 */
import { createHash } from 'node:crypto';

/** The public upload host's thumbnails (`--bytes-preset commons-thumb`). */
export const COMMONS_THUMB_HOST = 'https://upload.wikimedia.org';
export const COMMONS_THUMB_PATH = '/wikipedia/commons/thumb/{md5_1}/{md5_2}/{name}/{thumb}';
export const BYTES_PRESETS = { 'commons-thumb': `${COMMONS_THUMB_HOST}${COMMONS_THUMB_PATH}` } as const;
export type BytesPreset = keyof typeof BYTES_PRESETS;

/** The Commons form of a name: spaces as underscores (MediaWiki's DB key). */
export const dbKey = (name: string) => name.replaceAll(' ', '_');

/** Hex MD5 of the name's DB key (UTF-8), the hash of its upload path. */
export function nameMd5(name: string): string {
  return createHash('md5').update(dbKey(name), 'utf8').digest('hex');
}

/**
 * MediaWiki's thumbnail file name for a width, by the file's extension (case-insensitive):
 * - SVG: rendered to PNG, `{w}px-Name.svg.png` (SvgHandler);
 * - TIFF: `lossy-page1-{w}px-Name.tif.jpg` (PagedTiffHandler, lossy, first page);
 * - PDF, DjVu: `page1-{w}px-Name.pdf.jpg` (PdfHandler, DjVuHandler, first page);
 * - video (WebM, Ogg/OGV, MPEG): a still, `{w}px--Name.webm.jpg` (TimedMediaHandler);
 * - everything else (JPEG, PNG, GIF …): `{w}px-Name`, the same type.
 */
export function thumbnailFileName(name: string, width: number): string {
  const key = dbKey(name);
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase() ?? '';
  if (ext === 'svg') return `${width}px-${key}.png`;
  if (ext === 'tif' || ext === 'tiff') return `lossy-page1-${width}px-${key}.jpg`;
  if (ext === 'pdf' || ext === 'djvu') return `page1-${width}px-${key}.jpg`;
  if (['webm', 'ogv', 'ogg', 'mpg', 'mpeg'].includes(ext)) return `${width}px--${key}.jpg`;
  return `${width}px-${key}`;
}

/** Whether a template needs a width (`{width}` or `{thumb}`). */
export const templateNeedsWidth = (template: string) => /\{(width|thumb)\}/.test(template);

/** A template with `{width}px-{name}` read as `{thumb}` (see the file doc). */
export const normalizeTemplate = (template: string) => template.replaceAll('{width}px-{name}', '{thumb}');

/** The URL of one file from a template (see the file doc); `width` is needed when the template uses it. */
export function expandTemplate(template: string, name: string, width: number | null): string {
  const key = dbKey(name);
  const md5 = /\{md5_[12]\}/.test(template) ? nameMd5(key) : '';
  return normalizeTemplate(template).replace(/\{(name|md5_1|md5_2|width|thumb)\}/g, (_, p: string) => {
    switch (p) {
      case 'name':
        return encodeURIComponent(name);
      case 'md5_1':
        return md5.slice(0, 1);
      case 'md5_2':
        return md5.slice(0, 2);
      case 'width':
        return String(requireWidth(width));
      default:
        return encodeURIComponent(thumbnailFileName(key, requireWidth(width)));
    }
  });
}

function requireWidth(width: number | null): number {
  if (width === null) throw new Error('HTTP byte source: the URL template uses {width} or {thumb} but no thumbnail width is set');
  return width;
}
