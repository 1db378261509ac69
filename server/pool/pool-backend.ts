// The "pool" backend: each run is a BullMQ job on its model's queue in Redis; workers anywhere run it, and this server
// hears progress, stages and the result through QueueEvents and stores them (it stays the record).
import type Database from 'better-sqlite3';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { CancelledError } from '../../shared/errors.js';
import type { AnalysisBackend, AnalysisListeners, AnalysisOutcome, BackendHealth, StartedAnalysis } from '../runs/backend.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';
import { cancelKey, connect, queueName, redactRedisUrl, WORKER_KEY_PATTERN } from './config.js';
import { decodeFailure, isJobUpdate, type AnalyzeJobData, type AnalyzeJobReturn } from './protocol.js';
import { RunWorkers } from './run-workers.js';
import { isOutOfSpace } from '../disk-space.js';
import type { WorkerStatus } from '../../shared/pool.js';

interface Pending {
  runId: string;
  hash: string | null;
  data: AnalyzeJobData | null;
  listeners: AnalysisListeners;
  resolve: (o: AnalysisOutcome) => void;
  reject: (e: Error) => void;
  /** The job is (believed to be) in Redis; false until an add succeeds, and again when Redis lost it. */
  added: boolean;
  checking: boolean;
}

/** How often outstanding jobs are checked against Redis: events missed during an outage are caught up this way. */
const RECONCILE_MS = 2000;
/** Attempts of a job whose worker fails for a reason other than its input (engine crash, out of memory). */
const ATTEMPTS = 3;
const MAX_WORKERS_LISTED = 1000;

export class PoolBackend implements AnalysisBackend {
  readonly kind = 'pool' as const;
  private readonly redis: Redis;
  private readonly queues = new Map<string, { queue: Queue<AnalyzeJobData, AnalyzeJobReturn>; events: QueueEvents }>();
  private readonly pending = new Map<string, Pending>();
  private readonly hashes = new Map<string, Promise<string>>();
  private readonly timer: NodeJS.Timeout;
  readonly runWorkers: RunWorkers;
  private redisError: string | null = null;
  private wasReady = false;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly engine: EngineClient,
    db: Database.Database,
  ) {
    this.runWorkers = new RunWorkers(db);
    this.redis = connect(url);
    this.redis.on('error', (e: Error) => {
      this.redisError = e.message || 'connection refused';
    });
    this.redis.on('ready', () => {
      this.redisError = null;
      this.wasReady = true;
      void this.reconcile();
    });
    this.timer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.timer.unref();
  }

  get reachable(): boolean {
    return this.redis.status === 'ready';
  }

  health(): BackendHealth {
    if (this.reachable) return { kind: this.kind, ok: true, message: null };
    if (!this.redisError && !this.wasReady) return { kind: this.kind, ok: false, message: `pool unavailable: connecting to Redis at ${redactRedisUrl(this.url)}` };
    return {
      kind: this.kind,
      ok: false,
      message: `pool unavailable: Redis at ${redactRedisUrl(this.url)} is unreachable${this.redisError ? ` (${this.redisError})` : ''}; queued runs wait and resume when it returns`,
    };
  }

  /** The graph's sha256 of a model directory, asked of the engine once per directory. */
  modelHash(dir: string): Promise<string> {
    let h = this.hashes.get(dir);
    if (!h) {
      h = this.engine.info(dir).then((i) => i.modelHash);
      h.catch(() => this.hashes.delete(dir));
      this.hashes.set(dir, h);
    }
    return h;
  }

  start(runId: string, args: AnalyzeJobArgs, listeners: AnalysisListeners): StartedAnalysis {
    let resolve!: (o: AnalysisOutcome) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<AnalysisOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const p: Pending = { runId, hash: null, data: null, listeners, resolve, reject, added: false, checking: false };
    this.pending.set(runId, p);
    const { modelDir, ...rest } = args;
    this.modelHash(modelDir).then(
      (hash) => {
        p.hash = hash;
        p.data = { runId, modelHash: hash, modelName: args.modelId, args: rest };
        void this.add(p);
      },
      (e: Error) => this.settle(runId, e),
    );
    return { promise, cancel: () => this.cancel(runId) };
  }

  private async add(p: Pending) {
    if (!p.hash || !p.data || this.closed) return;
    try {
      // jobId = run id: adding it again (after Redis lost it, or twice by a race) never makes a second job.
      await this.queueFor(p.hash).queue.add('analyze', p.data, {
        jobId: p.runId,
        attempts: ATTEMPTS,
        backoff: { type: 'fixed', delay: 1000 },
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 24 * 3600, count: 10_000 },
      });
      p.added = true;
    } catch {
      // Redis is away: the reconcile loop adds it when it returns.
    }
  }

  private queueFor(hash: string) {
    let q = this.queues.get(hash);
    if (!q) {
      const name = queueName(hash);
      const queue = new Queue<AnalyzeJobData, AnalyzeJobReturn>(name, { connection: connect(this.url) });
      const events = new QueueEvents(name, { connection: connect(this.url) });
      queue.on('error', () => {});
      events.on('error', () => {});
      events.on('progress', ({ jobId, data }) => {
        const p = this.pending.get(jobId);
        if (!p || !isJobUpdate(data)) return;
        if (data.kind === 'progress') p.listeners.onProgress?.(data.progress);
        else p.listeners.onPartial?.(data.partial);
      });
      events.on('active', ({ jobId }) => this.pending.get(jobId)?.listeners.onStart?.());
      events.on('completed', ({ jobId }) => void this.check(jobId));
      events.on('failed', ({ jobId }) => void this.check(jobId));
      q = { queue, events };
      this.queues.set(hash, q);
    }
    return q;
  }

  /** Looks at one outstanding job in Redis: settles it when finished, adds it again when Redis lost it. */
  private async check(runId: string) {
    const p = this.pending.get(runId);
    if (!p || p.checking || !p.hash) return;
    if (!p.added) return void this.add(p);
    p.checking = true;
    try {
      const { queue } = this.queueFor(p.hash);
      // The state first, then the job: a job read before it finished would lack its return value or reason.
      const state = await queue.getJobState(runId);
      if (state === 'unknown') {
        // Redis restarted without its data (or the job was removed by hand): the run is queued again.
        p.added = false;
        await this.add(p);
        return;
      }
      if (state === 'active') p.listeners.onStart?.(); // in case its event came before this server listened
      if (state !== 'completed' && state !== 'failed') return;
      const job = await Job.fromId<AnalyzeJobData, AnalyzeJobReturn>(queue, runId);
      if (!job) return;
      if (state === 'completed' && job.returnvalue) this.complete(p, job.returnvalue, job.attemptsMade);
      else if (state === 'failed') this.settle(runId, decodeFailure(job.failedReason));
    } catch (e) {
      // The result could not be recorded for lack of space: the run fails with that reason (RunManager records it).
      if (isOutOfSpace(e)) this.settle(runId, e as Error);
      // Otherwise Redis went away mid-check: try again on the next round.
    } finally {
      p.checking = false;
    }
  }

  private complete(p: Pending, rv: AnalyzeJobReturn, attempts: number) {
    // The first completion recorded names the worker; RunManager stores a run's result only while it is not done.
    this.runWorkers.record(p.runId, rv.worker, attempts);
    this.pending.delete(p.runId);
    p.resolve({ result: rv.result, worker: rv.worker });
  }

  private settle(runId: string, e: Error) {
    const p = this.pending.get(runId);
    if (!p) return;
    this.pending.delete(runId);
    p.reject(e);
  }

  private async reconcile() {
    if (this.closed || !this.reachable) return;
    await Promise.all([...this.pending.keys()].map((id) => this.check(id)));
  }

  /** The run stops here at once; the flag reaches a worker running it (it polls), and a waiting job is removed. */
  private cancel(runId: string) {
    const p = this.pending.get(runId);
    this.settle(runId, new CancelledError());
    if (!p) return;
    void this.redis.set(cancelKey(runId), '1', 'EX', 24 * 3600).catch(() => {});
    if (p.hash) void this.queueFor(p.hash).queue.remove(runId).catch(() => {});
  }

  /** Workers whose heartbeat is fresh (they write it every few seconds with a short expiry). */
  async workers(): Promise<WorkerStatus[]> {
    if (!this.reachable) return [];
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', WORKER_KEY_PATTERN, 'COUNT', 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0' && keys.length < MAX_WORKERS_LISTED);
    if (!keys.length) return [];
    const values = await this.redis.mget(...keys.slice(0, MAX_WORKERS_LISTED));
    return values.flatMap((v) => (v ? [JSON.parse(v) as WorkerStatus] : [])).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Jobs waiting and running on a model's queue. */
  async counts(hash: string): Promise<{ waiting: number; active: number }> {
    if (!this.reachable) return { waiting: 0, active: 0 };
    const c = await this.queueFor(hash).queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
    return { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), active: c.active ?? 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.queues.values()].flatMap((q) => [q.queue.close(), q.events.close()]));
    this.redis.disconnect();
  }
}
