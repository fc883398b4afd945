/**
 * A capability some catalogs have beyond `Catalog`: writing the plan's files inside their engine, so
 * no row passes through JavaScript. The embedded warehouse has it (DuckDB also reads the previous
 * snapshot's local Parquet files, which `run --incremental` needs); Hive has not. The planner asks
 * `writesManifests(catalog)` once: a catalog without it is planned from `select`'s batches, and
 * refuses `--incremental`.
 */
import type { Catalog, Selection } from './Catalog.js';

export interface CarriedRows {
  /** Previous rows whose image is no longer selected (deleted files). */
  dropped: number;
  rows: number;
  ok: number;
  error: number;
  error_reasons: Record<string, number>;
  labels: Record<string, number>;
}

export interface ManifestWriter {
  /**
   * Write the selection straight into the plan's manifest file (Parquet: partition, image_name,
   * page_id, sha1; sorted by partition). Returns the number of images written. Same validation and
   * errors as `Catalog.select`.
   */
  writeManifest(selection: Selection, file: string, partitionSize: number): Promise<number>;

  /**
   * For `run --incremental` (src/plan/incremental.ts): like writeManifest, but only the selected
   * images whose (image_name, sha1) has no carryable row in `previousDir`'s Parquet files.
   * `carryable` is the SQL predicate over a previous row `p` (incremental.ts). @defaultValue CARRYABLE
   */
  writeChangedManifest(selection: Selection, previousDir: string, file: string, partitionSize: number, carryable?: string): Promise<number>;

  /**
   * For `run --incremental`: write the carryable rows of `previousDir` whose (image_name, sha1) is
   * still selected into one Parquet file (same columns), sorted by image_name. Returns their counts.
   */
  writeCarriedRows(selection: Selection, previousDir: string, file: string, carryable?: string): Promise<CarriedRows>;
}

/** Whether the catalog writes the plan's files itself. */
export function writesManifests(catalog: Catalog): catalog is Catalog & ManifestWriter {
  const c = catalog as Partial<ManifestWriter>;
  return typeof c.writeManifest === 'function' && typeof c.writeChangedManifest === 'function' && typeof c.writeCarriedRows === 'function';
}
