/**
 * A report of one committed run, from its partition folder (`<table>/model=…/snapshot=…/`): counts
 * and charts are aggregated in DuckDB, so only the gallery rows and the first error rows reach
 * JavaScript, whatever the size of the table. A trained model's card adds its held-out evaluation.
 */
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { duckdbString } from '../catalog/sqlQuote.js';
import type { ModelCard } from '../model/ModelCard.js';
import type { RunSpec } from '../plan/manifest.js';
import type { RunSummaryFile } from '../sink/Committer.js';
import { readTrainingRecord } from '../train/TrainingRecord.js';
import type { GalleryGroup, ReportModel } from './ReportModel.js';

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
    await db.run(`CREATE VIEW r AS SELECT * FROM read_parquet(${duckdbString(path.join(src.partition, '*.parquet'))})`);
    const [t] = await rows(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status = 'error') AS error FROM r`);
    const total = { n: Number(t!.n), ok: Number(t!.ok), error: Number(t!.error) };
    const labels = (await rows(`SELECT label, count(*) AS n FROM r WHERE status = 'ok' AND label IS NOT NULL GROUP BY label ORDER BY n DESC, label`)).map((r) => ({ label: String(r.label), count: Number(r.n) }));
    const classifier = src.card ? src.card.task === 'classifier' : labels.length > 0;

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
    } else {
      const sample = await rows(`SELECT image_name FROM r WHERE status = 'ok' ORDER BY image_name LIMIT ${2 * k}`);
      groups = [{ label: 'sample (first by name)', count: total.ok, most: sample.map((r) => ({ image_name: String(r.image_name), score: null })), least: [] }];
    }

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
      ],
      metadata,
      labelCounts: classifier ? { title: 'Counts per label', note: 'Top-1 label of each ok row.', columns: ['images'], rows: labels.map((l) => ({ ...l, extra: [] })) } : null,
      histogram,
      galleries: {
        title: classifier ? 'Gallery per label' : 'Gallery',
        note: classifier
          ? `Up to ${k} most and ${k} least confident images per label${labels.length > maxLabels ? `, for the ${maxLabels} most frequent of ${labels.length} labels` : ''}.`
          : 'An embedding model gives no labels; a sample of the images it embedded.',
        groups,
      },
      evaluation,
      imageLists: [],
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
