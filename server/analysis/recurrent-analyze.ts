// The analysis of a recurrent (RWKV) model: the design's measurements with the knockout as a state reset at the boundary.
import type { AnalysisProgress, AnalysisResult, DepthStage, HeadlineInputToken, HeadlineStage, LayerReadShares, PartialEvent, SpanResult, SpansStage, VariantSummary } from '../../shared/analysis.js';
import { CancelledError } from '../../shared/errors.js';
import { depthCurveFromLosses, meanLossIncrease, precomputationShare } from '../../shared/metrics/knockout.js';
import { promptBenefit, targetLosses, topPredictions } from '../../shared/metrics/loss.js';
import { mean, type Tensor } from '../../shared/metrics/tensor.js';
import { recurrentHook, stateRow, type RecurrentModel } from '../engine/recurrent-model.js';
import { promptAndInputTexts, type TextTokenizer } from '../model/tokenizer.js';
import { settings } from '../settings.js';
import type { AnalyzeArgs, AnalyzeHooks } from './analyze.js';
import { assembleResult, naturalReference } from './assemble.js';
import { planAnalysis, range, variantId, type AnalysisPlan, type Variant } from './plan.js';

/** Per layer, one [S] row: the state a run of X starts from. */
type LayerStates = Float32Array[];

/** A run of X from one set of layer states: its losses on x_2..x_n (rows 0..n-2 of its logits). */
interface XRun {
  id: string;
  start: LayerStates;
}

function rowsOf(t: Tensor, from: number, count: number): Tensor {
  const V = t.dims[t.dims.length - 1];
  return { data: t.data.subarray(from * V, (from + count) * V), dims: [count, V] };
}

function relChange(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    nb += b[i] ** 2;
  }
  return nb > 0 ? Math.sqrt(d / nb) : 0;
}

export async function analyzeRecurrent(m: RecurrentModel, tok: TextTokenizer, args: AnalyzeArgs, hooks: AnalyzeHooks = {}): Promise<AnalysisResult> {
  const t0 = performance.now();
  const onProgress = hooks.onProgress ?? (() => {});
  const isCancelled = hooks.isCancelled ?? (() => false);
  const emit = (e: PartialEvent) => hooks.onStage?.(e);
  const c = m.config;
  const L = c.nLayer;
  const V = c.vocabSize;
  onProgress({ stage: 'tokenize', done: 0, total: 1 });
  const plan = planAnalysis(c, tok, args);
  const { p, n, inputIds, promptIds } = plan;
  const tTok = performance.now();
  let calls = 0;
  const run = async (...a: Parameters<RecurrentModel['run']>) => {
    if (isCancelled()) throw new CancelledError();
    calls++;
    return m.run(...a);
  };
  const spans = plan.hasKnockouts && plan.options.spanKnockouts ? plan.spans.map((s, i) => ({ s, i })).filter(({ s }) => s.tokenEnd > s.tokenStart) : [];
  const total = 4 + plan.depth.length + spans.length * 3;
  let done = 0;
  const step = (stage: AnalysisProgress['stage'], k = 1) => {
    done += k;
    onProgress({ stage, done, total });
  };
  onProgress({ stage: 'forward', done, total });

  // --- headline: [BOS] (the no-prompt state), [BOS] + P (the prompt's state), X from each
  const stateHooks = range(0, L).map((l) => recurrentHook(l, 'hook_state'));
  const bosRun = await run({ tokens: [[plan.bos]] });
  const state0: LayerStates = bosRun.state.map((s) => stateRow(s, 0));
  step('forward');
  const promptRun = p > 0 ? await run({ tokens: [[plan.bos, ...promptIds]] }) : bosRun;
  const stateP: LayerStates = promptRun.state.map((s) => stateRow(s, 0));
  step('forward');
  const withX = await run({ tokens: [inputIds], state: stateP.map((s) => [s]), hooks: stateHooks });
  step('forward');
  const noX = await run({ tokens: [inputIds], state: state0.map((s) => [s]), hooks: stateHooks });
  step('forward');
  const tForward = performance.now();

  // Row k predicts x_{k+1}: x_1 from the last row before X, the rest from X's own rows.
  const predictionRows = (before: Tensor, xRun: Tensor): Tensor => {
    const out = new Float32Array(n * V);
    out.set(rowsOf(before, before.dims[1] - 1, 1).data, 0);
    out.set(rowsOf(xRun, 0, n - 1).data, V);
    return { data: out, dims: [n, V] };
  };
  const withRows = predictionRows(promptRun.logits!, withX.logits!);
  const noRows = predictionRows(bosRun.logits!, noX.logits!);
  const lossWith = targetLosses(withRows, inputIds);
  const lossNo = targetLosses(noRows, inputIds);
  const benefit = promptBenefit(lossNo, lossWith);
  const named = (row: Float32Array) => topPredictions(row, plan.options.topK).map((q) => ({ ...q, text: tok.tokenText(q.id) }));
  const texts = promptAndInputTexts(tok, promptIds, inputIds);
  const inputStrings = texts.input;
  const inputTokens: HeadlineInputToken[] = inputIds.map((id, k) => ({
    id,
    text: inputStrings[k],
    position: p + 1 + k,
    lossWithPrompt: lossWith[k],
    lossNoPrompt: lossNo[k],
    benefit: benefit.perToken[k],
    topWithPrompt: named(withRows.data.subarray(k * V, (k + 1) * V)),
    topNoPrompt: named(noRows.data.subarray(k * V, (k + 1) * V)),
  }));
  const S = m.stateSize;
  const layers: LayerReadShares[] = range(0, L).map((l) => {
    const hw = withX.cache.get(stateHooks[l])!.data;
    const hn = noX.cache.get(stateHooks[l])!.data;
    const overX = range(0, n).map((t) => relChange(hw.subarray(t * S, (t + 1) * S), hn.subarray(t * S, (t + 1) * S)));
    return {
      layer: l,
      hooks: { pattern: '', valueNorm: '' },
      attention: 0,
      attentionPerHead: [],
      sink: 0,
      sinkPerHead: [],
      normWeighted: 0,
      normWeightedPerHead: [],
      state: { hook: stateHooks[l], boundaryChange: relChange(stateP[l], state0[l]), inputChange: mean(overX) },
    };
  });
  const promptStrings = texts.prompt;
  const headline: HeadlineStage = {
    schemaVersion: 1,
    model: { id: args.modelId, name: m.md.name, hash: m.modelHash, nLayer: L, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx, vocabSize: V, architecture: 'rwkv' },
    bos: { id: plan.bos, text: tok.decode([plan.bos]), source: tok.bosSource },
    prompt: { raw: plan.prompt, text: plan.marked.text, tokens: promptIds.map((id, k) => ({ id, text: promptStrings[k] })), offsets: plan.offsets.map(([s, e]) => [s, e]), segments: plan.marked.segments },
    input: { text: plan.input, tokens: inputTokens },
    p,
    n,
    options: plan.options,
    summary: {
      meanLossWithPrompt: mean(lossWith),
      meanLossNoPrompt: mean(lossNo),
      meanBenefit: benefit.mean,
      meanBenefitRead: mean(benefit.perToken.slice(1)),
      attentionRolloutShare: 0,
    },
    layers,
    // No attention, so nothing is read per prompt token: the map is all zeros (span importance says which tokens matter).
    readMap: range(0, L).map(() => new Array<number>(p).fill(0)),
  };
  emit({ stage: 'headline', data: headline });

  // --- depth: X started with layers k..L-1 reset to the no-prompt state
  const lossWithRead = lossWith.slice(1);
  const losses = new Map<string, number[]>();
  const rowsPerCall = Math.max(1, Math.floor(((args.maxBatchMB ?? settings().maxBatchMB) * 2 ** 20) / (2 * 4 * n * (V + S * L))));
  const runX = async (xs: XRun[]) => {
    for (let a = 0; a < xs.length; a += Math.min(rowsPerCall, args.maxRowsPerCall ?? Infinity)) {
      const chunk = xs.slice(a, a + Math.min(rowsPerCall, args.maxRowsPerCall ?? Infinity));
      const r = await run({ tokens: chunk.map(() => inputIds), state: range(0, L).map((l) => chunk.map((x) => x.start[l])) });
      chunk.forEach((x, b) => losses.set(x.id, targetLosses(rowsOf(r.logits!, b * n, n - 1), inputIds.slice(1))));
      step('knockout', chunk.length);
    }
  };
  const resetAt = (layerSet: readonly number[], base: LayerStates, reset: LayerStates): LayerStates => range(0, L).map((l) => (layerSet.includes(l) ? reset[l] : base[l]));
  if (plan.hasKnockouts) await runX(plan.depth.map((v) => ({ id: v.id, start: resetAt(v.layers, stateP, state0) })));
  // A recurrent model has no positions: the no-prompt run is the same at any offset, so it is its own natural reference.
  const natural = naturalReference(lossNo, lossWith);
  let depth: DepthStage;
  if (plan.hasKnockouts) {
    const depthCurve = depthCurveFromLosses(
      range(0, L).map((k) => losses.get(variantId.depth(k))!),
      lossWithRead,
    );
    depth = {
      depthCurve,
      layerProfile: range(0, L).map((l) => {
        const v = plan.depth.find((d) => d.id === variantId.window(l))!;
        return { layer: l, layers: v.layers, k: meanLossIncrease(losses.get(v.id)!, lossWithRead) };
      }),
      precomputationShare: precomputationShare(depthCurve),
      identityResidual: Math.abs(depthCurve[0] - headline.summary.meanBenefitRead),
      natural,
    };
  } else {
    depth = { depthCurve: new Array<number>(L + 1).fill(0), layerProfile: plan.depth.filter((v) => v.kind === 'window').map((w, l) => ({ layer: l, layers: w.layers, k: 0 })), precomputationShare: null, identityResidual: 0, natural };
  }
  emit({ stage: 'depth', data: depth });

  // --- spans: the prompt with the span deleted (no positions to keep), its state replacing the prompt's
  const spanRuns: XRun[] = [];
  for (const { s, i } of spans) {
    const without = [...promptIds.slice(0, s.tokenStart), ...promptIds.slice(s.tokenEnd)];
    const r = await run({ tokens: [[plan.bos, ...without]], logits: false });
    step('knockout');
    const stateSpan = r.state.map((t) => stateRow(t, 0));
    spanRuns.push({ id: variantId.spanAll(i), start: stateSpan });
    if (L > 1) spanRuns.push({ id: variantId.spanFrom1(i), start: range(0, L).map((l) => (l === 0 ? stateP[0] : stateSpan[l])) });
  }
  await runX(spanRuns);
  const spansStage: SpansStage = {
    spans: plan.spans.map((s, i): SpanResult => {
      const all = losses.get(variantId.spanAll(i));
      const kAll = all ? meanLossIncrease(all, lossWithRead) : 0;
      const from1 = losses.get(variantId.spanFrom1(i));
      return { label: s.label, tokenStart: s.tokenStart, tokenEnd: s.tokenEnd, charStart: s.charStart, charEnd: s.charEnd, kAllLayers: kAll, kFromLayer1: from1 ? meanLossIncrease(from1, lossWithRead) : kAll };
    }),
  };
  emit({ stage: 'spans', data: spansStage });
  const tKo = performance.now();

  const ran: Variant[] = [...(plan.hasKnockouts ? plan.depth : []), ...spanVariantsRan(plan, spanRuns)];
  const variants: VariantSummary[] = [
    { idx: 0, kind: 'with-prompt', label: '[BOS] + P, then X from its state', blockedLayers: [], blockedSpan: null, meanLoss: headline.summary.meanLossWithPrompt },
    { idx: 1, kind: 'no-prompt', label: '[BOS], then X from its state', blockedLayers: [], blockedSpan: null, meanLoss: headline.summary.meanLossNoPrompt },
    { idx: 2, kind: 'no-prompt-natural', label: '[BOS] + X (no positions: the same run)', blockedLayers: [], blockedSpan: null, meanLoss: natural.meanLossNoPrompt },
    ...ran.map((v, k) => ({ idx: 3 + k, kind: v.kind, label: v.kind === 'depth' || v.kind === 'window' ? recurrentLabel(v, L) : v.label, blockedLayers: v.layers, blockedSpan: v.span, meanLoss: mean(losses.get(v.id)!) })),
  ];
  const tEnd = performance.now();
  onProgress({ stage: 'done', done: total, total });
  return assembleResult(headline, depth, spansStage, variants, {
    tokenizeMs: tTok - t0,
    forwardMs: tForward - tTok,
    knockoutMs: tKo - tForward,
    metricsMs: tEnd - tKo,
    totalMs: tEnd - t0,
    engineCalls: calls,
  });
}

/** The span runs as variant records (labels say what was done to the state). */
function spanVariantsRan(plan: AnalysisPlan, runs: readonly XRun[]): Variant[] {
  const L = plan.nLayer;
  return runs.map((r): Variant => {
    const i = Number(r.id.split('@')[1]);
    const s = plan.spans[i];
    const all = r.id === variantId.spanAll(i);
    return {
      id: r.id,
      kind: all ? 'span-all' : 'span-from-1',
      label: all ? `X from the state of the prompt without "${s.label}"` : `X from the state of the prompt without "${s.label}" at layers 1..${L - 1}`,
      layers: all ? range(0, L) : range(1, L),
      span: [s.tokenStart, s.tokenEnd],
    };
  });
}

/** Depth and window variants relabelled for a recurrent model (the plan's labels speak of edges). */
export function recurrentLabel(v: Variant, L: number): string {
  return `X from the prompt's state with layers ${v.layers[0]}..${v.layers[v.layers.length - 1]} of ${L} reset to the no-prompt state`;
}
