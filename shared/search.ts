// Prompt search API contract (DESIGN "Searching for a prompt"): request schema, caps, response types.
import { z } from 'zod';
import { MAX_TEXT_CHARS } from './api.js';
import { CreateExperimentSchema, type ExperimentInput } from './experiments.js';
import type { Interval } from './stats/bootstrap.js';

/** Variants one search may race (a list, a template's expansion, or ablations plus reorderings). */
export const MAX_SEARCH_VARIANTS = 64;
/** Sentence reorderings an ablation search may add. */
export const MAX_REORDERINGS = 24;
/** Alternatives one template segment may carry. */
export const MAX_ALTERNATIVES = 32;
/** A search needs inputs to race on and inputs to hold out. */
export const MIN_SEARCH_INPUTS = 4;
/** Budget in seconds at most one day; in cells at most the whole grid of the largest search. */
export const MAX_BUDGET_SECONDS = 86_400;
export const MAX_BUDGET_CELLS = MAX_SEARCH_VARIANTS * 2000;

export const SEARCH_OBJECTIVES = ['benefit', 'benefitAtPromptPositions'] as const;
export type SearchObjective = (typeof SEARCH_OBJECTIVES)[number];

export const SearchOptionsSchema = z
  .object({
    /** Share of the inputs held out of the race, for the finalists' reported figures (default 0.25). */
    heldOut: z.number().min(0.1).max(0.5).optional(),
    /** Inputs in the first round; each later round doubles the inputs seen (default 8). */
    firstBatch: z.number().int().min(2).max(256).optional(),
    /** Successive halving on top of the interval drops: each round keeps at most the better half (default true). */
    halving: z.boolean().optional(),
    /** Confidence level of every interval (default 0.95); the race's drop rule splits 1 - level over the comparisons of a round. */
    level: z.number().min(0.8).max(0.995).optional(),
    /** Variants confirmed on the held-out inputs and explained (default 3). */
    finalists: z.number().int().min(1).max(5).optional(),
    /** Held-out inputs each finalist gets a full analysis on (D(k), pi, read shares; default 4, 0 for none). */
    explainInputs: z.number().int().min(0).max(16).optional(),
    /** Sampled continuations of each finalist's prompt (default 3) and their length in tokens (default 16). */
    continuations: z.number().int().min(0).max(8).optional(),
    continuationTokens: z.number().int().min(1).max(64).optional(),
    /** Seed of the held-out split, the reorderings and the sampled continuations (default 1). */
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  })
  .strict();
export type SearchOptions = z.infer<typeof SearchOptionsSchema>;

/** One of: a list of prompts, a template with alternatives, or a prompt to ablate (an object, so errors name the field). */
export const SearchVariantsSchema = z
  .object({
    prompts: z
      .array(z.union([z.string().max(MAX_TEXT_CHARS), z.object({ text: z.string().max(MAX_TEXT_CHARS), label: z.string().max(200).optional() }).strict()]))
      .min(2, `needs 2 to ${MAX_SEARCH_VARIANTS} prompts`)
      .max(MAX_SEARCH_VARIANTS, `at most ${MAX_SEARCH_VARIANTS} prompts (the variant cap)`)
      .optional(),
    template: z.string().min(1, 'must not be empty').max(MAX_TEXT_CHARS).optional(),
    ablate: z.string().min(1, 'must not be empty').max(MAX_TEXT_CHARS).optional(),
    /** With `ablate`: also this many seeded reorderings of the prompt's sentences (default 0). */
    reorder: z.number().int().min(0).max(MAX_REORDERINGS, `at most ${MAX_REORDERINGS} reorderings (the reordering cap)`).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const given = (['prompts', 'template', 'ablate'] as const).filter((k) => v[k] !== undefined);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', message: `give exactly one of prompts, template or ablate${given.length ? ` (got ${given.join(' and ')})` : ''}`, path: [] });
    if (v.reorder !== undefined && v.ablate === undefined) ctx.addIssue({ code: 'custom', message: 'reorder goes with ablate', path: ['reorder'] });
  });
export type SearchVariantsRequest = z.infer<typeof SearchVariantsSchema>;

export const CreateSearchSchema = z
  .object({
    model: z.string().min(1).max(200).optional(),
    label: z.string().max(200).optional(),
    variants: SearchVariantsSchema,
    inputs: CreateExperimentSchema.shape.inputs,
    budget: z
      .object({
        cells: z.number().int().min(1).max(MAX_BUDGET_CELLS).optional(),
        seconds: z.number().min(1).max(MAX_BUDGET_SECONDS).optional(),
      })
      .strict()
      .optional(),
    objective: z.enum(SEARCH_OBJECTIVES).optional(),
    options: SearchOptionsSchema.optional(),
  })
  .strict();
export type CreateSearchRequest = z.infer<typeof CreateSearchSchema>;

/** One prompt raced: an ordinary (marked) prompt, so it opens as a run. */
export interface SearchVariant {
  text: string;
  label: string;
}

export type SearchStatus = 'running' | 'done' | 'failed' | 'cancelled';
/** What a running search is doing: racing, measuring finalists on held-out inputs, explaining them, finished. */
export type SearchPhase = 'race' | 'held-out' | 'explain' | 'done';
export type VariantStatus = 'live' | 'dropped' | 'finalist';

export interface SearchRound {
  /** Race inputs seen by the end of this round (the first `inputs` of the race order). */
  inputs: number;
  /** Variants live during this round (indices into `variants`). */
  live: number[];
  /** The round's leader and the variants it dropped. */
  leader: number;
  dropped: number[];
}

export interface SearchVariantState {
  text: string;
  label: string;
  status: VariantStatus;
  /** The round (0-based) after which it was dropped, or null. */
  roundDropped: number | null;
  /** Its objective over the race inputs it ran on (selection figures: biased upward for the leader; see heldOut). */
  estimate: Interval | null;
  n: number;
  /** Paired interval against the leader of the last round it ran in (null for that leader). */
  vsLeader: Interval | null;
}

export interface SearchFinalist {
  variant: number;
  /** From inputs the race never used: the objective's mean with its interval, and against the winner (paired). */
  heldOut: { meanBenefit: Interval | null; n: number; vsWinner: Interval | null };
  /** sum D_i(1) / sum D_i(0) over the explained held-out inputs (ratio of means, bootstrap interval). */
  precomputationShare: Interval | null;
  /**
   * Of the winner's lead over this finalist on the explained inputs (the difference of their D(0)), the part read
   * from precomputation: sum_i (D_w,i(1) - D_k,i(1)) / sum_i (D_w,i(0) - D_k,i(0)), pairs resampled together; null for
   * the winner itself or with fewer than two explained inputs.
   */
  leadPrecomputationShare: Interval | null;
  /** Mean D(k), k = 0..L, over the explained inputs. */
  depthCurve: Interval[] | null;
  /** Run ids of the full analyses (ordinary runs: they open in the workbench). */
  runIds: string[];
  continuations: string[];
  /** The most probable next tokens after the prompt. */
  nextTokens: { token: string; prob: number }[];
}

export interface SearchProgress {
  /** Racing cells (variant x input) computed, and the most the search can still compute (budget or grid). */
  cells: number;
  maxCells: number;
  /** Seconds left at this process's pace, or null before a cell has finished here. */
  etaS: number | null;
}

export interface SearchDetail {
  id: string;
  label: string | null;
  status: SearchStatus;
  phase: SearchPhase;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  model: string;
  objective: SearchObjective;
  budget: { cells?: number; seconds?: number };
  options: Required<SearchOptions>;
  /** Why the race stopped: one variant left, race inputs used up, budget spent; null while racing. */
  stopReason: 'one-left' | 'inputs' | 'budget-cells' | 'budget-seconds' | 'cancelled' | null;
  inputs: ExperimentInput[];
  /** The inputs the race may use (in the order it uses them) and those held out for the finalists. */
  raceInputs: number[];
  heldOutInputs: number[];
  progress: SearchProgress;
  rounds: SearchRound[];
  variants: SearchVariantState[];
  finalists: SearchFinalist[];
  /** Held-out lead of the winner over the runner-up (paired; null with fewer than two finalists). */
  lead: Interval | null;
  /** Racing cells computed (race and held-out), next to the full grid variants x inputs. */
  cells: number;
  gridCells: number;
  /** Engine work shared by the cells: the no-prompt baselines run, once per input. */
  baselines: number;
  /** The experiment of the finalists' full analyses on held-out inputs (it opens on the Experiments page). */
  experimentId: string | null;
}

export interface SearchSummaryRow {
  id: string;
  label: string | null;
  status: SearchStatus;
  phase: SearchPhase;
  createdAt: string;
  model: string;
  variants: number;
  inputs: number;
  cells: number;
  winner: string | null;
}

/** Defaults of every option, applied once (server and reports agree). */
export function searchOptionsWithDefaults(o: SearchOptions = {}): Required<SearchOptions> {
  return {
    heldOut: o.heldOut ?? 0.25,
    firstBatch: o.firstBatch ?? 8,
    halving: o.halving ?? true,
    level: o.level ?? 0.95,
    finalists: o.finalists ?? 3,
    explainInputs: o.explainInputs ?? 4,
    continuations: o.continuations ?? 3,
    continuationTokens: o.continuationTokens ?? 16,
    seed: o.seed ?? 1,
  };
}
