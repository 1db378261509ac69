// 2-4 prompt variants on the same input: headline numbers, per-token benefit differences, overlaid curves, exports.
import { useMemo, useState } from 'react';
import type { Comparison, ComparisonReportTable } from '@shared/api.js';
import { EChart, type ChartOption } from '../charts/EChart';
import { api, useComparison } from '../data/api';
import { nats, pct, shortId, showToken, signedNats, snippet } from '../format';
import { piVerdict } from '@shared/format.js';
import { HELP } from '../metricHelp';
import { useWorkbench } from '../state/store';
import { benefitColor, benefitTextColor, robustScale, VARIANT_COLORS, variantLineStyle, variantStyle } from '../theme';
import { Card } from './Card';
import { axisStyle, blockLabel, layerAxisLabel, escapeHtml, tooltipStyle, type AxisParam } from './chartBits';
import { CompareReadMaps, CompareTextDiff, useCompareRuns } from './CompareTexts';
import { DepthCurveChart, variantCurve, type CurveSeries } from './DepthCurveChart';
import { ExportMenu, type ExportGroup } from './ExportMenu';
import { LayerProfileChart } from './LayerProfileChart';
import { TableScroll } from './TableScroll';

const runName = (r: Comparison['runs'][number], k: number) => `${String.fromCharCode(65 + k)} · ${r.label ?? shortId(r.id)}`;

/** Series names: `names[k]` where given (the twins view names runs by model), else A · label. */
const seriesName = (cmp: Comparison, k: number, names?: string[]) => names?.[k] ?? runName(cmp.runs[k], k);
const colorOf = (k: number, colors?: readonly string[]) => colors?.[k] ?? VARIANT_COLORS[k];

export function TokenDiffChart({ cmp, names, colors, testId = 'compare-token-chart' }: { cmp: Comparison; names?: string[]; colors?: readonly string[]; testId?: string }) {
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 52, right: 12, top: 34, bottom: 56 },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      tooltip: {
        ...tooltipStyle,
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (ps: AxisParam[]) => {
          const t = cmp.tokens[ps[0].dataIndex];
          return [
            `token “${escapeHtml(showToken(t.text))}” · loss without prompt ${nats(t.lossNoPrompt)} nats`,
            ...ps.map((p) => `${p.marker}${escapeHtml(p.seriesName)}: benefit <b>${signedNats(p.value as number)}</b> nats`),
          ].join('<br/>');
        },
      },
      xAxis: { type: 'category', data: cmp.tokens.map((t) => showToken(t.text)), ...axisStyle, axisLabel: { ...axisStyle.axisLabel, interval: 0, rotate: cmp.tokens.length > 12 ? 45 : 0 } },
      yAxis: { type: 'value', name: 'benefit B_t, nats', nameLocation: 'middle', nameGap: 38, ...axisStyle },
      series: cmp.runs.map((_r, k) => ({ name: seriesName(cmp, k, names), type: 'bar', color: colorOf(k, colors), barMaxWidth: 14, data: cmp.tokens.map((t) => t.benefit[k]) })),
    }),
    [cmp, names, colors],
  );
  return <EChart option={option} height={260} testId={testId} label="Per-token benefit of each run" />;
}

export function ReadShareCompareChart({ cmp, names, colors, testId = 'compare-readshare-chart' }: { cmp: Comparison; names?: string[]; colors?: readonly string[]; testId?: string }) {
  const option = useMemo<ChartOption>(
    () => ({
      grid: { left: 52, right: 12, top: 34, bottom: 62 },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      tooltip: {
        ...tooltipStyle,
        trigger: 'axis',
        formatter: (ps: AxisParam[]) => [`${blockLabel(ps[0].dataIndex)} norm-weighted read share`, ...ps.map((p) => `${p.marker}${escapeHtml(p.seriesName)}: <b>${pct(p.value as number)}</b>`)].join('<br/>'),
      },
      xAxis: { type: 'category', data: cmp.runs[0].normWeightedShare.map((_, l) => blockLabel(l)), name: 'layer', nameLocation: 'middle', nameGap: 44, ...axisStyle, axisLabel: layerAxisLabel(cmp.runs[0].normWeightedShare.length) },
      yAxis: { type: 'value', min: 0, max: 1, ...axisStyle, axisLabel: { ...axisStyle.axisLabel, formatter: (v: number) => `${Math.round(v * 100)}%` } },
      series: cmp.runs.map((r, k) => ({
        name: seriesName(cmp, k, names),
        type: 'line',
        color: colorOf(k, colors),
        symbol: variantStyle(k).symbol,
        symbolSize: 7,
        lineStyle: { ...variantLineStyle(k), color: colorOf(k, colors) },
        data: r.normWeightedShare,
      })),
    }),
    [cmp, names, colors],
  );
  return <EChart option={option} height={240} testId={testId} label="Norm-weighted read share per layer, each run" />;
}

function TokenDiffRows({ cmp }: { cmp: Comparison }) {
  const [hover, setHover] = useState<number | null>(null);
  const scale = robustScale(cmp.tokens.flatMap((t) => t.benefitVsFirst.slice(1)));
  const bscale = robustScale(cmp.tokens.map((t) => t.benefit[0]));
  return (
    <div className="diff-rows" data-testid="compare-token-diff" onMouseLeave={() => setHover(null)}>
      {cmp.runs.map((r, k) => (
        <div key={r.id} className="diff-row">
          <div className="diff-label" style={{ color: variantStyle(k).text }}>
            {runName(r, k)}
            <span className="muted small">{k === 0 ? 'benefit B_t' : `vs A: loss(A) − loss(${String.fromCharCode(65 + k)})`}</span>
          </div>
          <p className="token-text small-text">
            {cmp.tokens.map((t, i) => {
              const v = k === 0 ? t.benefit[0] : t.benefitVsFirst[k];
              const s = k === 0 ? bscale : scale;
              return (
                <span
                  key={i}
                  className={`tok ${hover === i ? 'hovered' : ''}`}
                  style={{ backgroundColor: benefitColor(v, s), color: benefitTextColor(v, s) }}
                  onMouseEnter={() => setHover(i)}
                  title={`${signedNats(v)} nats`}
                >
                  {t.text}
                </span>
              );
            })}
          </p>
        </div>
      ))}
      <p className="muted small diff-foot">
        {hover === null
          ? 'Blue: the variant predicts the token better than A (rows B–D) or the prompt helps (row A). Hover a token for numbers.'
          : `“${showToken(cmp.tokens[hover].text)}”: ${cmp.runs.map((_, k) => `${String.fromCharCode(65 + k)} loss ${nats(cmp.tokens[hover].lossWithPrompt[k])}`).join(' · ')} · no prompt ${nats(cmp.tokens[hover].lossNoPrompt)} nats`}
      </p>
    </div>
  );
}

const COMPARE_TABLES: { table: ComparisonReportTable; text: string }[] = [
  { table: 'summary', text: 'one row per variant: losses, benefit, π' },
  { table: 'tokens', text: 'per input token, a column group per variant' },
  { table: 'layers', text: 'per variant and layer' },
  { table: 'heads', text: 'per variant, layer and head' },
  { table: 'spans', text: 'per variant and span' },
];

function compareExportGroups(ids: string[]): ExportGroup[] {
  return [
    {
      title: 'Comparison report',
      items: [
        { label: 'HTML report', hint: 'self-contained, charts inlined', testId: 'compare-export-html', href: api.compareReportUrl(ids, 'html') },
        { label: 'HTML report in a tab', hint: 'to print to PDF', testId: 'compare-export-html-print', href: api.compareReportUrl(ids, 'html', { inline: true }), newTab: true },
        { label: 'JSON report', hint: 'every run\'s numbers, versioned schema', testId: 'compare-export-json', href: api.compareReportUrl(ids, 'json') },
      ],
    },
    {
      title: 'CSV tables',
      items: COMPARE_TABLES.map((t) => ({ label: `${t.table}.csv`, hint: t.text, testId: `compare-export-csv-${t.table}`, href: api.compareReportUrl(ids, 'csv', { table: t.table }) })),
    },
  ];
}

export function VariantCompare({ ids }: { ids: string[] }) {
  const { data: cmp, error, isLoading } = useComparison(ids);
  const openRun = useWorkbench((s) => s.openRun);
  const closeView = useWorkbench((s) => s.closeView);
  const selection = useWorkbench((s) => s.selection);
  const selectLayer = useWorkbench((s) => s.selectLayer);
  const depth: CurveSeries[] = useMemo(() => cmp?.runs.map((r, k) => variantCurve(k, runName(r, k), r.depthCurve)) ?? [], [cmp]);
  const profile: CurveSeries[] = useMemo(() => cmp?.runs.map((r, k) => variantCurve(k, runName(r, k), r.layerProfile)) ?? [], [cmp]);
  const fullRuns = useCompareRuns(ids);

  if (isLoading) return <div className="results-empty">Comparing…</div>;
  if (error || !cmp)
    return (
      <div className="results-empty">
        <p className="field-error" data-testid="compare-error">
          Cannot compare: {(error as Error | null)?.message ?? 'no data'}
        </p>
        <button type="button" className="btn" onClick={closeView}>
          Close
        </button>
      </div>
    );

  const oneModel = new Set((cmp.models ?? []).map((m) => m.hash)).size <= 1;
  return (
    <div className="results compare" data-testid="variant-compare">
      <header className="results-head">
        <div>
          <h2>Compare {cmp.runs.length} variants</h2>
          <p className="muted small">
            {oneModel ? cmp.model.id : cmp.models.map((m) => m.id).join(' / ')} · same input: “{snippet(cmp.input, 70)}”
          </p>
        </div>
        <div className="results-actions">
          <ExportMenu
            groups={compareExportGroups(cmp.runs.map((r) => r.id))}
            testId="compare-export-button"
            disabled={oneModel ? false : 'Comparison reports cover runs of one model; export each run from its own view'}
          />
          <button type="button" className="btn" onClick={closeView}>
            Close
          </button>
        </div>
      </header>
      <Card title="Variants" help={HELP.compare} className="wide" testId="compare-table-card">
        <TableScroll label="Variants compared">
          <table className="compare-table" data-testid="compare-table">
            <thead>
              <tr>
                <th>variant</th>
                {!oneModel && <th>model</th>}
                <th>prompt</th>
                <th className="num">loss with P, nats</th>
                <th className="num">mean B, nats</th>
                <th className="num">π</th>
                <th className="num">p tokens</th>
              </tr>
            </thead>
            <tbody>
              {cmp.runs.map((r, k) => (
                <tr key={r.id}>
                  <td>
                    <button type="button" className="link" style={{ color: variantStyle(k).text }} onClick={() => openRun(r.id)}>
                      {runName(r, k)}
                    </button>
                  </td>
                  {!oneModel && <td className="mono small">{cmp.models[k]?.id}</td>}
                  <td className="mono prompt-cell" title={r.prompt}>
                    {snippet(r.prompt, 70)}
                  </td>
                  <td className="num">{nats(r.summary.meanLossWithPrompt)}</td>
                  <td className="num">{signedNats(r.summary.meanBenefit)}</td>
                  <td className="num" title={piVerdict(r.depthCurve[0], r.summary.precomputationShare).ok ? undefined : 'π is no share for this run: D(0) is small or negative, or π leaves 0–100%'}>
                    {pct(r.summary.precomputationShare)}
                    {!piVerdict(r.depthCurve[0], r.summary.precomputationShare).ok && <span className="pi-flag"> ⚠</span>}
                  </td>
                  <td className="num">{r.p}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      </Card>
      <CompareTextDiff runs={fullRuns} />
      <Card title="Per-token benefit differences" help="Row A: A's prompt benefit per token; rows B–D: how much lower each variant's loss is than A's on that token (nats)." className="wide" testId="card-compare-tokens">
        <TokenDiffRows cmp={cmp} />
        <TokenDiffChart cmp={cmp} />
      </Card>
      <Card title="Depth curves D(k)" help={HELP.depthCurve} testId="card-compare-depth">
        <DepthCurveChart series={depth} selectedLayer={selection.layer} onSelectLayer={selectLayer} testId="compare-depth-chart" />
      </Card>
      <Card title="Layer profiles" help={HELP.layerProfile} testId="card-compare-profile">
        <LayerProfileChart series={profile} selectedLayer={selection.layer} onSelectLayer={selectLayer} testId="compare-profile-chart" />
      </Card>
      <Card title="Norm-weighted read share per layer" help={HELP.readShare} className="wide" testId="card-compare-readshare">
        <ReadShareCompareChart cmp={cmp} />
      </Card>
      <CompareReadMaps runs={fullRuns} />
    </div>
  );
}
