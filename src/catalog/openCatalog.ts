/**
 * Opens the catalog a run's spec names: the embedded warehouse, or Hive through HiveServer2.
 */
import type { Logger } from 'pino';
import type { Catalog } from './Catalog.js';
import type { CatalogSpec } from './catalogSpec.js';

/**
 * The implementation is imported when opened: the embedded warehouse never loads hive-driver.
 * @throws {UsageError} when the catalog cannot be opened (no warehouse there; Hive unreachable, refusing the login …). */
export async function openCatalog(spec: CatalogSpec, options: { log?: Logger } = {}): Promise<Catalog> {
  switch (spec.kind) {
    case 'embedded': {
      const { EmbeddedCatalog } = await import('./EmbeddedCatalog.js');
      return EmbeddedCatalog.open(spec.warehouse, spec.source);
    }
    case 'hive': {
      const { HiveCatalog } = await import('./HiveCatalog.js');
      return HiveCatalog.open(spec.hive, { log: options.log, hdfsUri: spec.hdfs_uri, source: spec.source });
    }
  }
}
