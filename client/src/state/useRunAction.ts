// Starting and cancelling a run (or a twin pair): validates the draft, posts it, follows it over SSE, files errors by
// field.
import { useCallback } from 'react';
import { checkAnalysisRequest } from '@shared/analysis-input.js';
import { ApiError, type CreateRunRequest, type ModelSummary, type RunDetail, type TwinsRequest } from '@shared/api.js';
import { InputError } from '@shared/errors.js';
import { api, keys, pickModel, queryClient } from '../data/api';
import { watchRun, watchTwins } from '../data/runEvents';
import { announce } from '../data/tabSync';
import { useWorkbench } from './store';

export const isLiveStatus = (s: string | undefined) => s === 'queued' || s === 'running';

export function draftToRequest(): CreateRunRequest {
  const d = useWorkbench.getState().draft;
  const options: NonNullable<CreateRunRequest['options']> = { layerWindow: d.layerWindow };
  if (d.spans !== 'auto') options.spans = d.spans;
  // The model the picker shows (pickModel), so a run never lands on another model than the one on screen.
  const listed = queryClient.getQueryData<{ default: string | null; models: ModelSummary[] }>(keys.models);
  const model = listed ? pickModel(listed.models, d.model, listed.default)?.id : d.model;
  return {
    ...(model ? { model } : {}),
    prompt: d.prompt,
    input: d.input,
    options,
    ...(d.label.trim() ? { label: d.label.trim() } : {}),
    ...(d.parentId ? { parentId: d.parentId } : {}),
  };
}

/** On a narrow screen the results sit below the form: bring them into view once a run starts. */
function revealResults(): void {
  if (typeof window === 'undefined' || !window.matchMedia('(max-width: 900px)').matches) return;
  window.requestAnimationFrame(() => document.getElementById('results')?.scrollIntoView({ behavior: 'smooth', block: 'start' }));
}

/** The server's own text-level checks (markers, empty prompt or input), run here first so the error shows at once. */
function localError(): Record<string, string> | null {
  const req = draftToRequest();
  try {
    checkAnalysisRequest({ prompt: req.prompt, input: req.input, options: req.options?.spans ? { spans: req.options.spans } : undefined });
    return null;
  } catch (e) {
    if (e instanceof InputError) return { [e.field ?? 'body']: e.message };
    return { prompt: (e as Error).message };
  }
}

export async function startRun(): Promise<void> {
  const s = useWorkbench.getState();
  // `starting` is set before the request goes out, so a second Ctrl+Enter while it is in flight cannot start a twin run.
  if (s.starting || (s.live && isLiveStatus(s.live.status))) return;
  const local = localError();
  if (local) {
    s.setFieldErrors(local);
    return;
  }
  s.setFieldErrors({});
  s.setStarting(true);
  try {
    const { id } = await api.createRun(draftToRequest());
    watchRun(id);
    useWorkbench.getState().openRun(id);
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
    announce({ kind: 'runs-changed' });
    revealResults();
  } catch (e) {
    if (e instanceof ApiError) s.setFieldErrors({ [e.field ?? 'body']: e.message });
    else s.setFieldErrors({ body: `could not reach the server: ${(e as Error).message}` });
  } finally {
    useWorkbench.getState().setStarting(false);
  }
}

export async function cancelLiveRun(): Promise<void> {
  const live = useWorkbench.getState().live;
  if (!live || !isLiveStatus(live.status)) return;
  try {
    await api.cancelRun(live.id);
  } catch (e) {
    // 409: it finished meanwhile; the SSE stream reports the real end.
    if (!(e instanceof ApiError && e.status === 409)) useWorkbench.getState().setFieldErrors({ body: (e as Error).message });
  }
}

export const twinsBusy = () => {
  const t = useWorkbench.getState().twinsLive;
  return !!t && (isLiveStatus(t.vanilla.status) || isLiveStatus(t.myopic.status));
};

/** Runs the draft's prompt and input on the chosen model and on its myopic twin, then opens the twins view. */
/** Runs the draft on the chosen model and its myopic twin, or (`withId`) on the chosen model and that model. */
export async function startTwins(withId?: string): Promise<void> {
  const s = useWorkbench.getState();
  if (twinsBusy()) return;
  const local = localError();
  if (local) {
    s.setFieldErrors(local);
    return;
  }
  s.setFieldErrors({});
  const { parentId: _parent, ...req } = draftToRequest();
  const body: TwinsRequest = withId ? { ...req, with: withId } : req;
  try {
    const { vanilla, myopic } = await api.createTwinRuns(body);
    watchTwins({ id: vanilla.id, status: vanilla.status, progress: null, error: null }, { id: myopic.id, status: myopic.status, progress: null, error: null });
    useWorkbench.getState().openTwins([vanilla.id, myopic.id]);
    void queryClient.invalidateQueries({ queryKey: keys.allRuns });
    announce({ kind: 'runs-changed' });
    revealResults();
  } catch (e) {
    if (e instanceof ApiError) s.setFieldErrors({ [e.field ?? 'body']: e.message });
    else s.setFieldErrors({ body: `could not reach the server: ${(e as Error).message}` });
  }
}

export async function cancelTwins(): Promise<void> {
  const t = useWorkbench.getState().twinsLive;
  if (!t) return;
  for (const r of [t.vanilla, t.myopic]) {
    if (!isLiveStatus(r.status)) continue;
    try {
      await api.cancelRun(r.id);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) useWorkbench.getState().setFieldErrors({ body: (e as Error).message });
    }
  }
}

export function useRunAction() {
  return {
    start: useCallback(() => void startRun(), []),
    cancel: useCallback(() => void cancelLiveRun(), []),
    startTwins: useCallback((withId?: string) => void startTwins(withId), []),
    cancelTwins: useCallback(() => void cancelTwins(), []),
  };
}

/** Copies a run's prompt and input into the editor as a fork of it, and puts the cursor in the prompt. */
export function forkIntoEditor(run: RunDetail): void {
  useWorkbench.getState().forkRun(run);
  document.getElementById('prompt')?.focus();
}
