/**
 * `imgpipe table list | drop-snapshot | check [--repair]` over an embedded warehouse's result tables
 * (src/sink/checkTable.ts, TableWriter). `check` exits 1 with the list of problems when a table is
 * not clean; `--repair` fixes what it can and exits 1 only if something is left.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { EmbeddedMetastore } from '../warehouse/EmbeddedMetastore.js';
import { checkIdentifier } from '../catalog/sqlQuote.js';
import { checkTables, listSnapshots, resultTables } from '../sink/checkTable.js';
import { TableWriter } from '../sink/TableWriter.js';
import { UsageError } from '../util/errors.js';
import { getLogger } from '../util/log.js';

function openWarehouse(dir: string): { dir: string; metastore: EmbeddedMetastore } {
  const resolved = path.resolve(dir);
  if (!existsSync(path.join(resolved, 'warehouse.json'))) throw new UsageError(`${resolved} is not an imgpipe warehouse (no warehouse.json)`);
  return { dir: resolved, metastore: new EmbeddedMetastore(resolved) };
}

const human = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

export function registerTableCommand(program: Command): void {
  const table = program.command('table').description('List, check, repair result tables; drop a snapshot.');
  table
    .command('list')
    .description('Result tables and their published snapshots: rows, run id, size, registration.')
    .requiredOption('--warehouse <dir>', 'embedded warehouse folder')
    .option('--table <name>', 'only this table')
    .option('--json', 'print JSON')
    .action(async (flags: { warehouse: string; table?: string; json?: boolean }) => {
      const { dir, metastore } = openWarehouse(flags.warehouse);
      const list = await listSnapshots(dir, metastore, flags.table && checkIdentifier(flags.table, '--table'));
      if (flags.json) {
        process.stdout.write(JSON.stringify(list) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`No published snapshots in ${dir}\n`);
        return;
      }
      const rows = list.map((s) => [s.table, s.model, s.snapshot, String(s.rows ?? '?'), s.run_id ?? '?', `${human(s.bytes)} in ${s.files} files`, s.registered ? 'yes' : 'NO']);
      const header = ['TABLE', 'MODEL', 'SNAPSHOT', 'ROWS', 'RUN', 'SIZE', 'REGISTERED'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [header, ...rows]) process.stdout.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n');
    });
  table
    .command('drop-snapshot')
    .description('Unpublish, unregister and remove one snapshot (holding the table lock).')
    .requiredOption('--warehouse <dir>', 'embedded warehouse folder')
    .requiredOption('--table <name>', 'result table, e.g. classifications')
    .requiredOption('--model <name-version>', 'the model, e.g. quality-basic-1')
    .requiredOption('--snapshot <yyyy-mm-dd>', 'the snapshot to drop')
    .action(async (flags: { warehouse: string; table: string; model: string; snapshot: string }) => {
      const { dir, metastore } = openWarehouse(flags.warehouse);
      const name = checkIdentifier(flags.table, '--table');
      const location = resultTables(dir, metastore).get(name);
      if (!location) throw new UsageError(`No result table ${name} in ${dir}`);
      const key = `model=${flags.model}/snapshot=${flags.snapshot}`;
      const writer = await TableWriter.open(location, `drop-${process.pid}`, { log: getLogger() });
      try {
        let unregistered: string[] = [];
        const r = await writer.dropSnapshot(flags.model, flags.snapshot, async () => {
          unregistered = await metastore.unregister(name, [key]);
        });
        if (!r.removed && unregistered.length === 0) throw new UsageError(`No snapshot ${key} in table ${name} (neither published nor registered)`);
        process.stdout.write(`Dropped ${name}/${key}${r.removed ? '' : ' (its folder was already gone)'}${unregistered.length ? '' : ' (it was not registered)'}\n`);
      } finally {
        await writer.close();
      }
    });
  table
    .command('check')
    .description('Verify every registered snapshot (_SUCCESS, row counts) and the table folders (no staging leftovers, no orphan versions); exit 1 if not clean.')
    .requiredOption('--warehouse <dir>', 'embedded warehouse folder')
    .option('--table <name>', 'only this table')
    .option('--repair', 'remove leftovers, orphan versions and dead registrations; register published snapshots that are not')
    .option('--json', 'print JSON')
    .action(async (flags: { warehouse: string; table?: string; repair?: boolean; json?: boolean }) => {
      const { dir, metastore } = openWarehouse(flags.warehouse);
      const problems = await checkTables(dir, metastore, { table: flags.table && checkIdentifier(flags.table, '--table'), repair: flags.repair });
      const left = problems.filter((p) => !p.repaired);
      if (flags.json) process.stdout.write(JSON.stringify({ clean: left.length === 0, problems }) + '\n');
      else if (problems.length === 0) process.stdout.write(`All tables in ${dir} are clean.\n`);
      else {
        for (const p of problems) process.stdout.write(`${p.repaired ? 'repaired' : 'PROBLEM '}  ${p.table}  ${p.kind}  ${p.detail}: ${p.path}\n`);
        process.stdout.write(left.length === 0 ? `Repaired ${problems.length} problem(s); the tables are clean now.\n` : `${left.length} problem(s)${flags.repair ? ' left' : ''}; run with --repair to fix what can be fixed.\n`);
      }
      if (left.length > 0) process.exitCode = 1;
    });
}
