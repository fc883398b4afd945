/**
 * `color-embed`: a spatial colour-layout descriptor. The 64×64 input (scaled to 0..1) is converted to
 * full-range YCbCr (JPEG / BT.601, Cb and Cr offset by 0.5, so all three lie in 0..1), then averaged
 * over each 16×16 cell of a 4×4 grid. Embedding layout (48 dims): channel-major, then cells
 * row-major: [0..15] Y, [16..31] Cb, [32..47] Cr; cell index = 4·row + column.
 */
import type { ModelCard } from '../../src/model/ModelCard.js';
import type { BuiltInModel } from './BuiltInModel.js';
import type { OnnxModel } from '../../src/model/onnx/encodeOnnxModel.js';

/** Rows Y, Cb, Cr; columns R, G, B (ITU-T T.871, JPEG File Interchange Format). */
export const RGB_TO_YCBCR = [
  [0.299, 0.587, 0.114],
  [-0.168736, -0.331264, 0.5],
  [0.5, -0.418688, -0.081312],
] as const;
/** Added to Y, Cb, Cr after the matrix. */
export const YCBCR_OFFSET = [0, 0.5, 0.5] as const;

const SIZE = 64;
const CELL = 16;
const GRID = SIZE / CELL;
const DIM = 3 * GRID * GRID;

function graph(): OnnxModel {
  return {
    producerName: 'imgpipe scripts/buildModels.ts',
    graph: {
      name: 'color_embed',
      inputs: [{ name: 'input', shape: ['N', 3, SIZE, SIZE] }],
      outputs: [{ name: 'embedding', shape: ['N', DIM] }],
      initializers: [
        { name: 'ycbcr_weight', dims: [3, 3, 1, 1], values: RGB_TO_YCBCR.flat() },
        { name: 'ycbcr_bias', dims: [3], values: [...YCBCR_OFFSET] },
      ],
      nodes: [
        // [N,3,64,64] RGB -> YCbCr
        { opType: 'Conv', name: 'ycbcr', inputs: ['input', 'ycbcr_weight', 'ycbcr_bias'], outputs: ['ycbcr'], attributes: [{ name: 'kernel_shape', type: 'ints', value: [1, 1] }] },
        // -> [N,3,4,4] cell means
        {
          opType: 'AveragePool',
          name: 'cells',
          inputs: ['ycbcr'],
          outputs: ['cells'],
          attributes: [
            { name: 'kernel_shape', type: 'ints', value: [CELL, CELL] },
            { name: 'strides', type: 'ints', value: [CELL, CELL] },
          ],
        },
        // -> [N,48]
        { opType: 'Flatten', name: 'embedding', inputs: ['cells'], outputs: ['embedding'], attributes: [{ name: 'axis', type: 'int', value: 1 }] },
      ],
    },
  };
}

function card(sha256: string): ModelCard {
  return {
    name: 'color-embed',
    version: '1',
    task: 'embedding',
    onnx: 'model.onnx',
    sha256,
    input: {
      name: 'input',
      layout: 'NCHW',
      dtype: 'float32',
      height: SIZE,
      width: SIZE,
      channels: 'RGB',
      resize: { mode: 'stretch', kernel: 'linear' },
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    },
    output: { name: 'embedding', normalize: 'l2', dim: DIM },
    license: 'Apache-2.0',
    source: 'built by scripts/buildModels.ts (deterministic weights, no training)',
    description:
      'Colour layout: mean full-range YCbCr (JPEG/BT.601, Cb/Cr offset 0.5, input 0..1) of each 16x16 cell ' +
      'of a 4x4 grid over the image stretched to 64x64. Dims 0-15 Y, 16-31 Cb, 32-47 Cr; cells row-major.',
  };
}

export const colorEmbed: BuiltInModel = {
  name: 'color-embed',
  onnx: graph(),
  card,
  sideFiles: {},
};
