// Paired sign-flip permutation test of mean difference = 0: exact for small n, seeded Monte Carlo otherwise.
import { mulberry32 } from '../random.js';

export interface SignFlipOptions {
  /** Monte Carlo resamples when n is above `exactMaxN` (default 2000). */
  resamples?: number;
  seed?: number;
  /** Largest n enumerated exactly (2^n sign patterns; default 14). */
  exactMaxN?: number;
}

/**
 * Two-sided p-value for H0: the paired differences are symmetric about 0. Statistic |sum d_i| (equivalent to |mean|).
 * Small n: all 2^n sign patterns, p = #{|T*| >= |T|} / 2^n. Larger n: p = (1 + #{|T*| >= |T|}) / (M + 1), which is a
 * valid p-value for a Monte Carlo test. Comparisons allow a relative 1e-12 so that float round-off in a sum equal to
 * the observed one still counts as "at least as extreme".
 */
export function signFlipPValue(d: ArrayLike<number>, o: SignFlipOptions = {}): number {
  const n = d.length;
  if (n === 0) throw new RangeError('signFlipPValue: needs at least one difference');
  for (let i = 0; i < n; i++) if (!Number.isFinite(d[i])) throw new RangeError(`signFlipPValue: difference ${i} is not a finite number`);
  let obs = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    obs += d[i];
    scale += Math.abs(d[i]);
  }
  const t = Math.abs(obs) - 1e-12 * scale;
  const exactMaxN = o.exactMaxN ?? 14;
  if (n <= exactMaxN) {
    let hits = 0;
    const patterns = 2 ** n;
    for (let m = 0; m < patterns; m++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += m & (1 << i) ? -d[i] : d[i];
      if (Math.abs(s) >= t) hits++;
    }
    return hits / patterns;
  }
  const resamples = o.resamples ?? 2000;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  const rand = mulberry32(o.seed ?? 1);
  let hits = 0;
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rand() < 0.5 ? -d[i] : d[i];
    if (Math.abs(s) >= t) hits++;
  }
  return (hits + 1) / (resamples + 1);
}
