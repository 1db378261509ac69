// The numbers of one finished cell that experiment statistics need, cut from its run's full AnalysisResult.
import type { AnalysisResult } from '../../shared/analysis.js';

export interface CellMetrics {
  meanBenefit: number;
  meanBenefitRead: number;
  precomputationShare: number | null;
  /** D(k), k = 0..L. */
  depthCurve: number[];
  attention: number[];
  normWeighted: number[];
  sink: number[];
  meanLossWithPrompt: number;
  meanLossNoPrompt: number;
  /** Per input token, in order: for loss against token position. */
  lossWithPrompt: number[];
  lossNoPrompt: number[];
}

export function cellMetrics(r: AnalysisResult): CellMetrics {
  return {
    meanBenefit: r.summary.meanBenefit,
    meanBenefitRead: r.summary.meanBenefitRead,
    precomputationShare: r.summary.precomputationShare,
    depthCurve: r.depthCurve,
    attention: r.layers.map((l) => l.attention),
    normWeighted: r.layers.map((l) => l.normWeighted),
    sink: r.layers.map((l) => l.sink),
    meanLossWithPrompt: r.summary.meanLossWithPrompt,
    meanLossNoPrompt: r.summary.meanLossNoPrompt,
    lossWithPrompt: r.input.tokens.map((t) => t.lossWithPrompt),
    lossNoPrompt: r.input.tokens.map((t) => t.lossNoPrompt),
  };
}
