/**
 * ONNX's `ModelProto` over the protobuf wire format (`protoWire.ts`): the project's one ONNX codec.
 * `encodeOnnxModel.ts` writes whole models with it (the built-in models), `composeLinearHead.ts` and
 * `prependUint8Input.ts` edit existing ones.
 *
 * A reader and writer for the part of ONNX's `ModelProto` that graph surgery needs: the graph's
 * nodes (inputs, outputs, name, op type), initializer names, graph inputs/outputs/value_info names
 * and shapes, and the opset imports. Everything else, at every level (attributes, tensor data,
 * doc strings, metadata, functions, fields of newer ONNX versions), is kept as its exact bytes.
 *
 * `encodeOnnxModelProto(decodeOnnxModelProto(b))` equals `b` for files written by protobuf
 * libraries (fields in field-number order); the writer emits each message's fields in field-number
 * order, repeated fields in their list order.
 *
 * Field numbers are those of onnx/onnx.proto (proto2).
 */
import { decodeFields, encodeFields, fieldInt, fieldString, floatField, intField, lenField, stringField, type ProtoField, WIRE } from './protoWire.js';

/** A message of which only `name` (at field number `nameField`) is interpreted. */
export interface NamedProto {
  name: string;
  /** All other fields, verbatim. */
  rest: ProtoField[];
}

export interface OnnxNodeProto {
  inputs: string[];
  outputs: string[];
  /** Absent in the file when undefined (proto2 optional). */
  name: string | undefined;
  opType: string;
  /** Attributes, domain, doc string …, verbatim. */
  rest: ProtoField[];
}

export interface OnnxGraphProto {
  nodes: OnnxNodeProto[];
  initializers: NamedProto[];
  inputs: NamedProto[];
  outputs: NamedProto[];
  valueInfo: NamedProto[];
  /** Graph name, doc string, sparse initializers, quantization annotations …, verbatim. */
  rest: ProtoField[];
}

export interface OpsetImport {
  domain: string;
  version: number;
  /** The fields as read; written back unchanged while domain and version still match them. */
  original?: ProtoField[];
}

export interface OnnxModelProto {
  graph: OnnxGraphProto;
  opsetImports: OpsetImport[];
  /** ir_version, producer, metadata, functions …, verbatim. */
  rest: ProtoField[];
}

/** ModelProto field numbers. */
const MODEL = { irVersion: 1, graph: 7, opsetImport: 8 } as const;
/** GraphProto field numbers. */
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
/** NodeProto field numbers. */
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 } as const;
/** Name field of TensorProto (8) and of ValueInfoProto (1). */
const TENSOR_NAME = 8;
const VALUE_INFO_NAME = 1;
/** AttributeProto fields holding sub-graphs (g, graphs). */
const ATTRIBUTE_GRAPH_FIELDS = new Set([6, 11]);
/** TensorProto.data_location (EXTERNAL = 1). */
const TENSOR_DATA_LOCATION = 14;

/** @throws {Error} when the bytes are not a well-formed ModelProto with a graph. */
export function decodeOnnxModelProto(bytes: Uint8Array): OnnxModelProto {
  let graph: OnnxGraphProto | null = null;
  const opsetImports: OpsetImport[] = [];
  const rest: ProtoField[] = [];
  for (const f of decodeFields(bytes)) {
    if (f.field === MODEL.graph && f.wire === WIRE.len) {
      if (graph) throw new Error('ONNX: ModelProto has two graphs');
      graph = decodeGraph(f.value);
    } else if (f.field === MODEL.opsetImport && f.wire === WIRE.len) {
      let domain = '';
      let version = 0;
      for (const g of decodeFields(f.value)) {
        if (g.field === 1) domain = fieldString(g);
        else if (g.field === 2) version = fieldInt(g);
      }
      opsetImports.push({ domain, version, original: decodeFields(f.value) });
    } else {
      rest.push(f);
    }
  }
  if (!graph) throw new Error('ONNX: ModelProto has no graph (is this an ONNX model file?)');
  if (!rest.some((f) => f.field === MODEL.irVersion)) throw new Error('ONNX: ModelProto has no ir_version (is this an ONNX model file?)');
  return { graph, opsetImports, rest };
}

function decodeGraph(bytes: Uint8Array): OnnxGraphProto {
  const graph: OnnxGraphProto = { nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [], rest: [] };
  for (const f of decodeFields(bytes)) {
    if (f.wire !== WIRE.len) graph.rest.push(f);
    else if (f.field === GRAPH.node) graph.nodes.push(decodeNode(f.value));
    else if (f.field === GRAPH.initializer) graph.initializers.push(decodeNamed(f.value, TENSOR_NAME));
    else if (f.field === GRAPH.input) graph.inputs.push(decodeNamed(f.value, VALUE_INFO_NAME));
    else if (f.field === GRAPH.output) graph.outputs.push(decodeNamed(f.value, VALUE_INFO_NAME));
    else if (f.field === GRAPH.valueInfo) graph.valueInfo.push(decodeNamed(f.value, VALUE_INFO_NAME));
    else graph.rest.push(f);
  }
  return graph;
}

function decodeNode(bytes: Uint8Array): OnnxNodeProto {
  const node: OnnxNodeProto = { inputs: [], outputs: [], name: undefined, opType: '', rest: [] };
  for (const f of decodeFields(bytes)) {
    if (f.field === NODE.input) node.inputs.push(fieldString(f));
    else if (f.field === NODE.output) node.outputs.push(fieldString(f));
    else if (f.field === NODE.name) node.name = fieldString(f);
    else if (f.field === NODE.opType) node.opType = fieldString(f);
    else node.rest.push(f);
  }
  return node;
}

function decodeNamed(bytes: Uint8Array, nameField: number): NamedProto {
  let name = '';
  const rest: ProtoField[] = [];
  for (const f of decodeFields(bytes)) {
    if (f.field === nameField && f.wire === WIRE.len) name = fieldString(f);
    else rest.push(f);
  }
  return { name, rest };
}

/** Fields sorted by field number, keeping the order of equal numbers (repeated fields). */
const inFieldOrder = (fields: ProtoField[]): ProtoField[] => fields.map((f, i) => [f, i] as const).sort((a, b) => a[0].field - b[0].field || a[1] - b[1]).map(([f]) => f);

const encodeNamed = (p: NamedProto, nameField: number): Uint8Array => encodeFields(inFieldOrder([stringField(nameField, p.name), ...p.rest]));

function encodeNode(node: OnnxNodeProto): Uint8Array {
  return encodeFields(
    inFieldOrder([
      ...node.inputs.map((n) => stringField(NODE.input, n)),
      ...node.outputs.map((n) => stringField(NODE.output, n)),
      ...(node.name === undefined ? [] : [stringField(NODE.name, node.name)]),
      stringField(NODE.opType, node.opType),
      ...node.rest,
    ]),
  );
}

function encodeGraph(graph: OnnxGraphProto): Uint8Array {
  return encodeFields(
    inFieldOrder([
      ...graph.nodes.map((n) => lenField(GRAPH.node, encodeNode(n))),
      ...graph.initializers.map((t) => lenField(GRAPH.initializer, encodeNamed(t, TENSOR_NAME))),
      ...graph.inputs.map((v) => lenField(GRAPH.input, encodeNamed(v, VALUE_INFO_NAME))),
      ...graph.outputs.map((v) => lenField(GRAPH.output, encodeNamed(v, VALUE_INFO_NAME))),
      ...graph.valueInfo.map((v) => lenField(GRAPH.valueInfo, encodeNamed(v, VALUE_INFO_NAME))),
      ...graph.rest,
    ]),
  );
}

function encodeOpsetImport(o: OpsetImport): Uint8Array {
  if (o.original) {
    const read = decodeFields(encodeFields(o.original));
    const domain = read.find((f) => f.field === 1);
    const version = read.find((f) => f.field === 2);
    if ((domain ? fieldString(domain) : '') === o.domain && (version ? fieldInt(version) : 0) === o.version) return encodeFields(o.original);
  }
  return encodeFields([stringField(1, o.domain), intField(2, o.version)]);
}

/** Serialize; deterministic for equal input. */
export function encodeOnnxModelProto(model: OnnxModelProto): Uint8Array {
  return encodeFields(
    inFieldOrder([
      ...model.rest,
      lenField(MODEL.graph, encodeGraph(model.graph)),
      ...model.opsetImports.map((o) => lenField(MODEL.opsetImport, encodeOpsetImport(o))),
    ]),
  );
}

// ── helpers for graph surgery ──────────────────────────────────────────────────────────────────

/** Whether a node carries a sub-graph attribute (If, Loop, Scan …), which may read outer names implicitly. */
export function nodeHasSubgraph(node: OnnxNodeProto): boolean {
  return node.rest.some((f) => f.field === NODE.attribute && f.wire === WIRE.len && decodeFields(f.value).some((a) => ATTRIBUTE_GRAPH_FIELDS.has(a.field)));
}

/** Whether an initializer keeps its data in an external file (TensorProto.data_location = EXTERNAL). */
export function initializerIsExternal(t: NamedProto): boolean {
  return t.rest.some((f) => f.field === TENSOR_DATA_LOCATION && f.wire === WIRE.varint && f.value === 1n);
}

/** ir_version of the model. */
export function irVersionOf(model: OnnxModelProto): number {
  return fieldInt(model.rest.find((f) => f.field === MODEL.irVersion)!);
}

/** A tensor's shape from a ValueInfoProto: numbers for fixed dims, strings for symbolic, null for unknown; null when it has no tensor shape. */
export function valueInfoShape(v: NamedProto): (number | string | null)[] | null {
  const type = v.rest.find((f) => f.field === 2 && f.wire === WIRE.len); // ValueInfoProto.type
  if (!type || type.wire !== WIRE.len) return null;
  const tensor = decodeFields(type.value).find((f) => f.field === 1 && f.wire === WIRE.len); // TypeProto.tensor_type
  if (!tensor || tensor.wire !== WIRE.len) return null;
  const shape = decodeFields(tensor.value).find((f) => f.field === 2 && f.wire === WIRE.len); // Tensor.shape
  if (!shape || shape.wire !== WIRE.len) return null;
  return decodeFields(shape.value)
    .filter((f) => f.field === 1 && f.wire === WIRE.len) // TensorShapeProto.dim
    .map((d) => {
      const parts = decodeFields(d.value as Uint8Array);
      const value = parts.find((p) => p.field === 1);
      if (value) return fieldInt(value);
      const param = parts.find((p) => p.field === 2);
      return param ? fieldString(param) : null;
    });
}

// ── message builders (graph surgery and encodeOnnxModel) ──────────────────────────────────────

/** TensorProto.DataType values this codec writes. */
export const ONNX_DATA_TYPE = { float: 1, uint8: 2 } as const;
export type OnnxDataType = keyof typeof ONNX_DATA_TYPE;

/** A ValueInfoProto of a tensor (graph input/output); string dims are symbolic, null dims unknown. */
export function tensorValueInfo(name: string, elemType: OnnxDataType, shape: readonly (number | string | null)[]): NamedProto {
  // TensorShapeProto.Dimension: dim_value = 1, dim_param = 2, neither = unknown
  const dims = shape.map((d) => lenField(1, encodeFields(d === null ? [] : [typeof d === 'number' ? intField(1, d) : stringField(2, d)])));
  const tensorType = encodeFields([intField(1, ONNX_DATA_TYPE[elemType]), lenField(2, encodeFields(dims))]); // TypeProto.Tensor: elem_type, shape
  return { name, rest: [lenField(2, encodeFields([lenField(1, tensorType)]))] }; // ValueInfoProto.type { tensor_type }
}

/**
 * A float32 initializer (TensorProto: dims, data_type, raw_data little-endian).
 * @throws {Error} when `values` does not hold exactly the product of `dims` values.
 */
export function floatInitializer(name: string, dims: readonly number[], values: ArrayLike<number>): NamedProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new Error(`Initializer ${name}: dims [${dims.join(', ')}] hold ${count} values but received ${values.length}`);
  const raw = new Uint8Array(4 * count);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < count; i++) view.setFloat32(4 * i, values[i]!, true);
  return { name, rest: [...dims.map((d) => intField(1, d)), intField(2, ONNX_DATA_TYPE.float), lenField(9, raw)] };
}

/** A node attribute; `type` selects AttributeProto's value field. */
export type OnnxAttribute =
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'ints'; value: readonly number[] };

/** AttributeProto.AttributeType of each attribute type, and the field holding its value(s). */
const ATTRIBUTE = {
  float: { type: 1, field: 2 },
  int: { type: 2, field: 3 },
  string: { type: 3, field: 4 },
  floats: { type: 6, field: 7 },
  ints: { type: 7, field: 8 },
} as const;

/**
 * A NodeProto.attribute field: name, value(s), type, in field-number order; repeated values
 * unpacked (proto2's default).
 */
export function attributeField(attr: OnnxAttribute): ProtoField {
  const { type, field } = ATTRIBUTE[attr.type];
  let values: ProtoField[];
  switch (attr.type) {
    case 'float':
      values = [floatField(field, attr.value)];
      break;
    case 'int':
      values = [intField(field, attr.value)];
      break;
    case 'string':
      values = [stringField(field, attr.value)];
      break;
    case 'floats':
      values = attr.value.map((v) => floatField(field, v));
      break;
    case 'ints':
      values = attr.value.map((v) => intField(field, v));
      break;
  }
  return lenField(NODE.attribute, encodeFields([stringField(1, attr.name), ...values, intField(20, type)]));
}
