/**
 * `imgpipe run --catalog hive` end to end, through the built CLI, against the protocol test doubles:
 * the HiveServer2 test server (real Thrift TCLIService, SASL PLAIN, DuckDB behind it, loaded with the
 * demo warehouse's tables) and the WebHDFS test server (NameNode + DataNode). The real hive-driver
 * client talks to them unchanged. Selection by category through Hive, bytes from Hive's image_bytes,
 * parts uploaded to WebHDFS and committed there, the partition registered in the metastore; the files
 * are then read back with DuckDB. Then the errors a user meets, each exit 2 with a clear message.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HiveByteSource } from '../src/bytes/HiveByteSource.js';
import { DEMO_EXPECTED_ERRORS } from '../src/warehouse/demo/demoImages.js';
import { HiveConnection } from '../src/catalog/hive/HiveConnection.js';
import { addResultPartitionDdl, createResultTableDdl } from '../src/catalog/hive/hiveDdl.js';
import { resolveHiveSettings } from '../src/catalog/hive/hiveSettings.js';
import { closedPort, imgpipe, imgpipeCollect, imgpipeInProcess, lit, query, tempDir, waitFor, type CliResult, copyDemoWarehouse } from './util/cli.js';
import { HiveServer2TestServer } from './util/hiveServer2.js';
import { WebHdfsTestServer } from './util/webhdfsServer.js';

const PASSWORD = 'pw-Zq7"x\'$ecret;--';
const tmp = tempDir('imgpipe-hive-');
const wh = path.join(tmp.dir, 'wh');
const parts = path.join(tmp.dir, 'partitions');
const passwordFile = path.join(tmp.dir, 'hive.password');
let server: HiveServer2TestServer;
let hdfs: WebHdfsTestServer;
let imageNames: string[];

/** The CLI, asynchronously (the test servers live in this process); no inherited Hive password. */
const cli = (args: string[], env: Record<string, string> = {}) => imgpipeCollect(args, { IMGPIPE_HIVE_PASSWORD: '', ...env });

const hiveArgs = () => ['--catalog', 'hive', '--hive', server.address, '--hive-auth', 'plain', '--hive-user', 'analyst', '--hive-password-file', passwordFile, '--database', 'commons'];
const tableLocation = () => hdfs.url('/warehouse/results.db/embeddings');

beforeAll(async () => {
  copyDemoWarehouse(wh);
  writeFileSync(passwordFile, `${PASSWORD}\n`);
  hdfs = await WebHdfsTestServer.start(path.join(tmp.dir, 'hdfs'));
  server = await HiveServer2TestServer.start({
    auth: 'plain',
    users: { analyst: PASSWORD },
    resolveLocation: (location) => hdfs.local(location),
    setup: async (c) => {
      await c.run('CREATE SCHEMA commons; CREATE SCHEMA results; CREATE SCHEMA empty_db');
      for (const t of ['image', 'image_bytes', 'categorylinks', 'category_parent']) {
        await c.run(`CREATE TABLE commons.${t} AS SELECT * FROM read_parquet(${lit(path.join(wh, t, '*.parquet'))})`);
      }
    },
  });
  imageNames = (await query(`SELECT image_name FROM read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) ORDER BY 1`)).map((r) => r.image_name as string);
}, 300_000);

afterAll(async () => {
  await server?.close();
  await hdfs?.close();
  tmp.cleanup();
});

/** Images in category C and its subcategories down to depth, from the raw demo tables. */
async function expectedCategorySet(category: string, depth: number): Promise<string[]> {
  const rows = await query(`
    WITH RECURSIVE tree(category, depth) AS (
      SELECT ${lit(category)}, 0 UNION
      SELECT cp.category, tree.depth + 1 FROM read_parquet(${lit(path.join(wh, 'category_parent', '*.parquet'))}) cp JOIN tree ON cp.parent = tree.category WHERE tree.depth < ${depth})
    SELECT DISTINCT i.image_name FROM read_parquet(${lit(path.join(wh, 'categorylinks', '*.parquet'))}) cl JOIN tree USING (category)
    JOIN read_parquet(${lit(path.join(wh, 'image', '*.parquet'))}) i USING (page_id) ORDER BY 1`);
  return rows.map((r) => r.image_name as string);
}

describe('imgpipe run --catalog hive, output on WebHDFS', () => {
  let result: { run_id: string; output: string; selected: number; ok: number; error: number };
  let run: Awaited<ReturnType<typeof cli>>;
  let statementsBefore: number;

  beforeAll(async () => {
    statementsBefore = server.statements.length;
    run = await cli(
      [
        'run', ...hiveArgs(), '--output-database', 'results', '--table-location', tableLocation(), '--table', 'embeddings',
        '--model', 'color-embed', '--category', 'Demo', '--depth', '1', '--snapshot', '2026-03-01', '--partition-size', '40',
        '--partitions-dir', parts, '--json', '--quiet', '--log-level', 'debug',
      ],
      { HADOOP_USER_NAME: 'analytics' },
    );
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    result = JSON.parse(run.stdout);
  }, 300_000);

  it('commits every selected image exactly once, read back from HDFS with DuckDB', async () => {
    const expected = await expectedCategorySet('Demo', 1);
    expect(expected.length).toBeGreaterThan(100);
    expect(result.output).toBe(`${tableLocation()}/model=color-embed-1/snapshot=2026-03-01`);
    expect(result.selected).toBe(expected.length);
    const rows = await query(`SELECT image_name, count(*) AS n, any_value(status) AS status, any_value(error) AS error FROM read_parquet(${lit(path.join(hdfs.local(result.output), '*.parquet'))}) GROUP BY 1 ORDER BY 1`);
    expect(rows.map((r) => r.image_name)).toEqual(expected);
    expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    // Bytes came through Hive: every broken demo image has its reason (missing_bytes: not in image_bytes).
    const errors = Object.fromEntries(rows.filter((r) => r.status === 'error').map((r) => [r.image_name, r.error]));
    expect(errors).toEqual(Object.fromEntries(Object.entries(DEMO_EXPECTED_ERRORS).filter(([name]) => expected.includes(name))));
    expect(Object.keys(errors)).toContain('Broken_missing_bytes.jpg');
    expect(result.ok).toBe(expected.length - Object.keys(errors).length);
  });

  it('walked the category tree level by level in HiveQL and paged the results', () => {
    const sent = server.statements.slice(statementsBefore).map((s) => s.statement);
    expect(sent).toContain("SELECT DISTINCT category FROM `commons`.`category_parent` cp WHERE cp.parent IN ('Demo')");
    expect(sent.filter((s) => s.includes('`category_parent` cp WHERE cp.parent IN'))).toHaveLength(1); // depth 1: one level
    const imageQuery = sent.find((s) => s.startsWith('SELECT DISTINCT i.image_name AS image_name'))!;
    expect(imageQuery).toMatch(/WHERE cl\.category IN \('Broken_files', 'Demo', 'Landscapes', .*\) ORDER BY image_name$/);
    const bytesQueries = sent.filter((s) => s.startsWith('SELECT image_name, bytes FROM `commons`.`image_bytes` WHERE image_name IN ('));
    // One query per chunk of up to 256 names (fetchChunk = batch_size for Hive bytes), per partition.
    expect(bytesQueries.length).toBe(Math.ceil(result.selected / 40));
    // Selection pages of up to 10000 rows; byte pages of up to 64 rows (each row carries an image).
    expect(server.fetches.some((f) => f.maxRows === 10_000)).toBe(true);
    expect(server.fetches.some((f) => f.maxRows === 64 && f.rows > 0)).toBe(true);
    expect(server.fetches.every((f) => f.rows <= f.maxRows)).toBe(true);
    expect(server.logins.filter((l) => !l.accepted)).toEqual([]);
  });

  it('uploaded through WebHDFS (CREATE redirected to the DataNode) as the HDFS user, leaving no staging', async () => {
    const creates = hdfs.requests.filter((r) => r.op === 'CREATE');
    expect(creates.filter((r) => r.server === 'namenode').every((r) => r.status === 307)).toBe(true);
    expect(creates.filter((r) => r.server === 'datanode').length).toBeGreaterThanOrEqual(result.selected / 40);
    expect(new Set(hdfs.requests.map((r) => r.user))).toEqual(new Set(['analytics']));
    const { WebHdfsTableStore } = await import('../src/sink/WebHdfsTableStore.js');
    const store = new WebHdfsTableStore('analytics');
    expect(await store.list(tableLocation())).toEqual(['model=color-embed-1']);
    // Small parts are compacted before publishing, on HDFS too (downloaded, compacted, uploaded).
    expect(await store.list(result.output)).toEqual(['_SUCCESS', '_summary.json', 'part-0.parquet']);
    expect(await store.list(`${tableLocation()}/model=color-embed-1`)).toEqual(['snapshot=2026-03-01']);
  });

  it('registered the table and the partition in the metastore, with the exact DDL', () => {
    const ddl = server.statements.slice(statementsBefore).map((s) => s.statement).filter((s) => /^(CREATE|ALTER) /.test(s));
    expect(ddl).toEqual([
      createResultTableDdl('results', 'embeddings', tableLocation()),
      addResultPartitionDdl('results', 'embeddings', 'color-embed-1', '2026-03-01', result.output),
    ]);
    const table = server.metastore.get('results.embeddings')!;
    expect(table.location).toBe(tableLocation());
    expect([...table.partitions]).toEqual([['model=color-embed-1/snapshot=2026-03-01', result.output]]);
  });

  it('the registered table reads back through HiveServer2', async () => {
    await server.exposeTable('results.embeddings');
    const c = await HiveConnection.open(resolveHiveSettings({ address: server.address, user: 'analyst', database: 'results' }, {}), { env: { IMGPIPE_HIVE_PASSWORD: PASSWORD } });
    const rows = [];
    for await (const page of c.query("SELECT count(*), count(DISTINCT image_name) FROM embeddings WHERE model = 'color-embed-1'")) rows.push(...page);
    await c.close();
    expect(rows).toEqual([[BigInt(result.selected), BigInt(result.selected)]]);
  });

  it('never shows the password, even in debug logs', () => {
    expect(run.stderr).toMatch(/"msg":"HiveQL"/); // the debug log was on
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    expect(run.stdout + run.stderr).not.toContain('$ecret');
  });

  it('re-running registers nothing new (the DDL is idempotent) and replaces the data', async () => {
    const before = server.statements.length;
    const again = await cli(
      ['run', ...hiveArgs(), '--output-database', 'results', '--table-location', tableLocation(), '--table', 'embeddings', '--model', 'color-embed', '--sql', "SELECT image_name FROM image WHERE image_name LIKE 'Pottery%' UNION ALL SELECT 'No_such_file.jpg' AS image_name", '--snapshot', '2026-03-01', '--partitions-dir', parts, '--json', '--quiet'],
      { HADOOP_USER_NAME: 'analytics' },
    );
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    const statements = server.statements.slice(before);
    expect(statements.filter((s) => /^(CREATE|ALTER) /.test(s.statement)).map((s) => s.outcome)).toEqual(['ok', 'ok']);
    expect([...server.metastore.get('results.embeddings')!.partitions.keys()]).toEqual(['model=color-embed-1/snapshot=2026-03-01']);
    const rows = await query(`SELECT run_id, image_name, status, error FROM read_parquet(${lit(path.join(hdfs.local(second.output), '*.parquet'))}) ORDER BY image_name`);
    const pottery = imageNames.filter((n) => n.startsWith('Pottery'));
    expect(pottery.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.image_name)).toEqual([...pottery, 'No_such_file.jpg'].sort());
    expect(new Set(rows.map((r) => r.run_id))).toEqual(new Set([second.run_id]));
    expect(rows.find((r) => r.image_name === 'No_such_file.jpg')).toMatchObject({ status: 'error', error: 'missing_bytes' });
  });

  it('--all plans every image through Hive (password from $IMGPIPE_HIVE_PASSWORD)', async () => {
    const args = hiveArgs().filter((a, i, all) => a !== '--hive-password-file' && all[i - 1] !== '--hive-password-file');
    const planned = await cli(['run', ...args, '--table-location', tableLocation(), '--model', 'color-embed', '--all', '--plan-only', '--partitions-dir', parts, '--json'], { IMGPIPE_HIVE_PASSWORD: PASSWORD });
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout).selected).toBe(imageNames.length);
  });
});

describe('HiveConnection against the test server', () => {
  const open = (extra: Parameters<typeof resolveHiveSettings>[0] = {}) =>
    HiveConnection.open(resolveHiveSettings({ address: server.address, user: 'analyst', ...extra }, {}), { env: { IMGPIPE_HIVE_PASSWORD: PASSWORD } });

  it('pages through a result with FetchResults, holding one page: exact BIGINT, bytes, NULLs', async () => {
    const c = await open({ fetchSize: 10 });
    const before = server.fetches.length;
    const pages: unknown[][][] = [];
    for await (const page of c.query("SELECT 9007199254740993::BIGINT + i AS big, CAST('ab' AS BLOB) AS b, CASE WHEN i % 2 = 0 THEN NULL ELSE 'x' END AS s, i::INTEGER AS n FROM range(25) t(i) ORDER BY i")) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(server.fetches.slice(before)).toEqual([{ maxRows: 10, rows: 10 }, { maxRows: 10, rows: 10 }, { maxRows: 10, rows: 5 }, { maxRows: 10, rows: 0 }]);
    expect(pages[2]![4]).toEqual([9007199254741017n, Buffer.from('ab'), null, 24]);
    // Breaking out of a query closes its operation; the connection goes on.
    for await (const page of c.query('SELECT i FROM range(100) t(i)', 7)) {
      expect(page).toHaveLength(7);
      break;
    }
    await c.execute('USE results');
    await c.close();
    await c.close();
  });

  it('a server that dies mid-query fails the call instead of leaving it pending', async () => {
    const c = await open();
    const pending = (async () => {
      for await (const _ of c.query("SELECT image_name FROM image WHERE image_name <> 'imgpipe_slow'")) void _;
    })();
    // Cut every connection of the server under the client while the operation runs.
    for (const socket of (server as unknown as { sockets: Set<net.Socket> }).sockets) socket.destroy();
    await expect(pending).rejects.toThrow(new RegExp(`HiveServer2 at ${server.address.replace(/\./g, '\\.')} went away during`));
    await c.close();
  });
});

describe('HiveByteSource', () => {
  it('fetches image_bytes for a batch of names (a name without bytes is a miss) and reconnects after the connection went away', async () => {
    const source = await HiveByteSource.open(resolveHiveSettings({ address: server.address, user: 'analyst', database: 'commons' }, {}), { env: { IMGPIPE_HIVE_PASSWORD: PASSWORD }, batchSize: 4 });
    const names = [...imageNames.slice(0, 6), 'Broken_missing_bytes.jpg', "No_such'file.jpg"];
    const expected = await query(`SELECT image_name, bytes FROM read_parquet(${lit(path.join(wh, 'image_bytes', '*.parquet'))}) WHERE image_name IN (${names.map(lit).join(', ')}) ORDER BY 1`);
    const check = (got: Map<string, Uint8Array>) => {
      expect([...got.keys()].sort()).toEqual(expected.map((r) => r.image_name));
      for (const r of expected) expect(Buffer.from(got.get(r.image_name as string)!).equals(Buffer.from(r.bytes as Uint8Array))).toBe(true);
    };
    check(await source.fetch(names));
    for (const socket of (server as unknown as { sockets: Set<net.Socket> }).sockets) socket.destroy();
    const connection = (source as unknown as { connection: HiveConnection }).connection;
    await waitFor('the client to see its connection go away', () => connection.isLost || null, 10_000);
    const logins = server.logins.length;
    check(await source.fetch(names));
    expect(server.logins.slice(logins)).toEqual([{ user: 'analyst', accepted: true }]); // a new session
    source.close();
    source.close();
  });
});

describe('errors a user meets are clear, fast, exit 2, and never show the password', () => {
  // In this process (no node start-up per case): each of these ends before any image is scored.
  const run = (extra: string[], env: Record<string, string> = {}) =>
    imgpipeInProcess(['run', '--table-location', path.join(tmp.dir, 'out'), '--model', 'color-embed', '--partitions-dir', parts, '--quiet', ...extra], { env: { IMGPIPE_HIVE_PASSWORD: '', ...env } });
  const expectUsage = (r: CliResult & { ms: number }, message: string | RegExp) => {
    expect(r.code, r.stderr).toBe(2);
    if (typeof message === 'string') expect(r.stderr).toContain(message);
    else expect(r.stderr).toMatch(message);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  };

  it('a wrong password', async () => {
    const wrong = path.join(tmp.dir, 'wrong.password');
    writeFileSync(wrong, 'not-the-password-4711\n');
    const r = await run(['--catalog', 'hive', '--hive', server.address, '--hive-user', 'analyst', '--hive-password-file', wrong, '--all']);
    expectUsage(r, `imgpipe: error: HiveServer2 at ${server.address} refused the login of user "analyst" (--hive-auth plain): Authentication error: Error validating the login. Check --hive-user and the password (--hive-password-file or $IMGPIPE_HIVE_PASSWORD).`);
    expect(r.stderr).not.toContain('not-the-password-4711');
    expect(server.logins.at(-1)).toEqual({ user: 'analyst', accepted: false });
  });

  it('an unreachable host: host:port and the timeout in the message, within seconds', async () => {
    const port = await closedPort();
    const refused = await run(['--catalog', 'hive', '--hive', `127.0.0.1:${port}`, '--hive-connect-timeout', '2', '--all']);
    expectUsage(refused, `imgpipe: error: Cannot connect to HiveServer2 at 127.0.0.1:${port} (--hive): connection refused (nothing listens on that port) (connect timeout 2 s).`);
    // A host that accepts the connection and never answers: the timeout ends it.
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const hung = await run(['--catalog', 'hive', '--hive', `127.0.0.1:${silentPort}`, '--hive-connect-timeout', '1', '--all']);
    silent.close();
    expectUsage(hung, `imgpipe: error: HiveServer2 at 127.0.0.1:${silentPort} accepted the connection but did not answer the plain authentication within 1 s;`);
    // A few seconds (start-up, the 1 s timeout and its 1 s guard); the flag ignored would take over 16 s (default 15 s), no timeout forever.
    expect(hung.ms).toBeLessThan(15_000);
  });

  it('the wrong auth mode says which to try', async () => {
    const r = await run(['--catalog', 'hive', '--hive', server.address, '--hive-auth', 'nosasl', '--hive-connect-timeout', '2', '--all']);
    expectUsage(r, `imgpipe: error: HiveServer2 at ${server.address} did not open a session (`);
    expect(r.stderr).toContain('the server may expect SASL: try --hive-auth plain (or ldap, kerberos)');
  });

  it('a Hive SQL error shows the server\'s message', async () => {
    server.failWhen({ match: /imgpipe_boom/, phase: 'run', message: 'java.lang.OutOfMemoryError: GC overhead limit exceeded', times: 1 });
    const r = await run([...hiveArgs(), '--sql', "SELECT image_name FROM image WHERE image_name <> 'imgpipe_boom'"]);
    expectUsage(r, `imgpipe: error: Hive query failed on ${server.address}: Error while processing statement: FAILED: Execution Error, java.lang.OutOfMemoryError: GC overhead limit exceeded`);
    const syntax = await run([...hiveArgs(), '--sql', 'SELECT image_name FROM image WHERE']);
    expectUsage(syntax, `imgpipe: error: Hive query failed on ${server.address}: Error while compiling statement: FAILED:`);
    const noColumn = await run([...hiveArgs(), '--sql', 'SELECT page_id FROM image']);
    expectUsage(noColumn, 'imgpipe: error: --sql must return a column named image_name:');
  });

  it('a missing table names it', async () => {
    const r = await run([...hiveArgs().slice(0, -1), 'empty_db', '--all']);
    expectUsage(r, `imgpipe: error: Hive table not found (database empty_db, on ${server.address}): Error while compiling statement: FAILED: SemanticException [Error 10001]: Line 1:0 Table not found 'image'`);
    const db = await run([...hiveArgs().slice(0, -1), 'no_such_db', '--all']);
    expectUsage(db, `imgpipe: error: Hive database not found (--database/--output-database, on ${server.address}):`);
  });

  it('flags are checked before anything connects', async () => {
    const cases: [string[], string][] = [
      [['--catalog', 'hive', '--hive', server.address, '--hive-password', PASSWORD, '--all'], 'imgpipe: error: A password is never taken on the command line (it would show in ps and shell history): use --hive-password-file FILE or $IMGPIPE_HIVE_PASSWORD'],
      [['--catalog', 'hive', '--all'], 'imgpipe: error: Expected HOST:PORT of HiveServer2 for --hive (or $IMGPIPE_HIVE, or "address" in the config file\'s "hive" object) but received nothing\n'],
      [['--catalog', 'hive', '--hive', 'nohost', '--all'], 'imgpipe: error: Expected HOST:PORT (e.g. an-coord1001.eqiad.wmnet:10000) for --hive but received "nohost" of type string'],
      [['--catalog', 'hive', '--hive', server.address, '--hive-auth', 'token', '--all'], 'imgpipe: error: Expected one of: nosasl, plain, ldap, kerberos for --hive-auth but received "token" of type string'],
      [['--hive', server.address, '--warehouse', wh, '--all'], 'imgpipe: error: --hive is for --catalog hive: add --catalog hive, or drop it'],
      [['--catalog', 'hive', '--hive', server.address, '--database', 'x;y', '--all'], 'imgpipe: error: Expected letters, digits and underscores (not starting with a digit, at most 128) for --database but received "x;y" of type string\n'],
      [['--catalog', 'hive', '--hive', server.address, '--hive-password-file', path.join(tmp.dir, 'none'), '--all'], `imgpipe: error: Cannot read the Hive password file ${path.join(tmp.dir, 'none')} (--hive-password-file): ENOENT`],
      // Kerberos goes through hive-driver's GSSAPI support and the optional `kerberos` package (not installed here).
      [['--catalog', 'hive', '--hive', server.address, '--hive-auth', 'kerberos', '--all'], 'imgpipe: error: --hive-auth kerberos needs the optional `kerberos` package (npm install kerberos;'],
      [['--warehouse', wh, '--bytes-concurrency', '4', '--all'], 'imgpipe: error: --bytes-concurrency is for HTTP bytes: add --bytes-url TEMPLATE or --bytes-preset commons-thumb, or drop it'],
      [['--warehouse', wh, '--bytes-url', 'ftp://x/{name}', '--all'], 'imgpipe: error: Expected an http(s) URL containing {name} for --bytes-url but received "ftp://x/{name}" of type string'],
    ];
    for (const [args, message] of cases) expectUsage(await run(args), message);
    // With Hive, the output location must be given.
    const noLocation = await imgpipeInProcess(['run', ...hiveArgs(), '--model', 'color-embed', '--all', '--partitions-dir', parts, '--quiet'], { env: { IMGPIPE_HIVE_PASSWORD: '' } });
    expectUsage(noLocation, 'imgpipe: error: --table-location LOCATION is required with --catalog hive');
  });

  it('settings from a --config file; a password inside it is refused', async () => {
    const config = path.join(tmp.dir, 'imgpipe.json');
    writeFileSync(config, JSON.stringify({ hive: { address: server.address, user: 'analyst', passwordFile, database: 'commons' }, tableLocation: tableLocation() }));
    const planned = await cli(['run', '--catalog', 'hive', '--config', config, '--model', 'color-embed', '--category', 'Pottery', '--plan-only', '--partitions-dir', parts, '--json']);
    expect(planned.code, planned.stderr).toBe(0);
    expect(JSON.parse(planned.stdout).selected).toBe((await expectedCategorySet('Pottery', 0)).length);
    writeFileSync(config, JSON.stringify({ hive: { address: server.address, password: PASSWORD } }));
    expectUsage(await run(['--catalog', 'hive', '--config', config, '--all']), `imgpipe: error: The config file ${config} holds a Hive password: put it in its own file and set "passwordFile" (or $IMGPIPE_HIVE_PASSWORD) instead`);
    writeFileSync(config, JSON.stringify({ hive: { adress: server.address } }));
    expectUsage(await run(['--catalog', 'hive', '--config', config, '--all']), `imgpipe: error: Config file ${config} (--config): Expected no unknown field (known: address, auth, user, passwordFile, database, outputDatabase, kerberosService, connectTimeout, requestTimeout, fetchSize) for hive.adress but received "${server.address}" of type string`);
  });
});
