// Messages between the HTTP thread and the worker thread, and the error that carries a worker's failure back.
import type { RunRequest, Tensor } from '../engine/hooked-model.js';
import type { ModelConfig } from '../model/model-dir.js';
import type { JobArgs, JobName } from './jobs.js';

export interface ModelInfo {
  dir: string;
  name: string;
  graphPath: string;
  modelHash: string;
  config: Omit<ModelConfig, 'raw'>;
  /** Why attention hooks/interventions are unavailable for this graph, or null. */
  attentionProblem: string | null;
  /** Layers whose structure surgery found (attention pattern, residual stream). */
  layersFound: number;
}

export type JobRequest = { [K in JobName]: { id: number; op: 'job'; job: K; args: JobArgs<K> } }[JobName];

export type WorkerRequest =
  | { id: number; op: 'run'; model: string; req: RunRequest }
  | { id: number; op: 'info'; model: string }
  | JobRequest
  | { id: number; op: 'cancel'; target: number };

export interface SerializedResult {
  logits: Tensor | null;
  cache: [string, Tensor][];
}

export interface SerializedError {
  name: string;
  message: string;
  /** The request field at fault, for input errors. */
  field?: string;
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError }
  | { id: number; progress: unknown }
  | { id: number; partial: unknown };

/** Errors caused by the caller's input (bad model dir, hook, token, shape, text): the HTTP layer answers 4xx. */
export const INPUT_ERROR_NAMES = new Set(['EngineInputError', 'GraphStructureError', 'ModelDirError', 'InputError']);

export function serializeError(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const field = (err as { field?: unknown }).field;
  return { name: err.name || 'Error', message: err.message || String(e), ...(typeof field === 'string' ? { field } : {}) };
}

export class RemoteError extends Error {
  readonly field?: string;

  constructor(e: SerializedError) {
    super(e.message);
    this.name = e.name;
    if (e.field) this.field = e.field;
  }

  get isInputError(): boolean {
    return INPUT_ERROR_NAMES.has(this.name);
  }
}
