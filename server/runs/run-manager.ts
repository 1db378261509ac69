// Schedules analysis runs on a backend (in-process worker thread or a Redis worker pool), tracks their progress for SSE, and records them in the store.
import { EventEmitter } from 'node:events';
import type { AnalysisProgress, PartialEvent } from '../../shared/analysis.js';
import { CancelledError, isCancelled } from '../../shared/errors.js';
import { settings } from '../settings.js';
import { asOutOfSpace } from '../disk-space.js';
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

/** Room a run needs in the data directory when it is accepted: a full analysis's stored result is well under this. */
export const RUN_ROOM_BYTES = 2 * 2 ** 20;

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
  /** Set by stop(): runs ending after it leave the status stop() recorded. */
  private stopped = false;

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
    // Refused now (507) rather than failed later: a run needs room for its stages and result.
    this.store.ensureRoom(RUN_ROOM_BYTES, 'a new run (its stages and result)');
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

  /**
   * Stops for a shutdown: nothing more starts, running analyses are asked to stop, and queued and running runs are
   * marked failed with `reason` (what a restart would say of them anyway). Returns how many were marked.
   */
  stop(reason: string): number {
    this.stopped = true;
    const ids = [...this.queue.map((q) => q.id), ...this.active.keys()];
    this.queue.length = 0;
    for (const a of this.active.values()) a.cancel();
    const marked = this.store.markUnfinished(reason);
    for (const id of ids) this.emit(id, { type: 'status', status: 'failed', error: reason });
    return marked;
  }

  /** Resolves when nothing is queued or running (for orderly shutdown and tests). */
  async idle(): Promise<void> {
    while (this.queue.length || this.active.size) await new Promise((r) => setTimeout(r, 50));
  }

  /** Tells the run's listeners (SSE streams, experiments); one that throws is logged, never the caller's problem. */
  private emit(id: string, e: RunEvent) {
    for (const fn of this.events.listeners(id) as ((e: RunEvent) => void)[]) {
      try {
        fn(e);
      } catch (err) {
        console.error(`run ${id}: a listener of its ${e.type} event failed: ${(err as Error).message}`);
      }
    }
  }

  private pump() {
    while (!this.stopped && this.active.size < this.concurrency && this.queue.length) {
      const next = this.queue.shift()!;
      void this.start(next.id, next.args);
    }
  }

  private async start(id: string, args: AnalyzeJobArgs) {
    // A store write that fails under a listener (the disk is full) stops the analysis and fails the run with that
    // error; it must never escape into the engine's message loop, where it would end the process.
    let storeFailure: Error | null = null;
    let cancelTask: (() => void) | null = null;
    const guard = (f: () => void) => {
      if (storeFailure) return;
      try {
        f();
      } catch (e) {
        storeFailure = e as Error;
        cancelTask?.();
      }
    };
    try {
      // Inside the try: a backend that cannot start (an engine already closed) fails this run, not the process.
      const task = this.backend.start(id, args, {
        // In process at once; in a pool when a worker takes the job (until then the run stays queued).
        onStart: () =>
          guard(() => {
            if (this.store.get(id)?.status !== 'queued') return;
            this.store.setStatus(id, 'running');
            this.emit(id, { type: 'status', status: 'running' });
          }),
        onProgress: (p) => {
          this.progress.set(id, p);
          this.emit(id, { type: 'progress', progress: p });
        },
        // Each finished stage is stored before it is announced, so a reader who hears of it can fetch it.
        onPartial: (e) =>
          guard(() => {
            if (this.store.get(id)) this.store.saveStage(id, e.stage, e.data);
            this.emit(id, { type: 'partial', partial: e });
          }),
      });
      cancelTask = task.cancel;
      if (storeFailure) task.cancel();
      this.active.set(id, { cancel: task.cancel });
      const { result } = await task.promise.catch((e: unknown) => {
        throw storeFailure ?? e;
      });
      if (storeFailure) throw storeFailure;
      if (this.cancelRequested.has(id)) throw new CancelledError();
      // Idempotent on the run id: a result already stored (a retried pool job) is not stored twice.
      const stored = this.store.get(id);
      if (stored && stored.status !== 'done' && !this.stopped) {
        this.store.finish(id, {
          modelHash: result.model.hash,
          result,
          meanBenefit: result.summary.meanBenefit,
          precomputationShare: result.summary.precomputationShare,
          variants: result.variants.map((v) => ({ idx: v.idx, kind: v.kind, label: v.label, blockedLayers: v.blockedLayers, blockedSpan: v.blockedSpan, meanLoss: v.meanLoss })),
        });
      }
      if (!this.stopped) this.emit(id, { type: 'status', status: 'done' });
    } catch (e) {
      // A bare "disk is full" from SQLite (the pool's completion record, say) gets the data directory's name.
      const err = asOutOfSpace(e, this.store.dataDir, `recording run ${id}`, 0) as Error;
      const status: RunStatus = isCancelled(err) ? 'cancelled' : 'failed';
      const msg = status === 'cancelled' ? 'cancelled by the user' : err.message;
      try {
        if (this.store.get(id) && !this.stopped) this.store.setStatus(id, status, msg);
      } catch (e2) {
        // Not even the space reserve sufficed: the run's end is announced, and at the next start it reads "interrupted".
        console.error(`run ${id}: could not record its end (${msg}): ${(e2 as Error).message}`);
      }
      if (!this.stopped) this.emit(id, { type: 'status', status, error: msg });
    } finally {
      this.active.delete(id);
      this.progress.delete(id);
      this.cancelRequested.delete(id);
      this.pump();
    }
  }
}
