/**
 * The metastore statements for a result table: the external table over the table location, and one
 * partition per committed `model=…/snapshot=…` folder. Both are idempotent (`IF NOT EXISTS`), so a
 * re-run or a resumed driver registers the same partition again harmlessly. Names go through
 * `hiveIdentifier`, values and locations through `hiveString` (sqlQuote.ts).
 */
import type { RESULT_COLUMNS } from '../../sink/resultRow.js';
import { hiveIdentifier, hiveQualified, hiveString } from '../sqlQuote.js';

/** The result-row contract's columns as Hive types, in the contract's order. */
export const RESULT_HIVE_COLUMNS: readonly (readonly [(typeof RESULT_COLUMNS)[number], string])[] = [
  ['image_name', 'string'],
  ['page_id', 'bigint'],
  ['sha1', 'string'],
  ['status', 'string'],
  ['error', 'string'],
  ['label', 'string'],
  ['score', 'float'],
  ['top_k', 'array<struct<label:string,score:float>>'],
  ['embedding', 'array<float>'],
  ['width', 'int'],
  ['height', 'int'],
  ['run_id', 'string'],
  ['processed_at', 'timestamp'],
  ['detections', 'array<struct<label:string,score:float,x:float,y:float,w:float,h:float>>'],
  ['keypoints', 'array<array<float>>'],
  ['count', 'int'],
  ['max_area_ratio', 'float'],
  ['sum_area_ratio', 'float'],
];

export function createResultTableDdl(database: string, table: string, location: string): string {
  const columns = RESULT_HIVE_COLUMNS.map(([name, type]) => `  ${hiveIdentifier(name)} ${type}`).join(',\n');
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${hiveQualified(database, table)} (`,
    columns,
    ')',
    'PARTITIONED BY (`model` string, `snapshot` string)',
    'STORED AS PARQUET',
    `LOCATION ${hiveString(location)}`,
  ].join('\n');
}

export function addResultPartitionDdl(database: string, table: string, model: string, snapshot: string, location: string): string {
  return `ALTER TABLE ${hiveQualified(database, table)} ADD IF NOT EXISTS PARTITION (\`model\`=${hiveString(model)}, \`snapshot\`=${hiveString(snapshot)}) LOCATION ${hiveString(location)}`;
}
