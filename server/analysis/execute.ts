// Executes an analysis plan on the engine: the with-prompt and no-prompt runs, then knockout variants in batches
// under the memory bound, with the prompt's keys/values reused and one bias tensor per distinct set of blocked rows.
import { hookName } from '../../shared/hooks.js';
import { InputError, CancelledError } from '../../shared/errors.js';
import { rowLogSumExp, topPredictions, type Prediction } from '../../shared/metrics/loss.js';
import { promptHeadSums } from '../../shared/metrics/attention.js';
import { blockAllPromptMask, spanBiasMask } from '../../shared/metrics/spans.js';
import { batchItem, inputPositions, type Tensor } from '../../shared/metrics/tensor.js';
import type { GraphVariant, HookedModel, RunRequest } from '../engine/hooked-model.js';
import { NoPromptCache, type NoPromptKey, type ShiftedRun } from './no-prompt-cache.js';
import { PrefixCache, type PrefixRun } from './prefix-cache.js';
import { range, type AnalysisPlan, type Variant } from './plan.js';

/**
 * Estimated peak bytes of one knockout row. The logits rows dominate: the runtime holds the logits and their log
 * softmax (only the targets' log-probabilities are copied out), and its arena keeps a high-water mark, so they are
 * counted five times (calibrated on the GPT-2-small-shaped bench model: ~155 MiB per row of 257 tokens); then
 * attention scores/probabilities, MLP activations and the per-layer bias inputs.
 * Calibrate with `npm run bench` (it reports peak RSS above the loaded model next to the bound).
 */
export function estimateRowBytes(c: { nLayer: number; nHead: number; dModel: number; vocabSize: number }, T: number, logitRows: number, withBias: boolean): number {
  return 4 * (5 * logitRows * c.vocabSize + 4 * c.nHead * T * T + 24 * c.dModel * T + (withBias ? c.nLayer * T * T : 0));
}

export interface ExecuteOptions {
  /** Peak memory bound for one engine call, in MiB (estimated); batches are split to stay under it. */
  maxBatchMB: number;
  /** Reuse the prompt's keys/values for the knockouts when the graph takes a KV cache. */
  reusePrefix: boolean;
  /** Start each knockout at its first blocked layer from the with-prompt run's stream, when the graph allows it. */
  layerEntry: boolean;
  /** At most this many variants per engine call (default: as many as the memory bound allows). */
  maxRowsPerCall?: number;
  isCancelled: () => boolean;
}

export interface WithPromptRun {
  /** Loss of each input token with the prompt. */
  lossWith: number[];
  /** The most probable next tokens at each row that predicts an input token (the logits are not kept). */
  top: Prediction[][];
  /**
   * Per layer: the attention pattern [H,T,T], or only X's rows [H,n,T] when the run continued the prompt's
   * keys/values; then `promptRows` holds the head sums of rows 0..p (see attentionRollout).
   */
  patterns: Tensor[];
  promptRows?: Float64Array[];
  /** Per layer: value norms [H,T]. */
  norms: Tensor[];
}

/** The no-prompt runs of every model and input seen by this process (experiments and forks reuse them). */
export const noPromptCache = new NoPromptCache();

/** The prefix runs ([BOS] + P') of every model and prompt seen by this process (an experiment's cells reuse them). */
export const prefixCache = new PrefixCache();

export class Executor {
  /** Engine calls made so far. */
  calls = 0;
  private readonly graph: GraphVariant;
  private readonly rowsPerCall: number;
  private readonly pairs: { past: string; present: string }[] | null;
  private prefix: Map<string, Tensor> | null = null;
  /** Losses of every knockout run so far in this analysis, by the edges it blocks (see edgesKey). */
  private readonly knockedOut = new Map<string, number[]>();
  /** The prefix's keys/values repeated for the last batch size B (consecutive batches mostly have the same B). */
  private tiledPast: { B: number; past: Record<string, Tensor> } | null = null;
  private readonly masks = new Map<string, Float32Array>();
  /** The with-prompt run's residual stream entering each layer at positions residFirst.., [*, d] (for layer entry). */
  private residPre: Tensor[] | null = null;
  private residFirst = 0;
  /** Whether knockouts start at their first blocked layer (see server/engine/layer-entry.ts). */
  readonly layerEntry: boolean;
  /**
   * Every sequence runs alone and whole: no prefix split, one variant per call, every row through the unembedding.
   * Set for graphs that quantise activations with one scale per tensor at run time, whose numbers otherwise depend
   * on which rows share a call (see HookedModel.activationScalesPerCall).
   */
  readonly wholeSequences: boolean;

  constructor(
    private readonly m: HookedModel,
    private readonly plan: AnalysisPlan,
    private readonly o: ExecuteOptions,
  ) {
    const c = m.config;
    const knock = plan.hasKnockouts;
    this.layerEntry = o.layerEntry && knock && c.nLayer > 1 && m.layerEntryProblem() === null;
    this.wholeSequences = m.activationScalesPerCall() !== null;
    const hooks = range(0, c.nLayer).flatMap((l) => [
      hookName(l, 'attn.hook_pattern'),
      hookName(l, 'attn.hook_value_norm'),
      ...(this.layerEntry ? [hookName(l, 'hook_resid_pre')] : []),
    ]);
    // One graph variant serves every call of the analysis, so the runtime holds one extra copy of the weights.
    // Every call has its targets' log-probabilities computed in the graph (no log-sum-exp over the vocabulary in JS).
    this.graph = { hooks, bias: knock, rows: true, targets: true, entry: this.layerEntry };
    this.pairs = o.reusePrefix && knock && !this.wholeSequences ? m.pastPairs() : null;
    const maxBytes = o.maxBatchMB * 1024 * 1024;
    const rowBytes = estimateRowBytes(c, plan.T, Math.max(1, plan.n - 1), true);
    // The analysis's graph variant is one more runtime session: its copy of the weights (external data included)
    // and the prepacked copies onnxruntime makes of MatMul weights, about twice the graph in all.
    const weightBytes = 2 * m.weightBytes;
    if (rowBytes + weightBytes > maxBytes) {
      throw new InputError(
        `one variant of ${plan.T} tokens needs about ${Math.ceil((rowBytes + weightBytes) / 2 ** 20)} MiB (the model's weights included), over the memory bound of ${Math.floor(maxBytes / 2 ** 20)} MiB (PRECACHE_LENS_MAX_BATCH_MB); shorten the texts or raise the bound`,
        'input',
      );
    }
    this.rowsPerCall = this.wholeSequences ? 1 : Math.max(1, Math.min(o.maxRowsPerCall ?? Infinity, Math.floor((maxBytes - weightBytes) / rowBytes)));
  }

  /**
   * The row-selection arguments of a run over sequences of length T that needs the targets' log-probabilities at
   * `rows` (and the top predictions at `top` of them), and how to read the wanted rows back. Normally only those
   * rows reach the unembedding; for whole sequences every row does (a quantised unembedding's scale spans all of
   * them, as in onnxruntime's own run) with dummy targets at the others, and the wanted rows are picked after.
   */
  private rowsFor(T: number, rows: number[], targets: number[][], top?: { rows: number[]; k: number }) {
    if (!this.wholeSequences) return { args: { logitRows: rows, targets, top }, pick: (lp: Float32Array) => lp };
    const full = targets.map((t) => {
      const row = new Array<number>(T).fill(0);
      rows.forEach((r, i) => (row[r] = t[i]));
      return row;
    });
    const R = rows.length;
    const pick = (lp: Float32Array) => {
      const out = new Float32Array(targets.length * R);
      for (let b = 0; b < targets.length; b++) for (let i = 0; i < R; i++) out[b * R + i] = lp[b * T + rows[i]];
      return out;
    };
    return { args: { targets: full, top: top && { rows: top.rows.map((i) => rows[i]), k: top.k } }, pick };
  }

  private checkCancel(): void {
    if (this.o.isCancelled()) throw new CancelledError();
  }

  /**
   * The with-prompt run with the hooks the read shares need. On a graph with a KV cache (when knockouts reuse the
   * prompt's keys/values) it is two runs: [BOS] + P' alone (from the prefix cache when this process has run this
   * prompt), then X's columns continuing its keys/values, whose patterns are X's rows only ([H,n,T], not [H,T,T]).
   * Otherwise one run over [BOS] + P' + X. Only losses and top predictions leave the runtime, no logits rows.
   */
  async withPrompt(): Promise<WithPromptRun> {
    // A graph whose value-norm hook does not cover the past positions (none known) is run whole instead.
    const r = (this.pairs ? await this.withPromptSplit() : null) ?? (await this.withPromptWhole());
    this.checkCancel();
    return r;
  }

  private async withPromptWhole(): Promise<WithPromptRun> {
    const { p, n, seq, inputIds, nLayer: L } = this.plan;
    const sel = this.rowsFor(seq.length, range(p, p + n), [inputIds], { rows: range(0, n), k: this.plan.options.topK });
    const r = await this.m.run({ tokens: [seq], hooks: this.graph.hooks, ...sel.args, logits: false, variant: this.graph });
    this.calls++;
    const lossWith = negated(sel.pick(r.targetLogprobs!.data));
    if (this.layerEntry) this.residPre = range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'hook_resid_pre'))!, 0));
    return {
      lossWith,
      top: topOfGraph(r.top!, n),
      patterns: range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'attn.hook_pattern'))!, 0)),
      norms: range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'attn.hook_value_norm'))!, 0)),
    };
  }

  private async withPromptSplit(): Promise<WithPromptRun | null> {
    const { p, n, seq, inputIds, nLayer: L } = this.plan;
    const pre = await this.prefixRun();
    this.prefix = pre.presents;
    // X's columns continue the prompt's keys/values: the queries are X's n positions, the keys all T.
    const r = await this.m.run({
      tokens: [inputIds],
      positionIds: [inputPositions(p, n)],
      past: this.pastFor(1),
      hooks: this.graph.hooks,
      logitRows: range(0, n - 1),
      targets: [inputIds.slice(1)],
      top: { rows: range(0, n - 1), k: this.plan.options.topK },
      logits: false,
      variant: this.graph,
    });
    this.calls++;
    const norms = range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'attn.hook_value_norm'))!, 0));
    if (norms.some((t) => t.dims[1] !== seq.length)) return null;
    const lossWith = [pre.lastLogSumExp - pre.lastLogits[inputIds[0]], ...negated(r.targetLogprobs!.data)];
    if (this.layerEntry) {
      this.residPre = range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'hook_resid_pre'))!, 0));
      this.residFirst = p + 1;
    }
    return {
      lossWith,
      // x_1's predictions from the prefix's last row (kept as logits: the prefix cache serves every x_1), the rest from the graph.
      top: [topPredictions(pre.lastLogits, this.plan.options.topK, pre.lastLogSumExp), ...topOfGraph(r.top!, n - 1)],
      patterns: range(0, L).map((l) => batchItem(r.cache.get(hookName(l, 'attn.hook_pattern'))!, 0)),
      promptRows: pre.promptRows,
      norms,
    };
  }

  /** [BOS] + P' alone: its keys/values, the head sums of its attention rows, its last row's logits (cached). */
  private async prefixRun(): Promise<PrefixRun> {
    const { p, bos, promptIds, nLayer: L } = this.plan;
    const key = { model: this.m.modelHash, bos, promptIds };
    const hit = prefixCache.get(key);
    if (hit) return hit;
    const r = await this.m.run({
      tokens: [[bos, ...promptIds]],
      hooks: range(0, L).map((l) => hookName(l, 'attn.hook_pattern')),
      logitRows: [p],
      presents: true,
      variant: this.graph,
    });
    this.calls++;
    const lastLogits = batchItem(r.logits!, 0).data.slice();
    const run: PrefixRun = {
      presents: r.presents!,
      promptRows: range(0, L).map((l) => promptHeadSums(batchItem(r.cache.get(hookName(l, 'attn.hook_pattern'))!, 0), p)),
      lastLogits,
      // In float64 from the row itself, not from one target's in-graph log-probability: the same for every x_1, so a
      // cached prefix gives the numbers a fresh one does, bit for bit.
      lastLogSumExp: rowLogSumExp(lastLogits),
    };
    prefixCache.set(key, run);
    return run;
  }

  /**
   * [BOS] + X at positions 0, p+1..p+n (the benefit's reference), from the cache when this process has run it
   * before for a prompt of the same length on this input.
   */
  async noPrompt(): Promise<ShiftedRun> {
    const key = this.noPromptKey();
    const hit = noPromptCache.shifted(key);
    if (hit) return hit;
    const { p, n, bos, inputIds } = this.plan;
    const sel = this.rowsFor(n + 1, range(0, n), [inputIds], { rows: range(0, n), k: key.topK });
    const r = await this.m.run({
      tokens: [[bos, ...inputIds]],
      positionIds: [[0, ...inputPositions(p, n)]],
      ...sel.args,
      logits: false,
      variant: this.graph,
    });
    this.calls++;
    const lossNo = negated(sel.pick(r.targetLogprobs!.data));
    const shifted = { lossNo, topNo: topOfGraph(r.top!, n) };
    noPromptCache.setShifted(key, shifted);
    this.checkCancel();
    return shifted;
  }

  /**
   * [BOS] + X at its natural positions 0..n (a reference reported next to the benefit), from the cache when this
   * process has run this input before under any prompt. Only its losses leave the graph.
   */
  async noPromptNatural(): Promise<number[]> {
    const key = this.noPromptKey();
    const hit = noPromptCache.natural(key);
    if (hit) return hit;
    const { n, bos, inputIds } = this.plan;
    const sel = this.rowsFor(n + 1, range(0, n), [inputIds]);
    const r = await this.m.run({ tokens: [[bos, ...inputIds]], positionIds: [range(0, n + 1)], ...sel.args, logits: false, variant: this.graph });
    this.calls++;
    const natural = negated(sel.pick(r.targetLogprobs!.data));
    noPromptCache.setNatural(key, natural);
    this.checkCancel();
    return natural;
  }

  private noPromptKey(): NoPromptKey {
    const { p, bos, inputIds, options } = this.plan;
    return { model: this.m.modelHash, bos, inputIds, p, topK: options.topK };
  }

  /**
   * Runs knockout variants in batches under the memory bound; returns, per variant id, the loss of each of
   * x_2..x_n with the variant's edges blocked. `onBatch` is told how many variants have finished.
   */
  async knockouts(variants: readonly Variant[], onBatch: (finished: number) => void = () => {}): Promise<Map<string, number[]>> {
    const { p, n, T, seq, inputIds, nLayer: L } = this.plan;
    if (!this.plan.hasKnockouts) throw new Error('knockouts: the plan has none (no prompt, or a one-token input)');
    const out = new Map<string, number[]>();
    const inputPos = inputPositions(p, n);
    const readRows = range(p + 1, p + n);
    // Knockouts block edges from X's columns; x_1 is predicted at the prompt's last column, which no X->P' edge
    // reaches. So K averages over the tokens X's own columns predict (x_2..x_n): there K(all layers) = mean B exactly.
    const readTargets = inputIds.slice(1);
    const R = readTargets.length;
    // With layer entry, a call holds variants that first block at the same layer and starts there: a row's cost
    // is (L - entry) layers, so mixing entries would compute every row from the lowest one.
    // Variants that block the same edges (e.g. the top layer window and D(L-2), or a span that is the whole prompt)
    // are one computation: run once in this analysis, reported under every id.
    const sameAs = new Map<string, Variant[]>();
    let known = 0;
    for (const v of variants) {
      const k = this.edgesKey(v);
      const before = this.knockedOut.get(k);
      if (before) {
        out.set(v.id, before);
        known++;
        continue;
      }
      const list = sameAs.get(k);
      if (list) list.push(v);
      else sameAs.set(k, [v]);
    }
    if (known) onBatch(known);
    const unique = [...sameAs.values()].map((l) => l[0]);
    const groups = this.layerEntry ? groupBy(unique, (v) => v.layers[0]) : [unique];
    const batches = groups.flatMap((g) => range(0, Math.ceil(g.length / this.rowsPerCall)).map((i) => g.slice(i * this.rowsPerCall, (i + 1) * this.rowsPerCall)));
    for (const batch of batches) {
      const B = batch.length;
      const entryLayer = this.layerEntry ? Math.min(...batch.map((v) => v.layers[0])) : 0;
      const attentionBias: Record<number, Tensor> = {};
      // With a reused prefix the queries are X's n columns only: the mask's rows p+1..p+n, all T keys.
      const Q = this.prefix ? n : T;
      const firstRow = this.prefix ? p + 1 : 0;
      // Layers where the same rows of the batch block edges share one bias tensor (e.g. all layers for span rows).
      const byRows = new Map<string, Tensor>();
      for (let l = 0; l < L; l++) {
        const key = batch.map((v) => (v.layers.includes(l) ? '1' : '0')).join('');
        if (!key.includes('1')) continue;
        let t = byRows.get(key);
        if (!t) {
          const data = new Float32Array(B * Q * T);
          batch.forEach((v, r) => {
            if (v.layers.includes(l)) data.set(this.maskFor(v).subarray(firstRow * T, (firstRow + Q) * T), r * Q * T);
          });
          t = { data, dims: [B, 1, Q, T] };
          byRows.set(key, t);
        }
        attentionBias[l] = t;
      }
      // Only the targets' log-probabilities leave the runtime (computed in-graph), not [B, n-1, vocab] logits.
      const targets = batch.map(() => readTargets);
      const entry = entryLayer > 0 ? { layer: entryLayer, resid: this.entryStream(entryLayer, firstRow, Q, B) } : undefined;
      const r = this.prefix
        ? await this.m.run({
            tokens: batch.map(() => inputIds),
            positionIds: batch.map(() => inputPos),
            past: this.pastFor(B),
            attentionBias,
            logitRows: range(0, n - 1),
            targets,
            logits: false,
            entry,
            variant: this.graph,
          })
        : await this.wholeRun(batch.map(() => seq), attentionBias, readRows, targets, entry);
      this.calls++;
      const lp = r.targetLogprobs!;
      let finished = 0;
      // The loss arrays are read, never changed, so variants with the same edges share one.
      batch.forEach((v, b) => {
        const losses = negated(lp.data.subarray(b * R, (b + 1) * R));
        const key = this.edgesKey(v);
        this.knockedOut.set(key, losses);
        for (const same of sameAs.get(key)!) {
          out.set(same.id, losses);
          finished++;
        }
      });
      onBatch(finished);
      this.checkCancel();
    }
    return out;
  }

  /** Knockout rows over the whole sequence [BOS] + P' + X, their targets' log-probabilities at `rows` only. */
  private async wholeRun(tokens: number[][], attentionBias: Record<number, Tensor>, rows: number[], targets: number[][], entry: RunRequest['entry']) {
    const sel = this.rowsFor(this.plan.T, rows, targets);
    const r = await this.m.run({ tokens, attentionBias, ...sel.args, logits: false, entry, variant: this.graph });
    return { ...r, targetLogprobs: { data: sel.pick(r.targetLogprobs!.data), dims: [tokens.length, rows.length] } };
  }

  /** The prefix's keys/values as past inputs for B rows, tiled again only when B changes (one copy held). */
  private pastFor(B: number): Record<string, Tensor> {
    if (this.tiledPast?.B !== B) {
      this.tiledPast = null; // the old copy can go before the new one is made
      this.tiledPast = { B, past: tilePast(this.prefix!, this.pairs!, B) };
    }
    return this.tiledPast.past;
  }

  /** The with-prompt stream entering `layer` at positions first..first+Q-1, repeated for B rows: [B, Q, d]. */
  private entryStream(layer: number, first: number, Q: number, B: number): Tensor {
    const t = this.residPre![layer];
    const d = t.dims[1];
    const rows = t.data.subarray((first - this.residFirst) * d, (first - this.residFirst + Q) * d);
    const data = new Float32Array(B * Q * d);
    for (let b = 0; b < B; b++) data.set(rows, b * Q * d);
    return { data, dims: [B, Q, d] };
  }

  /** Which edges a variant blocks: its layers and prompt tokens (a span of the whole prompt is the whole prompt). */
  private edgesKey(v: Variant): string {
    const whole = !v.span || (v.span[0] <= 0 && v.span[1] >= this.plan.p);
    return `${v.layers.join(',')}|${whole ? 'all' : v.span!.join(':')}`;
  }

  private maskFor(v: Variant): Float32Array {
    const { T, p, n } = this.plan;
    const key = v.span ? v.span.join(':') : 'all';
    let mk = this.masks.get(key);
    if (!mk) {
      mk = v.span ? spanBiasMask(T, p, n, { tokenStart: v.span[0], tokenEnd: v.span[1] }) : blockAllPromptMask(T, p, n);
      this.masks.set(key, mk);
    }
    return mk;
  }
}

/** Items grouped by key, groups in ascending key order, items in their original order. */
function groupBy<T>(items: readonly T[], key: (t: T) => number): T[][] {
  const m = new Map<number, T[]>();
  for (const t of items) {
    const k = key(t);
    const g = m.get(k);
    if (g) g.push(t);
    else m.set(k, [t]);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
}

/** The prefix's present tensors [1,...] repeated into past inputs [B,...] (B = 1: the tensors themselves), keyed by past input name. */
function tilePast(presents: Map<string, Tensor>, pairs: { past: string; present: string }[], B: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const { past, present } of pairs) {
    const t = presents.get(present)!;
    if (B === 1) {
      out[past] = t;
      continue;
    }
    const data = new Float32Array(B * t.data.length);
    for (let b = 0; b < B; b++) data.set(t.data, b * t.data.length);
    out[past] = { data, dims: [B, ...t.dims.slice(1)] };
  }
  return out;
}

/** Losses from the graph's target log-probabilities. */
function negated(logprobs: Float32Array): number[] {
  return Array.from(logprobs, (x) => -x);
}

/** The first `rows` rows of the graph's top predictions, as probabilities (exp of its float32 log-softmax). */
function topOfGraph(top: { logprobs: Float32Array; ids: Int32Array; k: number }, rows: number): Prediction[][] {
  return range(0, rows).map((r) => range(r * top.k, (r + 1) * top.k).map((j) => ({ id: top.ids[j], prob: Math.exp(top.logprobs[j]) })));
}

/** Empties the process's caches of prefix and no-prompt runs (so that the next analysis computes everything). */
export function clearRunCaches(): void {
  noPromptCache.clear();
  prefixCache.clear();
}
