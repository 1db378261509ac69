// The analysis pipeline: tokenize -> build variants -> run the engine in memory-bounded batches -> metrics.
import { hookName } from '../../shared/hooks.js';
import {
  DEFAULT_ANALYSIS_OPTIONS,
  type AnalysisOptions,
  type AnalysisProgress,
  type AnalysisResult,
  type InputTokenResult,
  type LayerReadShares,
  type SpanResult,
  type VariantSummary,
} from '../../shared/analysis.js';
import { attentionReadShare, attentionRollout, normWeightedReadShare, readMap } from '../../shared/metrics/attention.js';
import { depthCurveFromLosses, depthLayerSets, layerWindows, meanLossIncrease, precomputationShare } from '../../shared/metrics/knockout.js';
import { promptBenefit, targetLosses, topPredictions } from '../../shared/metrics/loss.js';
import { blockAllPromptMask, parseMarkedPrompt, spanBiasMask, splitSpans, type TokenOffset } from '../../shared/metrics/spans.js';
import { batchItem, inputPositions, mean, type Tensor } from '../../shared/metrics/tensor.js';
import type { HookedModel } from '../engine/hooked-model.js';
import type { TextTokenizer } from '../model/tokenizer.js';

export class AnalysisInputError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'AnalysisInputError';
  }
}

export class CancelledError extends Error {
  constructor() {
    super('the run was cancelled');
    this.name = 'CancelledError';
  }
}

export interface AnalyzeArgs {
  modelId: string;
  prompt: string;
  input: string;
  options?: Partial<AnalysisOptions>;
  /** Peak memory bound for one engine call, in MiB (estimated); batches are split to stay under it. */
  maxBatchMB?: number;
  /**
   * Reuse the prompt's keys/values for the knockouts when the graph takes a KV cache (default true): blocking
   * X -> P' never changes the prompt's columns, so each knockout only computes X's columns.
   */
  reusePrefix?: boolean;
}

export const DEFAULT_MAX_BATCH_MB = Number(process.env.PRECACHE_LENS_MAX_BATCH_MB ?? 2048);

/** One knockout variant: edges X -> prompt tokens [start, end) blocked at `layers`. */
interface Knockout {
  kind: VariantSummary['kind'];
  label: string;
  layers: number[];
  span: [number, number] | null;
}

/**
 * Estimated peak bytes of one knockout row. The logits rows dominate: the runtime holds the logits and their log
 * softmax (only the targets' log-probabilities are copied out), and its arena keeps a high-water mark, so they are
 * counted five times (calibrated on the GPT-2-small-shaped bench model: ~155 MiB per row of 257 tokens); then attention scores/probabilities, MLP activations and the per-layer bias inputs.
 * Calibrate with `npm run bench` (it reports peak RSS above the loaded model next to the bound).
 */
export function estimateRowBytes(c: { nLayer: number; nHead: number; dModel: number; vocabSize: number }, T: number, logitRows: number, withBias: boolean): number {
  return 4 * (5 * logitRows * c.vocabSize + 4 * c.nHead * T * T + 24 * c.dModel * T + (withBias ? c.nLayer * T * T : 0));
}

/** Byte-level token offsets in `text` from cumulative decoding (the JS tokenizer reports no offsets). */
export function tokenOffsets(tok: TextTokenizer, ids: number[], text: string): TokenOffset[] {
  const out: TokenOffset[] = [];
  let prev = 0;
  for (let k = 0; k < ids.length; k++) {
    const decoded = tok.decode(ids.slice(0, k + 1));
    // A token that ends inside a multi-byte character decodes to U+FFFD; clamp so offsets stay monotonic and in range.
    let end = Math.min(text.length, Math.max(prev, decoded.length));
    if (k === ids.length - 1) end = text.length;
    out.push([prev, end]);
    prev = end;
  }
  return out;
}

export async function analyze(
  m: HookedModel,
  tok: TextTokenizer,
  args: AnalyzeArgs,
  onProgress: (p: AnalysisProgress) => void = () => {},
  isCancelled: () => boolean = () => false,
): Promise<AnalysisResult> {
  const t0 = performance.now();
  const c = m.config;
  const L = c.nLayer;
  const structure = m.analyze();
  if (structure.attentionProblem) throw new AnalysisInputError(structure.attentionProblem, 'model');
  const checkCancel = () => {
    if (isCancelled()) throw new CancelledError();
  };
  onProgress({ stage: 'tokenize', done: 0, total: 1 });

  // --- tokenize
  let marked;
  try {
    marked = parseMarkedPrompt(args.prompt);
  } catch (e) {
    throw new AnalysisInputError((e as Error).message, 'prompt');
  }
  const opts: AnalysisOptions = {
    ...DEFAULT_ANALYSIS_OPTIONS,
    spans: marked.segments.length ? 'marked' : DEFAULT_ANALYSIS_OPTIONS.spans,
    ...args.options,
  };
  if (opts.spans === 'marked' && marked.segments.length === 0) {
    throw new AnalysisInputError('span mode "marked" needs at least one {{name|text}} segment in the prompt', 'options.spans');
  }
  const promptIds = tok.encode(marked.text);
  const inputIds = tok.encode(args.input);
  const p = promptIds.length;
  const n = inputIds.length;
  if (n === 0) throw new AnalysisInputError('the input text is empty; it needs at least one token', 'input');
  const T = 1 + p + n;
  if (T > c.nCtx) {
    throw new AnalysisInputError(`[BOS] + prompt (${p} tokens) + input (${n} tokens) = ${T} tokens, longer than the model's context of ${c.nCtx}`, 'input');
  }
  const bos = tok.bosId;
  const seq = [bos, ...promptIds, ...inputIds];
  const offsets = tokenOffsets(tok, promptIds, marked.text);
  const spans = p === 0 ? [] : splitSpans(marked.text, offsets, opts.spans, marked.segments);
  const tTok = performance.now();

  // --- knockout variants
  const knockouts: Knockout[] = [];
  if (p > 0 && n > 1) {
    depthLayerSets(L).forEach((layers, k) => knockouts.push({ kind: 'depth', label: `block X->P' at layers ${k}..${L - 1}`, layers, span: null }));
    layerWindows(L, opts.layerWindow).forEach((w, l) =>
      knockouts.push({ kind: 'window', label: `block X->P' at layers ${w[0]}..${w[w.length - 1]} (around ${l})`, layers: w, span: null }),
    );
    if (opts.spanKnockouts) {
      for (const s of spans) {
        if (s.tokenEnd <= s.tokenStart) continue;
        knockouts.push({ kind: 'span-all', label: `block X->"${s.label}" at all layers`, layers: range(0, L), span: [s.tokenStart, s.tokenEnd] });
        if (L > 1) knockouts.push({ kind: 'span-from-1', label: `block X->"${s.label}" at layers 1..${L - 1}`, layers: range(1, L), span: [s.tokenStart, s.tokenEnd] });
      }
    }
  }
  const maxBytes = (args.maxBatchMB ?? DEFAULT_MAX_BATCH_MB) * 1024 * 1024;
  const rowBytes = estimateRowBytes(c, T, Math.max(1, n - 1), true);
  // The analysis's graph variant is one more runtime session: its copy of the weights (external data included)
  // and the prepacked copies onnxruntime makes of MatMul weights, about twice the graph in all (measured on a
  // GPT-2-small-shaped export: +1.36 GiB for a 476 MiB graph at 4 rows per call).
  const weightBytes = 2 * m.weightBytes;
  if (rowBytes + weightBytes > maxBytes) {
    throw new AnalysisInputError(
      `one variant of ${T} tokens needs about ${Math.ceil((rowBytes + weightBytes) / 2 ** 20)} MiB (the model's weights included), over the memory bound of ${Math.floor(maxBytes / 2 ** 20)} MiB (PRECACHE_LENS_MAX_BATCH_MB); shorten the texts or raise the bound`,
      'input',
    );
  }
  const rowsPerCall = Math.max(1, Math.floor((maxBytes - weightBytes) / rowBytes));
  const totalUnits = 2 + knockouts.length;
  let done = 0;
  let engineCalls = 0;
  onProgress({ stage: 'forward', done, total: totalUnits });

  // --- with-prompt forward with the hooks the read shares need
  const hooks = range(0, L).flatMap((l) => [hookName(l, 'attn.hook_pattern'), hookName(l, 'attn.hook_value_norm')]);
  const tF = performance.now();
  // Logits only at the rows that predict X (p..p+n-1): the unembedding dominates a small model's cost.
  const pairs = args.reusePrefix !== false && knockouts.length ? m.pastPairs() : null;
  // One graph variant serves every call of the analysis, so the runtime holds one extra copy of the weights.
  const variant = { hooks, bias: knockouts.length > 0, rows: true, targets: knockouts.length > 0 };
  const withRun = await m.run({ tokens: [seq], hooks, logitRows: range(p, p + n), presents: !!pairs, variant });
  engineCalls++;
  const withLogits = batchItem(withRun.logits!, 0);
  const inputPos = inputPositions(p, n);
  const lossWith = targetLosses(withLogits, inputIds);
  // Knockouts block edges from X's columns; x_1 is predicted at the prompt's last column, which no X->P' edge
  // reaches. So K averages over the tokens X's own columns predict (x_2..x_n): there K(all layers) = mean B exactly.
  const readRows = range(p + 1, p + n);
  const readTargets = inputIds.slice(1);
  done++;
  onProgress({ stage: 'forward', done, total: totalUnits });
  checkCancel();

  // --- no-prompt runs: [BOS] + X at the same absolute positions, and at natural positions
  const short = [bos, ...inputIds];
  const noRun = await m.run({ tokens: [short, short], positionIds: [[0, ...inputPos], range(0, n + 1)], logitRows: range(0, n), variant });
  engineCalls++;
  const noLogits = batchItem(noRun.logits!, 0);
  const lossNo = targetLosses(noLogits, inputIds);
  const lossNoNat = targetLosses(batchItem(noRun.logits!, 1), inputIds);
  done++;
  const tForward = performance.now();
  onProgress({ stage: 'knockout', done, total: totalUnits });
  checkCancel();

  // --- knockouts, batched under the memory bound
  // Per knockout variant, the loss of each of x_2..x_n with the variant's edges blocked.
  const koLosses: number[][] = new Array(knockouts.length);
  // The prompt's columns ([BOS] + P') are the same in every knockout (no X -> P' block reaches them, and causal
  // attention never lets them read X): their keys/values from the with-prompt run serve every variant.
  const prefix = pairs ? firstPositions(withRun.presents!, p + 1) : null;
  const full = p > 0 ? blockAllPromptMask(T, p, n) : null;
  const maskCache = new Map<string, Float32Array>();
  const maskFor = (ko: Knockout): Float32Array => {
    if (!ko.span) return full!;
    const key = ko.span.join(':');
    let mk = maskCache.get(key);
    if (!mk) {
      mk = spanBiasMask(T, p, n, { tokenStart: ko.span[0], tokenEnd: ko.span[1] });
      maskCache.set(key, mk);
    }
    return mk;
  };
  for (let start = 0; start < knockouts.length; start += rowsPerCall) {
    const batch = knockouts.slice(start, start + rowsPerCall);
    const B = batch.length;
    const attentionBias: Record<number, Tensor> = {};
    // With a reused prefix the queries are X's n columns only: the mask's rows p+1..p+n, all T keys.
    const Q = prefix ? n : T;
    const firstRow = prefix ? p + 1 : 0;
    // Layers where the same rows of the batch block edges share one bias tensor (e.g. all layers for span rows).
    const byRows = new Map<string, Tensor>();
    for (let l = 0; l < L; l++) {
      const key = batch.map((ko) => (ko.layers.includes(l) ? '1' : '0')).join('');
      if (!key.includes('1')) continue;
      let t = byRows.get(key);
      if (!t) {
        const data = new Float32Array(B * Q * T);
        batch.forEach((ko, r) => {
          if (ko.layers.includes(l)) data.set(maskFor(ko).subarray(firstRow * T, (firstRow + Q) * T), r * Q * T);
        });
        t = { data, dims: [B, 1, Q, T] };
        byRows.set(key, t);
      }
      attentionBias[l] = t;
    }
    // Only the targets' log-probabilities leave the runtime (computed in-graph), not [B, n-1, vocab] logits.
    const targets = batch.map(() => readTargets);
    const r = prefix
      ? await m.run({
          tokens: batch.map(() => inputIds),
          positionIds: batch.map(() => inputPos),
          past: tilePast(prefix, pairs!, B),
          attentionBias,
          logitRows: range(0, n - 1),
          targets,
          logits: false,
          variant,
        })
      : await m.run({ tokens: batch.map(() => seq), attentionBias, logitRows: readRows, targets, logits: false, variant });
    engineCalls++;
    const lp = r.targetLogprobs!;
    const R = readTargets.length;
    batch.forEach((_, b) => {
      koLosses[start + b] = Array.from(lp.data.subarray(b * R, (b + 1) * R), (x) => -x);
    });
    done += B;
    onProgress({ stage: 'knockout', done, total: totalUnits });
    checkCancel();
  }
  const tKo = performance.now();
  onProgress({ stage: 'metrics', done, total: totalUnits });

  // --- metrics
  const meanWith = mean(lossWith);
  const lossWithRead = lossWith.slice(1);
  const hasKnockouts = p > 0 && n > 1;
  const K = (i: number) => (hasKnockouts ? meanLossIncrease(koLosses[i], lossWithRead) : 0);
  const depthCurve = hasKnockouts ? depthCurveFromLosses(koLosses.slice(0, L), lossWithRead) : new Array<number>(L + 1).fill(0);
  const benefit = promptBenefit(lossNo, lossWith);
  const benefitNatural = promptBenefit(lossNoNat, lossWith);
  const meanBenefit = benefit.mean;
  const meanBenefitRead = mean(benefit.perToken.slice(1));
  const patterns = range(0, L).map((l) => batchItem(withRun.cache.get(hookName(l, 'attn.hook_pattern'))!, 0));
  const norms = range(0, L).map((l) => batchItem(withRun.cache.get(hookName(l, 'attn.hook_value_norm'))!, 0));
  const layers: LayerReadShares[] = range(0, L).map((l) => {
    const a = attentionReadShare(patterns[l], p, n);
    const w = normWeightedReadShare(patterns[l], norms[l], p, n);
    return {
      layer: l,
      hooks: { pattern: hookName(l, 'attn.hook_pattern'), valueNorm: hookName(l, 'attn.hook_value_norm') },
      attention: a.layer,
      attentionPerHead: a.perHead,
      sink: a.sink,
      sinkPerHead: a.sinkPerHead,
      normWeighted: w.layer,
      normWeightedPerHead: w.perHead,
    };
  });
  const windows = layerWindows(L, opts.layerWindow);
  const layerProfile = windows.map((w, l) => ({ layer: l, layers: w, k: K(L + l) }));
  const spanResults: SpanResult[] = [];
  {
    let i = 2 * L;
    for (const s of spans) {
      const has = opts.spanKnockouts && s.tokenEnd > s.tokenStart && hasKnockouts;
      const kAll = has ? K(i++) : 0;
      const kFrom1 = has && L > 1 ? K(i++) : has ? kAll : 0;
      spanResults.push({ label: s.label, tokenStart: s.tokenStart, tokenEnd: s.tokenEnd, charStart: s.charStart, charEnd: s.charEnd, kAllLayers: kAll, kFromLayer1: kFrom1 });
    }
  }
  const strings = (ids: number[]) => tok.tokenStrings(ids);
  const top = (logits: Tensor, row: number) =>
    topPredictions(logits.data.subarray(row * logits.dims[1], (row + 1) * logits.dims[1]), opts.topK).map((q) => ({ ...q, text: tok.decode([q.id]) }));
  const inputStrings = strings(inputIds);
  const inputTokens: InputTokenResult[] = inputIds.map((id, k) => ({
    id,
    text: inputStrings[k],
    position: p + 1 + k,
    lossWithPrompt: lossWith[k],
    lossNoPrompt: lossNo[k],
    lossNoPromptNatural: lossNoNat[k],
    benefit: benefit.perToken[k],
    benefitNatural: benefitNatural.perToken[k],
    topWithPrompt: top(withLogits, k),
    topNoPrompt: top(noLogits, k),
  }));
  const promptStrings = strings(promptIds);
  const variants: VariantSummary[] = [
    { idx: 0, kind: 'with-prompt', label: '[BOS] + P + X', blockedLayers: [], blockedSpan: null, meanLoss: meanWith },
    { idx: 1, kind: 'no-prompt', label: '[BOS] + X at positions 0, p+1..p+n', blockedLayers: [], blockedSpan: null, meanLoss: mean(lossNo) },
    { idx: 2, kind: 'no-prompt-natural', label: '[BOS] + X at positions 0..n', blockedLayers: [], blockedSpan: null, meanLoss: mean(lossNoNat) },
        // Knockout variants' mean loss is over x_2..x_n (see readPos); the three runs above average over all of X.
    ...knockouts.map((ko, i) => ({ idx: 3 + i, kind: ko.kind, label: ko.label, blockedLayers: ko.layers, blockedSpan: ko.span, meanLoss: mean(koLosses[i]) })),
  ];
  const tEnd = performance.now();
  const result: AnalysisResult = {
    schemaVersion: 1,
    model: { id: args.modelId, name: m.md.name, hash: m.modelHash, nLayer: L, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx, vocabSize: c.vocabSize },
    bos: { id: bos, text: tok.decode([bos]), source: tok.bosSource },
    prompt: {
      raw: args.prompt,
      text: marked.text,
      tokens: promptIds.map((id, k) => ({ id, text: promptStrings[k] })),
      offsets: offsets.map(([s, e]) => [s, e]),
      segments: marked.segments,
    },
    input: { text: args.input, tokens: inputTokens },
    p,
    n,
    options: opts,
    summary: {
      meanLossWithPrompt: meanWith,
      meanLossNoPrompt: mean(lossNo),
      meanLossNoPromptNatural: mean(lossNoNat),
      meanBenefit,
      meanBenefitNatural: benefitNatural.mean,
      meanBenefitRead: meanBenefitRead,
      precomputationShare: hasKnockouts ? precomputationShare(depthCurve) : null,
      identityResidual: hasKnockouts ? Math.abs(depthCurve[0] - meanBenefitRead) : 0,
      attentionRolloutShare: attentionRollout(patterns, p, n),
    },
    layers,
    readMap: readMap(patterns, norms, p, n),
    depthCurve,
    layerProfile,
    spans: spanResults,
    variants,
    timings: {
      tokenizeMs: tTok - t0,
      forwardMs: tForward - tF,
      knockoutMs: tKo - tForward,
      metricsMs: tEnd - tKo,
      totalMs: tEnd - t0,
      engineCalls,
    },
  };
  onProgress({ stage: 'done', done: totalUnits, total: totalUnits });
  return result;
}

/** Present tensors [1, H, T, dh] cut to their first `len` positions. */
function firstPositions(presents: Map<string, Tensor>, len: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of presents) {
    const [, H, T, dh] = t.dims;
    const data = new Float32Array(H * len * dh);
    for (let h = 0; h < H; h++) data.set(t.data.subarray(h * T * dh, (h * T + len) * dh), h * len * dh);
    out.set(name, { data, dims: [1, H, len, dh] });
  }
  return out;
}

/** The prefix's present tensors [1,...] repeated into past inputs [B,...], keyed by past input name. */
function tilePast(presents: Map<string, Tensor>, pairs: { past: string; present: string }[], B: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const { past, present } of pairs) {
    const t = presents.get(present)!;
    const data = new Float32Array(B * t.data.length);
    for (let b = 0; b < B; b++) data.set(t.data, b * t.data.length);
    out[past] = { data, dims: [B, ...t.dims.slice(1)] };
  }
  return out;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}

