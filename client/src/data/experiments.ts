// Experiments in the web app: typed calls to /api/experiments and /api/input-sets behind TanStack Query hooks.
import { useQuery } from '@tanstack/react-query';
import type { CreateExperimentRequest } from '@shared/experiments.js';
import { api } from './api';

/** The experiment calls of the app's one API client (shared/api.ts). */
export const experimentsApi = {
  create: (body: CreateExperimentRequest) => api.createExperiment(body),
  get: (id: string) => api.experiment(id),
  list: () => api.experiments(50),
  cancel: (id: string) => api.cancelExperiment(id),
  remove: (id: string) => api.deleteExperiment(id),
  inputSets: () => api.inputSets(),
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
