/**
 * The serializable description of a run's byte source (in run.json and queue jobs), validated when
 * read back. One kind per source: the embedded warehouse's `image_bytes`, Hive's `image_bytes` through
 * HiveServer2, or thumbnails over HTTP from a URL template. No secrets: a Hive password is read where
 * the source opens (see hiveSettings.ts).
 */
import { z } from 'zod';
import { hiveConnectionSpecSchema } from '../catalog/hive/hiveSettings.js';

export const httpBytesSpecSchema = z.strictObject({
  kind: z.literal('http'),
  /** URL with `{name}` where the URL-encoded Commons file name goes (more placeholders: thumbnailUrl.ts). */
  url_template: z.string(),
  /**
   * Width in pixels of the thumbnails asked for (`{width}`, `{thumb}`); absent when the template has
   * neither. Recorded in run.json: the rows of an HTTP run score these thumbnails, not the originals
   * whose sha1 keys them.
   */
  thumb_width: z.number().int().optional(),
  user_agent: z.string(),
  /** Requests in flight per process. */
  concurrency: z.number().int(),
  /** Per request. */
  timeout_ms: z.number().int(),
  /** Retries after the first try (429, 5xx, timeouts, network errors). */
  retries: z.number().int(),
});
export type HttpBytesSpec = z.infer<typeof httpBytesSpecSchema>;

export const byteSourceSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('warehouse'), warehouseDir: z.string() }),
  z.strictObject({
    kind: z.literal('hive'),
    hive: hiveConnectionSpecSchema,
    /** Names per query (`WHERE image_name IN (…)`). */
    batch_size: z.number().int(),
  }),
  httpBytesSpecSchema,
]);
export type ByteSourceSpec = z.infer<typeof byteSourceSpecSchema>;
