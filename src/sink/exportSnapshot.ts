/**
 * `imgpipe export`: a committed snapshot as a public dataset folder —
 *   data/part-*.parquet   the rows without internal columns (run_id, processed_at);
 *   README.md             a datasheet: model card, license, counts, label distribution, schema, how
 *                         it was made;
 *   SHA256SUMS            checksums of every file, `sha256sum -c` compatible.
 * The output folder must not exist yet (nothing is overwritten). If it throws, the partial folder
 * is removed.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';
import { sha256File } from '../model/loadModelCard.js';

/** Provenance columns left out of public exports. */
export const INTERNAL_COLUMNS = ['run_id', 'processed_at'] as const;

export interface ExportResult {
  out: string;
  rows: number;
  files: string[];
}

export async function exportSnapshot(snapshotDir: string, out: string, imgpipeVersion: string): Promise<ExportResult> {
  if (!existsSync(path.join(snapshotDir, '_SUCCESS'))) throw new UsageError(`${snapshotDir} is not a committed snapshot (no _SUCCESS)`);
  if (existsSync(out)) throw new UsageError(`Expected a folder that does not exist yet for --out but ${out} exists (export never overwrites)`);
  const summary = JSON.parse(readFileSync(path.join(snapshotDir, '_summary.json'), 'utf8')) as Record<string, unknown> & { model_card?: Record<string, unknown> };
  const model = path.basename(path.dirname(snapshotDir)).replace(/^model=/, '');
  const snapshot = path.basename(snapshotDir).replace(/^snapshot=/, '');
  mkdirSync(path.join(out, 'data'), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', { memory_limit: '512MB' });
  const c = await instance.connect();
  try {
    const source = `read_parquet(${duckdbString(path.join(snapshotDir, '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;
    await c.run(`COPY (SELECT * EXCLUDE (${INTERNAL_COLUMNS.join(', ')}) FROM ${source}) TO ${duckdbString(path.join(out, 'data'))} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES 268435456, FILENAME_PATTERN 'part-{i}')`);
    const exported = `read_parquet(${duckdbString(path.join(out, 'data', '*.parquet'))})`;
    const schema = (await c.runAndReadAll(`DESCRIBE SELECT * FROM ${exported}`)).getRowObjectsJS() as { column_name: string; column_type: string }[];
    const counts = (await c.runAndReadAll(`SELECT status, coalesce(error, '') AS error, count(*) AS n FROM ${exported} GROUP BY ALL ORDER BY n DESC`)).getRowObjectsJS() as { status: string; error: string; n: bigint }[];
    const labels = (await c.runAndReadAll(`SELECT label, count(*) AS n, round(avg(score), 4) AS mean_score FROM ${exported} WHERE label IS NOT NULL GROUP BY ALL ORDER BY n DESC`)).getRowObjectsJS() as { label: string; n: bigint; mean_score: number }[];
    const dim = (await c.runAndReadAll(`SELECT max(len(embedding)) FROM ${exported}`)).getRows()[0]![0];
    const rows = counts.reduce((n, r) => n + Number(r.n), 0);
    const card = summary.model_card ?? null;
    const lines = [
      `# ${model} on Wikimedia Commons, snapshot ${snapshot}`,
      '',
      `Model outputs for ${rows} Commons files: one row per file, \`status\` \`ok\` with the result or \`error\` with a reason.`,
      `Produced by imgpipe ${imgpipeVersion} (run \`${String(summary.run_id)}\`), exported ${new Date().toISOString()}.`,
      '',
      '## Model',
      '',
      card ? '```json\n' + JSON.stringify(card, null, 2) + '\n```' : `Model ${model} (card not recorded in the snapshot summary).`,
      '',
      '## License',
      '',
      `Model weights: ${String(card?.license ?? 'see the model card')}. The images themselves are not included; each file's license is on its Commons file page (https://commons.wikimedia.org/wiki/File:<image_name>).`,
      '',
      '## Counts',
      '',
      '| status | error | rows |',
      '| --- | --- | ---: |',
      ...counts.map((r) => `| ${r.status} | ${r.error || '—'} | ${Number(r.n)} |`),
      '',
    ];
    if (labels.length > 0) {
      lines.push('## Label distribution', '', '| label | rows | mean score |', '| --- | ---: | ---: |', ...labels.map((l) => `| ${l.label} | ${Number(l.n)} | ${l.mean_score} |`), '');
    }
    if (dim !== null) lines.push(`Embeddings: ${String(dim)} floats per ok row.`, '');
    lines.push(
      '## Schema',
      '',
      '| column | type |',
      '| --- | --- |',
      ...schema.map((s) => `| ${s.column_name} | ${s.column_type} |`),
      '',
      '## How it was made',
      '',
      `Images were selected from the Commons image tables, decoded with sharp (EXIF orientation applied, sRGB) and preprocessed as the model card's \`input\` says, scored with onnxruntime, and committed atomically as the \`model=${model}/snapshot=${snapshot}\` partition. Every selected file appears exactly once; files that could not be scored are \`error\` rows with a reason (${['missing_bytes', 'empty_bytes', 'unsupported_format', 'truncated', 'decode_failed', 'too_many_pixels'].join(', ')}, …). Internal columns (${INTERNAL_COLUMNS.join(', ')}) are left out.`,
      '',
      'Verify the files with `sha256sum -c SHA256SUMS`.',
      '',
    );
    writeFileSync(path.join(out, 'README.md'), lines.join('\n'));
    const files = ['README.md', ...readdirSync(path.join(out, 'data')).sort().map((f) => `data/${f}`)];
    const sums = await Promise.all(files.map(async (f) => `${await sha256File(path.join(out, f))}  ${f}`));
    writeFileSync(path.join(out, 'SHA256SUMS'), sums.join('\n') + '\n');
    return { out, rows, files: [...files, 'SHA256SUMS'] };
  } catch (e) {
    rmSync(out, { recursive: true, force: true });
    throw e;
  } finally {
    c.disconnectSync();
    instance.closeSync();
  }
}
