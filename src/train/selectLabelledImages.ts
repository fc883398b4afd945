/**
 * The labelled images of a training run: each given category (with its subcategories down to
 * `depth`) is selected through the catalog; an image found under two or more of the given categories
 * is ambiguous and left out (counted, and listed). Driver-only; holds the selection in memory (a
 * training set, not the whole of Commons).
 */
import type { Catalog, ImageRef } from '../catalog/Catalog.js';
import { UsageError } from '../util/errors.js';

export interface LabelledImage {
  ref: ImageRef;
  /** Index into the categories. */
  label: number;
}

export interface LabelledSelection {
  categories: string[];
  images: LabelledImage[];
  /** Images under two or more of the categories, left out; sorted by name. */
  overlaps: { ref: ImageRef; labels: number[] }[];
  /** Per category: images selected, and of those left out as overlaps. */
  perCategory: { selected: number; overlap: number }[];
}

/**
 * @throws {UsageError} an unknown category (from the catalog), or a category that selects no image.
 */
export async function selectLabelledImages(catalog: Catalog, categories: readonly string[], depth: number): Promise<LabelledSelection> {
  const found = new Map<string, { ref: ImageRef; labels: number[] }>();
  const perCategory = categories.map(() => ({ selected: 0, overlap: 0 }));
  for (let c = 0; c < categories.length; c++) {
    for await (const batch of catalog.select({ kind: 'category', category: categories[c]!, depth })) {
      for (const ref of batch) {
        perCategory[c]!.selected++;
        const entry = found.get(ref.image_name);
        if (entry) entry.labels.push(c);
        else found.set(ref.image_name, { ref, labels: [c] });
      }
    }
    if (perCategory[c]!.selected === 0) {
      throw new UsageError(`Expected images in category ${JSON.stringify(categories[c])}${depth > 0 ? ` (depth ${depth})` : ''} but it selects none`);
    }
  }
  const images: LabelledImage[] = [];
  const overlaps: LabelledSelection['overlaps'] = [];
  for (const entry of [...found.values()].sort((a, b) => (a.ref.image_name < b.ref.image_name ? -1 : 1))) {
    if (entry.labels.length === 1) images.push({ ref: entry.ref, label: entry.labels[0]! });
    else {
      overlaps.push(entry);
      for (const l of entry.labels) perCategory[l]!.overlap++;
    }
  }
  return { categories: [...categories], images, overlaps, perCategory };
}
