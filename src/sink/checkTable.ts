/**
 * `imgpipe table check [--repair]`: verify an embedded warehouse's result tables against their
 * registrations, through TableLayout and the table's TableStore.
 *
 * Checked, per table: every registered snapshot exists, has `_SUCCESS`, and holds as many rows
 * (read back with DuckDB) as its `_summary.json` says (ok + error); every published snapshot is
 * registered; no staging leftovers (`_staging/…`), no orphan versions (`_v/…` not shown by a
 * pointer), no dangling pointer. A table whose lock is held by a live run is reported as busy and
 * its staging is not judged.
 * Repair (under each table's lock, then the warehouse lock): removes dead registrations, staging
 * leftovers, orphan versions and dangling pointers, and registers published snapshots that were not
 * (a driver killed between the pointer swap and registration). A row-count mismatch is reported,
 * never "repaired".
 */
import path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import type { EmbeddedMetastore } from '../warehouse/EmbeddedMetastore.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import type { RunSummaryFile } from './Committer.js';
import { LocalTableStore } from './LocalTableStore.js';
import { TableLayout } from './TableLayout.js';
import { TableWriter } from './TableWriter.js';
import { UsageError } from '../util/errors.js';

export type ProblemKind = 'missing_snapshot' | 'no_success' | 'row_count' | 'unregistered' | 'staging_leftover' | 'orphan_version' | 'dangling_pointer' | 'busy';

export interface TableProblem {
  table: string;
  kind: ProblemKind;
  path: string;
  detail: string;
  repaired?: boolean;
}

export interface SnapshotInfo {
  table: string;
  model: string;
  snapshot: string;
  run_id: string | null;
  rows: number | null;
  bytes: number;
  files: number;
  registered: boolean;
  path: string;
  version: string | null;
}

const store = new LocalTableStore();

/** Result tables of the warehouse: registered ones and folders with `model=*` entries, name → location. */
export function resultTables(warehouseDir: string, metastore: EmbeddedMetastore): Map<string, string> {
  const tables = new Map<string, string>();
  for (const [name, t] of Object.entries(metastore.read().tables)) {
    const first = Object.values(t.partitions)[0];
    tables.set(name, first ? path.dirname(path.dirname(first.location)) : path.join(warehouseDir, name));
  }
  for (const entry of existsSync(warehouseDir) ? readdirSync(warehouseDir, { withFileTypes: true }) : []) {
    if (!entry.isDirectory() || tables.has(entry.name)) continue;
    const dir = path.join(warehouseDir, entry.name);
    if (readdirSync(dir).some((n) => n.startsWith('model='))) tables.set(entry.name, dir);
  }
  return new Map([...tables].sort(([a], [b]) => a.localeCompare(b)));
}

async function readSummary(dir: string): Promise<RunSummaryFile | null> {
  const raw = await store.readFile(path.join(dir, '_summary.json'));
  return raw === null ? null : (JSON.parse(raw.toString('utf8')) as RunSummaryFile);
}

/** Every published snapshot of the warehouse (optionally one table), with rows from its summary. */
export async function listSnapshots(warehouseDir: string, metastore: EmbeddedMetastore, only?: string): Promise<SnapshotInfo[]> {
  const registered = metastore.read().tables;
  const out: SnapshotInfo[] = [];
  for (const [table, location] of resultTables(warehouseDir, metastore)) {
    if (only && table !== only) continue;
    const layout = new TableLayout(location);
    for (const model of await layout.models(store)) {
      for (const snapshot of await layout.snapshots(store, model)) {
        const r = await layout.resolve(store, model, snapshot);
        if (r.dir === null) continue;
        const summary = await readSummary(r.dir);
        const parts = (await store.list(r.dir)).filter((f) => f.endsWith('.parquet') && !f.startsWith('.'));
        let bytes = 0;
        for (const f of parts) bytes += (await store.fileSize(path.join(r.dir, f))) ?? 0;
        out.push({
          table, model, snapshot, run_id: summary?.run_id ?? null, rows: summary ? summary.ok + summary.error : null, bytes, files: parts.length,
          registered: registered[table]?.partitions[`model=${model}/snapshot=${snapshot}`] !== undefined, path: r.path, version: r.version,
        });
      }
    }
  }
  return out;
}

/** Check (and with `repair`, fix) every result table of the warehouse, or one. */
export async function checkTables(warehouseDir: string, metastore: EmbeddedMetastore, options: { table?: string; repair?: boolean } = {}): Promise<TableProblem[]> {
  const tables = resultTables(warehouseDir, metastore);
  if (options.table && !tables.has(options.table)) throw new UsageError(`No result table ${options.table} in ${warehouseDir}`);
  const problems: TableProblem[] = [];
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const [table, location] of tables) {
      if (options.table && table !== options.table) continue;
      let writer: TableWriter | null = null;
      try {
        writer = await TableWriter.open(location, `table-check-${process.pid}`);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
      }
      try {
        const found: TableProblem[] = [];
        const add = (kind: ProblemKind, p: string, detail: string) => found.push({ table, kind, path: p, detail });
        const layout = new TableLayout(location);
        if (writer === null) add('busy', layout.lockFile, 'a run holds the table lock; staging was not judged');
        // Registrations.
        const registered = metastore.read().tables[table]?.partitions ?? {};
        for (const [partition, entry] of Object.entries(registered).sort()) {
          if (!existsSync(entry.location)) {
            add('missing_snapshot', entry.location, `${partition} is registered but its folder is gone`);
            continue;
          }
          if (!existsSync(path.join(entry.location, '_SUCCESS'))) {
            add('no_success', entry.location, `${partition} has no _SUCCESS`);
            continue;
          }
          const summary = await readSummary(entry.location);
          const rows = Number((await connection.runAndReadAll(`SELECT count(*) FROM read_parquet(${duckdbString(path.join(entry.location, '*.parquet'))}, hive_partitioning = false)`)).getRows()[0]![0]);
          if (!summary || summary.ok + summary.error !== rows) {
            add('row_count', entry.location, `${partition} holds ${rows} rows but its _summary.json says ${summary ? summary.ok + summary.error : 'nothing (no summary)'}`);
          }
        }
        // The table's folders.
        for (const model of await layout.models(store)) {
          const shown = new Set<string>();
          for (const snapshot of await layout.snapshots(store, model)) {
            const r = await layout.resolve(store, model, snapshot);
            if (r.dir === null) {
              add('dangling_pointer', r.path, `model=${model}/snapshot=${snapshot} points at a version that is gone`);
              continue;
            }
            if (r.version) shown.add(`${snapshot}/${r.version}`);
            if (!registered[`model=${model}/snapshot=${snapshot}`] && existsSync(path.join(r.dir, '_SUCCESS'))) {
              add('unregistered', r.path, `model=${model}/snapshot=${snapshot} is published but not registered`);
            }
          }
          for (const snapshot of await layout.versionedSnapshots(store, model)) {
            for (const v of await layout.versions(store, model, snapshot)) {
              if (!shown.has(`${snapshot}/${v}`)) add('orphan_version', layout.versionDir(model, snapshot, v), `a version of model=${model}/snapshot=${snapshot} no pointer shows`);
            }
          }
        }
        if (writer !== null) for (const name of await store.list(layout.stagingRoot)) add('staging_leftover', path.join(layout.stagingRoot, name), 'left in staging by a run or compaction that did not finish');
        if (options.repair && writer !== null) await repair(found, metastore, table);
        problems.push(...found);
      } finally {
        await writer?.close();
      }
    }
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
  return problems;
}

async function repair(found: TableProblem[], metastore: EmbeddedMetastore, table: string): Promise<void> {
  const dead: string[] = [];
  for (const p of found) {
    switch (p.kind) {
      case 'missing_snapshot':
        dead.push(p.detail.split(' ')[0]!);
        p.repaired = true;
        break;
      case 'staging_leftover':
      case 'orphan_version':
      case 'dangling_pointer':
        await store.remove(p.path);
        p.repaired = true;
        break;
      case 'unregistered': {
        const summary = await readSummary(p.path);
        const [model, snapshot] = [path.basename(path.dirname(p.path)).slice('model='.length), path.basename(p.path).slice('snapshot='.length)];
        await metastore.register({ table, model, snapshot, location: p.path, runId: summary?.run_id ?? 'unknown' });
        p.repaired = true;
        break;
      }
      default:
        break;
    }
  }
  if (dead.length > 0) await metastore.unregister(table, dead);
  for (const p of found) if (p.kind === 'staging_leftover') await store.removeEmptyDir(path.dirname(p.path));
}
