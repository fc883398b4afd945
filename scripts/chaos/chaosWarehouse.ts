/**
 * A warehouse bigger than the demo set, for chaos runs that must last long enough to be killed in
 * the middle of: the demo set (`warehouse init --demo`, broken files included) written out `copies`
 * times under new names (`Copy_<k>/<k>_<name>`), then `warehouse import`ed into a fresh warehouse.
 * Everything goes through the built CLI, as a user would.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBBlobValue, DuckDBInstance } from '@duckdb/node-api';

/** Returns the new warehouse's folder (`<dir>/wh`); `copies × 300` images. */
export async function makeChaosWarehouse(cli: string, dir: string, copies: number): Promise<string> {
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`imgpipe ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  };
  const demo = path.join(dir, 'demo');
  const source = path.join(dir, 'images');
  const warehouse = path.join(dir, 'wh');
  run(['warehouse', 'init', '--warehouse', demo, '--demo']);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(`SELECT image_name, bytes FROM read_parquet('${path.join(demo, 'image_bytes', '*.parquet').replaceAll("'", "''")}')`);
    const rows = reader.getRows();
    for (let k = 0; k < copies; k++) {
      const folder = path.join(source, `Copy_${k}`);
      mkdirSync(folder, { recursive: true });
      for (const [name, bytes] of rows) if (bytes instanceof DuckDBBlobValue) writeFileSync(path.join(folder, `${k}_${String(name)}`), bytes.bytes);
    }
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
  run(['warehouse', 'init', '--warehouse', warehouse]);
  run(['warehouse', 'import', source, '--warehouse', warehouse]);
  return warehouse;
}
