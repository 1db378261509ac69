// The analysis result: what one run of a prompt P on an input X measures (DESIGN "The measurements").
import type { SpanMode } from './metrics/spans.js';

export interface AnalysisOptions {
  /** How the prompt is cut into spans for span importance. */
  spans: SpanMode;
  /** Layer-profile window: K of layers [l - r, l + r] around each l. */
  layerWindow: number;
  /** How many top predictions to keep per input token. */
  topK: number;
  /** Run span knockouts (2 variants per span); off for very long prompts in tokens mode, if wanted. */
  spanKnockouts: boolean;
}

export const DEFAULT_ANALYSIS_OPTIONS: AnalysisOptions = { spans: 'auto', layerWindow: 1, topK: 5, spanKnockouts: true };

export interface TokenInfo {
  id: number;
  text: string;
}

export interface InputTokenResult extends TokenInfo {
  /** Absolute position in [BOS] + P' + X. */
  position: number;
  lossWithPrompt: number;
  /** Loss of [BOS] + X at the same absolute positions (the knockout-identity reference). */
  lossNoPrompt: number;
  /** Loss of [BOS] + X at its natural positions 0..n. */
  lossNoPromptNatural: number;
  /** B_t = lossNoPrompt - lossWithPrompt. */
  benefit: number;
  benefitNatural: number;
  topWithPrompt: { id: number; text: string; prob: number }[];
  topNoPrompt: { id: number; text: string; prob: number }[];
}

export interface LayerReadShares {
  layer: number;
  /** Hook names the numbers come from, so a user can find the tensors in an export. */
  hooks: { pattern: string; valueNorm: string };
  attention: number;
  attentionPerHead: number[];
  sink: number;
  sinkPerHead: number[];
  normWeighted: number;
  normWeightedPerHead: number[];
  /**
   * Recurrent models only (their attention fields are 0): how much the prompt changed layer l's state,
   * ||state_with - state_no|| / ||state_no||, at the boundary (the state X starts from) and averaged over X's positions.
   */
  state?: { hook: string; boundaryChange: number; inputChange: number };
}

export interface SpanResult {
  label: string;
  tokenStart: number;
  tokenEnd: number;
  charStart: number;
  charEnd: number;
  /** K when X -> span is blocked at every layer. */
  kAllLayers: number;
  /** K when X -> span is blocked at layers >= 1 (layer 0 open: the raw tokens stay readable). */
  kFromLayer1: number;
  /** `auto` spans only: a word span refining a sentence or line, by that span's index in `spans`. */
  parent?: number;
}

export interface VariantSummary {
  idx: number;
  kind: 'with-prompt' | 'no-prompt' | 'no-prompt-natural' | 'depth' | 'window' | 'span-all' | 'span-from-1';
  label: string;
  blockedLayers: number[];
  /** Prompt-token range [start, end) whose edges from X are blocked; null = the whole prompt (or none). */
  blockedSpan: [number, number] | null;
  meanLoss: number;
}

export interface AnalysisResult {
  schemaVersion: 1;
  model: {
    id: string;
    name: string;
    hash: string;
    nLayer: number;
    nHead: number;
    dModel: number;
    nCtx: number;
    vocabSize: number;
    /** Absent: a transformer. 'rwkv': a recurrent model; knockouts are state resets (docs/measurements.md, "Recurrent models"). */
    architecture?: 'transformer' | 'rwkv';
  };
  bos: { id: number; text: string; source: 'bos' | 'eos' };
  prompt: { raw: string; text: string; tokens: TokenInfo[]; offsets: [number, number][]; segments: { name: string; charStart: number; charEnd: number }[] };
  input: { text: string; tokens: InputTokenResult[] };
  p: number;
  n: number;
  options: AnalysisOptions;
  summary: {
    meanLossWithPrompt: number;
    meanLossNoPrompt: number;
    meanLossNoPromptNatural: number;
    meanBenefit: number;
    meanBenefitNatural: number;
    /**
     * Mean B over x_2..x_n, the tokens predicted at X's own columns. Knockouts (K, D, spans) average over these:
     * x_1 is predicted at the prompt's last column, which no X->P' edge reaches, so K(all layers) equals this
     * (not the all-token mean) exactly. Equal to meanBenefit's definition minus x_1; 0 when n = 1.
     */
    meanBenefitRead: number;
    /** pi = D(1)/D(0); null when the prompt has (almost) no benefit. */
    precomputationShare: number | null;
    /** |K(all layers) - meanBenefitRead|: the knockout identity's residual, expected below 1e-4. */
    identityResidual: number;
    attentionRolloutShare: number;
  };
  layers: LayerReadShares[];
  /** [L][p]: mean over X of the norm-weighted read of prompt token j at layer l. */
  readMap: number[][];
  /** D(k) for k = 0..L; D(L) = 0. */
  depthCurve: number[];
  /** K of the window of layers around each l. */
  layerProfile: { layer: number; layers: number[]; k: number }[];
  spans: SpanResult[];
  variants: VariantSummary[];
  timings: { tokenizeMs: number; forwardMs: number; knockoutMs: number; metricsMs: number; totalMs: number; engineCalls: number };
}

/**
 * A run's result is built in stages, each stored and sent (SSE event `partial` {stage, data}) as soon as it is
 * done: `headline` first (losses with and without the prompt, benefit, read shares, read map), then `depth` (D(k),
 * pi, layer profile, and the reference run at X's natural positions), then `spans` (span importance). The full
 * AnalysisResult is their union plus `variants` and `timings`.
 */
export type AnalysisStage = 'headline' | 'depth' | 'spans';
export const ANALYSIS_STAGES: readonly AnalysisStage[] = ['headline', 'depth', 'spans'];

export interface HeadlineStage {
  schemaVersion: 1;
  model: AnalysisResult['model'];
  bos: AnalysisResult['bos'];
  prompt: AnalysisResult['prompt'];
  input: { text: string; tokens: HeadlineInputToken[] };
  p: number;
  n: number;
  options: AnalysisOptions;
  /** The summary without the numbers of the depth stage (knockouts, and the natural-position reference). */
  summary: Omit<AnalysisResult['summary'], 'precomputationShare' | 'identityResidual' | NaturalSummaryField>;
  layers: LayerReadShares[];
  readMap: number[][];
}

type NaturalTokenField = 'lossNoPromptNatural' | 'benefitNatural';
type NaturalSummaryField = 'meanLossNoPromptNatural' | 'meanBenefitNatural';

/** An input token in the headline: everything but the natural-position reference (it comes with the depth stage). */
export type HeadlineInputToken = Omit<InputTokenResult, NaturalTokenField>;

/**
 * The no-prompt run at X's natural positions ([BOS] + X at 0..n; DESIGN 1 "also report") and the benefit against
 * it. It is a reference, not the benefit's definition, so it is computed after the depth curve's knockouts and
 * the headline waits for one no-prompt run only.
 */
export interface NaturalReference {
  /** Per input token. */
  lossNoPrompt: number[];
  /** Per input token: lossNoPrompt - loss with the prompt. */
  benefit: number[];
  meanLossNoPrompt: number;
  meanBenefit: number;
}

export interface DepthStage {
  depthCurve: number[];
  layerProfile: AnalysisResult['layerProfile'];
  precomputationShare: number | null;
  identityResidual: number;
  natural: NaturalReference;
}

export interface SpansStage {
  spans: SpanResult[];
}

export interface StageData {
  headline: HeadlineStage;
  depth: DepthStage;
  spans: SpansStage;
}

/** The stages finished so far (all three once the run is done). */
export type StagedResult = { [S in AnalysisStage]?: StageData[S] };

/** One SSE `partial` event. */
export type PartialEvent = { [S in AnalysisStage]: { stage: S; data: StageData[S] } }[AnalysisStage];

export interface AnalysisProgress {
  stage: 'tokenize' | 'forward' | 'knockout' | 'metrics' | 'done';
  done: number;
  total: number;
}

/** The three stages of a finished result (what `GET /api/runs/:id` returns as `stages` once a run is done). */
export function stagesOf(r: AnalysisResult): Required<StagedResult> {
  const { precomputationShare, identityResidual, meanLossNoPromptNatural, meanBenefitNatural, ...summary } = r.summary;
  const tokens = r.input.tokens.map(({ lossNoPromptNatural, benefitNatural, ...t }) => t);
  const natural: NaturalReference = {
    lossNoPrompt: r.input.tokens.map((t) => t.lossNoPromptNatural),
    benefit: r.input.tokens.map((t) => t.benefitNatural),
    meanLossNoPrompt: meanLossNoPromptNatural,
    meanBenefit: meanBenefitNatural,
  };
  return {
    headline: { schemaVersion: r.schemaVersion, model: r.model, bos: r.bos, prompt: r.prompt, input: { text: r.input.text, tokens }, p: r.p, n: r.n, options: r.options, summary, layers: r.layers, readMap: r.readMap },
    depth: { depthCurve: r.depthCurve, layerProfile: r.layerProfile, precomputationShare, identityResidual, natural },
    spans: { spans: r.spans },
  };
}

/** An input token of the full result: the headline's token with its natural-position reference. */
export function withNatural(t: HeadlineInputToken, natural: NaturalReference, k: number): InputTokenResult {
  return {
    id: t.id,
    text: t.text,
    position: t.position,
    lossWithPrompt: t.lossWithPrompt,
    lossNoPrompt: t.lossNoPrompt,
    lossNoPromptNatural: natural.lossNoPrompt[k],
    benefit: t.benefit,
    benefitNatural: natural.benefit[k],
    topWithPrompt: t.topWithPrompt,
    topNoPrompt: t.topNoPrompt,
  };
}
