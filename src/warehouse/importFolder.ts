/**
 * `warehouse import SRC_DIR`: load a folder of image files into a warehouse (created if DIR is
 * missing or empty).
 *
 * Mapping, deterministic for a given folder:
 *  - a file directly in folder F is in category F (spaces → underscores, as on Commons); files at the
 *    top level have no category; a folder G inside F gives the edge G → F in `category_parent`;
 *  - image_name = base name with spaces → underscores. Files are visited depth-first with entries in
 *    byte order of their names; when a later file has the name of an earlier one with different
 *    bytes, it is named after its folder path (`Folder_Sub_IMG_0001.jpg`, then `…_2.jpg` if needed).
 *    The same bytes under the same name in two folders are ONE image in two categories;
 *  - a file is imported when its extension is an image extension or its first bytes are a known
 *    image format; other files (and dot-files) are skipped and counted. Unreadable images are still
 *    imported (NULL width/height): the decoder turns them into error rows.
 *
 * Files are read one at a time and staged in bounded batches; the tables change only at the final
 * commit, so a failed import leaves the warehouse as it was. Re-importing a folder duplicates nothing
 * (rows are upserted by key). Hidden folders and symlinked folders are not descended into.
 *
 * `sync` (`--sync`): the warehouse mirrors the folder. Images whose files are gone are removed (with
 * their bytes), and the category links and subcategory edges become exactly the folder's, so a file
 * moved to another folder leaves its old category. Rows imported from anywhere else are removed too:
 * sync one folder per warehouse. The change is one commit, as without `sync`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { UsageError } from '../util/errors.js';
import { BatchBuffer } from './BatchBuffer.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { IMAGE_EXTENSIONS, commonsName, describeImage, imageRowOf, pageIdFor, sniffFormat } from './imageFacts.js';
import { summarize, type WarehouseSummary } from './initWarehouse.js';
import { WarehouseWriter, type WarehouseWriterOptions } from './WarehouseWriter.js';

export interface ImportResult {
  images: number; // distinct images imported (this run)
  bytes: number; // total size of their files
  categories: number; // distinct categories seen in this folder (links and tree)
  categoryLinks: number; // (image, category) pairs
  subcategoryEdges: number; // category_parent edges
  renamed: number; // images named after their folder path because the base name was taken
  skipped: number; // files that are not images
  skippedExamples: string[]; // up to 5 relative paths, for the message
  warehouse: WarehouseSummary; // the whole warehouse after the import
  /** With `sync`: images removed (their files are gone) and category links dropped (files moved or gone). */
  synced?: { imagesRemoved: number; linksRemoved: number };
}

interface FileEntry {
  abs: string;
  rel: string; // relative to the source folder, with '/'
  folders: string[]; // folder path parts from the source root
}

interface DirEntry {
  folders: string[];
}

export async function importFolder(
  srcDir: string,
  warehouseDir: string,
  options: { batchBytes?: number; writer?: WarehouseWriterOptions; sync?: boolean } = {},
): Promise<ImportResult> {
  const root = path.resolve(srcDir);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new UsageError(`source folder ${srcDir} does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`source ${srcDir} is not a folder`);
  const warehouseAbs = path.resolve(warehouseDir);
  if (warehouseAbs === root || warehouseAbs.startsWith(root + path.sep)) {
    throw new UsageError(`the warehouse ${warehouseDir} must not be inside the source folder ${srcDir}`);
  }

  const writer = await WarehouseWriter.create(warehouseDir, options.writer);
  try {
    if (!writer.isWarehouse) await writer.init();
    const buffer = new BatchBuffer(writer, options.batchBytes !== undefined ? { maxBytes: options.batchBytes } : {});
    const names = new Map<string, string>(); // image_name → sha1, for this import
    const links = new Set<string>(); // "page_id category"
    const edges = new Set<string>(); // "child parent"
    const categories = new Set<string>();
    const r = { images: 0, bytes: 0, renamed: 0, skipped: 0, skippedExamples: [] as string[] };

    for await (const entry of walk(root)) {
      if ('abs' in entry) {
        const bytes = await readIfImage(entry.abs);
        if (bytes === null) {
          r.skipped++;
          if (r.skippedExamples.length < 5) r.skippedExamples.push(entry.rel);
          continue;
        }
        const facts = await describeImage(bytes);
        const { name, isNew, renamed } = chooseName(entry, facts.sha1, names);
        const page_id = pageIdFor(name);
        if (isNew) {
          const mtime = fs.statSync(entry.abs).mtime;
          const row = imageRowOf(name, page_id, facts, mtime);
          await buffer.addImage(row, bytes);
          r.images++;
          r.bytes += bytes.length;
          if (renamed) r.renamed++;
        }
        const category = categoryOf(entry.folders);
        if (category !== null && !links.has(`${page_id} ${category}`)) {
          links.add(`${page_id} ${category}`);
          categories.add(category);
          await buffer.addLink({ page_id, category });
        }
      } else {
        // a folder inside another folder: a subcategory edge child → parent
        const child = categoryOf(entry.folders);
        const parent = categoryOf(entry.folders.slice(0, -1));
        if (child === null) continue;
        categories.add(child);
        if (parent === null || parent === child || edges.has(`${child}\n${parent}`)) continue;
        edges.add(`${child}\n${parent}`);
        categories.add(parent);
        await buffer.addParent({ category: child, parent });
      }
    }
    await buffer.flush();
    const synced = options.sync ? await syncCounts(writer.dir, names, links) : undefined;
    await writer.commit({ replace: options.sync ?? false });
    return {
      ...r,
      ...(synced ? { synced } : {}),
      categories: categories.size,
      categoryLinks: links.size,
      subcategoryEdges: edges.size,
      warehouse: await summarize(writer),
    };
  } finally {
    writer.close();
  }
}

/** What a sync commit will drop: committed images not imported now, committed links not seen now. */
async function syncCounts(warehouseDir: string, names: ReadonlyMap<string, string>, links: ReadonlySet<string>): Promise<{ imagesRemoved: number; linksRemoved: number }> {
  const read = async (table: string, sql: string): Promise<unknown[][]> => {
    const dir = path.join(warehouseDir, table);
    if (!fs.existsSync(dir) || !fs.readdirSync(dir).some((f) => f.endsWith('.parquet'))) return [];
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql.replace('$T', `read_parquet(${duckdbString(path.join(dir, '*.parquet'))})`))).getRows();
    } finally {
      connection.disconnectSync();
      instance.closeSync();
    }
  };
  const images = await read('image', 'SELECT image_name FROM $T');
  const oldLinks = await read('categorylinks', 'SELECT page_id, category FROM $T');
  return {
    imagesRemoved: images.filter(([n]) => !names.has(String(n))).length,
    linksRemoved: oldLinks.filter(([p, c]) => !links.has(`${p} ${c}`)).length,
  };
}

/** The category of a file in these folders: the innermost folder's Commons name, or null at the top. */
function categoryOf(folders: readonly string[]): string | null {
  const last = folders[folders.length - 1];
  if (last === undefined) return null;
  const name = commonsName(last);
  return name === '' ? null : name;
}

/**
 * The image name for a file: its Commons base name unless another file with different bytes took it
 * in this import, then the folder-path-prefixed name, then numbered variants. `isNew` is false when the
 * same bytes were already imported under that name (one image in another category).
 */
function chooseName(
  entry: FileEntry,
  sha1: string,
  names: Map<string, string>,
): { name: string; isNew: boolean; renamed: boolean } {
  const base = commonsName(path.basename(entry.abs));
  const prefix = entry.folders.map(commonsName).filter((s) => s !== '').join('_');
  const prefixed = prefix === '' ? base : `${prefix}_${base}`;
  const ext = path.extname(prefixed);
  const stem = prefixed.slice(0, prefixed.length - ext.length);
  function* candidates(): Generator<string> {
    yield base;
    if (prefixed !== base) yield prefixed;
    for (let n = 2; ; n++) yield `${stem}_${n}${ext}`;
  }
  for (const name of candidates()) {
    const seen = names.get(name);
    if (seen === undefined) {
      names.set(name, sha1);
      return { name, isNew: true, renamed: name !== base };
    }
    if (seen === sha1) return { name, isNew: false, renamed: name !== base };
  }
  throw new Error('unreachable');
}

/** The whole file if it is an image by extension or by content; null for anything else. */
async function readIfImage(file: string): Promise<Uint8Array | null> {
  if (IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) return fs.promises.readFile(file);
  const fh = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(1024);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (sniffFormat(head.subarray(0, bytesRead)) === null) return null;
  } finally {
    await fh.close();
  }
  return fs.promises.readFile(file);
}

/**
 * Depth-first walk yielding files and folders (a folder before its contents), entries of each folder
 * in byte order of their names. Dot-files are yielded as files (so they count as skipped); dot-folders
 * and symlinked folders are not entered.
 */
async function* walk(root: string, folders: string[] = []): AsyncGenerator<FileEntry | DirEntry> {
  const dir = path.join(root, ...folders);
  const entries = (await fs.promises.readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const target = await fs.promises.stat(abs).catch(() => null);
      isFile = target?.isFile() ?? false; // symlinked files are read, symlinked folders are not entered
    }
    if (isFile) {
      yield { abs, rel: [...folders, e.name].join('/'), folders };
    } else if (e.isDirectory() && !e.name.startsWith('.')) {
      const sub = [...folders, e.name];
      yield { folders: sub };
      yield* walk(root, sub);
    }
  }
}
