/**
 * A small protobuf encoder for the subset of ONNX's `ModelProto` that the project's built-in models
 * need: one graph of nodes with INT/INTS/FLOAT/FLOATS/STRING attributes, float32 initializers and
 * float32 graph inputs/outputs whose dims are fixed sizes or symbolic names.
 *
 * Field numbers are those of onnx/onnx.proto (proto2). Fields are written in field-number order,
 * repeated scalars unpacked (the proto2 default), so the same model always gives the same bytes.
 */

/** An attribute of a node; `type` selects AttributeProto's field (f, i, s, floats, ints). */
export type OnnxAttribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] };

export interface OnnxNode {
  /** Operator in the default ONNX domain, e.g. `Conv`. */
  opType: string;
  /** Unique within the graph. */
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: readonly OnnxAttribute[];
}

/** A float32 constant; `values.length` must equal the product of `dims`. */
export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  values: readonly number[] | Float32Array;
}

/** A float32 graph input or output; a string dim is symbolic (e.g. the batch dim `N`). */
export interface OnnxValueInfo {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  producerName: string;
  graph: OnnxGraph;
  /** @defaultValue 8 */
  irVersion?: number;
  /** Version of the default ("ai.onnx") operator set. @defaultValue 13 */
  opsetVersion?: number;
}

/** TensorProto.DataType.FLOAT; the only element type written here. */
const FLOAT32 = 1;

/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

/** Protobuf wire types. */
const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Builds one protobuf message; each method appends one field. */
class MessageWriter {
  private readonly bytes: number[] = [];

  /** int32/int64/enum field; negative values take ten bytes (two's complement), as protobuf does. */
  int(field: number, value: number): this {
    if (!Number.isSafeInteger(value)) throw new Error(`Expected safe integer for field ${field} but received ${value}`);
    this.tag(field, VARINT);
    this.varint(BigInt.asUintN(64, BigInt(value)));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const buf = new DataView(new ArrayBuffer(4));
    buf.setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.bytes.push(buf.getUint8(i));
    return this;
  }

  string(field: number, value: string): this {
    return this.raw(field, new TextEncoder().encode(value));
  }

  /** bytes field, or an embedded message already encoded. */
  raw(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(BigInt(value.length));
    for (const b of value) this.bytes.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private tag(field: number, wireType: number): void {
    this.varint(BigInt((field << 3) | wireType));
  }

  private varint(value: bigint): void {
    let v = value;
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }
}

/** Serializes `model` to ONNX protobuf bytes; deterministic for equal input. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const opset = new MessageWriter()
    .string(1, '') // OperatorSetIdProto.domain: "" is the default ai.onnx domain
    .int(2, model.opsetVersion ?? 13); // .version
  return new MessageWriter()
    .int(1, model.irVersion ?? 8) // ModelProto.ir_version
    .string(2, model.producerName) // .producer_name
    .raw(7, encodeGraph(model.graph)) // .graph
    .raw(8, opset.finish()) // .opset_import
    .finish();
}

function encodeGraph(graph: OnnxGraph): Uint8Array {
  const w = new MessageWriter();
  for (const node of graph.nodes) w.raw(1, encodeNode(node)); // GraphProto.node
  w.string(2, graph.name); // .name
  for (const init of graph.initializers) w.raw(5, encodeTensor(init)); // .initializer
  for (const input of graph.inputs) w.raw(11, encodeValueInfo(input)); // .input
  for (const output of graph.outputs) w.raw(12, encodeValueInfo(output)); // .output
  return w.finish();
}

function encodeNode(node: OnnxNode): Uint8Array {
  const w = new MessageWriter();
  for (const input of node.inputs) w.string(1, input); // NodeProto.input
  for (const output of node.outputs) w.string(2, output); // .output
  w.string(3, node.name); // .name
  w.string(4, node.opType); // .op_type
  for (const attr of node.attributes ?? []) w.raw(5, encodeAttribute(attr)); // .attribute
  return w.finish();
}

function encodeAttribute(attr: OnnxAttribute): Uint8Array {
  const w = new MessageWriter().string(1, attr.name); // AttributeProto.name
  switch (attr.type) {
    case 'float':
      w.float(2, attr.value); // .f
      break;
    case 'int':
      w.int(3, attr.value); // .i
      break;
    case 'string':
      w.string(4, attr.value); // .s
      break;
    case 'floats':
      for (const v of attr.value) w.float(7, v); // .floats
      break;
    case 'ints':
      for (const v of attr.value) w.int(8, v); // .ints
      break;
  }
  return w.int(20, ATTRIBUTE_TYPE[attr.type]).finish(); // .type
}

function encodeTensor(init: OnnxInitializer): Uint8Array {
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (count !== init.values.length) {
    throw new Error(`Initializer ${init.name}: dims [${init.dims.join(', ')}] hold ${count} values but received ${init.values.length}`);
  }
  const data = new DataView(new ArrayBuffer(4 * count));
  for (let i = 0; i < count; i++) data.setFloat32(4 * i, init.values[i]!, true);
  const w = new MessageWriter();
  for (const d of init.dims) w.int(1, d); // TensorProto.dims
  return w
    .int(2, FLOAT32) // .data_type
    .string(8, init.name) // .name
    .raw(9, new Uint8Array(data.buffer)) // .raw_data (little-endian)
    .finish();
}

function encodeValueInfo(info: OnnxValueInfo): Uint8Array {
  const shape = new MessageWriter();
  for (const d of info.shape) {
    // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2
    const dim = typeof d === 'number' ? new MessageWriter().int(1, d) : new MessageWriter().string(2, d);
    shape.raw(1, dim.finish()); // TensorShapeProto.dim
  }
  const tensorType = new MessageWriter()
    .int(1, FLOAT32) // TypeProto.Tensor.elem_type
    .raw(2, shape.finish()); // .shape
  const type = new MessageWriter().raw(1, tensorType.finish()); // TypeProto.tensor_type
  return new MessageWriter()
    .string(1, info.name) // ValueInfoProto.name
    .raw(2, type.finish()) // .type
    .finish();
}
