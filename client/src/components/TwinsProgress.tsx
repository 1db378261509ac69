// Progress of the two side-by-side runs (twins, or two models on one tokenizer), each with its stage and a bar, and one Cancel for both.
import type { LiveRun } from '../state/store';
import { isLiveStatus } from '../state/useRunAction';
import { STAGE_TEXT } from './ProgressBar';

export interface TwinProgressRow {
  role: string;
  /** What the side is called ("vanilla", "RNN", a model id); the role by default. */
  label?: string;
  modelId: string | null;
  live: LiveRun;
}

function stageOf(live: LiveRun): string {
  if (live.status === 'queued') return 'queued';
  if (!isLiveStatus(live.status)) return live.status;
  const p = live.progress;
  return p ? `${STAGE_TEXT[p.stage]}${p.total > 0 ? ` · ${p.done}/${p.total}` : ''}` : live.status;
}

export function TwinsProgress({ rows, onCancel, testId = 'twins-progress' }: { rows: TwinProgressRow[]; onCancel?: () => void; testId?: string }) {
  const running = rows.some((r) => isLiveStatus(r.live.status));
  return (
    <div className="progress twins-progress" data-testid={testId} aria-live="polite">
      <div className="progress-row">
        <span className="progress-stage">Both runs {running ? '' : `· ${rows.every((r) => r.live.status === 'done') ? 'done' : 'ended'}`}</span>
        {running && onCancel && (
          <button type="button" className="btn small" data-testid="twins-cancel-button" onClick={onCancel}>
            Cancel both
          </button>
        )}
      </div>
      {rows.map(({ role, label = role, modelId, live }) => {
        const p = live.progress;
        const frac = live.status === 'done' ? 1 : p && p.total > 0 ? p.done / p.total : 0;
        return (
          <div key={role} className={`twin-progress status-${live.status}`} data-testid={`twin-progress-${role}`} data-status={live.status}>
            <div className="progress-row small">
              <span>
                <b>{label}</b> {label !== modelId && <span className="muted mono">{modelId ?? ''}</span>}
              </span>
              <span className="muted">{stageOf(live)}</span>
            </div>
            <div className="progress-track" role="progressbar" aria-label={`${label} run`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(frac * 100)}>
              <div className="progress-fill" style={{ width: `${Math.round(frac * 100)}%` }} />
            </div>
            {live.error && <p className="field-error">{live.error}</p>}
          </div>
        );
      })}
    </div>
  );
}
