// Read share of the prompt per layer: plain attention vs norm-weighted (Kobayashi), with the BOS sink shown apart.
import { useMemo } from 'react';
import type { LayerReadShares } from '@shared/analysis.js';
import { EChart, type ChartOption } from '../charts/EChart';
import { pct } from '../format';
import { COLORS } from '../theme';
import { axisStyle, blockLabel, layerAxisLabel, mono, tooltipStyle, type AxisParam } from './chartBits';

interface Props {
  layers: LayerReadShares[];
  selectedLayer: number | null;
  onSelectLayer?: (layer: number) => void;
}

export function ReadShareChart({ layers, selectedLayer, onSelectLayer }: Props) {
  const option = useMemo<ChartOption>(() => {
    const cats = layers.map((l) => blockLabel(l.layer));
    const sel = (l: number, color: string) => ({ value: 0, itemStyle: { color, borderColor: selectedLayer === l ? COLORS.selection : color, borderWidth: selectedLayer === l ? 2 : 0 } });
    const pctAxis = { type: 'value' as const, min: 0, max: 1, axisLabel: { ...axisStyle.axisLabel, formatter: (v: number) => `${Math.round(v * 100)}%` } };
    return {
      legend: { top: 0, textStyle: { fontSize: 11 }, data: ['attention', 'norm-weighted', 'sink (BOS)'] },
      grid: [
        { left: 48, right: '31%', top: 34, bottom: layers.length > 6 ? 62 : 46 },
        // containLabel keeps the sink panel's % labels clear of the last bar of the main panel.
        { left: '71%', right: 12, top: 34, bottom: layers.length > 6 ? 62 : 46, containLabel: true },
      ],
      tooltip: {
        ...tooltipStyle,
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (ps: AxisParam[]) => {
          const l = layers[ps[0].dataIndex];
          return [
            `<b>${blockLabel(l.layer)}</b>`,
            `<span style="color:${COLORS.attention}">●</span> attention read share <b>${pct(l.attention)}</b> — ${mono(l.hooks.pattern)}`,
            `<span style="color:${COLORS.normWeighted}">●</span> norm-weighted <b>${pct(l.normWeighted)}</b> — × ${mono(l.hooks.valueNorm)}`,
            `<span style="color:${COLORS.sink}">●</span> sink mass on BOS <b>${pct(l.sink)}</b>`,
          ].join('<br/>');
        },
      },
      xAxis: [
        { type: 'category', gridIndex: 0, data: cats, name: 'layer', nameLocation: 'middle', nameGap: cats.length > 6 ? 44 : 28, ...axisStyle, axisLabel: layerAxisLabel(cats.length) },
        { type: 'category', gridIndex: 1, data: cats.map((_, l) => String(l)), name: 'sink, per layer', nameLocation: 'middle', nameGap: 28, ...axisStyle },
      ],
      yAxis: [
        { gridIndex: 0, name: 'share of read on P′', nameLocation: 'middle', nameGap: 36, ...axisStyle, ...pctAxis },
        { gridIndex: 1, ...axisStyle, ...pctAxis },
      ],
      series: [
        { name: 'attention', type: 'bar', color: COLORS.attention, barGap: '10%', barMaxWidth: 18, data: layers.map((l) => ({ ...sel(l.layer, COLORS.attention), value: l.attention })) },
        { name: 'norm-weighted', type: 'bar', color: COLORS.normWeighted, barMaxWidth: 18, data: layers.map((l) => ({ ...sel(l.layer, COLORS.normWeighted), value: l.normWeighted })) },
        { name: 'sink (BOS)', type: 'bar', xAxisIndex: 1, yAxisIndex: 1, color: COLORS.sink, barMaxWidth: 12, data: layers.map((l) => ({ ...sel(l.layer, COLORS.sink), value: l.sink })) },
      ],
    };
  }, [layers, selectedLayer]);
  return (
    <EChart
      option={option}
      height={270}
      testId="read-share-chart"
      label="Read share per layer"
      onItemClick={(e) => {
        if (e.componentType === 'series') onSelectLayer?.(e.dataIndex);
      }}
    />
  );
}
