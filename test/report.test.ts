/**
 * `imgpipe report` and the report `imgpipe train` writes, opened in a real headless Chromium: a
 * full-page screenshot is taken, and the DOM must show the committed table's counts, the error rows,
 * every thumbnail loaded (no broken images), and image names from users as text, never as markup.
 * The Chromium part skips, saying why, when Debian's `chromium` is absent.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportModel } from '../src/report/ReportModel.js';
import { renderReportHtml } from '../src/report/renderReportHtml.js';
import { imgpipe, lit, query, tempDir, imgpipeInProcess, copyDemoWarehouse } from './util/cli.js';
import { chromiumMissing, HeadlessPage } from './util/headlessChromium.js';

const HOSTILE = ['<img_src=x_onerror=alert(1)>.png', `Quote"and'apostrophe_&amp;.png`, '<script>alert(2)<.script>.png'];

describe('renderReportHtml escapes everything that comes from data', () => {
  it('names, labels, metadata and titles appear as text only', () => {
    const bad = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
    const model: ReportModel = {
      title: bad, subtitle: bad, generatedAt: bad,
      totals: [{ key: bad, label: bad, value: 1 }],
      metadata: [{ key: bad, value: bad }],
      labelCounts: { title: bad, note: bad, columns: [bad], rows: [{ label: bad, count: 3, extra: [] }] },
      histogram: { title: bad, note: bad, bins: [1, 2] },
      galleries: { title: bad, note: bad, groups: [{ label: bad, count: 1, most: [{ image_name: bad, score: 0.5, note: bad, wrong: true }], least: [] }] },
      evaluation: { title: bad, note: bad, chance: 0.5, metrics: { n: 1, accuracy: 1, balanced_accuracy: 1, labels: [bad, 'b'], confusion: [[1, 0], [0, 0]], per_class: { [bad]: { precision: 1, recall: 1, support: 1 }, b: { precision: null, recall: null, support: 0 } } } },
      imageLists: [{ id: 'list', title: bad, note: bad, items: [{ image_name: bad, score: null }] }],
      errors: { title: bad, note: bad, total: 1, byReason: [{ reason: bad, count: 1 }], rows: [{ image_name: bad, reason: bad }] },
      nameLists: [{ id: 'names', title: bad, note: bad, total: 1, names: [bad] }],
    };
    const html = renderReportHtml(model, new Map([[bad, { src: 'thumbs/a.jpg', width: 10, height: 10 }]]), bad);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toMatch(/"><script/);
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html.match(/<img /g)).toHaveLength(2); // the two thumbnails of `bad`, nothing injected
  });
});

const missing = chromiumMissing();
if (missing) console.warn(`SKIP report-in-Chromium tests: ${missing}`);

describe.skipIf(missing !== null)('reports opened in headless Chromium', () => {
  const tmp = tempDir('imgpipe-report-');
  const wh = path.join(tmp.dir, 'wh');
  const parts = path.join(tmp.dir, 'partitions');
  const shots = path.join(tmp.dir, 'screenshots');
  let page: HeadlessPage;
  afterAll(() => {
    page?.close();
    tmp.cleanup();
  });

  const cli = (args: string[]) => {
    const r = imgpipe(args);
    if (r.code !== 0) throw new Error(`imgpipe ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    copyDemoWarehouse(wh);
    // Images whose names are HTML, in their own category.
    const src = path.join(tmp.dir, 'hostile', 'Hostile_names');
    mkdirSync(src, { recursive: true });
    for (const [i, name] of HOSTILE.entries()) {
      const png = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 40 * i, g: 120, b: 200 } } }).png().toBuffer();
      writeFileSync(path.join(src, name), png);
    }
    cli(['warehouse', 'import', path.join(tmp.dir, 'hostile'), '--warehouse', wh]);
    mkdirSync(shots, { recursive: true });
    page = await HeadlessPage.open(1280, 900);
  }, 300_000);

  /** Facts the tests compare with the table. */
  const pageFacts = () =>
    page.evaluate<{
      stats: Record<string, number>;
      labelRows: Record<string, number>;
      bars: Record<string, number>;
      bins: number;
      images: { src: string; ok: boolean }[];
      noPreview: number;
      errorRows: [string, string][];
      figures: string[];
      scripts: number;
      confusion: { t: string; p: string; n: number }[];
    }>(`(() => {
      const num = (s) => Number(String(s).replace(/,/g, ''));
      const stats = {};
      for (const el of document.querySelectorAll('[data-stat]')) stats[el.dataset.stat] = num(el.querySelector('.value').textContent);
      const labelRows = {};
      for (const tr of document.querySelectorAll('#label-counts tr[data-label]')) labelRows[tr.dataset.label] = num(tr.children[1].textContent);
      const bars = {};
      for (const g of document.querySelectorAll('#labels svg g.bar')) bars[g.dataset.label] = num(g.dataset.count);
      const bins = [...document.querySelectorAll('#confidence svg g.bin')].reduce((a, g) => a + num(g.dataset.count), 0);
      const images = [...document.images].map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 }));
      const errorRows = [...document.querySelectorAll('#error-rows tr')].slice(1).map((tr) => [tr.children[0].textContent, tr.children[1].textContent]);
      const figures = [...document.querySelectorAll('figure')].map((f) => f.dataset.image);
      const confusion = [...document.querySelectorAll('#confusion td.cell')].map((td) => ({ t: td.dataset.true, p: td.dataset.predicted, n: num(td.textContent) }));
      return { stats, labelRows, bars, bins, images, noPreview: document.querySelectorAll('.nothumb').length, errorRows, figures, scripts: document.scripts.length, confusion };
    })()`);

  it('a classifier run: counts, histogram, gallery and error rows match the table; every thumbnail loads', async () => {
    const run = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--all', '--snapshot', '2026-06-01', '--json', '--quiet'])) as { run_id: string; output: string };
    const out = path.join(tmp.dir, 'report-quality');
    const index = cli(['report', run.run_id, '--partitions-dir', parts, '--out', out]).trim();
    expect(index).toBe(path.join(out, 'index.html'));

    await page.goto(`file://${index}`);
    const png = path.join(shots, 'quality.png');
    const bytes = await page.screenshot(png);
    const meta = await sharp(png).metadata();
    console.log(`screenshot ${png}: ${meta.width}x${meta.height}, ${bytes} bytes`);
    expect(readFileSync(png).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(meta.width).toBe(1280);
    expect(meta.height).toBeGreaterThan(1500); // the whole page, not the 900 px viewport
    expect(bytes).toBeGreaterThan(50_000);
    expect((await sharp(png).stats()).channels[0]!.stdev).toBeGreaterThan(10); // not a blank page

    const facts = await pageFacts();
    const glob = lit(path.join(run.output, '*.parquet'));
    const [t] = await query(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'ok') AS ok, count(*) FILTER (WHERE status = 'error') AS error FROM read_parquet(${glob})`);
    expect(facts.stats).toMatchObject({ selected: Number(t!.n), ok: Number(t!.ok), error: Number(t!.error) });
    const labels = Object.fromEntries((await query(`SELECT label, count(*) AS n FROM read_parquet(${glob}) WHERE status = 'ok' GROUP BY label`)).map((r) => [r.label, Number(r.n)]));
    expect(facts.labelRows).toEqual(labels);
    expect(facts.bars).toEqual(labels);
    expect(facts.stats.labels).toBe(Object.keys(labels).length);
    expect(facts.bins).toBe(Number(t!.ok));
    const errors = (await query(`SELECT image_name, error FROM read_parquet(${glob}) WHERE status = 'error' ORDER BY image_name`)).map((r) => [r.image_name, r.error]);
    expect(facts.errorRows).toEqual(errors);
    expect(errors.length).toBe(5);

    expect(facts.images.length).toBeGreaterThanOrEqual(Object.keys(labels).length * 2);
    expect(facts.images.filter((i) => !i.ok)).toEqual([]);
    expect(facts.images.every((i) => /^thumbs\/[0-9a-f]{20}\.jpg$/.test(i.src))).toBe(true);
    expect(facts.noPreview).toBe(0);
    expect(facts.scripts).toBe(0);
    const thumbs = statSync(path.join(out, 'thumbs'));
    expect(thumbs.isDirectory()).toBe(true);

    // Every run kind: 192 px thumbnails that open a larger copy, captions with the full name linked
    // to Commons, titled axes, a random sample of images the extremes do not show, categories × labels.
    const more = await page.evaluate<{ links: [string, string][]; full: (string | null)[]; maxSide: number; axes: string[]; sample: string[]; shownElsewhere: string[]; crosstab: { total: number; cells: number }[] }>(`(() => {
      const figs = [...document.querySelectorAll('figure')];
      const sample = [...document.querySelectorAll('#sample figure')].map((f) => f.dataset.image);
      return {
        links: figs.map((f) => [f.dataset.image, f.querySelector('figcaption a.name').getAttribute('href')]),
        full: figs.map((f) => { const a = f.querySelector('a.pic'); return a ? a.getAttribute('href') : null; }),
        maxSide: Math.max(...[...document.images].map((i) => Math.max(i.naturalWidth, i.naturalHeight))),
        axes: [...document.querySelectorAll('.axis-label')].map((t) => t.textContent),
        sample,
        shownElsewhere: [...document.querySelectorAll('#gallery figure')].map((f) => f.dataset.image).filter((n) => sample.includes(n)),
        crosstab: [...document.querySelectorAll('#category-crosstab tr[data-category]')].map((tr) => ({ total: Number(tr.dataset.count), cells: [...tr.querySelectorAll('td[data-count]')].reduce((a, td) => a + Number(td.dataset.count), 0) })),
      };
    })()`);
    for (const [name, href] of more.links) expect(href).toBe(`https://commons.wikimedia.org/wiki/File:${encodeURIComponent(name.replace(/ /g, '_'))}`);
    for (const f of more.full) expect(existsSync(path.join(out, f!)), String(f)).toBe(true);
    expect(more.maxSide).toBe(192);
    expect(more.axes).toEqual(expect.arrayContaining(['top-1 label', 'images', 'top-1 score']));
    expect(more.sample).toHaveLength(16);
    expect(more.shownElsewhere).toEqual([]);
    expect(more.crosstab.length).toBeGreaterThan(1);
    for (const c of more.crosstab) expect(c.cells).toBe(c.total);
  }, 300_000);

  it('image names that are HTML show as text; nothing is injected', async () => {
    const run = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--category', 'Hostile_names', '--snapshot', '2026-06-02', '--json', '--quiet'])) as { run_id: string };
    const out = path.join(tmp.dir, 'report-hostile');
    const index = cli(['report', run.run_id, '--partitions-dir', parts, '--out', out]).trim();
    await page.goto(`file://${index}`);
    await page.screenshot(path.join(shots, 'hostile.png'));
    const facts = await pageFacts();
    expect(facts.scripts).toBe(0);
    expect(facts.images.filter((i) => !i.ok)).toEqual([]);
    expect(facts.images).toHaveLength(HOSTILE.length);
    expect([...facts.figures].sort()).toEqual([...HOSTILE].sort());
    const text = await page.evaluate<string>('document.body.innerText');
    for (const name of HOSTILE) expect(text).toContain(name);
  }, 300_000);

  it('the training report and a trained model\'s run report show the held-out confusion matrix', async () => {
    const models = path.join(tmp.dir, 'models');
    const trained = JSON.parse(cli(['train', '--warehouse', wh, '--partitions-dir', parts, '--out-dir', models, '--backbone', 'color-embed', '--category', 'Sunsets', '--category', 'Night_scenes', '--name', 'sunset-vs-night', '--snapshot', '2026-06-01', '--json', '--quiet'])) as {
      card: string;
      report: string;
      metrics: { holdout: { labels: string[]; confusion: number[][]; n: number } };
      counts: { per_class: Record<string, { used: number }>; overlap_left_out: number; error_left_out: number };
    };
    const m = trained.metrics.holdout;
    const expected = m.labels.flatMap((t, i) => m.labels.map((p, j) => ({ t, p, n: m.confusion[i]![j]! })));

    await page.goto(`file://${trained.report}`);
    await page.screenshot(path.join(shots, 'training.png'));
    let facts = await pageFacts();
    expect(facts.confusion).toEqual(expected);
    expect(facts.stats).toMatchObject({ holdout: m.n, overlap: trained.counts.overlap_left_out, error: trained.counts.error_left_out });
    expect(facts.labelRows).toEqual(Object.fromEntries(Object.entries(trained.counts.per_class).map(([k, v]) => [k, v.used])));
    expect(facts.images.length).toBe(m.n); // every held-out image, grouped by predicted label
    expect(facts.images.filter((i) => !i.ok)).toEqual([]);
    expect(facts.errorRows).toEqual([['Broken_truncated.jpg', 'truncated']]);

    // A run of the trained model, reported by table, snapshot and model name: the card's evaluation is there.
    cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', trained.card, '--category', 'Landscapes', '--depth', '1', '--snapshot', '2026-06-03', '--quiet']);
    const out = path.join(tmp.dir, 'report-trained');
    const index = cli(['report', '--warehouse', wh, '--table', 'classifications', '--snapshot', '2026-06-03', '--model', 'sunset-vs-night-1', '--partitions-dir', parts, '--out', out]).trim();
    await page.goto(`file://${index}`);
    facts = await pageFacts();
    expect(facts.confusion).toEqual(expected);
    expect(facts.images.filter((i) => !i.ok)).toEqual([]);
    expect(Object.keys(facts.labelRows).sort()).toEqual(['Night_scenes', 'Sunsets']);
  }, 300_000);

  it('bad usage exits 2 with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['report', 'no-such-run', '--partitions-dir', parts], /No complete plan at .*no-such-run \(run\.json missing\)/],
      [['report', 'x', '--table', 'classifications', '--partitions-dir', parts], /Expected either RUN_ID or --warehouse\/--table\/--snapshot\/--model but received both/],
      [['report', '--warehouse', wh, '--table', 'classifications'], /Expected --warehouse, --table, --snapshot and --model together but --snapshot, --model are missing/],
      [['report', '--partitions-dir', parts], /Expected a RUN_ID, or --warehouse, --table, --snapshot and --model/],
      [['report', '--warehouse', wh, '--table', 'classifications', '--snapshot', '1999-01-01', '--model', 'quality-basic'], /No committed partition at .*snapshot=1999-01-01 \(no _SUCCESS\)/],
    ];
    for (const [args, message] of cases) {
      const r = await imgpipeInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a run replaced by a later run of the same model and snapshot is not reported as if it were still there', () => {
    const first = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--category', 'Hostile_names', '--snapshot', '2026-06-09', '--json', '--quiet'])) as { run_id: string };
    const second = JSON.parse(cli(['run', '--warehouse', wh, '--partitions-dir', parts, '--model', 'quality-basic', '--category', 'Hostile_names', '--snapshot', '2026-06-09', '--json', '--quiet'])) as { run_id: string };
    const r = imgpipe(['report', first.run_id, '--partitions-dir', parts, '--out', path.join(tmp.dir, 'stale')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`run ${second.run_id} replaced it`);
  }, 120_000);
});
