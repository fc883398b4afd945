/**
 * Inline SVG charts for the report: no script, no external files, readable without a legend: every
 * chart names its axes. Labels are escaped; long ones are shortened with the full text in a
 * <title> tooltip.
 */
import { escapeHtml } from './escapeHtml.js';

const shorten = (s: string, max: number) => (s.length > max ? s.slice(0, max - 1) + '…' : s);
const fmt = (n: number) => n.toLocaleString('en-US');

export interface BarChartOptions {
  width?: number;
  color?: string;
  /** What the bars count (the value axis). @defaultValue 'images' */
  valueLabel?: string;
  /** What each bar is (the category axis). @defaultValue 'label' */
  categoryLabel?: string;
  /** aria-label of the chart. @defaultValue 'counts per label' */
  aria?: string;
}

/** Horizontal bars, one per row, largest scale = the largest count. */
export function barChartSvg(rows: readonly { label: string; count: number }[], options: BarChartOptions = {}): string {
  const width = options.width ?? 640;
  const rowHeight = 24;
  const labelWidth = 200;
  const countWidth = 70;
  const head = 20;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const barSpace = width - labelWidth - countWidth;
  const height = head + rows.length * rowHeight + 4;
  const bars = rows.map((r, i) => {
    const y = head + i * rowHeight + 2;
    const w = Math.max(r.count > 0 ? 1 : 0, Math.round((r.count / max) * barSpace));
    return (
      `<g class="bar" data-label="${escapeHtml(r.label)}" data-count="${r.count}"><title>${escapeHtml(r.label)}: ${fmt(r.count)}</title>` +
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeHtml(shorten(r.label, 28))}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" rx="3" fill="${options.color ?? '#3b6fd8'}"/>` +
      `<text x="${labelWidth + w + 6}" y="${y + 16}">${fmt(r.count)}</text></g>`
    );
  });
  const axes =
    `<text class="axis-label" x="${labelWidth - 8}" y="14" text-anchor="end">${escapeHtml(options.categoryLabel ?? 'label')}</text>` +
    `<text class="axis-label" x="${labelWidth}" y="14">${escapeHtml(options.valueLabel ?? 'images')} →</text>`;
  return `<svg class="chart" role="img" aria-label="${escapeHtml(options.aria ?? 'counts per label')}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${axes}${bars.join('')}</svg>`;
}

export interface HistogramOptions {
  width?: number;
  height?: number;
  /** The value range the bins split equally. @defaultValue [0, 1] */
  range?: readonly [number, number];
  /** Horizontal axis title. @defaultValue 'top-1 score' */
  xLabel?: string;
  /** Vertical axis title. @defaultValue 'images' */
  yLabel?: string;
  /** aria-label of the chart. @defaultValue 'confidence histogram' */
  aria?: string;
}

/** Vertical bars of equal-width bins over `range`, with five axis ticks and both axes titled. */
export function histogramSvg(bins: readonly number[], options: HistogramOptions = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 240;
  const [lo, hi] = options.range ?? [0, 1];
  const left = 56;
  const bottom = 44;
  const top = 10;
  const plotW = width - left - 10;
  const plotH = height - bottom - top;
  const max = Math.max(1, ...bins);
  const bw = plotW / Math.max(1, bins.length);
  const parts: string[] = [];
  const at = (t: number) => Number((lo + t * (hi - lo)).toPrecision(3));
  bins.forEach((count, i) => {
    const h = Math.round((count / max) * plotH);
    parts.push(
      `<g class="bin" data-count="${count}"><title>${at(i / bins.length)}–${at((i + 1) / bins.length)}: ${fmt(count)}</title>` +
        `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${top + plotH - h}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h}" fill="#5a9e6f"/></g>`,
    );
  });
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#555"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#555"/>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + t * plotW;
    parts.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${at(t)}</text>`);
  }
  parts.push(`<text x="${left - 6}" y="${top + 10}" text-anchor="end">${fmt(max)}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`);
  parts.push(`<text class="axis-label" x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(options.xLabel ?? 'top-1 score')}</text>`);
  parts.push(`<text class="axis-label" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(options.yLabel ?? 'images')}</text>`);
  return `<svg class="chart" role="img" aria-label="${escapeHtml(options.aria ?? 'confidence histogram')}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}
