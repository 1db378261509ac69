// The compare view's side-by-side pieces that need each run's full result: the prompts and inputs as a word diff
// against variant A, and each variant's read map and span bars on shared colour and K scales.
import { useMemo } from 'react';
import { diffWordsWithSpace } from 'diff';
import { useQueries } from '@tanstack/react-query';
import type { AnalysisResult } from '@shared/analysis.js';
import type { RunDetail } from '@shared/api.js';
import { api, keys } from '../data/api';
import { pct, shortId } from '../format';
import { HELP } from '../metricHelp';
import { robustScale, variantStyle } from '../theme';
import { Card } from './Card';
import { ReadMapHeatmap } from './ReadMapHeatmap';
import { SpanImportanceBars } from './SpanImportanceBars';

export const variantLetter = (k: number) => String.fromCharCode(65 + k);

/** Each compared run in full (from the run cache the rest of the app shares). */
export function useCompareRuns(ids: string[]): (RunDetail | undefined)[] {
  const qs = useQueries({ queries: ids.map((id) => ({ queryKey: keys.run(id), queryFn: () => api.run(id), staleTime: Infinity })) });
  return qs.map((q) => q.data);
}

function WordDiff({ from, to, testId }: { from: string; to: string; testId: string }) {
  const parts = useMemo(() => diffWordsWithSpace(from, to), [from, to]);
  return (
    <pre className="run-text diff-text" data-testid={testId}>
      {parts.map((p, i) =>
        p.added ? (
          <ins key={i} className="diff-add">
            {p.value}
          </ins>
        ) : p.removed ? (
          <del key={i} className="diff-del">
            {p.value}
          </del>
        ) : (
          <span key={i}>{p.value}</span>
        ),
      )}
    </pre>
  );
}

/** Prompts (and inputs, when they differ) of every variant, each as a word diff against variant A's. */
export function CompareTextDiff({ runs }: { runs: (RunDetail | undefined)[] }) {
  const a = runs[0];
  const sameInput = runs.every((r) => r && a && r.input === a.input);
  return (
    <Card title="Prompts, word by word against A" help={HELP.promptDiff} className="wide" testId="compare-text-diff">
      {!a ? (
        <p className="muted">Loading the runs…</p>
      ) : (
        <div className="diff-grid">
          {runs.map((r, k) =>
            r ? (
              <div key={r.id} className="diff-variant" data-testid="compare-prompt-diff">
                <div className="diff-label" style={{ color: variantStyle(k).text }}>
                  {variantLetter(k)} · {r.label ?? shortId(r.id)}
                  <span className="muted small">{k === 0 ? 'reference prompt' : `changes from A’s prompt`}</span>
                </div>
                {k === 0 ? (
                  <pre className="run-text" data-testid="compare-prompt-a">
                    {r.prompt || '(empty prompt)'}
                  </pre>
                ) : (
                  <WordDiff from={a.prompt} to={r.prompt} testId={`compare-prompt-diff-${variantLetter(k)}`} />
                )}
                {!sameInput && k > 0 && <WordDiff from={a.input} to={r.input} testId={`compare-input-diff-${variantLetter(k)}`} />}
              </div>
            ) : null,
          )}
        </div>
      )}
      {a && sameInput && (
        <p className="muted small" data-testid="compare-same-input">
          Input, the same in every variant: <span className="mono">{a.input}</span>
        </p>
      )}
    </Card>
  );
}

/** Read maps on one colour scale and span bars on one K axis, one column per variant. */
export function CompareReadMaps({ runs }: { runs: (RunDetail | undefined)[] }) {
  const results = runs.map((r) => r?.result ?? null);
  const ready = results.every((r): r is AnalysisResult => !!r);
  const max = useMemo(() => (ready ? robustScale((results as AnalysisResult[]).flatMap((r) => r.readMap.flat()), 0.98, 1e-9) : 1), [ready, results]);
  const kRange = useMemo<[number, number]>(() => {
    const v = ready ? (results as AnalysisResult[]).flatMap((r) => r.spans.flatMap((s) => [s.kAllLayers, s.kFromLayer1])) : [];
    return [Math.min(0, ...v), Math.max(1e-6, ...v)];
  }, [ready, results]);
  return (
    <Card
      title="Read maps and span importance, side by side"
      help={`${HELP.readMap} ${HELP.spanImportance}`}
      subtitle={`One colour scale (0 – ${pct(max, 1)} of the input's read; darker beyond) and one K axis for every variant, so equal colours and bar lengths mean equal reads and losses.`}
      className="wide"
      testId="compare-readmaps"
    >
      {!ready ? (
        <p className="muted">Loading the runs…</p>
      ) : (
        <div className="compare-readmaps" tabIndex={0} role="region" aria-label="Read maps of the variants (scrolls sideways)" style={{ gridTemplateColumns: `repeat(${results.length}, minmax(260px, 1fr))` }}>
          {(results as AnalysisResult[]).map((r, k) => (
            <div key={runs[k]!.id} className="compare-readmap" data-testid={`compare-readmap-${variantLetter(k)}`}>
              <h4 style={{ color: variantStyle(k).text }}>
                {variantLetter(k)} · {runs[k]!.label ?? shortId(runs[k]!.id)}
              </h4>
              {r.p === 0 ? (
                <p className="muted">Empty prompt: nothing to read.</p>
              ) : (
                <div className="readmap-pair">
                  <ReadMapHeatmap result={r} max={max} selectedLayer={null} selectedTokens={null} testId={`compare-readmap-chart-${variantLetter(k)}`} label={`Read map of variant ${variantLetter(k)}`} />
                  <SpanImportanceBars result={r} selectedSpan={null} range={kRange} testId={`compare-spans-chart-${variantLetter(k)}`} />
                </div>
              )}
            </div>
          ))}
        </div>
      )}
    </Card>
  );
}
