// The one data layer: the shared typed ApiClient behind TanStack Query hooks (no scattered fetch calls);
// starting and cancelling a run go through the same client in state/useRunAction.ts.
import { keepPreviousData, useMutation, useQuery, useQueryClient, QueryClient } from '@tanstack/react-query';
import { ApiClient, ApiError, type RunDetail } from '@shared/api.js';
import { useWorkbench } from '../state/store';

export const api = new ApiClient('');

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 10_000,
    },
  },
});

export const keys = {
  models: ['models'] as const,
  run: (id: string) => ['run', id] as const,
  runs: (q: string) => ['runs', q] as const,
  allRuns: ['runs'] as const,
  compare: (ids: string[]) => ['compare', ...ids] as const,
};

const isLive = (r: RunDetail | undefined) => !!r && (r.status === 'queued' || r.status === 'running');

export function useModels() {
  return useQuery({ queryKey: keys.models, queryFn: () => api.models(), staleTime: Infinity });
}

/**
 * The model the draft runs on: the user's pick (remembered with the draft), else the bundled default, as the docs
 * promise, even when the server was started with extra model folders (its API default is then the first of those).
 */
export function pickModel<M extends { id: string; bundled: boolean }>(models: readonly M[], picked: string | null, serverDefault: string | null): M | undefined {
  return models.find((m) => m.id === picked) ?? models.find((m) => m.bundled) ?? models.find((m) => m.id === serverDefault) ?? models[0];
}

/** The model the draft runs on (pickModel) and its myopic twin, if offered. */
export function useChosenModel() {
  const { data } = useModels();
  const picked = useWorkbench((s) => s.draft.model);
  const models = data?.models ?? [];
  const chosen = pickModel(models, picked, data?.default ?? null);
  const twin = chosen ? models.find((m) => m.name === `${chosen.name}-myopic`) : undefined;
  // The first model of the other architecture (transformer vs RNN) that reads the same tokens, for "Run next to ...":
  // the server refuses a pair on two tokenizers (their token counts, losses and read maps do not line up).
  const isRnn = (m: { config: { modelType: string } }) => m.config.modelType.startsWith('rwkv');
  const other = chosen
    ? models.find((m) => m.id !== chosen.id && isRnn(m) !== isRnn(chosen) && !m.attentionProblem && m.tokenizer.id === chosen.tokenizer.id)
    : undefined;
  return { chosen, twin, other };
}

export function useActivationsEstimate(runId: string, hooks: string[]) {
  return useQuery({
    queryKey: ['activations-estimate', runId, ...hooks],
    queryFn: () => api.estimateActivations(runId, hooks),
    enabled: hooks.length > 0,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
}

/** The server's own words when it would refuse an export (asked only once the estimate says it is over the limit). */
export function useActivationsRefusal(runId: string, hooks: string[], overLimit: boolean) {
  return useQuery({
    queryKey: ['activations-refusal', runId, ...hooks],
    queryFn: () => api.activationsRefusal(runId, hooks),
    enabled: overLimit && hooks.length > 0,
    staleTime: 0,
    gcTime: 0,
  });
}

export function useRun(id: string | null) {
  return useQuery({
    queryKey: keys.run(id ?? ''),
    queryFn: () => api.run(id!),
    enabled: !!id,
    // Finished runs never change; live ones are refreshed by the SSE watcher, with a slow poll as a fallback.
    staleTime: (q) => (isLive(q.state.data) ? 0 : Infinity),
    refetchInterval: (q) => (isLive(q.state.data) ? 2_000 : false),
  });
}

export function useRunList(q: string, limit: number) {
  return useQuery({
    queryKey: [...keys.runs(q), limit],
    queryFn: () => api.runs({ q: q || undefined, limit }),
    placeholderData: keepPreviousData,
    staleTime: 0,
  });
}

/** The sidebar's history: runs, and one entry per experiment for its cells (under the runs key, so run changes refresh it). */
export function useHistory(q: string, limit: number) {
  return useQuery({
    queryKey: [...keys.allRuns, 'history', q, limit],
    queryFn: () => api.history({ q: q || undefined, limit }),
    placeholderData: keepPreviousData,
    staleTime: 0,
    // Run changes in this app refresh it through the runs key; a running experiment's row is polled for its progress,
    // and work started elsewhere (the CLI, a script) shows up within 15 s.
    refetchInterval: (query) => (query.state.data?.entries.some((e) => e.kind === 'experiment' && e.experiment.status === 'running') ? 3000 : 15_000),
  });
}

export function useComparison(ids: string[]) {
  return useQuery({ queryKey: keys.compare(ids), queryFn: () => api.compare(ids), enabled: ids.length >= 2, staleTime: Infinity });
}

export function useDeleteRun() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.deleteRun(id),
    onSuccess: (_v, id) => {
      qc.removeQueries({ queryKey: keys.run(id) });
      void qc.invalidateQueries({ queryKey: keys.allRuns });
    },
  });
}
