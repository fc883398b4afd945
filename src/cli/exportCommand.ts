/**
 * `imgpipe export --warehouse W --table T --snapshot D [--model M] --out DIR`: a committed snapshot as
 * a public dataset folder (Parquet without internal columns, a datasheet, checksums).
 */
import path from 'node:path';
import { Command } from 'commander';
import { exportSnapshot } from '../sink/exportSnapshot.js';
import { packageVersion } from './packageVersion.js';
import { oneSnapshot } from './snapshotLocation.js';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('Write a committed snapshot as a public dataset: Parquet without internal columns, a README datasheet, SHA256SUMS.')
    .requiredOption('--warehouse <dir>', 'embedded warehouse folder')
    .requiredOption('--table <name>', 'result table, e.g. classifications')
    .requiredOption('--snapshot <yyyy-mm-dd>', 'the snapshot to export')
    .option('--model <name-version>', 'the model (needed when several models have this snapshot)')
    .requiredOption('--out <dir>', 'output folder (must not exist)')
    .action(async (flags: { warehouse: string; table: string; snapshot: string; model?: string; out: string }) => {
      const s = await oneSnapshot(flags.warehouse, flags.table, { model: flags.model, snapshot: flags.snapshot });
      const r = await exportSnapshot(s.dir, path.resolve(flags.out), packageVersion());
      process.stdout.write(`Exported ${r.rows} rows of model=${s.model}/snapshot=${s.snapshot} to ${r.out} (${r.files.length} files; verify with: cd ${r.out} && sha256sum -c SHA256SUMS)\n`);
    });
}
