// The "pool" backend of a search: racing cells and continuations become BullMQ jobs (`race`, `continuations`) on the
// model's queue in Redis, taken by the same `precache-lens worker`s that run analyses (server/pool/pool-worker.ts).
import crypto from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { CancelledError } from '../../shared/errors.js';
import { cancelKey, connect, queueName } from '../pool/config.js';
import type { PoolBackend } from '../pool/pool-backend.js';
import { decodeFailure, type SearchJobData, type SearchJobReturn } from '../pool/protocol.js';
import type { RegisteredModel } from '../model/registry.js';
import type { RaceBackend, StartedJob } from './race-backend.js';
import type { ContinuationArgs, ContinuationResult, RaceCellsArgs, RaceCellsResult } from './race-cells.js';

/** Attempts of a job whose worker fails for a reason other than its input, as for analyses. */
const ATTEMPTS = 3;

export class PoolRaceBackend implements RaceBackend {
  private readonly queues = new Map<string, { queue: Queue<SearchJobData, SearchJobReturn>; events: QueueEvents }>();
  private redis: Redis | null = null;

  constructor(private readonly pool: PoolBackend) {}

  race(model: RegisteredModel, args: RaceCellsArgs): StartedJob<RaceCellsResult> {
    return this.start<RaceCellsResult>('race', model, args);
  }

  continuations(model: RegisteredModel, args: ContinuationArgs): StartedJob<ContinuationResult> {
    return this.start<ContinuationResult>('continuations', model, args);
  }

  private queueFor(hash: string) {
    let q = this.queues.get(hash);
    if (!q) {
      const name = queueName(hash);
      q = { queue: new Queue<SearchJobData, SearchJobReturn>(name, { connection: connect(this.pool.url) }), events: new QueueEvents(name, { connection: connect(this.pool.url) }) };
      q.queue.on('error', () => {});
      q.events.on('error', () => {});
      this.queues.set(hash, q);
    }
    return q;
  }

  private start<T>(name: 'race' | 'continuations', model: RegisteredModel, args: RaceCellsArgs | ContinuationArgs): StartedJob<T> {
    const jobId = `search-${crypto.randomUUID()}`;
    let reject!: (e: Error) => void;
    let hash: string | null = null;
    const promise = new Promise<T>((res, rej) => {
      reject = rej;
      void (async () => {
        hash = await this.pool.modelHash(model.md.dir);
        const { queue, events } = this.queueFor(hash);
        await events.waitUntilReady();
        const job = await queue.add(name, { runId: jobId, modelHash: hash, modelName: model.id, args }, {
          jobId,
          attempts: ATTEMPTS,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 24 * 3600, count: 10_000 },
        });
        try {
          const rv = await job.waitUntilFinished(events);
          res(rv.result as T);
        } catch (e) {
          rej(decodeFailure((e as Error).message));
        }
      })().catch(rej);
    });
    const cancel = () => {
      reject(new CancelledError());
      this.redis ??= connect(this.pool.url);
      this.redis.on('error', () => {});
      void this.redis.set(cancelKey(jobId), '1', 'EX', 24 * 3600).catch(() => {});
      if (hash) void this.queueFor(hash).queue.remove(jobId).catch(() => {});
    };
    return { promise, cancel };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].flatMap((q) => [q.queue.close(), q.events.close()]));
    this.redis?.disconnect();
  }
}
