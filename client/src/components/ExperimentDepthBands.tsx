// D(k) per prompt over inputs: the mean curve with its 95% band (a stacked area from lo to hi).
import type { ExperimentDetail } from '@shared/experiments.js';
import { EChart } from '../charts/EChart';
import { variantStyle } from '../theme';
import { axisStyle, tooltipStyle } from './chartBits';

export function ExperimentDepthBands({ d, model }: { d: ExperimentDetail; model: number }) {
  const rows = d.summary.filter((s) => s.model === model && s.depthCurve.length);
  if (!rows.length) return <p className="muted">The depth curves appear when the first cells finish.</p>;
  const L = rows[0].depthCurve.length;
  const label = (p: number) => d.prompts[p].label ?? `P${p + 1}`;
  const option = {
    animation: false,
    grid: { left: 56, right: 16, top: 30, bottom: 40 },
    legend: { top: 0, data: rows.map((s) => label(s.prompt)) },
    tooltip: { ...tooltipStyle, trigger: 'axis' },
    xAxis: { ...axisStyle, type: 'category', boundaryGap: false, data: Array.from({ length: L }, (_, k) => String(k)), name: 'k', nameLocation: 'middle', nameGap: 26 },
    yAxis: { ...axisStyle, type: 'value', name: 'D(k), nats/token', nameLocation: 'middle', nameGap: 42 },
    series: rows.flatMap((s) => {
      const color = variantStyle(s.prompt).color;
      const stack = `band-${s.prompt}`;
      return [
        { type: 'line', stack, stackStrategy: 'all', data: s.depthCurve.map((c) => c.lo), lineStyle: { opacity: 0 }, symbol: 'none', silent: true, tooltip: { show: false } },
        { type: 'line', stack, stackStrategy: 'all', data: s.depthCurve.map((c) => c.hi - c.lo), lineStyle: { opacity: 0 }, symbol: 'none', areaStyle: { color, opacity: 0.15 }, silent: true },
        { type: 'line', name: label(s.prompt), data: s.depthCurve.map((c) => c.mean), lineStyle: { color, width: 2 }, itemStyle: { color } },
      ];
    }),
  };
  return <EChart option={option} height={260} testId="experiment-depth" label={`Depth curves D(k) per prompt with 95% bands, ${d.models[model]}`} />;
}
