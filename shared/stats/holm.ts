// Holm's step-down adjustment of p-values for multiple comparisons (controls the family-wise error rate).

/** Adjusted p-values in the input order: sorted ascending, p_(j) * (m - j), made monotone, capped at 1. */
export function holm(ps: readonly number[]): number[] {
  const m = ps.length;
  ps.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`holm: p-value ${i} (${p}) is not in [0, 1]`);
  });
  const order = ps.map((_, i) => i).sort((a, b) => ps[a] - ps[b]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, j) => {
    running = Math.max(running, Math.min(1, (m - j) * ps[i]));
    out[i] = running;
  });
  return out;
}
