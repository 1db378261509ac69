// D(k): the loss increase when X cannot read the prompt at layers k..L-1; its drop from k to k+1 is what layer k reads.
import { useMemo } from 'react';
import { EChart, type ChartOption } from '../charts/EChart';
import { nats } from '../format';
import { COLORS, variantStyle } from '../theme';
import { axisStyle, blockLabel, tooltipStyle, type AxisParam } from './chartBits';

export interface CurveSeries {
  name: string;
  color: string;
  values: number[];
  /** Dash pattern of the line (variants differ by line style as well as colour); solid when absent. */
  dash?: readonly number[] | null;
  symbol?: string;
}

/** An overlaid series drawn in variant k's colour, line style and marker. */
export function variantCurve(k: number, name: string, values: number[]): CurveSeries {
  const st = variantStyle(k);
  return { name, values, color: st.color, dash: st.dash, symbol: st.symbol };
}

interface Props {
  series: CurveSeries[];
  selectedLayer: number | null;
  onSelectLayer?: (layer: number) => void;
  testId?: string;
}

export function DepthCurveChart({ series, selectedLayer, onSelectLayer, testId = 'depth-curve-chart' }: Props) {
  const L = (series[0]?.values.length ?? 1) - 1;
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 52, right: 16, top: series.length > 1 ? 34 : 14, bottom: 46 },
      legend: series.length > 1 ? { top: 0, textStyle: { fontSize: 11 } } : undefined,
      tooltip: {
        ...tooltipStyle,
        trigger: 'axis',
        formatter: (ps: AxisParam[]) => {
          const k = ps[0].dataIndex;
          const head = k >= L ? `D(${k}) — nothing blocked` : `D(${k}) — X→P′ blocked at ${blockLabel(k)} … ${blockLabel(L - 1)}`;
          return [head, ...ps.map((p) => `${p.marker}${series.length > 1 ? `${p.seriesName}: ` : ''}<b>${nats(p.value as number)}</b> nats`)].join('<br/>');
        },
      },
      xAxis: {
        type: 'category',
        data: Array.from({ length: L + 1 }, (_, k) => String(k)),
        name: 'k — first blocked layer',
        nameLocation: 'middle',
        nameGap: 28,
        boundaryGap: false,
        ...axisStyle,
      },
      yAxis: { type: 'value', name: 'D(k), nats', nameLocation: 'middle', nameGap: 38, ...axisStyle },
      series: series.map((s, i) => ({
        name: s.name,
        type: 'line',
        data: s.values,
        color: s.color,
        symbolSize: 7,
        symbol: s.symbol ?? 'emptyCircle',
        lineStyle: { width: 2.2, type: s.dash ? [...s.dash] : 'solid' },
        areaStyle: series.length === 1 ? { color: s.color, opacity: 0.08 } : undefined,
        markLine:
          i === 0
            ? {
                silent: true,
                symbol: 'none',
                animation: false,
                data: [
                  { yAxis: 0, lineStyle: { color: COLORS.axis, type: 'solid', width: 1 }, label: { show: false } },
                  ...(selectedLayer !== null
                    ? [{ xAxis: String(selectedLayer), lineStyle: { color: COLORS.selection, width: 2, type: 'solid' }, label: { formatter: blockLabel(selectedLayer), color: COLORS.selection } }]
                    : []),
                ],
              }
            : undefined,
      })),
    }),
    [series, selectedLayer, L],
  );
  return (
    <EChart
      option={option}
      height={240}
      testId={testId}
      label="Depth curve D(k)"
      onItemClick={(e) => {
        if (e.componentType === 'series' && e.dataIndex < L) onSelectLayer?.(e.dataIndex);
      }}
    />
  );
}
