/**
 * The model card (`model.json`), validated with zod. Unknown fields are an error at every level:
 * a typo must not silently change preprocessing. Paths in a card are relative to the card's folder.
 */
import { z } from 'zod';

const resizeShorterCrop = z.strictObject({
  /** Resize so the shorter side is this many pixels (torchvision `Resize(n)`), then crop. */
  shorter: z.number().int().min(1).max(16384),
  crop: z.literal('center'),
  kernel: z.enum(['nearest', 'linear', 'cubic', 'lanczos3']),
});
const resizeStretch = z.strictObject({
  /** Resize straight to height × width, ignoring aspect ratio. */
  mode: z.literal('stretch'),
  kernel: z.enum(['nearest', 'linear', 'cubic', 'lanczos3']).optional(),
});
const byte = z.number().int().min(0).max(255);
const resizeLetterbox = z.strictObject({
  /**
   * The whole image, aspect kept, scaled to fit height × width and centred; the rest is `pad`
   * (R, G, B, 0–255, before scale/mean/std). Detectors map their boxes back through the same
   * geometry (`letterboxGeometry`), so boxes come out in the original image's pixels.
   */
  mode: z.literal('letterbox'),
  pad: z.tuple([byte, byte, byte]),
  kernel: z.enum(['nearest', 'linear', 'cubic', 'lanczos3']).optional(),
});

/** Finite (zod 4's `z.number()` refuses ±Infinity and NaN; JSON's `1e999` parses to Infinity). */
const finite = z.number();
/** Finite and above 0: a std or scale of 0 divides by zero, a negative one inverts the image. */
const positive = z.number().positive();
const triple = z.tuple([finite, finite, finite]);
const positiveTriple = z.tuple([positive, positive, positive]);

export const modelInputSchema = z.strictObject({
  name: z.string().min(1),
  layout: z.enum(['NCHW', 'NHWC']),
  dtype: z.enum(['float32', 'uint8']),
  height: z.number().int().min(1).max(8192),
  width: z.number().int().min(1).max(8192),
  channels: z.literal('RGB'),
  resize: z.union([resizeShorterCrop, resizeStretch, resizeLetterbox]),
  /** Multiplies each 0–255 value before mean/std; float32 inputs only. Finite, above 0. */
  scale: positive.optional(),
  /** Per channel (R, G, B), subtracted after scale. Finite. */
  mean: triple.optional(),
  /** Per channel (R, G, B), divides after mean. Finite, above 0. */
  std: positiveTriple.optional(),
});

const classifierOutput = z.strictObject({
  name: z.string().min(1),
  activation: z.enum(['softmax', 'sigmoid', 'none']),
  /** A labels file (one label per line, relative to the card) or the labels inline. */
  labels: z.union([z.string().min(1), z.array(z.string()).min(1)]),
  top_k: z.number().int().min(1).max(100),
});
const embeddingOutput = z.strictObject({
  name: z.string().min(1),
  normalize: z.enum(['none', 'l2']),
  dim: z.number().int().min(1).max(65536),
});

/**
 * SSD anchors as MediaPipe's SsdAnchorsCalculator makes them, one group per feature map: for each
 * group, cells row by row (y, then x), `anchors_per_cell` anchors per cell, centre
 * ((x + offset)/grid, (y + offset)/grid), size 1 × 1 (`fixed_size`). Groups are concatenated in card
 * order, and so are the rows of the `scores` and `boxes` outputs.
 */
const ssdAnchors = z.strictObject({
  kind: z.literal('ssd_anchors'),
  groups: z.array(z.strictObject({ grid: z.number().int().min(1).max(1024), anchors_per_cell: z.number().int().min(1).max(64) })).min(1),
  offset: z.number().min(0).max(1),
  fixed_size: z.literal(true),
  /**
   * Box values per row: x, y, w, h (centre offset and extent) divided by `scale` give [0, 1] of the
   * input; then `keypoints` (x, y) pairs, likewise relative to the anchor centre.
   */
  scale: z.number().positive(),
  keypoints: z.number().int().min(0).max(64),
});
/**
 * The graph already decodes: each box row is x1, y1, x2, y2 in [0, 1] of the (letterboxed) input,
 * then `keypoints` (x, y) pairs in [0, 1].
 */
const cornerBoxes = z.strictObject({
  kind: z.literal('corners'),
  keypoints: z.number().int().min(0).max(64),
});
const detectorOutput = z.strictObject({
  /** Graph outputs holding per-row scores, [1, rows, labels]; rows of several outputs are concatenated. */
  scores: z.array(z.string().min(1)).min(1),
  /** Graph outputs holding the box rows, [1, rows, 4 + 2 × keypoints]; one per `scores` output. */
  boxes: z.array(z.string().min(1)).min(1),
  encoding: z.discriminatedUnion('kind', [ssdAnchors, cornerBoxes]),
  /** Applied to each raw score ('none': the graph gives probabilities). */
  activation: z.enum(['sigmoid', 'none']),
  /** Detections below this score are dropped (`run --min-score` overrides it). */
  min_score: z.number().min(0).max(1),
  /** `weighted`: MediaPipe's weighted NMS (score-weighted mean of the overlapping boxes); `hard`: keep the best. */
  nms: z.strictObject({ kind: z.enum(['weighted', 'hard']), iou: z.number().gt(0).max(1) }),
  max_detections: z.number().int().min(1).max(1000),
  /** One per score column, e.g. ["face"]. */
  labels: z.array(z.string().min(1)).min(1),
});

const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" or "-"'),
  version: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-"'),
  onnx: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
  input: modelInputSchema,
  license: z.string().optional(),
  source: z.string().optional(),
  description: z.string().optional(),
  /** Free-form provenance a tool recorded (training data, metrics, seed); not read by `run`. */
  training: z.record(z.string(), z.unknown()).optional(),
};

export const modelCardSchema = z.discriminatedUnion('task', [
  z.strictObject({ ...common, task: z.literal('classifier'), output: classifierOutput }),
  z.strictObject({ ...common, task: z.literal('embedding'), output: embeddingOutput }),
  z.strictObject({ ...common, task: z.literal('detector'), output: detectorOutput }),
]);

export type ModelCard = z.infer<typeof modelCardSchema>;
export type ModelInput = z.infer<typeof modelInputSchema>;
export type ClassifierCard = Extract<ModelCard, { task: 'classifier' }>;
export type EmbeddingCard = Extract<ModelCard, { task: 'embedding' }>;
export type DetectorCard = Extract<ModelCard, { task: 'detector' }>;
export type DetectorOutput = z.infer<typeof detectorOutput>;
