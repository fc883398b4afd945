/**
 * The serializable description of a run's catalog (in run.json), validated when read back: the
 * embedded warehouse folder, or HiveServer2 settings (no password: see hiveSettings.ts).
 */
import { z } from 'zod';
import { hiveConnectionSpecSchema } from './hive/hiveSettings.js';
import { mediawikiSourceSchema } from './mediawikiSource.js';

export const catalogSpecSchema = z.discriminatedUnion('kind', [
  /** `source` absent: the warehouse layout (image, categorylinks, category_parent); else a profile (mediawikiSource.ts). */
  z.strictObject({ kind: z.literal('embedded'), warehouse: z.string(), source: mediawikiSourceSchema.optional() }),
  z.strictObject({
    kind: z.literal('hive'),
    hive: hiveConnectionSpecSchema,
    /** Filesystem URI prefix Hive records for a webhdfs:// location (e.g. hdfs://analytics-hadoop); null: the URL itself. */
    hdfs_uri: z.string().nullable(),
    /** As for embedded; the replica tables are read from `hive.database` (wmf_raw by default with the profile). */
    source: mediawikiSourceSchema.optional(),
  }),
]);
export type CatalogSpec = z.infer<typeof catalogSpecSchema>;
