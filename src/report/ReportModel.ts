/**
 * What a report shows, as plain data: built from a committed run (`runReportModel`) or from a
 * training run (`trainingReportModel`), rendered by `renderReportHtml`, written by `writeReport`.
 * Every string here is data (image names and labels come from users) and is escaped when rendered.
 */
import type { DetectionEntry } from '../sink/resultRow.js';
import type { ClassifierMetrics } from '../train/evaluateClassifier.js';

/** A detection drawn over a thumbnail, in pixels of the original image (after EXIF orientation). */
export type GalleryBox = DetectionEntry;

export interface GalleryItem {
  image_name: string;
  /** Top-1 confidence (classifiers), or a detection score (detectors). */
  score: number | null;
  /** Detector runs: the image's detections, drawn over the thumbnail as an inline SVG. */
  boxes?: GalleryBox[];
  /** Size of the original image after EXIF orientation (the boxes' coordinate space). */
  width?: number;
  height?: number;
  /** A short line under the thumbnail (e.g. "true: Sunsets"). */
  note?: string;
  /** Shown highlighted: a held-out image the model got wrong. */
  wrong?: boolean;
}

export interface GalleryGroup {
  label: string;
  count: number;
  /** Highest scores first. */
  most: GalleryItem[];
  /** Lowest scores first; empty when the group is small enough that `most` shows it all. */
  least: GalleryItem[];
}

export interface ReportModel {
  title: string;
  subtitle: string;
  /** ISO time the report was generated. */
  generatedAt: string;
  /** Headline numbers; `key` becomes the element's `data-stat`. */
  totals: { key: string; label: string; value: number }[];
  /** Key/value facts about the run or the training (all strings, shown as given). */
  metadata: { key: string; value: string }[];
  /** Rows per label (first column charted); `columns[0]` names `count`. */
  labelCounts: { title: string; note: string; columns: string[]; rows: { label: string; count: number; extra: number[] }[] } | null;
  /** Equal-width bins of top-1 confidence over [0, 1]. */
  histogram: { title: string; note: string; bins: number[] } | null;
  /** More charts (detector runs: faces per image, largest face's area), each with titled axes. */
  charts?: ReportChart[];
  /** Rows per source category (rows) and label or bucket (columns), from the warehouse's categorylinks. */
  crossTab?: { title: string; note: string; rowLabel: string; columns: string[]; rows: { label: string; total: number; counts: number[] }[] } | null;
  galleries: { title: string; note: string; groups: GalleryGroup[] } | null;
  evaluation: { title: string; note: string; metrics: ClassifierMetrics; chance: number } | null;
  /** Extra image lists (e.g. misclassified held-out images). */
  imageLists: { id: string; title: string; note: string; items: GalleryItem[] }[];
  errors: { title: string; note: string; total: number; byReason: { reason: string; count: number }[]; rows: { image_name: string; reason: string }[] };
  /** Extra name lists without images (e.g. images left out for being in two categories). */
  nameLists: { id: string; title: string; note: string; total: number; names: string[] }[];
}

export type ReportChart =
  | { id: string; title: string; note: string; kind: 'bars'; rows: { label: string; count: number }[]; valueLabel: string; categoryLabel: string }
  | { id: string; title: string; note: string; kind: 'histogram'; bins: number[]; range: [number, number]; xLabel: string; yLabel: string };
