// Keeps tabs of the workbench in step: a run started, finished or deleted in one tab refreshes the history in the others,
// and a deleted run closes wherever it is open (BroadcastChannel: same origin, same browser).
import { keys, queryClient } from './api';
import { useWorkbench } from '../state/store';

export type TabMessage = { kind: 'runs-changed' } | { kind: 'run-deleted'; id: string };

const channel: BroadcastChannel | null = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('precache-lens');

export function announce(m: TabMessage): void {
  channel?.postMessage(m);
}

/** What this tab does when another one changed the runs. */
export function applyTabMessage(m: TabMessage): void {
  if (m.kind === 'run-deleted') {
    queryClient.removeQueries({ queryKey: keys.run(m.id) });
    useWorkbench.getState().forgetRun(m.id);
  }
  void queryClient.invalidateQueries({ queryKey: keys.allRuns });
}

export function startTabSync(): () => void {
  if (!channel) return () => {};
  const on = (e: MessageEvent<TabMessage>) => applyTabMessage(e.data);
  channel.addEventListener('message', on);
  return () => channel.removeEventListener('message', on);
}
