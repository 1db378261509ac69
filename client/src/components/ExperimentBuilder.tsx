// Builds an experiment: prompts (blocks separated by ---), inputs pasted or drawn from a bundled set, model or twins.
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '@shared/api.js';
import type { CreateExperimentRequest } from '@shared/experiments.js';
import { keys, useChosenModel, useModels } from '../data/api';
import { experimentKeys, experimentsApi, parseTexts, splitTextBlocks, useInputSets } from '../data/experiments';
import { useWorkbench } from '../state/store';
import { Card } from './Card';
import { StoryExperimentButton, useStoryModelOffered } from './ExampleButtons';

export function ExperimentBuilder() {
  const { chosen: workspaceModel } = useChosenModel();
  const models = useModels().data?.models ?? [];
  const [modelId, setModelId] = useState<string | null>(null);
  const chosen = models.find((m) => m.id === modelId) ?? workspaceModel;
  const twin = chosen ? models.find((m) => m.name === `${chosen.name}-myopic`) : undefined;
  // A second model: the myopic twin, or any other model that reads the same tokens (the server refuses others).
  const seconds = chosen ? models.filter((m) => m.id !== chosen.id && m.tokenizer.id === chosen.tokenizer.id && !m.attentionProblem) : [];
  const [secondId, setSecondId] = useState('');
  const second = seconds.find((m) => m.id === secondId);
  const useTwin = !!second && !!twin && second.id === twin.id;
  const sets = useInputSets().data?.sets ?? [];
  const storyOffered = useStoryModelOffered();
  const open = useWorkbench((s) => s.openExperiments);
  const qc = useQueryClient();
  const [label, setLabel] = useState('');
  const [prompts, setPrompts] = useState('');
  const [source, setSource] = useState<'set' | 'texts' | 'file'>('set');
  const [file, setFile] = useState<{ name: string; raw: string } | null>(null);
  const [field, setField] = useState('text');
  const [setId, setSetId] = useState('');
  const [count, setCount] = useState(20);
  const [texts, setTexts] = useState('');
  const [resamples, setResamples] = useState(2000);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const chosenSet = sets.find((s) => s.id === (setId || sets[0]?.id));
  const promptList = splitTextBlocks(prompts);
  let fileTexts: string[] = [];
  let fileError: string | null = null;
  if (source === 'file' && file) {
    try {
      fileTexts = parseTexts(file.raw, file.name, field, 'file');
    } catch (e) {
      fileError = (e as Error).message;
    }
  }
  const inputCount = source === 'set' ? count : source === 'file' ? fileTexts.length : splitTextBlocks(texts).length;

  const start = async () => {
    setError(null);
    const body: CreateExperimentRequest = {
      model: chosen?.id,
      ...(second ? (useTwin ? { twin: true } : { with: second.id }) : {}),
      ...(label.trim() ? { label: label.trim() } : {}),
      prompts: promptList.map((text) => ({ text })),
      inputs: source === 'set' ? { set: chosenSet?.id ?? '', count } : { texts: source === 'file' ? fileTexts : splitTextBlocks(texts) },
      options: { spanKnockouts: false, resamples },
    };
    setBusy(true);
    try {
      const { id } = await experimentsApi.create(body);
      await qc.invalidateQueries({ queryKey: experimentKeys.list });
      await qc.invalidateQueries({ queryKey: keys.allRuns }); // the history lists the new experiment
      open(id);
    } catch (e) {
      setError(e instanceof ApiError ? { field: e.field, message: e.message } : { message: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="New experiment" testId="experiment-builder" subtitle="Span knockouts are skipped: they are not part of the statistics.">
      {storyOffered && (
        <div className="examples-row">
          <span className="muted small">Or in one click, on stories260K:</span>
          <StoryExperimentButton testId="builder-story-experiment" />
        </div>
      )}
      <div className="experiment-form">
        <div className="field-row">
          <div className="field">
            <label htmlFor="exp-model">Model</label>
            <select
              id="exp-model"
              data-testid="experiment-model"
              value={chosen?.id ?? ''}
              onChange={(e) => {
                setModelId(e.target.value);
                setSecondId('');
              }}
            >
              {models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="exp-second">Also run every cell on</label>
            <select id="exp-second" data-testid="experiment-second" value={second?.id ?? ''} onChange={(e) => setSecondId(e.target.value)}>
              <option value="">no second model</option>
              {seconds.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                  {twin && m.id === twin.id ? ' (its myopic twin)' : ''}
                </option>
              ))}
            </select>
            {chosen && seconds.length === 0 && <span className="muted small">no other model reads {chosen.id}&rsquo;s tokens</span>}
          </div>
        </div>
        <div className="field">
          <label htmlFor="exp-label">Label</label>
          <input id="exp-label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="optional" />
        </div>
        <div className="field">
          <label htmlFor="exp-prompts">Prompts, separated by lines holding only ---</label>
          <textarea id="exp-prompts" data-testid="experiment-prompts" rows={5} value={prompts} onChange={(e) => setPrompts(e.target.value)} placeholder={'The following is a speech to Congress.\n---\nOnce upon a time,'} />
          <span className="muted small">{promptList.length} prompts (1–50)</span>
        </div>
        <fieldset className="field">
          <legend>Inputs</legend>
          <label>
            <input type="radio" name="exp-source" checked={source === 'set'} onChange={() => setSource('set')} data-testid="experiment-source-set" /> a bundled set
          </label>
          <label>
            <input type="radio" name="exp-source" checked={source === 'texts'} onChange={() => setSource('texts')} data-testid="experiment-source-texts" /> my texts
          </label>
          <label>
            <input type="radio" name="exp-source" checked={source === 'file'} onChange={() => setSource('file')} data-testid="experiment-source-file" /> a file
          </label>
        </fieldset>
        {source === 'set' ? (
          <div className="field-row">
            <div className="field">
              <label htmlFor="exp-set">Set</label>
              <select id="exp-set" value={chosenSet?.id ?? ''} onChange={(e) => setSetId(e.target.value)} data-testid="experiment-set">
                {sets.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.title} ({s.size})
                  </option>
                ))}
              </select>
            </div>
            <div className="field narrow">
              <label htmlFor="exp-count">Count</label>
              <input id="exp-count" type="number" min={1} max={chosenSet?.size ?? 2000} value={count} onChange={(e) => setCount(Number(e.target.value))} data-testid="experiment-count" />
            </div>
          </div>
        ) : source === 'file' ? (
          <div className="field-row">
            <div className="field">
              <label htmlFor="exp-file">File: .txt (blocks separated by ---), .jsonl or .csv</label>
              <input
                id="exp-file"
                type="file"
                accept=".txt,.jsonl,.csv,text/plain,text/csv"
                data-testid="experiment-file"
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  if (f) void f.text().then((raw) => setFile({ name: f.name, raw }));
                }}
              />
              {file && !fileError && <span className="muted small">{fileTexts.length} texts in {file.name}</span>}
              {fileError && <span className="field-error">{fileError}</span>}
            </div>
            <div className="field narrow">
              <label htmlFor="exp-field">Field</label>
              <input id="exp-field" value={field} onChange={(e) => setField(e.target.value)} data-testid="experiment-field" />
            </div>
          </div>
        ) : (
          <div className="field">
            <label htmlFor="exp-texts">Input texts, separated by lines holding only ---</label>
            <textarea id="exp-texts" data-testid="experiment-texts" rows={5} value={texts} onChange={(e) => setTexts(e.target.value)} />
          </div>
        )}
        {source === 'set' && chosenSet && (
          <div className="muted small" data-testid="experiment-set-description">
            <p>{chosenSet.description ?? chosenSet.provenance}</p>
            {chosenSet.note && <p>{chosenSet.note}</p>}
            <details>
              <summary>Source and licence</summary>
              <p>{chosenSet.licence}</p>
              {chosenSet.description && <p>{chosenSet.provenance}</p>}
            </details>
          </div>
        )}
        <div className="field-row">
          <div className="field narrow">
            <label htmlFor="exp-resamples">Resamples</label>
            <input id="exp-resamples" type="number" min={100} max={20000} step={100} value={resamples} onChange={(e) => setResamples(Number(e.target.value))} data-testid="experiment-resamples" />
          </div>
        </div>
        {error && (
          <p className="field-error" role="alert" data-testid="experiment-error">
            {error.message}
          </p>
        )}
        <div>
          <button type="button" className="btn primary" disabled={busy || promptList.length === 0 || inputCount === 0 || !!fileError} onClick={() => void start()} data-testid="experiment-start">
            Start {promptList.length} × {inputCount}
            {second ? ' × 2' : ''} cells
          </button>
        </div>
      </div>
    </Card>
  );
}
