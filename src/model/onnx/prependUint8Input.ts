/**
 * Graph surgery for `imgpipe models wrap`: a variant of an image model that takes **uint8 NHWC**
 * pixels and does the float conversion, layout change and normalization inside the graph:
 *
 *   <new input> uint8 [N,H,W,3] → Cast(float) → [Transpose(0,3,1,2) if the model is NCHW]
 *   → Mul(scale/std) → Add(−mean/std) → <the model's old input name> → … the model, unchanged
 *
 * so decode workers hand over raw RGB bytes (no per-pixel JavaScript loop) and a GPU gets a quarter
 * of the bytes. Mul/Add per channel compute (v·scale − mean)/std exactly as the float card did.
 */
import { UsageError } from '../../util/errors.js';
import type { ModelInput } from '../ModelCard.js';
import { attributeField, decodeOnnxModelProto, encodeOnnxModelProto, floatInitializer, ONNX_DATA_TYPE, tensorValueInfo, valueInfoShape, type OnnxNodeProto } from './OnnxModelProto.js';

const node = (opType: string, name: string, inputs: string[], outputs: string[], rest: OnnxNodeProto['rest'] = []): OnnxNodeProto => ({ opType, name, inputs, outputs, rest });

/**
 * @param input the float model card's `input` (layout, size, scale/mean/std).
 * @param newInputName name of the uint8 input. @defaultValue 'pixels'
 * @throws {UsageError} the card is not float32, or the graph has no such input.
 */
export function prependUint8Input(modelBytes: Uint8Array, input: ModelInput, newInputName = 'pixels'): Uint8Array {
  if (input.dtype !== 'float32') throw new UsageError(`Expected a float32 model card to wrap but input.dtype is ${input.dtype}`);
  const model = decodeOnnxModelProto(modelBytes);
  const graph = model.graph;
  const old = graph.inputs.findIndex((i) => i.name === input.name);
  if (old < 0) throw new UsageError(`Expected a graph input named "${input.name}" but the graph's inputs are: ${graph.inputs.map((i) => i.name).join(', ')}`);
  const used = new Set([...graph.nodes.flatMap((n) => [...n.inputs, ...n.outputs]), ...graph.initializers.map((i) => i.name), ...graph.inputs.map((i) => i.name)]);
  if (used.has(newInputName)) throw new UsageError(`The graph already has a tensor named "${newInputName}"`);
  const batch = valueInfoShape(graph.inputs[old]!)?.[0];
  const n = typeof batch === 'number' ? batch : typeof batch === 'string' && batch ? batch : 'N';

  const scale = input.scale ?? 1;
  const mean = input.mean ?? [0, 0, 0];
  const std = input.std ?? [1, 1, 1];
  const mul = [0, 1, 2].map((c) => scale / std[c]!);
  const add = [0, 1, 2].map((c) => -mean[c]! / std[c]!);
  const channelDims = input.layout === 'NCHW' ? [1, 3, 1, 1] : [1, 1, 1, 3];
  const p = 'wrap_u8/';
  const nodes: OnnxNodeProto[] = [node('Cast', `${p}cast`, [newInputName], [`${p}float`], [attributeField({ name: 'to', type: 'int', value: ONNX_DATA_TYPE.float })])];
  let x = `${p}float`;
  if (input.layout === 'NCHW') {
    nodes.push(node('Transpose', `${p}to_nchw`, [x], [`${p}nchw`], [attributeField({ name: 'perm', type: 'ints', value: [0, 3, 1, 2] })]));
    x = `${p}nchw`;
  }
  nodes.push(node('Mul', `${p}scale`, [x, `${p}mul`], [`${p}scaled`]));
  nodes.push(node('Add', `${p}shift`, [`${p}scaled`, `${p}add`], [input.name]));

  graph.nodes = [...nodes, ...graph.nodes];
  graph.initializers = [...graph.initializers, floatInitializer(`${p}mul`, channelDims, mul), floatInitializer(`${p}add`, channelDims, add)];
  graph.inputs = graph.inputs.map((i, k) => (k === old ? tensorValueInfo(newInputName, 'uint8', [n, input.height, input.width, 3]) : i));
  return encodeOnnxModelProto(model);
}
