// The jobs the worker thread runs, as one typed table: a call is type-checked from the caller to the worker.
import type { AnalysisProgress, AnalysisResult, PartialEvent } from '../../shared/analysis.js';
import type { AnalyzeArgs } from '../analysis/analyze.js';
import type { ContinuationArgs, ContinuationResult, RaceCellsArgs, RaceCellsResult } from '../search/race-cells.js';

export interface AnalyzeJobArgs extends AnalyzeArgs {
  modelDir: string;
}

/** Per job: its arguments, its result, what it reports while running, and the partial results it delivers. */
export interface JobTable {
  analyze: { args: AnalyzeJobArgs; result: AnalysisResult; progress: AnalysisProgress; partial: PartialEvent };
  /** Prompt search: racing cells (with-prompt losses of many prompts x inputs, the no-prompt baseline once per input). */
  race: { args: RaceCellsArgs & { modelDir: string }; result: RaceCellsResult; progress: never; partial: never };
  /** Prompt search: a finalist's top next tokens and seeded sampled continuations. */
  continuations: { args: ContinuationArgs & { modelDir: string }; result: ContinuationResult; progress: never; partial: never };
  tokenize: { args: { modelDir: string; text: string }; result: { ids: number[]; strings: string[] }; progress: never; partial: never };
  /** Sleeps, cancellably: for tests of cancellation and of the HTTP thread staying responsive. */
  sleep: { args: { ms: number }; result: { slept: number }; progress: never; partial: never };
}

export type JobName = keyof JobTable;
export type JobArgs<K extends JobName> = JobTable[K]['args'];
export type JobResult<K extends JobName> = JobTable[K]['result'];
export type JobProgress<K extends JobName> = JobTable[K]['progress'];
export type JobPartial<K extends JobName> = JobTable[K]['partial'];

export interface JobListeners<K extends JobName> {
  onProgress?: (p: JobProgress<K>) => void;
  onPartial?: (p: JobPartial<K>) => void;
}
