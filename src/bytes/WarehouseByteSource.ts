/**
 * Bytes from the embedded warehouse's `image_bytes` table, fetched per batch of names with one
 * bound-parameter query. Owns its own DuckDB instance, so it can live in any process or thread.
 */
import path from 'node:path';
import { DuckDBBlobValue, DuckDBInstance, DuckDBConnection, listValue } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import type { ByteSource } from './ByteSource.js';

export class WarehouseByteSource implements ByteSource {
  readonly servesCatalogBytes = true;
  private closed = false;
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly glob: string,
  ) {}

  static async open(warehouseDir: string): Promise<WarehouseByteSource> {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const connection = await instance.connect();
    return new WarehouseByteSource(instance, connection, path.join(path.resolve(warehouseDir), 'image_bytes', '*.parquet'));
  }

  async fetch(imageNames: readonly string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    if (imageNames.length === 0) return found;
    const reader = await this.connection.runAndReadAll(
      `SELECT image_name, bytes FROM read_parquet(${duckdbString(this.glob)}) WHERE image_name = ANY($names)`,
      { names: listValue([...imageNames]) },
    );
    for (const [name, bytes] of reader.getRows()) {
      // Copy: a blob's bytes are a view into a DuckDB vector that is reused by later queries.
      // The copy owns its buffer, so it is transferred to a scoring thread without copying again.
      if (bytes instanceof DuckDBBlobValue) found.set(String(name), new Uint8Array(bytes.bytes));
    }
    return found;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.disconnectSync();
    this.instance.closeSync();
  }
}
