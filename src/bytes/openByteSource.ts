/**
 * Opens the byte source a run's spec names. The spec is plain JSON (it travels in run.json and in
 * queue jobs), so any process can open the same source.
 */
import type { Logger } from 'pino';
import type { ByteSource, ByteSourceSpec } from './ByteSource.js';
import { HiveByteSource } from './HiveByteSource.js';
import { HttpByteSource } from './HttpByteSource.js';
import { WarehouseByteSource } from './WarehouseByteSource.js';

/** @throws {UsageError} when the source cannot be opened (e.g. Hive unreachable or refusing the login). */
export async function openByteSource(spec: ByteSourceSpec, options: { log?: Logger } = {}): Promise<ByteSource> {
  switch (spec.kind) {
    case 'warehouse':
      return WarehouseByteSource.open(spec.warehouseDir);
    case 'hive':
      return HiveByteSource.open(spec.hive, { batchSize: spec.batch_size, log: options.log });
    case 'http':
      return new HttpByteSource(spec, { log: options.log });
  }
}
