// Layer x head grid of read shares; rows are labelled with the hook each number comes from; a cell opens that head's
// attention pattern.
import { useMemo, useState } from 'react';
import type { LayerReadShares } from '@shared/analysis.js';
import { EChart, MONO, type ChartOption } from '../charts/EChart';
import { pct } from '../format';
import { COLORS, READ_RAMP } from '../theme';
import { axisStyle, mono, tooltipStyle } from './chartBits';

type Metric = 'normWeighted' | 'attention' | 'sink';
const METRIC_TEXT: Record<Metric, string> = { normWeighted: 'norm-weighted', attention: 'attention', sink: 'sink (BOS)' };

interface Props {
  layers: LayerReadShares[];
  selectedLayer: number | null;
  onSelectLayer?: (layer: number) => void;
  /** A click on a cell: show head `head` of layer `layer` (its attention pattern). */
  onSelectHead?: (layer: number, head: number) => void;
}

export function HeadGrid({ layers, selectedLayer, onSelectLayer, onSelectHead }: Props) {
  const [metric, setMetric] = useState<Metric>('normWeighted');
  const H = layers[0]?.attentionPerHead.length ?? 0;
  const option = useMemo<ChartOption>(() => {
    const per = (l: LayerReadShares) => (metric === 'normWeighted' ? l.normWeightedPerHead : metric === 'attention' ? l.attentionPerHead : l.sinkPerHead);
    const data = layers.flatMap((l) =>
      per(l).map((v, h) => ({
        value: [h, l.layer, v],
        itemStyle: selectedLayer === l.layer ? { borderColor: COLORS.selection, borderWidth: 2 } : { borderColor: '#fff', borderWidth: 1 },
      })),
    );
    return {
      grid: { left: 176, right: 56, top: 8, bottom: 28 },
      tooltip: {
        ...tooltipStyle,
        formatter: (p: { value: [number, number, number] }) => {
          const [h, l, v] = p.value;
          const hook = layers[l].hooks.pattern;
          return `${mono(hook)} head ${h}<br/>${METRIC_TEXT[metric]} read share <b>${pct(v)}</b><br/><span style="color:${COLORS.axis}">click: this head's attention pattern</span>`;
        },
      },
      xAxis: { type: 'category', data: Array.from({ length: H }, (_, h) => `head ${h}`), ...axisStyle, splitArea: { show: false } },
      yAxis: {
        type: 'category',
        inverse: true,
        data: layers.map((l) => l.hooks.pattern),
        ...axisStyle,
        axisLabel: {
          ...axisStyle.axisLabel,
          fontFamily: MONO,
          fontSize: 10,
          formatter: (v: string, i: number) => (i === selectedLayer ? `{sel|${v}}` : v),
          rich: { sel: { color: COLORS.selection, fontWeight: 'bold', fontFamily: MONO, fontSize: 10.5 } },
        },
      },
      visualMap: {
        min: 0,
        max: 1,
        calculable: false,
        orient: 'vertical',
        right: 4,
        top: 'middle',
        itemHeight: 120,
        itemWidth: 10,
        text: ['100%', '0%'],
        textStyle: { fontSize: 10, color: COLORS.axis },
        inRange: { color: metric === 'sink' ? ['#ffffff', '#cbd5e1', COLORS.sink] : READ_RAMP },
      },
      series: [
        {
          type: 'heatmap',
          data,
          label: { show: H <= 16, fontSize: 10, formatter: (p: { value: [number, number, number] }) => Math.round(p.value[2] * 100).toString() },
          emphasis: { itemStyle: { borderColor: COLORS.text, borderWidth: 1 } },
        },
      ],
    };
  }, [layers, selectedLayer, metric, H]);

  return (
    <div>
      <div className="segmented" role="radiogroup" aria-label="Head grid metric">
        {(Object.keys(METRIC_TEXT) as Metric[]).map((m) => (
          <button key={m} type="button" role="radio" aria-checked={metric === m} className={metric === m ? 'on' : ''} onClick={() => setMetric(m)}>
            {METRIC_TEXT[m]}
          </button>
        ))}
      </div>
      <EChart
        option={option}
        height={Math.max(200, layers.length * 26 + 50)}
        testId="head-grid-chart"
        label="Layer by head read share"
        onItemClick={(e) => {
          const v = e.value as [number, number, number];
          if (!Array.isArray(v)) return;
          if (onSelectHead) onSelectHead(v[1], v[0]);
          else onSelectLayer?.(v[1]);
        }}
      />
    </div>
  );
}
