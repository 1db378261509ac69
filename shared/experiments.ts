// Experiments API contract (a prompt over many inputs, DESIGN "Over many inputs"): request schema, response types.
import { z } from 'zod';
import { AnalysisOptionsSchema, MAX_TEXT_CHARS } from './api.js';
import type { Interval } from './stats/bootstrap.js';

export type { Interval };

export const MAX_EXPERIMENT_PROMPTS = 50;
export const MAX_EXPERIMENT_INPUTS = 2000;

export const ExperimentOptionsSchema = AnalysisOptionsSchema.extend({
  /** Bootstrap resamples per interval and Monte Carlo sign flips per pair. */
  resamples: z.number().int().min(100).max(20_000).optional(),
  /** Seed of every resampling, so a report is reproducible. */
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
}).strict();
export type ExperimentOptions = z.infer<typeof ExperimentOptionsSchema>;

export const CreateExperimentSchema = z
  .object({
    model: z.string().min(1).max(200).optional(),
    /** Also run every cell on the model's myopic twin (`<model>-myopic`). */
    twin: z.boolean().optional(),
    /** Or run every cell also on this model (same tokenizer; e.g. the bundled RWKV next to a transformer). */
    with: z.string().min(1).max(200).optional(),
    label: z.string().max(200).optional(),
    prompts: z
      .array(z.object({ label: z.string().max(200).optional(), text: z.string().max(MAX_TEXT_CHARS) }).strict())
      .min(1, `needs 1 to ${MAX_EXPERIMENT_PROMPTS} prompts`)
      .max(MAX_EXPERIMENT_PROMPTS, `at most ${MAX_EXPERIMENT_PROMPTS} prompts`),
    inputs: z.union([
      z
        .object({
          texts: z
            .array(z.string().min(1, 'must not be empty').max(MAX_TEXT_CHARS))
            .min(1, `needs 1 to ${MAX_EXPERIMENT_INPUTS} texts`)
            .max(MAX_EXPERIMENT_INPUTS, `at most ${MAX_EXPERIMENT_INPUTS} texts`),
        })
        .strict(),
      z
        .object({
          set: z.string().min(1).max(100),
          count: z.number().int().min(1).max(MAX_EXPERIMENT_INPUTS).optional(),
          seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
        })
        .strict(),
    ]),
    options: ExperimentOptionsSchema.optional(),
  })
  .strict();
export type CreateExperimentRequest = z.infer<typeof CreateExperimentSchema>;

export type ExperimentStatus = 'running' | 'done' | 'failed' | 'cancelled';

export interface ExperimentInput {
  text: string;
  /** Where a bundled-set passage comes from. */
  source?: { set: string; doc: string; offset: number };
}

export interface ExperimentProgress {
  done: number;
  failed: number;
  total: number;
  /** Seconds left at the pace of the cells finished since this process started; null until one has. */
  etaS: number | null;
}

export type CellStatus = 'pending' | 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface ExperimentCell {
  prompt: number;
  input: number;
  /** Index into `models` (0: the model, 1: its myopic twin). */
  model: number;
  runId: string | null;
  status: CellStatus;
  error: string | null;
  meanBenefit: number | null;
  meanBenefitRead: number | null;
  precomputationShare: number | null;
  depthCurve: number[] | null;
  /** Pool mode: the worker that computed the cell's run (null: not yet, or this server's own process). */
  worker?: string | null;
}

export interface PromptSummary {
  prompt: number;
  model: number;
  /** Inputs with a finished cell (the statistics are over these). */
  n: number;
  meanBenefit: Interval | null;
  meanBenefitRead: Interval | null;
  /** pi over inputs: sum D_i(1) / sum D_i(0), pairs resampled together. */
  precomputationShare: Interval | null;
  depthCurve: Interval[];
  readShares: { layer: number; attention: Interval; normWeighted: Interval; sink: Interval }[];
  meanLossWithPrompt: Interval | null;
  meanLossNoPrompt: Interval | null;
}

export interface PairSummary {
  a: number;
  b: number;
  model: number;
  /** Inputs where both prompts finished. */
  n: number;
  /** mean_i (B_a,i - B_b,i) with a paired bootstrap CI, sign-flip p and Holm-adjusted p over all pairs. */
  meanBenefitDiff: (Interval & { p: number; pHolm: number }) | null;
}

export interface TwinSummary {
  prompt: number;
  n: number;
  /** Mean loss (with the prompt) of the myopic twin minus the model's, per input. */
  myopiaGap: Interval | null;
  /** The same without the prompt ([BOS] + X). */
  myopiaGapNoPrompt: Interval | null;
  /** pi(myopic) - pi(model), both ratios of means over the same resampled inputs. */
  precomputationShareDiff: Interval | null;
  /** Mean loss at input token t (1-based), over the inputs at least t tokens long. */
  lossByPosition: { position: number; count: number; withPrompt: [number, number]; noPrompt: [number, number] }[];
}

export interface ExperimentSummaryRow {
  id: string;
  label: string | null;
  status: ExperimentStatus;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  models: string[];
  prompts: number;
  inputs: number;
  progress: ExperimentProgress;
}

export interface ExperimentDetail {
  id: string;
  label: string | null;
  status: ExperimentStatus;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  /** Model ids: [model] or [model, its myopic twin]. */
  models: string[];
  options: ExperimentOptions;
  statistics: { resamples: number; seed: number; level: number };
  progress: ExperimentProgress;
  prompts: { label: string | null; text: string }[];
  inputs: ExperimentInput[];
  summary: PromptSummary[];
  pairs: PairSummary[];
  twins: TwinSummary[] | null;
  cells: ExperimentCell[];
}

/** What GET /api/input-sets lists. */
export interface InputSetSummary {
  id: string;
  title: string;
  size: number;
  /** For users: what the texts are, where they come from, that the bundled models never trained on them. */
  description?: string;
  /** For maintainers: how the set was cut and by which script. */
  provenance: string;
  licence: string;
  note?: string;
  documents: string[];
}
