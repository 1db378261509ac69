// The prompt's spans as a table next to the bars: sortable by position, name or either K; click a row to select the
// span in every view.
import { useMemo, useState } from 'react';
import type { SpanResult } from '@shared/analysis.js';
import { nats, showToken } from '../format';
import { useWorkbench } from '../state/store';

type SortKey = 'position' | 'label' | 'kAllLayers' | 'kFromLayer1';
const COLUMNS: { key: SortKey; text: string; title: string; num?: boolean }[] = [
  { key: 'label', text: 'span', title: 'Sort by the span’s text' },
  { key: 'position', text: 'tokens', title: 'Sort by position in the prompt' },
  { key: 'kAllLayers', text: 'K all layers, nats', title: 'K when X cannot read the span at any layer', num: true },
  { key: 'kFromLayer1', text: 'K layers ≥ 1, nats', title: 'K when X cannot read the span at layers ≥ 1', num: true },
];

function compare(a: SpanResult & { i: number }, b: SpanResult & { i: number }, key: SortKey): number {
  if (key === 'label') return a.label.localeCompare(b.label);
  if (key === 'position') return a.tokenStart - b.tokenStart || a.i - b.i;
  return a[key] - b[key];
}

export function SpanList({ spans, mode }: { spans: SpanResult[]; mode: string }) {
  const selected = useWorkbench((s) => s.selection.span);
  const selectSpan = useWorkbench((s) => s.selectSpan);
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'position', desc: false });
  const rows = useMemo(() => {
    const r = spans.map((s, i) => ({ ...s, i }));
    r.sort((a, b) => (sort.desc ? -1 : 1) * compare(a, b, sort.key));
    return r;
  }, [spans, sort]);
  if (spans.length === 0) return <p className="muted">No spans (empty prompt or span knockouts off).</p>;
  const toggle = (key: SortKey) => setSort((s) => (s.key === key ? { key, desc: !s.desc } : { key, desc: key === 'kAllLayers' || key === 'kFromLayer1' }));
  return (
    <table className="span-list" data-testid="span-list">
      <caption className="muted small">
        {spans.length} span{spans.length === 1 ? '' : 's'} ({mode}); click a column to sort
      </caption>
      <thead>
        <tr>
          {COLUMNS.map((c) => (
            <th key={c.key} className={c.num ? 'num' : ''} aria-sort={sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
              <button type="button" className="sort-btn" title={c.title} data-testid={`span-sort-${c.key}`} onClick={() => toggle(c.key)}>
                {c.text}
                <span aria-hidden="true">{sort.key === c.key ? (sort.desc ? ' ▼' : ' ▲') : ''}</span>
              </button>
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((s) => {
          const empty = s.tokenEnd <= s.tokenStart;
          return (
            <tr key={s.i} className={selected === s.i ? 'selected' : ''} onClick={() => !empty && selectSpan(s.i)} aria-selected={selected === s.i} data-span-index={s.i}>
              <td className="mono">
                <button type="button" className="link" disabled={empty} onClick={(e) => (e.stopPropagation(), selectSpan(s.i))}>
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
