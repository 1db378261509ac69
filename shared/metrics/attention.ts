// How much of X's attention reads the prompt P': raw share, norm-weighted share, read map, rollout baseline.
import { checkCounts, checkPatternRows, checkTensor, MASS_EPS, mean, type Tensor } from './tensor.js';

export interface AttentionReadShare {
  /** a_h = mean_{i in X} sum_{j in P'} A_ij / sum_{1<=j<=i} A_ij, per head. */
  perHead: number[];
  /** s_h = mean_{i in X} A_i0, per head: the BOS sink's mass, reported apart and never counted as prompt. */
  sinkPerHead: number[];
  /** Mean of perHead: every head weighs the same, whatever it writes (the norm-weighted share weighs them). */
  layer: number;
  /** Mean of sinkPerHead. */
  sink: number;
}

/**
 * Attention read share of one layer's pattern [H,T,T] or X's rows of it [H,n,T] (DESIGN "The measurements" 2).
 * The denominator is the row's own non-BOS mass sum_{1<=j<=i} A_ij, which equals 1 - A_i0 for a softmax row;
 * summing it directly keeps the share inside [0,1] under float32 rounding and is exact when A_i0 is near 1.
 * A query whose non-BOS mass is below 1e-12 (it reads only BOS) counts as share 0 in the mean, not 0/0.
 */
export function attentionReadShare(pattern: Tensor, p: number, n: number): AttentionReadShare {
  const [H, T, first] = checkPatternRows(pattern, p, n, 'attentionReadShare');
  const Q = pattern.dims[1];
  const d = pattern.data;
  const perHead: number[] = [];
  const sinkPerHead: number[] = [];
  for (let h = 0; h < H; h++) {
    let shareSum = 0;
    let sinkSum = 0;
    for (let i = p + 1; i <= p + n; i++) {
      const row = (h * Q + i - first) * T;
      sinkSum += d[row];
      let prompt = 0;
      for (let j = 1; j <= p; j++) prompt += d[row + j];
      let open = prompt;
      for (let j = p + 1; j <= i; j++) open += d[row + j];
      shareSum += open < MASS_EPS ? 0 : prompt / open;
    }
    perHead.push(n === 0 ? 0 : shareSum / n);
    sinkPerHead.push(n === 0 ? 0 : sinkSum / n);
  }
  return { perHead, sinkPerHead, layer: mean(perHead), sink: mean(sinkPerHead) };
}

function checkValueNorm(valueNorm: Tensor, H: number, T: number, where: string, name = 'valueNorm'): void {
  checkTensor(valueNorm, 2, name, where);
  if (valueNorm.dims[0] !== H || valueNorm.dims[1] !== T) {
    throw new RangeError(`${where}: ${name} dims [${valueNorm.dims.join(',')}] do not match the pattern's [H,T] = [${H},${T}]`);
  }
}

export interface NormWeightedReadShare {
  /** R_h = sum_{i in X, j in P'} w_ij / sum_{i in X, 1<=j<=i} w_ij with w_ij = A_ij ||v_j W_O^h||, per head. */
  perHead: number[];
  /**
   * The same ratio with numerator and denominator summed over heads (not a mean of perHead): a head that writes
   * little into the residual stream weighs little, which is the point of weighting by norms.
   */
  layer: number;
}

/**
 * Norm-weighted (Kobayashi et al. 2020) read share of one layer (DESIGN "The measurements" 3); the pattern as in
 * attentionReadShare, the value norms [H,T] of every position.
 * BOS (j=0) is left out of numerator and denominator alike. A zero denominator gives 0.
 */
export function normWeightedReadShare(pattern: Tensor, valueNorm: Tensor, p: number, n: number): NormWeightedReadShare {
  const where = 'normWeightedReadShare';
  const [H, T, first] = checkPatternRows(pattern, p, n, where);
  const Q = pattern.dims[1];
  checkValueNorm(valueNorm, H, T, where);
  const d = pattern.data;
  const v = valueNorm.data;
  const perHead: number[] = [];
  let numAll = 0;
  let denAll = 0;
  for (let h = 0; h < H; h++) {
    let num = 0;
    let den = 0;
    for (let i = p + 1; i <= p + n; i++) {
      const row = (h * Q + i - first) * T;
      for (let j = 1; j <= i; j++) {
        const w = d[row + j] * v[h * T + j];
        den += w;
        if (j <= p) num += w;
      }
    }
    perHead.push(den < MASS_EPS ? 0 : num / den);
    numAll += num;
    denAll += den;
  }
  return { perHead, layer: denAll < MASS_EPS ? 0 : numAll / denAll };
}

/**
 * Read map [L][p]: entry [l][k] is how much of X's layer-l reading goes to prompt token k (position k+1).
 * Normalisation: for each query i in X, read(i, j) = sum_h w_ij / sum_h sum_{1<=j'<=i} w_ij' (the fraction of i's
 * non-BOS norm-weighted attention that lands on j), then the mean over i in X. Why per query: every input token
 * counts equally, so a few tokens with large norms cannot dominate the map. Consequently a row of the map sums to
 * the mean over X of each query's prompt fraction, which is close to but not the same as the ratio-of-sums R.
 * A query with no non-BOS mass contributes 0. An empty prompt gives rows of length 0.
 */
export function readMap(patterns: readonly Tensor[], valueNorms: readonly Tensor[], p: number, n: number): number[][] {
  const where = 'readMap';
  if (patterns.length !== valueNorms.length) {
    throw new RangeError(`${where}: ${patterns.length} layer patterns vs ${valueNorms.length} layer value norms`);
  }
  return patterns.map((pattern, l) => {
    const [H, T, first] = checkPatternRows(pattern, p, n, where, `patterns[${l}]`);
    const Q = pattern.dims[1];
    checkValueNorm(valueNorms[l], H, T, where, `valueNorms[${l}]`);
    const d = pattern.data;
    const v = valueNorms[l].data;
    const acc = new Float64Array(p);
    const w = new Float64Array(p);
    for (let i = p + 1; i <= p + n; i++) {
      w.fill(0);
      let den = 0;
      for (let h = 0; h < H; h++) {
        const row = (h * Q + i - first) * T;
        for (let j = 1; j <= i; j++) {
          const x = d[row + j] * v[h * T + j];
          den += x;
          if (j <= p) w[j - 1] += x;
        }
      }
      if (den < MASS_EPS) continue;
      for (let k = 0; k < p; k++) acc[k] += w[k] / den;
    }
    return Array.from(acc, (x) => (n === 0 ? 0 : x / n));
  });
}

/**
 * Attention rollout (Abnar & Zuidema 2020) share of X on P': heads averaged, residual added as 0.5*A + 0.5*I,
 * rows renormalised, layers multiplied (R = Â_{L-1} ... Â_0). The share is mean_{i in X} of
 * sum_{j in P'} R_ij / sum_{1<=j<=i} R_ij: BOS is left out of the denominator as in the other shares, since the
 * sink's rollout mass says nothing about the prompt. Attention is causal, so R is lower triangular and both sums are
 * entries of R times a fixed vector (the prompt's columns, all columns but BOS): two matrix-vector products per layer,
 * applied from layer 0 up, instead of carrying X's rows of R. No layers gives 0 (R = I: each input token is only
 * itself).
 *
 * The patterns are [H,T,T], or X's rows [H,n,T] together with `promptRows`: per layer, the head sums of the rows
 * of positions 0..p (promptHeadSums of the run over [BOS] + P' alone, which causal attention makes the same rows).
 */
export function attentionRollout(patterns: readonly Tensor[], p: number, n: number, promptRows?: readonly Float64Array[]): number {
  const where = 'attentionRollout';
  checkCounts(p, n, where);
  if (patterns.length === 0 || n === 0) return 0;
  const [, T] = checkPatternRows(patterns[0], p, n, where, 'patterns[0]');
  // prompt = R 1_{1..p}, open = R 1_{j>=1}, built up as Â_l (... (Â_0 v)).
  let prompt = new Float64Array(T);
  let open = new Float64Array(T);
  for (let j = 1; j < T; j++) {
    open[j] = 1;
    if (j <= p) prompt[j] = 1;
  }
  for (let l = 0; l < patterns.length; l++) {
    const [H, Tl, first] = checkPatternRows(patterns[l], p, n, where, `patterns[${l}]`);
    if (Tl !== T) throw new RangeError(`${where}: patterns[${l}] has T=${Tl}, patterns[0] has T=${T}`);
    let sums: Float64Array;
    if (first === 0) sums = headSums(patterns[l].data, H, T, T);
    else {
      const pr = promptRows?.[l];
      if (!pr || pr.length !== (p + 1) * (p + 1)) throw new RangeError(`${where}: patterns[${l}] holds X's rows only; promptRows[${l}] must be the [${p + 1},${p + 1}] head sums of positions 0..${p}`);
      sums = new Float64Array(T * T);
      for (let k = 0; k <= p; k++) sums.set(pr.subarray(k * (p + 1), (k + 1) * (p + 1)), k * T);
      sums.set(headSums(patterns[l].data, H, n, T), (p + 1) * T);
    }
    const a = residualMeanAttention(sums, H, T);
    const nextPrompt = new Float64Array(T);
    const nextOpen = new Float64Array(T);
    for (let k = 0; k < T; k++) {
      let sp = 0;
      let so = 0;
      for (let j = 0; j <= k; j++) {
        const x = a[k * T + j];
        sp += x * prompt[j];
        so += x * open[j];
      }
      nextPrompt[k] = sp;
      nextOpen[k] = so;
    }
    prompt = nextPrompt;
    open = nextOpen;
  }
  let sum = 0;
  for (let i = p + 1; i <= p + n; i++) sum += open[i] < MASS_EPS ? 0 : prompt[i] / open[i];
  return sum / n;
}

/** Sum over heads of a pattern [H,Q,T], as [Q,T] in float64 (heads added in ascending order). */
function headSums(d: Float32Array, H: number, Q: number, T: number): Float64Array {
  const a = new Float64Array(Q * T);
  for (let h = 0; h < H; h++) for (let x = 0; x < Q * T; x++) a[x] += d[h * Q * T + x];
  return a;
}

/** The head sums attentionRollout needs of a run over [BOS] + P' alone: its pattern [H,p+1,p+1] summed over heads. */
export function promptHeadSums(pattern: Tensor, p: number): Float64Array {
  checkTensor(pattern, 3, 'pattern', 'promptHeadSums');
  const [H, Q, T] = pattern.dims;
  if (Q !== p + 1 || T !== p + 1) throw new RangeError(`promptHeadSums: pattern dims [${pattern.dims.join(',')}] are not [H,${p + 1},${p + 1}]`);
  return headSums(pattern.data, H, Q, T);
}

/** 0.5 * (head sums / H) + 0.5 * I with rows renormalised to sum 1 (rows of zero mass stay zero); in place. */
function residualMeanAttention(a: Float64Array, H: number, T: number): Float64Array {
  for (let k = 0; k < T; k++) {
    let s = 0;
    for (let j = 0; j < T; j++) {
      a[k * T + j] = (0.5 * a[k * T + j]) / H + (j === k ? 0.5 : 0);
      s += a[k * T + j];
    }
    if (s > 0) for (let j = 0; j < T; j++) a[k * T + j] /= s;
  }
  return a;
}
