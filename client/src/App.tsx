// The workbench layout: workspace and history on the left, the open run or comparison on the right.
import { useEffect } from 'react';
import { useRun } from './data/api';
import { stagesOf } from './data/stages';
import { useWorkbench } from './state/store';
import { startRun } from './state/useRunAction';
import { HistoryList } from './components/HistoryList';
import { RunResults } from './components/RunResults';
import { TwinsCompare } from './components/TwinsCompare';
import { VariantCompare } from './components/VariantCompare';
import { Workspace } from './components/Workspace';
import { ExperimentsView } from './components/ExperimentsView';
import { SearchView } from './components/SearchView';
import { BackendBanner } from './components/BackendBanner';
import { PoolPanel } from './components/PoolPanel';
import { ExampleButtons } from './components/ExampleButtons';
import type { TextRange } from './components/PromptEditor';

function useRunShortcut() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void startRun();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/** The selected span's characters in the prompt editor, when the editor still holds the open run's prompt. */
function useSelectedPromptRange(): TextRange | null {
  const view = useWorkbench((s) => s.view);
  const spanIdx = useWorkbench((s) => s.selection.span);
  const prompt = useWorkbench((s) => s.draft.prompt);
  const { data } = useRun(view.kind === 'run' ? view.id : null);
  const span = spanIdx !== null && data ? stagesOf(data).spans?.spans[spanIdx] : undefined;
  if (!span || !data || data.prompt !== prompt) return null;
  return { start: span.charStart, end: span.charEnd };
}

function Intro() {
  return (
    <div className="intro" data-testid="intro">
      <h2>See what the input reads from your prompt</h2>
      <p>
        Write a prompt <b>P</b> and an input text <b>X</b>, then press <b>Run</b> (<kbd>Ctrl</kbd>+<kbd>Enter</kbd>). Precache Lens measures how much P
        lowers X&rsquo;s loss, at which depth X reads P&rsquo;s columns (the depth curve D(k) and precomputation share π), which heads do the
        reading, and which spans of P matter.
      </p>
      <ul>
        <li>
          Mark spans to measure with <code>{'{{name|text}}'}</code>.
        </li>
        <li>Fork a run to edit its prompt, then compare 2–4 variants on the same input.</li>
        <li>
          <b>Run on both twins</b> runs the same text on the default model and on its myopic twin, trained never to pre-cache, side by side.
        </li>
        <li>Click a layer or a span in any chart to highlight it everywhere.</li>
      </ul>
      <ExampleButtons />
    </div>
  );
}

export function App() {
  useRunShortcut();
  const view = useWorkbench((s) => s.view);
  const selectedRange = useSelectedPromptRange();
  return (
    <div className="app">
      <a className="skip-link" href="#results" onClick={(e) => (e.preventDefault(), document.getElementById('results')?.focus())}>
        Skip to the results
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <h1>Precache Lens</h1>
          <span className="muted tagline">which of the prompt&rsquo;s precomputed activations does the input read?</span>
        </div>
        <a className="link small" href="#/experiments" data-testid="experiments-link">
          Experiments
        </a>
        <a className="link small" href="#/search" data-testid="search-link">
          Search
        </a>
        <a className="link small" href="/api/openapi.json" target="_blank" rel="noreferrer">
          API
        </a>
      </header>
      <BackendBanner />
      <PoolPanel />
      <div className="layout">
        <aside className="sidebar">
          <Workspace selectedRange={selectedRange} />
          <HistoryList />
        </aside>
        <main className="main" id="results" tabIndex={-1} aria-label="Results">
          {view.kind === 'run' && <RunResults key={view.id} id={view.id} />}
          {view.kind === 'compare' && <VariantCompare key={view.ids.join(',')} ids={view.ids} />}
          {view.kind === 'twins' && <TwinsCompare key={view.ids.join(',')} ids={view.ids} />}
          {view.kind === 'experiments' && <ExperimentsView key={view.id ?? ''} id={view.id} />}
          {view.kind === 'search' && <SearchView key={view.id ?? ''} id={view.id} />}
          {view.kind === 'empty' && <Intro />}
        </main>
      </div>
    </div>
  );
}
