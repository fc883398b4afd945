/**
 * Inline SVG charts for the report: no script, no external files, readable without a legend.
 * Labels are escaped; long ones are shortened with the full text in a <title> tooltip.
 */
import { escapeHtml } from './escapeHtml.js';

const shorten = (s: string, max: number) => (s.length > max ? s.slice(0, max - 1) + '…' : s);
const fmt = (n: number) => n.toLocaleString('en-US');

/** Horizontal bars, one per row, largest scale = the largest count. */
export function barChartSvg(rows: readonly { label: string; count: number }[], options: { width?: number; color?: string } = {}): string {
  const width = options.width ?? 640;
  const rowHeight = 24;
  const labelWidth = 200;
  const countWidth = 70;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const barSpace = width - labelWidth - countWidth;
  const height = rows.length * rowHeight + 4;
  const bars = rows.map((r, i) => {
    const y = i * rowHeight + 2;
    const w = Math.max(r.count > 0 ? 1 : 0, Math.round((r.count / max) * barSpace));
    return (
      `<g class="bar" data-label="${escapeHtml(r.label)}" data-count="${r.count}"><title>${escapeHtml(r.label)}: ${fmt(r.count)}</title>` +
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeHtml(shorten(r.label, 28))}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" rx="3" fill="${options.color ?? '#3b6fd8'}"/>` +
      `<text x="${labelWidth + w + 6}" y="${y + 16}">${fmt(r.count)}</text></g>`
    );
  });
  return `<svg class="chart" role="img" aria-label="counts per label" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${bars.join('')}</svg>`;
}

/** Vertical bars of equal-width bins over [0, 1], with axis ticks at 0, 0.25 … 1. */
export function histogramSvg(bins: readonly number[], options: { width?: number; height?: number } = {}): string {
  const width = options.width ?? 640;
  const height = options.height ?? 220;
  const left = 44;
  const bottom = 28;
  const top = 10;
  const plotW = width - left - 10;
  const plotH = height - bottom - top;
  const max = Math.max(1, ...bins);
  const bw = plotW / Math.max(1, bins.length);
  const parts: string[] = [];
  bins.forEach((count, i) => {
    const h = Math.round((count / max) * plotH);
    const lo = i / bins.length;
    const hi = (i + 1) / bins.length;
    parts.push(
      `<g class="bin" data-count="${count}"><title>${lo.toFixed(2)}–${hi.toFixed(2)}: ${fmt(count)}</title>` +
        `<rect x="${(left + i * bw + 1).toFixed(1)}" y="${top + plotH - h}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h}" fill="#5a9e6f"/></g>`,
    );
  });
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#555"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#555"/>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + t * plotW;
    parts.push(`<text x="${x.toFixed(1)}" y="${height - 8}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${left - 6}" y="${top + 10}" text-anchor="end">${fmt(max)}</text><text x="${left - 6}" y="${top + plotH}" text-anchor="end">0</text>`);
  return `<svg class="chart" role="img" aria-label="confidence histogram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}
