// Per-token losses, top predictions and prompt benefit B_t = L_t(no prompt) - L_t(with prompt).
import { checkTensor, mean, type Tensor } from './tensor.js';

/** log sum_v exp(row[v]) of one logits row, in float64. */
export function rowLogSumExp(row: Float32Array): number {
  return logSumExp(row, 0, row.length, 'rowLogSumExp');
}

/** log(sum(exp(row))) in float64 with the max subtracted, so large logits do not overflow. */
function logSumExp(data: Float32Array, offset: number, V: number, where: string): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = data[offset + v];
    if (Number.isNaN(x)) throw new RangeError(`${where}: logits row contains NaN at vocab index ${v}`);
    if (x > max) max = x;
  }
  // Why: an all -inf (or +inf) row has no distribution; say so instead of returning NaN.
  if (!Number.isFinite(max)) throw new RangeError(`${where}: logits row has a non-finite maximum (${max})`);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(data[offset + v] - max);
  return max + Math.log(sum);
}

/**
 * L_t = -log softmax(logits[t-1])[tokens[t]] for each requested position t (1 <= t < T).
 * Why t-1: row t-1 of the logits is the model's prediction of the token at position t.
 */
export function tokenLosses(logits: Tensor, tokens: ArrayLike<number>, positions: readonly number[]): number[] {
  const where = 'tokenLosses';
  checkTensor(logits, 2, 'logits', where);
  const [T, V] = logits.dims;
  if (tokens.length !== T) throw new RangeError(`${where}: ${tokens.length} tokens for logits with T=${T}`);
  return positions.map((t) => {
    if (!Number.isInteger(t) || t < 1 || t >= T) throw new RangeError(`${where}: position ${t} is outside 1..${T - 1}`);
    const id = tokens[t];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`${where}: token id ${id} at position ${t} is outside 0..${V - 1}`);
    const offset = (t - 1) * V;
    return logSumExp(logits.data, offset, V, `${where} (row ${t - 1})`) - logits.data[offset + id];
  });
}

/**
 * -log softmax(logits[r])[targets[r]] for each row r of a [R,V] logits block whose rows were already chosen as the
 * predictions of `targets` (the engine can return only the rows an analysis needs).
 */
export function targetLosses(logits: Tensor, targets: readonly number[]): number[] {
  const where = 'targetLosses';
  checkTensor(logits, 2, 'logits', where);
  const [R, V] = logits.dims;
  if (targets.length !== R) throw new RangeError(`${where}: ${targets.length} targets for ${R} logits rows`);
  return targets.map((id, r) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`${where}: target id ${id} (row ${r}) is outside 0..${V - 1}`);
    return logSumExp(logits.data, r * V, V, `${where} (row ${r})`) - logits.data[r * V + id];
  });
}

export interface Prediction {
  id: number;
  prob: number;
}

/**
 * The k most probable next tokens of one logits row [V], most probable first (ties: lower id first).
 * `logSumExpOfRow`, when the caller has it (e.g. rowLogSumExp of a row it keeps), saves a pass of exp over the
 * vocabulary.
 */
export function topPredictions(row: Float32Array, k: number, logSumExpOfRow?: number): Prediction[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`topPredictions: k must be an integer >= 0, got ${k}`);
  const V = row.length;
  const kk = Math.min(k, V);
  if (kk === 0) return [];
  const lse = logSumExpOfRow ?? logSumExp(row, 0, V, 'topPredictions');
  // Why insertion into a small sorted list: k is small next to a 50k vocabulary, so no full sort.
  const ids: number[] = [];
  // The k-th largest so far, once k are held: most of the vocabulary fails this one comparison.
  let floor = -Infinity;
  for (let v = 0; v < V; v++) {
    const x = row[v];
    if (ids.length === kk && x <= floor) continue;
    let pos = ids.length;
    while (pos > 0 && row[ids[pos - 1]] < x) pos--;
    ids.splice(pos, 0, v);
    if (ids.length > kk) ids.pop();
    if (ids.length === kk) floor = row[ids[kk - 1]];
  }
  return ids.map((id) => ({ id, prob: Math.exp(row[id] - lse) }));
}

export interface PromptBenefit {
  /** B_t per input token, in input order. */
  perToken: number[];
  /** mean of perToken (0 for an empty input). */
  mean: number;
}

/** B_t = L_t(no prompt) - L_t(with prompt): positive where the prompt lowers the input's loss. */
export function promptBenefit(lossNoPrompt: readonly number[], lossWithPrompt: readonly number[]): PromptBenefit {
  if (lossNoPrompt.length !== lossWithPrompt.length) {
    throw new RangeError(`promptBenefit: ${lossNoPrompt.length} no-prompt losses vs ${lossWithPrompt.length} with-prompt losses`);
  }
  const perToken = lossNoPrompt.map((l, k) => l - lossWithPrompt[k]);
  return { perToken, mean: mean(perToken) };
}
