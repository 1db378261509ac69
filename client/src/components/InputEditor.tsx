// The input text X whose loss the prompt should lower.
import { useChosenModel } from '../data/api';
import { useDraftTokenCounts } from '../data/tokenCount';
import { useWorkbench } from '../state/store';
import { FieldError } from './FieldError';

export function InputEditor() {
  const input = useWorkbench((s) => s.draft.input);
  const editDraft = useWorkbench((s) => s.editDraft);
  const error = useWorkbench((s) => s.fieldErrors.input);
  const { chosen: m } = useChosenModel();
  const counts = useDraftTokenCounts();
  const total = counts.prompt !== null && counts.input !== null ? 1 + counts.prompt + counts.input : null;
  const over = total !== null && counts.nCtx !== null && total > counts.nCtx;

  return (
    <div className="field">
      <label htmlFor="input">
        Input text <span className="muted">X</span>
      </label>
      <textarea
        id="input"
        data-testid="input-input"
        spellCheck={false}
        rows={4}
        value={input}
        placeholder="The text whose next-token loss the prompt should lower."
        aria-invalid={!!error}
        onChange={(e) => editDraft({ input: e.target.value })}
        className={error ? 'has-error' : ''}
      />
      <p className={`hint ${over ? 'over' : ''}`} data-testid="token-count">
        {input.length.toLocaleString('en-US')} characters
        {counts.input !== null && ` · ${counts.input} tokens`}
        {total !== null && counts.nCtx !== null
          ? ` · BOS + prompt + input = ${total} of ${counts.nCtx} tokens${over ? ': too long for the model' : ''}`
          : m
            ? ` · BOS + prompt + input must fit ${m.config.nCtx} tokens`
            : ''}
      </p>
      <FieldError field="input" message={error} />
    </div>
  );
}
