// /api/workers (the pool: workers seen, their models, current jobs, jobs per minute) and /api/runs/:id/worker.
import { Router } from 'express';
import type { ModelRegistry } from '../model/registry.js';
import type { PoolBackend } from '../pool/pool-backend.js';
import { redactRedisUrl } from '../pool/config.js';
import type { PoolModelStatus, RunWorker, WorkersResponse } from '../../shared/pool.js';
import type { RunStore } from '../store/run-store.js';
import { requireRun, uuidParam, wrap } from './http.js';

export interface WorkersDeps {
  registry: ModelRegistry;
  store: RunStore;
  pool?: PoolBackend | null;
}

export function workersRouter(d: WorkersDeps): Router {
  const r = Router();

  r.get(
    '/workers',
    wrap(async (_req, res) => {
      const pool = d.pool;
      if (!pool) {
        res.json({ backend: 'in-process', redis: null, workers: [], models: [], jobsLastMinute: 0 } satisfies WorkersResponse);
        return;
      }
      const health = pool.health();
      const workers = await pool.workers().catch(() => []);
      // Each model this server offers, with how many workers have it byte for byte: 0 means its runs wait.
      const models: PoolModelStatus[] = await Promise.all(
        d.registry.list().map(async (m) => {
          const hash = await pool.modelHash(m.md.dir);
          const counts = await pool.counts(hash).catch(() => ({ waiting: 0, active: 0 }));
          return { id: m.id, hash, workers: workers.filter((w) => w.models.some((x) => x.hash === hash)).length, ...counts };
        }),
      );
      res.json({
        backend: 'pool',
        redis: { url: redactRedisUrl(pool.url), reachable: pool.reachable, error: health.message },
        workers,
        models,
        jobsLastMinute: pool.runWorkers.since(new Date(Date.now() - 60_000).toISOString()),
      } satisfies WorkersResponse);
    }),
  );

  r.get(
    '/runs/:id/worker',
    wrap((req, res) => {
      const id = uuidParam(req);
      requireRun(d.store, id);
      // null: the run was computed in this process (or is not finished).
      res.json({ runId: id, ...(d.pool?.runWorkers.get(id) ?? { worker: null, attempts: null, finishedAt: null }) } satisfies RunWorker);
    }),
  );
  return r;
}
