// Workbench state outside the components: the draft being edited, the live run, the open view and the linked selection.
import { create } from 'zustand';
import { createJSONStorage, persist, type StateStorage } from 'zustand/middleware';
import type { AnalysisProgress } from '@shared/analysis.js';
import type { RunDetail, RunStatus } from '@shared/api.js';
import type { SpanMode } from '@shared/metrics/spans.js';

export type SpanChoice = SpanMode | 'auto';

export interface Draft {
  model: string | null;
  prompt: string;
  input: string;
  label: string;
  /** Set when the draft was forked from a run; sent as the new run's parentId. */
  parentId: string | null;
  spans: SpanChoice;
  layerWindow: number;
}

export interface LiveRun {
  id: string;
  status: RunStatus;
  progress: AnalysisProgress | null;
  error: string | null;
}

/** `twins`: one prompt and input on a model (ids[0], vanilla) and its myopic twin (ids[1]), side by side. */
export type View = { kind: 'empty' } | { kind: 'run'; id: string } | { kind: 'compare'; ids: string[] } | { kind: 'twins'; ids: [string, string] } | { kind: 'experiments'; id: string | null } | { kind: 'search'; id: string | null };

export type TwinRole = 'vanilla' | 'myopic';
/** The two live runs started by "Run on both twins". */
export type TwinsLive = Record<TwinRole, LiveRun>;

/** What the user pointed at; every chart highlights it. */
export interface Selection {
  layer: number | null;
  /** Index into the open run's result.spans. */
  span: number | null;
}

interface WorkbenchState {
  draft: Draft;
  fieldErrors: Record<string, string>;
  /** True from the moment Run is pressed until the server answers: a second press in between is ignored. */
  starting: boolean;
  live: LiveRun | null;
  twinsLive: TwinsLive | null;
  view: View;
  compareIds: string[];
  selection: Selection;

  editDraft: (patch: Partial<Draft>) => void;
  forkRun: (run: RunDetail) => void;
  clearParent: () => void;
  setFieldErrors: (errors: Record<string, string>) => void;
  setStarting: (starting: boolean) => void;
  setLive: (live: LiveRun | null) => void;
  patchLive: (id: string, patch: Partial<LiveRun>) => void;
  setTwinsLive: (twins: TwinsLive | null) => void;
  patchTwinLive: (id: string, patch: Partial<LiveRun>) => void;
  openTwins: (ids: [string, string]) => void;
  openRun: (id: string) => void;
  openCompare: (ids: string[]) => void;
  closeView: () => void;
  /** The experiments page: the builder and history (id null) or one experiment's results. */
  openExperiments: (id: string | null) => void;
  /** The search page: the builder and history (id null) or one search's race and finalists. */
  openSearch: (id: string | null) => void;
  toggleCompare: (id: string) => void;
  clearCompare: () => void;
  forgetRun: (id: string) => void;
  selectLayer: (layer: number | null) => void;
  selectSpan: (span: number | null) => void;
}

export const MAX_COMPARE = 4;

export const EXAMPLE_DRAFT: Draft = {
  model: null,
  prompt: 'Recipe: {{dish|apple pie}}.\nIngredients: apples, sugar, flour, butter.\n',
  input: 'Peel the apples and mix them with sugar.',
  label: '',
  parentId: null,
  spans: 'auto',
  layerWindow: 1,
};

/**
 * Each tab keeps its own draft (sessionStorage survives a reload of that tab only); the last draft written by any tab
 * (localStorage) seeds a new tab, so two tabs never overwrite each other's prompt.
 */
const tabDraftStorage: StateStorage = {
  getItem: (k) => sessionStorage.getItem(k) ?? localStorage.getItem(k),
  setItem: (k, v) => {
    sessionStorage.setItem(k, v);
    localStorage.setItem(k, v);
  },
  removeItem: (k) => {
    sessionStorage.removeItem(k);
  },
};

export const useWorkbench = create<WorkbenchState>()(
  persist(
    (set) => ({
      draft: EXAMPLE_DRAFT,
      fieldErrors: {},
      starting: false,
      live: null,
      twinsLive: null,
      view: { kind: 'empty' },
      compareIds: [],
      selection: { layer: null, span: null },

      editDraft: (patch) =>
        set((s) => {
          // An edit clears the error of the field it touches, so stale messages never sit beside fixed text.
          const fieldErrors = { ...s.fieldErrors };
          for (const k of Object.keys(patch)) {
            delete fieldErrors[k];
            if (k === 'spans' || k === 'layerWindow') delete fieldErrors[`options.${k}`];
          }
          delete fieldErrors.body;
          return { draft: { ...s.draft, ...patch }, fieldErrors };
        }),
      forkRun: (run) =>
        set({
          draft: {
            model: run.modelId,
            prompt: run.prompt,
            input: run.input,
            label: `${run.label ?? 'run'} · fork`,
            parentId: run.id,
            spans: (run.options.spans as SpanMode | undefined) ?? 'auto',
            layerWindow: typeof run.options.layerWindow === 'number' ? run.options.layerWindow : 1,
          },
          fieldErrors: {},
        }),
      clearParent: () => set((s) => ({ draft: { ...s.draft, parentId: null } })),
      setFieldErrors: (fieldErrors) => set({ fieldErrors }),
      setStarting: (starting) => set({ starting }),
      setLive: (live) => set({ live }),
      patchLive: (id, patch) => set((s) => (s.live && s.live.id === id ? { live: { ...s.live, ...patch } } : {})),
      setTwinsLive: (twinsLive) => set({ twinsLive }),
      patchTwinLive: (id, patch) =>
        set((s) => {
          const t = s.twinsLive;
          if (!t) return {};
          if (t.vanilla.id === id) return { twinsLive: { ...t, vanilla: { ...t.vanilla, ...patch } } };
          if (t.myopic.id === id) return { twinsLive: { ...t, myopic: { ...t.myopic, ...patch } } };
          return {};
        }),
      openTwins: (ids) => set((s) => ({ view: { kind: 'twins', ids }, selection: s.view.kind === 'twins' && s.view.ids.join() === ids.join() ? s.selection : { layer: null, span: null } })),
      openRun: (id) => set((s) => ({ view: { kind: 'run', id }, selection: s.view.kind === 'run' && s.view.id === id ? s.selection : { layer: null, span: null } })),
      openCompare: (ids) => set({ view: { kind: 'compare', ids: ids.slice(0, MAX_COMPARE) }, compareIds: ids.slice(0, MAX_COMPARE), selection: { layer: null, span: null } }),
      closeView: () => set({ view: { kind: 'empty' } }),
      openExperiments: (id) => set({ view: { kind: 'experiments', id } }),
      openSearch: (id) => set({ view: { kind: 'search', id } }),
      toggleCompare: (id) =>
        set((s) => {
          if (s.compareIds.includes(id)) return { compareIds: s.compareIds.filter((x) => x !== id) };
          if (s.compareIds.length >= MAX_COMPARE) return {};
          return { compareIds: [...s.compareIds, id] };
        }),
      clearCompare: () => set({ compareIds: [] }),
      forgetRun: (id) =>
        set((s) => {
          const compareIds = s.compareIds.filter((x) => x !== id);
          let view = s.view;
          if (view.kind === 'run' && view.id === id) view = { kind: 'empty' };
          if (view.kind === 'compare' && view.ids.includes(id)) {
            const ids = view.ids.filter((x) => x !== id);
            view = ids.length >= 2 ? { kind: 'compare', ids } : { kind: 'empty' };
          }
          if (view.kind === 'twins' && view.ids.includes(id)) view = { kind: 'empty' };
          const draft = s.draft.parentId === id ? { ...s.draft, parentId: null } : s.draft;
          return { compareIds, view, draft };
        }),
      selectLayer: (layer) => set((s) => ({ selection: { ...s.selection, layer: s.selection.layer === layer ? null : layer } })),
      selectSpan: (span) => set((s) => ({ selection: { ...s.selection, span: s.selection.span === span ? null : span } })),
    }),
    {
      name: 'precache-lens.workbench',
      version: 1,
      storage: createJSONStorage(() => tabDraftStorage),
      // Only the draft survives a reload; the open view comes from the URL hash, runs from the server.
      partialize: (s) => ({ draft: s.draft }),
    },
  ),
);
