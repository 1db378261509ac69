// GET /api/history: the sidebar's list, runs and experiments (one entry each for all of their cells), searchable.
import { Router } from 'express';
import { ListRunsSchema } from '../../shared/api.js';
import type { ExperimentManager } from '../experiments/experiment-manager.js';
import { historyPage } from '../experiments/history.js';
import type { RunStore } from '../store/run-store.js';
import { parse, wrap } from './http.js';

export function historyRouter(d: { store: RunStore; experiments: ExperimentManager }): Router {
  const r = Router();
  r.get(
    '/history',
    wrap((req, res) => {
      const q = parse(ListRunsSchema, req.query);
      res.json(historyPage(d.store, d.experiments, { q: q.q, limit: q.limit, offset: q.offset }));
    }),
  );
  return r;
}
