/**
 * What a report shows, as plain data: built from a committed run (`runReportModel`) or from a
 * training run (`trainingReportModel`), rendered by `renderReportHtml`, written by `writeReport`.
 * Every string here is data (image names and labels come from users) and is escaped when rendered.
 */
import type { ClassifierMetrics } from '../train/evaluateClassifier.js';

export interface GalleryItem {
  image_name: string;
  /** Top-1 confidence, when the model is a classifier. */
  score: number | null;
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
  galleries: { title: string; note: string; groups: GalleryGroup[] } | null;
  evaluation: { title: string; note: string; metrics: ClassifierMetrics; chance: number } | null;
  /** Extra image lists (e.g. misclassified held-out images). */
  imageLists: { id: string; title: string; note: string; items: GalleryItem[] }[];
  errors: { title: string; note: string; total: number; byReason: { reason: string; count: number }[]; rows: { image_name: string; reason: string }[] };
  /** Extra name lists without images (e.g. images left out for being in two categories). */
  nameLists: { id: string; title: string; note: string; total: number; names: string[] }[];
}
