/**
 * Arrow IPC stream in → windows of PipeRows. Reads one record batch at a time (Spark's
 * `maxRecordsPerBatch` rows) and slices it into windows of at most `windowRows`; only the batch being
 * sliced is held, never the whole input.
 *
 * Accepted column types: image_name Utf8/LargeUtf8 (required, non-null); page_id any integer type or
 * a decimal string; sha1 Utf8; bytes Binary/LargeBinary (absent or null: fetched). Other columns
 * are ignored. If a row breaks this, it throws a UsageError naming the row (1-based, over the whole
 * stream) and column; rows before it were already written.
 */
import type { Readable } from 'node:stream';
import { RecordBatchReader, type RecordBatch, type Vector } from 'apache-arrow';
import { UsageError } from '../../util/errors.js';
import type { PipeRow } from './PipeRow.js';

export async function* readArrowRows(input: Readable, windowRows: number): AsyncGenerator<PipeRow[]> {
  let reader: RecordBatchReader;
  try {
    reader = await RecordBatchReader.from(input);
  } catch (e) {
    throw new UsageError(`stdin is not a valid Arrow IPC stream (${(e as Error).message}); for JSON lines pass --input-format jsonl`);
  }
  let rowNumber = 0;
  let checkedSchema = false;
  for await (const batch of notArrowIsUsage(reader as AsyncIterable<RecordBatch>)) {
    if (!checkedSchema) {
      checkedSchema = true;
      const names = batch.schema.fields.map((f) => f.name);
      if (!names.includes('image_name')) {
        throw new UsageError(`Expected an image_name column in the Arrow input but received columns: ${names.join(', ') || '(none)'}`);
      }
    }
    const col = (name: string): Vector | null => batch.getChild(name);
    const names = col('image_name')!;
    const pageIds = col('page_id');
    const sha1s = col('sha1');
    const bytes = col('bytes');
    let window: PipeRow[] = [];
    for (let i = 0; i < batch.numRows; i++) {
      rowNumber++;
      window.push({
        image_name: imageName(names.get(i), rowNumber),
        page_id: pageId(pageIds?.get(i) ?? null, rowNumber),
        sha1: nullableString(sha1s?.get(i) ?? null, 'sha1', rowNumber),
        bytes: ownBytes(bytes?.get(i) ?? null, rowNumber),
      });
      if (window.length === windowRows) {
        yield window;
        window = [];
      }
    }
    if (window.length > 0) yield window;
  }
}

/** Errors of the IPC reader itself (not Arrow, a length past the end) are bad input: exit 2. */
async function* notArrowIsUsage(batches: AsyncIterable<RecordBatch>): AsyncGenerator<RecordBatch> {
  const it = batches[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<RecordBatch>;
    try {
      next = await it.next();
    } catch (e) {
      throw new UsageError(`stdin is not a valid Arrow IPC stream (${(e as Error).message}); for JSON lines pass --input-format jsonl`);
    }
    if (next.done) return;
    yield next.value;
  }
}

function imageName(v: unknown, row: number): string {
  if (typeof v !== 'string' || v === '') throw new UsageError(`Input row ${row}: expected a non-empty string for image_name but received ${describe(v)}`);
  return v;
}

/** @private */
export function pageId(v: unknown, row: number): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) return v;
  throw new UsageError(`Input row ${row}: expected an integer or null for page_id but received ${describe(v)}`);
}

function nullableString(v: unknown, column: string, row: number): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new UsageError(`Input row ${row}: expected a string or null for ${column} but received ${describe(v)}`);
  return v;
}

function ownBytes(v: unknown, row: number): Uint8Array | null {
  if (v === null || v === undefined) return null;
  if (!(v instanceof Uint8Array)) throw new UsageError(`Input row ${row}: expected binary or null for bytes but received ${describe(v)}`);
  // A copy that owns its buffer: the value is a view into the batch, and the scorer transfers buffers.
  return new Uint8Array(v);
}

/** @private */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return v.constructor?.name ?? 'object';
  return `${typeof v} ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v)?.slice(0, 40)}`;
}
