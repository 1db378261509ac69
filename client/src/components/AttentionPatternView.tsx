// One head's attention pattern, token x token: rows read (queries), columns are read (keys); prompt and input marked,
// the BOS sink's column apart on its own scale, the hovered pair and its weight spelled out under the chart.
import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { AttentionPattern } from '@shared/attention.js';
import { hookName } from '@shared/hooks.js';
import { EChart, MONO, type ChartClick, type ChartOption } from '../charts/EChart';
import { api } from '../data/api';
import { pct, showToken } from '../format';
import { HELP } from '../metricHelp';
import { COLORS, READ_RAMP, robustScale, variantStyle } from '../theme';
import { axisStyle, mono, tooltipStyle } from './chartBits';
import { Card } from './Card';

const ROLE_COLOR = { bos: COLORS.sink, prompt: variantStyle(0).text, input: variantStyle(1).text } as const;
const ROLE_TEXT = { bos: 'BOS (sink)', prompt: 'prompt', input: 'input' } as const;

interface Props {
  runId: string;
  nLayer: number;
  nHead: number;
  layer: number;
  head: number;
  onChange: (layer: number, head: number) => void;
  onClose: () => void;
}

function tokenName(a: AttentionPattern, t: number): string {
  const tok = a.tokens[t];
  const idx = tok.role === 'prompt' ? `p${t}` : tok.role === 'input' ? `x${t - a.p}` : 'BOS';
  return `${idx} “${showToken(tok.text)}”`;
}

/** The pair under the pointer: [key column, query row, weight]. */
type Cell = [number, number, number];

function patternOption(a: AttentionPattern, rows: number[], cellH: number): ChartOption {
  const T = a.tokens.length;
  const keys = Array.from({ length: T - 1 }, (_, j) => j + 1);
  const label = (t: number) => {
    const tok = a.tokens[t];
    return `{${tok.role}|${showToken(tok.text).slice(0, 10)}}`;
  };
  const rich = {
    prompt: { color: ROLE_COLOR.prompt, fontFamily: MONO, fontSize: 10 },
    input: { color: ROLE_COLOR.input, fontFamily: MONO, fontSize: 10 },
    bos: { color: ROLE_COLOR.bos, fontFamily: MONO, fontSize: 10 },
  };
  const main: Cell[] = [];
  const sink: Cell[] = [];
  const mainVals: number[] = [];
  rows.forEach((i, r) => {
    const row = a.weights[i];
    sink.push([0, r, row[0]]);
    for (let j = 1; j <= i; j++) {
      main.push([j - 1, r, row[j]]);
      mainVals.push(row[j]);
    }
  });
  const max = robustScale(mainVals, 0.98, 1e-6);
  const firstInputRow = rows.findIndex((i) => i > a.p);
  const top = 64;
  const many = T > 40;
  return {
    grid: [
      { left: 96, width: 22, top, bottom: 40 },
      { left: 150, right: 16, top, bottom: 40 },
    ],
    tooltip: {
      ...tooltipStyle,
      formatter: (q: { seriesIndex: number; value: Cell }) => {
        const [x, r, v] = q.value;
        const i = rows[r];
        const j = q.seriesIndex === 0 ? 0 : x + 1;
        return `${mono(tokenName(a, i))} reads ${mono(tokenName(a, j))}<br/><b>${pct(v, 2)}</b> of the row’s ${a.normWeighted ? 'norm-weighted ' : ''}attention`;
      },
    },
    xAxis: [
      { type: 'category', gridIndex: 0, position: 'top', data: ['BOS'], name: 'sink', nameLocation: 'middle', nameGap: 36, ...axisStyle, axisLabel: { ...axisStyle.axisLabel, rotate: 90, fontSize: 10, color: ROLE_COLOR.bos } },
      {
        type: 'category',
        gridIndex: 1,
        position: 'top',
        data: keys.map(String),
        name: 'key: the token read',
        nameLocation: 'middle',
        nameGap: 50,
        ...axisStyle,
        axisLabel: { ...axisStyle.axisLabel, rotate: 90, interval: many ? 'auto' : 0, formatter: (_v: string, k: number) => label(k + 1), rich },
      },
    ],
    yAxis: [0, 1].map((g) => ({
      type: 'category',
      gridIndex: g,
      inverse: true,
      data: rows.map(String),
      ...axisStyle,
      name: g === 0 ? 'query: the token reading' : undefined,
      nameLocation: 'middle',
      nameGap: 84,
      axisLabel: g === 0 ? { ...axisStyle.axisLabel, interval: many ? 'auto' : 0, formatter: (_v: string, r: number) => label(rows[r]), rich } : { show: false },
      axisTick: { show: false },
    })),
    visualMap: [
      { seriesIndex: 1, min: 0, max, show: false, inRange: { color: READ_RAMP } },
      { seriesIndex: 0, min: 0, max: 1, show: false, inRange: { color: ['#ffffff', '#cbd5e1', COLORS.sink] } },
    ],
    series: [
      { type: 'heatmap', xAxisIndex: 0, yAxisIndex: 0, data: sink, emphasis: { itemStyle: { borderColor: COLORS.text, borderWidth: 1 } } },
      {
        type: 'heatmap',
        xAxisIndex: 1,
        yAxisIndex: 1,
        data: main,
        itemStyle: { borderColor: '#fff', borderWidth: cellH > 8 ? 0.5 : 0 },
        emphasis: { itemStyle: { borderColor: COLORS.text, borderWidth: 1 } },
        // The block where X reads P′: input rows x prompt columns, the edges the read shares and knockouts are about.
        markArea:
          a.p > 0 && firstInputRow >= 0
            ? {
                silent: true,
                itemStyle: { color: 'rgba(0,0,0,0)', borderColor: COLORS.selection, borderWidth: 1.5, borderType: 'dashed' },
                label: { show: true, position: 'insideBottomRight', color: '#92400e', fontSize: 10, formatter: 'X reads P′' },
                data: [[{ xAxis: '1', yAxis: String(rows[firstInputRow]) }, { xAxis: String(a.p), yAxis: String(rows[rows.length - 1]) }]],
              }
            : undefined,
      },
    ],
  };
}

export function AttentionPatternView({ runId, nLayer, nHead, layer, head, onChange, onClose }: Props) {
  const [normWeighted, setNormWeighted] = useState(false);
  const [inputRowsOnly, setInputRowsOnly] = useState(false);
  const [hover, setHover] = useState<{ i: number; j: number; v: number } | null>(null);
  const q = useQuery({
    queryKey: ['attention', runId, layer, head, normWeighted],
    queryFn: () => api.attention(runId, { layer, head, normWeighted }),
    staleTime: Infinity,
  });
  const a = q.data;
  const rows = useMemo(() => (a ? Array.from({ length: a.tokens.length - 1 }, (_, k) => k + 1).filter((i) => !inputRowsOnly || i > a.p) : []), [a, inputRowsOnly]);
  const cellH = a ? Math.max(4, Math.min(18, Math.floor(760 / Math.max(1, rows.length)))) : 12;
  const option = useMemo(() => (a ? patternOption(a, rows, cellH) : null), [a, rows, cellH]);
  const onHover = (e: ChartClick | null) => {
    if (!e || !a || e.componentType !== 'series' || !Array.isArray(e.value)) return setHover(null);
    const [x, r, v] = e.value as Cell;
    setHover({ i: rows[r], j: e.seriesIndex === 0 ? 0 : x + 1, v });
  };
  const sinkMean = a ? rows.reduce((s, i) => s + a.weights[i][0], 0) / Math.max(1, rows.length) : 0;

  return (
    <Card
      title={
        <>
          Attention pattern <span className="mono">{hookName(layer, 'attn.hook_pattern')}</span> · head {head}
        </>
      }
      help={HELP.attentionPattern}
      className="wide"
      testId="attention-view"
      actions={
        <button type="button" className="btn small" onClick={onClose} data-testid="attention-close">
          Close
        </button>
      }
    >
      <div className="attn-controls">
        <label>
          Layer{' '}
          <select value={layer} onChange={(e) => onChange(Number(e.target.value), head)} data-testid="attention-layer">
            {Array.from({ length: nLayer }, (_, l) => (
              <option key={l} value={l}>
                blocks.{l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Head{' '}
          <select value={head} onChange={(e) => onChange(layer, Number(e.target.value))} data-testid="attention-head">
            {Array.from({ length: nHead }, (_, h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
        </label>
        <label title="Weight each edge by ‖v_j·W_O‖ of the token read (Kobayashi et al. 2020), rows renormalised">
          <input type="checkbox" checked={normWeighted} onChange={(e) => setNormWeighted(e.target.checked)} data-testid="attention-norm" /> norm-weighted (× ‖v·W_O‖)
        </label>
        <label>
          <input type="checkbox" checked={inputRowsOnly} onChange={(e) => setInputRowsOnly(e.target.checked)} /> input rows only
        </label>
      </div>
      <p className="card-sub">
        <span style={{ color: ROLE_COLOR.prompt }}>■ prompt</span> · <span style={{ color: ROLE_COLOR.input }}>■ input</span> · BOS sink apart on its own grey scale (mean{' '}
        {pct(sinkMean)} of each row) · dashed box: the input reading the prompt
        {a && (
          <>
            {' '}
            · from <span className="mono">{a.hooks.pattern}</span>
            {a.hooks.valueNorm && (
              <>
                {' '}
                × <span className="mono">{a.hooks.valueNorm}</span>
              </>
            )}
          </>
        )}
      </p>
      {q.isLoading && <p className="muted">Computing the pattern on the engine…</p>}
      {q.error && (
        <p className="field-error" role="alert">
          Could not compute the pattern: {(q.error as Error).message}
        </p>
      )}
      {a && option && (
        <>
          <EChart option={option} height={Math.min(1400, rows.length * cellH + 110)} testId="attention-chart" label={`Attention pattern of layer ${layer} head ${head}`} onItemHover={onHover} />
          <p className="attn-readout" data-testid="attention-readout" aria-live="polite">
            {hover ? (
              <>
                <span className="mono">{tokenName(a, hover.i)}</span> ({ROLE_TEXT[a.tokens[hover.i].role]}) reads <span className="mono">{tokenName(a, hover.j)}</span> (
                {ROLE_TEXT[a.tokens[hover.j].role]}): <b>{pct(hover.v, 2)}</b> of its {a.normWeighted ? 'norm-weighted ' : ''}attention
              </>
            ) : (
              <span className="muted">Point at a cell: the reading token, the token read and the weight appear here.</span>
            )}
          </p>
        </>
      )}
    </Card>
  );
}
