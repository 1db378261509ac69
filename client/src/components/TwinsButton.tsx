// "Run on both twins": the draft on the chosen model and on its myopic twin (`<model>-myopic`), side by side.
import { useChosenModel } from '../data/api';
import { useWorkbench } from '../state/store';
import { isLiveStatus, useRunAction } from '../state/useRunAction';

export function TwinsButton() {
  const { chosen, twin } = useChosenModel();
  const twinsLive = useWorkbench((s) => s.twinsLive);
  const { startTwins } = useRunAction();
  const busy = !!twinsLive && (isLiveStatus(twinsLive.vanilla.status) || isLiveStatus(twinsLive.myopic.status));
  const title = !chosen
    ? 'Loading models…'
    : twin
      ? `Run this prompt and input on ${chosen.id} and on its myopic twin ${twin.id}, and show them side by side`
      : `${chosen.id} has no myopic twin (a model directory named ${chosen.name}-myopic)`;
  return (
    <button type="button" className="btn twins-button" data-testid="twins-button" onClick={() => startTwins()} disabled={!twin || busy} title={title}>
      {busy ? 'Running twins…' : 'Run on both twins'}
    </button>
  );
}

/** "Run next to <model>": the draft on the chosen model and on a model of the other architecture (transformer vs RNN). */
export function SideBySideButton() {
  const { chosen, other } = useChosenModel();
  const twinsLive = useWorkbench((s) => s.twinsLive);
  const { startTwins } = useRunAction();
  if (!chosen || !other) return null;
  const busy = !!twinsLive && (isLiveStatus(twinsLive.vanilla.status) || isLiveStatus(twinsLive.myopic.status));
  return (
    <button type="button" className="btn twins-button" data-testid="side-by-side-button" onClick={() => startTwins(other.id)} disabled={busy} title={`Run this prompt and input on ${chosen.id} and on ${other.id}, and show them side by side`}>
      Run next to {other.id}
    </button>
  );
}
