// Schedules analysis runs on a backend (in-process worker thread or a Redis worker pool), tracks their progress for SSE, and records them in the store.
import { EventEmitter } from 'node:events';
import type { AnalysisProgress, PartialEvent } from '../../shared/analysis.js';
import { CancelledError, isCancelled } from '../../shared/errors.js';
import { settings } from '../settings.js';
import type { EngineClient } from '../worker/engine-client.js';
import { isBackend, type AnalysisBackend } from './backend.js';
import { InProcessBackend } from './in-process.js';
import type { RunStatus, RunStore, RunRow } from '../store/run-store.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';
import type { RegisteredModel } from '../model/registry.js';

export type RunEvent =
  | { type: 'progress'; progress: AnalysisProgress }
  | { type: 'partial'; partial: PartialEvent }
  | { type: 'status'; status: RunStatus; error?: string | null };

/** Too many runs waiting: the HTTP layer answers 429 with Retry-After. */
export class QueueFullError extends Error {
  constructor(
    readonly limit: number,
    readonly retryAfterS: number,
  ) {
    super(`queue: ${limit} runs are already waiting; try again in ${retryAfterS} s (the bound is PRECACHE_LENS_MAX_QUEUE / --max-queue)`);
    this.name = 'QueueFullError';
  }
}

/** What a refused client is told to wait: about one short analysis on the default model. */
const RETRY_AFTER_S = 10;

interface Active {
  cancel: () => void;
}

export class RunManager {
  private readonly events = new EventEmitter();
  private readonly queue: { id: string; args: AnalyzeJobArgs }[] = [];
  private readonly active = new Map<string, Active>();
  private readonly progress = new Map<string, AnalysisProgress>();
  /** Cancels accepted for running runs: honoured even if the worker finishes before it sees them. */
  private readonly cancelRequested = new Set<string>();

  /** Where analyses run: the in-process engine (given an EngineClient) or any other backend. */
  readonly backend: AnalysisBackend;

  constructor(
    private readonly store: RunStore,
    engine: EngineClient | AnalysisBackend,
    private readonly concurrency = settings().concurrency,
    private readonly maxBatchMB?: number,
    /** Runs that may wait for a free slot; one more is refused (QueueFullError), so memory and wait stay bounded. */
    private readonly maxQueue = settings().maxQueue,
  ) {
    this.events.setMaxListeners(0);
    this.backend = isBackend(engine) ? engine : new InProcessBackend(engine);
  }

  /** Throws QueueFullError unless `needed` more runs can be accepted now (checked before submitting a group). */
  ensureCapacity(needed = 1): void {
    const free = this.concurrency - this.active.size;
    if (this.queue.length + needed - Math.max(0, free) > this.maxQueue) throw new QueueFullError(this.maxQueue, RETRY_AFTER_S);
  }

  submit(model: RegisteredModel, req: { prompt: string; input: string; options: Record<string, unknown>; label?: string; parentId?: string }): RunRow {
    this.ensureCapacity(1);
    const row = this.store.create({ modelId: model.id, prompt: req.prompt, input: req.input, options: req.options, label: req.label ?? null, parentId: req.parentId ?? null });
    this.queue.push({
      id: row.id,
      args: { modelDir: model.md.dir, modelId: model.id, prompt: req.prompt, input: req.input, options: req.options, maxBatchMB: this.maxBatchMB },
    });
    this.pump();
    return row;
  }

  getProgress(id: string): AnalysisProgress | null {
    return this.progress.get(id) ?? null;
  }

  isLive(id: string): boolean {
    return this.active.has(id) || this.queue.some((q) => q.id === id);
  }

  /** Cancels a queued or running run. Returns false when it is not live. */
  cancel(id: string): boolean {
    const qi = this.queue.findIndex((q) => q.id === id);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      this.store.setStatus(id, 'cancelled', 'cancelled by the user');
      this.emit(id, { type: 'status', status: 'cancelled', error: 'cancelled by the user' });
      return true;
    }
    const a = this.active.get(id);
    if (!a) return false;
    this.cancelRequested.add(id);
    a.cancel();
    return true;
  }

  subscribe(id: string, fn: (e: RunEvent) => void): () => void {
    this.events.on(id, fn);
    return () => this.events.off(id, fn);
  }

  /** Resolves when nothing is queued or running (for orderly shutdown and tests). */
  async idle(): Promise<void> {
    while (this.queue.length || this.active.size) await new Promise((r) => setTimeout(r, 50));
  }

  private emit(id: string, e: RunEvent) {
    this.events.emit(id, e);
  }

  private pump() {
    while (this.active.size < this.concurrency && this.queue.length) {
      const next = this.queue.shift()!;
      void this.start(next.id, next.args);
    }
  }

  private async start(id: string, args: AnalyzeJobArgs) {
    try {
      // Inside the try: a backend that cannot start (an engine already closed) fails this run, not the process.
      const task = this.backend.start(id, args, {
        // In process at once; in a pool when a worker takes the job (until then the run stays queued).
        onStart: () => {
          if (this.store.get(id)?.status !== 'queued') return;
          this.store.setStatus(id, 'running');
          this.emit(id, { type: 'status', status: 'running' });
        },
        onProgress: (p) => {
          this.progress.set(id, p);
          this.emit(id, { type: 'progress', progress: p });
        },
        // Each finished stage is stored before it is announced, so a reader who hears of it can fetch it.
        onPartial: (e) => {
          if (this.store.get(id)) this.store.saveStage(id, e.stage, e.data);
          this.emit(id, { type: 'partial', partial: e });
        },
      });
      this.active.set(id, { cancel: task.cancel });
      const { result } = await task.promise;
      if (this.cancelRequested.has(id)) throw new CancelledError();
      // Idempotent on the run id: a result already stored (a retried pool job) is not stored twice.
      const stored = this.store.get(id);
      if (stored && stored.status !== 'done') {
        this.store.finish(id, {
          modelHash: result.model.hash,
          result,
          meanBenefit: result.summary.meanBenefit,
          precomputationShare: result.summary.precomputationShare,
          variants: result.variants.map((v) => ({ idx: v.idx, kind: v.kind, label: v.label, blockedLayers: v.blockedLayers, blockedSpan: v.blockedSpan, meanLoss: v.meanLoss })),
        });
      }
      this.emit(id, { type: 'status', status: 'done' });
    } catch (e) {
      const err = e as Error;
      const status: RunStatus = isCancelled(err) ? 'cancelled' : 'failed';
      const msg = status === 'cancelled' ? 'cancelled by the user' : err.message;
      if (this.store.get(id)) this.store.setStatus(id, status, msg);
      this.emit(id, { type: 'status', status, error: msg });
    } finally {
      this.active.delete(id);
      this.progress.delete(id);
      this.cancelRequested.delete(id);
      this.pump();
    }
  }
}
