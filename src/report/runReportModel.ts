/**
 * A report of one committed run, from its partition folder (`<table>/model=…/snapshot=…/`): counts
 * and charts are aggregated in DuckDB, so only the gallery rows and the first error rows reach
 * JavaScript, whatever the size of the table. A trained model's card adds its held-out evaluation.
 *
 * Every run kind: a breakdown by source category (from the embedded warehouse's categorylinks; left
 * out for a Hive catalog) against labels, face counts or status, and a random sample (a fixed hash
 * order, so reports are reproducible) of the images the extremes do not already show. Detector runs:
 * faces per image, the largest face's share of the image, the most and least confident detections
 * with their boxes, and the images with the most faces.
 */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import type { ModelCard } from '../model/ModelCard.js';
import type { RunSpec } from '../plan/manifest.js';
import type { RunSummaryFile } from '../sink/Committer.js';
import { readTrainingRecord } from '../train/TrainingRecord.js';
import type { GalleryBox, GalleryGroup, GalleryItem, ReportChart, ReportModel } from './ReportModel.js';

export interface RunReportSource {
  /** The committed partition folder. */
  partition: string;
  summary: RunSummaryFile;
  /** The plan's run.json, when it is still around. */
  run: RunSpec | null;
  /** The model's card, when it can be read. */
  card: ModelCard | null;
  cardPath: string | null;
}

export interface RunReportOptions {
  /** Most and least confident images shown per label. @defaultValue 8 */
  perLabel?: number;
  /** Labels with a gallery (the most frequent). @defaultValue 30 */
  maxGalleryLabels?: number;
  /** Error rows listed. @defaultValue 500 */
  maxErrorRows?: number;
  /** Histogram bins over [0, 1]. @defaultValue 20 */
  bins?: number;
}

export async function runReportModel(src: RunReportSource, options: RunReportOptions = {}): Promise<ReportModel> {
  const k = options.perLabel ?? 8;
  const maxLabels = options.maxGalleryLabels ?? 30;
  const maxErrors = options.maxErrorRows ?? 500;
  const bins = options.bins ?? 20;
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  const rows = async (sql: string) => (await db.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  try {
    // union_by_name: a snapshot may hold parts written before the detector columns existed (carried rows).
    await db.run(`CREATE VIEW r AS SELECT * FROM read_parquet(${duckdbString(path.join(src.partition, '*.parquet'))}, union_by_name = true)`);
    const columns = new Set((await rows(`DESCRIBE SELECT * FROM r`)).map((c) => String(c.column_name)));
    const [t] = await rows(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status = 'error') AS error FROM r`);
    const total = { n: Number(t!.n), ok: Number(t!.ok), error: Number(t!.error) };
    const labels = (await rows(`SELECT label, count(*) AS n FROM r WHERE status = 'ok' AND label IS NOT NULL GROUP BY label ORDER BY n DESC, label`)).map((r) => ({ label: String(r.label), count: Number(r.n) }));
    const classifier = src.card ? src.card.task === 'classifier' : labels.length > 0;
    const detector = src.card ? src.card.task === 'detector' : !classifier && columns.has('count') && Number((await rows(`SELECT count(count) AS n FROM r`))[0]!.n) > 0;
    const shown = new Set<string>();
    const imageLists: ReportModel['imageLists'] = [];
    let charts: ReportChart[] = [];
    let detectorTotals: ReportModel['totals'] = [];

    let histogram: ReportModel['histogram'] = null;
    let groups: GalleryGroup[] = [];
    if (classifier) {
      const h = new Array<number>(bins).fill(0);
      for (const r of await rows(`SELECT least(CAST(floor(score * ${bins}) AS INTEGER), ${bins - 1}) AS b, count(*) AS n FROM r WHERE status = 'ok' AND score IS NOT NULL GROUP BY b`)) {
        h[Math.max(0, Number(r.b))] += Number(r.n);
      }
      histogram = { title: 'Confidence', note: `Top-1 score of the ${total.ok.toLocaleString('en-US')} ok rows, in ${bins} bins.`, bins: h };
      const shown = labels.slice(0, maxLabels);
      const picked = await rows(`SELECT label, image_name, score, hi, lo, n FROM (
          SELECT label, image_name, score, count(*) OVER (PARTITION BY label) AS n,
                 row_number() OVER (PARTITION BY label ORDER BY score DESC, image_name) AS hi,
                 row_number() OVER (PARTITION BY label ORDER BY score ASC, image_name) AS lo
          FROM r WHERE status = 'ok' AND label IS NOT NULL)
        WHERE hi <= ${k} OR lo <= ${k} ORDER BY label, hi`);
      groups = shown.map(({ label, count }) => {
        const mine = picked.filter((r) => r.label === label).map((r) => ({ image_name: String(r.image_name), score: Number(r.score), hi: Number(r.hi), lo: Number(r.lo) }));
        if (count <= 2 * k) return { label, count, most: mine.map(({ image_name, score }) => ({ image_name, score })), least: [] };
        return {
          label,
          count,
          most: mine.filter((r) => r.hi <= k).map(({ image_name, score }) => ({ image_name, score })),
          least: mine.filter((r) => r.lo <= k).sort((a, b) => a.lo - b.lo).map(({ image_name, score }) => ({ image_name, score })),
        };
      });
    } else if (detector) {
      const d = await detectorSections(rows, k, total.ok);
      groups = d.groups;
      charts = d.charts;
      imageLists.push(d.mostFaces);
      detectorTotals = d.totals;
    }
    for (const g of groups) for (const i of [...g.most, ...g.least]) shown.add(i.image_name);
    for (const l of imageLists) for (const i of l.items) shown.add(i.image_name);
    if (total.ok > shown.size) {
      const sample = await rows(`SELECT image_name, score, width, height${detector ? ', detections, count' : ''} FROM r WHERE status = 'ok' ORDER BY hash(image_name), image_name LIMIT ${2 * k + shown.size}`);
      const items = sample.filter((r) => !shown.has(String(r.image_name))).slice(0, 2 * k).map((r) => (detector ? detectorItem(r, null) : { image_name: String(r.image_name), score: r.score === null ? null : Number(r.score) }));
      imageLists.push({ id: 'sample', title: 'Random sample', note: `${items.length} ok images the galleries above do not show, in a fixed pseudo-random order (hash of the name), so they are neither the best nor the worst.`, items });
    }
    const crossTab = await categoryCrossTab(db, rows, src, classifier ? 'label' : detector ? 'faces' : 'status');

    const byReason = (await rows(`SELECT error AS reason, count(*) AS n FROM r WHERE status = 'error' GROUP BY error ORDER BY n DESC, reason`)).map((r) => ({ reason: String(r.reason), count: Number(r.n) }));
    const errorRows = (await rows(`SELECT image_name, error FROM r WHERE status = 'error' ORDER BY image_name LIMIT ${maxErrors}`)).map((r) => ({ image_name: String(r.image_name), reason: String(r.error) }));

    const s = src.summary;
    const metadata: ReportModel['metadata'] = [
      { key: 'run id', value: s.run_id },
      { key: 'model', value: s.model },
      ...(src.cardPath ? [{ key: 'model card', value: src.cardPath }] : []),
      ...((src.run?.model.sha256 ?? s.model_sha256) ? [{ key: 'model sha256', value: (src.run?.model.sha256 ?? s.model_sha256)! }] : []),
      { key: 'table', value: s.table },
      { key: 'snapshot', value: s.snapshot },
      { key: 'output', value: src.partition },
      { key: 'partitions', value: String(s.partitions) },
      { key: 'committed at', value: s.committed_at },
      { key: 'elapsed', value: `${s.elapsed_s} s` },
      ...(s.incremental ? [{ key: 'incremental', value: `from snapshot ${s.incremental.previous_snapshot ?? '(none)'}: ${s.incremental.scored} scored, ${s.incremental.carried_forward} carried forward, ${s.incremental.dropped} dropped` }] : []),
      ...(s.failed_partitions?.length ? [{ key: 'failed partitions', value: s.failed_partitions.map((f) => `${f.partition} (${f.attempts} attempts: ${f.last_error})`).join('; ') }] : []),
      ...(src.run ? [{ key: 'warehouse', value: src.run.catalog.kind === 'embedded' ? src.run.catalog.warehouse : `hive ${src.run.catalog.hive.host}:${src.run.catalog.hive.port}/${src.run.catalog.hive.database}` }, { key: 'selection', value: src.run.query }] : []),
    ];

    let evaluation: ReportModel['evaluation'] = null;
    const training = src.card ? readTrainingRecord(src.card.training) : null;
    if (training) {
      const m = training.metrics.holdout;
      evaluation = {
        title: 'How the model did when it was trained',
        note: `From the card: ${m.n} held-out images of ${training.data.categories.join(', ')} (snapshot ${training.data.snapshot}, depth ${training.data.depth}, holdout ${training.split.holdout}, seed ${training.split.seed}), backbone ${training.backbone.name}-${training.backbone.version}. These numbers are not about this run's images.`,
        metrics: m,
        chance: 1 / m.labels.length,
      };
      metadata.push({ key: 'trained on', value: `${training.data.categories.join(', ')} (${training.created_at})` });
    }

    return {
      title: `${s.model} → ${s.table}, snapshot ${s.snapshot}`,
      subtitle: `Run ${s.run_id}`,
      generatedAt: new Date().toISOString(),
      totals: [
        { key: 'selected', label: 'images', value: total.n },
        { key: 'ok', label: 'ok', value: total.ok },
        { key: 'error', label: 'error rows', value: total.error },
        ...(classifier ? [{ key: 'labels', label: 'labels seen', value: labels.length }] : []),
        ...detectorTotals,
      ],
      metadata,
      labelCounts: classifier ? { title: 'Counts per label', note: 'Top-1 label of each ok row.', columns: ['images'], rows: labels.map((l) => ({ ...l, extra: [] })) } : null,
      histogram,
      charts,
      crossTab,
      galleries: groups.length
        ? {
            title: classifier ? 'Gallery per label' : 'Detections',
            note: classifier
              ? `Up to ${k} most and ${k} least confident images per label${labels.length > maxLabels ? `, for the ${maxLabels} most frequent of ${labels.length} labels` : ''}. Click a thumbnail for the larger image; the name links to its Commons page.`
              : `Boxes drawn over each image. Up to ${k} images whose best detection scores highest, and ${k} whose weakest detection scores lowest (the score shown). Click a thumbnail for the larger image.`,
            groups,
          }
        : null,
      evaluation,
      imageLists,
      errors: {
        title: 'Error rows',
        note: 'Images the run could not score, with the reason written to the error column.',
        total: total.error,
        byReason,
        rows: errorRows,
      },
      nameLists: [],
    };
  } finally {
    db.disconnectSync();
    instance.closeSync();
  }
}

type Rows = (sql: string) => Promise<Record<string, unknown>[]>;

/** A gallery item with its boxes from a row holding image_name, width, height, detections. */
function detectorItem(r: Record<string, unknown>, score: number | null): GalleryItem {
  const boxes = ((r.detections as GalleryBox[] | null) ?? []).map((b) => ({ label: String(b.label), score: Number(b.score), x: Number(b.x), y: Number(b.y), w: Number(b.w), h: Number(b.h) }));
  const n = boxes.length;
  return { image_name: String(r.image_name), score, boxes, width: Number(r.width), height: Number(r.height), note: `${n} face${n === 1 ? '' : 's'}` };
}

/** Faces-per-image and area charts, the confidence gallery and the most-faces list of a detector run. */
async function detectorSections(rows: Rows, k: number, ok: number) {
  const counts = await rows(`SELECT least(count, 6) AS c, count(*) AS n FROM r WHERE status = 'ok' GROUP BY c ORDER BY c`);
  const byCount = new Map(counts.map((r) => [Number(r.c), Number(r.n)]));
  const countRows = [0, 1, 2, 3, 4, 5, 6].map((c) => ({ label: c === 6 ? '6 or more' : String(c), count: byCount.get(c) ?? 0 }));
  const [t] = await rows(`SELECT coalesce(sum(count), 0) AS faces, count(*) FILTER (WHERE count > 0) AS with_faces FROM r WHERE status = 'ok'`);
  const bins = 20;
  const top = 0.5;
  const area = new Array<number>(bins).fill(0);
  for (const r of await rows(`SELECT least(CAST(floor(max_area_ratio / ${top} * ${bins}) AS INTEGER), ${bins - 1}) AS b, count(*) AS n FROM r WHERE status = 'ok' AND count > 0 GROUP BY b`)) {
    area[Math.max(0, Number(r.b))] += Number(r.n);
  }
  const withFaces = Number(t!.with_faces);
  const charts: ReportChart[] = [
    { id: 'face-counts', title: 'Faces per image', note: `Detections per ok image (${ok.toLocaleString('en-US')} images).`, kind: 'bars', rows: countRows, valueLabel: 'images', categoryLabel: 'faces in the image' },
    { id: 'face-area', title: "Largest face's share of the image", note: `max_area_ratio (box area / image area) of the ${withFaces.toLocaleString('en-US')} images with a face, in ${bins} bins over 0–${top}; the last bin holds everything above ${top - top / bins}.`, kind: 'histogram', bins: area, range: [0, top], xLabel: 'largest face area / image area', yLabel: 'images' },
  ];
  const detected = `SELECT image_name, width, height, count, detections, list_max(list_transform(detections, d -> d.score)) AS best, list_min(list_transform(detections, d -> d.score)) AS worst FROM r WHERE status = 'ok' AND count > 0`;
  const best = await rows(`${detected} ORDER BY best DESC, image_name LIMIT ${k}`);
  const worst = await rows(`${detected} ORDER BY worst ASC, image_name LIMIT ${k}`);
  const most = await rows(`${detected} ORDER BY count DESC, best DESC, image_name LIMIT ${k}`);
  const groups: GalleryGroup[] = withFaces === 0
    ? []
    : [{
        label: 'faces',
        count: withFaces,
        most: best.map((r) => detectorItem(r, Number(r.best))),
        least: withFaces <= k ? [] : worst.map((r) => detectorItem(r, Number(r.worst))),
      }];
  return {
    charts,
    groups,
    mostFaces: { id: 'most-faces', title: 'Images with the most faces', note: `Up to ${k} images, most detections first.`, items: most.map((r) => detectorItem(r, Number(r.best))) },
    totals: [
      { key: 'faces', label: 'faces detected', value: Number(t!.faces) },
      { key: 'with_faces', label: 'images with a face', value: withFaces },
    ],
  };
}

/**
 * Rows per source category (the 15 with most rows) against the run's buckets: top-1 label
 * (classifiers, the 8 most frequent, the rest as "other"), faces per image (detectors) or status
 * (embeddings); error rows are their own column. Null when the warehouse is not a local embedded one.
 */
async function categoryCrossTab(db: { run(sql: string): Promise<unknown> }, rows: Rows, src: RunReportSource, kind: 'label' | 'faces' | 'status'): Promise<ReportModel['crossTab']> {
  const warehouse = src.run?.catalog.kind === 'embedded' ? src.run.catalog.warehouse : src.run?.bytes.kind === 'warehouse' ? src.run.bytes.warehouseDir : null;
  if (!warehouse) return null;
  const links = path.join(warehouse, 'categorylinks');
  try {
    await db.run(`CREATE VIEW cl AS SELECT * FROM read_parquet(${duckdbString(path.join(links, '*.parquet'))})`);
  } catch {
    return null; // no categorylinks files (an empty warehouse): nothing to break down
  }
  const bucket =
    kind === 'label'
      ? `CASE WHEN status = 'error' THEN 'error' WHEN label IN (SELECT label FROM r WHERE label IS NOT NULL GROUP BY label ORDER BY count(*) DESC, label LIMIT 8) THEN label ELSE 'other' END`
      : kind === 'faces'
        ? `CASE WHEN status = 'error' THEN 'error' WHEN count = 0 THEN '0 faces' WHEN count = 1 THEN '1 face' WHEN count = 2 THEN '2 faces' ELSE '3+ faces' END`
        : 'status';
  const cells = await rows(`WITH b AS (SELECT page_id, ${bucket} AS bucket FROM r),
      top AS (SELECT category, count(*) AS total FROM b JOIN cl USING (page_id) GROUP BY category ORDER BY total DESC, category LIMIT 15)
    SELECT top.category, top.total, b.bucket, count(*) AS n FROM b JOIN cl USING (page_id) JOIN top USING (category) GROUP BY ALL ORDER BY top.total DESC, top.category, b.bucket`);
  if (cells.length === 0) return null;
  const order = kind === 'faces' ? ['0 faces', '1 face', '2 faces', '3+ faces', 'error'] : kind === 'status' ? ['ok', 'error'] : null;
  const seen = [...new Set(cells.map((c) => String(c.bucket)))];
  const columns = order ? order.filter((c) => seen.includes(c)) : [...seen.filter((c) => c !== 'other' && c !== 'error').sort(), ...seen.filter((c) => c === 'other'), ...seen.filter((c) => c === 'error')];
  const byCategory = new Map<string, { label: string; total: number; counts: number[] }>();
  for (const c of cells) {
    const label = String(c.category);
    let row = byCategory.get(label);
    if (!row) byCategory.set(label, (row = { label, total: Number(c.total), counts: columns.map(() => 0) }));
    row.counts[columns.indexOf(String(c.bucket))] = Number(c.n);
  }
  return {
    title: 'By source category',
    note: `Rows of the ${byCategory.size} categories (direct category links of each file) with the most rows, against ${kind === 'label' ? 'the top-1 label' : kind === 'faces' ? 'faces per image' : 'status'}. A file in several categories counts in each.`,
    rowLabel: 'category',
    columns,
    rows: [...byCategory.values()],
  };
}
