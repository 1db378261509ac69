// The HTTP thread's handle on the worker thread: promise-based run/info calls and typed jobs with progress,
// partial results and cancel.
import { Worker } from 'node:worker_threads';
import type { EngineOptions, RunRequest, RunResult } from '../engine/hooked-model.js';
import type { JobArgs, JobListeners, JobName, JobResult } from './jobs.js';
import { RemoteError, type ModelInfo, type SerializedResult, type WorkerReply, type WorkerRequest } from './protocol.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (p: unknown) => void; onPartial?: (p: unknown) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(opts: EngineOptions = {}) {
    this.worker = new Worker(new URL('./thread-entry.mjs', import.meta.url), { workerData: opts });
    this.worker.on('message', (msg: WorkerReply) => this.onMessage(msg));
    this.worker.on('error', (err: unknown) => this.failAll(err instanceof Error ? err : new Error(String(err))));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.failAll(new Error(`engine worker exited with code ${code}`));
    });
    // The worker must not keep the process alive on its own.
    this.worker.unref();
  }

  private onMessage(msg: WorkerReply) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('progress' in msg) {
      p.onProgress?.(msg.progress);
      return;
    }
    if ('partial' in msg) {
      p.onPartial?.(msg.partial);
      return;
    }
    this.pending.delete(msg.id);
    if (this.pending.size === 0) this.worker.unref();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new RemoteError(msg.error));
  }

  private failAll(err: Error) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call<T>(msg: DistributiveOmit<WorkerRequest, 'id'>, listeners: Omit<Pending, 'resolve' | 'reject'> = {}): { id: number; promise: Promise<T> } {
    if (this.closed) throw new Error('engine is closed');
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, ...listeners });
    });
    this.worker.ref(); // keep the process alive while work is in flight
    this.worker.postMessage({ ...msg, id } as WorkerRequest);
    return { id, promise };
  }

  async run(model: string, req: RunRequest): Promise<RunResult> {
    const r = await this.call<SerializedResult>({ op: 'run', model, req }).promise;
    return { logits: r.logits, cache: new Map(r.cache) };
  }

  info(model: string): Promise<ModelInfo> {
    return this.call<ModelInfo>({ op: 'info', model }).promise;
  }

  /** Starts a job of the table (server/worker/jobs.ts); `cancel()` asks it to stop at its next checkpoint. */
  task<K extends JobName>(job: K, args: JobArgs<K>, listeners: JobListeners<K> | JobListeners<K>['onProgress'] = {}): { promise: Promise<JobResult<K>>; cancel: () => void } {
    const l: JobListeners<K> = typeof listeners === 'function' ? { onProgress: listeners } : listeners;
    const msg = { op: 'job', job, args } as DistributiveOmit<WorkerRequest, 'id'>;
    const { id, promise } = this.call<JobResult<K>>(msg, { onProgress: l.onProgress as (p: unknown) => void, onPartial: l.onPartial as (p: unknown) => void });
    return { promise, cancel: () => this.worker.postMessage({ op: 'cancel', id: 0, target: id } satisfies WorkerRequest) };
  }

  /**
   * Stops the worker thread. Jobs in flight are asked to cancel and given `graceMs` to return: terminating the
   * thread while onnxruntime is inside a native call aborts the whole process.
   */
  async close(graceMs = 30_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of this.pending.keys()) this.worker.postMessage({ op: 'cancel', id: 0, target: id } satisfies WorkerRequest);
    const until = Date.now() + graceMs;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.failAll(new Error('engine closed'));
    await this.worker.terminate();
  }
}
