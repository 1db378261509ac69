// The "in-process" backend: analyses run on this process's engine worker thread (the default; needs nothing but Node).
import type { EngineClient } from '../worker/engine-client.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';
import type { AnalysisBackend, AnalysisListeners, BackendHealth, StartedAnalysis } from './backend.js';

export class InProcessBackend implements AnalysisBackend {
  readonly kind = 'in-process' as const;

  constructor(private readonly engine: EngineClient) {}

  start(_runId: string, args: AnalyzeJobArgs, listeners: AnalysisListeners): StartedAnalysis {
    listeners.onStart?.();
    const task = this.engine.task('analyze', args, { onProgress: listeners.onProgress, onPartial: listeners.onPartial });
    return { promise: task.promise.then((result) => ({ result, worker: null })), cancel: task.cancel };
  }

  health(): BackendHealth {
    return { kind: this.kind, ok: true, message: null };
  }

  /** The engine belongs to whoever made it (the server also uses it for tokenizing and model info). */
  async close(): Promise<void> {}
}
