/**
 * `quality-basic`: labels an image by three properties measured inside the graph on its luminance
 * Y = 0.299 R + 0.587 G + 0.114 B (input scaled to 0..1, 128×128):
 *   brightness b = mean(Y)
 *   contrast   c = std(Y) = sqrt(mean((Y - b)²))
 *   sharpness  s = RMS of the 3×3 Laplacian [[0,1,0],[1,-4,1],[0,1,0]] over the 126×126 valid area
 * then logits = [b, c, s] · W + bias, one linear "margin" per problem, `ok` fixed at 0:
 *   too_dark     = G_EXPOSURE · (DARK_BELOW - b)
 *   overexposed  = G_EXPOSURE · (b - BRIGHT_ABOVE)
 *   low_contrast = G_CONTRAST · (FLAT_BELOW - c)
 *   blurry       = G_SHARPNESS · (BLURRY_BELOW - s)
 *   ok           = 0
 * so a label wins when its feature is past its threshold. Priority exposure > contrast > blur comes
 * from tiered gains: each tier's largest possible logit (its feature at 0) is outweighed by the tier
 * above once that tier's feature is a small slack past its threshold (see the gains below). A uniform
 * black image is therefore too_dark, a uniform grey one low_contrast, never blurry.
 */
import type { ModelCard } from '../../src/model/ModelCard.js';
import type { BuiltInModel } from './BuiltInModel.js';
import type { OnnxModel } from '../../src/model/onnx/encodeOnnxModel.js';

/** Class order of the `logits` output and of `labels.txt`. */
export const QUALITY_LABELS = ['too_dark', 'overexposed', 'low_contrast', 'blurry', 'ok'] as const;

/**
 * Thresholds, calibrated on the 100 photos of shared/images/imagenet-sample stretched to 128×128:
 * photos measure b 0.09–0.88, c ≥ 0.073, s ≥ 0.021 (5th percentile 0.058); the same photos blurred
 * with a Gaussian of σ = 2 px measure s ≤ 0.024 (σ = 3: ≤ 0.013). Synthetic 8-px random blocks
 * measure s ≈ 0.35–0.77 sharp and 0.017–0.032 blurred with σ = 3.
 */
export const QUALITY_THRESHOLDS = {
  /** Mean luminance below this is too_dark. */
  DARK_BELOW: 0.18,
  /** Mean luminance above this is overexposed (the brightest sample photo, a product shot on white, is 0.882). */
  BRIGHT_ABOVE: 0.9,
  /** Luminance std below this is low_contrast. */
  FLAT_BELOW: 0.06,
  /** Laplacian RMS below this is blurry. */
  BLURRY_BELOW: 0.03,
} as const;

/**
 * Gains in logits per unit of feature. Blur: 1 logit per 0.001 of s, at most 30 (s = 0).
 * Contrast: 10⁴, at most 600 (c = 0); beats any blurry logit once c < FLAT_BELOW - 0.003.
 * Exposure: 10⁵; beats any low_contrast logit once b is 0.006 past its threshold.
 */
export const QUALITY_GAINS = { G_EXPOSURE: 1e5, G_CONTRAST: 1e4, G_SHARPNESS: 1e3 } as const;

const SIZE = 128;

/** [3, 5] row-major: rows are the features b, c, s; columns the classes in QUALITY_LABELS order. */
function classifierWeights(): { weight: number[]; bias: number[] } {
  const { DARK_BELOW, BRIGHT_ABOVE, FLAT_BELOW, BLURRY_BELOW } = QUALITY_THRESHOLDS;
  const { G_EXPOSURE, G_CONTRAST, G_SHARPNESS } = QUALITY_GAINS;
  const weight = [
    // too_dark     overexposed  low_contrast  blurry        ok
    -G_EXPOSURE,    G_EXPOSURE,  0,            0,            0, // brightness b
    0,              0,           -G_CONTRAST,  0,            0, // contrast c
    0,              0,           0,            -G_SHARPNESS, 0, // sharpness s
  ];
  const bias = [G_EXPOSURE * DARK_BELOW, -G_EXPOSURE * BRIGHT_ABOVE, G_CONTRAST * FLAT_BELOW, G_SHARPNESS * BLURRY_BELOW, 0];
  return { weight, bias };
}

function graph(): OnnxModel {
  const { weight, bias } = classifierWeights();
  const meanOverHW = [
    { name: 'axes', type: 'ints', value: [2, 3] },
    { name: 'keepdims', type: 'int', value: 1 },
  ] as const;
  return {
    producerName: 'imgpipe scripts/buildModels.ts',
    graph: {
      name: 'quality_basic',
      inputs: [{ name: 'input', shape: ['N', 3, SIZE, SIZE] }],
      outputs: [{ name: 'logits', shape: ['N', QUALITY_LABELS.length] }],
      initializers: [
        { name: 'luma_weight', dims: [1, 3, 1, 1], values: [0.299, 0.587, 0.114] },
        { name: 'laplacian_weight', dims: [1, 1, 3, 3], values: [0, 1, 0, 1, -4, 1, 0, 1, 0] },
        { name: 'classifier_weight', dims: [3, QUALITY_LABELS.length], values: weight },
        { name: 'classifier_bias', dims: [QUALITY_LABELS.length], values: bias },
      ],
      nodes: [
        // [N,3,H,W] -> Y [N,1,H,W]
        { opType: 'Conv', name: 'luma', inputs: ['input', 'luma_weight'], outputs: ['luma'], attributes: [{ name: 'kernel_shape', type: 'ints', value: [1, 1] }] },
        // brightness [N,1,1,1]
        { opType: 'ReduceMean', name: 'brightness', inputs: ['luma'], outputs: ['brightness'], attributes: meanOverHW },
        // contrast [N,1,1,1]
        { opType: 'Sub', name: 'luma_centered', inputs: ['luma', 'brightness'], outputs: ['luma_centered'] },
        { opType: 'Mul', name: 'luma_centered_sq', inputs: ['luma_centered', 'luma_centered'], outputs: ['luma_centered_sq'] },
        { opType: 'ReduceMean', name: 'luma_variance', inputs: ['luma_centered_sq'], outputs: ['luma_variance'], attributes: meanOverHW },
        { opType: 'Sqrt', name: 'contrast', inputs: ['luma_variance'], outputs: ['contrast'] },
        // sharpness [N,1,1,1]; the Laplacian has no padding: [N,1,H-2,W-2]
        { opType: 'Conv', name: 'laplacian', inputs: ['luma', 'laplacian_weight'], outputs: ['laplacian'], attributes: [{ name: 'kernel_shape', type: 'ints', value: [3, 3] }] },
        { opType: 'Mul', name: 'laplacian_sq', inputs: ['laplacian', 'laplacian'], outputs: ['laplacian_sq'] },
        { opType: 'ReduceMean', name: 'laplacian_mean_sq', inputs: ['laplacian_sq'], outputs: ['laplacian_mean_sq'], attributes: meanOverHW },
        { opType: 'Sqrt', name: 'sharpness', inputs: ['laplacian_mean_sq'], outputs: ['sharpness'] },
        // [b, c, s] [N,3] -> logits [N,5]
        { opType: 'Concat', name: 'features', inputs: ['brightness', 'contrast', 'sharpness'], outputs: ['features'], attributes: [{ name: 'axis', type: 'int', value: 1 }] },
        { opType: 'Flatten', name: 'features_flat', inputs: ['features'], outputs: ['features_flat'], attributes: [{ name: 'axis', type: 'int', value: 1 }] },
        { opType: 'MatMul', name: 'class_scores', inputs: ['features_flat', 'classifier_weight'], outputs: ['class_scores'] },
        { opType: 'Add', name: 'logits', inputs: ['class_scores', 'classifier_bias'], outputs: ['logits'] },
      ],
    },
  };
}

function card(sha256: string): ModelCard {
  const { DARK_BELOW, BRIGHT_ABOVE, FLAT_BELOW, BLURRY_BELOW } = QUALITY_THRESHOLDS;
  return {
    name: 'quality-basic',
    version: '1',
    task: 'classifier',
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
    output: { name: 'logits', activation: 'softmax', labels: 'labels.txt', top_k: 3 },
    license: 'Apache-2.0',
    source: 'built by scripts/buildModels.ts (deterministic weights, no training)',
    description:
      'Image quality by rule, measured in the graph on luminance Y (0..1, 128x128 stretched): ' +
      `too_dark if mean(Y) < ${DARK_BELOW}, overexposed if mean(Y) > ${BRIGHT_ABOVE}, ` +
      `else low_contrast if std(Y) < ${FLAT_BELOW}, ` +
      `else blurry if the RMS of the 3x3 Laplacian of Y < ${BLURRY_BELOW}, else ok. ` +
      'Logits are linear margins past each threshold with tiered gains (exposure 1e5, contrast 1e4, blur 1e3 per unit), ' +
      'so the earlier rule wins except within about 0.006 (brightness) or 0.003 (contrast) of a threshold.',
  };
}

export const qualityBasic: BuiltInModel = {
  name: 'quality-basic',
  onnx: graph(),
  card,
  sideFiles: { 'labels.txt': QUALITY_LABELS.join('\n') + '\n' },
};
