/**
 * Bytes from Hive's `image_bytes` table through HiveServer2: one query per batch of names
 * (`WHERE image_name IN (…)`, names quoted by `hiveStringList`), results read in small pages (the rows
 * carry the bytes). Opens its own connection and session, so it can live in any process; concurrent
 * `fetch` calls run as concurrent operations of that session.
 *
 * A name absent from the table is a miss (a `missing_bytes` row). Hive being unreachable or failing
 * the query throws: the partition attempt fails and is retried. A connection that went away is
 * replaced by a new one on the next `fetch`.
 *
 * Cost note: on the cluster each query is a Hive job that scans `image_bytes` (unless the table is
 * bucketed or sorted by image_name); prefer large `batch_size` values, or thumbnails over HTTP.
 */
import type { Logger } from 'pino';
import { HiveConnection } from '../catalog/hive/HiveConnection.js';
import type { HiveConnectionSpec } from '../catalog/hive/hiveSettings.js';
import { hiveQualified, hiveStringList } from '../catalog/sqlQuote.js';
import type { ByteSource } from './ByteSource.js';

export interface HiveByteSourceOptions {
  /** Names per query. @defaultValue 256 */
  batchSize?: number;
  /** Rows per FetchResults page (each row holds one image's bytes). @defaultValue 64 */
  pageSize?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

export class HiveByteSource implements ByteSource {
  readonly servesCatalogBytes = true;
  private closed = false;
  private reconnecting: Promise<HiveConnection> | null = null;
  private constructor(
    private connection: HiveConnection,
    private readonly options: HiveByteSourceOptions,
  ) {}

  /** @throws {UsageError} as HiveConnection.open. */
  static async open(spec: HiveConnectionSpec, options: HiveByteSourceOptions = {}): Promise<HiveByteSource> {
    return new HiveByteSource(await HiveConnection.open(spec, { log: options.log, env: options.env }), options);
  }

  async fetch(imageNames: readonly string[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    const unique = [...new Set(imageNames)];
    const batch = this.options.batchSize ?? 256;
    const connection = await this.live();
    const table = hiveQualified(connection.spec.database, 'image_bytes');
    for (let i = 0; i < unique.length; i += batch) {
      const sql = `SELECT image_name, bytes FROM ${table} WHERE image_name IN ${hiveStringList(unique.slice(i, i + batch))}`;
      for await (const page of connection.query(sql, this.options.pageSize ?? 64)) {
        for (const [name, bytes] of page) {
          // Copy: Thrift's buffer is a view into the whole response frame; the copy owns its
          // memory, so a scoring thread can take it by transfer.
          if (bytes instanceof Uint8Array) found.set(String(name), new Uint8Array(bytes));
        }
      }
    }
    return found;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.connection.close();
  }

  /** The connection, reopened (once, for all concurrent callers) if it went away. */
  private async live(): Promise<HiveConnection> {
    if (!this.connection.isLost) return this.connection;
    this.reconnecting ??= HiveConnection.open(this.connection.spec, { log: this.options.log, env: this.options.env }).then(
      (fresh) => {
        this.options.log?.warn({ hive: fresh.address }, 'HiveServer2 connection lost; reconnected');
        void this.connection.close();
        this.connection = fresh;
        this.reconnecting = null;
        return fresh;
      },
      (e) => {
        this.reconnecting = null;
        throw e;
      },
    );
    return this.reconnecting;
  }
}
