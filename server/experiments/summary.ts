// Experiment statistics from finished cells: per prompt, per pair of prompts (paired, Holm) and per twin pair.
import type { Interval, PairSummary, PromptSummary, TwinSummary } from '../../shared/experiments.js';
import { bootstrapMean, bootstrapRatioOfMeans, bootstrapStatistic, holm, pairedDifferences, signFlipPValue, type BootstrapOptions } from '../../shared/stats/index.js';
import type { CellMetrics } from './cell-metrics.js';

export interface StatSettings {
  resamples: number;
  seed: number;
  level: number;
}

/** Finished cells by model, prompt and input: grid[m][p][i] (null where the cell has no result). */
export type CellGrid = (CellMetrics | null)[][][];

/** Above this many prompts only each prompt against the first is tested (n(n-1)/2 pairs would be too many to resample). */
export const ALL_PAIRS_MAX_PROMPTS = 12;

function ci(xs: number[], o: BootstrapOptions): Interval | null {
  return xs.length ? bootstrapMean(xs, o) : null;
}

export function promptSummaries(grid: CellGrid, s: StatSettings): PromptSummary[] {
  const o: BootstrapOptions = { resamples: s.resamples, seed: s.seed, level: s.level };
  const out: PromptSummary[] = [];
  grid.forEach((byPrompt, model) =>
    byPrompt.forEach((byInput, prompt) => {
      const cells = byInput.filter((c): c is CellMetrics => c !== null);
      const nLayer = cells.length ? cells[0].attention.length : 0;
      const depthLen = cells.length ? cells[0].depthCurve.length : 0;
      out.push({
        prompt,
        model,
        n: cells.length,
        meanBenefit: ci(cells.map((c) => c.meanBenefit), o),
        meanBenefitRead: ci(cells.map((c) => c.meanBenefitRead), o),
        precomputationShare: cells.length && depthLen > 1 ? bootstrapRatioOfMeans(cells.map((c) => c.depthCurve[1]), cells.map((c) => c.depthCurve[0]), o) : null,
        depthCurve: Array.from({ length: depthLen }, (_, k) => bootstrapMean(cells.map((c) => c.depthCurve[k]), o)),
        readShares: Array.from({ length: nLayer }, (_, l) => ({
          layer: l,
          attention: bootstrapMean(cells.map((c) => c.attention[l]), o),
          normWeighted: bootstrapMean(cells.map((c) => c.normWeighted[l]), o),
          sink: bootstrapMean(cells.map((c) => c.sink[l]), o),
        })),
        meanLossWithPrompt: ci(cells.map((c) => c.meanLossWithPrompt), o),
        meanLossNoPrompt: ci(cells.map((c) => c.meanLossNoPrompt), o),
      });
    }),
  );
  return out;
}

/** The prompt pairs tested: all of them up to ALL_PAIRS_MAX_PROMPTS prompts, else each prompt against the first. */
export function promptPairs(nPrompts: number): [number, number][] {
  const pairs: [number, number][] = [];
  if (nPrompts <= ALL_PAIRS_MAX_PROMPTS) {
    for (let a = 0; a < nPrompts; a++) for (let b = a + 1; b < nPrompts; b++) pairs.push([a, b]);
  } else {
    for (let b = 1; b < nPrompts; b++) pairs.push([0, b]);
  }
  return pairs;
}

/** Paired differences of mean B on the inputs where both prompts finished; Holm over the pairs of each model. */
export function pairSummaries(grid: CellGrid, s: StatSettings): PairSummary[] {
  const out: PairSummary[] = [];
  grid.forEach((byPrompt, model) => {
    const rows: PairSummary[] = [];
    for (const [a, b] of promptPairs(byPrompt.length)) {
      const xa: number[] = [];
      const xb: number[] = [];
      byPrompt[a].forEach((ca, i) => {
        const cb = byPrompt[b][i];
        if (ca && cb) {
          xa.push(ca.meanBenefit);
          xb.push(cb.meanBenefit);
        }
      });
      if (!xa.length) {
        rows.push({ a, b, model, n: 0, meanBenefitDiff: null });
        continue;
      }
      const d = pairedDifferences(xa, xb);
      const interval = bootstrapMean(d, { resamples: s.resamples, seed: s.seed, level: s.level });
      rows.push({ a, b, model, n: d.length, meanBenefitDiff: { ...interval, p: signFlipPValue(d, { resamples: s.resamples, seed: s.seed }), pHolm: NaN } });
    }
    const tested = rows.filter((r) => r.meanBenefitDiff);
    const adj = holm(tested.map((r) => r.meanBenefitDiff!.p));
    tested.forEach((r, k) => (r.meanBenefitDiff!.pHolm = adj[k]));
    out.push(...rows);
  });
  return out;
}

/** Model (grid[0]) against its myopic twin (grid[1]), per prompt, on the inputs where both finished. */
export function twinSummaries(grid: CellGrid, s: StatSettings): TwinSummary[] {
  const o: BootstrapOptions = { resamples: s.resamples, seed: s.seed, level: s.level };
  return grid[0].map((byInput, prompt) => {
    const pairs = byInput.map((v, i) => [v, grid[1][prompt][i]] as const).filter((x): x is readonly [CellMetrics, CellMetrics] => x[0] !== null && x[1] !== null);
    const n = pairs.length;
    if (!n) return { prompt, n, myopiaGap: null, myopiaGapNoPrompt: null, precomputationShareDiff: null, lossByPosition: [] };
    const pi = (idx: ArrayLike<number>, m: 0 | 1) => {
      let num = 0;
      let den = 0;
      for (let k = 0; k < idx.length; k++) {
        num += pairs[idx[k]][m].depthCurve[1];
        den += pairs[idx[k]][m].depthCurve[0];
      }
      return den === 0 ? NaN : num / den;
    };
    const all = pairs.map((_, k) => k);
    const piDiff = pi(all, 1) - pi(all, 0);
    const maxLen = Math.max(...pairs.map(([v]) => v.lossWithPrompt.length));
    const lossByPosition: TwinSummary['lossByPosition'] = [];
    for (let t = 0; t < maxLen; t++) {
      const at = pairs.filter(([v, m]) => t < v.lossWithPrompt.length && t < m.lossWithPrompt.length);
      const mean = (f: (x: readonly [CellMetrics, CellMetrics]) => number) => at.reduce((acc, x) => acc + f(x), 0) / at.length;
      lossByPosition.push({
        position: t + 1,
        count: at.length,
        withPrompt: [mean(([v]) => v.lossWithPrompt[t]), mean(([, m]) => m.lossWithPrompt[t])],
        noPrompt: [mean(([v]) => v.lossNoPrompt[t]), mean(([, m]) => m.lossNoPrompt[t])],
      });
    }
    return {
      prompt,
      n,
      myopiaGap: bootstrapMean(pairedDifferences(pairs.map(([, m]) => m.meanLossWithPrompt), pairs.map(([v]) => v.meanLossWithPrompt)), o),
      myopiaGapNoPrompt: bootstrapMean(pairedDifferences(pairs.map(([, m]) => m.meanLossNoPrompt), pairs.map(([v]) => v.meanLossNoPrompt)), o),
      precomputationShareDiff: Number.isFinite(piDiff) ? bootstrapStatistic(n, piDiff, (idx) => pi(idx, 1) - pi(idx, 0), o) : null,
      lossByPosition,
    };
  });
}
