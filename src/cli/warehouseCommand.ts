/**
 * `imgpipe warehouse init --warehouse DIR [--demo]` and `imgpipe warehouse import SRC_DIR --warehouse DIR`
 * (design.md, CLI contract). Print a short human summary on stdout. Bad input (DIR is a file or a
 * foreign non-empty folder, SRC_DIR missing, the warehouse locked by another writer) throws
 * UsageError, which main.ts turns into exit code 2.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { importFolder, type ImportResult } from '../catalog/importFolder.js';
import { initWarehouse, type InitResult, type WarehouseSummary } from '../catalog/initWarehouse.js';
import { SOURCE_TABLE_NAMES } from '../catalog/warehouseSchema.js';

export function registerWarehouseCommand(program: Command): void {
  const warehouse = program
    .command('warehouse')
    .description('create and fill the embedded warehouse (a folder of Parquet tables queried with DuckDB)');

  warehouse
    .command('init')
    .description(
      'make DIR a warehouse with empty image, image_bytes, categorylinks and category_parent tables; ' +
        'with --demo, also load ~300 generated demo images (a category tree, every common format, ' +
        'and a few deliberately broken files). Repeating it keeps existing data.',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder (created if missing; must be empty or a warehouse)')
    .option('--demo', 'load the built-in demo image set', false)
    .action(async (opts: { warehouse: string; demo: boolean }) => {
      const result = await initWarehouse(opts.warehouse, { demo: opts.demo });
      process.stdout.write(formatInit(result, opts.warehouse));
    });

  warehouse
    .command('import')
    .description(
      'import a folder of image files: files in a sub-folder get that folder as category ' +
        '(spaces become underscores), nested folders become subcategories, non-image files are ' +
        'skipped. Importing again updates rows instead of duplicating them.',
    )
    .argument('<src_dir>', 'folder of images to import')
    .requiredOption('--warehouse <dir>', 'warehouse folder (created if missing or empty)')
    .option('--sync', 'mirror the folder: remove images whose files are gone, and move the category links of files that moved (drops rows imported from elsewhere too)', false)
    .action(async (srcDir: string, opts: { warehouse: string; sync: boolean }) => {
      const result = await importFolder(srcDir, opts.warehouse, { sync: opts.sync });
      process.stdout.write(formatImport(result, srcDir));
    });
}

function formatTables(s: WarehouseSummary): string {
  const width = Math.max(...SOURCE_TABLE_NAMES.map((t) => t.length));
  const lines = SOURCE_TABLE_NAMES.map((t) => `  ${t.padEnd(width)}  ${s.counts[t]} rows`);
  lines.push(`  ${'categories'.padEnd(width)}  ${s.categories}`);
  return lines.join('\n') + '\n';
}

export function formatInit(r: InitResult, shownDir: string): string {
  let out = r.existed
    ? `Warehouse ${r.warehouse.dir} already existed; its tables were kept.\n`
    : `Created warehouse ${r.warehouse.dir}\n`;
  if (r.existed && r.tablesCreated.length > 0) out += `Added missing tables: ${r.tablesCreated.join(', ')}\n`;
  out += formatTables(r.warehouse);
  if (r.demo) {
    const broken = Object.entries(r.demo.broken);
    out += `Demo set: ${r.demo.images} images, ${broken.length} of them broken on purpose (expected error):\n`;
    const width = Math.max(...broken.map(([name]) => name.length));
    for (const [name, reason] of broken) out += `  ${name.padEnd(width)}  ${reason}\n`;
  }
  out += `Next: imgpipe run --warehouse ${quoteArg(shownDir)} --model NAME --all\n`;
  return out;
}

export function formatImport(r: ImportResult, srcDir: string): string {
  let out = `Imported ${path.resolve(srcDir)} into ${r.warehouse.dir}\n`;
  out += `  ${r.images} images (${(r.bytes / 1e6).toFixed(1)} MB), ${r.categories} categories, `;
  out += `${r.categoryLinks} category links, ${r.subcategoryEdges} subcategory edges\n`;
  if (r.renamed > 0) out += `  ${r.renamed} images named after their folder path (the base name was taken)\n`;
  if (r.skipped > 0) {
    const more = r.skipped > r.skippedExamples.length ? ', …' : '';
    out += `  skipped ${r.skipped} non-image files (${r.skippedExamples.join(', ')}${more})\n`;
  }
  if (r.synced) out += `  synced: removed ${r.synced.imagesRemoved} images whose files are gone, ${r.synced.linksRemoved} category links of files that moved or went\n`;
  out += 'Warehouse now holds:\n' + formatTables(r.warehouse);
  return out;
}

const quoteArg = (s: string): string => (/^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
