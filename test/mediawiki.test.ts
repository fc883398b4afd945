/**
 * The `mediawiki` source profile, thumbnails by hash path, and the Hive session fixes, end to end
 * through the built CLI:
 * - the HiveServer2 protocol test double (real hive-driver client, NOSASL, DuckDB behind it) holding
 *   `wmf_raw.mediawiki_image`, `mediawiki_page`, `mediawiki_categorylinks` with two `snapshot`s and
 *   two `wiki_db`s, whose wrong partitions hold decoys that must not leak into a selection; a
 *   category tree with a cycle, files in several categories, hostile names (`${env:HOME}`, quotes,
 *   backslashes, `;`, non-ASCII);
 * - a loopback HTTP server that serves thumbnails only at MediaWiki's hash path (it recomputes the
 *   MD5 digits and the thumbnail's file name itself, and answers 400 to any other path);
 * - the same tables as Parquet in an embedded warehouse, selected with `--source mediawiki` there.
 * The expected selection is computed independently in DuckDB (a recursive CTE over the raw rows).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import hive from 'hive-driver';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HiveCatalog } from '../src/catalog/HiveCatalog.js';
import { resolveHiveSettings } from '../src/catalog/hive/hiveSettings.js';
import { base36Sha1ToHex } from '../src/catalog/mediawikiSource.js';
import { imgpipe, imgpipeCollect, lit, query, tempDir, imgpipeInProcess } from './util/cli.js';
import { duckString } from './util/hiveql.js';
import { HiveServer2TestServer } from './util/hiveServer2.js';

const tmp = tempDir('imgpipe-mediawiki-');
const SNAP = '2026-10';
const WIKI = 'commonswiki';
const HOSTILE_CATEGORY = '${env:HOME}';

interface Img {
  name: string;
  pageId: number;
  hex: string;
}
const hexOf = () => randomBytes(20).toString('hex');
const base36 = (hex: string) => BigInt(`0x${hex}`).toString(36).padStart(31, '0');

// Files of the selected partition; page ids from 100.
const NAMES = [
  'Bronze_horse.jpg', 'Marble_bust.jpg', "O'Brien's_\"bust\"_\\_v2;.jpg", 'Ünïcode_statue.png', 'Diagram_of_a_plinth.svg', 'Scan_of_a_statue.tif',
  'Catalogue_raisonné.pdf', 'Cycle_member.jpg', 'Deep_file.jpg', 'Too_deep.jpg', 'Hostile_home.jpg', 'Uncategorised.jpg', 'Page_only.jpg',
];
const images: Img[] = NAMES.map((name, i) => ({ name, pageId: 100 + i, hex: hexOf() }));
const img = (name: string) => images.find((i) => i.name === name)!;

/** Category pages (namespace 14), page ids from 500. */
const CATEGORIES = ['Sculptures', 'Bronze_sculptures', 'Marble_sculptures', 'Statues_by_subject', 'Deep', 'Deeper', HOSTILE_CATEGORY, 'Leaky'];
const catPage = (title: string) => 500 + CATEGORIES.indexOf(title);
/** (child, parent): Statues_by_subject → Sculptures closes a cycle. */
const SUBCATS: [string, string][] = [
  ['Bronze_sculptures', 'Sculptures'], ['Marble_sculptures', 'Sculptures'], [HOSTILE_CATEGORY, 'Sculptures'],
  ['Statues_by_subject', 'Bronze_sculptures'], ['Statues_by_subject', 'Marble_sculptures'], ['Sculptures', 'Statues_by_subject'],
  ['Deep', 'Statues_by_subject'], ['Deeper', 'Deep'],
];
/** (file, category): several files in two categories. */
const FILE_LINKS: [string, string][] = [
  ['Bronze_horse.jpg', 'Bronze_sculptures'], ['Bronze_horse.jpg', 'Sculptures'], ['Marble_bust.jpg', 'Marble_sculptures'],
  ["O'Brien's_\"bust\"_\\_v2;.jpg", 'Marble_sculptures'], ["O'Brien's_\"bust\"_\\_v2;.jpg", 'Bronze_sculptures'], ['Ünïcode_statue.png', 'Sculptures'],
  ['Diagram_of_a_plinth.svg', 'Statues_by_subject'], ['Scan_of_a_statue.tif', 'Statues_by_subject'], ['Catalogue_raisonné.pdf', 'Bronze_sculptures'],
  ['Cycle_member.jpg', 'Statues_by_subject'], ['Deep_file.jpg', 'Deep'], ['Too_deep.jpg', 'Deeper'], ['Hostile_home.jpg', HOSTILE_CATEGORY],
];

/** The replica tables' DDL and rows: the selected partition plus decoys in the other three. */
async function loadReplicas(c: DuckDBConnection, schema: string, withPartitionColumns: boolean): Promise<void> {
  const pc = withPartitionColumns ? ', snapshot VARCHAR, wiki_db VARCHAR' : '';
  await c.run(`CREATE TABLE ${schema}.mediawiki_image (img_name VARCHAR, img_sha1 VARCHAR, img_width INTEGER, img_height INTEGER, img_size BIGINT, img_media_type VARCHAR, img_major_mime VARCHAR, img_minor_mime VARCHAR, img_timestamp VARCHAR${pc})`);
  await c.run(`CREATE TABLE ${schema}.mediawiki_page (page_id BIGINT, page_namespace INTEGER, page_title VARCHAR${pc})`);
  await c.run(`CREATE TABLE ${schema}.mediawiki_categorylinks (cl_from BIGINT, cl_to VARCHAR, cl_type VARCHAR${pc})`);
  const part = (snap: string, wiki: string) => (withPartitionColumns ? `, ${duckString(snap)}, ${duckString(wiki)}` : '');
  const put = async (snap: string, wiki: string, imgs: Img[], links: [string, string][], subcats: [string, string][], extra: string[] = []) => {
    for (const i of imgs) {
      await c.run(`INSERT INTO ${schema}.mediawiki_image VALUES (${duckString(i.name)}, ${duckString(base36(i.hex))}, 4000, 3000, 123456, 'BITMAP', 'image', 'jpeg', '20260101120000'${part(snap, wiki)})`);
      await c.run(`INSERT INTO ${schema}.mediawiki_page VALUES (${i.pageId}, 6, ${duckString(i.name)}${part(snap, wiki)})`);
    }
    for (const title of CATEGORIES) await c.run(`INSERT INTO ${schema}.mediawiki_page VALUES (${catPage(title)}, 14, ${duckString(title)}${part(snap, wiki)})`);
    for (const [file, category] of links) {
      await c.run(`INSERT INTO ${schema}.mediawiki_categorylinks VALUES (${imgs.find((i) => i.name === file)!.pageId}, ${duckString(category)}, 'file'${part(snap, wiki)})`);
    }
    for (const [child, parent] of subcats) await c.run(`INSERT INTO ${schema}.mediawiki_categorylinks VALUES (${catPage(child)}, ${duckString(parent)}, 'subcat'${part(snap, wiki)})`);
    for (const sql of extra) await c.run(sql);
  };
  await put(SNAP, WIKI, images, FILE_LINKS, SUBCATS, [
    // An article page (namespace 0) titled like a file, linked as a page: never an image.
    `INSERT INTO ${schema}.mediawiki_page VALUES (900, 0, 'Page_only.jpg'${part(SNAP, WIKI)})`,
    `INSERT INTO ${schema}.mediawiki_categorylinks VALUES (900, 'Sculptures', 'page'${part(SNAP, WIKI)})`,
  ]);
  // Decoys: same page ids, other names and sha1s; and a subcategory Leaky only there.
  const decoys = (tag: string) => images.map((i) => ({ name: `${tag}_${i.name}`, pageId: i.pageId, hex: hexOf() }));
  for (const [snap, wiki] of [['2026-09', WIKI], [SNAP, 'enwiki'], ['2026-09', 'enwiki']] as const) {
    const d = decoys(`${snap}_${wiki}`);
    await put(snap, wiki, d, FILE_LINKS.map(([f, cat]) => [`${snap}_${wiki}_${f}`, cat]), [...SUBCATS, ['Leaky', 'Sculptures']]);
  }
}

/** The selection computed independently: recursive CTE over the selected partition's raw rows. */
async function expectedSelection(connection: DuckDBConnection, schema: string, root: string, depth: number): Promise<string[]> {
  const at = (a: string) => `${a}.snapshot = '${SNAP}' AND ${a}.wiki_db = '${WIKI}'`;
  const reader = await connection.runAndReadAll(`
    WITH RECURSIVE tree(category, depth) AS (
      SELECT ${duckString(root)}, 0
      UNION
      SELECT p.page_title, tree.depth + 1 FROM ${schema}.mediawiki_categorylinks l JOIN ${schema}.mediawiki_page p ON p.page_id = l.cl_from
      JOIN tree ON l.cl_to = tree.category
      WHERE ${at('l')} AND ${at('p')} AND l.cl_type = 'subcat' AND p.page_namespace = 14 AND tree.depth < ${depth})
    SELECT DISTINCT i.img_name FROM ${schema}.mediawiki_categorylinks l JOIN (SELECT DISTINCT category FROM tree) t ON l.cl_to = t.category
    JOIN ${schema}.mediawiki_page p ON p.page_id = l.cl_from JOIN ${schema}.mediawiki_image i ON i.img_name = p.page_title
    WHERE ${at('l')} AND ${at('p')} AND ${at('i')} AND l.cl_type = 'file' AND p.page_namespace = 6 ORDER BY 1`);
  return reader.getRows().map((r) => String(r[0]));
}

/** MediaWiki's thumbnail name, written out here independently of src/bytes/thumbnailUrl.ts. */
function expectedThumbName(name: string, width: number): string {
  if (name.endsWith('.svg')) return `${width}px-${name}.png`;
  if (name.endsWith('.tif')) return `lossy-page1-${width}px-${name}.jpg`;
  if (name.endsWith('.pdf')) return `page1-${width}px-${name}.jpg`;
  return `${width}px-${name}`;
}

/** Serves a JPEG/PNG only at /wikipedia/commons/thumb/{md5[0]}/{md5[0:2]}/{name}/{thumb}. */
class HashPathThumbServer {
  readonly hits: { path: string; status: number }[] = [];
  private server!: http.Server;
  port = 0;
  constructor(private readonly known: Set<string>) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get mirror(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, body: string | Buffer = '') => {
      this.hits.push({ path: req.url!, status });
      res.writeHead(status).end(body);
    };
    const m = /^\/wikipedia\/commons\/thumb\/([0-9a-f])\/([0-9a-f]{2})\/([^/]+)\/([^/]+)$/.exec(req.url!);
    if (!m) return send(400, 'not a hash path');
    const name = decodeURIComponent(m[3]!);
    const md5 = createHash('md5').update(name, 'utf8').digest('hex');
    if (m[1] !== md5[0] || m[2] !== md5.slice(0, 2)) return send(400, `wrong hash digits for ${name}: expected ${md5.slice(0, 2)}`);
    const thumb = decodeURIComponent(m[4]!);
    const width = Number(/(\d+)px-/.exec(thumb)?.[1]);
    if (thumb !== expectedThumbName(name, width)) return send(400, `wrong thumbnail name ${thumb}`);
    if (!this.known.has(name)) return send(404);
    const image = sharp({ create: { width, height: Math.round(width * 0.75), channels: 3, background: { r: 200, g: 120, b: 40 } } });
    send(200, await (thumb.endsWith('.png') ? image.png() : image.jpeg()).toBuffer());
  }
}

let server: HiveServer2TestServer;
let thumbs: HashPathThumbServer;
const parts = path.join(tmp.dir, 'partitions');

beforeAll(async () => {
  server = await HiveServer2TestServer.start({
    auth: 'nosasl',
    setup: async (c) => {
      await c.run('CREATE SCHEMA wmf_raw; CREATE SCHEMA results');
      await loadReplicas(c, 'wmf_raw', true);
    },
  });
  thumbs = await new HashPathThumbServer(new Set(NAMES)).start();
}, 120_000);

afterAll(async () => {
  await server?.close();
  await thumbs?.close();
  tmp.cleanup();
});

const hiveArgs = () => ['--catalog', 'hive', '--hive', server.address, '--hive-auth', 'nosasl', '--hive-user', 'analyst', '--source', 'mediawiki', '--mediawiki-snapshot', SNAP];

describe('base36Sha1ToHex', () => {
  it('turns MediaWiki base-36 SHA-1 into 40 hex digits, keeps hex, refuses the rest', () => {
    const hex = createHash('sha1').update('x').digest('hex');
    expect(base36Sha1ToHex(base36(hex))).toBe(hex);
    expect(base36Sha1ToHex('0'.repeat(31))).toBe('0'.repeat(40));
    expect(base36Sha1ToHex(hex.toUpperCase())).toBe(hex);
    expect(base36Sha1ToHex('not base 36!')).toBeNull();
    expect(base36Sha1ToHex('z'.repeat(31))).toBeNull(); // above 2^160
    expect(base36Sha1ToHex(null)).toBeNull();
  });
});

describe('imgpipe run --catalog hive --source mediawiki, thumbnails by hash path', () => {
  let run: Awaited<ReturnType<typeof imgpipeCollect>>;
  let result: { run_id: string; output: string; selected: number; ok: number; error: number };
  const out = path.join(tmp.dir, 'out', 'sculptures');

  beforeAll(async () => {
    run = await imgpipeCollect(
      [
        'run', ...hiveArgs(), '--output-database', 'results', '--table-location', out, '--table', 'sculptures', '--model', 'color-embed',
        '--category', 'Sculptures', '--depth', '3', '--snapshot', '2026-11-01', '--bytes-preset', 'commons-thumb', '--bytes-mirror', thumbs.mirror,
        '--user-agent', 'imgpipe-test/1 (test@example.org)', '--partitions-dir', parts, '--json', '--quiet',
      ],
      { IMGPIPE_HIVE_PASSWORD: '' },
    );
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    result = JSON.parse(run.stdout);
  }, 300_000);

  it('selects the same images as the tree computed independently, no row from another snapshot or wiki', async () => {
    const connection = await server.instance.connect();
    const expected = await expectedSelection(connection, 'wmf_raw', 'Sculptures', 3);
    connection.disconnectSync();
    // Depth 3 reaches Deep (Sculptures → Bronze → Statues_by_subject → Deep) but not Deeper; the cycle back to Sculptures is harmless.
    expect(expected).toContain('Deep_file.jpg');
    expect(expected).toContain('Hostile_home.jpg');
    expect(expected).not.toContain('Too_deep.jpg');
    expect(expected).toHaveLength(10);
    const rows = await query(`SELECT image_name, sha1, status, error FROM read_parquet(${lit(path.join(result.output, '*.parquet'))}) ORDER BY image_name`);
    expect(rows.map((r) => r.image_name)).toEqual(expected);
    expect(result.selected).toBe(expected.length);
  });

  it('keys rows by the original\'s SHA-1 in hex, and scored thumbnails fetched by hash path', async () => {
    const rows = await query(`SELECT image_name, sha1, status, error FROM read_parquet(${lit(path.join(result.output, '*.parquet'))}) ORDER BY image_name`);
    for (const r of rows) expect(r.sha1, String(r.image_name)).toBe(img(String(r.image_name)).hex);
    expect(rows.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(thumbs.hits.filter((h) => h.status !== 200)).toEqual([]);
    const svg = thumbs.hits.find((h) => h.path.includes('Diagram_of_a_plinth'))!.path;
    const md5 = createHash('md5').update('Diagram_of_a_plinth.svg').digest('hex');
    expect(svg).toBe(`/wikipedia/commons/thumb/${md5[0]}/${md5.slice(0, 2)}/Diagram_of_a_plinth.svg/400px-Diagram_of_a_plinth.svg.png`);
    expect(thumbs.hits.some((h) => h.path.endsWith('/lossy-page1-400px-Scan_of_a_statue.tif.jpg'))).toBe(true);
    expect(thumbs.hits.some((h) => h.path.endsWith(`/page1-400px-${encodeURIComponent('Catalogue_raisonné.pdf')}.jpg`))).toBe(true);
    // Which bytes were scored is in run.json: the thumbnail template and width.
    const runJson = JSON.parse(readFileSync(path.join(parts, result.run_id, 'run.json'), 'utf8'));
    expect(runJson.bytes).toMatchObject({ kind: 'http', url_template: `${thumbs.mirror}/wikipedia/commons/thumb/{md5_1}/{md5_2}/{name}/{thumb}`, thumb_width: 400 });
    expect(runJson.catalog.source).toEqual({ profile: 'mediawiki', snapshot: SNAP, wiki_db: WIKI });
  });

  it('walked the tree one level per query through mediawiki_page, with partition predicates on every table', () => {
    const sent = server.queries();
    const walks = sent.filter((s) => s.startsWith('SELECT DISTINCT category FROM (SELECT cp.page_title AS category'));
    expect(walks).toHaveLength(3);
    for (const s of walks) {
      expect(s).toContain("l.cl_type = 'subcat'");
      expect(s).toContain("cp.snapshot = '2026-10' AND cp.wiki_db = 'commonswiki' AND cp.page_namespace = 14");
    }
    expect(walks[0]).toMatch(/WHERE cp\.parent IN \('Sculptures'\)$/);
    expect(walks[1]).toMatch(/WHERE cp\.parent IN \('[^)]+'\)$/);
    expect(walks[1]).toContain("'${env:HOME}'");
    expect(walks[1]).toContain("'Bronze_sculptures'");
  });

  it('sent --hive-user in OpenSession with NOSASL, and turned variable substitution off', () => {
    expect(server.openedSessions.length).toBeGreaterThan(0);
    expect(server.openedSessions.map((s) => s.user)).toEqual(server.openedSessions.map(() => 'analyst'));
    for (const s of server.openedSessions) expect(s.configuration).toEqual({ 'hive.variable.substitute': 'false' });
    expect(server.statements.filter((s) => s.user !== 'analyst')).toEqual([]);
    expect(server.metastore.has('results.sculptures')).toBe(true);
  });
});

describe('hostile names through HiveCatalog (mediawiki profile)', () => {
  const spec = () => resolveHiveSettings({ address: server.address, auth: 'nosasl', user: 'analyst', database: 'wmf_raw' }, {});
  const select = async (category: string, depth: number) => {
    const catalog = await HiveCatalog.open(spec(), { source: { profile: 'mediawiki', snapshot: SNAP, wiki_db: WIKI } });
    try {
      const names: string[] = [];
      for await (const batch of catalog.select({ kind: 'category', category, depth })) names.push(...batch.map((r) => r.image_name));
      return names;
    } finally {
      await catalog.close();
    }
  };

  it('a literal ${env:HOME} reaches Hive unchanged', async () => {
    expect(await select(HOSTILE_CATEGORY, 0)).toEqual(['Hostile_home.jpg']);
  });

  it('the stand-in substitutes when the session does not turn it off (so the test above can fail)', async () => {
    const client = new hive.HiveClient(hive.thrift.TCLIService, hive.thrift.TCLIService_types);
    const [host, port] = server.address.split(':') as [string, string];
    await client.connect({ host, port: Number(port), options: {} }, new hive.connections.TcpConnection(), new hive.auth.NoSaslAuthentication());
    const session = await client.openSession({ client_protocol: hive.thrift.TCLIService_types.TProtocolVersion.HIVE_CLI_SERVICE_PROTOCOL_V10 });
    await (await session.executeStatement('USE wmf_raw', { runAsync: false })).close();
    const op = await session.executeStatement("SELECT '${env:HOME}' AS v", { runAsync: false });
    const utils = new hive.HiveUtils(hive.thrift.TCLIService_types);
    await utils.waitUntilReady(op, false, () => {});
    await utils.fetchAll(op);
    const [row] = utils.getResult(op).getValue() as { v: string }[];
    await op.close();
    await session.close();
    client.close();
    expect(row!.v).toBe(process.env.HOME);
    expect(server.openedSessions.at(-1)).toEqual({ user: 'anonymous', configuration: {} });
  });

  it('an unknown category names the replica table and the partition (exit 2 in the CLI)', async () => {
    await expect(select('Leaky', 1)).rejects.toThrow(
      'No category named "Leaky" in wmf_raw.mediawiki_categorylinks at snapshot 2026-10, wiki_db commonswiki (names are case-sensitive and use underscores for spaces, as on Commons).',
    );
  });
});

describe('--source mediawiki on the embedded warehouse (the same tables as Parquet)', () => {
  const wh = path.join(tmp.dir, 'wh');

  const exportsDir = path.join(tmp.dir, 'exports');

  beforeAll(async () => {
    const init = imgpipe(['warehouse', 'init', '--warehouse', wh]);
    expect(init.code, init.stderr).toBe(0);
    // Exports as a user would have them: every partition in each, in three shapes (CSV, Parquet, a
    // copy of the Hive-layout partition folders); import-mediawiki keeps the requested partition.
    const c = await server.instance.connect();
    mkdirSync(exportsDir, { recursive: true });
    await c.run(`COPY wmf_raw.mediawiki_image TO ${duckString(path.join(exportsDir, 'mediawiki_image.csv'))} (FORMAT csv, HEADER)`);
    await c.run(`COPY wmf_raw.mediawiki_page TO ${duckString(path.join(exportsDir, 'mediawiki_page.parquet'))} (FORMAT parquet)`);
    await c.run(`COPY wmf_raw.mediawiki_categorylinks TO ${duckString(path.join(exportsDir, 'mediawiki_categorylinks'))} (FORMAT parquet, PARTITION_BY (snapshot, wiki_db))`);
    c.disconnectSync();
    for (const snap of [SNAP, '2026-09']) {
      const r = imgpipe(['warehouse', 'import-mediawiki', '--warehouse', wh, '--from', exportsDir, '--mediawiki-snapshot', snap]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Imported the MediaWiki replicas at snapshot=${snap}/wiki_db=commonswiki`);
    }
  }, 60_000);

  it('import-mediawiki kept only the requested partition of each export', async () => {
    const rows = await query(`SELECT count(*) AS n FROM read_parquet(${lit(path.join(wh, 'mediawiki_image', `snapshot=${SNAP}`, 'wiki_db=commonswiki', '*.parquet'))})`);
    expect(Number(rows[0]!.n)).toBe(NAMES.length);
    const names = await query(`SELECT img_name FROM read_parquet(${lit(path.join(wh, 'mediawiki_image', `snapshot=${SNAP}`, 'wiki_db=commonswiki', '*.parquet'))}) ORDER BY 1`);
    expect(names.map((r) => r.img_name)).toEqual([...NAMES].sort());
    const bad = imgpipe(['warehouse', 'import-mediawiki', '--warehouse', wh, '--from', tmp.dir, '--mediawiki-snapshot', SNAP]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`No export of mediawiki_image in ${tmp.dir}: expected mediawiki_image.parquet, mediawiki_image.csv or a folder mediawiki_image/ of Parquet files`);
  });

  it('plans the same selection with hex SHA-1s, and --sql sees the profile\'s image', async () => {
    const connection = await server.instance.connect();
    const expected = await expectedSelection(connection, 'wmf_raw', 'Sculptures', 3);
    connection.disconnectSync();
    const plan = (selection: string[]) => {
      const r = imgpipe(['run', '--warehouse', wh, '--source', 'mediawiki', '--mediawiki-snapshot', SNAP, '--model', 'color-embed', ...selection,
        '--bytes-preset', 'commons-thumb', '--bytes-mirror', thumbs.mirror, '--partitions-dir', parts, '--plan-only', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { run_id: string };
    };
    const manifest = async (runId: string) =>
      query(`SELECT image_name, sha1 FROM read_parquet(${lit(path.join(parts, runId, 'manifest.parquet'))}) ORDER BY image_name`);
    const byCategory = await manifest(plan(['--category', 'Sculptures', '--depth', '3']).run_id);
    expect(byCategory.map((r) => r.image_name)).toEqual(expected);
    for (const r of byCategory) expect(r.sha1).toBe(img(String(r.image_name)).hex);
    const bySql = await manifest(plan(['--sql', "SELECT image_name FROM image WHERE mime = 'image/jpeg' AND image_name LIKE 'Bronze%'"]).run_id);
    expect(bySql).toEqual([{ image_name: 'Bronze_horse.jpg', sha1: img('Bronze_horse.jpg').hex }]);
  });

  it('incremental nightly runs on the profile carry rows forward by the hex SHA-1 of the original', async () => {
    const nightly = async (snapshot: string) => {
      const r = await imgpipeCollect(['run', '--warehouse', wh, '--source', 'mediawiki', '--mediawiki-snapshot', SNAP, '--model', 'color-embed', '--table', 'nightly',
        '--category', 'Sculptures', '--depth', '3', '--incremental', '--snapshot', snapshot, '--bytes-preset', 'commons-thumb', '--bytes-mirror', thumbs.mirror,
        '--partitions-dir', parts, '--json', '--quiet']);
      expect(r.code, r.stderr.slice(-2000)).toBe(0);
      return JSON.parse(r.stdout) as { output: string; selected: number; incremental: { previous_snapshot: string | null; scored: number; carried_forward: number; dropped: number } };
    };
    const day1 = await nightly('2026-11-01');
    expect(day1.incremental).toEqual({ previous_snapshot: null, scored: 10, carried_forward: 0, dropped: 0 });
    const fetched = thumbs.hits.length;
    const day2 = await nightly('2026-11-02');
    expect(day2.incremental).toEqual({ previous_snapshot: '2026-11-01', scored: 0, carried_forward: 10, dropped: 0 });
    expect(thumbs.hits.length).toBe(fetched); // nothing fetched again
    const rows = await query(`SELECT image_name, sha1 FROM read_parquet(${lit(path.join(day2.output, '*.parquet'))}) ORDER BY 1`);
    for (const r of rows) expect(r.sha1).toBe(img(String(r.image_name)).hex);

    // A re-upload of Marble_bust.jpg: new img_sha1 in the next export; only it is scored again.
    const newHex = hexOf();
    const c = await server.instance.connect();
    await c.run(`COPY (SELECT * REPLACE (CASE WHEN img_name = 'Marble_bust.jpg' AND snapshot = '${SNAP}' AND wiki_db = '${WIKI}' THEN ${duckString(base36(newHex))} ELSE img_sha1 END AS img_sha1) FROM wmf_raw.mediawiki_image) TO ${duckString(path.join(exportsDir, 'mediawiki_image.csv'))} (FORMAT csv, HEADER)`);
    c.disconnectSync();
    const reimport = imgpipe(['warehouse', 'import-mediawiki', '--warehouse', wh, '--from', exportsDir, '--mediawiki-snapshot', SNAP]);
    expect(reimport.code, reimport.stderr).toBe(0);
    const day3 = await nightly('2026-11-03');
    expect(day3.incremental).toEqual({ previous_snapshot: '2026-11-02', scored: 1, carried_forward: 9, dropped: 0 });
    const marble = await query(`SELECT sha1 FROM read_parquet(${lit(path.join(day3.output, '*.parquet'))}) WHERE image_name = 'Marble_bust.jpg'`);
    expect(marble).toEqual([{ sha1: newHex }]);
  }, 300_000);

  it('a missing partition and missing bytes flags are usage errors (exit 2) naming the fix', async () => {
    const r = await imgpipeInProcess(['run', '--warehouse', wh, '--source', 'mediawiki', '--mediawiki-snapshot', '2025-01', '--model', 'color-embed', '--all', '--bytes-preset', 'commons-thumb', '--partitions-dir', parts, '--plan-only']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`The warehouse has no mediawiki_image at snapshot=2025-01/wiki_db=commonswiki (${path.join(wh, 'mediawiki_image', 'snapshot=2025-01', 'wiki_db=commonswiki')})`);
    const noBytes = await imgpipeInProcess(['run', '--warehouse', wh, '--source', 'mediawiki', '--mediawiki-snapshot', SNAP, '--model', 'color-embed', '--all', '--partitions-dir', parts, '--plan-only']);
    expect(noBytes.code).toBe(2);
    expect(noBytes.stderr).toContain('--source mediawiki has no table of image bytes: add --bytes-preset commons-thumb');
    const badSnap = await imgpipeInProcess(['run', '--warehouse', wh, '--source', 'mediawiki', '--mediawiki-snapshot', '2026-13', '--model', 'color-embed', '--all']);
    expect(badSnap.code).toBe(2);
    expect(badSnap.stderr).toContain('Expected a month YYYY-MM for --mediawiki-snapshot but received "2026-13"');
    const stray = await imgpipeInProcess(['run', '--warehouse', wh, '--wiki-db', 'enwiki', '--model', 'color-embed', '--all']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain('--wiki-db is for --source mediawiki: add --source mediawiki, or drop it');
    const noOutputDb = await imgpipeInProcess(['run', '--catalog', 'hive', '--hive', server.address, '--source', 'mediawiki', '--mediawiki-snapshot', SNAP, '--model', 'color-embed', '--all', '--bytes-preset', 'commons-thumb']);
    expect(noOutputDb.code).toBe(2);
    expect(noOutputDb.stderr).toContain('--output-database DB is required with --catalog hive --source mediawiki');
  });
});

describe('imgpipe train --catalog hive --source mediawiki --labels-sql', () => {
  it('labels from HiveQL over the replicas, resolved through the profile, embedded from thumbnails', async () => {
    const statementsBefore = server.statements.length;
    const r = await imgpipeCollect([
      'train', ...hiveArgs(), '--output-database', 'results', '--table-location', path.join(tmp.dir, 'train', 'embeddings'),
      '--bytes-preset', 'commons-thumb', '--bytes-mirror', thumbs.mirror, '--backbone', 'color-embed', '--name', 'jpg-or-not', '--seed', '3',
      '--labels-sql', `SELECT img_name AS image_name, CASE WHEN img_name LIKE '%.jpg' THEN 'jpg' ELSE 'other' END AS label FROM wmf_raw.mediawiki_image WHERE snapshot = '${SNAP}' AND wiki_db = '${WIKI}'`,
      '--partitions-dir', parts, '--out-dir', path.join(tmp.dir, 'models'), '--snapshot', '2026-11-05', '--json', '--quiet', '--no-report',
    ], { IMGPIPE_HIVE_PASSWORD: '' });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(r.stdout) as { metrics: { holdout: { labels: string[] } }; counts: { per_class: Record<string, { selected: number; used: number }> }; embeddings: { partition: string } };
    const jpgs = NAMES.filter((n) => n.endsWith('.jpg')).length;
    expect(result.metrics.holdout.labels).toEqual(['jpg', 'other']);
    expect(result.counts.per_class.jpg).toMatchObject({ selected: jpgs, used: jpgs });
    expect(result.counts.per_class.other).toMatchObject({ selected: NAMES.length - jpgs, used: NAMES.length - jpgs });
    // The embeddings are keyed by the originals' hex SHA-1s.
    const rows = await query(`SELECT image_name, sha1 FROM read_parquet(${lit(path.join(result.embeddings.partition, '*.parquet'))}) ORDER BY 1`);
    expect(rows).toHaveLength(NAMES.length);
    for (const row of rows) expect(row.sha1).toBe(img(String(row.image_name)).hex);
    const sent = server.statements.slice(statementsBefore).map((s) => s.statement);
    expect(sent.some((s) => s.startsWith('SELECT CAST(s.image_name AS STRING) AS image_name, CAST(s.label AS STRING) AS label FROM ('))).toBe(true);
    expect(sent.some((s) => s.includes('FROM (SELECT im.img_name AS image_name') && s.includes('WHERE i.image_name IN ('))).toBe(true);
  }, 300_000);
});
