// Line charts (SVG, no dependencies) for bench/tail-latency.bench.ts: latency CDFs per policy and traffic
// share over time per member. Values are formatted with bench/svg.ts `formatValue` like the bar charts.
import { formatValue } from './svg.js';

export interface Series {
  label: string;
  points: [number, number][];
}

export interface LineChartOptions {
  xLabel: string;
  yLabel: string;
  /** Logarithmic x axis (values must be > 0). */
  xLog?: boolean;
  yMin?: number;
  yMax?: number;
  /** Vertical markers (e.g. the times the load changed). */
  marks?: { x: number; label: string }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b83280', '#4a5568', '#d69e2e'];

export function lineChart(title: string, subtitle: string, series: Series[], o: LineChartOptions): string {
  const W = 720;
  const H = 360;
  const left = 64;
  const right = 170;
  const top = 52;
  const bottom = 44;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((x) => !o.xLog || x > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const fx = o.xLog ? Math.log10 : (x: number) => x;
  const x0 = fx(Math.min(...xs));
  const x1 = fx(Math.max(...xs)) === x0 ? x0 + 1 : fx(Math.max(...xs));
  const y0 = o.yMin ?? Math.min(0, ...ys);
  const y1 = o.yMax ?? Math.max(...ys, y0 + 1e-9);
  const sx = (x: number) => left + ((fx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => top + ph - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="8" y="38" fill="#555">${esc(subtitle)}</text>`,
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ];
  // axes: 5 ticks each (decades on a log axis)
  const xticks: number[] = [];
  if (o.xLog) for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) xticks.push(10 ** e);
  else for (let k = 0; k <= 5; k++) xticks.push(x0 + ((x1 - x0) * k) / 5);
  for (const t of xticks) {
    if (fx(t) < x0 - 1e-9 || fx(t) > x1 + 1e-9) continue;
    const x = sx(t);
    out.push(`<line x1="${x}" y1="${top + ph}" x2="${x}" y2="${top + ph + 4}" stroke="#999"/>`);
    out.push(`<text x="${x}" y="${top + ph + 16}" text-anchor="middle" fill="#333">${esc(formatValue(t))}</text>`);
  }
  for (let k = 0; k <= 5; k++) {
    const v = y0 + ((y1 - y0) * k) / 5;
    const y = sy(v);
    out.push(`<line x1="${left - 4}" y1="${y}" x2="${left + pw}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" fill="#333">${esc(formatValue(v))}</text>`);
  }
  out.push(`<text x="${left + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#333">${esc(o.xLabel)}</text>`);
  out.push(
    `<text x="14" y="${top + ph / 2}" text-anchor="middle" fill="#333" transform="rotate(-90 14 ${top + ph / 2})">${esc(o.yLabel)}</text>`,
  );
  for (const m of o.marks ?? []) {
    const x = sx(m.x);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + ph}" stroke="#999" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${x + 3}" y="${top + 12}" fill="#555">${esc(m.label)}</text>`);
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => !o.xLog || p[0] > 0);
    if (pts.length > 0)
      out.push(
        `<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`,
      );
    const y = top + 8 + i * 18;
    out.push(`<rect x="${left + pw + 12}" y="${y}" width="14" height="3" fill="${c}"/>`);
    out.push(`<text x="${left + pw + 32}" y="${y + 5}" fill="#333">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** CDF points of sorted latencies, thinned to at most `n` points, x = latency, y = fraction. */
export function cdfPoints(sorted: number[], n = 200): [number, number][] {
  const pts: [number, number][] = [];
  const step = Math.max(1, Math.floor(sorted.length / n));
  for (let i = 0; i < sorted.length; i += step) pts.push([sorted[i]!, (i + 1) / sorted.length]);
  if (sorted.length > 0) pts.push([sorted[sorted.length - 1]!, 1]);
  return pts;
}
