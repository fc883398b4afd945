/**
 * Opens the byte source a run's spec names. The spec is plain JSON (it travels in run.json and in
 * queue jobs), so any process can open the same source.
 */
import type { ByteSource, ByteSourceSpec } from './ByteSource.js';
import { WarehouseByteSource } from './WarehouseByteSource.js';

export async function openByteSource(spec: ByteSourceSpec): Promise<ByteSource> {
  switch (spec.kind) {
    case 'warehouse':
      return WarehouseByteSource.open(spec.warehouseDir);
  }
}
