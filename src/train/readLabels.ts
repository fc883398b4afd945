/**
 * Labelled images from a list instead of categories (`train --labels FILE`, `--labels-sql`): pairs of
 * (image_name, label), resolved to catalog rows through a `names` selection. Driver-only; holds the
 * list in memory (a training set).
 *
 * Rules: labels are the distinct label values, sorted (that order is the model's label order); a
 * name listed twice with the same label counts once; a name listed with two or more labels is
 * ambiguous and left out (as an image in two categories is); names the catalog does not have are
 * left out and counted (`not_found`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Catalog, ImageRef } from '../catalog/Catalog.js';
import { duckdbString } from '../catalog/sqlQuote.js';
import { UsageError } from '../util/errors.js';
import { invalidParameterError } from '../util/is.js';
import type { LabelledImage, LabelledSelection } from './selectLabelledImages.js';

export interface LabelPair {
  image_name: string;
  label: string | null;
}

/**
 * The pairs of a CSV (with a header line) or Parquet file with `image_name` and `label` columns.
 * @throws {UsageError} no such file, another extension, missing columns, unreadable content.
 */
export async function readLabelsFile(file: string): Promise<LabelPair[]> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.csv' && ext !== '.parquet') throw invalidParameterError('--labels', 'a .csv or .parquet file with image_name and label columns', file);
  if (!existsSync(file)) throw new UsageError(`Cannot read --labels ${file}: no such file`);
  const source = ext === '.csv' ? `read_csv(${duckdbString(path.resolve(file))}, header = true, all_varchar = true)` : `read_parquet(${duckdbString(path.resolve(file))})`;
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    let columns: string[];
    try {
      columns = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRows().map((r) => String(r[0]));
    } catch (e) {
      throw new UsageError(`Cannot read --labels ${file}: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
    }
    if (!columns.includes('image_name') || !columns.includes('label')) {
      throw new UsageError(`Expected columns image_name and label in --labels ${file} but found ${columns.join(', ')}`);
    }
    const rows = (await connection.runAndReadAll(`SELECT image_name::VARCHAR, label::VARCHAR FROM ${source}`)).getRows();
    return rows.map(([name, label]) => ({ image_name: name === null ? '' : String(name), label: label === null ? null : String(label) }));
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}

/**
 * Resolve labelled pairs through the catalog. `namesFile` receives the distinct names (Parquet,
 * column image_name) for the catalog's `names` selection; the embedding run reads it again.
 * @throws {UsageError} a row without a name or label; fewer than 2 labels; a label with no image in the catalog.
 */
export async function selectLabelledFromList(catalog: Catalog, pairs: readonly LabelPair[], namesFile: string, what: string): Promise<LabelledSelection & { notFound: number }> {
  const bad = pairs.findIndex((p) => p.image_name.trim() === '' || p.label === null || p.label.trim() === '');
  if (bad >= 0) {
    const count = pairs.filter((p) => p.image_name.trim() === '' || p.label === null || p.label.trim() === '').length;
    throw new UsageError(`Expected an image_name and a label on every row of ${what} but ${count} ${count === 1 ? 'row has' : 'rows have'} none (first: row ${bad + 1})`);
  }
  const labelsOf = new Map<string, Set<string>>();
  for (const p of pairs) {
    const name = p.image_name.replaceAll(' ', '_');
    let set = labelsOf.get(name);
    if (!set) labelsOf.set(name, (set = new Set()));
    set.add(p.label!);
  }
  const labels = [...new Set(pairs.map((p) => p.label!))].sort();
  if (labels.length < 2) throw new UsageError(`Expected at least 2 distinct labels in ${what} but received ${labels.length}${labels.length ? ` (${JSON.stringify(labels[0])})` : ''}`);
  await writeNamesFile(namesFile, [...labelsOf.keys()]);
  const refs = new Map<string, ImageRef>();
  for await (const batch of catalog.select({ kind: 'names', file: namesFile, what })) for (const ref of batch) refs.set(ref.image_name, ref);

  const index = new Map(labels.map((l, i) => [l, i]));
  const perCategory = labels.map(() => ({ selected: 0, overlap: 0 }));
  const images: LabelledImage[] = [];
  const overlaps: LabelledSelection['overlaps'] = [];
  for (const [name, set] of [...labelsOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ref = refs.get(name);
    if (!ref) continue;
    const ids = [...set].map((l) => index.get(l)!).sort((a, b) => a - b);
    for (const id of ids) perCategory[id]!.selected++;
    if (ids.length === 1) images.push({ ref, label: ids[0]! });
    else {
      overlaps.push({ ref, labels: ids });
      for (const id of ids) perCategory[id]!.overlap++;
    }
  }
  perCategory.forEach((c, i) => {
    if (c.selected === 0) throw new UsageError(`Expected images labelled ${JSON.stringify(labels[i])} in ${what} but none of them is in the catalog`);
  });
  return { categories: labels, images, overlaps, perCategory, notFound: labelsOf.size - refs.size };
}

/** Write names as a one-column Parquet file (through an appender: no SQL text from values). */
export async function writeNamesFile(file: string, names: Iterable<string>): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run('CREATE TEMP TABLE names (image_name VARCHAR)');
    const appender = await connection.createAppender('names');
    for (const name of names) {
      appender.appendVarchar(name);
      appender.endRow();
    }
    appender.closeSync();
    await connection.run(`COPY (SELECT DISTINCT image_name FROM names ORDER BY 1) TO ${duckdbString(file)} (FORMAT parquet)`);
  } finally {
    connection.disconnectSync();
    instance.closeSync();
  }
}
