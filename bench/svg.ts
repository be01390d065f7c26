// A small SVG bar-chart writer for benchmark results (no dependencies): horizontal bars, one per row,
// labelled with the value; viewable on GitHub.

export interface Bar {
  label: string;
  value: number;
  group?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b83280', '#4a5568'];

export function barChart(title: string, unit: string, bars: Bar[], subtitle = ''): string {
  const labelW = Math.min(520, Math.max(160, ...bars.map((b) => b.label.length * 6.6)));
  const chartW = 420;
  const rowH = 22;
  const top = subtitle ? 52 : 36;
  const height = top + bars.length * rowH + 16;
  const max = Math.max(...bars.map((b) => b.value), 1e-9);
  const groups = [...new Set(bars.map((b) => b.group ?? ''))];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + chartW + 110}" height="${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="20" font-size="15" font-weight="600">${esc(title)}</text>`,
  ];
  if (subtitle) parts.push(`<text x="8" y="38" fill="#555">${esc(subtitle)}</text>`);
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, (b.value / max) * chartW);
    const color = COLORS[groups.indexOf(b.group ?? '') % COLORS.length];
    parts.push(`<text x="${labelW}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${labelW + 8}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`);
    parts.push(
      `<text x="${labelW + 14 + w}" y="${y + 15}" fill="#333">${esc(formatValue(b.value))} ${esc(unit)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

export function formatValue(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}
