// Prompt searches in the web app: typed calls to /api/searches behind TanStack Query hooks.
import { useQuery } from '@tanstack/react-query';
import type { CreateSearchRequest } from '@shared/search.js';
import { api } from './api';

/** The search calls of the app's one API client (shared/api.ts). */
export const searchesApi = {
  create: (body: CreateSearchRequest) => api.createSearch(body),
  get: (id: string) => api.search(id),
  list: () => api.searches(50),
  cancel: (id: string) => api.cancelSearch(id),
  remove: (id: string) => api.deleteSearch(id),
};

export const searchKeys = { one: (id: string) => ['search', id] as const, list: ['searches'] as const };

/** One search, refetched while it runs so the race is drawn live (intervals narrow, variants fall, round by round). */
export function useSearch(id: string) {
  return useQuery({
    queryKey: searchKeys.one(id),
    queryFn: () => searchesApi.get(id),
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 700 : false),
    staleTime: 0,
  });
}

export function useSearchList() {
  return useQuery({ queryKey: searchKeys.list, queryFn: searchesApi.list, refetchInterval: 3000, staleTime: 0 });
}
