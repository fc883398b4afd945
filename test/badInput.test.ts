/**
 * Bad input that used to get through (issue #11), refused with exit 2 and a message through the
 * built CLI, over a demo warehouse: `--sql` reaching outside the warehouse, NULL or empty
 * image_name, a `--batch-size` that cannot fit, a card with std 0, and Redis URLs whose password
 * holds an unencoded "@".
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog, ImageRef } from '../src/catalog/Catalog.js';
import { RunPlanDir } from '../src/plan/manifest.js';
import { planRun } from '../src/plan/planRun.js';
import { CLI, imgpipe, imgpipeCollect, imgpipeInProcess, lit, query, REPO, tempDir, waitFor, copyDemoWarehouse } from './util/cli.js';
import { freePort, redisUnavailable, REDIS_SERVER } from './util/redisServer.js';

const tmp = tempDir('imgpipe-bad-input-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
afterAll(() => tmp.cleanup());

// Planning only, in this process (no node start-up per case): nothing here scores an image.
const planOnly = (args: string[]) => imgpipeInProcess(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--plan-only', '--json', ...args]);
const plans = () => (existsSync(parts) ? readdirSync(parts) : []);
const TABLES = 'image, image_bytes, categorylinks, category_parent';

beforeAll(() => {
  copyDemoWarehouse(wh);
}, 120_000);

describe('--sql reads only the warehouse', () => {
  const outside = path.join(tmp.dir, 'other.parquet');
  beforeAll(async () => {
    await query(`COPY (SELECT 'Secret_image.jpg' AS image_name) TO ${lit(outside)} (FORMAT parquet)`);
  });
  const hostname = existsSync('/etc/hostname') ? readFileSync('/etc/hostname', 'utf8').trim() : 'no-hostname-file';
  const refused = (file: string) => `imgpipe: error: --sql may read only the warehouse's tables (${TABLES}): DuckDB refused: Cannot access file "${file}" - file system operations are disabled by configuration\n`;

  it.each([
    ["SELECT column0 AS image_name FROM read_csv('/etc/passwd')", refused('/etc/passwd')],
    ["SELECT content AS image_name FROM read_text('/etc/hostname')", refused('/etc/hostname')],
    ["SELECT file AS image_name FROM glob('/etc/*')", refused('/etc/*')],
    ["SELECT image_name FROM read_parquet('OUTSIDE')", refused('OUTSIDE')],
    ["SELECT image_name FROM image UNION ALL SELECT content FROM read_text('WH/../other.parquet')", refused('WH/../other.parquet')],
    ["COPY image TO 'OUTSIDE.csv'", refused('OUTSIDE.csv')],
    ["COPY image TO 'WH/copy.csv'", 'imgpipe: error: Expected one SELECT statement for --sql but received a COPY statement\n'],
    ["ATTACH 'WH/x.duckdb'", 'imgpipe: error: Expected one SELECT statement for --sql but received an ATTACH statement\n'],
    ['INSTALL httpfs', 'imgpipe: error: Expected one SELECT statement for --sql but received an INSTALL statement\n'],
    ['LOAD httpfs', 'imgpipe: error: Expected one SELECT statement for --sql but received a LOAD statement\n'],
    ['SET enable_external_access = true', 'imgpipe: error: Expected one SELECT statement for --sql but received a SET statement\n'],
    ['SELECT image_name FROM image; SET enable_external_access = true', 'imgpipe: error: --sql must be exactly one SELECT statement, found 2\n'],
  ])('%s → exit 2, nothing planned, no file content', async (sql, message) => {
    const fill = (s: string) => s.replaceAll('OUTSIDE', outside).replaceAll('WH', wh);
    const r = await planOnly(['--sql', fill(sql)]);
    expect(r.stderr).toBe(fill(message));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(plans()).toEqual([]);
    expect(r.stderr).not.toMatch(/root:x:0|Secret_image/);
    if (!sql.includes('/etc/hostname')) return;
    expect(r.stderr.replace('"/etc/hostname"', '')).not.toContain(hostname);
  });

  it('a symbolic link inside the warehouse to a file outside is refused; a linked warehouse still works', async () => {
    mkdirSync(path.join(wh, 'links'), { recursive: true });
    symlinkSync(outside, path.join(wh, 'links', 'other.parquet'));
    try {
      const r = await planOnly(['--sql', `SELECT image_name FROM read_parquet(${lit(path.join(wh, 'links', 'other.parquet'))})`]);
      expect(r.stderr).toBe(refused(path.join(wh, 'links', 'other.parquet')));
      expect(r.code).toBe(2);
    } finally {
      rmSync(path.join(wh, 'links'), { recursive: true });
    }
    symlinkSync(wh, path.join(tmp.dir, 'wh-link'));
    const linked = await imgpipeInProcess(['run', '--warehouse', path.join(tmp.dir, 'wh-link'), '--partitions-dir', parts, '--model', 'quality-basic', '--plan-only', '--json', '--sql', 'SELECT image_name FROM image LIMIT 2']);
    expect(linked.code, linked.stderr).toBe(0);
    expect(JSON.parse(linked.stdout).selected).toBe(2);
    rmSync(path.join(parts, JSON.parse(linked.stdout).run_id), { recursive: true });
  });

  it('nothing was written outside the warehouse, and the warehouse holds no copy or database', () => {
    expect(existsSync(`${outside}.csv`)).toBe(false);
    expect(existsSync(path.join(wh, 'copy.csv'))).toBe(false);
    expect(existsSync(path.join(wh, 'x.duckdb'))).toBe(false);
  });

  it('the warehouse tables, files inside the warehouse and result tables elsewhere still work, incremental runs too', async () => {
    // A result table outside the warehouse, registered in its metastore: its view must stay readable.
    const elsewhere = path.join(tmp.dir, 'elsewhere');
    const five = "SELECT image_name FROM image WHERE image_name LIKE 'Dusk_over_the_bay%' ORDER BY 1 LIMIT 5";
    const first = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--quiet', '--json', '--snapshot', '2026-01-01', '--table-location', elsewhere, '--table', 'scored', '--sql', five]);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).selected).toBe(5);

    const fromResults = await planOnly(['--sql', "SELECT image_name FROM scored WHERE status = 'ok'"]);
    expect(fromResults.code, fromResults.stderr).toBe(0);
    expect(JSON.parse(fromResults.stdout).selected).toBe(5);
    const fromFile = await planOnly(['--sql', `SELECT image_name FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) LIMIT 3`]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout).selected).toBe(3);

    // --incremental reads the previous snapshot and writes the carried rows under the lock-down.
    const six = five.replace('LIMIT 5', 'LIMIT 6');
    const next = imgpipe(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--quiet', '--json', '--snapshot', '2026-01-02', '--table-location', elsewhere, '--table', 'scored', '--incremental', '--sql', six]);
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ selected: 6, incremental: { scored: 1, carried_forward: 5, dropped: 0 } });
  }, 120_000);
});

describe('--sql rows without an image_name', () => {
  it('NULL or empty names are counted, with the first row', async () => {
    const sql = "SELECT image_name FROM (SELECT image_name FROM image ORDER BY 1 LIMIT 16) UNION ALL SELECT '' UNION ALL SELECT NULL UNION ALL SELECT NULL";
    const r = await planOnly(['--sql', sql]);
    expect(r.stderr).toBe("imgpipe: error: --sql returned 3 rows whose image_name is NULL or empty (first at row 17); filter them out, e.g. WHERE image_name <> ''\n");
    expect(r.code).toBe(2);
    const one = await planOnly(['--sql', 'SELECT NULL AS image_name']);
    expect(one.stderr).toBe("imgpipe: error: --sql returned 1 row whose image_name is NULL or empty (first at row 1); filter them out, e.g. WHERE image_name <> ''\n");
    expect(plans().filter((d) => !existsSync(path.join(parts, d, 'run.json')))).toEqual([]);
  });

  it('a query without an image_name column says so, without imgpipe\'s own query', async () => {
    const r = await planOnly(['--sql', 'SELECT page_id FROM image']);
    expect(r.stderr).toBe('imgpipe: error: --sql must return a column named image_name: Binder Error: Values list "s" does not have a column named "image_name"\n');
    expect(r.code).toBe(2);
  });

  it('a streaming catalog (Hive) maps NULL to "" and the planner refuses it the same way', async () => {
    const names = ['a.jpg', '', 'b.jpg', '', 'c.jpg'];
    const catalog: Catalog = {
      async *select(): AsyncGenerator<ImageRef[]> {
        for (let i = 0; i < names.length; i += 2) yield names.slice(i, i + 2).map((n) => ({ image_name: n, page_id: null, sha1: null }));
      },
      async *selectLabels(): AsyncGenerator<{ image_name: string; label: string | null }[]> {
        throw new Error('not used by planning');
      },
      describe: () => 'list',
      registerPartition: async () => {},
      close: () => {},
    };
    const plan = new RunPlanDir(path.join(tmp.dir, 'stream-plan'));
    const spec = {
      run_id: 'r', selection: { kind: 'sql' as const, sql: 'x' }, catalog: { kind: 'embedded' as const, warehouse: '/w' }, bytes: { kind: 'warehouse' as const, warehouseDir: '/w' },
      model: { name: 'm', version: '1', sha256: 'x', card: '/c', qualified: 'm-1' }, table: 't', table_location: '/w/t', snapshot: '2026-01-01',
      partition_size: 10, options: { batch_size: 16, max_pixels: 1, device: 'cpu' as const },
    };
    await expect(planRun(catalog, { kind: 'sql', sql: 'x' }, plan, spec)).rejects.toThrow("--sql returned 2 rows whose image_name is NULL or empty (first at row 2); filter them out, e.g. WHERE image_name <> ''");
    expect(existsSync(plan.dir)).toBe(false);
    await expect(planRun(catalog, { kind: 'all' }, plan, spec)).rejects.toThrow('The selection returned 2 rows whose image_name is NULL or empty (first at row 2)');
  });
});

describe('--batch-size against the card\'s input tensors', () => {
  it('refuses a batch whose tensors exceed 2 GiB, naming the estimate and the largest that fits', async () => {
    const r = await planOnly(['--all', '--batch-size', '4096']);
    expect(r.stderr).toBe('imgpipe: error: --batch-size 4096 needs about 3 GiB for 128x128x3 float32 inputs (4 batches in flight); at most 2730 fits in 2 GiB: pass --batch-size 2730 or less\n');
    expect(r.code).toBe(2);
    const over = await planOnly(['--all', '--batch-size', '2731']);
    expect(over.stderr).toMatch(/^imgpipe: error: --batch-size 2731 needs about 2 GiB for 128x128x3 float32 inputs \(4 batches in flight\); at most 2730 fits in 2 GiB/);
    expect(over.code).toBe(2);
    const fits = await planOnly(['--all', '--batch-size', '2730']);
    expect(fits.code, fits.stderr).toBe(0);
  });

  it('checks a resumed run against its plan\'s card', async () => {
    const planned = await planOnly(['--all']);
    expect(planned.code, planned.stderr).toBe(0);
    const runId = JSON.parse(planned.stdout).run_id as string;
    const r = await imgpipeInProcess(['run', '--resume', runId, '--partitions-dir', parts, '--batch-size', '4000']);
    expect(r.stderr).toBe('imgpipe: error: --batch-size 4000 needs about 2.9 GiB for 128x128x3 float32 inputs (4 batches in flight); at most 2730 fits in 2 GiB: pass --batch-size 2730 or less\n');
    expect(r.code).toBe(2);
  });

  it('a card too large for even one image says so', async () => {
    const card = JSON.parse(readFileSync(path.join(REPO, 'models', 'quality-basic', 'model.json'), 'utf8'));
    card.input.height = 8192;
    card.input.width = 8192;
    const file = writeCard('huge', card);
    const r = await planOnly(['--model', file, '--all', '--batch-size', '1']);
    expect(r.stderr).toBe('imgpipe: error: --batch-size 1 needs about 3 GiB for 8192x8192x3 float32 inputs (4 batches in flight); not even 1 fits in 2 GiB: use a card with a smaller input.height and input.width\n');
    expect(r.code).toBe(2);
  });
});

function writeCard(name: string, card: unknown): string {
  const dir = path.join(tmp.dir, 'cards', name);
  mkdirSync(dir, { recursive: true });
  for (const f of ['model.onnx', 'labels.txt']) cpSync(path.join(REPO, 'models', 'quality-basic', f), path.join(dir, f));
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(card));
  return path.join(dir, 'model.json');
}

describe('model cards through the CLI', () => {
  it('a std of 0 is refused at load with its dotted name', async () => {
    const card = JSON.parse(readFileSync(path.join(REPO, 'models', 'quality-basic', 'model.json'), 'utf8'));
    card.input.std = [1, 0, 1];
    const file = writeCard('zero-std', card);
    const r = await planOnly(['--model', file, '--all']);
    expect(r.stderr).toBe(`imgpipe: error: Model card ${file}: Expected finite number above 0 for input.std[1] but received 0 of type number\n`);
    expect(r.code).toBe(2);
  });
});

describe('Redis passwords with an unencoded "@"', () => {
  const run = () => ['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--executor', 'queue'];

  const EXAMPLE = 'a Redis URL redis://[user:pass@]host:6379[/db] or rediss://… (TLS)';
  const UNAMBIGUOUS = 'a Redis URL with no "?", "#" or "@" after the host (in a password write them %3F, %23, %40, or use --redis-password-file)';
  it.each([
    ['redis://:p/ss@127.0.0.1:6379', EXAMPLE, 'redis://:***@127.0.0.1:6379'],
    ['redis://u:p@ss@', EXAMPLE, 'redis://u:***@'],
    ['redis://:p@ss#w@127.0.0.1:6379', UNAMBIGUOUS, 'redis://:***@127.0.0.1:6379'],
    ['redis://:p@ss?w@127.0.0.1:6379', UNAMBIGUOUS, 'redis://:***@127.0.0.1:6379'],
  ])('%s is refused with the password masked whole', async (url, expected, shown) => {
    const r = await imgpipeInProcess([...run(), '--redis', url], { env: { REDIS_URL: '' } });
    expect(r.stderr).toBe(`imgpipe: error: Expected ${expected} for --redis but received ${JSON.stringify(shown)} of type string\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/p\/ss|ss#w|ss\?w|p@ss|ss@127/);
  });

  it.skipIf(redisUnavailable() !== null)('a real Redis with password "p@ss": the worker banner and a wrong password mask it whole', async () => {
    const port = await freePort();
    const server = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'p@ss', '--save', '', '--appendonly', 'no', '--dir', tmp.dir], { stdio: 'ignore' });
    try {
      // Wait until Redis accepts connections, then start a worker: it prints its banner and waits.
      await waitFor('redis-server to accept connections', async () => ((await canConnect(port)) ? true : null), 30_000);
      const worker = spawn(process.execPath, [CLI, 'worker', '--redis', `redis://:p@ss@127.0.0.1:${port}`, '--queue', 'bad-input'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDIS_URL: '' } });
      let banner = '';
      worker.stderr.on('data', (d) => (banner += d));
      const exited = new Promise((resolve) => worker.on('close', resolve));
      await waitFor('the worker banner (or its exit)', () => (banner.includes('waiting for partitions') || worker.exitCode !== null ? true : null), 25_000);
      worker.kill('SIGTERM');
      await exited;
      expect(banner).toContain(`queue bad-input at redis://:***@127.0.0.1:${port} (Redis `);
      expect(banner).not.toMatch(/p@ss|ss@|p%40ss/);

      const wrong = await imgpipeCollect([...run(), '--redis', `redis://:p@ssX@127.0.0.1:${port}`], { REDIS_URL: '' });
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toMatch(new RegExp(`^imgpipe: error: Redis at 127\\.0\\.0\\.1:${port} rejected the password \\(`));
      expect(wrong.stderr).not.toMatch(/p@ss|ss@|ssX|p%40ss/);
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
