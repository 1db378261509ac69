// `precache-lens worker`: takes analysis jobs from the Redis queues of the models it has and runs them on its own engine.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { isCancelled } from '../../shared/errors.js';
import { ModelRegistry } from '../model/registry.js';
import { removeStaleTemps } from '../disk-space.js';
import { EngineClient } from '../worker/engine-client.js';
import { RemoteError } from '../worker/protocol.js';
import { cancelKey, connect, poolTiming, queueName, redactRedisUrl, workerKey } from './config.js';
import { CANCELLED_REASON, encodeFailure, type AnalyzeJobData, type AnalyzeJobReturn, type JobUpdate, type SearchJobData, type SearchJobReturn } from './protocol.js';
import type { ContinuationArgs, RaceCellsArgs } from '../search/race-cells.js';
import type { WorkerStatus } from '../../shared/pool.js';

export interface PoolWorkerOptions {
  redis: string;
  /** Model directories (or graph files); their graphs' sha256 name the queues this worker consumes. */
  models: string[];
  /** Jobs run at once (each on the engine's worker thread, one after another per model session). */
  concurrency: number;
  threads?: number;
  /** Where rewritten graphs are cached. */
  cacheDir: string;
  log?: (line: string) => void;
}

const CANCEL_POLL_MS = 300;
/** Progress updates per job at most this often (partial stages always go). */
const PROGRESS_EVERY_MS = 250;

export async function startPoolWorker(o: PoolWorkerOptions) {
  const log = o.log ?? ((s: string) => console.log(s));
  const timing = poolTiming();
  const id = `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const registry = new ModelRegistry(o.models, o.models.length === 0);
  // Half-written graph files of a worker that died mid-write (a full disk, a kill) would fill the disk again.
  for (const f of removeStaleTemps(o.cacheDir)) log(`worker: removed ${path.join(o.cacheDir, f)}, left by an interrupted write`);
  const engine = new EngineClient({ threads: o.threads, cacheDir: o.cacheDir });
  const models = await Promise.all(registry.list().map(async (m) => ({ dir: m.md.dir, name: m.id, hash: (await engine.info(m.md.dir)).modelHash })));
  const redis = connect(o.redis);
  redis.on('error', () => {}); // reconnects on its own; the workers below report the outage once
  const current = new Map<string, { modelHash: string; since: string }>();
  const finishedAt: number[] = [];
  let jobsDone = 0;
  let stopping = false;
  const startedAt = new Date().toISOString();

  const status = (): WorkerStatus => {
    const cutoff = Date.now() - 60_000;
    while (finishedAt.length && finishedAt[0] < cutoff) finishedAt.shift();
    return {
      id,
      host: os.hostname(),
      pid: process.pid,
      startedAt,
      seenAt: new Date().toISOString(),
      models: models.map((m) => ({ name: m.name, hash: m.hash })),
      concurrency: o.concurrency,
      threads: o.threads ?? null,
      current: [...current].map(([runId, c]) => ({ runId, ...c })),
      jobsLastMinute: finishedAt.length,
      jobsDone,
      stopping,
    };
  };
  function beat() {
    return redis.set(workerKey(id), JSON.stringify(status()), 'PX', timing.heartbeatMs * 3).catch(() => {});
  }

  const process1 = async (job: Job<AnalyzeJobData, AnalyzeJobReturn>, dir: string): Promise<AnalyzeJobReturn> => {
    const { runId } = job.data;
    if (await redis.exists(cancelKey(runId))) throw new UnrecoverableError(CANCELLED_REASON);
    current.set(runId, { modelHash: job.data.modelHash, since: new Date().toISOString() });
    void beat();
    // Updates go out in order, and all before the return value, so the server has every stage before the result.
    let chain: Promise<unknown> = Promise.resolve();
    const send = (u: JobUpdate) => {
      chain = chain.then(() => job.updateProgress(u)).catch(() => {});
    };
    let lastProgress = 0;
    const task = engine.task('analyze', { ...job.data.args, modelDir: dir }, {
      onProgress: (progress) => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_EVERY_MS && progress.done < progress.total) return;
        lastProgress = now;
        send({ kind: 'progress', progress });
      },
      onPartial: (partial) => send({ kind: 'partial', partial }),
    });
    let cancelled = false;
    const poll = setInterval(() => {
      redis.exists(cancelKey(runId)).then((n) => {
        if (n && !cancelled) {
          cancelled = true;
          task.cancel();
        }
      }, () => {});
    }, CANCEL_POLL_MS);
    try {
      const result = await task.promise;
      await chain;
      return { result, worker: id };
    } catch (e) {
      if (cancelled || isCancelled(e)) throw new UnrecoverableError(CANCELLED_REASON);
      // The same input fails the same way on every worker: no retry. Anything else (an engine crash) is retried.
      if (e instanceof RemoteError && e.isInputError) throw new UnrecoverableError(encodeFailure(e));
      throw new Error(encodeFailure(e));
    } finally {
      clearInterval(poll);
      current.delete(runId);
      finishedAt.push(Date.now());
      jobsDone++;
      void beat();
    }
  };

  /** A prompt search's racing cells or continuations (short jobs: the cancel flag is read before they start). */
  const processSearch = async (job: Job<SearchJobData, SearchJobReturn>, dir: string): Promise<SearchJobReturn> => {
    const { runId } = job.data;
    if (await redis.exists(cancelKey(runId))) throw new UnrecoverableError(CANCELLED_REASON);
    current.set(runId, { modelHash: job.data.modelHash, since: new Date().toISOString() });
    void beat();
    try {
      const result =
        job.name === 'race'
          ? await engine.task('race', { ...(job.data.args as RaceCellsArgs), modelDir: dir }).promise
          : await engine.task('continuations', { ...(job.data.args as ContinuationArgs), modelDir: dir }).promise;
      return { result, worker: id };
    } catch (e) {
      if (isCancelled(e)) throw new UnrecoverableError(CANCELLED_REASON);
      if (e instanceof RemoteError && e.isInputError) throw new UnrecoverableError(encodeFailure(e));
      throw new Error(encodeFailure(e));
    } finally {
      current.delete(runId);
      finishedAt.push(Date.now());
      jobsDone++;
      void beat();
    }
  };

  /** One queue per model carries analyses and a search's jobs, told apart by the job's name. */
  const route = (job: Job<AnalyzeJobData, AnalyzeJobReturn>, dir: string): Promise<AnalyzeJobReturn> =>
    job.name === 'race' || job.name === 'continuations' ? (processSearch(job as unknown as Job<SearchJobData, SearchJobReturn>, dir) as unknown as Promise<AnalyzeJobReturn>) : process1(job, dir);

  let lastError = '';
  const workers = models.map((m) => {
    const w = new Worker<AnalyzeJobData, AnalyzeJobReturn>(queueName(m.hash), (job) => route(job, m.dir), {
      connection: connect(o.redis),
      concurrency: o.concurrency,
      lockDuration: timing.lockMs,
      stalledInterval: timing.lockMs,
      // A job whose worker died is retried; one that kills every worker it meets is failed, not retried forever.
      maxStalledCount: 2,
    });
    w.on('error', (e) => {
      // Redis going away shows up here once per reconnect attempt: say it once per distinct message.
      if (e.message !== lastError) log(`worker: ${e.message}`);
      lastError = e.message;
    });
    w.on('ready', () => {
      if (lastError) log(`worker: connected to ${redactRedisUrl(o.redis)} again`);
      lastError = '';
    });
    return w;
  });

  log(`precache-lens worker ${id}: ${models.map((m) => `${m.name} (${m.hash.slice(0, 12)})`).join(', ')} from ${redactRedisUrl(o.redis)}, concurrency ${o.concurrency}`);
  await beat();
  const heartbeat = setInterval(beat, timing.heartbeatMs);


  /** Stops taking jobs, lets the running ones finish (their results are delivered), then disconnects. */
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await beat();
    await Promise.all(workers.map((w) => w.close()));
    clearInterval(heartbeat);
    await redis.del(workerKey(id)).catch(() => {});
    redis.disconnect();
    await engine.close();
  };
  return { id, models, stop, status };
}

/** The graph cache a worker uses by default: its own under the data directory, so workers on one disk do not collide. */
export function defaultWorkerCacheDir(dataDir: string): string {
  return path.join(dataDir, 'graph-cache');
}
