// Thin React wrapper over Apache ECharts (canvas renderer): one instance per chart, resized with its box.
import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, HeatmapChart, LineChart } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

echarts.use([
  BarChart,
  CustomChart,
  HeatmapChart,
  LineChart,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export type ChartOption = EChartsCoreOption;

/** What a click on a chart item tells: the series and the item's index / value. */
export interface ChartClick {
  seriesIndex?: number;
  seriesName?: string;
  dataIndex: number;
  value: unknown;
  componentType: string;
}

interface Props {
  option: ChartOption;
  height: number;
  onItemClick?: (e: ChartClick) => void;
  /** The item under the pointer (null when it leaves), for readouts outside the canvas. */
  onItemHover?: (e: ChartClick | null) => void;
  testId: string;
  label: string;
}

export const FONT = 'Inter, ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif';
export const MONO = 'ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace';

export function EChart({ option, height, onItemClick, onItemHover, testId, label }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const clickRef = useRef(onItemClick);
  clickRef.current = onItemClick;
  const hoverRef = useRef(onItemHover);
  hoverRef.current = onItemHover;

  useEffect(() => {
    const el = box.current!;
    const c = echarts.init(el, undefined, { renderer: 'canvas' });
    chart.current = c;
    c.on('click', (p) => {
      const e = p as unknown as ChartClick;
      clickRef.current?.(e);
    });
    c.on('mouseover', (p) => hoverRef.current?.(p as unknown as ChartClick));
    c.on('mouseout', () => hoverRef.current?.(null));
    // A resize can be delivered after the chart was disposed (its box left the page in the same frame): skip it.
    const ro = new ResizeObserver(() => {
      if (!c.isDisposed()) c.resize();
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    if (chart.current?.isDisposed()) return;
    chart.current?.setOption(
      { textStyle: { fontFamily: FONT }, animationDuration: 250, animationDurationUpdate: 200, ...option },
      { notMerge: true },
    );
  }, [option]);

  useEffect(() => {
    if (chart.current && !chart.current.isDisposed()) chart.current.resize();
  }, [height]);

  return <div ref={box} className="echart" style={{ height }} data-testid={testId} role="img" aria-label={label} />;
}
