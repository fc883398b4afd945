/**
 * The report `imgpipe train` writes beside the new card: the training data, the held-out
 * evaluation (confusion matrix, per-class precision/recall), the held-out images per predicted label
 * (most and least confident, mistakes marked), every mistake, the images left out and why.
 */
import type { TrainingRecord } from '../train/TrainingRecord.js';
import type { GalleryGroup, GalleryItem, ReportModel } from './ReportModel.js';

export interface HeldOutPrediction {
  image_name: string;
  truth: number;
  predicted: number;
  /** Softmax probability of the predicted class. */
  score: number;
}

export interface TrainingReportSource {
  /** `<name>-<version>` of the new model. */
  model: string;
  cardPath: string;
  record: TrainingRecord;
  heldOut: readonly HeldOutPrediction[];
  /** Labelled images without an embedding (error rows of the embedding run). */
  errors: readonly { image_name: string; reason: string }[];
  /** Images under two or more of the categories, left out. */
  overlaps: readonly string[];
}

export function trainingReportModel(src: TrainingReportSource, options: { perLabel?: number; bins?: number; maxNames?: number } = {}): ReportModel {
  const k = options.perLabel ?? 8;
  const bins = options.bins ?? 20;
  const maxNames = options.maxNames ?? 1000;
  const r = src.record;
  const labels = r.data.categories;
  const item = (p: HeldOutPrediction): GalleryItem => ({
    image_name: p.image_name,
    score: p.score,
    note: p.truth === p.predicted ? `true: ${labels[p.truth]}` : `wrong, true: ${labels[p.truth]}`,
    wrong: p.truth !== p.predicted,
  });
  const groups: GalleryGroup[] = labels.map((label, c) => {
    const mine = src.heldOut.filter((p) => p.predicted === c).sort((a, b) => b.score - a.score || (a.image_name < b.image_name ? -1 : 1));
    if (mine.length <= 2 * k) return { label, count: mine.length, most: mine.map(item), least: [] };
    return { label, count: mine.length, most: mine.slice(0, k).map(item), least: mine.slice(-k).reverse().map(item) };
  });
  const histogram = new Array<number>(bins).fill(0);
  for (const p of src.heldOut) histogram[Math.min(bins - 1, Math.floor(p.score * bins))]!++;
  const byReason = Object.entries(r.counts.errors_by_reason).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([reason, count]) => ({ reason, count }));
  const m = r.metrics.holdout;
  const used = labels.reduce((a, l) => a + r.counts.per_class[l]!.used, 0);
  return {
    title: `Training ${src.model}: ${labels.join(' vs ')}`,
    subtitle: `Backbone ${r.backbone.name}-${r.backbone.version}, snapshot ${r.data.snapshot}, trained ${r.created_at}`,
    generatedAt: new Date().toISOString(),
    totals: [
      { key: 'used', label: 'images used', value: used },
      { key: 'train', label: 'trained on', value: r.metrics.train.n },
      { key: 'holdout', label: 'held out', value: m.n },
      { key: 'overlap', label: 'left out: in two categories', value: r.counts.overlap_left_out },
      { key: 'error', label: 'left out: error rows', value: r.counts.error_left_out },
    ],
    metadata: [
      { key: 'model card', value: src.cardPath },
      { key: 'categories', value: labels.join(', ') },
      { key: 'depth', value: String(r.data.depth) },
      { key: 'warehouse', value: r.data.warehouse },
      { key: 'snapshot', value: r.data.snapshot },
      { key: 'backbone', value: `${r.backbone.name}-${r.backbone.version} (sha256 ${r.backbone.sha256}, normalize ${r.backbone.normalize})` },
      { key: 'embeddings', value: `${r.data.embeddings.partition} (run ${r.data.embeddings.run_id}${r.data.embeddings.reused ? ', reused' : ''})` },
      { key: 'split', value: `holdout ${r.split.holdout}, seed ${r.split.seed}: ${r.split.method}` },
      { key: 'head', value: `${r.head.kind}, L2 ${r.head.l2}, class weights ${r.head.class_weights}, standardized features, ${r.head.optimizer} ${r.head.iterations} iterations, ${r.head.converged ? 'converged' : 'NOT converged'} (gradient ${r.head.gradient_norm.toExponential(2)})` },
      { key: 'train accuracy', value: `${(100 * r.metrics.train.accuracy).toFixed(1)}% of ${r.metrics.train.n}` },
    ],
    labelCounts: {
      title: 'Images per category',
      note: 'used = selected − in two categories − error rows; used = trained on + held out.',
      columns: ['used', 'selected', 'in two categories', 'error rows', 'trained on', 'held out'],
      rows: labels.map((label) => {
        const c = r.counts.per_class[label]!;
        return { label, count: c.used, extra: [c.selected, c.overlap_left_out, c.error_left_out, c.train, c.holdout] };
      }),
    },
    histogram: { title: 'Confidence on held-out images', note: `Probability of the predicted class, ${m.n} held-out images, ${bins} bins.`, bins: histogram },
    galleries: { title: 'Held-out images by predicted label', note: `Up to ${k} most and ${k} least confident per predicted label; mistakes are outlined in red.`, groups },
    evaluation: { title: 'Evaluation on held-out images', note: `Rows are the true category, columns the predicted one. The head never saw these ${m.n} images.`, metrics: m, chance: 1 / labels.length },
    imageLists: [
      {
        id: 'mistakes',
        title: 'Held-out mistakes',
        note: 'Every held-out image whose predicted category is not its own.',
        items: src.heldOut.filter((p) => p.truth !== p.predicted).sort((a, b) => b.score - a.score).map(item),
      },
    ],
    errors: {
      title: 'Left out: error rows',
      note: 'Labelled images the backbone could not embed (the reason is the error column of the embeddings table).',
      total: r.counts.error_left_out,
      byReason,
      rows: src.errors.slice(0, 500).map((e) => ({ ...e })),
    },
    nameLists: [
      { id: 'overlaps', title: 'Left out: in two or more categories', note: 'An image under more than one of the given categories has no single label.', total: src.overlaps.length, names: src.overlaps.slice(0, maxNames) },
    ],
  };
}
