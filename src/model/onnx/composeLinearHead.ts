/**
 * Graph surgery for `imgpipe train`: one ONNX model that runs a backbone and then a trained linear
 * head, so `imgpipe run` scores images in one pass with no extra code path.
 *
 *   <embedding> → Flatten(axis=1) → [L2: x / max(‖x‖₂, 1e-12)] → MatMul(W) → Add(b) → <output name>
 *
 * The backbone's own graph outputs are dropped (the composed model has the one output), nodes and
 * initializers that no longer feed it are pruned, and a backbone tensor that already carries the
 * output's name (mobilenet-v2 has its own `logits`) is renamed first. New names are prefixed
 * `head/` and made unique. The L2 step reproduces `normalizeEmbedding` (a zero vector stays zero).
 */
import { UsageError } from '../../util/errors.js';
import {
  attributeField,
  decodeOnnxModelProto,
  encodeOnnxModelProto,
  floatInitializer,
  initializerIsExternal,
  nodeHasSubgraph,
  tensorValueInfo,
  valueInfoShape,
  type OnnxGraphProto,
  type OnnxNodeProto,
} from './OnnxModelProto.js';

export interface LinearHead {
  /** Name of the backbone's graph output that holds the embedding. */
  embeddingOutput: string;
  /** Normalization the embedding card declares; applied inside the graph before the head. */
  normalize: 'none' | 'l2';
  /** D × K weights, row-major (`weights[d * K + k]`). */
  weights: ArrayLike<number>;
  /** K biases. */
  bias: ArrayLike<number>;
  /** Name of the composed model's one output. @defaultValue 'logits' */
  outputName?: string;
}

/** Smallest default-domain opset whose operators (Max with broadcasting) the head uses. */
const MIN_OPSET = 8;

/**
 * Returns the bytes of the composed model. The backbone bytes are not changed.
 * @throws {UsageError} the backbone has no such output, its width differs from the head's D, it keeps
 * weights in external files, or its default opset is below 8.
 */
export function composeLinearHead(backboneBytes: Uint8Array, head: LinearHead): Uint8Array {
  const model = decodeOnnxModelProto(backboneBytes);
  const graph = model.graph;
  const outputName = head.outputName ?? 'logits';
  const K = head.bias.length;
  const D = head.weights.length / K;
  if (!Number.isInteger(D) || D < 1) throw new Error(`head: ${head.weights.length} weights do not split into ${K} columns`);

  const embedding = graph.outputs.find((o) => o.name === head.embeddingOutput);
  if (!embedding) throw new UsageError(`Expected a graph output named "${head.embeddingOutput}" in the backbone but its outputs are: ${graph.outputs.map((o) => o.name).join(', ')}`);
  const shape = valueInfoShape(embedding);
  const width = shape && shape.length >= 2 ? shape.slice(1).reduce<number | null>((a, d) => (a === null || typeof d !== 'number' ? null : a * d), 1) : null;
  if (width !== null && width !== D) throw new UsageError(`Expected a backbone output "${head.embeddingOutput}" of ${D} values per image but the graph says ${width}`);
  if (graph.initializers.some(initializerIsExternal)) throw new UsageError('The backbone keeps weights in external data files; composing such models is not supported (save it with the weights inside the .onnx file)');
  const opset = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (!opset || opset.version < MIN_OPSET) throw new UsageError(`Expected a backbone with default-domain opset ${MIN_OPSET} or newer but received ${opset ? opset.version : 'none'}`);

  // 1. Free the output name inside the backbone.
  if (tensorNames(graph).has(outputName)) renameTensor(graph, outputName, uniqueName(tensorNames(graph), `backbone/${outputName}`));

  // 2. Append the head.
  const names = tensorNames(graph);
  const nodeNames = new Set(graph.nodes.map((n) => n.name ?? ''));
  const fresh = (base: string) => {
    const n = uniqueName(names, `head/${base}`);
    names.add(n);
    return n;
  };
  const freshNode = (base: string) => {
    const n = uniqueName(nodeNames, `head/${base}`);
    nodeNames.add(n);
    return n;
  };
  const nodes: OnnxNodeProto[] = [];
  const node = (opType: string, inputs: string[], output: string, rest = [] as OnnxNodeProto['rest']) => {
    nodes.push({ inputs, outputs: [output], name: freshNode(opType), opType, rest });
    return output;
  };
  let x = node('Flatten', [head.embeddingOutput], fresh('flat'), [attributeField({ name: 'axis', type: 'int', value: 1 })]);
  if (head.normalize === 'l2') {
    const ones = fresh('ones');
    const eps = fresh('eps');
    graph.initializers.push(floatInitializer(ones, [D, 1], new Float32Array(D).fill(1)), floatInitializer(eps, [1], [1e-12]));
    const squared = node('Mul', [x, x], fresh('squared'));
    const sumSquares = node('MatMul', [squared, ones], fresh('sum_squares'));
    const norm = node('Sqrt', [sumSquares], fresh('norm'));
    const safeNorm = node('Max', [norm, eps], fresh('safe_norm'));
    x = node('Div', [x, safeNorm], fresh('normalized'));
  }
  const w = fresh('weights');
  const b = fresh('bias');
  graph.initializers.push(floatInitializer(w, [D, K], head.weights), floatInitializer(b, [K], head.bias));
  const scores = node('MatMul', [x, w], fresh('matmul'));
  nodes.push({ inputs: [scores, b], outputs: [outputName], name: freshNode('Add'), opType: 'Add', rest: [] });
  graph.nodes.push(...nodes);

  // 3. One output, then drop what no longer feeds it.
  const batch = shape?.[0] ?? 'N';
  graph.outputs = [tensorValueInfo(outputName, 'float', [batch, K])];
  prune(graph);
  return encodeOnnxModelProto(model);
}

/** Every tensor name used in the graph (node inputs and outputs, initializers, graph inputs/outputs, value_info). */
function tensorNames(graph: OnnxGraphProto): Set<string> {
  const names = new Set<string>();
  for (const n of graph.nodes) for (const t of [...n.inputs, ...n.outputs]) names.add(t);
  for (const p of [...graph.initializers, ...graph.inputs, ...graph.outputs, ...graph.valueInfo]) names.add(p.name);
  return names;
}

function uniqueName(taken: ReadonlySet<string>, base: string): string {
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

function renameTensor(graph: OnnxGraphProto, from: string, to: string): void {
  if (graph.nodes.some(nodeHasSubgraph)) throw new UsageError(`The backbone graph has control-flow sub-graphs and its own tensor "${from}"; cannot rename it safely`);
  for (const n of graph.nodes) {
    n.inputs = n.inputs.map((t) => (t === from ? to : t));
    n.outputs = n.outputs.map((t) => (t === from ? to : t));
  }
  for (const p of [...graph.initializers, ...graph.inputs, ...graph.outputs, ...graph.valueInfo]) if (p.name === from) p.name = to;
}

/** Remove nodes, initializers and value_info that do not lead to a graph output. Skipped when sub-graphs may read names implicitly. */
function prune(graph: OnnxGraphProto): void {
  if (graph.nodes.some(nodeHasSubgraph)) return;
  const needed = new Set(graph.outputs.map((o) => o.name));
  const keep = new Array<boolean>(graph.nodes.length).fill(false);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    // ONNX nodes are topologically sorted, so one backward pass finds everything upstream.
    const n = graph.nodes[i]!;
    if (n.outputs.some((t) => needed.has(t))) {
      keep[i] = true;
      for (const t of n.inputs) if (t !== '') needed.add(t);
    }
  }
  graph.nodes = graph.nodes.filter((_, i) => keep[i]);
  const dropped = new Set(graph.initializers.filter((t) => !needed.has(t.name)).map((t) => t.name));
  graph.initializers = graph.initializers.filter((t) => !dropped.has(t.name));
  // Models before IR 4 also list initializers as graph inputs; a dropped one must not stay an input.
  graph.inputs = graph.inputs.filter((i) => !dropped.has(i.name));
  graph.valueInfo = graph.valueInfo.filter((v) => needed.has(v.name));
}
