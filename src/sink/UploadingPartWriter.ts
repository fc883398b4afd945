/**
 * Part files for a remote table location (HDFS): the Parquet writer writes locally, in a private
 * temporary folder, and `close()` uploads the finished file beside its final path under a hidden name
 * (`.part-00042.parquet.uploading-<id>`), then renames it into place. So the PartWriter contract holds
 * unchanged — nothing under the final path until `close()` resolves, `abort()` removes everything —
 * and `runPartition` does not know where the table lives.
 *
 * `withRemoteUpload(factory, store)` returns the factory itself for local paths.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { baseName, isRemoteLocation, joinLocation, parentLocation } from './location.js';
import type { PartWriteResult, PartWriter, PartWriterFactory } from './PartWriter.js';
import type { ResultRow } from './resultRow.js';
import type { TableStore } from './TableStore.js';

export function withRemoteUpload(inner: PartWriterFactory, store: TableStore, localRoot = os.tmpdir()): PartWriterFactory {
  return (file) => (isRemoteLocation(file) ? new UploadingPartWriter(file, inner, store, localRoot) : inner(file));
}

export class UploadingPartWriter implements PartWriter {
  private readonly localDir: string;
  private readonly local: PartWriter;
  private readonly uploading: string;
  private closing: Promise<PartWriteResult> | null = null;
  private aborted = false;

  constructor(
    readonly path: string,
    inner: PartWriterFactory,
    private readonly store: TableStore,
    localRoot: string,
  ) {
    this.localDir = mkdtempSync(join(localRoot, 'imgpipe-part-'));
    this.local = inner(join(this.localDir, baseName(this.path)));
    this.uploading = joinLocation(parentLocation(this.path), `.${baseName(this.path)}.uploading-${randomBytes(4).toString('hex')}`);
  }

  write(rows: readonly ResultRow[]): Promise<void> {
    return this.local.write(rows);
  }

  close(): Promise<PartWriteResult> {
    this.closing ??= this.upload();
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    await this.closing?.catch(() => {});
    await this.local.abort();
    rmSync(this.localDir, { recursive: true, force: true });
    for (const location of [this.uploading, ...(this.closing ? [this.path] : [])]) {
      await this.store.remove(location).catch(() => {});
    }
  }

  private async upload(): Promise<PartWriteResult> {
    try {
      const written = await this.local.close();
      await this.store.upload(written.path, this.uploading);
      await this.store.rename(this.uploading, this.path);
      return { path: this.path, rows: written.rows, bytes: written.bytes };
    } catch (e) {
      await this.store.remove(this.uploading).catch(() => {});
      throw e;
    } finally {
      rmSync(this.localDir, { recursive: true, force: true });
    }
  }
}
