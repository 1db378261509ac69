// One run's results: what produced it, then each stage as it arrives (headline numbers, token benefits, read shares,
// head grid and attention patterns, read map; the depth curve and π; span importance).
import { useEffect, useState } from 'react';
import type { HeadlineStage } from '@shared/analysis.js';
import type { RunDetail } from '@shared/api.js';
import { useRun } from '../data/api';
import { stagesOf, type RunStages } from '../data/stages';
import { watchRun } from '../data/runEvents';
import { shortId, timeAgo } from '../format';
import { HELP } from '../metricHelp';
import { MAX_COMPARE, useWorkbench } from '../state/store';
import { forkIntoEditor, isLiveStatus } from '../state/useRunAction';
import { COLORS } from '../theme';
import { AttentionPatternView } from './AttentionPatternView';
import { Card } from './Card';
import { DepthCurveChart } from './DepthCurveChart';
import { HeadGrid } from './HeadGrid';
import { HeadlineNumbers } from './HeadlineNumbers';
import { LayerProfileChart } from './LayerProfileChart';
import { LayerSelector } from './LayerSelector';
import { ReadMapHeatmap } from './ReadMapHeatmap';
import { ReadShareChart } from './ReadShareChart';
import { StateChangeTable } from './StateChangeTable';
import { RunExportMenu } from './RunExportMenu';
import { RunInputs } from './RunInputs';
import { FirstRunNote } from './ProgressBar';
import { SpanImportanceBars } from './SpanImportanceBars';
import { SpanList } from './SpanList';
import { TokenBenefitText } from './TokenBenefitText';
import { spanOfToken } from './promptRows';
import { negativeDepthNote, nextStep, runSummary } from '@shared/run-reading.js';

/** The run in one plain sentence, under its title; it grows the π clause when the depth stage arrives. */
function RunSummaryLine({ run, stages }: { run: RunDetail; stages: RunStages }) {
  const h = stages.headline;
  if (!h) return null;
  const text = runSummary({ model: run.modelId, meanBenefit: h.summary.meanBenefit, meanLossNoPrompt: h.summary.meanLossNoPrompt, depth: stages.depth });
  return (
    <p className="run-summary" data-testid="run-summary">
      {text}
    </p>
  );
}

/** After a finished run: one thing to try next (drop the least important span, or test the prompt on many inputs). */
function NextStep({ run, spans }: { run: RunDetail; spans: { label: string; kAllLayers: number }[] }) {
  const openExperiments = useWorkbench((s) => s.openExperiments);
  const step = nextStep(spans);
  return (
    <p className="next-step" data-testid="next-step" data-kind={step.kind}>
      {step.text}{' '}
      {step.kind === 'drop-span' ? (
        <button type="button" className="link" onClick={() => forkIntoEditor(run)}>
          Fork this run
        </button>
      ) : (
        <button type="button" className="link" onClick={() => openExperiments(null)}>
          Open Experiments
        </button>
      )}
    </p>
  );
}

function RunHeader({ run }: { run: RunDetail }) {
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
          onClick={() => forkIntoEditor(run)}
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

function Pending({ what, live }: { what: string; live: boolean }) {
  return (
    <p className={`stage-pending ${live ? 'live' : ''}`} data-testid="stage-pending">
      {live ? `Computing ${what}…` : `Not computed: the run ended before ${what} was ready.`}
    </p>
  );
}

function ResultsDashboard({ run, stages, live }: { run: RunDetail; stages: RunStages & { headline: HeadlineStage }; live: boolean }) {
  const runId = run.id;
  const selection = useWorkbench((s) => s.selection);
  const selectLayer = useWorkbench((s) => s.selectLayer);
  const selectSpan = useWorkbench((s) => s.selectSpan);
  const [pattern, setPattern] = useState<{ layer: number; head: number } | null>(null);
  const { headline: h, depth, spans: spanStage, timings } = stages;
  const spans = spanStage?.spans ?? [];
  const span = selection.span !== null ? spans[selection.span] : undefined;
  const selectedTokens: [number, number] | null = span && span.tokenEnd > span.tokenStart ? [span.tokenStart, span.tokenEnd] : null;
  const L = h.model.nLayer;
  const readMapInput = { readMap: h.readMap, prompt: h.prompt, p: h.p };

  return (
    <div className="dashboard" data-testid="dashboard" data-stages={[h && 'headline', depth && 'depth', spanStage && 'spans'].filter(Boolean).join(',')}>
      <HeadlineNumbers summary={h.summary} depth={depth} live={live} />
      <LayerSelector nLayer={L} />
      <Card title="Input text, coloured by prompt benefit" help={HELP.tokenBenefit} className="wide" testId="card-tokens">
        <TokenBenefitText tokens={h.input.tokens} natural={depth?.natural} live={live} />
      </Card>
      <Card
        title="Depth curve D(k)"
        help={HELP.depthCurve}
        subtitle={
          h.model.architecture === 'rwkv'
            ? 'Recurrent model: layers k and up start the input from the no-prompt state; a steep drop at k means layer k carries the prompt.'
            : 'Blocking X→prompt from layer k on; a steep drop at k means layer k reads the prompt.'
        }
        testId="card-depth"
      >
        {depth ? (
          <>
            <DepthCurveChart series={[{ name: 'D(k)', color: COLORS.knockout, values: depth.depthCurve }]} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
            {negativeDepthNote(depth.depthCurve) && (
              <p className="muted small depth-note" role="note" data-testid="depth-negative-note">
                {negativeDepthNote(depth.depthCurve)}
              </p>
            )}
          </>
        ) : (
          <Pending what="the depth curve D(k) and π (knockout variants)" live={live} />
        )}
      </Card>
      <Card
        title="Layer profile"
        help={HELP.layerProfile}
        subtitle={`Window ±${h.options.layerWindow} layer${h.options.layerWindow === 1 ? '' : 's'} around each layer.`}
        testId="card-profile"
      >
        {depth ? (
          <LayerProfileChart series={[{ name: 'K', color: COLORS.knockout, values: depth.layerProfile.map((x) => x.k) }]} windows={depth.layerProfile} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
        ) : (
          <Pending what="the layer profile" live={live} />
        )}
      </Card>
      {h.model.architecture === 'rwkv' && (
        <Card title="State change by the prompt, per layer" subtitle="Recurrent model: ||state with prompt − state without|| / ||state without||; it has no attention, so its read shares are 0." className="wide" testId="card-state-change">
          <StateChangeTable layers={h.layers} />
        </Card>
      )}
      <Card title="Read share per layer" help={HELP.readShare} testId="card-readshare">
        <ReadShareChart layers={h.layers} selectedLayer={selection.layer} onSelectLayer={selectLayer} />
      </Card>
      <Card title="Layer × head read share" help={HELP.headGrid} subtitle="Click a cell to see that head’s attention pattern." testId="card-heads">
        <HeadGrid
          layers={h.layers}
          selectedLayer={selection.layer}
          onSelectLayer={selectLayer}
          onSelectHead={(layer, head) => {
            if (selection.layer !== layer) selectLayer(layer);
            setPattern({ layer, head });
          }}
        />
        <button type="button" className="link small" data-testid="open-attention" onClick={() => setPattern({ layer: selection.layer ?? 0, head: 0 })}>
          Show a head&rsquo;s attention pattern…
        </button>
      </Card>
      {pattern && (
        <AttentionPatternView
          key={runId}
          runId={runId}
          nLayer={L}
          nHead={h.model.nHead}
          layer={pattern.layer}
          head={pattern.head}
          onChange={(layer, head) => setPattern({ layer, head })}
          onClose={() => setPattern(null)}
        />
      )}
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
        {h.p === 0 ? (
          <p className="muted">The prompt is empty: nothing to read.</p>
        ) : (
          <>
            <div className="readmap-pair">
              <div className="readmap-main">
                <ReadMapHeatmap
                  result={readMapInput}
                  selectedLayer={selection.layer}
                  selectedTokens={selectedTokens}
                  onSelectLayer={selectLayer}
                  onSelectToken={(j) => {
                    const i = spanOfToken(spans, j);
                    if (i >= 0) selectSpan(i);
                  }}
                />
              </div>
              <div className="readmap-side">
                {spanStage ? <SpanImportanceBars result={{ spans, prompt: h.prompt, p: h.p }} selectedSpan={selection.span} onSelectSpan={selectSpan} /> : <Pending what="span importance" live={live} />}
              </div>
            </div>
            {spanStage && <SpanList spans={spans} mode={h.options.spans} />}
          </>
        )}
      </Card>
      {!live && spanStage && <NextStep run={run} spans={spans.filter((x) => x.parent === undefined || x.parent === null)} />}
      <p className="muted small timings">
        {h.n} input tokens · {h.p} prompt tokens
        {timings && (
          <>
            {' '}
            · {timings.engineCalls} engine calls · {(timings.totalMs / 1000).toFixed(1)} s
          </>
        )}
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
  if (error) return <div className="results-empty field-error" role="alert">Could not load run {shortId(id)}: {(error as Error).message}</div>;
  if (!run) return null;
  const status = live?.id === run.id && !isLiveStatus(live.status) ? live.status : run.status;
  const stages = stagesOf(run);
  const going = isLiveStatus(status);
  const p = live?.id === run.id ? live.progress : run.progress;
  return (
    <div className="results" data-testid="run-results" data-run-id={run.id} data-status={run.status}>
      <RunHeader run={run} />
      <RunSummaryLine run={run} stages={stages} />
      <RunInputs run={run} />
      {going && !stages.headline && (
        <div className="results-empty" data-testid="run-waiting">
          {status === 'queued' ? 'Queued: another analysis is running.' : 'Analysing… the headline numbers appear here as soon as they are ready, then the depth curve, then the spans.'}
          {status === 'running' && (!p || p.done === 0) && <FirstRunNote />}
        </div>
      )}
      {(status === 'failed' || status === 'cancelled') && (
        <div className="results-empty" data-testid="run-ended">
          This run {status === 'failed' ? 'failed' : 'was cancelled'}
          {run.error ? `: ${run.error}` : '.'}
          {stages.headline ? ' The stages it finished are shown below.' : ''}
        </div>
      )}
      {stages.headline && <ResultsDashboard run={run} stages={{ ...stages, headline: stages.headline }} live={going} />}
    </div>
  );
}
