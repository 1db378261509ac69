// /api/runs, /api/compare and /api/openapi.json: validated with the shared zod schemas; errors name the field.
import { Router } from 'express';
import { CompareSchema, CreateRunSchema, ListRunsSchema, TwinsSchema, type CreateRunRequest, type RunDetail } from '../../shared/api.js';
import { stagesOf, type AnalysisResult, type StagedResult } from '../../shared/analysis.js';
import { checkAgainstModel, checkAnalysisRequest } from '../../shared/analysis-input.js';
import { compareRuns } from '../../shared/comparison.js';
import { InputError } from '../../shared/errors.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ModelRegistry } from '../model/registry.js';
import type { RunManager } from '../runs/run-manager.js';
import type { RunStore } from '../store/run-store.js';
import { HttpError } from '../http-error.js';
import { openApiDocument } from './openapi.js';
import { parse, requireDoneRun, requireRun, uuidParam, wrap } from './http.js';
import { openEventStream } from './sse.js';
import { tokenizerMismatch } from '../model/tokenizer-identity.js';

export interface RunsDeps {
  engine: EngineClient;
  registry: ModelRegistry;
  store: RunStore;
  runs: RunManager;
}




export function runsRouter(d: RunsDeps): Router {
  const r = Router();

  r.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });

  r.post(
    '/runs',
    wrap(async (req, res) => {
      if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
        throw new HttpError(400, 'body: expected a JSON object with prompt and input', 'body');
      }
      const body = parse(CreateRunSchema, req.body);
      d.runs.ensureCapacity(1); // before the preflight, so a full queue costs no tokenizing
      const row = await submitRun(d, body.model, body);
      res.status(202).location(`/api/runs/${row.id}`).json({ id: row.id, status: row.status });
    }),
  );

  r.post(
    '/twins',
    wrap(async (req, res) => {
      const body = parse(TwinsSchema, req.body);
      const baseId = body.model ?? d.registry.defaultId();
      const base = baseId ? d.registry.get(baseId) : undefined;
      if (!base) throw new HttpError(422, `model: unknown model "${baseId}"`, 'model');
      const { with: withId, ...run } = body;
      const twin = withId === undefined ? d.registry.twinOf(base.id) : d.registry.get(withId);
      if (withId !== undefined && !twin) throw new HttpError(422, `with: unknown model "${withId}"; available: ${d.registry.list().map((m) => m.id).join(', ')}`, 'with');
      if (withId !== undefined && twin?.id === base.id) throw new HttpError(422, `with: the second model must differ from ${base.id}`, 'with');
      if (!twin) throw new HttpError(422, `model: ${base.id} has no myopic twin (a model directory named ${base.id}-myopic)`, 'model');
      const mismatch = tokenizerMismatch(base, twin);
      if (mismatch) throw new HttpError(422, `${withId === undefined ? 'model' : 'with'}: ${mismatch}`, withId === undefined ? 'model' : 'with');
      d.runs.ensureCapacity(2); // both twins or neither
      const created = [];
      for (const m of [base, twin]) {
        created.push(await submitRun(d, m.id, { ...run, model: m.id, label: `${body.label ?? (withId ? 'side by side' : 'twins')} · ${m.id}` }));
      }
      res.status(202).json({ vanilla: created[0], myopic: created[1] });
    }),
  );

  r.get(
    '/runs',
    wrap((req, res) => {
      const q = parse(ListRunsSchema, req.query);
      res.json(d.store.list({ q: q.q, limit: q.limit, offset: q.offset }));
    }),
  );

  r.get(
    '/runs/:id',
    wrap((req, res) => {
      const id = uuidParam(req);
      const run = requireRun(d.store, id);
      const { variants: _v, ...rest } = run;
      const { stages, ...summary } = rest;
      const result = run.result as AnalysisResult | null;
      const detail: RunDetail = { ...summary, result, stages: result ? stagesOf(result) : (stages as StagedResult), progress: d.runs.getProgress(id) };
      res.json(detail);
    }),
  );

  r.get(
    '/runs/:id/events',
    wrap((req, res) => {
      const id = uuidParam(req);
      const run = requireRun(d.store, id);
      const stream = openEventStream(req, res);
      const send = stream.send;
      const final = (s: string) => s === 'done' || s === 'failed' || s === 'cancelled';
      send('status', { status: run.status, error: run.error });
      const p = d.runs.getProgress(id);
      if (p) send('progress', p);
      if (final(run.status)) {
        stream.end();
        return;
      }
      // Stages finished before this stream opened come first, so a client that connects late misses none.
      for (const [stage, data] of Object.entries(d.store.getFull(id)?.stages ?? {})) send('partial', { stage, data });
      const unsubscribe = d.runs.subscribe(id, (e) => {
        if (e.type === 'progress') send('progress', e.progress);
        else if (e.type === 'partial') send('partial', e.partial);
        else {
          send('status', { status: e.status, error: e.error ?? null });
          if (final(e.status)) stream.end();
        }
      });
      stream.onClose(unsubscribe);
    }),
  );

  r.post(
    '/runs/:id/cancel',
    wrap((req, res) => {
      const id = uuidParam(req);
      const run = requireRun(d.store, id);
      if (!d.runs.cancel(id)) throw new HttpError(409, `run ${id} is already ${run.status}`, 'id');
      res.status(202).json({ id, status: d.store.get(id)!.status });
    }),
  );

  r.delete(
    '/runs/:id',
    wrap((req, res) => {
      const id = uuidParam(req);
      if (d.runs.isLive(id)) d.runs.cancel(id);
      if (!d.store.delete(id)) throw new HttpError(404, `no run ${id}`, 'id');
      res.status(204).end();
    }),
  );

  r.post(
    '/compare',
    wrap((req, res) => {
      const { ids } = parse(CompareSchema, req.body);
      if (new Set(ids).size !== ids.length) throw new HttpError(400, 'ids: lists the same run twice', 'ids');
      const results = ids.map((id, k) => {
        const run = requireDoneRun(d.store, id, `ids.${k}`);
        return { run, result: run.result as AnalysisResult };
      });
      res.json(asHttp(422, () => compareRuns(results)));
    }),
  );

  return r;
}

/** Runs `check`, answering an InputError as an HttpError with this status and the error's field. */
function asHttp<T>(status: number, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof InputError) throw new HttpError(status, e.message, e.field);
    throw e;
  }
}

/** Validates a run request against the model (markers, context length) and queues it. */
async function submitRun(d: RunsDeps, requestedModel: string | undefined, body: CreateRunRequest) {
  const modelId = requestedModel ?? d.registry.defaultId();
  const model = modelId ? d.registry.get(modelId) : undefined;
  if (!model) {
    throw new HttpError(422, `model: unknown model "${modelId}"; available: ${d.registry.list().map((m) => m.id).join(', ')}`, 'model');
  }
  if (body.parentId && !d.store.get(body.parentId)) throw new HttpError(422, `parentId: no run ${body.parentId}`, 'parentId');
  // The one validation of an analysis request (shared/analysis-input.ts): text checks now, token checks once counted.
  const { marked, options } = asHttp(400, () => checkAnalysisRequest(body));
  const info = await d.engine.info(model.md.dir);
  if (info.attentionProblem) throw new HttpError(422, `model: ${info.attentionProblem}`, 'model');
  // Preflight: count tokens now so an over-long text is a 4xx here, not a failed run later.
  const [pt, xt] = await Promise.all([
    d.engine.task('tokenize', { modelDir: model.md.dir, text: marked.text }).promise,
    d.engine.task('tokenize', { modelDir: model.md.dir, text: body.input }).promise,
  ]);
  asHttp(422, () => checkAgainstModel({ p: pt.ids.length, n: xt.ids.length }, info.config, options));
  return d.runs.submit(model, { prompt: body.prompt, input: body.input, options: body.options ?? {}, label: body.label, parentId: body.parentId });
}
