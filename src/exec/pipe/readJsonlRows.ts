/**
 * JSON lines in → windows of PipeRows: one object per line with image_name, optional page_id
 * (number or decimal string), sha1 and bytes (base64; absent or null: fetched). Blank lines are
 * skipped; other keys ignored. Reads stdin chunk by chunk (pull-based, so a slow scorer holds the
 * writer back) and keeps only the current window and one partial line.
 *
 * If a line is not a JSON object or breaks the column types, it throws a UsageError naming the line
 * (1-based); rows before it were already written.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from '../../util/errors.js';
import type { PipeRow } from './PipeRow.js';
import { describe, pageId } from './readArrowRows.js';

export async function* readJsonlRows(input: Readable, windowRows: number): AsyncGenerator<PipeRow[]> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let lineNumber = 0;
  let window: PipeRow[] = [];
  const take = (line: string): PipeRow | null => {
    lineNumber++;
    if (line.trim() === '') return null;
    return parseLine(line, lineNumber);
  };
  for await (const chunk of input) {
    const text = carry + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const row = take(text.slice(start, nl));
      start = nl + 1;
      if (row) window.push(row);
      if (window.length === windowRows) {
        yield window;
        window = [];
      }
    }
    carry = text.slice(start);
  }
  const last = take(carry + decoder.end());
  if (last) window.push(last);
  if (window.length > 0) yield window;
}

function parseLine(line: string, n: number): PipeRow {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new UsageError(`Input line ${n}: not JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`Input line ${n}: expected a JSON object but received ${describe(v)}`);
  const o = v as Record<string, unknown>;
  if (typeof o.image_name !== 'string' || o.image_name === '') {
    throw new UsageError(`Input line ${n}: expected a non-empty string for image_name but received ${describe(o.image_name)}`);
  }
  const sha1 = o.sha1 ?? null;
  if (sha1 !== null && typeof sha1 !== 'string') throw new UsageError(`Input line ${n}: expected a string or null for sha1 but received ${describe(sha1)}`);
  const b64 = o.bytes ?? null;
  if (b64 !== null && (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64))) {
    throw new UsageError(`Input line ${n}: expected base64 or null for bytes but received ${describe(b64)}`);
  }
  const bytes = b64 === null ? null : new Uint8Array(Buffer.from(b64, 'base64'));
  return { image_name: o.image_name, page_id: pageId(o.page_id ?? null, n), sha1, bytes };
}
