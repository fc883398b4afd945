import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { encodeOnnxModel, type OnnxModel } from '../src/model/onnx/encodeOnnxModel.js';
import { decodeOnnxModelProto, encodeOnnxModelProto, valueInfoShape } from '../src/model/onnx/OnnxModelProto.js';

/** Uses every attribute type, a negative int (ten-byte varint), a symbolic and fixed dims. */
const model: OnnxModel = {
  producerName: 'test',
  graph: {
    name: 'writer_check',
    inputs: [{ name: 'x', shape: ['batch', 1, 2, 2] }],
    outputs: [
      { name: 'mean_shifted', shape: ['batch', 1] },
      { name: 'pooled', shape: ['batch', 1] },
      { name: 'constants', shape: [3] },
      { name: 'scaled', shape: ['batch', 1, 2, 2] },
    ],
    initializers: [{ name: 'scale', dims: [1], values: new Float32Array([3]) }],
    nodes: [
      { opType: 'ReduceMean', name: 'mean', inputs: ['x'], outputs: ['mean'], attributes: [{ name: 'axes', type: 'ints', value: [-1, -2] }, { name: 'keepdims', type: 'int', value: 0 }] },
      { opType: 'Constant', name: 'shift', inputs: [], outputs: ['shift'], attributes: [{ name: 'value_float', type: 'float', value: -0.5 }] },
      { opType: 'Add', name: 'mean_shifted', inputs: ['mean', 'shift'], outputs: ['mean_shifted'] },
      { opType: 'AveragePool', name: 'pool', inputs: ['x'], outputs: ['pool'], attributes: [{ name: 'kernel_shape', type: 'ints', value: [2, 2] }, { name: 'auto_pad', type: 'string', value: 'VALID' }] },
      { opType: 'Flatten', name: 'pooled', inputs: ['pool'], outputs: ['pooled'], attributes: [{ name: 'axis', type: 'int', value: -3 }] },
      { opType: 'Constant', name: 'constants', inputs: [], outputs: ['constants'], attributes: [{ name: 'value_floats', type: 'floats', value: [1.5, -2, 0.25] }] },
      { opType: 'Mul', name: 'scaled', inputs: ['x', 'scale'], outputs: ['scaled'] },
    ],
  },
};

describe('encodeOnnxModel', () => {
  it('encodes the same model to the same bytes', () => {
    expect(Buffer.from(encodeOnnxModel(model)).equals(Buffer.from(encodeOnnxModel(model)))).toBe(true);
  });

  it('starts with ir_version 8 and the producer name (field order 1, 2)', () => {
    const bytes = encodeOnnxModel(model);
    // 0x08 = field 1 varint, 8; 0x12 = field 2 length-delimited, 4, "test"
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x08, 8, 0x12, 4, ...Buffer.from('test')]);
    // last field: opset_import (8, length-delimited = 0x42) { domain "" (0x0a 0), version 13 (0x10 13) }
    expect(Array.from(bytes.subarray(-6))).toEqual([0x42, 4, 0x0a, 0, 0x10, 13]);
  });

  it('is read by onnxruntime with every attribute type in effect', async () => {
    const session = await ort.InferenceSession.create(encodeOnnxModel(model));
    try {
      expect(session.inputNames).toEqual(['x']);
      expect(session.outputNames).toEqual(['mean_shifted', 'pooled', 'constants', 'scaled']);
      const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 6, 10, 20, 30, 40]), [2, 1, 2, 2]);
      const out = await session.run({ x });
      expect(out.mean_shifted!.dims).toEqual([2, 1]);
      expect(Array.from(out.mean_shifted!.data as Float32Array)).toEqual([2.5, 24.5]);
      expect(out.pooled!.dims).toEqual([2, 1]);
      expect(Array.from(out.pooled!.data as Float32Array)).toEqual([3, 25]);
      expect(Array.from(out.constants!.data as Float32Array)).toEqual([1.5, -2, 0.25]);
      expect(Array.from(out.scaled!.data as Float32Array)).toEqual([3, 6, 9, 18, 30, 60, 90, 120]);
    } finally {
      await session.release();
    }
  });

  it('is read back by the graph-surgery reader and re-encoded byte for byte (one codec)', () => {
    const bytes = encodeOnnxModel(model);
    const proto = decodeOnnxModelProto(bytes);
    expect(proto.graph.nodes.map((n) => n.opType)).toEqual(['ReduceMean', 'Constant', 'Add', 'AveragePool', 'Flatten', 'Constant', 'Mul']);
    expect(proto.graph.initializers.map((t) => t.name)).toEqual(['scale']);
    expect(valueInfoShape(proto.graph.inputs[0]!)).toEqual(['batch', 1, 2, 2]);
    expect(proto.opsetImports.map(({ domain, version }) => ({ domain, version }))).toEqual([{ domain: '', version: 13 }]);
    expect(Buffer.compare(Buffer.from(encodeOnnxModelProto(proto)), Buffer.from(bytes))).toBe(0);
  });

  it('rejects an initializer whose values do not fill its dims', () => {
    const bad: OnnxModel = { ...model, graph: { ...model.graph, initializers: [{ name: 'scale', dims: [2], values: [3] }] } };
    expect(() => encodeOnnxModel(bad)).toThrow('Initializer scale: dims [2] hold 2 values but received 1');
  });
});
