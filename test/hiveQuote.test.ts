/**
 * Values from users reach HiveQL only through sqlQuote.ts. Checked three ways: against a port of
 * Hive's own unescaping (the value Hive sees is the value we meant), by fuzzing, and end to end
 * through the real hive-driver client and the HiveServer2 test double: a hostile category name
 * selects exactly that category's images or is refused; no statement ever carries extra SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HiveCatalog } from '../src/catalog/HiveCatalog.js';
import { addResultPartitionDdl, createResultTableDdl, RESULT_HIVE_COLUMNS } from '../src/catalog/hive/hiveDdl.js';
import { resolveHiveSettings } from '../src/catalog/hive/hiveSettings.js';
import { hiveIdentifier, hiveQualified, hiveString, hiveStringList } from '../src/catalog/sqlQuote.js';
import { RESULT_COLUMNS } from '../src/sink/resultRow.js';
import { HiveServer2TestServer } from './util/hiveServer2.js';
import { duckString, HiveParseError, translateHiveQL, unescapeHiveString } from './util/hiveql.js';

const HOSTILE = [
  "O'Brien",
  "x'; DROP TABLE sentinel; --",
  "' OR '1'='1",
  "') OR ('1'='1",
  'back\\slash\\',
  "trailing backslash \\'",
  '\\',
  "\\'",
  '\\\\\'',
  '\\u0027',
  '\\047',
  '\\x27',
  '%_\\%\\_',
  'semi;colon',
  '/* comment */ -- line',
  '-- leading comment',
  'new\nline',
  "new\n'; DROP TABLE sentinel; --",
  'tab\tand\rreturn',
  'Ünïcödé_ケーキ_🎨',
  '\u2028line separator\u2029',
  '"double"',
  '"; DROP TABLE sentinel; --',
  '`back`tick',
  '${hiveconf:x}',
  'a'.repeat(300),
];

describe('HiveQL quoting', () => {
  it('every hostile value reads back exactly as Hive unescapes it', () => {
    for (const value of HOSTILE) {
      const sql = `SELECT ${hiveString(value)}`;
      expect(translateHiveQL(sql).literals).toEqual([value]);
      expect(unescapeHiveString(hiveString(value))).toBe(value);
    }
  });

  it('fuzz: random strings over quotes, backslashes, escapes and separators round-trip through Hive\'s lexer', () => {
    const alphabet = ["'", '"', '\\', ';', '-', '/', '*', '`', 'n', 'u', '0', '1', '7', '%', '_', ' ', '\n', '\r', '\t', 'é', '🎨', 'Z', 'b'];
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 2000; i++) {
      const value = Array.from({ length: 1 + rand(12) }, () => alphabet[rand(alphabet.length)]).join('');
      const { literals, sql } = translateHiveQL(`SELECT x FROM t WHERE a = ${hiveString(value)} AND b IN ${hiveStringList([value, 'z'])}`);
      expect(literals).toEqual([value, value, 'z']);
      expect(sql).toBe(`SELECT x FROM t WHERE a = ${duckString(value)} AND b IN (${duckString(value)}, 'z')`);
    }
  });

  it('NUL is refused, as are names outside the strict pattern', () => {
    expect(() => hiveString('a\u0000b')).toThrow('Expected a string without NUL characters in a SQL value');
    expect(() => hiveStringList([])).toThrow('Expected at least one value for an IN list but received none');
    expect(hiveQualified('commons', 'image')).toBe('`commons`.`image`');
    for (const bad of ['commons`; DROP TABLE x; --', 'a.b', 'x y', '`x`', 'ü', '']) {
      expect(() => hiveIdentifier(bad, 'database name')).toThrow(`Expected letters, digits and underscores (not starting with a digit, at most 128) for database name but received ${JSON.stringify(bad)} of type string`);
      expect(() => resolveHiveSettings({ address: 'h:1', database: bad }, {})).toThrow(`Expected letters, digits and underscores (not starting with a digit, at most 128) for --database but received ${JSON.stringify(bad)} of type string`);
    }
  });

  it('the metastore DDL has the contract\'s columns and types, names back-quoted and values escaped', () => {
    expect(RESULT_HIVE_COLUMNS.map(([name]) => name)).toEqual([...RESULT_COLUMNS]);
    expect(createResultTableDdl('results', 'embeddings', "webhdfs://nn:9870/it's here")).toBe(
      [
        'CREATE EXTERNAL TABLE IF NOT EXISTS `results`.`embeddings` (',
        '  `image_name` string,',
        '  `page_id` bigint,',
        '  `sha1` string,',
        '  `status` string,',
        '  `error` string,',
        '  `label` string,',
        '  `score` float,',
        '  `top_k` array<struct<label:string,score:float>>,',
        '  `embedding` array<float>,',
        '  `width` int,',
        '  `height` int,',
        '  `run_id` string,',
        '  `processed_at` timestamp,',
        '  `detections` array<struct<label:string,score:float,x:float,y:float,w:float,h:float>>,',
        '  `keypoints` array<array<float>>,',
        '  `count` int,',
        '  `max_area_ratio` float,',
        '  `sum_area_ratio` float',
        ')',
        'PARTITIONED BY (`model` string, `snapshot` string)',
        'STORED AS PARQUET',
        "LOCATION 'webhdfs://nn:9870/it\\'s here'",
      ].join('\n'),
    );
    expect(addResultPartitionDdl('results', 'embeddings', 'm-1', '2026-01-01', '/t/model=m-1/snapshot=2026-01-01')).toBe(
      "ALTER TABLE `results`.`embeddings` ADD IF NOT EXISTS PARTITION (`model`='m-1', `snapshot`='2026-01-01') LOCATION '/t/model=m-1/snapshot=2026-01-01'",
    );
  });
});

describe('the test double reads HiveQL as Hive does', () => {
  it('unescapes Hive escapes, concatenates adjacent literals, drops -- comments, rewrites back-quotes', () => {
    expect(unescapeHiveString("'a\\'b\\\\c\\nd\\te\\;f\\%'")).toBe("a'b\\c\nd\te;f\\%");
    expect(unescapeHiveString("'\\101\\u0041'")).toBe('AA');
    expect(unescapeHiveString("'ab' 'cd'")).toBe('abcd');
    expect(translateHiveQL("SELECT `a``b`, \"x\" 'y' FROM `t` -- gone\nWHERE c = 'it''s'")).toEqual({
      sql: "SELECT \"a`b\", 'xy' FROM \"t\" \nWHERE c = 'its'",
      literals: ['xy', 'its'],
    });
  });

  it('refuses a second statement and unterminated literals, as HiveServer2 does', () => {
    expect(() => translateHiveQL('SELECT 1; DROP TABLE t')).toThrow(HiveParseError);
    expect(() => translateHiveQL("SELECT 'x")).toThrow(HiveParseError);
    expect(() => translateHiveQL("SELECT 'x\\'")).toThrow(HiveParseError);
  });
});

describe('hostile category names through hive-driver and the HiveServer2 test double', () => {
  let server: HiveServer2TestServer;
  let catalog: HiveCatalog;
  const imageOf = (i: number) => `Img_${String(i).padStart(3, '0')}.jpg`;

  beforeAll(async () => {
    // One image per hostile category (page_id = i), all of them children of "Root", plus decoys an
    // injection would pull in.
    server = await HiveServer2TestServer.start({
      auth: 'nosasl',
      runDelayMs: 1,
      setup: async (c) => {
        await c.run('CREATE SCHEMA commons');
        await c.run('CREATE TABLE commons.image (image_name VARCHAR, page_id BIGINT, sha1 VARCHAR)');
        await c.run('CREATE TABLE commons.categorylinks (page_id BIGINT, category VARCHAR)');
        await c.run('CREATE TABLE commons.category_parent (category VARCHAR, parent VARCHAR)');
        await c.run("CREATE TABLE commons.sentinel AS SELECT 'still here' AS v");
        for (let i = 0; i < HOSTILE.length; i++) {
          await c.run(`INSERT INTO commons.image VALUES (${duckString(imageOf(i))}, ${i}, 'sha${i}')`);
          await c.run(`INSERT INTO commons.categorylinks VALUES (${i}, ${duckString(HOSTILE[i]!)})`);
          await c.run(`INSERT INTO commons.category_parent VALUES (${duckString(HOSTILE[i]!)}, 'Root')`);
        }
        await c.run("INSERT INTO commons.image VALUES ('Decoy.jpg', 999, 'd')");
        // What a broken quoting would select instead: fragments of the hostile names (none is one).
        const decoys = ['x', '1', 'O', 'Brien', "'", 'back', 'new', 'a', '\\\\'];
        if (decoys.some((d) => HOSTILE.includes(d))) throw new Error('a decoy is one of the hostile names');
        for (const decoy of decoys) await c.run(`INSERT INTO commons.categorylinks VALUES (999, ${duckString(decoy)})`);
      },
    });
    catalog = await HiveCatalog.open(resolveHiveSettings({ address: server.address, auth: 'nosasl' }, {}));
  });
  afterAll(async () => {
    await catalog?.close();
    await server?.close();
  });

  const names = async (category: string, depth = 0) => {
    const out: string[] = [];
    for await (const batch of catalog.select({ kind: 'category', category, depth })) out.push(...batch.map((r) => r.image_name));
    return out;
  };

  it('each hostile name selects exactly its own image, and Hive saw exactly that name', async () => {
    for (let i = 0; i < HOSTILE.length; i++) {
      const before = server.statements.length;
      expect(await names(HOSTILE[i]!)).toEqual([imageOf(i)]);
      const sent = server.statements.slice(before);
      expect(sent.every((s) => s.outcome === 'ok')).toBe(true);
      // The existence check and the image query each carry the name as one literal.
      expect(sent.map((s) => translateHiveQL(s.statement).literals.filter((l) => l === HOSTILE[i]).length)).toEqual([3, 1]);
    }
  });

  it('walking the tree collects the hostile names as values too', async () => {
    const all = await names('Root', 1);
    expect(all).toEqual(HOSTILE.map((_, i) => imageOf(i)).sort());
    const walk = server.statements.filter((s) => s.statement.includes('WHERE cp.parent IN'));
    expect(walk.at(-1)!.outcome).toBe('ok');
    const imageQuery = server.statements.at(-1)!;
    expect(translateHiveQL(imageQuery.statement).literals.sort()).toEqual([...HOSTILE, 'Root'].sort());
  });

  it('an unknown hostile name is refused as an unknown category, and nothing else ran', async () => {
    await expect(names("nope'; DROP TABLE sentinel; --")).rejects.toThrow(`No category named ${JSON.stringify("nope'; DROP TABLE sentinel; --")} in Hive database commons`);
    await expect(names('a\u0000b')).rejects.toThrow('Expected a string without NUL characters in a SQL value');
    // Only SELECTs (and the session's USE) ever reached the server, and the sentinel table is intact.
    expect(server.statements.filter((s) => !/^(SELECT|USE) /.test(s.statement))).toEqual([]);
    const rows: unknown[] = [];
    for await (const page of catalog.connection.query('SELECT v FROM sentinel')) rows.push(...page);
    expect(rows).toEqual([['still here']]);
  });

  it('a --sql selection is one statement: an appended statement is refused by the server, not run', async () => {
    const run = async (sql: string) => {
      const out: string[] = [];
      for await (const batch of catalog.select({ kind: 'sql', sql })) out.push(...batch.map((r) => r.image_name));
      return out;
    };
    expect(await run(`SELECT image_name FROM image WHERE page_id = 1;`)).toEqual([imageOf(1)]);
    await expect(run('SELECT image_name FROM image; DROP TABLE sentinel')).rejects.toThrow(/Hive query failed on 127\.0\.0\.1:\d+: Error while compiling statement: FAILED: ParseException line \d+:\d+ missing EOF at ';'/);
    const rows: unknown[] = [];
    for await (const page of catalog.connection.query('SELECT count(*) FROM sentinel')) rows.push(...page);
    expect(rows).toEqual([[1n]]);
  });
});
