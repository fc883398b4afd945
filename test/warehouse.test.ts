/**
 * The embedded warehouse's write side: `warehouse init [--demo]`, `warehouse import`, the writer's
 * upsert and atomic-replace semantics, and the demo set's composition and determinism.
 * Real DuckDB and sharp; every warehouse lives in a temp dir that is removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { Command } from 'commander';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { SOURCE_TABLES, SOURCE_TABLE_NAMES, type SourceTableName } from '../src/warehouse/warehouseSchema.js';
import type { ImageRow } from '../src/warehouse/warehouseRows.js';
import { WarehouseWriter } from '../src/warehouse/WarehouseWriter.js';
import { initWarehouse } from '../src/warehouse/initWarehouse.js';
import { importFolder } from '../src/warehouse/importFolder.js';
import {
  DEMO_BROKEN_CATEGORY,
  DEMO_CATEGORY_PARENTS,
  DEMO_EXPECTED_ERRORS,
  demoImages,
} from '../src/warehouse/demo/demoImages.js';
import { pngDeclaring } from '../src/warehouse/demo/pngDeclaring.js';
import { pageIdFor, sniffFormat } from '../src/warehouse/imageFacts.js';
import { registerWarehouseCommand } from '../src/cli/warehouseCommand.js';
import { UsageError } from '../src/util/errors.js';

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

const tempDirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'imgpipe-wh-'));
  tempDirs.push(d);
  return d;
}

let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});
afterAll(() => {
  conn.disconnectSync();
  db.closeSync();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

const t = (wh: string, table: SourceTableName): string =>
  `read_parquet('${path.join(wh, table, '*.parquet').replace(/'/g, "''")}')`;

async function rows(sql: string): Promise<unknown[][]> {
  return (await conn.runAndReadAll(sql)).getRows() as unknown[][];
}
async function column<T>(sql: string): Promise<T[]> {
  return (await rows(sql)).map((r) => r[0] as T);
}
async function count(wh: string, table: SourceTableName): Promise<number> {
  return Number((await rows(`SELECT count(*) FROM ${t(wh, table)}`))[0]![0]);
}
async function imageBytes(wh: string, name: string): Promise<Buffer> {
  const r = await rows(`SELECT bytes FROM ${t(wh, 'image_bytes')} WHERE image_name = '${name}'`);
  return Buffer.from((r[0]![0] as { bytes: Uint8Array }).bytes);
}
/** All four tables as sorted, comparable text (bytes by their sha1). */
async function snapshot(wh: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of SOURCE_TABLE_NAMES) {
    const cols = SOURCE_TABLES[table].map(([c]) => (c === 'bytes' ? 'sha1(bytes)' : `CAST(${c} AS VARCHAR)`));
    out[table] = (await rows(`SELECT concat_ws('|', ${cols.join(', ')}) AS r FROM ${t(wh, table)} ORDER BY r`)).map((r) => String(r[0]));
  }
  return out;
}
/** Files left in the warehouse besides the marker and one data.parquet per table. */
function strayFiles(wh: string): string[] {
  const stray: string[] = [];
  for (const e of fs.readdirSync(wh)) {
    if (e === 'warehouse.json') continue;
    if (!(SOURCE_TABLE_NAMES as string[]).includes(e)) stray.push(e);
    else for (const f of fs.readdirSync(path.join(wh, e))) if (f !== 'data.parquet') stray.push(`${e}/${f}`);
  }
  return stray;
}

const imageRow = (name: string, sha1: string, extra: Partial<ImageRow> = {}): ImageRow => ({
  image_name: name,
  page_id: pageIdFor(name),
  sha1,
  media_type: 'BITMAP',
  mime: 'image/png',
  width: 10,
  height: 10,
  size: 3,
  uploaded_at: new Date('2024-01-02T03:04:05Z'),
  ...extra,
});

// ── init ────────────────────────────────────────────────────────────────────────────────────────

describe('warehouse init', () => {
  it('creates four readable, empty tables with the contract column types', async () => {
    const wh = path.join(tempDir(), 'wh');
    const r = await initWarehouse(wh);
    expect(r.existed).toBe(false);
    expect(r.tablesCreated.sort()).toEqual([...SOURCE_TABLE_NAMES].sort());
    const marker = JSON.parse(fs.readFileSync(path.join(wh, 'warehouse.json'), 'utf8'));
    expect(marker).toMatchObject({ format: 'imgpipe-warehouse', version: 1 });
    expect(Number.isNaN(Date.parse(marker.created_at))).toBe(false);
    for (const table of SOURCE_TABLE_NAMES) {
      const described = await rows(`DESCRIBE SELECT * FROM ${t(wh, table)}`);
      expect(described.map((d) => [d[0], d[1]])).toEqual(SOURCE_TABLES[table].map(([c, ty]) => [c, ty]));
      expect(await count(wh, table)).toBe(0);
    }
    expect(strayFiles(wh)).toEqual([]);
  });

  it('refuses a non-empty folder that is not a warehouse, and a file, touching nothing', async () => {
    const foreign = tempDir();
    fs.writeFileSync(path.join(foreign, 'thesis.tex'), 'precious');
    await expect(initWarehouse(foreign)).rejects.toThrow(UsageError);
    await expect(initWarehouse(foreign)).rejects.toThrow(/not an imgpipe warehouse/);
    expect(fs.readdirSync(foreign)).toEqual(['thesis.tex']);
    const file = path.join(foreign, 'thesis.tex');
    await expect(initWarehouse(file)).rejects.toThrow(/not a folder/);
  });

  it('accepts an existing empty folder, and keeps data when run again', async () => {
    const wh = tempDir(); // exists, empty
    await initWarehouse(wh);
    const w = await WarehouseWriter.create(wh);
    try {
      await w.upsert({ image: [imageRow('A.png', 'aa')], categorylinks: [{ page_id: pageIdFor('A.png'), category: 'X' }] });
    } finally {
      w.close();
    }
    const again = await initWarehouse(wh);
    expect(again.existed).toBe(true);
    expect(again.tablesCreated).toEqual([]);
    expect(again.warehouse.counts.image).toBe(1);
    expect(await count(wh, 'categorylinks')).toBe(1);
  });
});

// ── writer semantics ────────────────────────────────────────────────────────────────────────────

describe('WarehouseWriter', () => {
  it('upserts: newer row per image_name wins, links stay distinct, bytes round-trip', async () => {
    const wh = tempDir();
    await initWarehouse(wh);
    const w = await WarehouseWriter.create(wh);
    try {
      const blob = new Uint8Array([0, 1, 2, 255]);
      await w.upsert({
        image: [imageRow('A.png', 'a1'), imageRow('B.png', 'b1', { width: null, height: null })],
        image_bytes: [{ image_name: 'A.png', sha1: 'a1', bytes: blob }],
        categorylinks: [{ page_id: 1n, category: 'X' }, { page_id: 1n, category: 'X' }],
        category_parent: [{ category: 'X', parent: 'Y' }],
      });
      // a later batch replaces A; within one batch the later row wins
      await w.upsert({
        image: [imageRow('A.png', 'a2'), imageRow('A.png', 'a3')],
        image_bytes: [{ image_name: 'A.png', sha1: 'a3', bytes: new Uint8Array([9]) }],
        categorylinks: [{ page_id: 1n, category: 'X' }, { page_id: 1n, category: 'Z' }],
        category_parent: [{ category: 'X', parent: 'Y' }],
      });
      expect(await w.counts()).toEqual({ image: 2, image_bytes: 1, categorylinks: 2, category_parent: 1 });
    } finally {
      w.close();
    }
    expect(await rows(`SELECT image_name, sha1, width FROM ${t(wh, 'image')} ORDER BY 1`)).toEqual([
      ['A.png', 'a3', 10],
      ['B.png', 'b1', null],
    ]);
    expect([...(await imageBytes(wh, 'A.png'))]).toEqual([9]);
    const ts = await column<unknown>(`SELECT CAST(uploaded_at AS VARCHAR) FROM ${t(wh, 'image')} LIMIT 1`);
    expect(ts[0]).toBe('2024-01-02 03:04:05');
    expect(strayFiles(wh)).toEqual([]); // one data.parquet per table, no temp or staging files, lock released
  });

  it('stage without commit changes nothing; one writer at a time', async () => {
    const wh = tempDir();
    await initWarehouse(wh);
    const w = await WarehouseWriter.create(wh);
    try {
      await w.stage({ image: [imageRow('A.png', 'a1')] });
      await expect(WarehouseWriter.create(wh)).rejects.toThrow(/is already locked by this process/);
    } finally {
      w.close(); // uncommitted rows are dropped
    }
    expect(await count(wh, 'image')).toBe(0);
    const w2 = await WarehouseWriter.create(wh); // lock released
    w2.close();
  });

  it('a crashed writer\'s lock, staging folder and temp file are cleaned up by the next writer', async () => {
    const wh = tempDir();
    await initWarehouse(wh);
    fs.writeFileSync(path.join(wh, '.imgpipe-write.lock'), '999999999\n'); // no such process
    fs.mkdirSync(path.join(wh, '.imgpipe-staging-999999999-abc', 'image'), { recursive: true });
    fs.writeFileSync(path.join(wh, 'image', '.data.parquet.999999999.tmp'), 'half written');
    const w = await WarehouseWriter.create(wh);
    w.close();
    expect(strayFiles(wh)).toEqual([]);
  });

  it('commit refuses a folder that was never initialised', async () => {
    const wh = path.join(tempDir(), 'new');
    const w = await WarehouseWriter.create(wh);
    try {
      await expect(w.upsert({ image: [imageRow('A.png', 'a')] })).rejects.toThrow(/warehouse init/);
    } finally {
      w.close();
    }
  });
});

// ── demo ────────────────────────────────────────────────────────────────────────────────────────

describe('warehouse init --demo', () => {
  let wh: string;
  let expectedLinks = 0;
  const demoSha1 = new Map<string, string>();

  beforeAll(async () => {
    wh = path.join(tempDir(), 'demo');
    const r = await initWarehouse(wh, { demo: true });
    expect(r.demo?.images).toBe(301);
    for (const [name, sha1] of await rows(`SELECT image_name, sha1 FROM ${t(wh, 'image')}`)) {
      demoSha1.set(String(name), String(sha1));
    }
    expectedLinks = Number((await rows(`SELECT count(*) FROM ${t(wh, 'categorylinks')}`))[0]![0]);
  });

  it('has the documented counts and every format', async () => {
    expect(await count(wh, 'image')).toBe(301);
    expect(await count(wh, 'image_bytes')).toBe(300); // all but Broken_missing_bytes.jpg
    expect(await count(wh, 'category_parent')).toBe(DEMO_CATEGORY_PARENTS.length);
    expect(expectedLinks).toBeGreaterThan(301); // some images are in two categories
    const mimes = await column<string>(`SELECT DISTINCT mime FROM ${t(wh, 'image')} ORDER BY 1`);
    expect(mimes).toEqual([
      'application/octet-stream',
      'image/gif',
      'image/jpeg',
      'image/png',
      'image/svg+xml',
      'image/tiff',
      'image/webp',
    ]);
    expect(await column<string>(`SELECT DISTINCT media_type FROM ${t(wh, 'image')} ORDER BY 1`)).toEqual([
      'BITMAP',
      'DRAWING',
      'UNKNOWN',
    ]);
    // page ids are the stable hash of the name; bytes match their sha1
    const [name, pageId] = (await rows(`SELECT image_name, page_id FROM ${t(wh, 'image')} LIMIT 1`))[0]!;
    expect(pageId).toBe(pageIdFor(String(name)));
    expect(await column<bigint>(`SELECT count(*) FROM ${t(wh, 'image_bytes')} WHERE sha1(bytes) <> sha1`)).toEqual([0n]);
    expect(await column<bigint>(`SELECT count(*) FROM ${t(wh, 'image')} i JOIN ${t(wh, 'image_bytes')} b USING (image_name) WHERE i.sha1 <> b.sha1 OR i.size <> octet_length(b.bytes)`)).toEqual([0n]);
    // sizes from 32×32 to 3000×2000
    expect(await rows(`SELECT min(width * height), max(width * height) FROM ${t(wh, 'image')} WHERE width < 10000`)).toEqual([[32 * 32, 3000 * 2000]]);
  });

  it('contains the special cases: EXIF rotation, 16-bit, CMYK, alpha, grayscale, animation', async () => {
    const dims = async (n: string) => rows(`SELECT width, height FROM ${t(wh, 'image')} WHERE image_name = '${n}'`);
    expect(await dims('Rotated_camera_photo_orientation_6.jpg')).toEqual([[480, 640]]); // stored 640×480
    const rotated = await sharp(await imageBytes(wh, 'Rotated_camera_photo_orientation_6.jpg')).metadata();
    expect([rotated.orientation, rotated.width, rotated.height]).toEqual([6, 640, 480]);
    expect((await sharp(await imageBytes(wh, 'Pottery_glaze_16bit.png')).metadata()).depth).toBe('ushort');
    expect((await sharp(await imageBytes(wh, 'Sunset_print_CMYK.jpg')).metadata()).space).toBe('cmyk');
    expect((await sharp(await imageBytes(wh, 'Glass_bottle_with_transparency.png')).metadata()).hasAlpha).toBe(true);
    expect((await sharp(await imageBytes(wh, 'Old_portrait_grayscale.jpg')).metadata()).channels).toBe(1);
    expect((await sharp(await imageBytes(wh, 'Candle_flame_animation.gif')).metadata()).pages).toBe(4);
    expect((await sharp(await imageBytes(wh, 'Maiolica_tile_scan.tif')).metadata()).format).toBe('tiff');
    expect(await dims('Large_panorama_of_the_valley.jpg')).toEqual([[3000, 2000]]);
  });

  it('has the broken images with their documented defects', async () => {
    const broken = Object.keys(DEMO_EXPECTED_ERRORS).sort();
    expect(broken).toHaveLength(5);
    // all in Broken_files (and in image + categorylinks); all but one have bytes
    const inCat = await column<string>(
      `SELECT i.image_name FROM ${t(wh, 'image')} i JOIN ${t(wh, 'categorylinks')} l USING (page_id) WHERE l.category = '${DEMO_BROKEN_CATEGORY}' ORDER BY 1`,
    );
    expect(inCat).toEqual(broken);
    const withBytes = await column<string>(`SELECT image_name FROM ${t(wh, 'image_bytes')} WHERE image_name LIKE 'Broken%' ORDER BY 1`);
    expect(withBytes).toEqual(broken.filter((n) => n !== 'Broken_missing_bytes.jpg'));

    const truncated = await imageBytes(wh, 'Broken_truncated.jpg');
    expect(sniffFormat(truncated)).toBe('jpeg');
    expect((await sharp(truncated).metadata()).width).toBe(400); // the header is intact …
    await expect(sharp(truncated).raw().toBuffer()).rejects.toThrow(/premature end/i); // … the data is not
    expect((await imageBytes(wh, 'Broken_zero_bytes.png')).length).toBe(0);
    const random = await imageBytes(wh, 'Broken_random_bytes.jpg');
    expect(random.length).toBeGreaterThan(1000);
    expect(sniffFormat(random)).toBeNull();
    await expect(sharp(random).metadata()).rejects.toThrow(/unsupported image format/);
    const huge = await imageBytes(wh, 'Broken_too_many_pixels.png');
    expect(huge.length).toBeLessThan(200);
    expect((await sharp(huge, { limitInputPixels: false }).metadata()).width).toBe(40000);
    await expect(sharp(huge).raw().toBuffer()).rejects.toThrow(/pixel limit/);
    expect(await rows(`SELECT width, height, mime FROM ${t(wh, 'image')} WHERE image_name = 'Broken_too_many_pixels.png'`)).toEqual([
      [40000, 40000, 'image/png'],
    ]);
    expect(await rows(`SELECT width, height, mime FROM ${t(wh, 'image')} WHERE image_name = 'Broken_missing_bytes.jpg'`)).toEqual([
      [400, 300, 'image/jpeg'],
    ]);
  });

  it('has the category tree, and images in two categories', async () => {
    const sub = await column<string>(`
      WITH RECURSIVE tree(category, depth) AS (
        SELECT 'Demo', 0
        UNION ALL SELECT p.category, tree.depth + 1 FROM ${t(wh, 'category_parent')} p JOIN tree ON p.parent = tree.category)
      SELECT category || ':' || depth FROM tree ORDER BY depth, category`);
    expect(sub).toEqual([
      'Demo:0',
      'Broken_files:1', 'Landscapes:1', 'Objects:1', 'Portraits-like:1', 'Textures:1',
      'Night_scenes:2', 'Pottery:2', 'Sunsets:2',
      'Maiolica:3',
    ]);
    // every linked category is in the tree
    expect(await column<string>(`SELECT DISTINCT category FROM ${t(wh, 'categorylinks')} WHERE category NOT IN (SELECT category FROM ${t(wh, 'category_parent')})`)).toEqual([]);
    const multi = await column<bigint>(`SELECT count(*) FROM (SELECT page_id FROM ${t(wh, 'categorylinks')} GROUP BY 1 HAVING count(*) > 1)`);
    expect(Number(multi[0])).toBeGreaterThanOrEqual(10);
    const perCat = Object.fromEntries(
      (await rows(`SELECT category, count(*) FROM ${t(wh, 'categorylinks')} GROUP BY 1`)).map(([c, n]) => [c, Number(n)]),
    );
    for (const c of ['Landscapes', 'Sunsets', 'Night_scenes', 'Objects', 'Pottery', 'Maiolica', 'Textures', 'Portraits-like']) {
      expect(perCat[c]).toBeGreaterThanOrEqual(20);
    }
  });

  it('has a quality mix and category colours a classifier can tell apart', async () => {
    const stats: { name: string; mean: number; std: number; r: number; b: number }[] = [];
    for (const [name, b] of await rows(`SELECT image_name, bytes FROM ${t(wh, 'image_bytes')} WHERE image_name NOT LIKE 'Broken%' AND image_name NOT LIKE 'Large%'`)) {
      const s = await sharp(Buffer.from((b as { bytes: Uint8Array }).bytes)).flatten().toColourspace('srgb').stats();
      const ch = s.channels.slice(0, 3);
      const mean = ch.reduce((a, c) => a + c.mean, 0) / ch.length;
      const std = ch.reduce((a, c) => a + c.stdev, 0) / ch.length;
      stats.push({ name: String(name), mean, std, r: ch[0]!.mean, b: ch[ch.length - 1]!.mean });
    }
    const dark = stats.filter((s) => s.mean < 35).length;
    const bright = stats.filter((s) => s.mean > 225).length;
    const flat = stats.filter((s) => s.std < 4).length;
    expect(dark).toBeGreaterThanOrEqual(15);
    expect(bright).toBeGreaterThanOrEqual(10);
    expect(flat).toBeGreaterThanOrEqual(10);
    expect(stats.length - dark - bright - flat).toBeGreaterThan(stats.length / 2); // mostly normal
    const avg = (prefix: string, f: (s: (typeof stats)[number]) => number) => {
      const xs = stats.filter((s) => s.name.startsWith(prefix) && s.std >= 4 && s.mean >= 35 && s.mean <= 225);
      return xs.reduce((a, s) => a + f(s), 0) / xs.length;
    };
    expect(avg('Sunset_', (s) => s.r - s.b)).toBeGreaterThan(40); // warm
    expect(avg('Maiolica_plate', (s) => s.b - s.r)).toBeGreaterThan(10); // blue on white
    const night = stats.filter((s) => s.name.startsWith('Night_street')).map((s) => s.mean).sort((a, b) => a - b);
    expect(night[Math.floor(night.length / 2)]).toBeLessThan(40); // mostly dark
  });

  it('is deterministic: a second generation gives the same sha1s', async () => {
    const again = new Map<string, string>();
    for await (const im of demoImages()) again.set(im.name, createHash('sha1').update(im.bytes).digest('hex'));
    expect(again).toEqual(demoSha1);
  });

  it('init --demo again changes nothing', async () => {
    const before = await snapshot(wh);
    await initWarehouse(wh, { demo: true });
    expect(await snapshot(wh)).toEqual(before);
    expect(strayFiles(wh)).toEqual([]);
  });
});

// ── import ──────────────────────────────────────────────────────────────────────────────────────

describe('warehouse import', () => {
  let src: string;
  const solid = (w: number, h: number, r: number, g: number, b: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: { r, g, b } } });

  beforeAll(async () => {
    src = tempDir();
    const put = async (rel: string, data: Buffer | Promise<Buffer>) => {
      fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      fs.writeFileSync(path.join(src, rel), await data);
    };
    const shared = await solid(20, 20, 10, 200, 10).png().toBuffer();
    await put('top level.jpg', solid(16, 8, 1, 2, 3).jpeg().toBuffer());
    await put('notes.txt', Buffer.from('not an image'));
    await put('data.csv', Buffer.from('a,b\n1,2\n'));
    await put('.DS_Store', Buffer.from([0, 0, 0, 1]));
    await put('Red things/apple 1.png', solid(30, 20, 200, 0, 0).png().toBuffer());
    await put('Red things/IMG_0001.jpg', solid(60, 40, 180, 20, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer());
    await put('Red things/shared.png', shared);
    await put('Red things/Dark red/wine.webp', solid(12, 34, 90, 0, 10).webp().toBuffer());
    // same base name, other bytes: "Red things/Dark red/…" comes first in sorted order and keeps the
    // plain name; "Red things/IMG_0001.jpg" becomes Red_things_IMG_0001.jpg
    await put('Red things/Dark red/IMG_0001.jpg', solid(50, 50, 60, 0, 0).jpeg().toBuffer());
    await put('Blue things/shared.png', shared); // same bytes, same name: one image, two categories
    await put('Blue things/sky.gif', solid(8, 8, 0, 0, 255).gif().toBuffer());
    await put('Blue things/scan_without_extension', solid(9, 7, 0, 0, 200).png().toBuffer()); // sniffed
    await put('Blue things/kiln.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30" fill="blue"/></svg>'));
    await put('Blue things/broken.jpg', Buffer.from('definitely not a jpeg')); // image by extension, unreadable
    await put('Empty branch/Leaf/.keep', Buffer.alloc(0));
    await put('.git/objects/ab.png', shared); // hidden folders are not entered
  });

  it('maps folders to categories and subcategories, names and dimensions as documented', async () => {
    const wh = path.join(tempDir(), 'wh');
    const r = await importFolder(src, wh);
    expect(r.images).toBe(10);
    expect(r.skipped).toBe(4); // notes.txt, data.csv, .DS_Store, Empty branch/Leaf/.keep
    expect(r.renamed).toBe(1);
    const names = await column<string>(`SELECT image_name FROM ${t(wh, 'image')} ORDER BY 1`);
    expect(names).toEqual([
      'IMG_0001.jpg',
      'Red_things_IMG_0001.jpg',
      'apple_1.png',
      'broken.jpg',
      'kiln.svg',
      'scan_without_extension',
      'shared.png',
      'sky.gif',
      'top_level.jpg',
      'wine.webp',
    ].sort());
    const cats = await rows(
      `SELECT i.image_name, list(l.category ORDER BY l.category) FROM ${t(wh, 'image')} i LEFT JOIN ${t(wh, 'categorylinks')} l USING (page_id) GROUP BY 1 ORDER BY 1`,
    );
    const byName = Object.fromEntries(cats.map(([n, c]) => [n, (c as { items: unknown[] }).items.filter((x) => x !== null)]));
    expect(byName['shared.png']).toEqual(['Blue_things', 'Red_things']);
    expect(byName['top_level.jpg']).toEqual([]);
    expect(byName['IMG_0001.jpg']).toEqual(['Dark_red']);
    expect(byName['Red_things_IMG_0001.jpg']).toEqual(['Red_things']);
    expect(byName['wine.webp']).toEqual(['Dark_red']);
    expect(await rows(`SELECT category, parent FROM ${t(wh, 'category_parent')} ORDER BY 1`)).toEqual([
      ['Dark_red', 'Red_things'],
      ['Leaf', 'Empty_branch'],
    ]);
    const facts = Object.fromEntries(
      (await rows(`SELECT image_name, width, height, mime, media_type, size FROM ${t(wh, 'image')}`)).map(([n, ...rest]) => [n, rest]),
    );
    expect(facts['Red_things_IMG_0001.jpg']!.slice(0, 3)).toEqual([40, 60, 'image/jpeg']); // stored 60×40, EXIF 6
    expect(facts['IMG_0001.jpg']!.slice(0, 3)).toEqual([50, 50, 'image/jpeg']);
    expect(facts['wine.webp']!.slice(0, 3)).toEqual([12, 34, 'image/webp']);
    expect(facts['kiln.svg']!.slice(0, 4)).toEqual([40, 30, 'image/svg+xml', 'DRAWING']);
    expect(facts['scan_without_extension']!.slice(0, 3)).toEqual([9, 7, 'image/png']);
    expect(facts['broken.jpg']!.slice(0, 4)).toEqual([null, null, 'application/octet-stream', 'UNKNOWN']);
    expect(facts['broken.jpg']![4]).toBe(21n);
    // sha1, page_id and uploaded_at (file mtime)
    const [sha, pid, up] = (await rows(`SELECT sha1, page_id, epoch_ms(uploaded_at) FROM ${t(wh, 'image')} WHERE image_name = 'apple_1.png'`))[0]!;
    const file = path.join(src, 'Red things/apple 1.png');
    expect(sha).toBe(createHash('sha1').update(fs.readFileSync(file)).digest('hex'));
    expect(pid).toBe(pageIdFor('apple_1.png'));
    expect(Number(up)).toBe(fs.statSync(file).mtime.getTime());
    expect(await count(wh, 'image_bytes')).toBe(10);
    expect(strayFiles(wh)).toEqual([]);
  });

  it('importing the same folder twice yields identical tables', async () => {
    const wh = path.join(tempDir(), 'wh');
    await importFolder(src, wh);
    const first = await snapshot(wh);
    const r2 = await importFolder(src, wh);
    expect(await snapshot(wh)).toEqual(first);
    expect(r2.warehouse.counts.image).toBe(10);
  });

  it('streams in small batches with the same result', async () => {
    const wh = path.join(tempDir(), 'wh');
    await importFolder(src, wh, { batchBytes: 1 }); // one stage per image
    const ref = path.join(tempDir(), 'ref');
    await importFolder(src, ref);
    expect(await snapshot(wh)).toEqual(await snapshot(ref));
  });

  it('re-imports 160 MB of multi-MB files through a 128 MB DuckDB memory limit', async () => {
    // Regression: hash joins or sorts over blobs, or blob row groups of 100+ MB, made DuckDB run out
    // of memory here. The merge must stream: filters only, row groups bounded in bytes.
    const big = tempDir();
    fs.mkdirSync(path.join(big, 'Scans'));
    for (let i = 0; i < 40; i++) {
      const b = randomBytes(4 << 20); // incompressible, like real image bytes
      b.set([0xff, 0xd8, 0xff], 0); // a JPEG by its magic, unreadable past it: cheap to describe
      fs.writeFileSync(path.join(big, 'Scans', `scan_${String(i).padStart(2, '0')}.jpg`), b);
    }
    const wh = path.join(tempDir(), 'wh');
    // one thread: deterministic memory use; it needs about 60 MB, so 128 MB leaves a 2× margin
    const opts = { writer: { memoryLimit: '128MB', threads: 1 } };
    await importFolder(big, wh, opts);
    const r = await importFolder(big, wh, opts); // every row replaced: old and new bytes pass through
    fs.rmSync(big, { recursive: true, force: true });
    expect(r.warehouse.counts).toMatchObject({ image: 40, image_bytes: 40, categorylinks: 40 });
    expect(await rows(`SELECT sum(octet_length(bytes)), count(*) FILTER (WHERE sha1(bytes) <> sha1) FROM ${t(wh, 'image_bytes')}`)).toEqual([[160n << 20n, 0n]]);
    const largestGroup = await column<number>(
      `SELECT max(total_compressed_size) FROM parquet_metadata('${path.join(wh, 'image_bytes', 'data.parquet')}') WHERE path_in_schema = 'bytes'`,
    );
    expect(Number(largestGroup[0])).toBeLessThanOrEqual(9 << 20);
  });

  it('rejects a missing source folder and a warehouse inside the source', async () => {
    await expect(importFolder(path.join(src, 'nope'), tempDir())).rejects.toThrow(UsageError);
    await expect(importFolder(src, path.join(src, 'wh'))).rejects.toThrow(/inside the source/);
  });
});

// ── CLI ─────────────────────────────────────────────────────────────────────────────────────────

describe('imgpipe warehouse (CLI)', () => {
  async function cli(...args: string[]): Promise<string> {
    const program = new Command('imgpipe').exitOverride();
    registerWarehouseCommand(program);
    for (const c of program.commands) {
      c.exitOverride();
      for (const s of c.commands) s.exitOverride().configureOutput({ writeErr: () => {} });
    }
    let out = '';
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      process.stdout.write = orig;
    }
    return out;
  }

  it('init and import print a summary', async () => {
    const wh = path.join(tempDir(), 'cli wh');
    const out = await cli('warehouse', 'init', '--warehouse', wh);
    expect(out).toContain('Created warehouse');
    expect(out).toMatch(/image_bytes\s+0 rows/);
    const folder = tempDir();
    fs.mkdirSync(path.join(folder, 'Cats'));
    fs.writeFileSync(path.join(folder, 'Cats', 'a.png'), await sharp({ create: { width: 4, height: 4, channels: 3, background: '#888' } }).png().toBuffer());
    fs.writeFileSync(path.join(folder, 'readme.txt'), 'hi');
    const imp = await cli('warehouse', 'import', folder, '--warehouse', wh);
    expect(imp).toMatch(/1 images .* 1 categories/);
    expect(imp).toContain('skipped 1 non-image files (readme.txt)');
    expect(imp).toMatch(/categorylinks\s+1 rows/);
  });

  it('requires --warehouse, and maps bad input to UsageError', async () => {
    await expect(cli('warehouse', 'init')).rejects.toThrow(/required option/);
    const foreign = tempDir();
    fs.writeFileSync(path.join(foreign, 'x'), 'x');
    await expect(cli('warehouse', 'init', '--warehouse', foreign)).rejects.toThrow(UsageError);
  });
});

// a self-check of the too-many-pixels fixture, independent of the demo
it('pngDeclaring writes a header sharp reads', async () => {
  const m = await sharp(pngDeclaring(123, 456), { limitInputPixels: false }).metadata();
  expect([m.format, m.width, m.height]).toEqual(['png', 123, 456]);
});

describe('warehouse import --sync (mirror a folder: deletions and moves)', () => {
  const solid = (r: number, g: number, b: number) => sharp({ create: { width: 12, height: 10, channels: 3, background: { r, g, b } } }).png().toBuffer();

  it('removes images whose files are gone and moves the links of files that moved; without --sync both stay', async () => {
    const src = tempDir();
    const put = async (rel: string, data: Promise<Buffer>) => {
      fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
      fs.writeFileSync(path.join(src, rel), await data);
    };
    await put('Cats/tabby.png', solid(200, 100, 0));
    await put('Cats/Kittens/small.png', solid(10, 200, 10));
    await put('Dogs/collie.png', solid(0, 0, 200));
    const wh = path.join(tempDir(), 'wh');
    const first = await importFolder(src, wh);
    expect(first.images).toBe(3);
    expect(first.synced).toBeUndefined();

    // The nightly sees: collie.png deleted, tabby.png moved from Cats to Dogs, Kittens gone.
    fs.rmSync(path.join(src, 'Dogs', 'collie.png'));
    fs.renameSync(path.join(src, 'Cats', 'tabby.png'), path.join(src, 'Dogs', 'tabby.png'));
    fs.rmSync(path.join(src, 'Cats', 'Kittens'), { recursive: true });
    fs.mkdirSync(path.join(src, 'Cats', 'Kittens'));
    await put('Cats/Kittens/small.png', solid(10, 200, 10));

    const plainWh = path.join(tempDir(), 'wh');
    await importFolder(src, plainWh); // a fresh import of the folder as it is now, compared with the synced one below
    const plain = await importFolder(src, wh, {}); // without --sync: nothing is removed
    expect(plain.synced).toBeUndefined();
    expect(await column<string>(`SELECT image_name FROM ${t(wh, 'image')} ORDER BY 1`)).toEqual(['collie.png', 'small.png', 'tabby.png']);
    expect(await rows(`SELECT i.image_name, l.category FROM ${t(wh, 'categorylinks')} l JOIN ${t(wh, 'image')} i USING (page_id) WHERE i.image_name = 'tabby.png' ORDER BY 2`)).toEqual([['tabby.png', 'Cats'], ['tabby.png', 'Dogs']]);

    const synced = await importFolder(src, wh, { sync: true });
    expect(synced.synced).toEqual({ imagesRemoved: 1, linksRemoved: 2 }); // collie's link (Dogs) and tabby's old link (Cats)
    expect(await column<string>(`SELECT image_name FROM ${t(wh, 'image')} ORDER BY 1`)).toEqual(['small.png', 'tabby.png']);
    expect(await column<string>(`SELECT image_name FROM ${t(wh, 'image_bytes')} ORDER BY 1`)).toEqual(['small.png', 'tabby.png']);
    expect(await rows(`SELECT i.image_name, l.category FROM ${t(wh, 'categorylinks')} l JOIN ${t(wh, 'image')} i USING (page_id) ORDER BY 1, 2`)).toEqual([['small.png', 'Kittens'], ['tabby.png', 'Dogs']]);
    expect(await rows(`SELECT category, parent FROM ${t(wh, 'category_parent')} ORDER BY 1`)).toEqual([['Kittens', 'Cats']]);
    // The synced warehouse equals a fresh import of the folder as it is now.
    expect(await snapshot(wh)).toEqual(await snapshot(plainWh));
    expect(strayFiles(wh)).toEqual([]);
  });

  it('the CLI prints what the sync removed', async () => {
    const src = tempDir();
    fs.mkdirSync(path.join(src, 'A'));
    fs.writeFileSync(path.join(src, 'A', 'one.png'), await solid(1, 2, 3));
    fs.writeFileSync(path.join(src, 'A', 'two.png'), await solid(4, 5, 6));
    const wh = path.join(tempDir(), 'wh');
    await importFolder(src, wh);
    fs.rmSync(path.join(src, 'A', 'two.png'));
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      const program = new Command().exitOverride();
      registerWarehouseCommand(program);
      await program.parseAsync(['node', 'imgpipe', 'warehouse', 'import', src, '--warehouse', wh, '--sync']);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toContain('  synced: removed 1 images whose files are gone, 1 category links of files that moved or went\n');
    expect(await count(wh, 'image')).toBe(1);
  });
});
