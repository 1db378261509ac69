// The prompt field: a textarea over a highlighted copy, so span markers {{name|text}} show in colour as you type.
import { Fragment, useMemo, useRef, type ReactNode } from 'react';
import { markerError, scanMarkers, type PromptPiece } from '../data/markers';
import { useDraftTokenCounts } from '../data/tokenCount';
import { useWorkbench } from '../state/store';
import { segmentColor } from '../theme';
import { FieldError } from './FieldError';

/** A character range of the marker-free prompt to highlight (the span selected in the results). */
export interface TextRange {
  start: number;
  end: number;
}

function withRange(text: string, textStart: number, range: TextRange | null, key: string): ReactNode {
  if (!range || range.end <= textStart || range.start >= textStart + text.length) return text;
  const a = Math.max(0, range.start - textStart);
  const b = Math.min(text.length, range.end - textStart);
  return (
    <Fragment key={key}>
      {text.slice(0, a)}
      <mark className="hl-selected">{text.slice(a, b)}</mark>
      {text.slice(b)}
    </Fragment>
  );
}

function renderPiece(p: PromptPiece, k: number, range: TextRange | null): ReactNode {
  switch (p.kind) {
    case 'text':
      return <Fragment key={k}>{withRange(p.raw, p.textStart, range, `t${k}`)}</Fragment>;
    case 'escape':
      return (
        <span key={k} className="hl-escape">
          {p.raw}
        </span>
      );
    case 'open':
    case 'close':
      return (
        <span key={k} className="hl-marker" style={{ color: segmentColor(p.segment) }}>
          {p.raw}
        </span>
      );
    case 'inside':
      return (
        <span key={k} className="hl-inside" style={{ backgroundColor: `${segmentColor(p.segment)}22`, boxShadow: `inset 0 -2px 0 ${segmentColor(p.segment)}` }}>
          {withRange(p.raw, p.textStart, range, `i${k}`)}
        </span>
      );
  }
}

export function PromptEditor({ selectedRange }: { selectedRange: TextRange | null }) {
  const prompt = useWorkbench((s) => s.draft.prompt);
  const editDraft = useWorkbench((s) => s.editDraft);
  const serverError = useWorkbench((s) => s.fieldErrors.prompt);
  const backdrop = useRef<HTMLPreElement>(null);
  const pieces = useMemo(() => scanMarkers(prompt), [prompt]);
  const localError = useMemo(() => markerError(prompt), [prompt]);
  const segments = pieces.filter((p): p is Extract<PromptPiece, { kind: 'open' }> => p.kind === 'open');
  const tokens = useDraftTokenCounts().prompt;

  return (
    <div className="field">
      <label htmlFor="prompt">
        Prompt <span className="muted">P</span>
      </label>
      <div className={`hl-editor ${localError || serverError ? 'has-error' : ''}`}>
        <pre ref={backdrop} className="hl-backdrop" aria-hidden="true">
          {pieces.map((p, k) => renderPiece(p, k, selectedRange))}
          {'\n'}
        </pre>
        <textarea
          id="prompt"
          data-testid="prompt-input"
          spellCheck={false}
          value={prompt}
          rows={6}
          placeholder="Text the model reads first. Mark spans as {{name|text}}."
          aria-invalid={!!(localError || serverError)}
          aria-describedby="prompt-help"
          onChange={(e) => editDraft({ prompt: e.target.value })}
          onScroll={(e) => {
            if (backdrop.current) backdrop.current.scrollTop = e.currentTarget.scrollTop;
          }}
        />
      </div>
      <p id="prompt-help" className="hint">
        {tokens !== null && <span data-testid="prompt-token-count">{tokens} tokens · </span>}
        Mark a span: <code>{'{{name|text}}'}</code> or <code>{'{{text}}'}</code>; literal braces: <code>{'\\{{'}</code>.
        {segments.length > 0 && (
          <span className="segment-chips">
            {segments.map((s) => (
              <span key={s.segment} className="chip" style={{ borderColor: segmentColor(s.segment), color: segmentColor(s.segment) }}>
                {s.name ?? `seg${s.segment + 1}`}
              </span>
            ))}
          </span>
        )}
      </p>
      <FieldError field="prompt" message={serverError ?? localError} />
    </div>
  );
}
