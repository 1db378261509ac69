// One comparison module for the compare API, the comparison reports and the twins view: which runs can be put side
// by side (the same input text, tokenized the same way; models may differ, e.g. a model and its myopic twin), and
// the token-by-token alignment they share.
import type { Comparison } from './api.js';
import type { AnalysisResult, InputTokenResult } from './analysis.js';
import { InputError } from './errors.js';

/** The first run that cannot be compared with the first one, as an InputError naming `ids.k`; null if all can. */
export function comparisonProblem(results: readonly AnalysisResult[]): InputError | null {
  if (results.length === 0) return new InputError('nothing to compare', 'ids');
  const first = results[0];
  const ids = (r: AnalysisResult) => r.input.tokens.map((t) => t.id).join(',');
  for (let k = 1; k < results.length; k++) {
    const r = results[k];
    if (r.input.text !== first.input.text) return new InputError('has a different input text; compare prompt variants on the same input', `ids.${k}`);
    // Different models are fine (e.g. the myopic twin) as long as the input tokens line up one to one.
    if (ids(r) !== ids(first)) return new InputError(`model ${r.model.id} tokenizes the input differently from ${first.model.id}; tokens cannot be aligned`, `ids.${k}`);
  }
  return null;
}

export interface AlignedToken {
  index: number;
  id: number;
  text: string;
  lossNoPromptNatural: number;
  /** Per run, in the order of the runs. */
  position: number[];
  lossWithPrompt: number[];
  lossNoPrompt: number[];
  benefit: number[];
  /** Loss of the first run minus this run's, with the prompt: what this variant gains over the first. */
  benefitVsFirst: number[];
}

/** One row per input token, aligned across runs (check comparisonProblem first). */
export function alignTokens(results: readonly AnalysisResult[]): AlignedToken[] {
  const first = results[0];
  return first.input.tokens.map((t, k) => {
    const rows: InputTokenResult[] = results.map((r) => r.input.tokens[k]);
    return {
      index: k,
      id: t.id,
      text: t.text,
      lossNoPromptNatural: t.lossNoPromptNatural,
      position: rows.map((r) => r.position),
      lossWithPrompt: rows.map((r) => r.lossWithPrompt),
      lossNoPrompt: rows.map((r) => r.lossNoPrompt),
      benefit: rows.map((r) => r.benefit),
      benefitVsFirst: rows.map((r) => rows[0].lossWithPrompt - r.lossWithPrompt),
    };
  });
}

/** The compare API's view of 2-4 runs; throws the InputError of comparisonProblem. */
export function compareRuns(items: readonly { run: { id: string; label: string | null; prompt: string }; result: AnalysisResult }[]): Comparison {
  const results = items.map((i) => i.result);
  const problem = comparisonProblem(results);
  if (problem) throw problem;
  const first = results[0];
  return {
    model: { id: first.model.id, hash: first.model.hash, nLayer: first.model.nLayer },
    models: results.map((r) => ({ id: r.model.id, name: r.model.name, hash: r.model.hash, nLayer: r.model.nLayer })),
    input: first.input.text,
    runs: items.map(({ run, result }) => ({
      id: run.id,
      label: run.label,
      prompt: run.prompt,
      summary: result.summary,
      p: result.p,
      depthCurve: result.depthCurve,
      layerProfile: result.layerProfile.map((x) => x.k),
      attentionShare: result.layers.map((l) => l.attention),
      normWeightedShare: result.layers.map((l) => l.normWeighted),
      sink: result.layers.map((l) => l.sink),
    })),
    tokens: alignTokens(results).map((t) => ({
      text: t.text,
      position: t.position,
      lossWithPrompt: t.lossWithPrompt,
      lossNoPrompt: t.lossNoPromptNatural,
      benefit: t.benefit,
      benefitVsFirst: t.benefitVsFirst,
    })),
  };
}
