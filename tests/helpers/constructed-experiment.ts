// A hand-made finished experiment (3 prompts x 8 inputs) whose prompts all raise the loss, for tests of how results are read.
import type { ExperimentDetail, PromptSummary } from '../../shared/experiments.js';

const iv = (mean: number, lo: number, hi: number) => ({ mean, lo, hi });

function prompt(k: number, b: [number, number, number], pi: [number, number, number]): PromptSummary {
  return {
    prompt: k,
    model: 0,
    n: 8,
    meanBenefit: iv(...b),
    meanBenefitRead: iv(...b),
    precomputationShare: iv(...pi),
    depthCurve: [iv(b[0], b[1], b[2]), iv(b[0] / 2, b[1], 0.01), iv(0, 0, 0)],
    readShares: [],
    meanLossWithPrompt: iv(4, 3.8, 4.2),
    meanLossNoPrompt: iv(3.9, 3.7, 4.1),
  };
}

/** All three prompts raise the loss (mean B < 0), so every π is "not a share"; P1 vs P3 has raw p 0.039 but Holm p 0.117. */
export function constructedExperiment(id = '00000000-0000-4000-8000-000000000024'): ExperimentDetail {
  return {
    id,
    label: 'Constructed: prompts that hurt',
    status: 'done',
    createdAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    error: null,
    models: ['precache-gpt2'],
    options: {},
    statistics: { resamples: 1000, seed: 1, level: 0.95 },
    progress: { done: 24, failed: 0, total: 24, etaS: null },
    prompts: [
      { label: null, text: 'Once upon a time,' },
      { label: null, text: 'The President said to the Congress:' },
      { label: 'recipe', text: 'Recipe: apple pie.' },
    ],
    inputs: Array.from({ length: 8 }, (_, i) => ({ text: `Input text number ${i + 1}.` })),
    summary: [prompt(0, [-0.05, -0.12, 0.02], [1.6, -3.2, 6.4]), prompt(1, [-0.3, -0.45, -0.15], [0.4, -0.5, 1.2]), prompt(2, [-0.1, -0.2, -0.01], [0.8, 0.1, 2.1])],
    pairs: [
      { a: 0, b: 1, model: 0, n: 8, meanBenefitDiff: { ...iv(0.25, 0.12, 0.38), p: 0.004, pHolm: 0.012 } },
      { a: 0, b: 2, model: 0, n: 8, meanBenefitDiff: { ...iv(0.05, 0.004, 0.1), p: 0.039, pHolm: 0.117 } },
      { a: 1, b: 2, model: 0, n: 8, meanBenefitDiff: { ...iv(-0.2, -0.35, -0.06), p: 0.02, pHolm: 0.04 } },
    ],
    twins: null,
    cells: Array.from({ length: 24 }, (_, c) => ({
      prompt: Math.floor(c / 8),
      input: c % 8,
      model: 0,
      runId: null,
      status: 'done' as const,
      error: null,
      meanBenefit: -0.1,
      meanBenefitRead: -0.1,
      precomputationShare: 0.5,
      depthCurve: [-0.1, -0.05, 0],
    })),
  };
}
