// Where an analysis runs, as named backends (as nnsight names local and remote execution): RunManager schedules onto one.
import type { AnalysisProgress, AnalysisResult, PartialEvent } from '../../shared/analysis.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';

export interface AnalysisListeners {
  /** The analysis began computing (a pool job may call it again when a retry starts). */
  onStart?: () => void;
  onProgress?: (p: AnalysisProgress) => void;
  /** A finished stage (headline, depth, spans); a retried job may deliver a stage again, with the same data. */
  onPartial?: (e: PartialEvent) => void;
}

export interface AnalysisOutcome {
  result: AnalysisResult;
  /** The worker that computed it (pool), or null (this process). */
  worker: string | null;
}

export interface StartedAnalysis {
  /** Settles exactly once: the result, a CancelledError, or the analysis's error (input errors keep their field). */
  promise: Promise<AnalysisOutcome>;
  cancel: () => void;
}

/** What /api/health says about the backend: `ok` false when work cannot proceed now (it waits, it is not lost). */
export interface BackendHealth {
  kind: BackendKind;
  ok: boolean;
  message: string | null;
}

export type BackendKind = 'in-process' | 'pool';

export interface AnalysisBackend {
  readonly kind: BackendKind;
  start(runId: string, args: AnalyzeJobArgs, listeners: AnalysisListeners): StartedAnalysis;
  health(): BackendHealth;
  close(): Promise<void>;
}

export function isBackend(x: unknown): x is AnalysisBackend {
  return typeof x === 'object' && x !== null && 'kind' in x && typeof (x as AnalysisBackend).start === 'function';
}
