/**
 * Growable Arrow column buffers, filled value by value from plain JS values and turned into Arrow
 * `Data` with `makeData` over the typed arrays themselves (no per-value objects, no Arrow row
 * builders): a string column is one UTF-8 byte buffer plus int32 offsets, a float list column is
 * one Float32Array child plus int32 offsets. Each buffer grows by doubling; `finish()` hands out
 * views of the filled part, after which the column must not be appended to again.
 */
import {
  type Data,
  type DataType,
  Float32,
  Int32,
  Int64,
  type List,
  makeData,
  type Struct,
  type TimestampMillisecond,
  Utf8,
} from 'apache-arrow';

function grownCapacity(current: number, needed: number): number {
  let next = Math.max(current, 16);
  while (next < needed) next *= 2;
  return next;
}

/** An Arrow validity bitmap (bit i set = value i present), grown with its column. */
export class ValidityBitmap {
  private bits: Uint8Array;
  private nulls = 0;

  constructor(capacity: number) {
    this.bits = new Uint8Array((capacity + 7) >> 3);
  }

  /** Record value `index` as present or null; indices arrive in order. */
  set(index: number, present: boolean): void {
    const byte = index >> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(grownCapacity(this.bits.length, byte + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    if (present) this.bits[byte]! |= 1 << (index & 7);
    else this.nulls++;
  }

  get nullCount(): number {
    return this.nulls;
  }

  /** The bitmap for `makeData`, or undefined when nothing is null (Arrow's convention). */
  bitmap(): Uint8Array | undefined {
    return this.nulls === 0 ? undefined : this.bits;
  }
}

/** Int32 offsets of a variable-length column (strings, lists): offsets[0] = 0, then one per value. */
class Offsets {
  values: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.values = new Int32Array(capacity + 1);
  }

  /** Close value number `length` at child position `end`. */
  push(end: number): void {
    if (end > 0x7fffffff) throw new RangeError('column too large for int32 offsets (over 2^31 - 1 child values)');
    if (this.length + 1 >= this.values.length) {
      const grown = new Int32Array(grownCapacity(this.values.length, this.length + 2));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[++this.length] = end;
  }

  finish(): Int32Array {
    return this.values.subarray(0, this.length + 1);
  }
}

/** A nullable UTF-8 string column (Arrow Utf8): one byte buffer plus int32 offsets. */
export class Utf8Column {
  private bytes: Buffer;
  private end = 0;
  private readonly offsets: Offsets;
  private readonly validity: ValidityBitmap;

  /** `capacity` values of about `bytesPerValue` bytes each are expected; more are fine. */
  constructor(capacity: number, bytesPerValue = 32) {
    this.bytes = Buffer.alloc(Math.max(64, capacity * bytesPerValue));
    this.offsets = new Offsets(capacity);
    this.validity = new ValidityBitmap(capacity);
  }

  get length(): number {
    return this.offsets.length;
  }

  append(value: string | null): void {
    const index = this.offsets.length;
    if (value !== null) {
      // UTF-16 code unit → at most 3 UTF-8 bytes (lone surrogates become U+FFFD, also 3 bytes).
      const worst = this.end + value.length * 3;
      if (worst > this.bytes.length) {
        const grown = Buffer.alloc(grownCapacity(this.bytes.length, worst));
        this.bytes.copy(grown, 0, 0, this.end);
        this.bytes = grown;
      }
      this.end += this.bytes.write(value, this.end, 'utf8');
    }
    this.validity.set(index, value !== null);
    this.offsets.push(this.end);
  }

  finish(): Data<Utf8> {
    return makeData({
      type: new Utf8(),
      length: this.length,
      nullCount: this.validity.nullCount,
      nullBitmap: this.validity.bitmap(),
      valueOffsets: this.offsets.finish(),
      data: this.bytes.subarray(0, this.end),
    });
  }
}

/** A nullable float32 column. */
export class Float32Column {
  private values: Float32Array;
  private count = 0;
  private readonly validity: ValidityBitmap;

  constructor(capacity: number) {
    this.values = new Float32Array(capacity);
    this.validity = new ValidityBitmap(capacity);
  }

  append(value: number | null): void {
    if (this.count === this.values.length) {
      const grown = new Float32Array(grownCapacity(this.values.length, this.count + 1));
      grown.set(this.values);
      this.values = grown;
    }
    this.validity.set(this.count, value !== null);
    if (value !== null) this.values[this.count] = value;
    this.count++;
  }

  finish(): Data<Float32> {
    return makeData({
      type: new Float32(),
      length: this.count,
      nullCount: this.validity.nullCount,
      nullBitmap: this.validity.bitmap(),
      data: this.values.subarray(0, this.count),
    });
  }
}

/**
 * A float32 list child that is never null (embedding values, top-k scores): only the values, no
 * bitmap, so an embedding row is one `Float32Array.set` (a memcpy).
 */
export class DenseFloat32Column {
  private values: Float32Array;
  private count = 0;

  constructor(capacity: number) {
    this.values = new Float32Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Make room for `needed` values in all, without appending. */
  reserve(needed: number): void {
    if (needed > this.values.length) {
      const grown = new Float32Array(grownCapacity(this.values.length, needed));
      grown.set(this.values.subarray(0, this.count));
      this.values = grown;
    }
  }

  append(value: number): void {
    if (this.count === this.values.length) this.reserve(this.count + 1);
    this.values[this.count++] = value;
  }

  appendAll(values: Float32Array): void {
    const needed = this.count + values.length;
    this.reserve(needed);
    this.values.set(values, this.count);
    this.count = needed;
  }

  finish(): Data<Float32> {
    return makeData({ type: new Float32(), length: this.count, nullCount: 0, data: this.values.subarray(0, this.count) });
  }
}

/** A nullable int32 column. */
export class Int32Column {
  private values: Int32Array;
  private count = 0;
  private readonly validity: ValidityBitmap;

  constructor(capacity: number) {
    this.values = new Int32Array(capacity);
    this.validity = new ValidityBitmap(capacity);
  }

  append(value: number | null): void {
    if (this.count === this.values.length) {
      const grown = new Int32Array(grownCapacity(this.values.length, this.count + 1));
      grown.set(this.values);
      this.values = grown;
    }
    this.validity.set(this.count, value !== null);
    if (value !== null) this.values[this.count] = value;
    this.count++;
  }

  finish(): Data<Int32> {
    return makeData({
      type: new Int32(),
      length: this.count,
      nullCount: this.validity.nullCount,
      nullBitmap: this.validity.bitmap(),
      data: this.values.subarray(0, this.count),
    });
  }
}

/** A nullable 64-bit integer column: Int64, or a millisecond timestamp (stored as int64). */
export class Int64Column {
  private values: BigInt64Array;
  private count = 0;
  private readonly validity: ValidityBitmap;

  constructor(capacity: number) {
    this.values = new BigInt64Array(capacity);
    this.validity = new ValidityBitmap(capacity);
  }

  append(value: bigint | null): void {
    if (this.count === this.values.length) {
      const grown = new BigInt64Array(grownCapacity(this.values.length, this.count + 1));
      grown.set(this.values);
      this.values = grown;
    }
    this.validity.set(this.count, value !== null);
    if (value !== null) this.values[this.count] = value;
    this.count++;
  }

  finish(): Data<Int64> {
    return makeData({ type: new Int64(), ...this.props() });
  }

  /** The values as timestamps of `type` (the unit and time zone are the type's). */
  finishAsTimestamp<T extends TimestampMillisecond>(type: T): Data<T> {
    return makeData({ type, ...this.props() });
  }

  private props() {
    return {
      length: this.count,
      nullCount: this.validity.nullCount,
      nullBitmap: this.validity.bitmap(),
      data: this.values.subarray(0, this.count),
    };
  }
}

/** The row-level part of a nullable list column: validity plus offsets into the child. */
export class ListOffsetsColumn {
  private readonly offsets: Offsets;
  private readonly validity: ValidityBitmap;

  constructor(capacity: number) {
    this.offsets = new Offsets(capacity);
    this.validity = new ValidityBitmap(capacity);
  }

  get length(): number {
    return this.offsets.length;
  }

  /** Close the next row: null, or present with the child now holding `childEnd` values in all. */
  append(present: boolean, childEnd: number): void {
    this.validity.set(this.offsets.length, present);
    this.offsets.push(childEnd);
  }

  finish<T extends DataType>(type: List<T>, child: Data<T>): Data<List<T>> {
    return makeData({
      type,
      length: this.length,
      nullCount: this.validity.nullCount,
      nullBitmap: this.validity.bitmap(),
      valueOffsets: this.offsets.finish(),
      child,
    });
  }
}

/** A struct column that is never null itself, from finished children of equal length. */
export function structData<T extends Struct>(type: T, length: number, children: Data[]): Data<T> {
  return makeData({ type, length, nullCount: 0, children });
}
