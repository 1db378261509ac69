// /api/experiments (a prompt over many inputs, with statistics) and /api/input-sets: zod at the edge, errors name the field.
import { Router } from 'express';
import { z } from 'zod';
import { InputError } from '../../shared/errors.js';
import { CreateExperimentSchema, type ExperimentSummaryRow, type InputSetSummary } from '../../shared/experiments.js';
import { HttpError } from '../http-error.js';
import type { ExperimentManager } from '../experiments/experiment-manager.js';
import { inputSetInfo, inputSets } from '../experiments/input-sets.js';
import { EXPERIMENT_CSV_TABLES, experimentCsv, experimentReport, renderExperimentHtml, type ExperimentCsvTable } from '../experiments/report.js';
import { InlineQuery, parse, sendReport, wrap } from './http.js';
import { openEventStream } from './sse.js';

export interface ExperimentsDeps {
  experiments: ExperimentManager;
  /** In pool mode: which worker computed each cell's run. */
  pool?: { runWorkers: { get(runId: string): { worker: string } | null } } | null;
}

const ListSchema = z.object({
  limit: z.string().regex(/^\d{1,4}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(200)).default(50),
  offset: z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(0)).default(0),
});

const CsvQuerySchema = z.object({ table: z.enum(EXPERIMENT_CSV_TABLES).default('cells') }).strict();

/** A domain check that failed (unknown model, text too long for the model, ...) is a 422 naming the field. */
const inputErrorAs422 = (e: unknown) => (e instanceof InputError ? new HttpError(422, e.message, e.field) : e);

function experimentId(raw: unknown): string {
  const id = String(raw);
  if (!z.string().uuid().safeParse(id).success) throw new HttpError(400, `id: "${id}" is not an experiment id (a UUID)`, 'id');
  return id;
}

export function experimentsRouter(d: ExperimentsDeps): Router {
  const r = Router();
  const x = d.experiments;

  const requireDetail = (raw: unknown) => {
    const id = experimentId(raw);
    const detail = x.detail(id);
    if (!detail) throw new HttpError(404, `no experiment ${id}`, 'id');
    const pool = d.pool;
    if (pool) for (const c of detail.cells) c.worker = c.runId ? (pool.runWorkers.get(c.runId)?.worker ?? null) : null;
    return detail;
  };

  r.get('/input-sets', (_req, res) => {
    const sets: InputSetSummary[] = [...inputSets().values()].map(inputSetInfo);
    res.json({ sets });
  });

  r.post(
    '/experiments',
    wrap(async (req, res) => {
      if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
        throw new HttpError(400, 'body: expected a JSON object with prompts and inputs', 'body');
      }
      const body = parse(CreateExperimentSchema, req.body);
      const row = await x.create(body);
      res.status(202).location(`/api/experiments/${row.id}`).json({ id: row.id, status: row.status });
    }, inputErrorAs422),
  );

  r.get(
    '/experiments',
    wrap((req, res) => {
      const q = parse(ListSchema, req.query);
      const { total, experiments } = x.experiments.list(q);
      const rows: ExperimentSummaryRow[] = experiments.map((e) => ({
        id: e.id,
        label: e.label,
        status: e.status,
        createdAt: e.createdAt,
        finishedAt: e.finishedAt,
        error: e.error,
        models: e.models,
        prompts: e.nPrompts,
        inputs: e.nInputs,
        progress: x.progress(e.id),
      }));
      res.json({ total, experiments: rows });
    }),
  );

  r.get(
    '/experiments/:id',
    wrap((req, res) => {
      res.json(requireDetail(req.params.id));
    }),
  );

  r.get(
    '/experiments/:id/events',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const id = detail.id;
      const stream = openEventStream(req, res);
      const send = stream.send;
      send('status', { status: detail.status, error: detail.error });
      send('progress', detail.progress);
      if (detail.status !== 'running' || !x.isLive(id)) {
        stream.end();
        return;
      }
      const unsubscribe = x.subscribe(id, (e) => {
        if (e.type === 'progress') send('progress', e.progress);
        else if (e.type === 'cell') send('cell', e.cell);
        else {
          send('status', { status: e.status, error: e.error });
          stream.end();
        }
      });
      stream.onClose(unsubscribe);
    }),
  );

  r.post(
    '/experiments/:id/cancel',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      if (!x.cancel(detail.id)) throw new HttpError(409, `experiment ${detail.id} is already ${detail.status}`, 'id');
      res.status(202).json({ id: detail.id, status: 'cancelled' });
    }),
  );

  r.delete(
    '/experiments/:id',
    wrap((req, res) => {
      const id = experimentId(req.params.id);
      if (!x.delete(id)) throw new HttpError(404, `no experiment ${id}`, 'id');
      res.status(204).end();
    }),
  );

  r.get(
    '/experiments/:id/report.json',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      sendReport(res, `${JSON.stringify(experimentReport(detail), null, 1)}\n`, 'application/json', `experiment-${detail.id.slice(0, 8)}.json`);
    }),
  );

  r.get(
    '/experiments/:id/report.csv',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const { table } = parse(CsvQuerySchema, req.query);
      sendReport(res, experimentCsv(detail, table as ExperimentCsvTable), 'text/csv; charset=utf-8', `experiment-${detail.id.slice(0, 8)}-${table}.csv`);
    }),
  );

  r.get(
    '/experiments/:id/report.html',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const { inline } = parse(InlineQuery, req.query);
      sendReport(res, renderExperimentHtml(experimentReport(detail)), 'text/html; charset=utf-8', `experiment-${detail.id.slice(0, 8)}.html`, inline === '1');
    }),
  );

  return r;
}
