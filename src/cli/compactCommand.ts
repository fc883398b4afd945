/**
 * `imgpipe compact --warehouse W --table T [--model M] [--snapshot D] [--target-size 256MB]`:
 * rewrite committed snapshots' part files into files of about the target size, atomically, holding
 * the table lock (a nightly run and a compaction never overlap).
 */
import { Command } from 'commander';
import { compactSnapshot, DEFAULT_COMPACT_TARGET_BYTES, partFiles } from '../sink/compactSnapshot.js';
import { TableLock } from '../sink/TableLock.js';
import { parseByteSizeFlag } from '../util/is.js';
import { committedSnapshots } from './snapshotLocation.js';
import path from 'node:path';

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
      const snapshots = committedSnapshots(flags.warehouse, flags.table, { model: flags.model, snapshot: flags.snapshot });
      const lock = TableLock.acquire(path.join(path.resolve(flags.warehouse), flags.table), `compact-${process.pid}`);
      const results = [];
      try {
        for (const s of snapshots) {
          if (partFiles(s.dir).length < 2) {
            results.push({ model: s.model, snapshot: s.snapshot, skipped: 'already one file' });
            continue;
          }
          const r = await compactSnapshot(s.dir, target);
          results.push({ model: s.model, snapshot: s.snapshot, files_before: r.filesBefore, files_after: r.filesAfter, rows: r.rows, bytes_before: r.bytesBefore, bytes_after: r.bytesAfter });
        }
      } finally {
        lock.release();
      }
      if (flags.json) process.stdout.write(JSON.stringify(results) + '\n');
      else if (results.length === 0) process.stdout.write('No committed snapshots matched.\n');
      else for (const r of results) process.stdout.write('skipped' in r ? `model=${r.model}/snapshot=${r.snapshot}: ${r.skipped}\n` : `model=${r.model}/snapshot=${r.snapshot}: ${r.files_before} files → ${r.files_after}, ${r.rows} rows\n`);
    });
}
