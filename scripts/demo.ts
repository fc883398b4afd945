/**
 * `npm run demo`: the main job end to end on the embedded default, as a user would type it.
 * Builds a demo warehouse under .demo/ (fresh each time), runs the quality classifier over every
 * image and the colour embedding over one category tree, then reads the committed table back.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'bin.js');
const demo = path.join(root, '.demo');
const warehouse = path.join(demo, 'warehouse');
const partitions = path.join(demo, 'partitions');
const today = new Date().toISOString().slice(0, 10);

function imgpipe(...args: string[]): void {
  process.stdout.write(`\n$ imgpipe ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`demo: imgpipe ${args[0]} exited with ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}

rmSync(demo, { recursive: true, force: true });
imgpipe('warehouse', 'init', '--warehouse', warehouse, '--demo');
imgpipe('run', '--warehouse', warehouse, '--model', 'quality-basic', '--all', '--snapshot', today, '--partition-size', '100', '--partitions-dir', partitions);
imgpipe('run', '--warehouse', warehouse, '--model', 'color-embed', '--category', 'Landscapes', '--depth', '2', '--snapshot', today, '--partitions-dir', partitions);

// Read the committed tables back through the warehouse's views, as another team would.
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(readFileSync(path.join(warehouse, 'views.sql'), 'utf8'));
const show = async (title: string, sql: string) => {
  const reader = await c.runAndReadAll(sql);
  process.stdout.write(`\n${title}\n${sql}\n`);
  const cols = reader.columnNames();
  const rows = reader.getRowsJS().map((r) => r.map((v) => (v === null ? 'NULL' : String(v))));
  const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [cols, ...rows]) process.stdout.write('  ' + r.map((v, i) => v.padEnd(widths[i]!)).join('  ') + '\n');
};
await show('Labels from quality-basic:', "SELECT status, coalesce(label, error) AS label_or_error, count(*) AS images FROM classifications WHERE model = 'quality-basic-1' GROUP BY ALL ORDER BY images DESC");
await show('Embeddings from color-embed:', 'SELECT count(*) AS images, count(embedding) AS with_embedding, any_value(len(embedding)) AS dim FROM embeddings');
c.disconnectSync();
db.closeSync();
imgpipe('report', '--warehouse', warehouse, '--table', 'classifications', '--snapshot', today, '--model', 'quality-basic-1', '--out', path.join(demo, 'report'));
process.stdout.write(`\nOpen ${path.join(demo, 'report', 'index.html')} in a browser to look at the labels.\nThe demo warehouse is in ${warehouse}; its tables as DuckDB views: ${path.join(warehouse, 'views.sql')}\n`);
