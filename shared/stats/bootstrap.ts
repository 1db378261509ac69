// Seeded (expanded) percentile-bootstrap confidence intervals over inputs: a mean, a ratio of means, a paired mean difference.
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';
import { mulberry32 } from '../random.js';

/** A point estimate with its confidence interval. */
export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** Number of bootstrap resamples (default 2000). */
  resamples?: number;
  /** PRNG seed, so a report is reproducible (default 1). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

export const DEFAULT_RESAMPLES = 2000;

function settings(o: BootstrapOptions) {
  const resamples = o.resamples ?? DEFAULT_RESAMPLES;
  const level = o.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  return { resamples, level, seed: o.seed ?? 1 };
}

/**
 * The resampled indices of `resamples` draws of n inputs, row b at [b*n, (b+1)*n): the same sequence the PRNG gives
 * draw by draw, so results do not depend on whether it is cached. Every statistic of one experiment prompt resamples
 * the same n inputs with the same seed, so the matrix is drawn once and reused (at most 8M indices, 4 matrices).
 */
const MATRIX_LIMIT = 8_000_000;
const matrices = new Map<string, Uint32Array>();
function indexMatrix(n: number, resamples: number, seed: number): Uint32Array | null {
  if (n * resamples > MATRIX_LIMIT) return null;
  const key = `${n}:${resamples}:${seed}`;
  const hit = matrices.get(key);
  if (hit) {
    matrices.delete(key);
    matrices.set(key, hit);
    return hit;
  }
  const rand = mulberry32(seed);
  const m = new Uint32Array(n * resamples);
  for (let k = 0; k < m.length; k++) m[k] = Math.floor(rand() * n);
  matrices.set(key, m);
  while (matrices.size > 4) matrices.delete(matrices.keys().next().value!);
  return m;
}

/** Calls `draw(b, row)` for each resample with its indices (cached matrix row, or drawn now when too big to cache). */
function forEachResample(n: number, resamples: number, seed: number, draw: (b: number, row: Uint32Array) => void) {
  const m = indexMatrix(n, resamples, seed);
  if (m) {
    for (let b = 0; b < resamples; b++) draw(b, m.subarray(b * n, (b + 1) * n));
    return;
  }
  const rand = mulberry32(seed);
  const row = new Uint32Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) row[i] = Math.floor(rand() * n);
    draw(b, row);
  }
}

/** Quantile of sorted values with linear interpolation between order statistics (R's type 7). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const i = Math.floor(h);
  const f = h - i;
  return i + 1 < n ? sorted[i] + f * (sorted[i + 1] - sorted[i]) : sorted[i];
}

/**
 * The tail probability the percentile interval uses: Hesterberg's "expanded percentile" (2015, The American
 * Statistician 69:4), a/2 = Phi(-sqrt(n/(n-1)) t_{n-1, 1-alpha/2}). The plain percentile interval of a mean is too
 * narrow for small n (it uses the plug-in variance and normal quantiles): by simulation it covers 92.6% at n = 30 for
 * a nominal 95%; the expansion brings it to the nominal level and vanishes as n grows.
 */
export function expandedTail(n: number, level: number): number {
  const alpha = 1 - level;
  if (n < 2) return alpha / 2;
  return normalCdf(-Math.sqrt(n / (n - 1)) * tQuantile(1 - alpha / 2, n - 1), 0, 1);
}

function percentileInterval(estimate: number, stats: Float64Array, level: number, n: number): Interval {
  stats.sort();
  const a = expandedTail(n, level);
  return { mean: estimate, lo: quantileSorted(stats, a), hi: quantileSorted(stats, 1 - a) };
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function checkFinite(xs: ArrayLike<number>, what: string) {
  if (xs.length === 0) throw new RangeError(`${what}: needs at least one value`);
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) throw new RangeError(`${what}: value ${i} is not a finite number`);
}

/** Percentile bootstrap CI of the mean of `xs` (inputs resampled with replacement). */
export function bootstrapMean(xs: ArrayLike<number>, o: BootstrapOptions = {}): Interval {
  checkFinite(xs, 'bootstrapMean');
  const { resamples, level, seed } = settings(o);
  const n = xs.length;
  const stats = new Float64Array(resamples);
  forEachResample(n, resamples, seed, (b, row) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[row[i]];
    stats[b] = s / n;
  });
  return percentileInterval(mean(xs), stats, level, n);
}

/**
 * Percentile bootstrap CI of sum(num)/sum(den), resampling the pairs (num_i, den_i) together. Null when sum(den) is 0
 * (no ratio to estimate). Resamples whose denominator sums to 0 are dropped.
 */
export function bootstrapRatioOfMeans(num: ArrayLike<number>, den: ArrayLike<number>, o: BootstrapOptions = {}): Interval | null {
  if (num.length !== den.length) throw new RangeError(`bootstrapRatioOfMeans: ${num.length} numerators but ${den.length} denominators`);
  checkFinite(num, 'bootstrapRatioOfMeans numerator');
  checkFinite(den, 'bootstrapRatioOfMeans denominator');
  const { resamples, level, seed } = settings(o);
  const n = num.length;
  const d0 = mean(den);
  if (d0 === 0) return null;
  const stats = new Float64Array(resamples);
  let kept = 0;
  forEachResample(n, resamples, seed, (_b, row) => {
    let sn = 0;
    let sd = 0;
    for (let i = 0; i < n; i++) {
      sn += num[row[i]];
      sd += den[row[i]];
    }
    if (sd !== 0) stats[kept++] = sn / sd;
  });
  return percentileInterval(mean(num) / d0, stats.subarray(0, kept), level, n);
}

/** Paired bootstrap CI of mean(a_i - b_i): the inputs are resampled, each keeping its two values. */
export function pairedBootstrapMeanDiff(a: ArrayLike<number>, b: ArrayLike<number>, o: BootstrapOptions = {}): Interval {
  return bootstrapMean(pairedDifferences(a, b), o);
}

export function pairedDifferences(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  if (a.length !== b.length) throw new RangeError(`paired values: ${a.length} against ${b.length}; pairs need the same inputs`);
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = a[i] - b[i];
  return d;
}

/**
 * Percentile bootstrap CI of any statistic of resampled inputs: `stat` receives the resampled indices. Used where a
 * statistic spans several arrays (e.g. a difference of two ratios of means on the same inputs).
 */
export function bootstrapStatistic(n: number, estimate: number, stat: (idx: Uint32Array) => number, o: BootstrapOptions = {}): Interval {
  if (n < 1) throw new RangeError('bootstrapStatistic: needs at least one input');
  const { resamples, level, seed } = settings(o);
  const stats = new Float64Array(resamples);
  let kept = 0;
  forEachResample(n, resamples, seed, (_b, row) => {
    const v = stat(row);
    if (Number.isFinite(v)) stats[kept++] = v;
  });
  return percentileInterval(estimate, stats.subarray(0, kept), level, n);
}
