// Experiments in the web app: typed calls to /api/experiments and /api/input-sets behind TanStack Query hooks.
import { useQuery } from '@tanstack/react-query';
import { ApiError, type ApiErrorBody } from '@shared/api.js';
import type { CreateExperimentRequest, ExperimentDetail, ExperimentSummaryRow, InputSetSummary } from '@shared/experiments.js';

async function req<T>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(path, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(r.status, `server sent non-JSON (${r.status}): ${text.slice(0, 200)}`);
  }
  if (!r.ok) {
    const e = (data ?? {}) as ApiErrorBody;
    throw new ApiError(r.status, e.error ?? `HTTP ${r.status}`, e.field);
  }
  return data as T;
}

export const experimentsApi = {
  create: (body: CreateExperimentRequest) => req<{ id: string; status: string }>('POST', '/api/experiments', body),
  get: (id: string) => req<ExperimentDetail>('GET', `/api/experiments/${encodeURIComponent(id)}`),
  list: () => req<{ total: number; experiments: ExperimentSummaryRow[] }>('GET', '/api/experiments?limit=50'),
  cancel: (id: string) => req<{ id: string; status: string }>('POST', `/api/experiments/${encodeURIComponent(id)}/cancel`),
  remove: (id: string) => req<void>('DELETE', `/api/experiments/${encodeURIComponent(id)}`),
  inputSets: () => req<{ sets: InputSetSummary[] }>('GET', '/api/input-sets'),
};

export const experimentKeys = { one: (id: string) => ['experiment', id] as const, list: ['experiments'] as const, sets: ['input-sets'] as const };

/** One experiment, refetched every second while it runs (the matrix fills cell by cell). */
export function useExperiment(id: string) {
  return useQuery({
    queryKey: experimentKeys.one(id),
    queryFn: () => experimentsApi.get(id),
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 1000 : false),
    staleTime: 0,
  });
}

export function useExperimentList() {
  return useQuery({ queryKey: experimentKeys.list, queryFn: experimentsApi.list, refetchInterval: 3000, staleTime: 0 });
}

export function useInputSets() {
  return useQuery({ queryKey: experimentKeys.sets, queryFn: experimentsApi.inputSets, staleTime: Infinity });
}

/** Texts separated by lines holding only `---` (the batch and CLI format; shared/experiment-inputs.ts). */
export { splitBlocks as splitTextBlocks, parseTexts } from '@shared/experiment-inputs.js';
