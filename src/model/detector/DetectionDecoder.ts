/**
 * A detector's raw outputs for one image → its detections in original pixels. Pure and
 * synchronous, over typed arrays: scores are thresholded in logit space (no exp per anchor), only
 * the rows above the threshold are decoded, and suppression runs on index arrays. Objects are made
 * only for the detections that are kept.
 *
 * Input (`packed`, what `ModelSession.run` returns per image for a detector card): the `scores`
 * outputs' rows concatenated in card order (rows × labels values), then the `boxes` outputs' rows
 * likewise (rows × (4 + 2 × keypoints) values).
 *
 * Steps: best label per row and its score (sigmoid or as is) → rows with score ≥ minScore → boxes
 * (SSD anchors: centre = anchor + (x, y)/scale, extent = (w, h)/scale; or corners as given), in
 * [0, 1] of the input → original pixels through the resize policy (`inputToImage`: letterbox
 * padding removed) → non-maximum suppression in pixels, best score first (`weighted`: each kept box
 * and its key points are the score-weighted mean of the boxes with IoU ≥ iou, as MediaPipe does;
 * `hard`: those boxes are dropped) → at most `max_detections` → clipped to the image; a box with no
 * area left inside the image is dropped.
 *
 * @throws {Error} when `packed` does not hold whole rows, or an SSD card's anchors do not match the
 * row count (the session refuses such a card at load; this guards a caller that skipped it).
 */
import { inputToImage } from '../../decode/inputGeometry.js';
import type { DetectorOutput, ModelInput } from '../ModelCard.js';
import type { DetectionEntry } from '../../sink/resultRow.js';
import { anchorCount, describeAnchors, ssdAnchors } from './ssdAnchors.js';

/** One box: top-left corner and size in pixels of the original image (after EXIF orientation) — the row contract's entry. */
export type Detection = DetectionEntry;

export interface DetectionResult {
  /** Best score first. */
  detections: Detection[];
  /** Per detection, its key points as x0, y0, x1, y1, … in original pixels (not clipped). */
  keypoints: Float32Array[];
  /** Largest and summed box area / image area (0 when there is none). */
  maxAreaRatio: number;
  sumAreaRatio: number;
}

export class DetectionDecoder {
  private readonly labels: readonly string[];
  private readonly boxValues: number;
  private readonly keypointCount: number;
  private readonly anchors: Float32Array | null;

  constructor(
    private readonly output: DetectorOutput,
    private readonly input: Pick<ModelInput, 'width' | 'height' | 'resize'>,
  ) {
    this.labels = output.labels;
    this.keypointCount = output.encoding.keypoints;
    this.boxValues = 4 + 2 * this.keypointCount;
    this.anchors = output.encoding.kind === 'ssd_anchors' ? ssdAnchors(output.encoding.groups, output.encoding.offset) : null;
  }

  /** Values per row across the score and box outputs. */
  get valuesPerRow(): number {
    return this.labels.length + this.boxValues;
  }

  decode(packed: Float32Array, width: number, height: number, minScore = this.output.min_score): DetectionResult {
    const C = this.labels.length;
    const V = this.boxValues;
    const K = this.keypointCount;
    if (packed.length % (C + V) !== 0) throw new Error(`detector output has ${packed.length} values, not a whole number of rows of ${C} score(s) + ${V} box values`);
    const rows = packed.length / (C + V);
    const enc = this.output.encoding;
    if (enc.kind === 'ssd_anchors' && rows !== anchorCount(enc.groups)) {
      throw new Error(`anchors: ${describeAnchors(enc.groups)}, but the outputs have ${rows} rows`);
    }
    const sigmoid = this.output.activation === 'sigmoid';
    // score ≥ minScore ⇔ raw ≥ logit(minScore) for the sigmoid; ±Infinity at 0 and 1 works too.
    const rawThreshold = sigmoid ? Math.log(minScore / (1 - minScore)) : minScore;

    // 1. Candidate rows: best label per row, at or above the threshold.
    let n = 0;
    const index = new Int32Array(rows);
    const labelIdx = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = packed[r * C]!;
      let c = 0;
      for (let k = 1; k < C; k++) if (packed[r * C + k]! > best) (best = packed[r * C + k]!), (c = k);
      if (best < rawThreshold) continue;
      index[n] = r;
      labelIdx[n++] = c;
    }
    const map = inputToImage(this.input, width, height);
    // 2. Decode candidates into pixel corners (x1, y1, x2, y2) and key points.
    const score = new Float32Array(n);
    const box = new Float64Array(n * 4);
    const kp = new Float64Array(n * 2 * K);
    const boxBase = rows * C;
    for (let i = 0; i < n; i++) {
      const r = index[i]!;
      const raw = Math.max(-100, Math.min(100, packed[r * C + labelIdx[i]!]!));
      score[i] = sigmoid ? 1 / (1 + Math.exp(-raw)) : raw;
      const b = boxBase + r * V;
      let x1: number, y1: number, x2: number, y2: number;
      if (this.anchors && enc.kind === 'ssd_anchors') {
        const ax = this.anchors[2 * r]!;
        const ay = this.anchors[2 * r + 1]!;
        const s = enc.scale;
        const cx = ax + packed[b]! / s;
        const cy = ay + packed[b + 1]! / s;
        const hw = packed[b + 2]! / s / 2;
        const hh = packed[b + 3]! / s / 2;
        (x1 = cx - hw), (y1 = cy - hh), (x2 = cx + hw), (y2 = cy + hh);
        for (let k = 0; k < K; k++) {
          kp[(i * K + k) * 2] = (ax + packed[b + 4 + 2 * k]! / s) * map.scaleX + map.offsetX;
          kp[(i * K + k) * 2 + 1] = (ay + packed[b + 5 + 2 * k]! / s) * map.scaleY + map.offsetY;
        }
      } else {
        (x1 = packed[b]!), (y1 = packed[b + 1]!), (x2 = packed[b + 2]!), (y2 = packed[b + 3]!);
        for (let k = 0; k < K; k++) {
          kp[(i * K + k) * 2] = packed[b + 4 + 2 * k]! * map.scaleX + map.offsetX;
          kp[(i * K + k) * 2 + 1] = packed[b + 5 + 2 * k]! * map.scaleY + map.offsetY;
        }
      }
      box[4 * i] = Math.min(x1, x2) * map.scaleX + map.offsetX;
      box[4 * i + 1] = Math.min(y1, y2) * map.scaleY + map.offsetY;
      box[4 * i + 2] = Math.max(x1, x2) * map.scaleX + map.offsetX;
      box[4 * i + 3] = Math.max(y1, y2) * map.scaleY + map.offsetY;
    }

    // 3. Suppression, best score first (ties: lower row first, so results are deterministic).
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b]! - score[a]! || index[a]! - index[b]!);
    const removed = new Uint8Array(n);
    const { kind, iou } = this.output.nms;
    const detections: Detection[] = [];
    const keypoints: Float32Array[] = [];
    let maxArea = 0;
    let sumArea = 0;
    const imageArea = width * height;
    const merged = new Float64Array(4 + 2 * K);
    for (let o = 0; o < n && detections.length < this.output.max_detections; o++) {
      const i = order[o]!;
      if (removed[i]) continue;
      merged.fill(0);
      let weight = 0;
      for (let p = o; p < n; p++) {
        const j = order[p]!;
        if (removed[j] || (j !== i && overlap(box, i, j) < iou)) continue;
        removed[j] = 1;
        if (kind === 'hard' && j !== i) continue;
        const s = score[j]!;
        weight += s;
        for (let k = 0; k < 4; k++) merged[k]! += s * box[4 * j + k]!;
        for (let k = 0; k < 2 * K; k++) merged[4 + k]! += s * kp[j * 2 * K + k]!;
      }
      if (weight <= 0) {
        // scores of 0 (min_score 0, activation none): take the best box as it is
        for (let k = 0; k < 4; k++) merged[k] = box[4 * i + k]!;
        for (let k = 0; k < 2 * K; k++) merged[4 + k] = kp[i * 2 * K + k]!;
        weight = 1;
      }
      const x1 = clamp(merged[0]! / weight, width);
      const y1 = clamp(merged[1]! / weight, height);
      const x2 = clamp(merged[2]! / weight, width);
      const y2 = clamp(merged[3]! / weight, height);
      if (x2 <= x1 || y2 <= y1) continue;
      const w = x2 - x1;
      const h = y2 - y1;
      detections.push({ label: this.labels[labelIdx[i]!]!, score: score[i]!, x: x1, y: y1, w, h });
      const points = new Float32Array(2 * K);
      for (let k = 0; k < 2 * K; k++) points[k] = merged[4 + k]! / weight;
      keypoints.push(points);
      const ratio = imageArea > 0 ? (w * h) / imageArea : 0;
      maxArea = Math.max(maxArea, ratio);
      sumArea += ratio;
    }
    return { detections, keypoints, maxAreaRatio: maxArea, sumAreaRatio: sumArea };
  }
}

const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));

/** IoU of candidates i and j (corner boxes in `box`). */
function overlap(box: Float64Array, i: number, j: number): number {
  const ix = Math.min(box[4 * i + 2]!, box[4 * j + 2]!) - Math.max(box[4 * i]!, box[4 * j]!);
  const iy = Math.min(box[4 * i + 3]!, box[4 * j + 3]!) - Math.max(box[4 * i + 1]!, box[4 * j + 1]!);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const a = (box[4 * i + 2]! - box[4 * i]!) * (box[4 * i + 3]! - box[4 * i + 1]!);
  const b = (box[4 * j + 2]! - box[4 * j]!) * (box[4 * j + 3]! - box[4 * j + 1]!);
  return inter / (a + b - inter);
}
