/**
 * Protocol-buffer wire format, both ways, without a schema: a message is an ordered list of fields
 * (number, wire type, value). Decoding keeps every field, known or not, as its exact bytes, so a
 * message decoded and encoded again is byte-for-byte the same (for canonical input: minimal varints,
 * which every protobuf library writes). The ONNX reader on top interprets only the fields it needs.
 *
 * Groups (wire types 3 and 4, deprecated and unused by ONNX) are rejected.
 */

export const WIRE = { varint: 0, fixed64: 1, len: 2, fixed32: 5 } as const;
export type WireType = (typeof WIRE)[keyof typeof WIRE];

/** One field occurrence. `value` is a bigint for varints, the raw bytes for the other wire types. */
export type ProtoField =
  | { field: number; wire: typeof WIRE.varint; value: bigint }
  | { field: number; wire: typeof WIRE.fixed64 | typeof WIRE.len | typeof WIRE.fixed32; value: Uint8Array };

/**
 * Split a message into its fields, in order. Byte values are views into `bytes` (no copy).
 * @throws {Error} on truncated or malformed input (a varint over 10 bytes, a length past the end,
 * a group or unknown wire type), naming the byte offset.
 */
export function decodeFields(bytes: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= bytes.length) throw new Error(`protobuf: truncated varint at byte ${pos}`);
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new Error(`protobuf: varint longer than 10 bytes at byte ${pos}`);
  };
  const take = (n: number): Uint8Array => {
    if (n < 0 || pos + n > bytes.length) throw new Error(`protobuf: field of ${n} bytes at byte ${pos} runs past the end (${bytes.length})`);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < bytes.length) {
    const at = pos;
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (field === 0) throw new Error(`protobuf: field number 0 at byte ${at}`);
    switch (wire) {
      case WIRE.varint:
        fields.push({ field, wire, value: varint() });
        break;
      case WIRE.fixed64:
        fields.push({ field, wire, value: take(8) });
        break;
      case WIRE.len:
        fields.push({ field, wire, value: take(Number(varint())) });
        break;
      case WIRE.fixed32:
        fields.push({ field, wire, value: take(4) });
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${wire} for field ${field} at byte ${at}`);
    }
  }
  return fields;
}

/** Bytes of a varint (unsigned; negative int64 values arrive as their 64-bit two's complement). */
function varintBytes(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** Join fields into one message, in the order given. */
export function encodeFields(fields: readonly ProtoField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (p: Uint8Array) => {
    parts.push(p);
    size += p.length;
  };
  for (const f of fields) {
    push(Uint8Array.from(varintBytes(BigInt((f.field << 3) | f.wire))));
    if (f.wire === WIRE.varint) push(Uint8Array.from(varintBytes(f.value)));
    else {
      if (f.wire === WIRE.len) push(Uint8Array.from(varintBytes(BigInt(f.value.length))));
      else if (f.value.length !== (f.wire === WIRE.fixed32 ? 4 : 8)) throw new Error(`protobuf: fixed field ${f.field} has ${f.value.length} bytes`);
      push(f.value);
    }
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** A length-delimited field read as UTF-8 text. @throws {Error} when the field is not LEN or not UTF-8. */
export function fieldString(f: ProtoField): string {
  if (f.wire !== WIRE.len) throw new Error(`protobuf: field ${f.field} is not a string (wire type ${f.wire})`);
  return utf8Decoder.decode(f.value);
}

/** A varint field as a JS number. @throws {Error} when it is not a varint or not a safe integer. */
export function fieldInt(f: ProtoField): number {
  if (f.wire !== WIRE.varint) throw new Error(`protobuf: field ${f.field} is not a varint (wire type ${f.wire})`);
  const v = BigInt.asIntN(64, f.value);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`protobuf: field ${f.field} value ${v} is not a safe integer`);
  return Number(v);
}

/** A length-delimited field holding these bytes (a string, bytes or an embedded message). */
export const lenField = (field: number, value: Uint8Array): ProtoField => ({ field, wire: WIRE.len, value });
export const stringField = (field: number, value: string): ProtoField => lenField(field, utf8Encoder.encode(value));
/** An int32/int64/enum field; negative values take ten bytes, as protobuf writes them. */
export const intField = (field: number, value: number): ProtoField => {
  if (!Number.isSafeInteger(value)) throw new Error(`Expected safe integer for protobuf field ${field} but received ${value}`);
  return { field, wire: WIRE.varint, value: BigInt.asUintN(64, BigInt(value)) };
};
export const floatField = (field: number, value: number): ProtoField => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, value, true);
  return { field, wire: WIRE.fixed32, value: b };
};
