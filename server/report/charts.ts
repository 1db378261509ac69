// Report charts rendered on the server as inline SVG with echarts' SSR mode (no browser, no scripts in the output).
import * as echarts from 'echarts';

export const RUN_COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#4b5563', '#9333ea'];
export const runColor = (k: number) => RUN_COLORS[k % RUN_COLORS.length];

const FONT = { fontFamily: 'system-ui, -apple-system, "Segoe UI", sans-serif', fontSize: 11 };

/** Renders one echarts option to an SVG string that scales with its container (viewBox kept, fixed size dropped). */
export function renderSvg(option: echarts.EChartsCoreOption, width: number, height: number, label: string): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: FONT, ...option });
    const svg = chart.renderToSVGString();
    // echarts escapes text it renders; the label goes into an attribute, so escape it here.
    return svg.replace(/^<svg width="\d+(\.\d+)?" height="\d+(\.\d+)?"/, `<svg class="chart" role="img" aria-label="${escapeAttr(label)}" preserveAspectRatio="xMidYMid meet"`);
  } finally {
    // A live chart keeps a timer running; dispose so the process can exit.
    chart.dispose();
  }
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** How a token is shown on a chart axis: visible newline/tab marks, short. */
export function axisToken(text: string, max = 12): string {
  const t = text.replace(/\n/g, '↵').replace(/\t/g, '⇥');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

export interface LineSeries {
  name: string;
  data: (number | null)[];
  color?: string;
  dashed?: boolean;
  bar?: boolean;
}

/** Lines (or bars) over a category axis. */
export function lineChart(o: { categories: string[]; series: LineSeries[]; xName: string; yName: string; label: string; width?: number; height?: number; percent?: boolean }): string {
  const legend = o.series.length > 1;
  return renderSvg(
    {
      grid: { left: 64, right: 24, top: legend ? 36 : 16, bottom: 44 },
      legend: legend ? { top: 4, data: o.series.map((s) => s.name), textStyle: FONT } : undefined,
      xAxis: { type: 'category', data: o.categories, name: o.xName, nameLocation: 'middle', nameGap: 28, boundaryGap: o.series.some((s) => s.bar) },
      yAxis: { type: 'value', name: o.yName, nameLocation: 'middle', nameGap: 48, scale: false, axisLabel: o.percent ? { formatter: (v: number) => `${Math.round(v * 100)}%` } : undefined },
      series: o.series.map((s) =>
        s.bar
          ? { type: 'bar', name: s.name, data: s.data, itemStyle: s.color ? { color: s.color } : undefined }
          : { type: 'line', name: s.name, data: s.data, symbolSize: 5, lineStyle: { width: 2, type: s.dashed ? 'dashed' : 'solid', color: s.color }, itemStyle: s.color ? { color: s.color } : undefined },
      ),
    },
    o.width ?? 720,
    o.height ?? 280,
    o.label,
  );
}

/** Horizontal bars, one group per category (e.g. spans), one bar per series. */
export function horizontalBars(o: { categories: string[]; series: LineSeries[]; xName: string; label: string; width?: number }): string {
  const rows = o.categories.length;
  const height = Math.max(140, 60 + rows * (10 + 10 * o.series.length));
  return renderSvg(
    {
      grid: { left: 140, right: 24, top: 32, bottom: 40 },
      legend: { top: 4, data: o.series.map((s) => s.name), textStyle: FONT },
      xAxis: { type: 'value', name: o.xName, nameLocation: 'middle', nameGap: 26 },
      yAxis: { type: 'category', data: o.categories, inverse: true, axisLabel: { width: 120, overflow: 'truncate' } },
      series: o.series.map((s) => ({ type: 'bar', name: s.name, data: s.data, itemStyle: s.color ? { color: s.color } : undefined })),
    },
    o.width ?? 720,
    height,
    o.label,
  );
}

/** A heatmap of values[y][x]; `diverging` centres the colour scale on 0. */
export function heatmap(o: { xLabels: string[]; yLabels: string[]; values: number[][]; xName: string; yName: string; label: string; diverging?: boolean; width?: number; height?: number; percent?: boolean }): string {
  const data: [number, number, number][] = [];
  let lo = Infinity;
  let hi = -Infinity;
  o.values.forEach((row, y) =>
    row.forEach((v, x) => {
      data.push([x, y, v]);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }),
  );
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  if (o.diverging) {
    const m = Math.max(Math.abs(lo), Math.abs(hi), 1e-9);
    [lo, hi] = [-m, m];
  } else if (hi <= lo) hi = lo + 1e-9;
  const height = o.height ?? Math.max(160, Math.min(520, 90 + o.yLabels.length * 22));
  const fmt = (v: number) => (o.percent ? `${(v * 100).toFixed(0)}%` : v.toPrecision(2));
  return renderSvg(
    {
      grid: { left: 70, right: 24, top: 12, bottom: 92 },
      xAxis: { type: 'category', data: o.xLabels, name: o.xName, nameLocation: 'middle', nameGap: 56, splitArea: { show: false }, axisLabel: { rotate: o.xLabels.length > 12 ? 60 : 0, interval: o.xLabels.length > 64 ? 'auto' : 0, fontSize: 9 } },
      yAxis: { type: 'category', data: o.yLabels, name: o.yName, nameLocation: 'middle', nameGap: 50, inverse: true },
      visualMap: {
        min: lo,
        max: hi,
        calculable: false,
        orient: 'horizontal',
        right: 24,
        bottom: 0,
        itemHeight: 120,
        itemWidth: 10,
        text: [fmt(hi), fmt(lo)],
        textStyle: FONT,
        inRange: { color: o.diverging ? ['#b91c1c', '#fca5a5', '#f8fafc', '#93c5fd', '#1d4ed8'] : ['#f8fafc', '#bfdbfe', '#3b82f6', '#1e3a8a'] },
      },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: '#ffffff', borderWidth: 0.5 } }],
    },
    o.width ?? 720,
    height,
    o.label,
  );
}
