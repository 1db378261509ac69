// How far each metric of one analysis moved between two exports of a model (e.g. q8 against fp32): pure functions.
import type { AnalysisResult } from './analysis.js';
import { InputError } from './errors.js';

/** A single number of the analysis on both models. */
export interface ScalarDelta {
  metric: string;
  a: number | null;
  b: number | null;
  /** b - a (null when either is null). */
  delta: number | null;
}

/** A series (per layer, per token, per span...) on both models, summarised by its largest move. */
export interface SeriesDelta {
  metric: string;
  /** What an index of the series means (`layer`, `input token`, `k`...). */
  index: string;
  a: number[];
  b: number[];
  maxAbsDelta: number;
  /** Where the largest move is (index into the series). */
  at: number;
  meanAbsDelta: number;
  /** maxAbsDelta / the largest |a|: a scale-free "how far" (0 when a is all zero and b too). */
  relative: number;
}

export interface ModelDiff {
  a: { model: AnalysisResult['model'] };
  b: { model: AnalysisResult['model'] };
  scalars: ScalarDelta[];
  series: SeriesDelta[];
}

/** Two analyses that cannot be compared metric by metric: bad input, named by `field`. */
export class ModelDiffError extends InputError {}

function scalar(metric: string, a: number | null, b: number | null): ScalarDelta {
  return { metric, a, b, delta: a === null || b === null ? null : b - a };
}

/** Summary of two equally long series. */
export function seriesDelta(metric: string, index: string, a: number[], b: number[]): SeriesDelta {
  if (a.length !== b.length) throw new ModelDiffError(`${metric}: ${a.length} values on model A but ${b.length} on model B`, 'models');
  let max = 0;
  let at = 0;
  let sum = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(b[i] - a[i]);
    sum += d;
    scale = Math.max(scale, Math.abs(a[i]));
    if (d > max) {
      max = d;
      at = i;
    }
  }
  return { metric, index, a, b, maxAbsDelta: max, at, meanAbsDelta: a.length ? sum / a.length : 0, relative: scale > 0 ? max / scale : max > 0 ? Infinity : 0 };
}

const ids = (r: AnalysisResult) => JSON.stringify([r.bos.id, r.prompt.tokens.map((t) => t.id), r.input.tokens.map((t) => t.id)]);

/**
 * Compares two analyses of the same prompt and input on two models of the same shape. Throws a ModelDiffError when
 * they are not comparable (different tokens, layer counts or span cuts).
 */
export function diffAnalyses(a: AnalysisResult, b: AnalysisResult): ModelDiff {
  if (ids(a) !== ids(b)) throw new ModelDiffError('the two analyses tokenized the prompt or input differently (different text or tokenizer), so their metrics cannot be compared token by token', 'runs');
  if (a.layers.length !== b.layers.length) throw new ModelDiffError(`model A has ${a.layers.length} layers and model B ${b.layers.length}: not two exports of one model`, 'models');
  const sa = a.summary;
  const sb = b.summary;
  const scalars = [
    scalar('meanLossWithPrompt', sa.meanLossWithPrompt, sb.meanLossWithPrompt),
    scalar('meanLossNoPrompt', sa.meanLossNoPrompt, sb.meanLossNoPrompt),
    scalar('meanBenefit', sa.meanBenefit, sb.meanBenefit),
    scalar('meanBenefitRead', sa.meanBenefitRead, sb.meanBenefitRead),
    scalar('precomputationShare', sa.precomputationShare, sb.precomputationShare),
    scalar('identityResidual', sa.identityResidual, sb.identityResidual),
  ];
  const perLayer = (f: (l: AnalysisResult['layers'][number]) => number) => [a.layers.map(f), b.layers.map(f)] as const;
  const series: SeriesDelta[] = [
    seriesDelta('lossWithPrompt', 'input token', a.input.tokens.map((t) => t.lossWithPrompt), b.input.tokens.map((t) => t.lossWithPrompt)),
    seriesDelta('benefit', 'input token', a.input.tokens.map((t) => t.benefit), b.input.tokens.map((t) => t.benefit)),
    seriesDelta('attentionReadShare', 'layer', ...perLayer((l) => l.attention)),
    seriesDelta('normWeightedReadShare', 'layer', ...perLayer((l) => l.normWeighted)),
    seriesDelta('sinkMass', 'layer', ...perLayer((l) => l.sink)),
    seriesDelta('depthCurve', 'k', a.depthCurve, b.depthCurve),
    seriesDelta('layerProfile', 'layer', a.layerProfile.map((x) => x.k), b.layerProfile.map((x) => x.k)),
    seriesDelta('readMap', 'layer * p + prompt token', a.readMap.flat(), b.readMap.flat()),
  ];
  if (a.spans.length || b.spans.length) {
    const labels = (r: AnalysisResult) => JSON.stringify(r.spans.map((s) => [s.tokenStart, s.tokenEnd]));
    if (labels(a) !== labels(b)) throw new ModelDiffError('the two analyses cut the prompt into different spans (different span options)', 'options');
    series.push(seriesDelta('spanImportance', 'span', a.spans.map((s) => s.kAllLayers), b.spans.map((s) => s.kAllLayers)));
  }
  return { a: { model: a.model }, b: { model: b.model }, scalars, series };
}

/** The diff as a text table (the CLI's output). */
export function formatModelDiff(d: ModelDiff): string[] {
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  const out = [`A = ${d.a.model.name} (${d.a.model.hash.slice(0, 12)})   B = ${d.b.model.name} (${d.b.model.hash.slice(0, 12)})`, ''];
  out.push(`${'metric'.padEnd(24)}${'A'.padStart(10)}${'B'.padStart(10)}${'B - A'.padStart(10)}`);
  for (const s of d.scalars) out.push(`${s.metric.padEnd(24)}${f(s.a).padStart(10)}${f(s.b).padStart(10)}${f(s.delta).padStart(10)}`);
  out.push('');
  out.push(`${'series'.padEnd(24)}${'max |B-A|'.padStart(10)}${'at'.padStart(6)}${'mean |B-A|'.padStart(11)}${'relative'.padStart(10)}  index`);
  for (const s of d.series) {
    out.push(`${s.metric.padEnd(24)}${s.maxAbsDelta.toFixed(4).padStart(10)}${String(s.at).padStart(6)}${s.meanAbsDelta.toFixed(4).padStart(11)}${(Number.isFinite(s.relative) ? s.relative.toFixed(3) : 'inf').padStart(10)}  ${s.index}`);
  }
  return out;
}
