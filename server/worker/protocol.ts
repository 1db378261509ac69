// Messages between the HTTP thread and the engine worker thread, and error classes that cross the boundary.
import type { RunRequest, Tensor } from './hooked-model.js';
import type { ModelConfig } from '../model/model-dir.js';

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

export type WorkerRequest =
  | { id: number; op: 'run'; model: string; req: RunRequest }
  | { id: number; op: 'info'; model: string }
  | { id: number; op: 'task'; task: string; args: unknown }
  | { id: number; op: 'cancel'; target: number };

export interface SerializedResult {
  logits: Tensor | null;
  cache: [string, Tensor][];
}

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { id: number; progress: unknown };

/** Errors caused by the caller's input (bad model dir, hook, token, shape): the HTTP layer answers 4xx. */
export const INPUT_ERROR_NAMES = new Set(['EngineInputError', 'GraphStructureError', 'ModelDirError', 'AnalysisInputError']);

export class RemoteError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
  get isInputError(): boolean {
    return INPUT_ERROR_NAMES.has(this.name);
  }
}
