// The prompt's spans as a list (same data as the span bars): click one to select it in every view.
import type { AnalysisResult } from '@shared/analysis.js';
import { nats, showToken } from '../format';
import { useWorkbench } from '../state/store';

export function SpanList({ result }: { result: AnalysisResult }) {
  const selected = useWorkbench((s) => s.selection.span);
  const selectSpan = useWorkbench((s) => s.selectSpan);
  if (result.spans.length === 0) return <p className="muted">No spans (empty prompt or span knockouts off).</p>;
  return (
    <table className="span-list" data-testid="span-list">
      <thead>
        <tr>
          <th>span ({result.options.spans})</th>
          <th>tokens</th>
          <th title="K when X cannot read the span at any layer">K all layers</th>
          <th title="K when X cannot read the span at layers ≥ 1">K layers ≥ 1</th>
        </tr>
      </thead>
      <tbody>
        {result.spans.map((s, i) => {
          const empty = s.tokenEnd <= s.tokenStart;
          return (
            <tr key={i} className={selected === i ? 'selected' : ''} onClick={() => !empty && selectSpan(i)} aria-selected={selected === i}>
              <td className="mono">
                <button type="button" className="link" disabled={empty} onClick={(e) => (e.stopPropagation(), selectSpan(i))}>
                  {showToken(s.label).slice(0, 40) || '·'}
                </button>
              </td>
              <td className="muted">{empty ? 'unmeasurable' : `${s.tokenStart}–${s.tokenEnd - 1}`}</td>
              <td className="num">{nats(s.kAllLayers)}</td>
              <td className="num">{nats(s.kFromLayer1)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
