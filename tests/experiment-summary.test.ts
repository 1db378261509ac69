// Experiment statistics from cells: per-prompt means and ratio of means, pairs (all or against the first) with Holm, twins.
import { describe, expect, it } from 'vitest';
import type { CellMetrics } from '../server/experiments/cell-metrics.js';
import { ALL_PAIRS_MAX_PROMPTS, pairSummaries, promptPairs, promptSummaries, twinSummaries, type CellGrid } from '../server/experiments/summary.js';
import { holm } from '../shared/stats/index.js';

const S = { resamples: 300, seed: 1, level: 0.95 };

function cell(b: number, d0: number, d1: number, loss: number[] = [3, 2, 1]): CellMetrics {
  return {
    meanBenefit: b,
    meanBenefitRead: b / 2,
    precomputationShare: d0 ? d1 / d0 : null,
    depthCurve: [d0, d1, 0],
    attention: [0.1, 0.2],
    normWeighted: [0.3, 0.4],
    sink: [0.5, 0.6],
    meanLossWithPrompt: loss.reduce((a, x) => a + x, 0) / loss.length,
    meanLossNoPrompt: loss.reduce((a, x) => a + x, 0) / loss.length + b,
    lossWithPrompt: loss,
    lossNoPrompt: loss.map((x) => x + b),
  };
}

describe('experiment summaries', () => {
  it('summarises only finished cells; pi is sum D(1) / sum D(0), not a mean of ratios', () => {
    const grid: CellGrid = [[[cell(1, 2, 1), cell(3, 0.001, 1), null]]];
    const [s] = promptSummaries(grid, S);
    expect(s.n).toBe(2);
    expect(s.meanBenefit!.mean).toBe(2);
    expect(s.precomputationShare!.mean).toBeCloseTo(2 / 2.001, 12);
    expect(s.depthCurve.map((x) => x.mean)).toEqual([(2 + 0.001) / 2, 1, 0]);
    expect(s.readShares[1].normWeighted.mean).toBeCloseTo(0.4, 12);
  });

  it('a prompt with no finished cell has no intervals', () => {
    const [s] = promptSummaries([[[null, null]]], S);
    expect(s).toMatchObject({ n: 0, meanBenefit: null, precomputationShare: null, depthCurve: [], readShares: [] });
  });

  it('pairs use only inputs where both prompts finished, and Holm adjusts over all pairs', () => {
    const grid: CellGrid = [
      [
        [cell(1, 1, 1), cell(2, 1, 1), cell(3, 1, 1), null],
        [cell(0.5, 1, 1), cell(1, 1, 1), cell(2.5, 1, 1), cell(9, 1, 1)],
        [cell(1, 1, 1), cell(2, 1, 1), cell(3, 1, 1), cell(4, 1, 1)],
      ],
    ];
    const pairs = pairSummaries(grid, S);
    expect(pairs.map((p) => [p.a, p.b])).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ]);
    expect(pairs[0].n).toBe(3);
    expect(pairs[0].meanBenefitDiff!.mean).toBeCloseTo((0.5 + 1 + 0.5) / 3, 12);
    // Identical prompts: every difference is 0, so p = 1.
    expect(pairs[1].meanBenefitDiff).toMatchObject({ mean: 0, p: 1 });
    expect(pairs.map((p) => p.meanBenefitDiff!.pHolm)).toEqual(holm(pairs.map((p) => p.meanBenefitDiff!.p)));
  });

  it('with more than ALL_PAIRS_MAX_PROMPTS prompts, each prompt is compared with the first', () => {
    expect(promptPairs(3)).toHaveLength(3);
    expect(promptPairs(ALL_PAIRS_MAX_PROMPTS + 1)).toEqual(Array.from({ length: ALL_PAIRS_MAX_PROMPTS }, (_, k) => [0, k + 1]));
  });

  it('twins: myopia gap is the paired loss difference; loss by position averages the inputs that long', () => {
    const vanilla = [cell(1, 2, 1, [3, 2, 1]), cell(1, 2, 1, [4, 2])];
    const myopic = [cell(0.5, 2, 0.5, [3.5, 2.5, 1.5]), cell(0.5, 2, 0.5, [4.5, 2.5])];
    const [t] = twinSummaries([[vanilla], [myopic]], S);
    expect(t.n).toBe(2);
    expect(t.myopiaGap!.mean).toBeCloseTo(0.5, 12);
    expect(t.precomputationShareDiff!.mean).toBeCloseTo(0.25 - 0.5, 12);
    expect(t.lossByPosition).toEqual([
      { position: 1, count: 2, withPrompt: [3.5, 4], noPrompt: [4.5, 4.5] },
      { position: 2, count: 2, withPrompt: [2, 2.5], noPrompt: [3, 3] },
      { position: 3, count: 1, withPrompt: [1, 1.5], noPrompt: [2, 2] },
    ]);
  });
});
