/**
 * `warehouse init [--demo]`: make DIR a warehouse (empty, typed tables), optionally loading the
 * built-in demo set. Safe to repeat: existing tables are kept and the demo rows are upserted (the
 * demo is deterministic, so a second `--demo` changes nothing). Refuses (UsageError) a DIR that is a
 * file or a non-empty folder that is not a warehouse.
 */
import type { ErrorReason } from '../util/errors.js';
import { BatchBuffer } from './BatchBuffer.js';
import { DEMO_CATEGORY_PARENTS, DEMO_EXPECTED_ERRORS, demoImages } from './demo/demoImages.js';
import { describeImage, imageRowOf, pageIdFor } from './imageFacts.js';
import type { TableCounts } from './warehouseRows.js';
import { WarehouseWriter } from './WarehouseWriter.js';
import type { SourceTableName } from './warehouseSchema.js';

export interface WarehouseSummary {
  dir: string; // absolute
  counts: TableCounts;
  categories: number;
}

export interface InitResult {
  existed: boolean; // DIR was already a warehouse
  tablesCreated: SourceTableName[];
  demo?: { images: number; broken: Readonly<Record<string, ErrorReason>> };
  warehouse: WarehouseSummary; // after init
}

export async function initWarehouse(dir: string, options: { demo?: boolean } = {}): Promise<InitResult> {
  const writer = await WarehouseWriter.create(dir);
  try {
    const existed = writer.isWarehouse;
    const tablesCreated = await writer.init();
    let demo: InitResult['demo'];
    if (options.demo) demo = { images: await loadDemo(writer), broken: DEMO_EXPECTED_ERRORS };
    return { existed, tablesCreated, ...(demo ? { demo } : {}), warehouse: await summarize(writer) };
  } finally {
    writer.close();
  }
}

/** Upsert the demo set (images, bytes, links, category tree) in one commit. Returns the image count. */
export async function loadDemo(writer: WarehouseWriter): Promise<number> {
  const buffer = new BatchBuffer(writer);
  for (const edge of DEMO_CATEGORY_PARENTS) await buffer.addParent(edge);
  let images = 0;
  for await (const image of demoImages()) {
    const facts = await describeImage(image.bytes);
    const page_id = pageIdFor(image.name);
    const row = imageRowOf(image.name, page_id, facts, image.uploadedAt);
    await buffer.addImage(row, image.withoutBytes ? null : image.bytes);
    for (const category of image.categories) await buffer.addLink({ page_id, category });
    images++;
  }
  await buffer.flush();
  await writer.commit();
  return images;
}

export async function summarize(writer: WarehouseWriter): Promise<WarehouseSummary> {
  return { dir: writer.dir, counts: await writer.counts(), categories: await writer.categoryCount() };
}
