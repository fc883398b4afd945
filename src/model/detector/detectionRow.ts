/**
 * A detector's output for one image → the detector columns of its result row (resultRow.ts).
 * `detectorFor` builds one DetectionDecoder per loaded card (anchors computed once) and keeps it
 * for the card's lifetime.
 */
import type { DetectionEntry, ResultRow } from '../../sink/resultRow.js';
import type { LoadedModel } from '../loadModelCard.js';
import { DetectionDecoder } from './DetectionDecoder.js';

const decoders = new WeakMap<LoadedModel, DetectionDecoder>();

/** @throws {Error} when `model` is not a detector. */
export function detectorFor(model: LoadedModel): DetectionDecoder {
  const card = model.card;
  if (card.task !== 'detector') throw new Error(`${model.qualifiedName} is a ${card.task}, not a detector`);
  let d = decoders.get(model);
  if (!d) decoders.set(model, (d = new DetectionDecoder(card.output, card.input)));
  return d;
}

export type DetectionColumns = Required<Pick<ResultRow, 'detections' | 'keypoints' | 'count' | 'max_area_ratio' | 'sum_area_ratio'>>;

/**
 * Decode `output` for an image of `width` × `height` (original pixels, after EXIF orientation).
 * `minScore` overrides the card's `min_score` when given.
 */
export function detectionColumns(model: LoadedModel, output: Float32Array, width: number, height: number, minScore?: number): DetectionColumns {
  const r = detectorFor(model).decode(output, width, height, minScore);
  const detections: DetectionEntry[] = r.detections.map((d) => ({ label: d.label, score: d.score, x: d.x, y: d.y, w: d.w, h: d.h }));
  return { detections, keypoints: r.keypoints, count: detections.length, max_area_ratio: r.maxAreaRatio, sum_area_ratio: r.sumAreaRatio };
}
