// The draft's live token counts (prompt without its span markers, input) on the chosen model, debounced, from
// POST /api/tokenize through the shared ApiClient.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { parseMarkedPrompt } from '@shared/metrics/spans.js';
import { api, useChosenModel } from './api';
import { useWorkbench } from '../state/store';
import { useDebounced } from './useDebounced';

/** The prompt's text as the model sees it, or null while its markers do not parse (the editor shows that error). */
function promptText(raw: string): string | null {
  try {
    return parseMarkedPrompt(raw).text;
  } catch {
    return null;
  }
}

export interface DraftTokens {
  prompt: number | null;
  input: number | null;
  nCtx: number | null;
}

export function useDraftTokenCounts(): DraftTokens {
  const { chosen } = useChosenModel();
  const prompt = useDebounced(useWorkbench((s) => s.draft.prompt), 300);
  const input = useDebounced(useWorkbench((s) => s.draft.input), 300);
  const p = promptText(prompt);
  const q = useQuery({
    queryKey: ['token-count', chosen?.id ?? '', p ?? '', input],
    queryFn: () => api.countTokens({ ...(chosen ? { model: chosen.id } : {}), texts: [p ?? '', input] }),
    enabled: !!chosen,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    retry: false,
  });
  const c = q.data;
  return { prompt: c && p !== null ? c.counts[0] : null, input: c ? c.counts[1] : null, nCtx: c?.nCtx ?? chosen?.config.nCtx ?? null };
}
