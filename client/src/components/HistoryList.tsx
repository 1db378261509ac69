// Saved runs (from the server's store, so they survive restarts): search, reopen, fork, pick for compare, delete.
import { useState } from 'react';
import type { RunSummary } from '@shared/api.js';
import { useDeleteRun, useRunList } from '../data/api';
import { pct, shortId, signedNats, snippet, timeAgo } from '../format';
import { announce } from '../data/tabSync';
import { useExperimentList } from '../data/experiments';
import { MAX_COMPARE, useWorkbench } from '../state/store';
import { useDebounced } from '../data/useDebounced';

/**
 * The vanilla run of a myopic twin run started together by "Run on both twins": same prompt and input, model
 * `<m>` for `<m>-myopic`, created within a few seconds.
 */
function twinOf(run: RunSummary, all: RunSummary[]): RunSummary | undefined {
  if (!run.modelId.endsWith('-myopic')) return undefined;
  const base = run.modelId.slice(0, -'-myopic'.length);
  const t = Date.parse(run.createdAt);
  return all.find((r) => r.modelId === base && r.prompt === run.prompt && r.input === run.input && Math.abs(Date.parse(r.createdAt) - t) < 10_000);
}

function HistoryItem({ run, active, twin }: { run: RunSummary; active: boolean; twin?: RunSummary }) {
  const openRun = useWorkbench((s) => s.openRun);
  const openTwins = useWorkbench((s) => s.openTwins);
  const compareIds = useWorkbench((s) => s.compareIds);
  const toggleCompare = useWorkbench((s) => s.toggleCompare);
  const forgetRun = useWorkbench((s) => s.forgetRun);
  const del = useDeleteRun();
  const [confirming, setConfirming] = useState(false);
  const checked = compareIds.includes(run.id);
  return (
    <li className={`history-item ${active ? 'active' : ''}`} data-testid="history-item" data-run-id={run.id}>
      <input
        type="checkbox"
        aria-label={`Compare ${run.label ?? shortId(run.id)}`}
        title={run.status === 'done' ? 'Pick for compare (2–4 runs)' : 'Only finished runs can be compared'}
        checked={checked}
        disabled={run.status !== 'done' || (!checked && compareIds.length >= MAX_COMPARE)}
        onChange={() => toggleCompare(run.id)}
      />
      <button type="button" className="history-open" onClick={() => openRun(run.id)} title={`prompt: ${run.prompt}\ninput: ${run.input}`}>
        <span className="history-title">
          {run.label ?? snippet(run.prompt || '(empty prompt)', 40)}
          {run.parentId && <span className="muted small"> ↳ {shortId(run.parentId)}</span>}
        </span>
        {/* Runs that share a prompt stay apart by their input and id. */}
        <span className="history-input muted small">
          on “{snippet(run.input, 34)}” · <span className="mono">{shortId(run.id)}</span> · {run.modelId}
        </span>
        <span className="history-meta muted small">
          <span className={`status-dot status-${run.status}`} />
          {run.status === 'done' ? (
            <>
              B {signedNats(run.meanBenefit, 2)} · π {pct(run.precomputationShare, 0)}
            </>
          ) : (
            run.status
          )}{' '}
          · {timeAgo(run.createdAt)}
        </span>
      </button>
      {twin ? (
        <button type="button" className="link small history-twins" data-testid="history-twins" title={`Open this run and ${shortId(twin.id)} (${twin.modelId}) side by side`} onClick={() => openTwins([twin.id, run.id])}>
          twins ↔
        </button>
      ) : (
        <span />
      )}
      {confirming ? (
        <span className="confirm">
          <button
            type="button"
            className="btn small danger"
            data-testid="confirm-delete"
            onClick={() => {
              del.mutate(run.id, {
                onSuccess: () => {
                  forgetRun(run.id);
                  announce({ kind: 'run-deleted', id: run.id });
                },
              });
              setConfirming(false);
            }}
          >
            Delete
          </button>
          <button type="button" className="btn small" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </span>
      ) : (
        <button type="button" className="icon-btn" aria-label={`Delete ${run.label ?? shortId(run.id)}`} title="Delete this run" data-testid="delete-button" onClick={() => setConfirming(true)}>
          ×
        </button>
      )}
    </li>
  );
}

/** The latest experiments, next to the runs (their cells are runs too, listed below). */
function RecentExperiments() {
  const { data } = useExperimentList();
  const openExperiments = useWorkbench((s) => s.openExperiments);
  const view = useWorkbench((s) => s.view);
  const shown = data?.experiments.slice(0, 5) ?? [];
  if (shown.length === 0) return null;
  return (
    <div className="history-experiments" data-testid="history-experiments">
      <h3 className="small muted">Experiments</h3>
      <ul className="history-list">
        {shown.map((x) => (
          <li key={x.id} className={`history-item ${view.kind === 'experiments' && view.id === x.id ? 'active' : ''}`} data-testid="history-experiment">
            <span />
            <button type="button" className="history-open" onClick={() => openExperiments(x.id)}>
              <span className="history-title">{x.label ?? `${x.prompts} prompt${x.prompts === 1 ? '' : 's'} × ${x.inputs} input${x.inputs === 1 ? '' : 's'}`}</span>
              <span className="history-meta muted small">
                <span className={`status-dot status-${x.status}`} />
                {x.status === 'running' ? `${x.progress.done}/${x.progress.total} cells` : x.status} · {x.models.join(' + ')} · {timeAgo(x.createdAt)}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {data && data.total > shown.length && (
        <button type="button" className="link small" onClick={() => openExperiments(null)}>
          all {data.total} experiments
        </button>
      )}
    </div>
  );
}

export function HistoryList() {
  const [q, setQ] = useState('');
  const [limit, setLimit] = useState(30);
  const query = useDebounced(q.trim(), 200);
  const { data, error, isFetching } = useRunList(query, limit);
  const view = useWorkbench((s) => s.view);
  const compareIds = useWorkbench((s) => s.compareIds);
  const openCompare = useWorkbench((s) => s.openCompare);
  const clearCompare = useWorkbench((s) => s.clearCompare);
  const activeId = view.kind === 'run' ? view.id : null;

  return (
    <section className="history" aria-label="History" data-testid="history">
      <div className="history-head">
        <h2>History</h2>
        {isFetching && <span className="muted small">…</span>}
      </div>
      <input type="search" className="history-search" placeholder="Search prompt, input, label" value={q} onChange={(e) => setQ(e.target.value)} data-testid="history-search" aria-label="Search runs" />
      <div className="compare-bar">
        <button type="button" className="btn small primary" data-testid="compare-button" disabled={compareIds.length < 2} onClick={() => openCompare(compareIds)}>
          Compare {compareIds.length > 0 ? `(${compareIds.length})` : ''}
        </button>
        {compareIds.length > 0 && (
          <button type="button" className="link small" onClick={clearCompare}>
            clear
          </button>
        )}
        <span className="muted small">tick 2–{MAX_COMPARE} runs</span>
      </div>
      {error && <p className="field-error">{(error as Error).message}</p>}
      {data && data.runs.length === 0 && <p className="muted small">{query ? 'No run matches.' : 'No runs yet: write a prompt and press Run.'}</p>}
      <RecentExperiments />
      <ul className="history-list">
        {data?.runs.map((r) => <HistoryItem key={r.id} run={r} active={r.id === activeId} twin={twinOf(r, data.runs)} />)}
      </ul>
      {data && data.total > data.runs.length && (
        <button type="button" className="link small" onClick={() => setLimit((l) => Math.min(200, l + 30))}>
          show more ({data.total - data.runs.length} older)
        </button>
      )}
    </section>
  );
}
