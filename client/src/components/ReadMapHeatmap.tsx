// Prompt tokens x layers: how much X reads each prompt token at each layer (norm-weighted, mean over X).
import { useMemo } from 'react';
import type { AnalysisResult } from '@shared/analysis.js';
import { EChart, MONO, type ChartOption } from '../charts/EChart';
import { pct, showToken } from '../format';
import { COLORS, READ_RAMP, robustScale } from '../theme';
import { axisStyle, blockLabel, mono, tooltipStyle, valueNormHook, patternHook } from './chartBits';
import { ROWS_BOTTOM, ROWS_TOP, rowsHeight } from './promptRows';

interface Props {
  /** A full result or a headline stage: the map needs only the read map and the prompt's tokens. */
  result: Pick<AnalysisResult, 'readMap' | 'prompt' | 'p'>;
  selectedLayer: number | null;
  /** Token range [start, end) of the selected span. */
  selectedTokens: [number, number] | null;
  onSelectLayer?: (layer: number) => void;
  onSelectToken?: (token: number) => void;
  /** The value that gets the darkest colour; give two maps the same one to compare them (default: this map's max). */
  max?: number;
  testId?: string;
  label?: string;
}

export function ReadMapHeatmap({ result, selectedLayer, selectedTokens, onSelectLayer, onSelectToken, max: fixedMax, testId = 'read-map-chart', label = 'Read map: prompt tokens by layers' }: Props) {
  const { readMap, prompt } = result;
  const p = result.p;
  const L = readMap.length;
  const option = useMemo<ChartOption>(() => {
    // Robust limit (98th percentile of the cells): one hot token saturates instead of turning the rest white.
    let top = 0;
    for (const row of readMap) for (const v of row) top = Math.max(top, v);
    const max = fixedMax ?? robustScale(readMap.flat(), 0.98, 1e-9);
    const clipped = top > max * (1 + 1e-9);
    const inSpan = (j: number) => !!selectedTokens && j >= selectedTokens[0] && j < selectedTokens[1];
    const data = readMap.flatMap((row, l) =>
      row.map((v, j) => {
        const hit = selectedLayer === l || inSpan(j);
        return { value: [l, j, v], itemStyle: hit ? { borderColor: COLORS.selection, borderWidth: selectedLayer === l && inSpan(j) ? 2.5 : 1.5 } : { borderColor: '#fff', borderWidth: 0.5 } };
      }),
    );
    return {
      grid: { left: 120, right: 12, top: ROWS_TOP, bottom: ROWS_BOTTOM },
      tooltip: {
        ...tooltipStyle,
        formatter: (q: { value: [number, number, number] }) => {
          const [l, j, v] = q.value;
          return [
            `prompt token ${j} ${mono(`“${showToken(prompt.tokens[j]?.text ?? '')}”`)} at ${blockLabel(l)}`,
            `norm-weighted read <b>${pct(v, 2)}</b> of X's read`,
            `<span style="color:${COLORS.axis}">${mono(patternHook(l))} × ${mono(valueNormHook(l))}</span>`,
          ].join('<br/>');
        },
      },
      // The layer axis is drawn at the top and again at the bottom, so a tall map keeps it in view at either end.
      xAxis: [
        { type: 'category', position: 'top', data: Array.from({ length: L }, (_, l) => String(l)), name: 'layer (blocks.l)', nameLocation: 'middle', nameGap: 20, ...axisStyle },
        { type: 'category', position: 'bottom', data: Array.from({ length: L }, (_, l) => String(l)), ...axisStyle },
      ],
      yAxis: {
        type: 'category',
        inverse: true,
        data: prompt.tokens.map((_, j) => String(j)),
        ...axisStyle,
        axisLabel: {
          ...axisStyle.axisLabel,
          interval: 0,
          fontFamily: MONO,
          fontSize: 11,
          formatter: (_v: string, j: number) => {
            const t = showToken(prompt.tokens[j]?.text ?? '').slice(0, 14);
            return inSpan(j) ? `{sel|${t}}` : t;
          },
          rich: { sel: { color: COLORS.selection, fontWeight: 'bold', fontFamily: MONO, fontSize: 11 } },
        },
        triggerEvent: true,
      },
      visualMap: {
        min: 0,
        max: max || 1,
        orient: 'horizontal',
        left: 'center',
        bottom: 4,
        itemWidth: 10,
        itemHeight: 140,
        text: [`${clipped ? '≥ ' : ''}${pct(max || 1, 1)}`, '0%'],
        textStyle: { fontSize: 10, color: COLORS.axis },
        inRange: { color: READ_RAMP },
      },
      series: [{ type: 'heatmap', data, emphasis: { itemStyle: { borderColor: COLORS.text, borderWidth: 1 } } }],
    };
  }, [readMap, prompt, selectedLayer, selectedTokens, L, fixedMax]);

  return (
    <EChart
      option={option}
      height={rowsHeight(p)}
      testId={testId}
      label={label}
      onItemClick={(e) => {
        if (e.componentType === 'series' && Array.isArray(e.value)) onSelectLayer?.((e.value as number[])[0]);
        else if (e.componentType === 'yAxis') onSelectToken?.(Number((e as unknown as { value: string }).value));
      }}
    />
  );
}
