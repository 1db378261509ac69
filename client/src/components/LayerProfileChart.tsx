// K of a window of layers around each layer: where reading the prompt's columns matters most.
import { useMemo } from 'react';
import type { AnalysisResult } from '@shared/analysis.js';
import { EChart, type ChartOption } from '../charts/EChart';
import { nats } from '../format';
import { COLORS } from '../theme';
import { axisStyle, blockLabel, layerAxisLabel, tooltipStyle, type AxisParam } from './chartBits';
import type { CurveSeries } from './DepthCurveChart';

interface Props {
  /** One series for a run, several overlaid in the compare view. */
  series: CurveSeries[];
  windows?: AnalysisResult['layerProfile'];
  selectedLayer: number | null;
  onSelectLayer?: (layer: number) => void;
  testId?: string;
}

export function LayerProfileChart({ series, windows, selectedLayer, onSelectLayer, testId = 'layer-profile-chart' }: Props) {
  const L = series[0]?.values.length ?? 0;
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 52, right: 16, top: series.length > 1 ? 34 : 14, bottom: L > 6 ? 62 : 46 },
      legend: series.length > 1 ? { top: 0, textStyle: { fontSize: 11 } } : undefined,
      tooltip: {
        ...tooltipStyle,
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (ps: AxisParam[]) => {
          const l = ps[0].dataIndex;
          const w = windows?.[l]?.layers;
          const head = w ? `K(${blockLabel(w[0])} … ${blockLabel(w[w.length - 1])}) around ${blockLabel(l)}` : `window around ${blockLabel(l)}`;
          return [head, ...ps.map((p) => `${p.marker}${series.length > 1 ? `${p.seriesName}: ` : ''}<b>${nats(p.value as number)}</b> nats`)].join('<br/>');
        },
      },
      xAxis: {
        type: 'category',
        data: Array.from({ length: L }, (_, l) => blockLabel(l)),
        name: 'layer (window centre)',
        nameLocation: 'middle',
        nameGap: L > 6 ? 44 : 28,
        ...axisStyle,
        axisLabel: layerAxisLabel(L),
      },
      yAxis: { type: 'value', name: 'K, nats', nameLocation: 'middle', nameGap: 38, ...axisStyle },
      series: series.map((s) => ({
        name: s.name,
        type: series.length > 1 ? 'line' : 'bar',
        data: s.values.map((v, l) => ({
          value: v,
          itemStyle: series.length === 1 && selectedLayer === l ? { color: COLORS.selection } : undefined,
        })),
        color: s.color,
        barMaxWidth: 28,
        symbolSize: 6,
        symbol: s.symbol ?? 'emptyCircle',
        lineStyle: { width: 2, type: s.dash ? [...s.dash] : 'solid' },
        markLine:
          series.length > 1 && selectedLayer !== null
            ? { silent: true, symbol: 'none', data: [{ xAxis: blockLabel(selectedLayer) }], lineStyle: { color: COLORS.selection, width: 2, type: 'solid' }, label: { show: false } }
            : undefined,
      })),
    }),
    [series, windows, selectedLayer, L],
  );
  return (
    <EChart
      option={option}
      height={240}
      testId={testId}
      label="Layer profile"
      onItemClick={(e) => {
        if (e.componentType === 'series') onSelectLayer?.(e.dataIndex);
      }}
    />
  );
}
