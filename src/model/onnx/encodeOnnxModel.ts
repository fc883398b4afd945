/**
 * A whole ONNX model from a plain description: the built-in models (`npm run build-models`,
 * scripts/buildModels.ts) and test graphs. One graph of nodes in the default domain with
 * FLOAT/INT/STRING/FLOATS/INTS attributes, float32 initializers, float32 graph inputs and outputs
 * whose dims are fixed sizes or symbolic names.
 *
 * Built on the same codec as graph surgery (`OnnxModelProto.ts` over `protoWire.ts`): fields in
 * field-number order, repeated scalars unpacked (proto2's default), so equal models give equal bytes.
 */
import { attributeField, encodeOnnxModelProto, floatInitializer, tensorValueInfo, type OnnxAttribute } from './OnnxModelProto.js';
import { intField, stringField } from './protoWire.js';

export type { OnnxAttribute };

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

/**
 * Serializes `model` to ONNX protobuf bytes; deterministic for equal input.
 * @throws {Error} an initializer whose values do not fill its dims, or a non-integer int.
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const { graph } = model;
  return encodeOnnxModelProto({
    rest: [intField(1, model.irVersion ?? 8), stringField(2, model.producerName)], // ModelProto.ir_version, .producer_name
    opsetImports: [{ domain: '', version: model.opsetVersion ?? 13 }], // "" is the default ai.onnx domain
    graph: {
      nodes: graph.nodes.map((n) => ({ inputs: [...n.inputs], outputs: [...n.outputs], name: n.name, opType: n.opType, rest: (n.attributes ?? []).map(attributeField) })),
      initializers: graph.initializers.map((t) => floatInitializer(t.name, t.dims, t.values)),
      inputs: graph.inputs.map((v) => tensorValueInfo(v.name, 'float', v.shape)),
      outputs: graph.outputs.map((v) => tensorValueInfo(v.name, 'float', v.shape)),
      valueInfo: [],
      rest: [stringField(2, graph.name)], // GraphProto.name
    },
  });
}
