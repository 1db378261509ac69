// Follows a live run through its SSE stream (progress + status) and refreshes the cached run when it ends.
import type { AnalysisProgress } from '@shared/analysis.js';
import type { RunStatus } from '@shared/api.js';
import { useWorkbench } from '../state/store';
import { keys, queryClient } from './api';

const FINAL: RunStatus[] = ['done', 'failed', 'cancelled'];
let current: EventSource | null = null;

export function watchRun(id: string): void {
  current?.close();
  const { setLive, patchLive } = useWorkbench.getState();
  setLive({ id, status: 'queued', progress: null, error: null });
  const es = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
  current = es;
  const finish = (status: RunStatus, error: string | null) => {
    es.close();
    if (current === es) current = null;
    patchLive(id, { status, error });
    void queryClient.invalidateQueries({ queryKey: keys.run(id) });
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
  };
  es.addEventListener('progress', (e) => {
    patchLive(id, { progress: JSON.parse((e as MessageEvent<string>).data) as AnalysisProgress });
  });
  es.addEventListener('status', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { status: RunStatus; error: string | null };
    if (FINAL.includes(d.status)) finish(d.status, d.error);
    else patchLive(id, { status: d.status });
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
  });
  es.onerror = () => {
    // The server ends the stream after the final status; an error before that means the connection dropped.
    if (current !== es) return;
    es.close();
    current = null;
    void queryClient.fetchQuery({ queryKey: keys.run(id), staleTime: 0 }).then(
      (r) => {
        const run = r as { status: RunStatus; error: string | null };
        if (FINAL.includes(run.status)) finish(run.status, run.error);
        else window.setTimeout(() => watchRun(id), 1_000);
      },
      () => patchLive(id, { status: 'failed', error: 'lost the connection to the server' }),
    );
  };
}
