// Shared pieces of chart options: axis styling, hook-name labels, tooltip look.
import { hookName } from '@shared/hooks.js';
import { MONO } from '../charts/EChart';
import { COLORS } from '../theme';

export const axisStyle = {
  axisLine: { lineStyle: { color: COLORS.grid } },
  axisTick: { lineStyle: { color: COLORS.grid } },
  axisLabel: { color: COLORS.axis, fontSize: 11 },
  splitLine: { lineStyle: { color: COLORS.grid, type: 'dashed' as const } },
  nameTextStyle: { color: COLORS.axis, fontSize: 11 },
};

export const tooltipStyle = {
  // Kept inside the chart's box, so a tooltip near the left edge is never cut off.
  confine: true,
  backgroundColor: 'rgba(255,255,255,0.97)',
  borderColor: COLORS.grid,
  textStyle: { color: COLORS.text, fontSize: 12 },
  extraCssText: 'box-shadow: 0 4px 14px rgba(15,23,42,.12); border-radius: 8px;',
};

/** `blocks.3`: the prefix every hook of layer 3 shares (short axis label). */
/** Category axis labels for layers: every label shown, tilted when there are many. */
export function layerAxisLabel(n: number) {
  return { ...axisStyle.axisLabel, interval: 0, rotate: n > 6 ? 35 : 0, fontSize: 10.5 };
}

export const blockLabel = (l: number) => `blocks.${l}`;
export const patternHook = (l: number) => hookName(l, 'attn.hook_pattern');
export const valueNormHook = (l: number) => hookName(l, 'attn.hook_value_norm');

export const mono = (s: string) => `<span style="font-family:${MONO}">${escapeHtml(s)}</span>`;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface AxisParam {
  dataIndex: number;
  seriesName: string;
  value: unknown;
  color: string;
  marker: string;
}
