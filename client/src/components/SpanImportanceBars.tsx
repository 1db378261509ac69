// Span importance K(span), drawn beside the read map on the same prompt-token rows: all layers vs layers >= 1.
import { useMemo } from 'react';
import type { AnalysisResult } from '@shared/analysis.js';
import { EChart, type ChartOption } from '../charts/EChart';
import { nats, showToken } from '../format';
import { COLORS } from '../theme';
import { axisStyle, escapeHtml, tooltipStyle } from './chartBits';
import { ROWS_BOTTOM, ROWS_TOP, rowsHeight } from './promptRows';

interface Props {
  result: Pick<AnalysisResult, 'spans' | 'prompt' | 'p'>;
  selectedSpan: number | null;
  onSelectSpan?: (span: number) => void;
  /** K axis limits; give several charts the same to compare them (default: this chart's own range). */
  range?: [number, number];
  testId?: string;
}

interface RenderApi {
  value: (dim: number) => number;
  coord: (v: [number, number]) => [number, number];
  size: (v: [number, number]) => [number, number];
}

export function SpanImportanceBars({ result, selectedSpan, onSelectSpan, range, testId = 'span-importance-chart' }: Props) {
  const { spans, prompt, p } = result;
  const option = useMemo<ChartOption>(() => {
    const values = spans.flatMap((s) => [s.kAllLayers, s.kFromLayer1]);
    const lo = range ? range[0] : Math.min(0, ...values);
    const hi = range ? range[1] : Math.max(0, ...values, 1e-6);
    // Items: [tokenStart, tokenEnd, k, which, spanIndex]; which 0 = all layers, 1 = layers >= 1, 2 = selection band.
    const data: number[][] = [];
    spans.forEach((s, i) => {
      if (s.tokenEnd <= s.tokenStart) return;
      if (i === selectedSpan) data.push([s.tokenStart, s.tokenEnd, hi, 2, i]);
      data.push([s.tokenStart, s.tokenEnd, s.kAllLayers, 0, i], [s.tokenStart, s.tokenEnd, s.kFromLayer1, 1, i]);
    });
    return {
      grid: { left: 8, right: 16, top: ROWS_TOP, bottom: ROWS_BOTTOM },
      legend: { show: false },
      tooltip: {
        ...tooltipStyle,
        formatter: (q: { value: number[] }) => {
          const s = spans[q.value[4]];
          const text = prompt.text.slice(s.charStart, s.charEnd);
          return [
            `<b>${escapeHtml(s.label)}</b> — tokens ${s.tokenStart}…${s.tokenEnd - 1}`,
            `<span style="color:${COLORS.axis}">${escapeHtml(showToken(text).slice(0, 60))}</span>`,
            `<span style="color:${COLORS.knockout}">■</span> K, blocked at all layers: <b>${nats(s.kAllLayers)}</b> nats`,
            `<span style="color:${COLORS.knockoutFromLayer1}">■</span> K, blocked at layers ≥ 1: <b>${nats(s.kFromLayer1)}</b> nats`,
          ].join('<br/>');
        },
      },
      xAxis: { type: 'value', position: 'top', min: lo, max: hi, name: 'K(span), nats', nameLocation: 'middle', nameGap: 20, ...axisStyle, splitNumber: 3 },
      yAxis: { type: 'category', inverse: true, data: prompt.tokens.map((_, j) => String(j)), show: false },
      series: [
        {
          type: 'custom',
          data,
          encode: { x: 2, y: 0 },
          renderItem: (_params: unknown, api: RenderApi) => {
            const [s0, s1, v, which] = [api.value(0), api.value(1), api.value(2), api.value(3)];
            const band = api.size([0, 1])[1];
            const yTop = api.coord([0, s0])[1] - band / 2;
            const yBot = api.coord([0, s1 - 1])[1] + band / 2;
            const x0 = api.coord([0, s0])[0];
            if (which === 2) {
              const xl = api.coord([lo, s0])[0];
              return { type: 'rect', shape: { x: xl, y: yTop, width: api.coord([hi, s0])[0] - xl, height: yBot - yTop }, style: { fill: COLORS.selectionFill, stroke: COLORS.selection, lineWidth: 1.5 } };
            }
            const x1 = api.coord([v, s0])[0];
            const pad = Math.min(2, (yBot - yTop) / 6);
            const mid = (yTop + yBot) / 2;
            const y = which === 0 ? yTop + pad : mid;
            const h = Math.max(1, mid - yTop - pad);
            return {
              type: 'rect',
              shape: { x: Math.min(x0, x1), y, width: Math.max(1, Math.abs(x1 - x0)), height: h },
              style: { fill: which === 0 ? COLORS.knockout : COLORS.knockoutFromLayer1 },
            };
          },
        },
      ],
    };
  }, [spans, prompt, selectedSpan, range]);

  return (
    <EChart
      option={option}
      height={rowsHeight(p)}
      testId={testId}
      label="Span importance"
      onItemClick={(e) => {
        if (e.componentType === 'series' && Array.isArray(e.value)) onSelectSpan?.((e.value as number[])[4]);
      }}
    />
  );
}
