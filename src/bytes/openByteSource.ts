/**
 * Opens the byte source a run's spec names. The spec is plain JSON (it travels in run.json and in
 * queue jobs), so any process can open the same source.
 */
import type { Logger } from 'pino';
import type { ByteSource, ByteSourceSpec } from './ByteSource.js';

/**
 * Each source is imported when it is opened, so a process loads only the client it uses (hive-driver
 * and thrift, say, only for Hive bytes): every `imgpipe` start is shorter for it.
 * @throws {UsageError} when the source cannot be opened (e.g. Hive unreachable or refusing the login). */
export async function openByteSource(spec: ByteSourceSpec, options: { log?: Logger } = {}): Promise<ByteSource> {
  switch (spec.kind) {
    case 'warehouse': {
      const { WarehouseByteSource } = await import('./WarehouseByteSource.js');
      return WarehouseByteSource.open(spec.warehouseDir);
    }
    case 'hive': {
      const { HiveByteSource } = await import('./HiveByteSource.js');
      return HiveByteSource.open(spec.hive, { batchSize: spec.batch_size, log: options.log });
    }
    case 'http': {
      const { HttpByteSource } = await import('./HttpByteSource.js');
      return new HttpByteSource(spec, { log: options.log });
    }
  }
}
