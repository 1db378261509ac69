// What produced a run: its prompt and input text, model and options, shown with its results so no number is credited
// to whatever draft happens to sit in the editor.
import { useQuery } from '@tanstack/react-query';
import type { RunDetail } from '@shared/api.js';
import { api, useChosenModel } from '../data/api';
import { scanMarkers } from '../data/markers';
import { useWorkbench } from '../state/store';
import { segmentColor } from '../theme';
import { Card } from './Card';
import { forkIntoEditor } from '../state/useRunAction';

function MarkedPrompt({ raw }: { raw: string }) {
  if (raw === '') return <span className="muted">(empty prompt)</span>;
  return (
    <>
      {scanMarkers(raw).map((p, k) =>
        p.kind === 'open' || p.kind === 'close' ? (
          <span key={k} className="hl-marker" style={{ color: segmentColor(p.segment) }}>
            {p.raw}
          </span>
        ) : p.kind === 'inside' ? (
          <span key={k} className="hl-inside" style={{ boxShadow: `inset 0 -2px 0 ${segmentColor(p.segment)}` }}>
            {p.raw}
          </span>
        ) : (
          <span key={k}>{p.raw}</span>
        ),
      )}
    </>
  );
}

/** Which pool worker computed a finished run (nothing when this server computed it itself). */
function ComputedBy({ run }: { run: RunDetail }) {
  const { data } = useQuery({ queryKey: ['run-worker', run.id], queryFn: () => api.runWorker(run.id), enabled: run.status === 'done', staleTime: Infinity });
  if (!data?.worker) return null;
  return (
    <span data-testid="run-worker">
      {' '}
      · computed by pool worker <span className="mono">{data.worker}</span>
      {data.attempts && data.attempts > 1 ? ` (attempt ${data.attempts})` : ''}
    </span>
  );
}

export function RunInputs({ run }: { run: RunDetail }) {
  const draft = useWorkbench((s) => s.draft);
  const { chosen } = useChosenModel();
  const opts = run.options as { spans?: string; layerWindow?: number };
  // "Holds this run" means Run would redo it: the same texts, on the same model, with the same options.
  const differs = [
    draft.prompt !== run.prompt || draft.input !== run.input ? 'prompt or input' : null,
    chosen && chosen.id !== run.modelId ? `model (${chosen.id})` : null,
    draft.spans !== (opts.spans ?? 'auto') || draft.layerWindow !== (opts.layerWindow ?? 1) ? 'options' : null,
  ].filter((x): x is string => x !== null);
  const same = differs.length === 0;
  return (
    <Card
      title="What this run measured"
      className="wide run-inputs"
      testId="run-inputs"
      subtitle={
        <>
          model <span className="mono">{run.modelId}</span>
          {run.modelHash && <span className="mono muted"> ({run.modelHash.slice(0, 12)})</span>} · spans {opts.spans ?? 'auto'} · layer window ±{opts.layerWindow ?? 1}
          <ComputedBy run={run} />
        </>
      }
      actions={
        same ? (
          <span className="muted small" data-testid="draft-matches">
            the editor holds this run (prompt, input, model and options)
          </span>
        ) : (
          <button
            type="button"
            className="btn small"
            data-testid="load-into-editor"
            title="Replace the editor's draft with this run's prompt, input, model and options (as a fork of this run)"
            onClick={() => forkIntoEditor(run)}
          >
            Edit a copy in the workspace
          </button>
        )
      }
    >
      <div className="run-texts">
        <div>
          <div className="run-text-label">
            Prompt <b>P</b>
          </div>
          <pre className="run-text" data-testid="run-prompt">
            <MarkedPrompt raw={run.prompt} />
          </pre>
        </div>
        <div>
          <div className="run-text-label">
            Input <b>X</b>
          </div>
          <pre className="run-text" data-testid="run-input">
            {run.input}
          </pre>
        </div>
      </div>
      {!same && (
        <p className="muted small draft-differs" data-testid="draft-differs">
          The editor on the left holds a different draft (another {differs.join(', ')}); the numbers below belong to the run shown here.
        </p>
      )}
    </Card>
  );
}
