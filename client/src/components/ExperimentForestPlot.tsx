// Forest plot: one row per prompt, a dot at the estimate and a whisker over its 95% interval (SVG, readable by tests and screen readers).
import type { Interval } from '@shared/experiments.js';

export interface ForestRow {
  label: string;
  ci: Interval | null;
  color: string;
}

interface Props {
  rows: ForestRow[];
  axisLabel: string;
  title: string;
  testId: string;
  digits?: number;
}

const W = 440;
const LEFT = 120;
const RIGHT = 24;
const ROW = 28;

export function ExperimentForestPlot({ rows, axisLabel, title, testId, digits = 3 }: Props) {
  const shown = rows.filter((r) => r.ci);
  const lo = Math.min(0, ...shown.map((r) => r.ci!.lo));
  const hi = Math.max(0, ...shown.map((r) => r.ci!.hi));
  const span = hi - lo || 1;
  const x = (v: number) => LEFT + ((v - lo) / span) * (W - LEFT - RIGHT);
  const H = 40 + ROW * Math.max(1, rows.length);
  const fmt = (v: number) => v.toFixed(digits);
  const summary = (r: ForestRow) => (r.ci ? `${r.label}: ${fmt(r.ci.mean)} [${fmt(r.ci.lo)}, ${fmt(r.ci.hi)}]` : `${r.label}: no finished cells`);
  return (
    <svg className="forest-plot" data-testid={testId} viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={title}>
      <title>{title}</title>
      <desc>{rows.map(summary).join('; ')}</desc>
      <line x1={x(0)} x2={x(0)} y1={8} y2={H - 30} stroke="#9ca3af" strokeDasharray="4 3" />
      {rows.map((r, k) => {
        const y = 20 + k * ROW;
        const label = r.label.length > 18 ? `${r.label.slice(0, 17)}…` : r.label;
        return (
          <g
            key={k}
            data-testid="forest-row"
            data-label={r.label}
            data-mean={r.ci?.mean ?? ''}
            data-lo={r.ci?.lo ?? ''}
            data-hi={r.ci?.hi ?? ''}
            data-summary={summary(r)}
          >
            <text x={LEFT - 8} y={y + 4} textAnchor="end" fontSize="12" fill="#111827">
              {label}
            </text>
            {r.ci ? (
              <>
                <line x1={x(r.ci.lo)} x2={x(r.ci.hi)} y1={y} y2={y} stroke={r.color} strokeWidth={2} />
                <line x1={x(r.ci.lo)} x2={x(r.ci.lo)} y1={y - 5} y2={y + 5} stroke={r.color} strokeWidth={2} />
                <line x1={x(r.ci.hi)} x2={x(r.ci.hi)} y1={y - 5} y2={y + 5} stroke={r.color} strokeWidth={2} />
                <circle cx={x(r.ci.mean)} cy={y} r={4.5} fill={r.color} />
              </>
            ) : (
              <text x={LEFT} y={y + 4} fontSize="11" fill="#6b7280">
                waiting for cells…
              </text>
            )}
          </g>
        );
      })}
      <text x={LEFT} y={H - 10} fontSize="11" fill="#4b5563">
        {fmt(lo)}
      </text>
      <text x={W - RIGHT} y={H - 10} fontSize="11" fill="#4b5563" textAnchor="end">
        {fmt(hi)}
      </text>
      <text x={(LEFT + W - RIGHT) / 2} y={H - 10} fontSize="11" fill="#4b5563" textAnchor="middle">
        {axisLabel}
      </text>
    </svg>
  );
}
