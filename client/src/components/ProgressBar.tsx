// The live run's stage and progress (from the SSE stream), with Cancel; the end state stays visible until the next run.
import type { AnalysisProgress } from '@shared/analysis.js';
import { useWorkbench } from '../state/store';
import { isLiveStatus, useRunAction } from '../state/useRunAction';

export const STAGE_TEXT: Record<AnalysisProgress['stage'], string> = {
  tokenize: 'tokenizing',
  forward: 'forward passes (with / without prompt)',
  knockout: 'knockout variants (depth curve, layer windows, spans)',
  metrics: 'computing metrics',
  done: 'done',
};

export function ProgressBar() {
  const live = useWorkbench((s) => s.live);
  const { cancel } = useRunAction();
  if (!live) return null;
  const running = isLiveStatus(live.status);
  const p = live.progress;
  const frac = live.status === 'done' ? 1 : p && p.total > 0 ? p.done / p.total : 0;
  const stage = live.status === 'queued' ? 'queued' : p ? STAGE_TEXT[p.stage] : live.status;
  return (
    <div className={`progress status-${live.status}`} data-testid="progress" aria-live="polite">
      <div className="progress-row">
        <span className="progress-stage" data-testid="progress-stage">
          {running ? stage : live.status === 'done' ? 'done' : live.status}
          {running && p && p.total > 0 && (
            <span className="muted">
              {' '}
              · {p.done}/{p.total}
            </span>
          )}
        </span>
        {running && (
          <button type="button" className="btn small" data-testid="cancel-button" onClick={cancel}>
            Cancel
          </button>
        )}
      </div>
      <div className="progress-track" role="progressbar" aria-label="Run progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(frac * 100)}>
        <div className="progress-fill" style={{ width: `${Math.round(frac * 100)}%` }} />
      </div>
      {running && live.status === 'running' && (!p || p.done === 0) && <FirstRunNote />}
      {live.error && <p className="field-error">{live.error}</p>}
    </div>
  );
}

/** Why progress can sit at 0 for a while: the first run on a model prepares its graph and runtime session. */
export function FirstRunNote() {
  return (
    <p className="muted small first-run-note">
      The first run on a model rewrites its graph and starts a runtime session (several seconds, longer for twins); later runs start at once.
    </p>
  );
}

