/**
 * The serializable description of a run's catalog (in run.json), validated when read back: the
 * embedded warehouse folder, or HiveServer2 settings (no password: see hiveSettings.ts).
 */
import { z } from 'zod';
import { hiveConnectionSpecSchema } from './hive/hiveSettings.js';

export const catalogSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('embedded'), warehouse: z.string() }),
  z.strictObject({
    kind: z.literal('hive'),
    hive: hiveConnectionSpecSchema,
    /** Filesystem URI prefix Hive records for a webhdfs:// location (e.g. hdfs://analytics-hadoop); null: the URL itself. */
    hdfs_uri: z.string().nullable(),
  }),
]);
export type CatalogSpec = z.infer<typeof catalogSpecSchema>;
