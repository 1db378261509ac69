// Saved runs (from the server's store, so they survive restarts): search, reopen, fork, pick for compare, delete.
// An experiment is one row for all of its cells. Each row is one Tab stop: C picks a run for compare, Delete asks to
// delete it, the arrow keys move between rows; the checkbox and the × stay for the mouse.
import { useState } from 'react';
import type { HistoryEntry, RunSummary } from '@shared/api.js';
import { useDeleteRun, useHistory } from '../data/api';
import { pct, shortId, signedNats, snippet, timeAgo } from '../format';
import { announce } from '../data/tabSync';
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
  const comparable = run.status === 'done' && (checked || compareIds.length < MAX_COMPARE);
  const onKey = (e: React.KeyboardEvent<HTMLButtonElement>) => {
    if (e.key === 'c' || e.key === 'C') {
      e.preventDefault();
      if (comparable) toggleCompare(run.id);
    } else if (e.key === 'Delete') {
      e.preventDefault();
      setConfirming(true);
    } else moveBetweenRows(e);
  };
  return (
    <li className={`history-item ${active ? 'active' : ''}`} data-testid="history-item" data-run-id={run.id}>
      <input
        type="checkbox"
        tabIndex={-1}
        aria-label={`Compare ${run.label ?? shortId(run.id)}`}
        title={run.status === 'done' ? 'Pick for compare (2–4 runs)' : 'Only finished runs can be compared'}
        checked={checked}
        disabled={run.status !== 'done' || (!checked && compareIds.length >= MAX_COMPARE)}
        onChange={() => toggleCompare(run.id)}
      />
      <button
        type="button"
        className="history-open"
        onClick={() => openRun(run.id)}
        onKeyDown={onKey}
        aria-keyshortcuts="C Delete"
        aria-describedby="history-keys"
        title={`prompt: ${run.prompt}\ninput: ${run.input}`}
      >
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
 <button type="button" tabIndex={-1} className="link small history-twins" data-testid="history-twins" title={`Open this run and ${shortId(twin.id)} (${twin.modelId}) side by side`} onClick={() => openTwins([twin.id, run.id])}>
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
            autoFocus
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
        <button type="button" tabIndex={-1} className="icon-btn" aria-label={`Delete ${run.label ?? shortId(run.id)}`} title="Delete this run" data-testid="delete-button" onClick={() => setConfirming(true)}>
          ×
        </button>
      )}
    </li>
  );
}

/** Up and down arrows move between the rows' buttons (each row is one Tab stop). */
function moveBetweenRows(e: React.KeyboardEvent<HTMLButtonElement>) {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const rows = [...(e.currentTarget.closest('.history')?.querySelectorAll<HTMLButtonElement>('.history-open') ?? [])];
  const k = rows.indexOf(e.currentTarget);
  const next = rows[k + (e.key === 'ArrowDown' ? 1 : -1)];
  if (next) {
    e.preventDefault();
    next.focus();
  }
}

/** An experiment: one row for all of its cells (they are runs too, and open from its matrix). */
function ExperimentRow({ entry, active }: { entry: Extract<HistoryEntry, { kind: 'experiment' }>; active: boolean }) {
  const openExperiments = useWorkbench((s) => s.openExperiments);
  const x = entry.experiment;
  return (
    <li className={`history-item history-experiment-row ${active ? 'active' : ''}`} data-testid="history-experiment" data-experiment-id={x.id}>
      <span className="history-kind" aria-hidden="true">
        ⊞
      </span>
      <button type="button" className="history-open" onClick={() => openExperiments(x.id)} onKeyDown={moveBetweenRows} title={`Experiment: ${x.prompts} prompts × ${x.inputs} inputs; first prompt: ${entry.firstPrompt}`}>
        <span className="history-title">
          <span className="history-badge">experiment</span> {x.label ?? snippet(entry.firstPrompt || '(empty prompt)', 34)}
        </span>
        <span className="history-input muted small">
          {x.prompts} prompt{x.prompts === 1 ? '' : 's'} × {x.inputs} input{x.inputs === 1 ? '' : 's'} · {entry.cells} cells · {x.models.join(' + ')}
          {entry.matchingCells !== null && entry.matchingCells > 0 && (
            <span data-testid="history-experiment-matches">
              {' '}
              · {entry.matchingCells} cell{entry.matchingCells === 1 ? '' : 's'} match
            </span>
          )}
        </span>
        <span className="history-meta muted small">
          <span className={`status-dot status-${x.status}`} />
          {x.status === 'running' ? `${x.progress.done}/${x.progress.total} cells` : x.status} · {timeAgo(x.createdAt)}
        </span>
      </button>
      <span />
      <span />
    </li>
  );
}

export function HistoryList() {
  const [q, setQ] = useState('');
  const [limit, setLimit] = useState(30);
  const query = useDebounced(q.trim(), 200);
  const { data, error, isFetching } = useHistory(query, limit);
  const runs = data?.entries.flatMap((e) => (e.kind === 'run' ? [e.run] : [])) ?? [];
  const view = useWorkbench((s) => s.view);
  const compareIds = useWorkbench((s) => s.compareIds);
  const openCompare = useWorkbench((s) => s.openCompare);
  const clearCompare = useWorkbench((s) => s.clearCompare);
  const activeId = view.kind === 'run' ? view.id : null;
  const activeExperiment = view.kind === 'experiments' ? view.id : null;

  return (
    <section className="history" aria-label="History" data-testid="history">
      <div className="history-head">
        <h2>History</h2>
        {isFetching && <span className="muted small">…</span>}
      </div>
      <input type="search" className="history-search" placeholder="Search prompt, input, label, model" value={q} onChange={(e) => setQ(e.target.value)} data-testid="history-search" aria-label="Search runs and experiments" />
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
      {data && data.entries.length === 0 && <p className="muted small">{query ? 'Nothing matches.' : 'No runs yet: write a prompt and press Run.'}</p>}
      <p id="history-keys" className="muted small history-keys">
        Tab moves from row to row (↑ ↓ too); on a run, C picks it for compare and Delete deletes it.
      </p>
      <ul className="history-list">
        {data?.entries.map((e) =>
          e.kind === 'run' ? (
            <HistoryItem key={e.run.id} run={e.run} active={e.run.id === activeId} twin={twinOf(e.run, runs)} />
          ) : (
            <ExperimentRow key={e.experiment.id} entry={e} active={e.experiment.id === activeExperiment} />
          ),
        )}
      </ul>
      {data && data.total > data.entries.length && (
        <button type="button" className="link small" onClick={() => setLimit((l) => Math.min(200, l + 30))}>
          show more ({data.total - data.entries.length} older)
        </button>
      )}
    </section>
  );
}
