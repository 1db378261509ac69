// Follows live runs through their SSE streams (progress, finished stages, status) and refreshes the cached run when one
// ends:
// the run started with Run (store.live) and the two started with "Run on both twins" (store.twinsLive).
import type { AnalysisProgress, PartialEvent } from '@shared/analysis.js';
import type { RunDetail, RunStatus } from '@shared/api.js';
import { useWorkbench, type LiveRun } from '../state/store';
import { keys, queryClient } from './api';
import { withPartial } from './stages';
import { announce } from './tabSync';

const FINAL: RunStatus[] = ['done', 'failed', 'cancelled'];

/** Where one follower keeps its stream, so a newer follow of the same slot closes the older one. */
interface Slot {
  es: EventSource | null;
}

function follow(id: string, patch: (p: Partial<LiveRun>) => void, slot: Slot): void {
  slot.es?.close();
  const es = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  slot.es = es;
  const finish = (status: RunStatus, error: string | null) => {
    es.close();
    if (slot.es === es) slot.es = null;
    patch({ status, error });
    void queryClient.invalidateQueries({ queryKey: keys.run(id) });
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
    announce({ kind: 'runs-changed' });
  };
  // Each finished stage goes straight into the cached run, so its views draw before the run ends.
  es.addEventListener('partial', (e) => {
    const ev = JSON.parse((e as MessageEvent<string>).data) as PartialEvent;
    queryClient.setQueryData<RunDetail>(keys.run(id), (old) => (old ? withPartial(old, ev) : old));
  });
  es.addEventListener('progress', (e) => {
    patch({ progress: JSON.parse((e as MessageEvent<string>).data) as AnalysisProgress });
  });
  es.addEventListener('status', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { status: RunStatus; error: string | null };
    if (FINAL.includes(d.status)) finish(d.status, d.error);
    else patch({ status: d.status });
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
  });
  es.onerror = () => {
    // The server ends the stream after the final status; an error before that means the connection dropped.
    if (slot.es !== es) return;
    es.close();
    slot.es = null;
    void queryClient.fetchQuery({ queryKey: keys.run(id), staleTime: 0 }).then(
      (r) => {
        const run = r as { status: RunStatus; error: string | null };
        if (FINAL.includes(run.status)) finish(run.status, run.error);
        else window.setTimeout(() => follow(id, patch, slot), 1_000);
      },
      () => patch({ status: 'failed', error: 'lost the connection to the server' }),
    );
  };
}

const single: Slot = { es: null };

export function watchRun(id: string): void {
  const { setLive, patchLive } = useWorkbench.getState();
  setLive({ id, status: 'queued', progress: null, error: null });
  follow(id, (p) => patchLive(id, p), single);
}

const twinSlots: { vanilla: Slot; myopic: Slot } = { vanilla: { es: null }, myopic: { es: null } };

/** Follows both twin runs; `initial` seeds each one's state (e.g. progress already known from a reload). */
export function watchTwins(vanilla: LiveRun, myopic: LiveRun): void {
  const { setTwinsLive, patchTwinLive } = useWorkbench.getState();
  setTwinsLive({ vanilla, myopic });
  for (const [role, run] of [
    ['vanilla', vanilla],
    ['myopic', myopic],
  ] as const) {
    if (FINAL.includes(run.status)) {
      twinSlots[role].es?.close();
      twinSlots[role].es = null;
    } else follow(run.id, (p) => patchTwinLive(run.id, p), twinSlots[role]);
  }
}
