// One prompt and input on a model ("vanilla") and on its myopic twin, side by side: losses, benefit, π, depth curves
// overlaid, and the two read maps on one colour scale, with a plain-words note on what the comparison can tell.
import { useEffect, useMemo } from 'react';
import type { AnalysisResult } from '@shared/analysis.js';
import type { RunDetail } from '@shared/api.js';
import { api, useComparison, useRun } from '../data/api';
import { watchTwins } from '../data/runEvents';
import { nats, pct, shortId, signedNats, snippet } from '../format';
import { HELP } from '../metricHelp';
import { useWorkbench, type LiveRun } from '../state/store';
import { cancelTwins, isLiveStatus } from '../state/useRunAction';
import { variantStyle } from '../theme';
import { piVerdict } from '@shared/format.js';
import { Card } from './Card';
import { DepthCurveChart, variantCurve, type CurveSeries } from './DepthCurveChart';
import { ExportMenu, type ExportGroup } from './ExportMenu';
import { LayerSelector } from './LayerSelector';
import { ReadMapHeatmap } from './ReadMapHeatmap';
import { TwinsProgress } from './TwinsProgress';
import { ReadShareCompareChart, TokenDiffChart } from './VariantCompare';
import { spanOfToken } from './promptRows';
import { TableScroll } from './TableScroll';

/** Vanilla keeps the run colour used everywhere; the myopic twin gets the second variant colour. */
export const TWIN_COLORS = [variantStyle(0).color, variantStyle(1).color] as const;
const TWIN_TEXT = [variantStyle(0).text, variantStyle(1).text] as const;
const ROLES = ['vanilla', 'myopic'] as const;

const toLive = (r: RunDetail): LiveRun => ({ id: r.id, status: r.status, progress: r.progress, error: r.error });

/** What the comparison means and what it does not prove (the same words as docs/twins.md). */
export function TwinsExplainer() {
  return (
    <div className="twins-explainer" data-testid="twins-explainer">
      <p>
        The <b>myopic</b> twin has the vanilla model&rsquo;s architecture, data, tokenizer and training budget, but was trained with
        stop-gradients in attention: no token&rsquo;s loss ever reached back into earlier columns, so what its prompt columns compute was
        optimised only for their own next token (&ldquo;breadcrumbs&rdquo;), never to help later tokens. What the <b>vanilla</b> model reads
        from the prompt beyond what its twin reads &mdash; a larger benefit, a higher π, a depth curve that stays up to deeper layers &mdash;
        hints at <b>trained pre-caching</b>: prompt columns computing things for the text that follows.
      </p>
      <p className="muted">
        It does not prove it: these are two different networks, the twin is a weaker model overall (a higher held-out loss: the bundled
        pair&rsquo;s model cards give both), which shifts every number here, and one prompt is an anecdote &mdash; look for the same pattern over many prompts and
        inputs.
      </p>
    </div>
  );
}

/** Transformer vs RNN (docs/measurements.md, "Recurrent models (RWKV)"): what differs in the numbers when one side is an RWKV model. */
export function RecurrentExplainer() {
  return (
    <div className="twins-explainer" data-testid="rnn-explainer">
      <p>
        One side is a <b>recurrent</b> model (RWKV): everything the prompt leaves for the input is its state at the boundary, and every later
        position reads all of it. Its knockout is a <b>state reset</b>: D(k) is the loss increase when layers k and up start the input
        from the no-prompt state instead of the prompt&rsquo;s, so π = D(1)/D(0) is the share of the benefit that needs the prompt&rsquo;s
        imprint above layer 0. It has no attention: its read shares and read map are 0; per layer, the change of its state by the prompt
        is in its own run view.
      </p>
      <p className="muted">Two different networks, trained differently: compare the shapes of the curves more than their levels.</p>
    </div>
  );
}

/** Two twins: the second model is the first's myopic twin (`<m>-myopic`); only then do "vanilla" and "myopic" apply. */
const areTwins = (runs: readonly RunDetail[]) => runs.length === 2 && runs[1].modelId === `${runs[0].modelId}-myopic`;

/**
 * What to call each side in headers, legends and buttons: "vanilla"/"myopic" for twins, "transformer"/"RNN" when the
 * architectures differ, else the model ids (ROLES stay the test ids and the live-run slots only).
 */
function sideNames(runs: readonly RunDetail[], results: readonly (AnalysisResult | null | undefined)[]): [string, string] {
  if (areTwins(runs)) return ['vanilla', 'myopic'];
  const kind = (r: AnalysisResult | null | undefined) => (r ? (r.model.architecture === 'rwkv' ? 'RNN' : 'transformer') : null);
  const [ka, kb] = results.map(kind);
  if (ka && kb && ka !== kb) return [ka, kb];
  return [runs[0].modelId, runs[1].modelId];
}

/** A transformer next to an RNN (not two twins of one architecture). */
const isRecurrent = (results: readonly (AnalysisResult | null | undefined)[]) => {
  const rnn = results.map((r) => (r ? r.model.architecture === 'rwkv' : null));
  return rnn.includes(true) && rnn.includes(false);
};

function twinsExportGroups(runs: RunDetail[], sides: readonly string[]): ExportGroup[] {
  return [
    {
      title: areTwins(runs) ? 'Each twin’s report' : 'Each run’s report',
      items: runs.flatMap((r, k) => [
        { label: `${sides[k]}: HTML report`, hint: r.modelId, testId: `twins-export-html-${ROLES[k]}`, href: api.runReportUrl(r.id, 'html') },
        { label: `${sides[k]}: JSON report`, hint: r.modelId, testId: `twins-export-json-${ROLES[k]}`, href: api.runReportUrl(r.id, 'json') },
      ]),
    },
  ];
}

function readMapMax(results: AnalysisResult[]): number {
  let m = 0;
  for (const r of results) for (const row of r.readMap) for (const v of row) m = Math.max(m, v);
  return m || 1;
}

function TwinsDashboard({ runs, results }: { runs: RunDetail[]; results: AnalysisResult[] }) {
  const ids = runs.map((r) => r.id);
  const sides = sideNames(runs, results);
  const { data: cmp, error: cmpError } = useComparison(ids);
  const selection = useWorkbench((s) => s.selection);
  const selectLayer = useWorkbench((s) => s.selectLayer);
  const selectSpan = useWorkbench((s) => s.selectSpan);
  const names = useMemo(() => runs.map((r, k) => (sides[k] === r.modelId ? r.modelId : `${sides[k]} · ${r.modelId}`)), [runs, sides]);
  const depth: CurveSeries[] = useMemo(() => results.map((r, k) => variantCurve(k, names[k], r.depthCurve)), [results, names]);
  const max = useMemo(() => readMapMax(results), [results]);
  const [a, b] = results;
  const span = selection.span !== null ? a.spans[selection.span] : undefined;
  const selectedTokens: [number, number] | null = span && span.tokenEnd > span.tokenStart ? [span.tokenStart, span.tokenEnd] : null;

  // π = D(1)/D(0) reads as a share only when 0 ≤ D(1) ≤ D(0); a small D(0) or opposite signs make it meaningless.
  const oddPi = results.some((r) => !piVerdict(r.depthCurve[0], r.summary.precomputationShare).ok);
  const rows: { label: string; help: string; unit: string; get: (r: AnalysisResult) => number; fmt: (v: number) => string; diff: (v: number) => string }[] = [
    { label: 'Loss with prompt', help: HELP.lossWithPrompt, unit: 'nats/token', get: (r) => r.summary.meanLossWithPrompt, fmt: (v) => nats(v), diff: (v) => signedNats(v) },
    { label: 'Loss without prompt', help: HELP.lossNoPrompt, unit: 'nats/token', get: (r) => r.summary.meanLossNoPrompt, fmt: (v) => nats(v), diff: (v) => signedNats(v) },
    { label: 'Mean prompt benefit B', help: HELP.meanBenefit, unit: 'nats', get: (r) => r.summary.meanBenefit, fmt: (v) => signedNats(v), diff: (v) => signedNats(v) },
    { label: 'Precomputation share π', help: HELP.precomputationShare, unit: 'of D(0)', get: (r) => r.summary.precomputationShare ?? NaN, fmt: (v) => pct(v), diff: (v) => (Number.isFinite(v) && !oddPi ? `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} pts` : '–') },
    {
      label: 'D(1): benefit needing the prompt’s columns',
      help: 'D(1) = π·D(0): the loss increase when the input can read only the prompt’s raw tokens (layer 0), not what its columns computed above them.',
      unit: 'nats',
      get: (r) => r.depthCurve[1] ?? NaN,
      fmt: (v) => signedNats(v),
      diff: (v) => signedNats(v),
    },
  ];

  return (
    <>
      <Card title="What this comparison means" className="wide" testId="card-twins-explainer">
        {isRecurrent(results) ? <RecurrentExplainer /> : areTwins(runs) ? <TwinsExplainer /> : <p>The same prompt and input on two models that read the same tokens.</p>}
      </Card>
      <Card title="Side by side" help="The same prompt and input on both models; the last column is the first minus the second." className="wide" testId="card-twins-numbers">
        <TableScroll label="Side-by-side numbers">
          <table className="compare-table twins-table" data-testid="twins-table">
            <thead>
              <tr>
                <th />
                {runs.map((r, k) => (
                  <th key={r.id} className="num" data-testid={`twins-col-${ROLES[k]}`} style={{ color: TWIN_TEXT[k] }}>
                    {sides[k]}
                    {sides[k] !== r.modelId && <div className="mono small">{r.modelId}</div>}
                  </th>
                ))}
                <th className="num">
                  {areTwins(runs) ? 'vanilla − myopic' : 'first − second'}
                  <div className="small muted">difference</div>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const [va, vb] = results.map(row.get);
                return (
                  <tr key={row.label}>
                    <td>
                      {row.label} <span className="muted small">{row.unit}</span>
                    </td>
                    <td className="num">{row.fmt(va)}</td>
                    <td className="num">{row.fmt(vb)}</td>
                    <td className="num">{row.diff(va - vb)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableScroll>
        {oddPi && (
          <p className="muted small twins-foot" data-testid="twins-pi-note">
            π is no share for {results.filter((r) => !piVerdict(r.depthCurve[0], r.summary.precomputationShare).ok).length === 2 ? 'either model' : 'one of the models'}: D(0) is below 0.02 nats or negative, or π leaves 0–100%; compare D(1) in nats instead.
          </p>
        )}
        <p className="muted small twins-foot">
          Same text on both: {a.p} prompt tokens, {a.n} input tokens · knockout identity residuals {a.summary.identityResidual.toExponential(1)} /{' '}
          {b.summary.identityResidual.toExponential(1)} nats
        </p>
      </Card>
      <LayerSelector nLayer={Math.max(a.model.nLayer, b.model.nLayer)} />
      <Card title="Depth curves D(k), overlaid" help={HELP.depthCurve} subtitle="A curve that stays up to deeper k: the input reads the prompt at deeper layers." testId="card-twins-depth">
        <DepthCurveChart series={depth} selectedLayer={selection.layer} onSelectLayer={selectLayer} testId="twins-depth-chart" />
      </Card>
      {cmp ? (
        <Card title="Norm-weighted read share per layer" help={HELP.readShare} testId="card-twins-readshare">
          <ReadShareCompareChart cmp={cmp} names={names} colors={TWIN_COLORS} testId="twins-readshare-chart" />
        </Card>
      ) : (
        <Card title="Norm-weighted read share per layer" testId="card-twins-readshare">
          <p className="muted small">{cmpError ? `Could not line the two runs up: ${(cmpError as Error).message}` : 'Loading…'}</p>
        </Card>
      )}
      <Card
        title="Read maps, one colour scale"
        help={HELP.readMap}
        subtitle={`Prompt tokens × layers for each model; both maps share the scale 0 – ${pct(max, 1)} of the input's read, so equal colours mean equal reads.`}
        className="wide"
        testId="card-twins-readmaps"
      >
        {a.p === 0 ? (
          <p className="muted">The prompt is empty: nothing to read.</p>
        ) : (
          <div className="twins-readmaps">
            {results.map((r, k) => (
              <div key={runs[k].id} className="twins-readmap" data-testid={`twins-readmap-${ROLES[k]}`}>
                <h4 style={{ color: TWIN_TEXT[k] }}>
                  {sides[k]} {sides[k] !== runs[k].modelId && <span className="mono small">{runs[k].modelId}</span>}
                </h4>
                {r.model.architecture === 'rwkv' ? (
                  <p className="muted small rnn-no-readmap" data-testid={`twins-readmap-none-${ROLES[k]}`}>
                    {runs[k].modelId} is an RNN: it has no attention, so no column reads another and there is no read map to draw. What it keeps from
                    the prompt is its state at the boundary; the depth curve above is its state-reset curve (layers k and up start the input from
                    the no-prompt state), and its own run view shows how much the prompt changed each layer&rsquo;s state.
                  </p>
                ) : (
                  <ReadMapHeatmap
                    result={r}
                    max={max}
                    selectedLayer={selection.layer}
                    selectedTokens={selectedTokens}
                    onSelectLayer={selectLayer}
                    onSelectToken={(j) => {
                      const i = spanOfToken(r.spans, j);
                      if (i >= 0) selectSpan(i);
                    }}
                    testId={`twins-readmap-chart-${ROLES[k]}`}
                    label={`Read map of ${sides[k] === runs[k].modelId ? runs[k].modelId : `the ${sides[k]} (${runs[k].modelId})`}`}
                  />
                )}
              </div>
            ))}
          </div>
        )}
      </Card>
      {cmp && (
        <Card title="Per-token prompt benefit" help={HELP.tokenBenefit} className="wide" testId="card-twins-tokens">
          <TokenDiffChart cmp={cmp} names={names} colors={TWIN_COLORS} testId="twins-token-chart" />
        </Card>
      )}
    </>
  );
}

export function TwinsCompare({ ids }: { ids: [string, string] }) {
  const qa = useRun(ids[0]);
  const qb = useRun(ids[1]);
  const twinsLive = useWorkbench((s) => s.twinsLive);
  const openRun = useWorkbench((s) => s.openRun);
  const closeView = useWorkbench((s) => s.closeView);
  const runs = qa.data && qb.data ? [qa.data, qb.data] : null;
  const following = !!twinsLive && twinsLive.vanilla.id === ids[0] && twinsLive.myopic.id === ids[1];

  // Reopened while still going (a reload, a shared link): follow both streams too.
  const anyLive = !!runs && runs.some((r) => isLiveStatus(r.status));
  useEffect(() => {
    if (runs && anyLive && !following) watchTwins(toLive(runs[0]), toLive(runs[1]));
  }, [runs, anyLive, following]);

  const error = qa.error ?? qb.error;
  if (error) return <div className="results-empty field-error">Could not load the twin runs: {(error as Error).message}</div>;
  if (!runs) return <div className="results-empty">Loading the twin runs…</div>;

  const live = runs.map((r, k) => {
    const l = following && twinsLive ? twinsLive[ROLES[k]] : null;
    return l && l.id === r.id && isLiveStatus(r.status) ? l : toLive(r);
  });
  const results = runs.map((r) => (r.status === 'done' ? r.result : null));
  const ready = results[0] && results[1];
  const sides = sideNames(runs, results);

  return (
    <div className="results compare twins" data-testid="twins-compare" data-ready={ready ? 'true' : 'false'}>
      <header className="results-head">
        <div>
          <h2>{isRecurrent(results) ? 'Transformer and RNN, side by side' : areTwins(runs) ? 'Myopic twin, side by side' : 'Two models, side by side'}</h2>
          <p className="muted small">
            <span className="mono">{runs[0].modelId}</span> vs <span className="mono">{runs[1].modelId}</span> · prompt “{snippet(runs[0].prompt || '(empty)', 50)}” · input “
            {snippet(runs[0].input, 50)}”
          </p>
        </div>
        <div className="results-actions">
          {runs.map((r, k) => (
            <button key={r.id} type="button" className="btn" onClick={() => openRun(r.id)} title={`Open the run on ${r.modelId} (${shortId(r.id)}) with all its charts`}>
              Open {sides[k] === r.modelId ? r.modelId : sides[k]}
            </button>
          ))}
          <ExportMenu groups={twinsExportGroups(runs, sides)} testId="twins-export-button" disabled={ready ? false : 'Exports need both runs finished'} />
          <button type="button" className="btn" onClick={closeView}>
            Close
          </button>
        </div>
      </header>
      {!ready && (
        <div className="card wide">
          <TwinsProgress rows={runs.map((r, k) => ({ role: ROLES[k], label: sides[k], modelId: r.modelId, live: live[k] }))} onCancel={() => void cancelTwins()} testId="twins-view-progress" />
          {live.some((l) => l.status === 'failed' || l.status === 'cancelled') ? (
            <p className="muted">One of the runs did not finish, so there is nothing to compare.</p>
          ) : (
            <p className="muted small">Analysing on both models… the comparison appears here when both runs are done.</p>
          )}
          {areTwins(runs) && <TwinsExplainer />}
        </div>
      )}
      {ready && <TwinsDashboard runs={runs} results={[results[0]!, results[1]!]} />}
    </div>
  );
}
