/**
 * The embedded warehouse's source tables: a folder `<warehouse>/<table>/` of Parquet files per table
 * (Hive layout, no partition columns), mirroring the Commons tables on the analytics cluster.
 * Column names and DuckDB types below are the contract for `warehouse init|import` and for selection.
 */
export const SOURCE_TABLES = {
  image: [
    ['image_name', 'VARCHAR'], // Commons file name, unique key
    ['page_id', 'BIGINT'], // stable id of the file page
    ['sha1', 'VARCHAR'], // hex sha1 of the bytes
    ['media_type', 'VARCHAR'], // BITMAP, DRAWING, UNKNOWN
    ['mime', 'VARCHAR'], // image/jpeg …, application/octet-stream when unknown
    ['width', 'INTEGER'], // from the header, after EXIF orientation; NULL when unreadable
    ['height', 'INTEGER'],
    ['size', 'BIGINT'], // bytes
    ['uploaded_at', 'TIMESTAMP'],
  ],
  image_bytes: [
    ['image_name', 'VARCHAR'],
    ['sha1', 'VARCHAR'],
    ['bytes', 'BLOB'],
  ],
  categorylinks: [
    ['page_id', 'BIGINT'], // cl_from
    ['category', 'VARCHAR'], // cl_to (category name without the "Category:" prefix)
  ],
  category_parent: [
    ['category', 'VARCHAR'], // a subcategory …
    ['parent', 'VARCHAR'], // … and the category that contains it
  ],
} as const;

export type SourceTableName = keyof typeof SOURCE_TABLES;
export const SOURCE_TABLE_NAMES = Object.keys(SOURCE_TABLES) as SourceTableName[];

/** The contract's columns of a table as [name, DuckDB type] pairs. */
export const columnsOf = (table: SourceTableName): ReadonlyArray<readonly [string, string]> => SOURCE_TABLES[table];
