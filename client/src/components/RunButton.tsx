// Runs the analysis of the current draft (also Ctrl/Cmd+Enter anywhere in the app).
import { useWorkbench } from '../state/store';
import { isLiveStatus, useRunAction } from '../state/useRunAction';

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);

export function RunButton() {
  const live = useWorkbench((s) => s.live);
  const starting = useWorkbench((s) => s.starting);
  const { start } = useRunAction();
  const busy = starting || (!!live && isLiveStatus(live.status));
  return (
    <button type="button" className="btn primary run-button" data-testid="run-button" onClick={start} disabled={busy} title="Run the analysis">
      {busy ? 'Running…' : 'Run'}
      <kbd>{isMac ? '⌘' : 'Ctrl'}+Enter</kbd>
    </button>
  );
}
