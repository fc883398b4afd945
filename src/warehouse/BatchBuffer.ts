/**
 * Collects warehouse rows and hands them to `WarehouseWriter.stage` whenever the pending image bytes
 * or row count pass a bound, so a loader streaming thousands of files holds one batch at a time.
 * Call `flush()` at the end, then `writer.commit()`.
 */
import type { CategoryLinkRow, CategoryParentRow, ImageBytesRow, ImageRow } from './warehouseRows.js';
import type { WarehouseWriter } from './WarehouseWriter.js';

export interface BatchBufferOptions {
  maxBytes?: number; // default 64 MiB of image bytes
  maxRows?: number; // default 2000 rows of any table
}

export class BatchBuffer {
  private image: ImageRow[] = [];
  private imageBytes: ImageBytesRow[] = [];
  private links: CategoryLinkRow[] = [];
  private parents: CategoryParentRow[] = [];
  private pendingBytes = 0;
  private readonly maxBytes: number;
  private readonly maxRows: number;

  constructor(private readonly writer: WarehouseWriter, options: BatchBufferOptions = {}) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxRows = options.maxRows ?? 2000;
  }

  async addImage(row: ImageRow, bytes: Uint8Array | null): Promise<void> {
    this.image.push(row);
    if (bytes !== null) {
      this.imageBytes.push({ image_name: row.image_name, sha1: row.sha1, bytes });
      this.pendingBytes += bytes.length;
    }
    await this.maybeFlush();
  }

  async addLink(row: CategoryLinkRow): Promise<void> {
    this.links.push(row);
    await this.maybeFlush();
  }

  async addParent(row: CategoryParentRow): Promise<void> {
    this.parents.push(row);
    await this.maybeFlush();
  }

  /** Stage everything pending. */
  async flush(): Promise<void> {
    if (this.image.length + this.imageBytes.length + this.links.length + this.parents.length === 0) return;
    const batch = { image: this.image, image_bytes: this.imageBytes, categorylinks: this.links, category_parent: this.parents };
    this.image = [];
    this.imageBytes = [];
    this.links = [];
    this.parents = [];
    this.pendingBytes = 0;
    await this.writer.stage(batch);
  }

  private async maybeFlush(): Promise<void> {
    const rows = Math.max(this.image.length, this.links.length, this.parents.length);
    if (this.pendingBytes >= this.maxBytes || rows >= this.maxRows) await this.flush();
  }
}
