/**
 * Finding a published snapshot of an embedded-warehouse table from --warehouse, --table, --model and
 * --snapshot (through TableLayout), with errors that list what exists.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkIdentifier } from '../catalog/sqlQuote.js';
import { LocalTableStore } from '../sink/LocalTableStore.js';
import { TableLayout } from '../sink/TableLayout.js';
import { UsageError } from '../util/errors.js';

export interface SnapshotRef {
  model: string;
  snapshot: string;
  /** `model=<m>/snapshot=<d>`: the path readers use (a link to the current version). */
  dir: string;
  /** The folder holding the files now. */
  versionDir: string;
}

/** The table's folder in the warehouse. @throws {UsageError} when there is no such table. */
export function tableDir(warehouse: string, table: string): string {
  const dir = path.join(path.resolve(warehouse), checkIdentifier(table, '--table'));
  if (!existsSync(dir)) throw new UsageError(`No table ${table} in ${path.resolve(warehouse)}`);
  return dir;
}

/** Every published (`_SUCCESS`) snapshot of the table, optionally of one model and one date. */
export async function committedSnapshots(warehouse: string, table: string, filter: { model?: string; snapshot?: string } = {}): Promise<SnapshotRef[]> {
  const layout = new TableLayout(tableDir(warehouse, table));
  const store = new LocalTableStore();
  const found: SnapshotRef[] = [];
  for (const model of await layout.models(store)) {
    if (filter.model && model !== filter.model) continue;
    for (const snapshot of await layout.snapshots(store, model)) {
      if (filter.snapshot && snapshot !== filter.snapshot) continue;
      const r = await layout.resolve(store, model, snapshot);
      if (r.dir === null || !existsSync(layout.successFile(r.dir))) continue;
      found.push({ model, snapshot, dir: r.path, versionDir: r.dir });
    }
  }
  return found;
}

/** Exactly one snapshot, or a UsageError that lists the candidates. */
export async function oneSnapshot(warehouse: string, table: string, filter: { model?: string; snapshot?: string }): Promise<SnapshotRef> {
  const found = await committedSnapshots(warehouse, table, filter);
  if (found.length === 1) return found[0]!;
  const all = (await committedSnapshots(warehouse, table)).map((s) => `model=${s.model}/snapshot=${s.snapshot}`);
  if (found.length === 0) throw new UsageError(`No committed snapshot of ${table} matches ${JSON.stringify(filter)}. Committed: ${all.join(', ') || 'none'}`);
  throw new UsageError(`Several snapshots of ${table} match ${JSON.stringify(filter)}; pass --model and --snapshot. Candidates: ${found.map((s) => `model=${s.model}/snapshot=${s.snapshot}`).join(', ')}`);
}
