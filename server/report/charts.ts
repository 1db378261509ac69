// Report charts rendered on the server as inline SVG with echarts' SSR mode (no browser, no scripts in the output).
import * as echarts from 'echarts';
import { axisToken as sharedAxisToken, nats } from '../../shared/format.js';
import { isClipped, READ_RAMP, robustScale, variantLineStyle, variantStyle } from '../../shared/palette.js';

/** Run k's colour: the same colour-blind-safe variant palette as the web UI. */
export const runColor = (k: number) => variantStyle(k).color;

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

/** How a token is shown on a chart axis: visible whitespace marks, short (the web UI's rule). */
export const axisToken = sharedAxisToken;

/** Value-axis tick labels: percentages for shares, else nats with as few digits as the ticks need. */
function valueAxisLabel(percent?: boolean) {
  return { show: true, color: '#374151', formatter: (v: number) => (percent ? `${Math.round(v * 100)}%` : nats(v, Math.abs(v) >= 10 ? 0 : Math.abs(v) >= 1 ? 1 : 2)) };
}

/**
 * The legend as HTML under the chart, each entry with its line style drawn: echarts' own legend is laid out with
 * text widths estimated without a font engine on the server, and long names overlapped.
 */
function htmlLegend(series: LineSeries[]): string {
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const items = series.map((s) => {
    const dash = s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : '';
    const mark = s.bar
      ? `<rect x="6" y="2" width="16" height="8" fill="${s.color ?? '#6b7280'}"/>`
      : `<line x1="1" y1="6" x2="27" y2="6" stroke="${s.color ?? '#6b7280'}" stroke-width="2.4"${dash}/>`;
    return `<li><svg width="28" height="12" aria-hidden="true">${mark}</svg>${esc(s.name)}</li>`;
  });
  return `<ul class="chart-legend">${items.join('')}</ul>`;
}

export interface LineSeries {
  name: string;
  data: (number | null)[];
  color?: string;
  /** Dash pattern in px (a variant's line style), or null/undefined for a solid line. */
  dash?: readonly number[] | null;
  bar?: boolean;
}

/** Series k of a comparison: the variant palette's colour and line style. */
export function variantSeries(k: number, name: string, data: (number | null)[], bar = false): LineSeries {
  const st = variantLineStyle(k);
  return { name, data, color: st.color, dash: st.type === 'solid' ? null : st.type, bar };
}

/** Lines (or bars) over a category axis, with a labelled value axis; more than one series gets an HTML legend. */
export function lineChart(o: { categories: string[]; series: LineSeries[]; xName: string; yName: string; label: string; width?: number; height?: number; percent?: boolean }): string {
  const svg = renderSvg(
    {
      grid: { left: 64, right: 24, top: 16, bottom: 44 },
      xAxis: { type: 'category', data: o.categories, name: o.xName, nameLocation: 'middle', nameGap: 28, boundaryGap: o.series.some((s) => s.bar) },
      yAxis: { type: 'value', name: o.yName, nameLocation: 'middle', nameGap: 48, scale: false, axisLabel: valueAxisLabel(o.percent) },
      series: o.series.map((s) =>
        s.bar
          ? { type: 'bar', name: s.name, data: s.data, itemStyle: s.color ? { color: s.color } : undefined }
          : { type: 'line', name: s.name, data: s.data, symbolSize: 5, lineStyle: { width: 2, type: s.dash ? [...s.dash] : 'solid', color: s.color }, itemStyle: s.color ? { color: s.color } : undefined },
      ),
    },
    o.width ?? 720,
    o.height ?? 280,
    o.label,
  );
  return o.series.length > 1 ? svg + htmlLegend(o.series) : svg;
}

/** Horizontal bars, one group per category (e.g. spans), one bar per series. */
export function horizontalBars(o: { categories: string[]; series: LineSeries[]; xName: string; label: string; width?: number }): string {
  const rows = o.categories.length;
  const height = Math.max(140, 40 + rows * (10 + 10 * o.series.length));
  const svg = renderSvg(
    {
      grid: { left: 140, right: 24, top: 12, bottom: 40 },
      xAxis: { type: 'value', name: o.xName, nameLocation: 'middle', nameGap: 26, axisLabel: valueAxisLabel() },
      yAxis: { type: 'category', data: o.categories, inverse: true, axisLabel: { width: 120, overflow: 'truncate' } },
      series: o.series.map((s) => ({ type: 'bar', name: s.name, data: s.data, itemStyle: s.color ? { color: s.color } : undefined })),
    },
    o.width ?? 720,
    height,
    o.label,
  );
  return svg + htmlLegend(o.series);
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
  // Robust limits: one extreme cell saturates instead of washing out the rest; the end label says "≥".
  const all = data.map((d) => d[2]);
  let clipped = false;
  if (o.diverging) {
    const m = Math.max(robustScale(all, 0.95, 1e-9), 1e-9);
    clipped = all.some((v) => isClipped(v, m));
    [lo, hi] = [-m, m];
  } else {
    const top = lo >= 0 ? Math.max(robustScale(all, 0.98, 1e-12), 1e-12) : hi;
    clipped = top < hi;
    hi = top;
    if (hi <= lo) hi = lo + 1e-9;
  }
  const height = o.height ?? Math.max(160, Math.min(520, 90 + o.yLabels.length * 22));
  const fmt = (v: number) => (o.percent ? `${(v * 100).toFixed(0)}%` : v.toPrecision(2));
  const end = (v: number) => `${clipped ? '≥ ' : ''}${fmt(v)}`;
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
        text: [end(hi), o.diverging && clipped ? `≤ ${fmt(lo)}` : fmt(lo)],
        textStyle: FONT,
        inRange: { color: o.diverging ? ['#ca3220', '#f4a582', '#f8fafc', '#92c5de', '#005ab5'] : READ_RAMP },
      },
      series: [{ type: 'heatmap', data, itemStyle: { borderColor: '#ffffff', borderWidth: 0.5 } }],
    },
    o.width ?? 720,
    height,
    o.label,
  );
}
