/**
 * Where a partition's image bytes come from: the warehouse's `image_bytes` table, a folder of files,
 * or an HTTP thumbnail URL template. Runs wherever the partition runs (driver or worker).
 *
 * `fetch` returns the bytes of the names it has; a name absent from the map is a miss and becomes a
 * `missing_bytes` row. It throws only when the source itself fails (then the partition attempt fails
 * and is retried), never for one missing image.
 */
export interface ByteSource {
  fetch(imageNames: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * True when the bytes served are the very bytes the catalog's sha1 describes (the warehouse's or
   * Hive's `image_bytes`): workers then check each image's sha1 against the plan (`bytes_changed`).
   * False or absent for sources that serve other bytes (thumbnails over HTTP).
   */
  readonly servesCatalogBytes?: boolean;
  /** Release handles; calling it twice is harmless. */
  close(): void;
}

/** Serializable description of a byte source, carried in run.json and job payloads. */
export type { ByteSourceSpec } from './byteSourceSpec.js';
