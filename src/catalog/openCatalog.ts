/**
 * Opens the catalog a run's spec names: the embedded warehouse, or Hive through HiveServer2.
 */
import type { Logger } from 'pino';
import type { Catalog } from './Catalog.js';
import type { CatalogSpec } from './catalogSpec.js';
import { EmbeddedCatalog } from './EmbeddedCatalog.js';
import { HiveCatalog } from './HiveCatalog.js';

/** @throws {UsageError} when the catalog cannot be opened (no warehouse there; Hive unreachable, refusing the login …). */
export async function openCatalog(spec: CatalogSpec, options: { log?: Logger } = {}): Promise<Catalog> {
  switch (spec.kind) {
    case 'embedded':
      return EmbeddedCatalog.open(spec.warehouse, spec.source);
    case 'hive':
      return HiveCatalog.open(spec.hive, { log: options.log, hdfsUri: spec.hdfs_uri, source: spec.source });
  }
}
