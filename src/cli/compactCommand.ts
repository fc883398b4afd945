/**
 * `imgpipe compact --warehouse W --table T [--model M] [--snapshot D] [--target-size 256MB]`:
 * rewrite published snapshots' part files into files of about the target size as new versions,
 * moving each snapshot's pointer atomically (TableWriter.compact), holding the table lock (a nightly
 * run and a compaction never overlap).
 */
import { Command } from 'commander';
import { DEFAULT_COMPACT_TARGET_BYTES } from '../sink/compactSnapshot.js';
import { TableWriter } from '../sink/TableWriter.js';
import { parseByteSizeFlag } from '../util/is.js';
import { getLogger } from '../util/log.js';
import { committedSnapshots, tableDir } from './snapshotLocation.js';

export function registerCompactCommand(program: Command): void {
  program
    .command('compact')
    .description("Rewrite committed snapshots' small part files into files of a target size, atomically.")
    .requiredOption('--warehouse <dir>', 'embedded warehouse folder')
    .requiredOption('--table <name>', 'result table, e.g. classifications')
    .option('--model <name-version>', 'only this model, e.g. quality-basic-1')
    .option('--snapshot <yyyy-mm-dd>', 'only this snapshot (default: every committed snapshot)')
    .option('--target-size <size>', 'target file size', '256MB')
    .option('--json', 'print JSON')
    .action(async (flags: { warehouse: string; table: string; model?: string; snapshot?: string; targetSize: string; json?: boolean }) => {
      const target = parseByteSizeFlag('--target-size', flags.targetSize) || DEFAULT_COMPACT_TARGET_BYTES;
      const snapshots = await committedSnapshots(flags.warehouse, flags.table, { model: flags.model, snapshot: flags.snapshot });
      const writer = await TableWriter.open(tableDir(flags.warehouse, flags.table), `compact-${process.pid}`, { log: getLogger() });
      const results = [];
      try {
        for (const s of snapshots) {
          const r = await writer.compact(s.model, s.snapshot, target);
          if (r === null) results.push({ model: s.model, snapshot: s.snapshot, skipped: 'already one file' });
          else results.push({ model: s.model, snapshot: s.snapshot, files_before: r.filesBefore, files_after: r.filesAfter, rows: r.rows, bytes_before: r.bytesBefore, bytes_after: r.bytesAfter });
        }
      } finally {
        await writer.close();
      }
      if (flags.json) process.stdout.write(JSON.stringify(results) + '\n');
      else if (results.length === 0) process.stdout.write('No committed snapshots matched.\n');
      else for (const r of results) process.stdout.write('skipped' in r ? `model=${r.model}/snapshot=${r.snapshot}: ${r.skipped}\n` : `model=${r.model}/snapshot=${r.snapshot}: ${r.files_before} files → ${r.files_after}, ${r.rows} rows\n`);
    });
}
