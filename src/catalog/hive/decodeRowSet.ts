/**
 * One FetchResults page (HiveServer2's columnar TRowSet, protocol V6 and later) to rows of JS values,
 * columns in the schema's position order. Unlike hive-driver's JsonResult it keeps BIGINT exact
 * (`bigint`, where JsonResult goes through a lossy `toNumber()`), BINARY as bytes, and does not
 * concatenate pages: callers decode a page, use it, and drop it.
 *
 * Values: STRING/VARCHAR/CHAR/DECIMAL/TIMESTAMP/DATE/complex types → string; TINYINT/SMALLINT/INT/FLOAT/
 * DOUBLE → number; BIGINT → bigint; BOOLEAN → boolean; BINARY → Uint8Array; NULL → null.
 */

/** hive-driver's TColumnDesc, as much as we read. */
export interface ColumnDesc {
  columnName: string;
  position: number;
}

interface ColumnValues {
  values: unknown[];
  nulls: Uint8Array;
}
type ThriftColumn = Partial<Record<'boolVal' | 'byteVal' | 'i16Val' | 'i32Val' | 'i64Val' | 'doubleVal' | 'stringVal' | 'binaryVal', ColumnValues | null>>;

export interface ThriftRowSet {
  columns?: ThriftColumn[] | null;
}

export type HiveValue = string | number | bigint | boolean | Uint8Array | null;

/** node-int64's Int64 (what Thrift reads an i64 into): 8 big-endian bytes at `offset`. */
interface Int64Like {
  buffer: Buffer;
  offset?: number;
}

const KINDS = ['boolVal', 'byteVal', 'i16Val', 'i32Val', 'i64Val', 'doubleVal', 'stringVal', 'binaryVal'] as const;

/**
 * Decode one page. `columns` is the result-set schema (GetResultSetMetadata); the page's columns are
 * in its position order.
 * @throws {Error} when the page is row-based (protocol before V6) or its column count differs from the schema.
 */
export function decodeRowSet(columns: readonly ColumnDesc[], rowSet: ThriftRowSet): HiveValue[][] {
  const data = rowSet.columns ?? [];
  if (data.length === 0) return [];
  if (data.length !== columns.length) throw new Error(`HiveServer2 returned ${data.length} columns for a schema of ${columns.length}`);
  // The page's columns come in position order, as the schema numbers them.
  const decoded = data.map(decodeColumn);
  const count = decoded[0]!.length;
  const rows: HiveValue[][] = new Array(count);
  for (let r = 0; r < count; r++) rows[r] = decoded.map((c) => c[r]!);
  return rows;
}

function decodeColumn(column: ThriftColumn): HiveValue[] {
  for (const kind of KINDS) {
    const col = column[kind];
    if (!col) continue;
    const isNull = (i: number) => ((col.nulls[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
    return col.values.map((v, i): HiveValue => {
      if (isNull(i)) return null;
      switch (kind) {
        case 'i64Val': {
          const int64 = v as Int64Like;
          return int64.buffer.readBigInt64BE(int64.offset ?? 0);
        }
        case 'binaryVal':
          return v instanceof Uint8Array ? v : Buffer.from(String(v), 'binary');
        case 'stringVal':
          return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v);
        default:
          return v as number | boolean;
      }
    });
  }
  throw new Error('HiveServer2 returned a column of an unknown kind');
}
