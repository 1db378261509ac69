// Experiment statistics: bootstrap CI coverage and sign-flip p-value uniformity checked by simulation; Holm on known cases.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../shared/random.js';
import { bootstrapMean, bootstrapRatioOfMeans, bootstrapStatistic, holm, pairedBootstrapMeanDiff, signFlipPValue } from '../shared/stats/index.js';

function generators(seed: number) {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return { rand, normal };
}

/** Share of `sets` synthetic data sets whose nominal-95% interval contains the true value. */
function coverage(sets: number, draw: (s: number) => { ci: { lo: number; hi: number } | null; truth: number }): number {
  let hit = 0;
  for (let s = 0; s < sets; s++) {
    const { ci, truth } = draw(s);
    if (ci && ci.lo <= truth && truth <= ci.hi) hit++;
  }
  return hit / sets;
}

describe('bootstrap confidence intervals (1,000 data sets each, 2,000 resamples per interval)', () => {
  it('a 95% CI of the mean covers the true mean 93-97% of the time for normal data, n = 30', () => {
    const g = generators(11);
    const c = coverage(1000, (s) => ({ ci: bootstrapMean(Array.from({ length: 30 }, () => 1 + 2 * g.normal()), { seed: s + 1 }), truth: 1 }));
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  it('a 95% CI of the mean covers the true mean 93-97% of the time for uniform data, n = 30', () => {
    const g = generators(12);
    const c = coverage(1000, (s) => ({ ci: bootstrapMean(Array.from({ length: 30 }, g.rand), { seed: s + 1 }), truth: 0.5 }));
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  it('a 95% CI of the mean covers the true mean 93-97% of the time for skewed (exponential) data, n = 50', () => {
    const g = generators(13);
    const c = coverage(1000, (s) => ({ ci: bootstrapMean(Array.from({ length: 50 }, () => -Math.log(1 - g.rand())), { seed: s + 1 }), truth: 1 }));
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  it('a 95% CI of a ratio of means (pairs resampled together) covers the true ratio 93-97% of the time, n = 50', () => {
    const g = generators(14);
    const c = coverage(1000, (s) => {
      const den = Array.from({ length: 50 }, () => 1 + 0.5 * g.normal());
      const num = den.map((d) => 0.6 * d + 0.3 * g.normal());
      return { ci: bootstrapRatioOfMeans(num, den, { seed: s + 1 }), truth: 0.6 };
    });
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  it('a paired 95% CI of a mean difference covers the true difference 93-97% of the time when inputs vary a lot, n = 30', () => {
    const g = generators(15);
    const c = coverage(1000, (s) => {
      // A large per-input effect shared by both prompts: only a paired interval is narrow and still right.
      const input = Array.from({ length: 30 }, () => 5 * g.normal());
      const a = input.map((x) => x + 0.2 + 0.5 * g.normal());
      const b = input.map((x) => x + 0.5 * g.normal());
      return { ci: pairedBootstrapMeanDiff(a, b, { seed: s + 1 }), truth: 0.2 };
    });
    expect(c).toBeGreaterThanOrEqual(0.93);
    expect(c).toBeLessThanOrEqual(0.97);
  });

  it('is reproducible: the same seed gives the same interval, another seed a different one', () => {
    const xs = Array.from({ length: 40 }, mulberry32(3));
    expect(bootstrapMean(xs, { seed: 7 })).toEqual(bootstrapMean(xs, { seed: 7 }));
    expect(bootstrapMean(xs, { seed: 8 }).lo).not.toBe(bootstrapMean(xs, { seed: 7 }).lo);
  });

  it('reports the plain estimate as the centre and an interval around it', () => {
    const ci = bootstrapMean([1, 2, 3, 4, 10], { resamples: 500 });
    expect(ci.mean).toBe(4);
    expect(ci.lo).toBeLessThan(4);
    expect(ci.hi).toBeGreaterThan(4);
    expect(bootstrapRatioOfMeans([1, 3], [2, 2])!.mean).toBe(1);
  });

  it('a ratio of means is not a mean of ratios, and is null when the denominator sums to zero', () => {
    // Per-input ratios 0.5 and 100 average to 50.25; the ratio of means is (1 + 1) / (2 + 0.01).
    expect(bootstrapRatioOfMeans([1, 1], [2, 0.01])!.mean).toBeCloseTo(2 / 2.01, 12);
    expect(bootstrapRatioOfMeans([1, 1], [1, -1])).toBeNull();
  });

  it('bootstrapStatistic resamples inputs for statistics over several arrays', () => {
    const a = [1, 2, 3, 4];
    const ci = bootstrapStatistic(4, 2.5, (idx) => idx.reduce((s, i) => s + a[i], 0) / idx.length, { seed: 5 });
    expect(ci).toEqual(bootstrapMean(a, { seed: 5 }));
  });

  it('rejects empty or non-finite data with a message', () => {
    expect(() => bootstrapMean([])).toThrow(/at least one/);
    expect(() => bootstrapMean([1, NaN])).toThrow(/value 1 is not a finite number/);
    expect(() => bootstrapMean([1], { resamples: 0 })).toThrow(/resamples/);
  });
});

describe('paired sign-flip permutation p-value', () => {
  /** Share of p-values at or below each level, and a 10-bin histogram. */
  function nullPValues(n: number, sets: number, seed: number, resamples?: number): number[] {
    const g = generators(seed);
    return Array.from({ length: sets }, (_, s) => signFlipPValue(Array.from({ length: n }, () => g.normal()), { seed: s + 1, resamples }));
  }

  function expectUniform(ps: number[]) {
    // Kolmogorov-Smirnov distance to U(0,1); 1.63/sqrt(N) is the 1% critical value.
    const sorted = [...ps].sort((a, b) => a - b);
    const N = sorted.length;
    let ks = 0;
    sorted.forEach((p, i) => {
      ks = Math.max(ks, Math.abs(p - i / N), Math.abs(p - (i + 1) / N));
    });
    expect(ks).toBeLessThan(1.63 / Math.sqrt(N));
    // Validity at the levels people use: P(p <= alpha) is not above alpha beyond sampling error (3 SD).
    for (const alpha of [0.01, 0.05, 0.1]) {
      const rate = ps.filter((p) => p <= alpha).length / N;
      expect(rate).toBeLessThanOrEqual(alpha + 3 * Math.sqrt((alpha * (1 - alpha)) / N));
    }
  }

  it('is uniform under the null with exact enumeration (n = 12, 1,000 data sets)', () => {
    expectUniform(nullPValues(12, 1000, 21));
  });

  it('is uniform under the null with seeded Monte Carlo (n = 40, 1,000 data sets, 999 resamples each)', () => {
    expectUniform(nullPValues(40, 1000, 22, 999));
  });

  it('is small when every difference has the same sign, and exact for tiny n', () => {
    // n = 5, all positive: only the identity and the all-flipped pattern reach |sum|: p = 2/32.
    expect(signFlipPValue([1, 2, 3, 4, 5])).toBe(2 / 32);
    expect(signFlipPValue(Array.from({ length: 30 }, (_, i) => 1 + i / 10), { resamples: 999 })).toBe(1 / 1000);
  });

  it('is 1 when the differences are all zero', () => {
    expect(signFlipPValue([0, 0, 0])).toBe(1);
    expect(signFlipPValue(new Array(20).fill(0))).toBe(1);
  });

  it('has power against a real shift (n = 30, shift of one SD)', () => {
    const g = generators(23);
    const ps = Array.from({ length: 100 }, (_, s) => signFlipPValue(Array.from({ length: 30 }, () => 1 + g.normal()), { seed: s + 1, resamples: 499 }));
    expect(ps.filter((p) => p < 0.05).length).toBeGreaterThan(95);
  });
});

describe('Holm adjustment', () => {
  it('matches hand-computed values (as R p.adjust(method = "holm"))', () => {
    // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06.
    const adj = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((v, i) => expect(adj[i]).toBeCloseTo(v, 12));
  });

  it('caps at 1, keeps one p-value as it is, and handles ties and an empty list', () => {
    expect(holm([0.5, 0.6])).toEqual([1, 1]);
    expect(holm([0.2])).toEqual([0.2]);
    expect(holm([0.01, 0.01, 0.01])).toEqual([0.03, 0.03, 0.03]);
    expect(holm([])).toEqual([]);
  });

  it('rejects a value outside [0, 1]', () => {
    expect(() => holm([0.1, 1.5])).toThrow(/p-value 1/);
  });
});
