// /api/searches (prompt search: race variants over inputs): zod at the edge, errors name the field; SSE per round.
import { Router } from 'express';
import { z } from 'zod';
import { InputError } from '../../shared/errors.js';
import { CreateSearchSchema, type SearchSummaryRow } from '../../shared/search.js';
import { HttpError } from '../http-error.js';
import type { SearchManager } from '../search/search-manager.js';
import { renderSearchHtml, SEARCH_CSV_TABLES, searchCsv, searchReport, type SearchCsvTable } from '../search/search-report.js';
import { InlineQuery, parse, sendReport, wrap } from './http.js';

export interface SearchDeps {
  searches?: SearchManager | null;
}

const ListSchema = z.object({
  limit: z.string().regex(/^\d{1,4}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(1).max(200)).default(50),
  offset: z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(0)).default(0),
});

const CsvQuerySchema = z.object({ table: z.enum(SEARCH_CSV_TABLES).default('variants') }).strict();

const inputErrorAs422 = (e: unknown) => (e instanceof InputError ? new HttpError(422, e.message, e.field) : e);

function searchId(raw: unknown): string {
  const id = String(raw);
  if (!z.string().uuid().safeParse(id).success) throw new HttpError(400, `id: "${id}" is not a search id (a UUID)`, 'id');
  return id;
}

export function searchRouter(d: SearchDeps): Router {
  const r = Router();
  const manager = () => {
    if (!d.searches) throw new HttpError(503, 'prompt search is not available in this server', 'searches');
    return d.searches;
  };
  const requireDetail = (raw: unknown) => {
    const id = searchId(raw);
    const detail = manager().detail(id);
    if (!detail) throw new HttpError(404, `no search ${id}`, 'id');
    return detail;
  };

  r.post(
    '/searches',
    wrap(async (req, res) => {
      if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
        throw new HttpError(400, 'body: expected a JSON object with variants and inputs', 'body');
      }
      const body = parse(CreateSearchSchema, req.body);
      const row = await manager().create(body);
      res.status(202).location(`/api/searches/${row.id}`).json({ id: row.id, status: row.status });
    }, inputErrorAs422),
  );

  r.get(
    '/searches',
    wrap((req, res) => {
      const q = parse(ListSchema, req.query);
      const m = manager();
      const { total, searches } = m.searches.list(q);
      const rows: SearchSummaryRow[] = searches.map((s) => {
        const winner = s.finalists?.[0]?.variant;
        return {
          id: s.id,
          label: s.label,
          status: s.status,
          phase: s.phase,
          createdAt: s.createdAt,
          model: s.model,
          variants: s.variants.length,
          inputs: s.inputs.length,
          cells: m.progress(s.id).cells,
          winner: winner !== undefined ? s.variants[winner].label : null,
        };
      });
      res.json({ total, searches: rows });
    }),
  );

  r.get(
    '/searches/:id',
    wrap((req, res) => {
      res.json(requireDetail(req.params.id));
    }),
  );

  r.get(
    '/searches/:id/events',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const id = detail.id;
      const m = manager();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('status', { status: detail.status, phase: detail.phase, error: detail.error });
      send('progress', detail.progress);
      if (detail.status !== 'running' || !m.isLive(id)) {
        res.end();
        return;
      }
      const unsubscribe = m.subscribe(id, (e) => {
        if (e.type === 'progress') send('progress', e.progress);
        else if (e.type === 'round') send('round', { round: e.round, ...(m.detail(id)?.rounds[e.round] ?? {}) });
        else if (e.type === 'phase') send('phase', { phase: e.phase });
        else {
          send('status', { status: e.status, error: e.error });
          unsubscribe();
          res.end();
        }
      });
      req.on('close', unsubscribe);
    }),
  );

  r.post(
    '/searches/:id/cancel',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      if (!manager().cancel(detail.id)) throw new HttpError(409, `search ${detail.id} is already ${detail.status}`, 'id');
      res.status(202).json({ id: detail.id, status: 'cancelled' });
    }),
  );

  r.delete(
    '/searches/:id',
    wrap((req, res) => {
      const id = searchId(req.params.id);
      if (!manager().delete(id)) throw new HttpError(404, `no search ${id}`, 'id');
      res.status(204).end();
    }),
  );

  r.get(
    '/searches/:id/report.json',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      sendReport(res, `${JSON.stringify(searchReport(detail), null, 1)}\n`, 'application/json', `search-${detail.id.slice(0, 8)}.json`);
    }),
  );

  r.get(
    '/searches/:id/report.csv',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const { table } = parse(CsvQuerySchema, req.query);
      sendReport(res, searchCsv(detail, table as SearchCsvTable, manager().searches.cells(detail.id)), 'text/csv; charset=utf-8', `search-${detail.id.slice(0, 8)}-${table}.csv`);
    }),
  );

  r.get(
    '/searches/:id/report.html',
    wrap((req, res) => {
      const detail = requireDetail(req.params.id);
      const { inline } = parse(InlineQuery, req.query);
      sendReport(res, renderSearchHtml(searchReport(detail)), 'text/html; charset=utf-8', `search-${detail.id.slice(0, 8)}.html`, inline === '1');
    }),
  );

  return r;
}
