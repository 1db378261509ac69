// Tensor views and argument checks shared by the metric modules (sequence layout: [BOS] + P' + X).

/** A flat row-major tensor, typed exactly like the engine's Tensor so values pass both ways without conversion. */
export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * One batch item of a [B, ...] tensor, as a view that shares memory (no copy).
 * Why: every metric works on one sequence; the engine returns batches of variants.
 */
export function batchItem(t: Tensor, b: number): Tensor {
  if (t.dims.length < 2) throw new RangeError(`batchItem: tensor has dims [${t.dims.join(',')}], expected [B, ...]`);
  const [B, ...rest] = t.dims;
  if (!Number.isInteger(b) || b < 0 || b >= B) throw new RangeError(`batchItem: batch index ${b} is outside 0..${B - 1}`);
  const size = rest.reduce((a, d) => a * d, 1);
  return { data: t.data.subarray(b * size, (b + 1) * size), dims: rest };
}

/** Sequence positions of the input text X: p+1..p+n (0 is BOS, 1..p the prompt P'). */
export function inputPositions(p: number, n: number): number[] {
  checkCounts(p, n, 'inputPositions');
  return Array.from({ length: n }, (_, k) => p + 1 + k);
}

/** Throws unless p and n are non-negative integers. */
export function checkCounts(p: number, n: number, where: string): void {
  if (!Number.isInteger(p) || p < 0) throw new RangeError(`${where}: prompt length p must be an integer >= 0, got ${p}`);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${where}: input length n must be an integer >= 0, got ${n}`);
}

/** Throws unless `t` has `rank` dims and a data length that matches them. */
export function checkTensor(t: Tensor, rank: number, name: string, where: string): void {
  if (t.dims.length !== rank) {
    throw new RangeError(`${where}: ${name} has dims [${t.dims.join(',')}], expected ${rank} dims`);
  }
  const size = t.dims.reduce((a, d) => a * d, 1);
  if (t.data.length !== size) {
    throw new RangeError(`${where}: ${name} has ${t.data.length} values but dims [${t.dims.join(',')}] need ${size}`);
  }
}

/**
 * An attention pattern as the read shares take it: all rows [H,T,T], or only X's rows [H,n,T] (queries p+1..p+n,
 * as a run that continues the prompt's keys/values returns them). Returns [H, T, first]: row r of the tensor is
 * query position first + r. T may exceed 1+p+n: positions past the input (right padding) are ignored, since causal
 * rows never read them.
 */
export function checkPatternRows(pattern: Tensor, p: number, n: number, where: string, name = 'pattern'): [number, number, number] {
  checkCounts(p, n, where);
  checkTensor(pattern, 3, name, where);
  const [H, Q, T] = pattern.dims;
  if (H < 1 || (Q !== T && Q !== n)) throw new RangeError(`${where}: ${name} dims [${pattern.dims.join(',')}] are not [H,T,T] or [H,n=${n},T] with H >= 1`);
  if (T < 1 + p + n) throw new RangeError(`${where}: ${name} has T=${T} positions, fewer than 1+p+n = ${1 + p + n}`);
  return [H, T, Q === T ? 0 : p + 1];
}

/** Below this, a query's non-BOS mass counts as none at all (its share is 0, not 0/0). */
export const MASS_EPS = 1e-12;

/** mean of a list; 0 for an empty list (an empty input or prompt reads nothing). */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
