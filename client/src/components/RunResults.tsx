// One run's results: headline numbers, token benefits, depth curve, layer profile, read shares, head grid, read map.
import { useEffect } from 'react';
import type { AnalysisResult } from '@shared/analysis.js';
import type { RunDetail } from '@shared/api.js';
import { useRun } from '../data/api';
import { watchRun } from '../data/runEvents';
import { shortId, timeAgo } from '../format';
import { HELP } from '../metricHelp';
import { MAX_COMPARE, useWorkbench } from '../state/store';
import { isLiveStatus } from '../state/useRunAction';
import { COLORS } from '../theme';
import { Card } from './Card';
import { DepthCurveChart } from './DepthCurveChart';
import { HeadGrid } from './HeadGrid';
import { HeadlineNumbers } from './HeadlineNumbers';
import { LayerProfileChart } from './LayerProfileChart';
import { LayerSelector } from './LayerSelector';
import { ReadMapHeatmap } from './ReadMapHeatmap';
import { ReadShareChart } from './ReadShareChart';
import { RunExportMenu } from './RunExportMenu';
import { SpanImportanceBars } from './SpanImportanceBars';
import { SpanList } from './SpanList';
import { TokenBenefitText } from './TokenBenefitText';
import { spanOfToken } from './promptRows';

function RunHeader({ run }: { run: RunDetail }) {
  const forkRun = useWorkbench((s) => s.forkRun);
  const openRun = useWorkbench((s) => s.openRun);
  const openCompare = useWorkbench((s) => s.openCompare);
  const compareIds = useWorkbench((s) => s.compareIds);
  const toggleCompare = useWorkbench((s) => s.toggleCompare);
  const inCompare = compareIds.includes(run.id);
  return (
    <header className="results-head">
      <div>
        <h2 data-testid="run-title">{run.label ?? `Run ${shortId(run.id)}`}</h2>
        <p className="muted small">
          <span className="mono">{shortId(run.id)}</span> · {run.modelId} · {timeAgo(run.createdAt)}
          {run.parentId && (
            <>
              {' '}
              · forked from{' '}
              <button type="button" className="link mono" onClick={() => openRun(run.parentId!)}>
                {shortId(run.parentId)}
              </button>
            </>
          )}
        </p>
      </div>
      <div className="results-actions">
        <button
          type="button"
          className="btn"
          data-testid="fork-button"
          title="Copy this run's prompt and input into the editor, as a variant of this run"
          onClick={() => {
            forkRun(run);
            document.getElementById('prompt')?.focus();
          }}
        >
          Fork
        </button>
        {run.parentId && run.status === 'done' && (
          <button type="button" className="btn" data-testid="compare-parent-button" onClick={() => openCompare([run.parentId!, run.id])}>
            Compare with parent
          </button>
        )}
        {run.status === 'done' && (
          <button type="button" className={`btn ${inCompare ? 'on' : ''}`} aria-pressed={inCompare} disabled={!inCompare && compareIds.length >= MAX_COMPARE} onClick={() => toggleCompare(run.id)}>
            {inCompare ? '✓ In compare' : '+ Compare'}
          </button>
        )}
        <RunExportMenu runId={run.id} nLayer={run.result?.model.nLayer ?? null} done={run.status === 'done' && !!run.result} />
      </div>
    </header>
  );
}

function ResultsDashboard({ result }: { result: AnalysisResult }) {
  const selection = useWorkbench((s) => s.selection);
  const selectLayer = useWorkbench((s) => s.selectLayer);
  const selectSpan = useWorkbench((s) => s.selectSpan);
  const span = selection.span !== null ? result.spans[selection.span] : undefined;
  const selectedTokens: [number, number] | null = span && span.tokenEnd > span.tokenStart ? [span.tokenStart, span.tokenEnd] : null;
  const L = result.model.nLayer;

  return (
    <div className="dashboard">
      <HeadlineNumbers summary={result.summary} />
      <LayerSelector nLayer={L} />
      <Card title="Input text, coloured by prompt benefit" help={HELP.tokenBenefit} className="wide" testId="card-tokens">
        <TokenBenefitText tokens={result.input.tokens} />
      </Card>
      <Card title="Depth curve D(k)" help={HELP.depthCurve} subtitle="Blocking X→prompt from layer k on; a steep drop at k means layer k reads the prompt." testId="card-depth">
        <DepthCurveChart series={[{ name: 'D(k)', color: COLORS.knockout, values: result.depthCurve }]} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
      </Card>
      <Card title="Layer profile" help={HELP.layerProfile} subtitle={`Window ±${result.options.layerWindow} layer${result.options.layerWindow === 1 ? '' : 's'} around each layer.`} testId="card-profile">
        <LayerProfileChart
          series={[{ name: 'K', color: COLORS.knockout, values: result.layerProfile.map((x) => x.k) }]}
          windows={result.layerProfile}
          selectedLayer={selection.layer}
          onSelectLayer={selectLayer}
        />
      </Card>
      <Card title="Read share per layer" help={HELP.readShare} testId="card-readshare">
        <ReadShareChart layers={result.layers} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
      </Card>
      <Card title="Layer × head read share" help={HELP.headGrid} testId="card-heads">
        <HeadGrid layers={result.layers} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
      </Card>
      <Card
        title="Read map and span importance"
        help={`${HELP.readMap} ${HELP.spanImportance}`}
        subtitle={
          <>
            Rows are prompt tokens P′ (BOS, the attention sink, is left out). Bars: <span style={{ color: COLORS.knockout }}>■</span> K blocked at all layers,{' '}
            <span style={{ color: COLORS.knockoutFromLayer1 }}>■</span> K blocked at layers ≥ 1.
          </>
        }
        className="wide"
        testId="card-readmap"
      >
        {result.p === 0 ? (
          <p className="muted">The prompt is empty: nothing to read.</p>
        ) : (
          <>
            <div className="readmap-pair">
              <div className="readmap-main">
                <ReadMapHeatmap
                  result={result}
                  selectedLayer={selection.layer}
                  selectedTokens={selectedTokens}
                  onSelectLayer={selectLayer}
                  onSelectToken={(j) => {
                    const i = spanOfToken(result.spans, j);
                    if (i >= 0) selectSpan(i);
                  }}
                />
              </div>
              <div className="readmap-side">
                <SpanImportanceBars result={result} selectedSpan={selection.span} onSelectSpan={selectSpan} />
              </div>
            </div>
            <SpanList result={result} />
          </>
        )}
      </Card>
      <p className="muted small timings">
        {result.n} input tokens · {result.p} prompt tokens · {result.timings.engineCalls} engine calls · {(result.timings.totalMs / 1000).toFixed(1)} s
      </p>
    </div>
  );
}

export function RunResults({ id }: { id: string }) {
  const { data: run, error, isLoading } = useRun(id);
  const live = useWorkbench((s) => s.live);
  const liveId = live?.id;
  // A run reopened while still going (from history or a reload) gets its progress stream too.
  useEffect(() => {
    if (run && isLiveStatus(run.status) && liveId !== run.id) watchRun(run.id);
  }, [run, liveId]);
  if (isLoading) return <div className="results-empty">Loading run…</div>;
  if (error) return <div className="results-empty field-error">Could not load run {shortId(id)}: {(error as Error).message}</div>;
  if (!run) return null;
  const status = live?.id === run.id && !isLiveStatus(live.status) ? live.status : run.status;
  return (
    <div className="results" data-testid="run-results" data-run-id={run.id} data-status={run.status}>
      <RunHeader run={run} />
      {isLiveStatus(status) && <div className="results-empty">Analysing… the results appear here when the run is done.</div>}
      {(status === 'failed' || status === 'cancelled') && (
        <div className="results-empty">
          This run {status === 'failed' ? 'failed' : 'was cancelled'}
          {run.error ? `: ${run.error}` : '.'}
        </div>
      )}
      {run.status === 'done' && run.result && <ResultsDashboard result={run.result} />}
    </div>
  );
}
