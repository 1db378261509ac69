// Turns the engine's losses and hooks into the result's stages (headline, depth, spans) and the full result.
import {
  withNatural,
  type AnalysisResult,
  type DepthStage,
  type HeadlineInputToken,
  type HeadlineStage,
  type LayerReadShares,
  type NaturalReference,
  type SpanResult,
  type SpansStage,
  type VariantSummary,
} from '../../shared/analysis.js';
import { hookName } from '../../shared/hooks.js';
import { attentionReadShare, attentionRollout, normWeightedReadShare, readMap } from '../../shared/metrics/attention.js';
import { depthCurveFromLosses, meanLossIncrease, precomputationShare } from '../../shared/metrics/knockout.js';
import { promptBenefit, type Prediction } from '../../shared/metrics/loss.js';
import type { Span } from '../../shared/metrics/spans.js';
import { mean } from '../../shared/metrics/tensor.js';
import { promptAndInputTexts, type TextTokenizer } from '../model/tokenizer.js';
import type { WithPromptRun } from './execute.js';
import type { ShiftedRun } from './no-prompt-cache.js';
import { range, variantId, type AnalysisPlan, type Variant } from './plan.js';

export type ModelFacts = AnalysisResult['model'];

/** Knockout losses by variant id, and K(variant) = mean loss increase over x_2..x_n against the with-prompt run. */
export class KnockoutLosses {
  readonly byId = new Map<string, number[]>();

  constructor(readonly lossWithRead: readonly number[]) {}

  add(losses: Map<string, number[]>): void {
    for (const [id, l] of losses) this.byId.set(id, l);
  }

  losses(id: string): number[] {
    const l = this.byId.get(id);
    if (!l) throw new Error(`no knockout losses for variant ${id}`);
    return l;
  }

  K(id: string): number {
    return meanLossIncrease(this.losses(id), this.lossWithRead);
  }
}

export function headlineStage(plan: AnalysisPlan, model: ModelFacts, tok: TextTokenizer, withRun: WithPromptRun, no: ShiftedRun): HeadlineStage {
  const { p, n, inputIds, promptIds, options } = plan;
  const L = model.nLayer;
  const benefit = promptBenefit(no.lossNo, withRun.lossWith);
  const { patterns, norms } = withRun;
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
  const named = (preds: Prediction[]) => preds.map((q) => ({ ...q, text: tok.tokenText(q.id) }));
  const texts = promptAndInputTexts(tok, promptIds, inputIds);
  const inputStrings = texts.input;
  const inputTokens: HeadlineInputToken[] = inputIds.map((id, k) => ({
    id,
    text: inputStrings[k],
    position: p + 1 + k,
    lossWithPrompt: withRun.lossWith[k],
    lossNoPrompt: no.lossNo[k],
    benefit: benefit.perToken[k],
    topWithPrompt: named(withRun.top[k]),
    topNoPrompt: named(no.topNo[k]),
  }));
  const promptStrings = texts.prompt;
  return {
    schemaVersion: 1,
    model,
    bos: { id: plan.bos, text: tok.decode([plan.bos]), source: tok.bosSource },
    prompt: {
      raw: plan.prompt,
      text: plan.marked.text,
      tokens: promptIds.map((id, k) => ({ id, text: promptStrings[k] })),
      offsets: plan.offsets.map(([s, e]) => [s, e]),
      segments: plan.marked.segments,
    },
    input: { text: plan.input, tokens: inputTokens },
    p,
    n,
    options,
    summary: {
      meanLossWithPrompt: mean(withRun.lossWith),
      meanLossNoPrompt: mean(no.lossNo),
      meanBenefit: benefit.mean,
      meanBenefitRead: mean(benefit.perToken.slice(1)),
      attentionRolloutShare: attentionRollout(patterns, p, n, withRun.promptRows),
    },
    layers,
    readMap: readMap(patterns, norms, p, n),
  };
}

/** The natural-position no-prompt run's losses and the benefit against them (`lossWith`: all of X with the prompt). */
export function naturalReference(lossNoNatural: readonly number[], lossWith: readonly number[]): NaturalReference {
  const b = promptBenefit(lossNoNatural, lossWith);
  return { lossNoPrompt: [...lossNoNatural], benefit: b.perToken, meanLossNoPrompt: mean(lossNoNatural), meanBenefit: b.mean };
}

/**
 * D(k), the layer profile and pi from the depth variants' losses (zeros when no knockout is possible), with the
 * natural-position reference.
 */
export function depthStage(plan: AnalysisPlan, ko: KnockoutLosses | null, meanBenefitRead: number, natural: NaturalReference): DepthStage {
  const L = plan.nLayer;
  const windows = plan.depth.filter((v) => v.kind === 'window');
  if (!ko) {
    return { depthCurve: new Array<number>(L + 1).fill(0), layerProfile: windows.map((w, l) => ({ layer: l, layers: w.layers, k: 0 })), precomputationShare: null, identityResidual: 0, natural };
  }
  const depthCurve = depthCurveFromLosses(
    range(0, L).map((k) => ko.losses(variantId.depth(k))),
    ko.lossWithRead,
  );
  return {
    depthCurve,
    layerProfile: range(0, L).map((l) => {
      const v = plan.depth.find((d) => d.id === variantId.window(l))!;
      return { layer: l, layers: v.layers, k: ko.K(v.id) };
    }),
    precomputationShare: precomputationShare(depthCurve),
    identityResidual: Math.abs(depthCurve[0] - meanBenefitRead),
    natural,
  };
}

/** Span importance, in the order of `spans` (sentences/lines first, then their words for `auto`). */
export function spansStage(plan: AnalysisPlan, spans: readonly (Span & { parent?: number })[], ko: KnockoutLosses | null): SpansStage {
  const L = plan.nLayer;
  return {
    spans: spans.map((s, i): SpanResult => {
      const measurable = ko !== null && plan.options.spanKnockouts && s.tokenEnd > s.tokenStart;
      const kAll = measurable ? ko.K(variantId.spanAll(i)) : 0;
      const kFrom1 = measurable ? (L > 1 ? ko.K(variantId.spanFrom1(i)) : kAll) : 0;
      const r: SpanResult = { label: s.label, tokenStart: s.tokenStart, tokenEnd: s.tokenEnd, charStart: s.charStart, charEnd: s.charEnd, kAllLayers: kAll, kFromLayer1: kFrom1 };
      if (s.parent !== undefined) r.parent = s.parent;
      return r;
    }),
  };
}

/** The variants that ran, with their mean loss (knockouts: over x_2..x_n; the three plain runs: over all of X). */
export function variantSummaries(headline: HeadlineStage, depth: DepthStage, knockouts: readonly Variant[], ko: KnockoutLosses | null): VariantSummary[] {
  const s = headline.summary;
  return [
    { idx: 0, kind: 'with-prompt', label: '[BOS] + P + X', blockedLayers: [], blockedSpan: null, meanLoss: s.meanLossWithPrompt },
    { idx: 1, kind: 'no-prompt', label: '[BOS] + X at positions 0, p+1..p+n', blockedLayers: [], blockedSpan: null, meanLoss: s.meanLossNoPrompt },
    { idx: 2, kind: 'no-prompt-natural', label: '[BOS] + X at positions 0..n', blockedLayers: [], blockedSpan: null, meanLoss: depth.natural.meanLossNoPrompt },
    ...knockouts.map((v, i) => ({ idx: 3 + i, kind: v.kind, label: v.label, blockedLayers: v.layers, blockedSpan: v.span, meanLoss: mean(ko!.losses(v.id)) })),
  ];
}

export function assembleResult(
  headline: HeadlineStage,
  depth: DepthStage,
  spans: SpansStage,
  variants: VariantSummary[],
  timings: AnalysisResult['timings'],
): AnalysisResult {
  const h = headline;
  const { natural } = depth;
  const { meanLossWithPrompt, meanLossNoPrompt, meanBenefit, meanBenefitRead, attentionRolloutShare } = h.summary;
  return {
    schemaVersion: h.schemaVersion,
    model: h.model,
    bos: h.bos,
    prompt: h.prompt,
    input: { text: h.input.text, tokens: h.input.tokens.map((t, k) => withNatural(t, natural, k)) },
    p: h.p,
    n: h.n,
    options: h.options,
    summary: {
      meanLossWithPrompt,
      meanLossNoPrompt,
      meanLossNoPromptNatural: natural.meanLossNoPrompt,
      meanBenefit,
      meanBenefitNatural: natural.meanBenefit,
      meanBenefitRead,
      precomputationShare: depth.precomputationShare,
      identityResidual: depth.identityResidual,
      attentionRolloutShare,
    },
    layers: h.layers,
    readMap: h.readMap,
    depthCurve: depth.depthCurve,
    layerProfile: depth.layerProfile,
    spans: spans.spans,
    variants,
    timings,
  };
}
