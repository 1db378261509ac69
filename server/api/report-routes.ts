// Report and export endpoints: run reports (JSON, HTML, CSV), raw activations (safetensors), comparison reports.
import { Readable } from 'node:stream';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AnalysisResult } from '../../shared/analysis.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ModelDir } from '../model/model-dir.js';
import type { ModelRegistry } from '../model/registry.js';
import type { RunStore } from '../store/run-store.js';
import { MAX_HOOK_PATTERN_CHARS } from '../../shared/hooks.js';
import { HttpError } from '../http-error.js';
import { ExportTooLargeError, estimateActivations, exportActivations, resolveHooks, shapeConfig } from '../report/activations.js';
import { buildComparisonReport, buildReport, ReportInputError, type RunMeta } from '../report/build.js';
import { COMPARISON_TABLES, comparisonCsv, reportCsv, RUN_TABLES } from '../report/csv.js';
import { renderComparisonHtml, renderReportHtml } from '../report/html.js';
import { InlineQuery, parse, requireDoneRun, sendReport, uuidParam, wrap as wrapWith } from './http.js';

export interface ReportSources {
  engine: EngineClient;
  registry: ModelRegistry;
  store: RunStore;
}

interface LoadedRun {
  result: AnalysisResult;
  meta: RunMeta;
  modelId: string;
}

/** A finished run; 404 for an unknown id, 409 for one without a result. `field` names the request field for errors. */
function loadDoneRun(store: RunStore, id: string, field: string): LoadedRun {
  const run = requireDoneRun(store, id, field);
  return {
    result: run.result as AnalysisResult,
    modelId: run.modelId,
    meta: { id: run.id, label: run.label, parentId: run.parentId, createdAt: run.createdAt, finishedAt: run.finishedAt, status: run.status },
  };
}

/**
 * The registered model directory that holds the exact graph a result was computed with, or null when the model is
 * no longer offered or its graph changed (the report then describes the model from the result alone).
 */
async function modelDirFor(src: ReportSources, modelId: string, result: AnalysisResult): Promise<ModelDir | null> {
  const m = src.registry.get(modelId);
  if (!m) return null;
  const info = await src.engine.info(m.md.dir);
  return info.modelHash === result.model.hash ? m.md : null;
}


/** Report errors are the caller's: a 422 naming the field; a refused export carries its size estimate. */
function reportError(e: unknown): unknown {
  if (e instanceof ExportTooLargeError) return new HttpError(422, e.message, e.field, { estimate: e.estimate });
  return e instanceof ReportInputError ? new HttpError(422, e.message, e.field) : e;
}

const wrap = (fn: Parameters<typeof wrapWith>[0]) => wrapWith(fn, reportError);


/** A comma-separated query value (or a repeated one) as a list. */
const listParam = z.preprocess((v) => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)), z.array(z.string().max(200)).max(1000));

const RunCsvQuery = z.object({ table: z.enum(RUN_TABLES).default('tokens') });

const MAX_HOOK_ENTRIES = 200;
const hookList = z.array(z.string().min(1).max(MAX_HOOK_PATTERN_CHARS)).min(1, 'pick at least one hook').max(MAX_HOOK_ENTRIES);
const HooksBody = z.object({ hooks: hookList }).strict();
/** The download form of the web app posts `hooks=a,b` (a form streams a large file to disk; fetch would buffer it). */
const HooksForm = z.object({ hooks: listParam.pipe(hookList) }).strict();

const MAX_COMPARE = 4;
const ids = z.array(z.string().uuid()).min(2).max(MAX_COMPARE);
const CompareReportBody = z.object({ ids, table: z.enum(COMPARISON_TABLES).optional() }).strict();
const CompareReportQuery = z.object({ ids: listParam.pipe(ids), table: z.enum(COMPARISON_TABLES).optional() });

const send = sendReport;

export function reportRouter(d: ReportSources): Router {
  const r = Router();

  const runReport = async (id: string) => {
    const run = loadDoneRun(d.store, id, 'id');
    const md = await modelDirFor(d, run.modelId, run.result);
    return buildReport(run.result, run.meta, md);
  };

  r.get(
    '/runs/:id/report.json',
    wrap(async (req, res) => {
      const id = uuidParam(req);
      send(res, `${JSON.stringify(await runReport(id), null, 1)}\n`, 'application/json', `precache-lens-${id}-report.json`);
    }),
  );

  r.get(
    '/runs/:id/report.html',
    wrap(async (req, res) => {
      const id = uuidParam(req);
      const { inline } = parse(InlineQuery, req.query);
      send(res, renderReportHtml(await runReport(id)), 'text/html; charset=utf-8', `precache-lens-${id}-report.html`, inline === '1');
    }),
  );

  r.get(
    '/runs/:id/report.csv',
    wrap(async (req, res) => {
      const id = uuidParam(req);
      const { table } = parse(RunCsvQuery, req.query);
      send(res, reportCsv(await runReport(id), table), 'text/csv; charset=utf-8', `precache-lens-${id}-${table}.csv`);
    }),
  );

  const prepareActivations = async (id: string, patterns: string[]) => {
    const run = loadDoneRun(d.store, id, 'id');
    const model = d.registry.get(run.modelId);
    if (!model) throw new HttpError(409, `id: run ${id} ran on model ${run.modelId}, which this server no longer offers; start it with --model pointing at that model`, 'id');
    const md = await modelDirFor(d, run.modelId, run.result);
    if (!md) throw new HttpError(409, `id: model ${run.modelId}'s graph changed since run ${id} (sha256 differs); its activations cannot be reproduced`, 'id');
    const hooks = resolveHooks(patterns, run.result.model.nLayer);
    return { run, md, hooks };
  };

  const activations = async (res: Response, id: string, patterns: string[]) => {
    const { run, md, hooks } = await prepareActivations(id, patterns);
    const { chunks, totalBytes } = await exportActivations(d.engine, md.dir, run.result, hooks, { runId: id, dHead: md.config.dHead });
    res.status(200);
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('content-length', String(totalBytes));
    res.setHeader('content-disposition', `attachment; filename="precache-lens-${id}.safetensors"`);
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-precache-lens-hooks', String(hooks.length));
    Readable.from(chunks).pipe(res);
  };

  // Only POST runs the model: a GET could be started by any page (an <img> or a link) and is refused with 405.
  r.post(
    '/runs/:id/activations',
    express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 10 }),
    wrap(async (req, res) => {
      const id = uuidParam(req);
      const { hooks } = req.is('application/x-www-form-urlencoded') ? parse(HooksForm, req.body ?? {}) : parse(HooksBody, req.body ?? {});
      await activations(res, id, hooks);
    }),
  );
  r.get('/runs/:id/activations', (_req, res) => {
    res.setHeader('allow', 'POST');
    res.status(405).json({ error: 'method: activations are computed on POST only, with {"hooks": [...]} (a GET could be triggered by any page)', field: 'method' });
  });

  r.post(
    '/runs/:id/activations/estimate',
    wrap(async (req, res) => {
      const id = uuidParam(req);
      const { hooks: patterns } = parse(HooksBody, req.body ?? {});
      const { run, md, hooks } = await prepareActivations(id, patterns);
      const e = estimateActivations(run.result, hooks, shapeConfig(run.result, md.config.dHead), id);
      res.json({ ...e, withinLimit: e.totalBytes <= e.limitBytes });
    }),
  );

  const compareReport = async (idList: string[]) => {
    if (new Set(idList).size !== idList.length) throw new HttpError(400, 'ids: lists the same run twice', 'ids');
    const items = idList.map((id, k) => loadDoneRun(d.store, id, `ids.${k}`));
    const md = await modelDirFor(d, items[0].modelId, items[0].result);
    return buildComparisonReport(items, md);
  };
  const compareName = (idList: string[], ext: string) => `precache-lens-compare-${idList.map((x) => x.slice(0, 8)).join('-')}.${ext}`;

  const compareHandlers = (source: (req: Request) => { ids: string[]; table?: (typeof COMPARISON_TABLES)[number] }) => ({
    json: wrap(async (req, res) => {
      const q = source(req);
      send(res, `${JSON.stringify(await compareReport(q.ids), null, 1)}\n`, 'application/json', compareName(q.ids, 'json'));
    }),
    html: wrap(async (req, res) => {
      const q = source(req);
      const { inline } = parse(InlineQuery, req.query);
      send(res, renderComparisonHtml(await compareReport(q.ids)), 'text/html; charset=utf-8', compareName(q.ids, 'html'), inline === '1');
    }),
    csv: wrap(async (req, res) => {
      const q = source(req);
      const table = q.table ?? 'tokens';
      send(res, comparisonCsv(await compareReport(q.ids), table), 'text/csv; charset=utf-8', compareName(q.ids, `${table}.csv`));
    }),
  });
  const post = compareHandlers((req) => parse(CompareReportBody, req.body ?? {}));
  const get = compareHandlers((req) => parse(CompareReportQuery, req.query));
  for (const f of ['json', 'html', 'csv'] as const) {
    r.post(`/compare/report.${f}`, post[f]);
    r.get(`/compare/report.${f}`, get[f]);
  }

  return r;
}
