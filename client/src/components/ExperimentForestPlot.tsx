// Forest plot: one row per prompt, a dot at the estimate and a whisker over its 95% interval, tick labels, a labelled
// zero line, and each row's values shown on hover or focus (SVG, readable by tests and screen readers).
import type { Interval } from '@shared/experiments.js';
import { niceTicks } from '@shared/experiment-reading.js';

export interface ForestRow {
  label: string;
  ci: Interval | null;
  color: string;
  /** Drawn hollow and named in the row's text, e.g. "not a share". */
  caveat?: string;
}

interface Props {
  rows: ForestRow[];
  axisLabel: string;
  title: string;
  testId: string;
  digits?: number;
  /** How a value is written on ticks and in the hover text (default: fixed digits). */
  format?: (v: number) => string;
}

const W = 440;
const LEFT = 120;
const RIGHT = 24;
const ROW = 28;

export function ExperimentForestPlot({ rows, axisLabel, title, testId, digits = 3, format }: Props) {
  const shown = rows.filter((r) => r.ci);
  const lo0 = Math.min(0, ...shown.map((r) => r.ci!.lo));
  const hi0 = Math.max(0, ...shown.map((r) => r.ci!.hi));
  const ticks = niceTicks(lo0, hi0 > lo0 ? hi0 : lo0 + 1, 4);
  const lo = Math.min(lo0, ticks[0]);
  const hi = Math.max(hi0, ticks[ticks.length - 1]);
  const span = hi - lo || 1;
  const x = (v: number) => LEFT + ((v - lo) / span) * (W - LEFT - RIGHT);
  const top = 22;
  const axisY = top + ROW * Math.max(1, rows.length) - 8;
  const H = axisY + 40;
  const fmt = format ?? ((v: number) => v.toFixed(digits));
  const tickFmt = format ?? ((v: number) => String(Number(v.toPrecision(3))));
  const summary = (r: ForestRow) =>
    r.ci ? `${r.label}: ${fmt(r.ci.mean)} [${fmt(r.ci.lo)}, ${fmt(r.ci.hi)}]${r.caveat ? ` (${r.caveat})` : ''}` : `${r.label}: no finished cells`;
  return (
    <svg className="forest-plot" data-testid={testId} viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={title}>
      <title>{title}</title>
      <desc>{rows.map(summary).join('; ')}</desc>
      {ticks.map((t) => (
        <g key={t} data-testid="forest-tick" data-value={t}>
          <line x1={x(t)} x2={x(t)} y1={axisY} y2={axisY + 4} stroke="#6b7280" />
          {t !== 0 && <line x1={x(t)} x2={x(t)} y1={top - 12} y2={axisY} stroke="#f3f4f6" />}
          <text x={x(t)} y={axisY + 15} fontSize="10" fill="#4b5563" textAnchor="middle">
            {tickFmt(t)}
          </text>
        </g>
      ))}
      <line x1={LEFT} x2={W - RIGHT} y1={axisY} y2={axisY} stroke="#6b7280" />
      <line x1={x(0)} x2={x(0)} y1={top - 14} y2={axisY} stroke="#374151" strokeDasharray="4 3" data-testid="forest-zero" />
      <text x={x(0) > W - RIGHT - 80 ? x(0) - 3 : x(0) + 3} y={top - 6} fontSize="10" fill="#374151" textAnchor={x(0) > W - RIGHT - 80 ? 'end' : 'start'}>
        0 = no effect
      </text>
      {rows.map((r, k) => {
        const y = top + 6 + k * ROW;
        const label = r.label.length > 18 ? `${r.label.slice(0, 17)}…` : r.label;
        return (
          <g
            key={k}
            className="forest-row"
            data-testid="forest-row"
            data-label={r.label}
            data-mean={r.ci?.mean ?? ''}
            data-lo={r.ci?.lo ?? ''}
            data-hi={r.ci?.hi ?? ''}
            data-summary={summary(r)}
          >
            <title>{summary(r)}</title>
            <rect x={0} y={y - ROW / 2} width={W} height={ROW} fill="transparent" />
            <text x={LEFT - 8} y={y + 4} textAnchor="end" fontSize="12" fill="#111827">
              {label}
            </text>
            {r.ci ? (
              <>
                <line x1={x(r.ci.lo)} x2={x(r.ci.hi)} y1={y} y2={y} stroke={r.color} strokeWidth={2} strokeDasharray={r.caveat ? '3 2' : undefined} />
                <line x1={x(r.ci.lo)} x2={x(r.ci.lo)} y1={y - 5} y2={y + 5} stroke={r.color} strokeWidth={2} />
                <line x1={x(r.ci.hi)} x2={x(r.ci.hi)} y1={y - 5} y2={y + 5} stroke={r.color} strokeWidth={2} />
                <circle cx={x(r.ci.mean)} cy={y} r={4.5} fill={r.caveat ? '#fff' : r.color} stroke={r.color} strokeWidth={2} />
                <text className="forest-value" x={W - RIGHT} y={y - 7} fontSize="10" fill="#111827" textAnchor="end" data-testid="forest-value">
                  {fmt(r.ci.mean)} [{fmt(r.ci.lo)}, {fmt(r.ci.hi)}]
                </text>
              </>
            ) : (
              <text x={LEFT} y={y + 4} fontSize="11" fill="#6b7280">
                waiting for cells…
              </text>
            )}
          </g>
        );
      })}
      <text x={(LEFT + W - RIGHT) / 2} y={H - 6} fontSize="11" fill="#4b5563" textAnchor="middle">
        {axisLabel}
      </text>
    </svg>
  );
}
