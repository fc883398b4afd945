/**
 * Finding a committed snapshot folder of an embedded-warehouse table from --warehouse, --table,
 * --model and --snapshot, with errors that list what exists.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { checkIdentifier } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';

export interface SnapshotRef {
  model: string;
  snapshot: string;
  dir: string;
}

/** Every committed (`_SUCCESS`) snapshot of the table, optionally of one model and one date. */
export function committedSnapshots(warehouse: string, table: string, filter: { model?: string; snapshot?: string } = {}): SnapshotRef[] {
  const tableDir = path.join(path.resolve(warehouse), checkIdentifier(table, 'table name'));
  if (!existsSync(tableDir)) throw new UsageError(`No table ${table} in ${path.resolve(warehouse)}`);
  const found: SnapshotRef[] = [];
  for (const m of readdirSync(tableDir).filter((d) => d.startsWith('model=')).sort()) {
    const model = m.slice('model='.length);
    if (filter.model && model !== filter.model) continue;
    for (const s of readdirSync(path.join(tableDir, m)).filter((d) => d.startsWith('snapshot=')).sort()) {
      const snapshot = s.slice('snapshot='.length);
      const dir = path.join(tableDir, m, s);
      if ((filter.snapshot && snapshot !== filter.snapshot) || !existsSync(path.join(dir, '_SUCCESS'))) continue;
      found.push({ model, snapshot, dir });
    }
  }
  return found;
}

/** Exactly one snapshot, or a UsageError that lists the candidates. */
export function oneSnapshot(warehouse: string, table: string, filter: { model?: string; snapshot?: string }): SnapshotRef {
  const found = committedSnapshots(warehouse, table, filter);
  if (found.length === 1) return found[0]!;
  const all = committedSnapshots(warehouse, table).map((s) => `model=${s.model}/snapshot=${s.snapshot}`);
  if (found.length === 0) throw new UsageError(`No committed snapshot of ${table} matches ${JSON.stringify(filter)}. Committed: ${all.join(', ') || 'none'}`);
  throw new UsageError(`Several snapshots of ${table} match ${JSON.stringify(filter)}; pass --model and --snapshot. Candidates: ${found.map((s) => `model=${s.model}/snapshot=${s.snapshot}`).join(', ')}`);
}
