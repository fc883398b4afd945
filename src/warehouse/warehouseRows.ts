/**
 * Rows of the warehouse's source tables as the loaders build them, and how one becomes a DuckDB
 * appender row in the contract's column order (warehouseSchema.ts).
 */
import { DuckDBTimestampValue, type DuckDBAppender } from '@duckdb/node-api';
import type { SourceTableName } from './warehouseSchema.js';

export interface ImageRow {
  image_name: string;
  page_id: bigint;
  sha1: string;
  media_type: string;
  mime: string;
  width: number | null;
  height: number | null;
  size: number;
  uploaded_at: Date;
}
export interface ImageBytesRow {
  image_name: string;
  sha1: string;
  bytes: Uint8Array;
}
export interface CategoryLinkRow {
  page_id: bigint;
  category: string;
}
export interface CategoryParentRow {
  category: string;
  parent: string;
}
export interface WarehouseBatch {
  image?: readonly ImageRow[];
  image_bytes?: readonly ImageBytesRow[];
  categorylinks?: readonly CategoryLinkRow[];
  category_parent?: readonly CategoryParentRow[];
}

export type TableCounts = Record<SourceTableName, number>;

/** Append `row` of `table` (without ending the row: the caller may add columns). */
export function appendRow(a: DuckDBAppender, table: SourceTableName, row: unknown): void {
  switch (table) {
    case 'image': {
      const r = row as ImageRow;
      a.appendVarchar(r.image_name);
      a.appendBigInt(r.page_id);
      a.appendVarchar(r.sha1);
      a.appendVarchar(r.media_type);
      a.appendVarchar(r.mime);
      if (r.width === null) a.appendNull();
      else a.appendInteger(r.width);
      if (r.height === null) a.appendNull();
      else a.appendInteger(r.height);
      a.appendBigInt(BigInt(r.size));
      a.appendTimestamp(new DuckDBTimestampValue(BigInt(r.uploaded_at.getTime()) * 1000n));
      return;
    }
    case 'image_bytes': {
      const r = row as ImageBytesRow;
      a.appendVarchar(r.image_name);
      a.appendVarchar(r.sha1);
      a.appendBlob(r.bytes);
      return;
    }
    case 'categorylinks': {
      const r = row as CategoryLinkRow;
      a.appendBigInt(r.page_id);
      a.appendVarchar(r.category);
      return;
    }
    case 'category_parent': {
      const r = row as CategoryParentRow;
      a.appendVarchar(r.category);
      a.appendVarchar(r.parent);
      return;
    }
  }
}
