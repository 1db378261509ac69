// What travels through Redis for one analysis job: its data, its progress updates, its return value and its error.
import type { AnalysisProgress, AnalysisResult, PartialEvent } from '../../shared/analysis.js';
import { CancelledError } from '../../shared/errors.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';
import { RemoteError, serializeError, type SerializedError } from '../worker/protocol.js';

/** A job's data: everything but the model directory, which each worker finds by the graph's sha256. */
export interface AnalyzeJobData {
  runId: string;
  modelHash: string;
  modelName: string;
  args: Omit<AnalyzeJobArgs, 'modelDir'>;
}

/** A prompt search's job (`race` or `continuations`, server/search/): the same envelope, other arguments and result. */
export interface SearchJobData {
  runId: string;
  modelHash: string;
  modelName: string;
  args: unknown;
}

export interface SearchJobReturn {
  result: unknown;
  worker: string;
}

/**
 * Progress and partial stages both go as BullMQ job progress (job.updateProgress): QueueEvents delivers each to the
 * server in order, before the job's completion, and Redis keeps only the latest in the job hash (no growing list).
 */
export type JobUpdate = { kind: 'progress'; progress: AnalysisProgress } | { kind: 'partial'; partial: PartialEvent };

export interface AnalyzeJobReturn {
  result: AnalysisResult;
  /** The worker that computed it (its id: host, process and a random suffix). */
  worker: string;
}

/** A job's failedReason is this JSON, so an input error's field survives the trip through Redis. */
export function encodeFailure(e: unknown): string {
  return JSON.stringify(serializeError(e));
}

export const CANCELLED_REASON = 'cancelled by the user';

/** The error a failed job's reason stands for: a CancelledError, or a RemoteError (isInputError, field) as in-process. */
export function decodeFailure(reason: string | undefined): Error {
  if (!reason) return new Error('the job failed without a reason');
  if (reason === CANCELLED_REASON) return new CancelledError();
  try {
    const e = JSON.parse(reason) as SerializedError;
    if (typeof e?.message === 'string' && typeof e.name === 'string') return e.name === 'CancelledError' ? new CancelledError() : new RemoteError(e);
  } catch {
    // a reason BullMQ wrote itself (stalled too often, lock lost): plain text
  }
  return new Error(reason);
}

export function isJobUpdate(x: unknown): x is JobUpdate {
  return typeof x === 'object' && x !== null && ((x as JobUpdate).kind === 'progress' || (x as JobUpdate).kind === 'partial');
}
