// The left-hand form: model, prompt, input, options, label and Run; each field shows its own error.
import { useWorkbench, type SpanChoice } from '../state/store';
import { useChosenModel, useRun } from '../data/api';
import { cancelTwins } from '../state/useRunAction';
import { shortId } from '../format';
import { segmentCount } from '../data/markers';
import { FieldError } from './FieldError';
import { InputEditor } from './InputEditor';
import { ModelPicker } from './ModelPicker';
import { ProgressBar } from './ProgressBar';
import { PromptEditor, type TextRange } from './PromptEditor';
import { RunButton } from './RunButton';
import { SideBySideButton, TwinsButton } from './TwinsButton';
import { TwinsProgress } from './TwinsProgress';

const SPAN_CHOICES: { value: SpanChoice; text: string }[] = [
  { value: 'auto', text: 'auto' },
  { value: 'words', text: 'words' },
  { value: 'tokens', text: 'tokens' },
  { value: 'lines', text: 'lines' },
  { value: 'marked', text: 'marked segments' },
];

/** The twin runs' progress under the form, with links back to their side-by-side view. */
function SidebarTwinsProgress() {
  const t = useWorkbench((s) => s.twinsLive);
  const openTwins = useWorkbench((s) => s.openTwins);
  const va = useRun(t?.vanilla.id ?? null).data;
  const my = useRun(t?.myopic.id ?? null).data;
  if (!t) return null;
  // "vanilla"/"myopic" only for twins; a "Run next to" pair is named by its models.
  const twins = !!va && !!my && my.modelId === `${va.modelId}-myopic`;
  return (
    <div>
      <TwinsProgress
        rows={[
          { role: 'vanilla', label: twins ? 'vanilla' : (va?.modelId ?? 'first'), modelId: va?.modelId ?? null, live: t.vanilla },
          { role: 'myopic', label: twins ? 'myopic' : (my?.modelId ?? 'second'), modelId: my?.modelId ?? null, live: t.myopic },
        ]}
        onCancel={() => void cancelTwins()}
      />
      <button type="button" className="link small" onClick={() => openTwins([t.vanilla.id, t.myopic.id])}>
        {twins ? 'Show the twins side by side' : 'Show both runs side by side'}
      </button>
    </div>
  );
}

export function Workspace({ selectedRange }: { selectedRange: TextRange | null }) {
  const draft = useWorkbench((s) => s.draft);
  const errors = useWorkbench((s) => s.fieldErrors);
  const editDraft = useWorkbench((s) => s.editDraft);
  const clearParent = useWorkbench((s) => s.clearParent);
  const openRun = useWorkbench((s) => s.openRun);
  const { chosen } = useChosenModel();
  const maxWindow = chosen ? Math.max(0, chosen.config.nLayer - 1) : undefined;
  const known = new Set(['body', 'model', 'prompt', 'input', 'label', 'parentId', 'options.spans', 'options.layerWindow']);
  const other = Object.entries(errors).filter(([k]) => !known.has(k));

  return (
    <section className="workspace" aria-label="Workspace">
      <h2>Workspace</h2>
      <ModelPicker />
      {draft.parentId && (
        <div className="fork-chip" data-testid="fork-chip">
          Forked from{' '}
          <button type="button" className="link mono" onClick={() => openRun(draft.parentId!)}>
            {shortId(draft.parentId)}
          </button>
          <button type="button" className="link" onClick={clearParent} title="Run as a new run with no parent">
            ✕
          </button>
          <FieldError field="parentId" message={errors.parentId} />
        </div>
      )}
      <PromptEditor selectedRange={selectedRange} />
      <InputEditor />
      <div className="field-row">
        <div className="field">
          <label htmlFor="spans" title="How the prompt is cut for span importance; auto = marked segments if the prompt has any, else words">
            Spans
          </label>
          <select id="spans" value={draft.spans} onChange={(e) => editDraft({ spans: e.target.value as SpanChoice })}>
            {SPAN_CHOICES.map((c) => (
              <option key={c.value} value={c.value} disabled={c.value === 'marked' && segmentCount(draft.prompt) === 0}>
                {c.text}
              </option>
            ))}
          </select>
          <FieldError field="options.spans" message={errors['options.spans']} />
        </div>
        <div className="field narrow">
          <label htmlFor="layerWindow" title={`Layer profile: K of layers l−r..l+r${maxWindow !== undefined ? `; 0–${maxWindow} on this model` : ''}`}>
            Window r
          </label>
          {/* Sent exactly as typed: a value the model cannot use gets the server's error beside this field, never a silent clamp. */}
          <input
            id="layerWindow"
            data-testid="window-input"
            type="number"
            min={0}
            max={maxWindow}
            step={1}
            value={Number.isFinite(draft.layerWindow) ? draft.layerWindow : ''}
            aria-invalid={!!errors['options.layerWindow']}
            onChange={(e) => editDraft({ layerWindow: e.target.value === '' ? NaN : Number(e.target.value) })}
          />
        </div>
      </div>
      <FieldError field="options.layerWindow" message={errors['options.layerWindow']} />
      <div className="field">
        <label htmlFor="label">Label</label>
        <input id="label" data-testid="label-input" type="text" value={draft.label} maxLength={200} placeholder="optional name in the history" onChange={(e) => editDraft({ label: e.target.value })} />
        <FieldError field="label" message={errors.label} />
      </div>
      <div className="run-row">
        <RunButton />
        <TwinsButton />
        <SideBySideButton />
      </div>
      <FieldError field="body" message={errors.body} />
      {other.map(([k, m]) => (
        <FieldError key={k} field={k} message={m} />
      ))}
      <ProgressBar />
      <SidebarTwinsProgress />
    </section>
  );
}
