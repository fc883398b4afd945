/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, no script), opened
 * from disk. Thumbnails are relative links into `thumbs/`, each opening the larger copy in `full/`
 * when clicked; captions give the full file name, linked to its Commons file page. A detector's
 * boxes are an inline SVG laid over the thumbnail in the original image's pixel space (viewBox =
 * the original size), so they line up at any thumbnail size. Every value from data is escaped.
 * Elements carry `data-*` attributes (stat, label, count) so tests and scripts can read the numbers.
 */
import type { GalleryItem, ReportChart, ReportModel } from './ReportModel.js';
import { escapeHtml as e } from './escapeHtml.js';
import { barChartSvg, histogramSvg } from './svgCharts.js';

/** A written thumbnail, by image name. */
export interface Thumbnail {
  /** Path relative to index.html, e.g. `thumbs/3fa2….jpg`. */
  src: string;
  width: number;
  height: number;
  /** The larger copy opened on click (relative to index.html), when one was written. */
  full?: string;
}

/** The Commons file page of an image name (spaces as underscores, the rest percent-encoded). */
export function commonsFileUrl(imageName: string): string {
  return `https://commons.wikimedia.org/wiki/File:${encodeURIComponent(imageName.replace(/ /g, '_'))}`;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

const CSS = `
:root { color-scheme: light; --ink:#1d2330; --muted:#5d6675; --line:#dde1e8; --bg:#f6f7f9; --accent:#3b6fd8; --bad:#c2413a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#1d2330; color:#fff; padding:20px 32px; }
header h1 { margin:0 0 4px; font-size:22px; }
header p { margin:0; color:#c9d0dc; }
main { max-width:1200px; margin:0 auto; padding:16px 32px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:16px 0; }
h2 { font-size:17px; margin:0 0 8px; }
h3 { font-size:14px; margin:14px 0 6px; }
.note { color:var(--muted); margin:0 0 10px; }
.stats { display:flex; flex-wrap:wrap; gap:12px; }
.stat { border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:130px; }
.stat .value { display:block; font-size:24px; font-weight:600; }
.stat .what { color:var(--muted); }
table { border-collapse:collapse; margin:6px 0; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left; vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
table.meta td:first-child { color:var(--muted); white-space:nowrap; }
table.meta td { word-break:break-all; }
.chart text { font-size:12px; fill:#333; }
.gallery { display:flex; flex-wrap:wrap; gap:10px; }
figure { margin:0; width:206px; border:1px solid var(--line); border-radius:6px; padding:6px; background:#fff; }
figure.wrong { border-color:var(--bad); box-shadow:0 0 0 1px var(--bad); }
figure .frame { width:192px; height:192px; display:flex; align-items:center; justify-content:center; background:#eef0f3; border-radius:4px; overflow:hidden; }
figure .pic { position:relative; display:block; line-height:0; }
figure img { display:block; max-width:192px; max-height:192px; }
figure svg.boxes { position:absolute; left:0; top:0; width:100%; height:100%; pointer-events:none; }
figure svg.boxes rect { fill:none; stroke:#ffd400; stroke-width:2.5px; vector-effect:non-scaling-stroke; }
figure svg.boxes rect.halo { stroke:#000; stroke-width:4.5px; stroke-opacity:0.6; }
figure .nothumb { color:var(--muted); font-size:11px; text-align:center; }
figcaption { font-size:11px; margin-top:4px; word-break:break-all; }
figcaption a { color:var(--ink); text-decoration:none; border-bottom:1px dotted var(--muted); }
.chart .axis-label { font-size:12px; fill:var(--muted); font-style:italic; }
table.crosstab td.num { min-width:48px; }
figcaption .score { display:block; font-weight:600; }
figcaption .sub { display:block; color:var(--muted); }
figure.wrong figcaption .sub { color:var(--bad); }
table.confusion td.cell { text-align:center; min-width:64px; font-variant-numeric:tabular-nums; }
details summary { cursor:pointer; color:var(--accent); }
footer { color:var(--muted); text-align:center; font-size:12px; padding:12px; }
`;

function boxesSvg(item: GalleryItem): string {
  if (!item.boxes || !item.width || !item.height) return '';
  const rects = item.boxes.map((b) => {
    const at = `x="${b.x.toFixed(1)}" y="${b.y.toFixed(1)}" width="${b.w.toFixed(1)}" height="${b.h.toFixed(1)}"`;
    return `<g class="box" data-score="${b.score.toFixed(4)}"><title>${e(b.label)} ${b.score.toFixed(3)}</title><rect class="halo" ${at}/><rect ${at}/></g>`;
  });
  return `<svg class="boxes" viewBox="0 0 ${item.width} ${item.height}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">${rects.join('')}</svg>`;
}

function figure(item: GalleryItem, thumbs: ReadonlyMap<string, Thumbnail>): string {
  const t = thumbs.get(item.image_name);
  let img = `<span class="nothumb">no preview</span>`;
  if (t) {
    const pic = `<img src="${e(t.src)}" width="${t.width}" height="${t.height}" alt="${e(item.image_name)}">${boxesSvg(item)}`;
    img = t.full ? `<a class="pic" href="${e(t.full)}" style="width:${t.width}px;height:${t.height}px">${pic}</a>` : `<span class="pic" style="width:${t.width}px;height:${t.height}px">${pic}</span>`;
  }
  const score = item.score === null ? '' : `<span class="score">${item.score.toFixed(3)}</span>`;
  const note = item.note ? `<span class="sub">${e(item.note)}</span>` : '';
  const name = `<a class="name" href="${e(commonsFileUrl(item.image_name))}">${e(item.image_name)}</a>`;
  const faces = item.boxes ? ` data-boxes="${item.boxes.length}"` : '';
  return `<figure${item.wrong ? ' class="wrong"' : ''} data-image="${e(item.image_name)}"${faces} title="${e(item.image_name)}"><div class="frame">${img}</div><figcaption>${score}${name}${note}</figcaption></figure>`;
}

function chart(c: ReportChart): string {
  const svg =
    c.kind === 'bars'
      ? barChartSvg(c.rows, { valueLabel: c.valueLabel, categoryLabel: c.categoryLabel, aria: c.title })
      : histogramSvg(c.bins, { range: c.range, xLabel: c.xLabel, yLabel: c.yLabel, aria: c.title });
  return `<section id="${e(c.id)}"><h2>${e(c.title)}</h2><p class="note">${e(c.note)}</p>${svg}</section>`;
}

/** The whole page. `thumbs` holds the thumbnails that were written; other images show "no preview". */
export function renderReportHtml(model: ReportModel, thumbs: ReadonlyMap<string, Thumbnail>, generator: string): string {
  const out: string[] = [];
  out.push(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`);
  out.push(`<title>${e(model.title)}</title><style>${CSS}</style></head><body>`);
  out.push(`<header><h1>${e(model.title)}</h1><p>${e(model.subtitle)}</p></header><main>`);

  out.push(`<section id="summary"><div class="stats">`);
  for (const t of model.totals) out.push(`<div class="stat" data-stat="${e(t.key)}"><span class="value">${fmt(t.value)}</span><span class="what">${e(t.label)}</span></div>`);
  out.push(`</div><table class="meta" id="metadata">`);
  for (const m of model.metadata) out.push(`<tr><td>${e(m.key)}</td><td>${e(m.value)}</td></tr>`);
  out.push(`</table></section>`);

  if (model.evaluation) {
    const { metrics, chance } = model.evaluation;
    out.push(`<section id="evaluation"><h2>${e(model.evaluation.title)}</h2><p class="note">${e(model.evaluation.note)}</p><div class="stats">`);
    out.push(`<div class="stat" data-stat="accuracy" data-value="${metrics.accuracy}"><span class="value">${pct(metrics.accuracy)}</span><span class="what">accuracy (${fmt(metrics.n)} held out; chance ${pct(chance)})</span></div>`);
    out.push(`<div class="stat" data-stat="balanced_accuracy" data-value="${metrics.balanced_accuracy}"><span class="value">${pct(metrics.balanced_accuracy)}</span><span class="what">balanced accuracy</span></div></div>`);
    out.push(`<h3>Confusion matrix</h3><table class="confusion" id="confusion"><tr><th>true \\ predicted</th>${metrics.labels.map((l) => `<th>${e(l)}</th>`).join('')}</tr>`);
    metrics.confusion.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      const cells = row.map((count, j) => {
        const share = total > 0 ? count / total : 0;
        const colour = i === j ? `rgba(46,139,87,${(0.1 + 0.6 * share).toFixed(2)})` : count > 0 ? `rgba(194,65,58,${(0.1 + 0.6 * share).toFixed(2)})` : 'transparent';
        return `<td class="cell" data-true="${e(metrics.labels[i]!)}" data-predicted="${e(metrics.labels[j]!)}" data-count="${count}" style="background:${colour}">${fmt(count)}</td>`;
      });
      out.push(`<tr><th>${e(metrics.labels[i]!)}</th>${cells.join('')}</tr>`);
    });
    out.push(`</table><h3>Per class</h3><table id="per-class"><tr><th>label</th><th class="num">precision</th><th class="num">recall</th><th class="num">support</th></tr>`);
    for (const label of metrics.labels) {
      const m = metrics.per_class[label]!;
      out.push(`<tr data-label="${e(label)}"><td>${e(label)}</td><td class="num">${pct(m.precision)}</td><td class="num">${pct(m.recall)}</td><td class="num">${fmt(m.support)}</td></tr>`);
    }
    out.push(`</table></section>`);
  }

  if (model.labelCounts) {
    const lc = model.labelCounts;
    out.push(`<section id="labels"><h2>${e(lc.title)}</h2><p class="note">${e(lc.note)}</p>`);
    out.push(barChartSvg(lc.rows, { valueLabel: 'images', categoryLabel: 'top-1 label' }));
    out.push(`<table id="label-counts"><tr><th>label</th>${lc.columns.map((c) => `<th class="num">${e(c)}</th>`).join('')}</tr>`);
    for (const r of lc.rows) {
      out.push(`<tr data-label="${e(r.label)}" data-count="${r.count}"><td>${e(r.label)}</td><td class="num">${fmt(r.count)}</td>${r.extra.map((v) => `<td class="num">${fmt(v)}</td>`).join('')}</tr>`);
    }
    out.push(`</table></section>`);
  }

  if (model.histogram) {
    out.push(`<section id="confidence"><h2>${e(model.histogram.title)}</h2><p class="note">${e(model.histogram.note)}</p>${histogramSvg(model.histogram.bins, { xLabel: 'top-1 score', yLabel: 'images' })}</section>`);
  }

  for (const c of model.charts ?? []) out.push(chart(c));

  if (model.crossTab) {
    const x = model.crossTab;
    out.push(`<section id="categories"><h2>${e(x.title)}</h2><p class="note">${e(x.note)}</p><table class="crosstab" id="category-crosstab">`);
    out.push(`<tr><th>${e(x.rowLabel)}</th><th class="num">rows</th>${x.columns.map((c) => `<th class="num">${e(c)}</th>`).join('')}</tr>`);
    for (const r of x.rows) {
      const cells = r.counts.map((n, i) => `<td class="num" data-column="${e(x.columns[i]!)}" data-count="${n}">${n ? fmt(n) : '·'}</td>`);
      out.push(`<tr data-category="${e(r.label)}" data-count="${r.total}"><td>${e(r.label)}</td><td class="num">${fmt(r.total)}</td>${cells.join('')}</tr>`);
    }
    out.push(`</table></section>`);
  }

  if (model.galleries) {
    out.push(`<section id="gallery"><h2>${e(model.galleries.title)}</h2><p class="note">${e(model.galleries.note)}</p>`);
    for (const g of model.galleries.groups) {
      out.push(`<div class="group" data-label="${e(g.label)}"><h3>${e(g.label)} <span class="note">(${fmt(g.count)})</span></h3>`);
      if (g.most.length) out.push(`<p class="note">${g.least.length ? 'most confident' : 'all'}</p><div class="gallery most">${g.most.map((i) => figure(i, thumbs)).join('')}</div>`);
      if (g.least.length) out.push(`<p class="note">least confident</p><div class="gallery least">${g.least.map((i) => figure(i, thumbs)).join('')}</div>`);
      out.push(`</div>`);
    }
    out.push(`</section>`);
  }

  for (const list of model.imageLists) {
    out.push(`<section id="${e(list.id)}"><h2>${e(list.title)} <span class="note">(${fmt(list.items.length)})</span></h2><p class="note">${e(list.note)}</p>`);
    out.push(list.items.length ? `<div class="gallery">${list.items.map((i) => figure(i, thumbs)).join('')}</div>` : `<p>None.</p>`);
    out.push(`</section>`);
  }

  const err = model.errors;
  out.push(`<section id="errors" data-count="${err.total}"><h2>${e(err.title)} <span class="note">(${fmt(err.total)})</span></h2><p class="note">${e(err.note)}</p>`);
  if (err.total === 0) out.push(`<p>None.</p>`);
  else {
    out.push(`<table id="error-reasons"><tr><th>reason</th><th class="num">rows</th></tr>`);
    for (const r of err.byReason) out.push(`<tr data-reason="${e(r.reason)}" data-count="${r.count}"><td>${e(r.reason)}</td><td class="num">${fmt(r.count)}</td></tr>`);
    out.push(`</table><h3>Rows${err.rows.length < err.total ? ` (first ${fmt(err.rows.length)})` : ''}</h3><table id="error-rows"><tr><th>image</th><th>reason</th></tr>`);
    for (const r of err.rows) out.push(`<tr><td>${e(r.image_name)}</td><td>${e(r.reason)}</td></tr>`);
    out.push(`</table>`);
  }
  out.push(`</section>`);

  for (const list of model.nameLists) {
    out.push(`<section id="${e(list.id)}" data-count="${list.total}"><h2>${e(list.title)} <span class="note">(${fmt(list.total)})</span></h2><p class="note">${e(list.note)}</p>`);
    if (list.names.length) out.push(`<details><summary>show ${list.names.length < list.total ? `first ${fmt(list.names.length)}` : 'all'}</summary><ul>${list.names.map((n) => `<li>${e(n)}</li>`).join('')}</ul></details>`);
    out.push(`</section>`);
  }

  out.push(`</main><footer>${e(generator)} · ${e(model.generatedAt)}</footer></body></html>\n`);
  return out.join('\n');
}
