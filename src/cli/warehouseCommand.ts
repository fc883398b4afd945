/**
 * `imgpipe warehouse init --warehouse DIR [--demo]`, `imgpipe warehouse import SRC_DIR --warehouse DIR [--sync]`
 * and `imgpipe warehouse import-mediawiki --warehouse DIR --from EXPORTS --mediawiki-snapshot YYYY-MM`
 * (design.md, CLI contract). Print a short human summary on stdout. Bad input (DIR is a file or a
 * foreign non-empty folder, SRC_DIR missing, the warehouse locked by another writer) throws
 * UsageError, which main.ts turns into exit code 2.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { ImportResult } from '../warehouse/importFolder.js';
import { parseMediaWikiSource } from '../catalog/mediawikiSource.js';
import type { InitResult, WarehouseSummary } from '../warehouse/initWarehouse.js';
import { SOURCE_TABLE_NAMES } from '../warehouse/warehouseSchema.js';

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
      const { initWarehouse } = await import('../warehouse/initWarehouse.js'); // the writers load sharp and DuckDB: only when used
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
      const { importFolder } = await import('../warehouse/importFolder.js');
      const result = await importFolder(srcDir, opts.warehouse, { sync: opts.sync });
      process.stdout.write(formatImport(result, srcDir));
    });

  warehouse
    .command('import-mediawiki')
    .description(
      'import exports of the MediaWiki replica tables (mediawiki_image, mediawiki_page, mediawiki_categorylinks: ' +
        'TABLE.parquet, TABLE.csv with a header, or a folder TABLE/ of Parquet files) at one snapshot and wiki, ' +
        'for `run --source mediawiki` on the embedded warehouse. Importing the same partition again replaces it.',
    )
    .requiredOption('--warehouse <dir>', 'warehouse folder (made by `warehouse init`)')
    .requiredOption('--from <dir>', 'folder holding the three exports')
    .requiredOption('--mediawiki-snapshot <yyyy-mm>', 'the snapshot partition the rows belong to, e.g. 2026-10')
    .option('--wiki-db <name>', 'the wiki_db partition (default commonswiki)')
    .action(async (opts: { warehouse: string; from: string; mediawikiSnapshot: string; wikiDb?: string }) => {
      const source = parseMediaWikiSource(opts.mediawikiSnapshot, opts.wikiDb);
      const { importMediaWiki } = await import('../warehouse/importMediaWiki.js');
      const result = await importMediaWiki(opts.warehouse, opts.from, source);
      let out = `Imported the MediaWiki replicas at snapshot=${source.snapshot}/wiki_db=${source.wiki_db} into ${path.resolve(opts.warehouse)}\n`;
      for (const [table, rows] of Object.entries(result.rows)) out += `  ${table.padEnd(24)}  ${rows} rows  (from ${result.from[table as keyof typeof result.from]})\n`;
      out += `Next: imgpipe run --warehouse ${quoteArg(opts.warehouse)} --source mediawiki --mediawiki-snapshot ${source.snapshot} --bytes-preset commons-thumb --model NAME --all\n`;
      process.stdout.write(out);
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
