// Plan of an analysis: the tokens, the prompt's spans and every knockout variant (each with an id), before any run.
import type { AnalysisOptions, SpanResult, VariantSummary } from '../../shared/analysis.js';
import { checkAgainstModel, checkAnalysisRequest } from '../../shared/analysis-input.js';
import { depthLayerSets, layerWindows } from '../../shared/metrics/knockout.js';
import { splitSpans, type MarkedPrompt, type Span, type SplitMode, type TokenOffset } from '../../shared/metrics/spans.js';
import type { TextTokenizer } from '../model/tokenizer.js';

export type KnockoutKind = Extract<VariantSummary['kind'], 'depth' | 'window' | 'span-all' | 'span-from-1'>;

/** One knockout: edges X -> prompt tokens `span` (null: the whole prompt) blocked at `layers`. */
export interface Variant {
  /** Stable name the results are looked up by: `depth@k`, `window@l`, `span-all@i`, `span-from-1@i`. */
  id: string;
  kind: KnockoutKind;
  label: string;
  /** Blocked layers, ascending. */
  layers: number[];
  /** Prompt-token range [start, end) whose edges from X are blocked; null = every prompt token. */
  span: [number, number] | null;
}

export const variantId = {
  depth: (k: number) => `depth@${k}`,
  window: (l: number) => `window@${l}`,
  spanAll: (i: number) => `span-all@${i}`,
  spanFrom1: (i: number) => `span-from-1@${i}`,
};

/** `auto` spans: prompts up to this many tokens are cut into words directly. */
export const AUTO_WORDS_MAX_TOKENS = 48;
/** `auto` spans: how many of the most important sentences/lines are refined into words, and the word budget. */
export const AUTO_REFINE_SPANS = 3;
export const AUTO_REFINE_WORDS = 40;
/** `auto` spans: a sentence/line is refined only if its |K| is at least this share of the largest |K|. */
export const AUTO_REFINE_MIN_SHARE = 0.1;

export interface AnalysisPlan {
  prompt: string;
  input: string;
  marked: MarkedPrompt;
  options: AnalysisOptions;
  bos: number;
  promptIds: number[];
  inputIds: number[];
  /** [BOS] + P' + X. */
  seq: number[];
  p: number;
  n: number;
  T: number;
  nLayer: number;
  offsets: TokenOffset[];
  /** How the prompt is cut in the first round (`auto` resolved), and whether important spans are then refined. */
  split: SplitMode;
  refine: boolean;
  spans: Span[];
  /** Knockouts are possible only with a prompt and at least two input tokens (x_1 is read at the prompt's column). */
  hasKnockouts: boolean;
  /** The depth curve's and the layer profile's variants. */
  depth: Variant[];
}

export interface PlanRequest {
  prompt: string;
  input: string;
  options?: Partial<AnalysisOptions>;
}

/** Tokenizes and checks the request, cuts the prompt into spans and lists the depth variants. */
export function planAnalysis(model: { nLayer: number; nCtx: number }, tok: TextTokenizer, req: PlanRequest): AnalysisPlan {
  const { marked, options } = checkAnalysisRequest(req);
  const promptIds = tok.encode(marked.text);
  const inputIds = tok.encode(req.input);
  const p = promptIds.length;
  const n = inputIds.length;
  checkAgainstModel({ p, n }, model, options);
  const L = model.nLayer;
  const offsets = tokenOffsets(tok, promptIds, marked.text);
  const { split, refine } = resolveSplit(options.spans, marked, p);
  const spans = splitSpans(marked.text, offsets, split, marked.segments);
  const hasKnockouts = p > 0 && n > 1;
  return {
    prompt: req.prompt,
    input: req.input,
    marked,
    options,
    bos: tok.bosId,
    promptIds,
    inputIds,
    seq: [tok.bosId, ...promptIds, ...inputIds],
    p,
    n,
    T: 1 + p + n,
    nLayer: L,
    offsets,
    split,
    refine,
    spans,
    hasKnockouts,
    depth: hasKnockouts ? depthVariants(L, options.layerWindow) : [],
  };
}

/**
 * The `auto` rule: marked segments when the prompt has them; words for prompts up to AUTO_WORDS_MAX_TOKENS tokens;
 * longer prompts are cut into lines (when they have several non-empty lines) or sentences first, and the lines or
 * sentences that matter most are then cut into words (see refineSpans). Any other mode is used as asked.
 */
export function resolveSplit(mode: AnalysisOptions['spans'], marked: MarkedPrompt, p: number): { split: SplitMode; refine: boolean } {
  if (mode !== 'auto') return { split: mode, refine: false };
  if (marked.segments.length) return { split: 'marked', refine: false };
  if (p <= AUTO_WORDS_MAX_TOKENS) return { split: 'words', refine: false };
  const lines = marked.text.split('\n').filter((l) => l.trim() !== '').length;
  return { split: lines >= 2 ? 'lines' : 'sentences', refine: true };
}

/** Depth-curve variants (block X->P' at layers k..L-1, k = 0..L-1) and layer-profile windows around each layer. */
export function depthVariants(L: number, radius: number): Variant[] {
  const depth = depthLayerSets(L).map((layers, k): Variant => ({ id: variantId.depth(k), kind: 'depth', label: `block X->P' at layers ${k}..${L - 1}`, layers, span: null }));
  const windows = layerWindows(L, radius).map(
    (w, l): Variant => ({ id: variantId.window(l), kind: 'window', label: `block X->P' at layers ${w[0]}..${w[w.length - 1]} (around ${l})`, layers: w, span: null }),
  );
  return [...depth, ...windows];
}

/** Two variants per measurable span (tokens present): blocked at every layer, and at layers >= 1. */
export function spanVariants(spans: readonly Span[], L: number, firstIndex = 0): Variant[] {
  const out: Variant[] = [];
  spans.forEach((s, k) => {
    if (s.tokenEnd <= s.tokenStart) return;
    const i = firstIndex + k;
    const span: [number, number] = [s.tokenStart, s.tokenEnd];
    out.push({ id: variantId.spanAll(i), kind: 'span-all', label: `block X->"${s.label}" at all layers`, layers: range(0, L), span });
    if (L > 1) out.push({ id: variantId.spanFrom1(i), kind: 'span-from-1', label: `block X->"${s.label}" at layers 1..${L - 1}`, layers: range(1, L), span });
  });
  return out;
}

/**
 * Second round of `auto` spans: the word spans inside the sentences or lines that matter most (largest |K at all
 * layers|, at most AUTO_REFINE_SPANS of them, each at least AUTO_REFINE_MIN_SHARE of the largest, within a budget of
 * AUTO_REFINE_WORDS words). Each word span names its sentence or line as `parent`.
 */
export function refineSpans(plan: AnalysisPlan, coarse: readonly SpanResult[]): (Span & { parent: number })[] {
  const words = splitSpans(plan.marked.text, plan.offsets, 'words');
  const maxK = Math.max(0, ...coarse.map((s) => Math.abs(s.kAllLayers)));
  if (maxK === 0) return [];
  const order = coarse
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.tokenEnd > s.tokenStart && Math.abs(s.kAllLayers) >= AUTO_REFINE_MIN_SHARE * maxK)
    .sort((a, b) => Math.abs(b.s.kAllLayers) - Math.abs(a.s.kAllLayers));
  const out: (Span & { parent: number })[] = [];
  let chosen = 0;
  for (const { s, i } of order) {
    if (chosen >= AUTO_REFINE_SPANS) break;
    // Words clipped to the sentence/line: a newline token joins the next word but ends the previous line.
    const inside = words
      .map((w) => ({ ...w, tokenStart: Math.max(w.tokenStart, s.tokenStart), tokenEnd: Math.min(w.tokenEnd, s.tokenEnd) }))
      .filter((w) => w.tokenEnd > w.tokenStart);
    if (inside.length < 2 || out.length + inside.length > AUTO_REFINE_WORDS) continue;
    chosen++;
    for (const w of inside) {
      const [charStart] = plan.offsets[w.tokenStart];
      const [, charEnd] = plan.offsets[w.tokenEnd - 1];
      out.push({ label: plan.marked.text.slice(charStart, charEnd), tokenStart: w.tokenStart, tokenEnd: w.tokenEnd, charStart, charEnd, parent: i });
    }
  }
  return out;
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

export function range(a: number, b: number): number[] {
  return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
}
