// A run's result as stages (headline, depth, spans): from the full result once it is done, else the stages the server
// has sent so far (GET /api/runs/:id `stages`, then SSE `partial` events), so every view draws what is ready.
import { stagesOf as splitStages, type AnalysisResult, type DepthStage, type HeadlineStage, type PartialEvent, type SpansStage } from '@shared/analysis.js';
import type { RunDetail } from '@shared/api.js';

export interface RunStages {
  headline?: HeadlineStage;
  depth?: DepthStage;
  spans?: SpansStage;
  /** Only once the whole analysis is done. */
  timings?: AnalysisResult['timings'];
}

export function stagesFromResult(r: AnalysisResult): Required<RunStages> {
  return { ...splitStages(r), timings: r.timings };
}

export function stagesOf(run: RunDetail): RunStages {
  if (run.result) return stagesFromResult(run.result);
  return { ...(run.stages ?? {}) };
}

/** The cached run with one more finished stage (from an SSE `partial` event). */
export function withPartial(run: RunDetail, e: PartialEvent): RunDetail {
  return { ...run, stages: { ...(run.stages ?? {}), [e.stage]: e.data } };
}
