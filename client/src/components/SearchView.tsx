// The Search page (#/search[/<id>]): start a prompt search, follow its race live, read the finalists (docs/search.md).
import { useState } from 'react';
import { ApiError } from '@shared/api.js';
import type { CreateSearchRequest, SearchDetail, SearchVariantState } from '@shared/search.js';
import type { Interval } from '@shared/stats/bootstrap.js';
import { useInputSets, splitTextBlocks } from '../data/experiments';
import { queryClient, useChosenModel } from '../data/api';
import { searchesApi, searchKeys, useSearch, useSearchList } from '../data/searches';
import { useWorkbench } from '../state/store';
import { startRun } from '../state/useRunAction';
import { Card } from './Card';
import './SearchView.css';

type VariantsKind = 'template' | 'prompts' | 'ablate';

const EXAMPLE_TEMPLATE = 'A {{kind|story||report||letter||speech}} about {{topic|the sea||a city||the war||a family}}:\n';
const fmt = (x: Interval | null, d = 3) => (x ? `${x.mean.toFixed(d)} [${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]` : 'n/a');

export function SearchView({ id }: { id: string | null }) {
  if (id) return <SearchResults id={id} />;
  return (
    <div className="searches" data-testid="search-page">
      <h2>Prompt search</h2>
      <p className="muted">
        Race prompt variants over your inputs: every live variant runs on a batch of inputs, variants whose paired interval against the leader lies
        below zero are dropped, and the batch doubles. The finalists are then measured on held-out inputs the race never saw, and explained with full
        analyses.
      </p>
      <SearchBuilder />
      <SearchHistory />
    </div>
  );
}

function SearchBuilder() {
  const [kind, setKind] = useState<VariantsKind>('template');
  const [text, setText] = useState(EXAMPLE_TEMPLATE);
  const [reorder, setReorder] = useState(0);
  const [inputsFrom, setInputsFrom] = useState<'set' | 'texts'>('set');
  const [set, setSet] = useState('brown-fiction');
  const [count, setCount] = useState(24);
  const [pasted, setPasted] = useState('');
  const [firstBatch, setFirstBatch] = useState(4);
  const [budget, setBudget] = useState('');
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const sets = useInputSets();
  const model = useChosenModel();
  const open = useWorkbench((s) => s.openSearch);

  const request = (): CreateSearchRequest => ({
    ...(model.chosen ? { model: model.chosen.id } : {}),
    variants: kind === 'template' ? { template: text } : kind === 'prompts' ? { prompts: splitTextBlocks(text) } : { ablate: text, ...(reorder ? { reorder } : {}) },
    inputs: inputsFrom === 'set' ? { set, count } : { texts: splitTextBlocks(pasted) },
    ...(budget.trim() ? { budget: { cells: Number(budget) } } : {}),
    options: { firstBatch },
  });

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await searchesApi.create(request());
      await queryClient.invalidateQueries({ queryKey: searchKeys.list });
      open(r.id);
    } catch (e) {
      setError(e instanceof ApiError ? { field: e.field, message: e.message } : { message: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const textLabel = kind === 'template' ? 'Template: spans with alternatives, {{name|first||second}}' : kind === 'prompts' ? 'Prompts, separated by lines holding only ---' : 'Prompt to ablate (marked spans, or else sentences, left out in turn)';
  return (
    <Card title="New search" testId="search-builder">
      <form
        className="search-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <fieldset>
          <legend>Variants from</legend>
          {(['template', 'prompts', 'ablate'] as const).map((k) => (
            <label key={k} className="inline">
              <input type="radio" name="variants-kind" value={k} checked={kind === k} onChange={() => setKind(k)} data-testid={`search-kind-${k}`} /> {k === 'template' ? 'a template' : k === 'prompts' ? 'a list of prompts' : 'ablations of a prompt'}
            </label>
          ))}
        </fieldset>
        <label>
          {textLabel}
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={5} data-testid="search-variants-text" aria-invalid={error?.field?.startsWith('variants') ? true : undefined} />
        </label>
        {kind === 'ablate' && (
          <label>
            Sentence reorderings to add
            <input type="number" min={0} max={24} value={reorder} onChange={(e) => setReorder(Number(e.target.value))} />
          </label>
        )}
        <fieldset>
          <legend>Inputs</legend>
          <label className="inline">
            <input type="radio" name="inputs-from" checked={inputsFrom === 'set'} onChange={() => setInputsFrom('set')} /> a bundled set
          </label>
          <label className="inline">
            <input type="radio" name="inputs-from" checked={inputsFrom === 'texts'} onChange={() => setInputsFrom('texts')} data-testid="search-inputs-pasted" /> pasted texts
          </label>
          {inputsFrom === 'set' ? (
            <div className="row">
              <label>
                Input set
                <select value={set} onChange={(e) => setSet(e.target.value)} data-testid="search-input-set">
                  {(sets.data?.sets ?? [{ id: set, title: set, size: 0 }]).map((s) => (
                    <option key={s.id} value={s.id}>
                      {s.title} ({s.size})
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Passages
                <input type="number" min={4} max={2000} value={count} onChange={(e) => setCount(Number(e.target.value))} data-testid="search-count" />
              </label>
            </div>
          ) : (
            <label>
              Input texts, separated by lines holding only ---
              <textarea value={pasted} onChange={(e) => setPasted(e.target.value)} rows={5} data-testid="search-inputs-text" />
            </label>
          )}
        </fieldset>
        <div className="row">
          <label>
            Inputs in the first round
            <input type="number" min={2} max={256} value={firstBatch} onChange={(e) => setFirstBatch(Number(e.target.value))} data-testid="search-first-batch" />
          </label>
          <label>
            Budget in cells (optional)
            <input type="number" min={1} value={budget} onChange={(e) => setBudget(e.target.value)} />
          </label>
        </div>
        {error && (
          <p className="field-error" role="alert" data-testid="search-error">
            {error.message}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy} data-testid="search-start">
          {busy ? 'Starting…' : 'Start search'}
        </button>
      </form>
    </Card>
  );
}

function SearchHistory() {
  const { data, error } = useSearchList();
  const open = useWorkbench((s) => s.openSearch);
  return (
    <Card title="Search history" testId="search-history">
      {error && <p className="field-error">{(error as Error).message}</p>}
      {data && data.searches.length === 0 && <p className="muted">No searches yet.</p>}
      <ul className="experiment-list">
        {data?.searches.map((s) => (
          <li key={s.id}>
            <button type="button" className="link" onClick={() => open(s.id)}>
              {s.label ?? `Search ${s.id.slice(0, 8)}`}
            </button>{' '}
            <span className="muted">
              {s.variants} variants × {s.inputs} inputs · {s.status} · {s.cells} cells{s.winner ? ` · winner: ${s.winner}` : ''}
            </span>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function SearchResults({ id }: { id: string }) {
  const { data: d, error } = useSearch(id);
  const openSearch = useWorkbench((s) => s.openSearch);
  if (error) return <p className="field-error">{(error as Error).message}</p>;
  if (!d) return <p className="muted">Loading the search…</p>;
  const running = d.status === 'running';
  return (
    <div className="searches" data-testid="search-results">
      <p>
        <button type="button" className="link" onClick={() => openSearch(null)}>
          ← All searches
        </button>
      </p>
      <h2>{d.label ?? `Search ${d.id.slice(0, 8)}`}</h2>
      <p data-testid="search-status">
        {d.status}
        {running ? ` · ${d.phase}` : ''} · {d.progress.cells} of at most {d.progress.maxCells} racing cells
        {running && d.progress.etaS !== null ? ` · about ${d.progress.etaS} s left` : ''}
        {d.stopReason ? ` · race stopped: ${stopText(d.stopReason)}` : ''} · {d.rounds.length} {d.rounds.length === 1 ? 'round' : 'rounds'} · grid {d.gridCells} cells
      </p>
      {d.error && <p className="muted">{d.error}</p>}
      <p className="actions">
        {running && (
          <button type="button" onClick={() => void searchesApi.cancel(d.id).then(() => queryClient.invalidateQueries({ queryKey: searchKeys.one(d.id) }))}>
            Cancel search
          </button>
        )}
        <a className="link" href={`/api/searches/${d.id}/report.html?inline=1`} target="_blank" rel="noreferrer">
          HTML report
        </a>{' '}
        <a className="link" href={`/api/searches/${d.id}/report.json`}>
          JSON
        </a>{' '}
        <a className="link" href={`/api/searches/${d.id}/report.csv?table=variants`}>
          CSV
        </a>
      </p>
      <SearchFinalists d={d} />
      <SearchRace d={d} />
    </div>
  );
}

function stopText(r: NonNullable<SearchDetail['stopReason']>): string {
  return { 'one-left': 'one variant left', inputs: 'race inputs used up', 'budget-cells': 'cell budget spent', 'budget-seconds': 'time budget spent', cancelled: 'cancelled' }[r];
}

/** Opens a variant as an ordinary run on the search's first held-out input. */
function openAsRun(d: SearchDetail, v: SearchVariantState) {
  const input = d.inputs[d.heldOutInputs[0] ?? 0].text;
  useWorkbench.getState().editDraft({ model: d.model, prompt: v.text, input, label: `search · ${v.label}`, parentId: null });
  void startRun();
}

/** The race: one row per variant with its interval against the same scale; dropped variants greyed at their round. */
function SearchRace({ d }: { d: SearchDetail }) {
  const ivs = d.variants.map((v) => v.estimate).filter((x): x is Interval => x !== null);
  const lo = Math.min(0, ...ivs.map((x) => x.lo));
  const hi = Math.max(0, ...ivs.map((x) => x.hi));
  const W = 220;
  const x = (t: number) => (hi > lo ? ((t - lo) / (hi - lo)) * W : W / 2);
  const order = d.variants.map((_, k) => k).sort((a, b) => (d.variants[b].estimate?.mean ?? -Infinity) - (d.variants[a].estimate?.mean ?? -Infinity));
  return (
    <Card title="The race" subtitle={`Objective: ${d.objective === 'benefit' ? 'mean benefit against the no-prompt baseline' : 'mean benefit at the prompt’s positions'}, nats/token, over the race inputs each variant ran on (selection figures; the finalists’ own figures come from held-out inputs).`} testId="search-race">
      <table className="search-race">
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th scope="col">Status</th>
            <th scope="col">n</th>
            <th scope="col">Estimate [interval]</th>
            <th scope="col">
              <span className="sr-only">Interval chart</span>
            </th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {order.map((k) => {
            const v = d.variants[k];
            const e = v.estimate;
            return (
              <tr key={k} className={v.roundDropped !== null ? 'variant-dropped' : `variant-${v.status}`} data-testid="search-variant-row" data-status={v.status} data-dropped={v.roundDropped ?? undefined}>
                <td title={v.text}>
                  <b>V{k + 1}</b> {v.label}
                </td>
                <td>{v.roundDropped !== null ? `dropped in round ${v.roundDropped + 1}${v.status === 'finalist' ? ' · finalist' : ''}` : v.status}</td>
                <td>{v.n}</td>
                <td>{fmt(e)}</td>
                <td>
                  <svg width={W} height={14} role="img" aria-label={e ? `interval from ${e.lo.toFixed(3)} to ${e.hi.toFixed(3)}` : 'no estimate yet'}>
                    <line x1={x(0)} x2={x(0)} y1={0} y2={14} className="zero" />
                    {e && (
                      <>
                        <line x1={x(e.lo)} x2={x(e.hi)} y1={7} y2={7} className="ci" />
                        <circle cx={x(e.mean)} cy={7} r={3} className="pt" />
                      </>
                    )}
                  </svg>
                </td>
                <td>
                  <button type="button" className="link" onClick={() => openAsRun(d, v)} data-testid="search-open-run">
                    Open V{k + 1} as a run
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ol className="muted">
        {d.rounds.map((r, k) => (
          <li key={k}>
            {r.inputs} inputs, {r.live.length} live, leader V{r.leader + 1}
            {r.dropped.length ? `, dropped ${r.dropped.map((v) => `V${v + 1}`).join(' ')}` : ''}
          </li>
        ))}
      </ol>
    </Card>
  );
}

function SearchFinalists({ d }: { d: SearchDetail }) {
  const openExperiments = useWorkbench((s) => s.openExperiments);
  if (!d.finalists.length) return null;
  return (
    <Card
      title="Finalists"
      subtitle={`Figures from ${d.heldOutInputs.length} held-out inputs the race never used to pick them (no winner’s curse). π = D(1)/D(0) from full analyses of ${d.options.explainInputs} of them.`}
      testId="search-finalists"
      actions={
        d.experimentId ? (
          <button type="button" onClick={() => openExperiments(d.experimentId)} data-testid="search-open-experiment">
            Open the finalists as an experiment
          </button>
        ) : undefined
      }
    >
      <table className="search-finalists">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Variant</th>
            <th scope="col">Held-out mean benefit</th>
            <th scope="col">vs winner</th>
            <th scope="col">π (read from precomputation)</th>
            <th scope="col">Winner’s lead over it read from precomputation</th>
            <th scope="col">Next tokens</th>
            <th scope="col">Continuations</th>
          </tr>
        </thead>
        <tbody>
          {d.finalists.map((f, k) => (
            <tr key={f.variant} data-testid="search-finalist-row">
              <td>{k + 1}</td>
              <td title={d.variants[f.variant].text}>
                V{f.variant + 1} {d.variants[f.variant].label}
              </td>
              <td>
                {fmt(f.heldOut.meanBenefit)} (n={f.heldOut.n})
              </td>
              <td>{k === 0 ? '—' : fmt(f.heldOut.vsWinner)}</td>
              <td>{fmt(f.precomputationShare)}</td>
              <td>{k === 0 ? '—' : fmt(f.leadPrecomputationShare)}</td>
              <td>{f.nextTokens.map((t) => `${JSON.stringify(t.token)} ${(100 * t.prob).toFixed(0)}%`).join(', ')}</td>
              <td>
                {f.continuations.map((c, j) => (
                  <div key={j} className="continuation">
                    …{c}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {d.lead && <p>Held-out lead of the winner over the runner-up: {fmt(d.lead)} nats/token.</p>}
    </Card>
  );
}
