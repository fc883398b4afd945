/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, no script), opened
 * from disk. Thumbnails are relative links into `thumbs/`. Every value from data is escaped.
 * Elements carry `data-*` attributes (stat, label, count) so tests and scripts can read the numbers.
 */
import type { GalleryItem, ReportModel } from './ReportModel.js';
import { escapeHtml as e } from './escapeHtml.js';
import { barChartSvg, histogramSvg } from './svgCharts.js';

/** A written thumbnail, by image name. */
export interface Thumbnail {
  /** Path relative to index.html, e.g. `thumbs/3fa2….jpg`. */
  src: string;
  width: number;
  height: number;
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
.gallery { display:flex; flex-wrap:wrap; gap:8px; }
figure { margin:0; width:112px; border:1px solid var(--line); border-radius:6px; padding:6px; background:#fff; }
figure.wrong { border-color:var(--bad); box-shadow:0 0 0 1px var(--bad); }
figure .frame { width:100px; height:100px; display:flex; align-items:center; justify-content:center; background:#eef0f3; border-radius:4px; overflow:hidden; }
figure img { display:block; max-width:100px; max-height:100px; }
figure .nothumb { color:var(--muted); font-size:11px; text-align:center; }
figcaption { font-size:11px; margin-top:4px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
figcaption .score { display:block; font-weight:600; }
figcaption .sub { display:block; color:var(--muted); }
figure.wrong figcaption .sub { color:var(--bad); }
table.confusion td.cell { text-align:center; min-width:64px; font-variant-numeric:tabular-nums; }
details summary { cursor:pointer; color:var(--accent); }
footer { color:var(--muted); text-align:center; font-size:12px; padding:12px; }
`;

function figure(item: GalleryItem, thumbs: ReadonlyMap<string, Thumbnail>): string {
  const t = thumbs.get(item.image_name);
  const img = t
    ? `<img src="${e(t.src)}" width="${t.width}" height="${t.height}" alt="${e(item.image_name)}">`
    : `<span class="nothumb">no preview</span>`;
  const score = item.score === null ? '' : `<span class="score">${item.score.toFixed(3)}</span>`;
  const note = item.note ? `<span class="sub">${e(item.note)}</span>` : '';
  return `<figure${item.wrong ? ' class="wrong"' : ''} data-image="${e(item.image_name)}" title="${e(item.image_name)}"><div class="frame">${img}</div><figcaption>${score}${e(item.image_name)}${note}</figcaption></figure>`;
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
    out.push(barChartSvg(lc.rows));
    out.push(`<table id="label-counts"><tr><th>label</th>${lc.columns.map((c) => `<th class="num">${e(c)}</th>`).join('')}</tr>`);
    for (const r of lc.rows) {
      out.push(`<tr data-label="${e(r.label)}" data-count="${r.count}"><td>${e(r.label)}</td><td class="num">${fmt(r.count)}</td>${r.extra.map((v) => `<td class="num">${fmt(v)}</td>`).join('')}</tr>`);
    }
    out.push(`</table></section>`);
  }

  if (model.histogram) {
    out.push(`<section id="confidence"><h2>${e(model.histogram.title)}</h2><p class="note">${e(model.histogram.note)}</p>${histogramSvg(model.histogram.bins)}</section>`);
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
