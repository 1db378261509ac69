// The OpenAPI 3.1 document, with request bodies generated from the same zod schemas the server validates with.
import { z } from 'zod';
import { CompareSchema, CreateRunSchema, TwinsSchema } from '../../shared/api.js';
import { CompareModelsSchema } from './compare-models-routes.js';
import { AttentionRequestSchema } from '../../shared/attention.js';
import { TokenCountSchema } from '../../shared/token-count.js';
import { CreateExperimentSchema } from '../../shared/experiments.js';
import { CreateSearchSchema } from '../../shared/search.js';

export function openApiDocument() {
  const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema) } } });
  const error = { description: 'JSON error naming the field', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } }, required: ['error'] } } } };
  const busy = { ...error, description: 'the run queue is full; the Retry-After header says when to try again' };
  const id = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];
  const hooksBody = { type: 'object', properties: { hooks: { type: 'array', items: { type: 'string' }, minItems: 1 } }, required: ['hooks'] };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Precache Lens API',
      version: '1',
      description:
        'Any request may also be answered 400 (no valid Host header), 403 (a Host name the server does not answer to, or a cross-site request), and, when the server requires its access token, 401 without it.',
    },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'the access token the server printed at start (only when it listens beyond loopback)' } } },
    security: [{}, { token: [] }],
    paths: {
      '/api/health': { get: { summary: 'Liveness, and whether the analysis backend can run work (a pool whose Redis is unreachable cannot: ok false)', responses: { 200: { description: '{ok, version, uptimeS, backend: {kind, ok, message}}' } } } },
      '/api/workers': { get: { summary: 'The worker pool: Redis, workers seen with their models and current jobs, workers per model, jobs per minute', responses: { 200: { description: '{backend, redis, workers, models, jobsLastMinute}' } } } },
      '/api/runs/{id}/worker': { get: { summary: 'The pool worker that computed a run (null: this process)', parameters: id, responses: { 200: { description: '{runId, worker, attempts, finishedAt}' }, 400: error, 404: error } } },
      '/api/models': { get: { summary: 'Models this server offers, with config summaries', responses: { 200: { description: 'models' } } } },
      '/api/runs': {
        post: { summary: 'Start an analysis of a prompt and an input', requestBody: json(CreateRunSchema), responses: { 202: { description: '{id, status}' }, 400: error, 413: error, 422: error, 429: busy } },
        get: {
          summary: 'Run history, newest first',
          parameters: [
            { name: 'q', in: 'query', schema: { type: 'string' }, description: 'substring of label, prompt, input or model' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: { 200: { description: '{total, runs}' }, 400: error },
        },
      },
      '/api/history': {
        get: {
          summary: 'The history as the web app lists it: runs that are not experiment cells, and one entry per experiment standing for its cells, newest first',
          parameters: [
            { name: 'q', in: 'query', schema: { type: 'string' }, description: 'substring of a run\'s label, prompt, input or model; an experiment matches by its label, its prompts or any of its cells' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: { 200: { description: '{total, entries: [{kind: "run", run} | {kind: "experiment", experiment, firstPrompt, cells, matchingCells}]}' }, 400: error },
        },
      },
      '/api/runs/{id}': {
        get: { summary: 'A run: its result (every metric, token strings, timings) once done, and the stages finished so far (headline, depth, spans; kept when cancelled)', parameters: id, responses: { 200: { description: '{..., result, stages, progress}' }, 404: error } },
        delete: { summary: 'Delete a run (cancels it first if live)', parameters: id, responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/runs/{id}/events': { get: { summary: 'Server-Sent Events: status, progress {stage, done, total}, and partial {stage, data} for each finished stage (headline, depth, spans)', parameters: id, responses: { 200: { description: 'text/event-stream' }, 404: error } } },
      '/api/runs/{id}/attention': { post: { summary: "One layer and head's attention pattern on a finished run's sequence (token x token, roles marked, optionally norm-weighted)", parameters: id, requestBody: json(AttentionRequestSchema), responses: { 200: { description: 'AttentionPattern (shared/attention.ts)' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/tokenize': { post: { summary: "Token counts of texts on a model (the editor's live count)", requestBody: json(TokenCountSchema), responses: { 200: { description: 'TokenCount (shared/token-count.ts)' }, 400: error, 422: error } } },
      '/api/runs/{id}/cancel': { post: { summary: 'Cancel a queued or running run', parameters: id, responses: { 202: { description: 'cancelling' }, 404: error, 409: error } } },
      '/api/twins': { post: { summary: "Run one prompt + input on a model and on its myopic twin (`<model>-myopic`), or on the model named by `with`", requestBody: json(TwinsSchema), responses: { 202: { description: '{vanilla: {id, status}, myopic: {id, status}}' }, 400: error, 422: error, 429: busy } } },
      '/api/runs/{id}/report.json': { get: { summary: 'Versioned JSON report (schema schemas/report.v1.schema.json)', parameters: id, responses: { 200: { description: 'report (attachment)' }, 404: error, 409: error } } },
      '/api/runs/{id}/report.html': {
        get: { summary: 'Self-contained HTML report (no network needed; prints to PDF)', parameters: [...id, { name: 'inline', in: 'query', schema: { type: 'string', enum: ['1'] }, description: 'open in the browser instead of downloading' }], responses: { 200: { description: 'text/html' }, 404: error, 409: error } },
      },
      '/api/runs/{id}/report.csv': {
        get: { summary: 'One CSV table of the run', parameters: [...id, { name: 'table', in: 'query', schema: { type: 'string', enum: ['tokens', 'layers', 'heads', 'spans'], default: 'tokens' } }], responses: { 200: { description: 'text/csv' }, 400: error, 404: error, 409: error } },
      },
      '/api/runs/{id}/activations': {
        post: { summary: 'Raw activations of the chosen hooks as one safetensors file (names = hook names; globs and * allowed)', parameters: id, requestBody: { content: { 'application/json': { schema: hooksBody } } }, responses: { 200: { description: 'application/octet-stream' }, 400: error, 404: error, 409: error, 422: error } },
        get: { summary: 'Refused: the model runs on POST only (a GET could be started by any page)', parameters: id, responses: { 405: error } },
      },
      '/api/runs/{id}/activations/estimate': { post: { summary: 'Size of an activations export before downloading it', parameters: id, requestBody: { content: { 'application/json': { schema: hooksBody } } }, responses: { 200: { description: '{hooks: [{name, shape, bytes}], totalBytes, limitBytes, withinLimit}' }, 422: error } } },
      '/api/compare/report.json': { post: { summary: 'Comparison report (schema schemas/comparison.v1.schema.json); also GET ?ids=a,b', requestBody: json(CompareSchema), responses: { 200: { description: 'report' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/compare/report.html': { post: { summary: 'Self-contained HTML comparison report; also GET ?ids=a,b', requestBody: json(CompareSchema), responses: { 200: { description: 'text/html' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/compare/report.csv': { post: { summary: 'Comparison CSV (table = summary|tokens|layers|heads|spans); also GET ?ids=a,b&table=', requestBody: json(CompareSchema), responses: { 200: { description: 'text/csv' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/compare': { post: { summary: 'Align 2 to 4 finished runs on the same input', requestBody: json(CompareSchema), responses: { 200: { description: 'comparison' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/compare-models': { post: { summary: 'How far each metric moved between two finished runs of one prompt + input on two models (e.g. q8 vs fp32 exports)', requestBody: json(CompareModelsSchema), responses: { 200: { description: '{runs, models, diff}' }, 400: error, 404: error, 409: error, 422: error } } },
      '/api/input-sets': { get: { summary: 'Bundled input sets (held-out passages by source): id, title, size, provenance, licence', responses: { 200: { description: '{sets}' } } } },
      '/api/experiments': {
        post: { summary: 'Start an experiment: prompts (1-50) x inputs (1-2,000 texts or a bundled set) on a model or a model and its myopic twin', requestBody: json(CreateExperimentSchema), responses: { 202: { description: '{id, status}' }, 400: error, 413: error, 422: error } },
        get: {
          summary: 'Experiment history, newest first, with progress',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: { 200: { description: '{total, experiments}' }, 400: error },
        },
      },
      '/api/experiments/{id}': {
        get: { summary: 'An experiment: progress, per-prompt statistics with 95% CIs, pairs, twins, cells (each a run)', parameters: id, responses: { 200: { description: 'experiment' }, 400: error, 404: error } },
        delete: { summary: "Delete an experiment and its cells' runs (cancels it first if running)", parameters: id, responses: { 204: { description: 'deleted' }, 400: error, 404: error } },
      },
      '/api/experiments/{id}/cancel': { post: { summary: 'Cancel a running experiment (finished cells are kept)', parameters: id, responses: { 202: { description: 'cancelled' }, 404: error, 409: error } } },
      '/api/experiments/{id}/events': { get: { summary: 'Server-Sent Events: status, progress {done, failed, total, etaS}, cell', parameters: id, responses: { 200: { description: 'text/event-stream' }, 404: error } } },
      '/api/experiments/{id}/report.json': { get: { summary: 'Experiment report (schema schemas/experiment.v1.schema.json)', parameters: id, responses: { 200: { description: 'report (attachment)' }, 404: error } } },
      '/api/experiments/{id}/report.html': { get: { summary: 'Self-contained HTML experiment report with forest plots', parameters: id, responses: { 200: { description: 'text/html' }, 404: error } } },
      '/api/experiments/{id}/report.csv': {
        get: { summary: 'One CSV table of the experiment', parameters: [...id, { name: 'table', in: 'query', schema: { type: 'string', enum: ['cells', 'prompts', 'pairs'], default: 'cells' } }], responses: { 200: { description: 'text/csv' }, 400: error, 404: error } },
      },
      '/api/searches': {
        post: { summary: 'Start a prompt search: race variants (a list, a template, ablations) over inputs, then measure and explain the finalists on held-out inputs (docs/search.md)', requestBody: json(CreateSearchSchema), responses: { 202: { description: '{id, status}' }, 400: error, 422: error } },
        get: { summary: 'Searches, newest first', parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } }, { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } }], responses: { 200: { description: '{total, searches}' }, 400: error } },
      },
      '/api/searches/{id}': {
        get: { summary: 'A search: status, progress, rounds, variants with intervals, finalists with held-out figures', parameters: id, responses: { 200: { description: 'search' }, 400: error, 404: error } },
        delete: { summary: "Delete a search (and its finalists' experiment)", parameters: id, responses: { 204: { description: 'deleted' }, 400: error, 404: error } },
      },
      '/api/searches/{id}/cancel': { post: { summary: 'Cancel a running search (finished rounds are kept)', parameters: id, responses: { 202: { description: 'cancelled' }, 404: error, 409: error } } },
      '/api/searches/{id}/events': { get: { summary: 'Server-Sent Events: status, progress {cells, maxCells, etaS}, round, phase', parameters: id, responses: { 200: { description: 'text/event-stream' }, 404: error } } },
      '/api/searches/{id}/report.json': { get: { summary: 'Search report (schema schemas/search.v1.schema.json)', parameters: id, responses: { 200: { description: 'report (attachment)' }, 404: error } } },
      '/api/searches/{id}/report.html': { get: { summary: 'Self-contained HTML search report', parameters: id, responses: { 200: { description: 'text/html' }, 404: error } } },
      '/api/searches/{id}/report.csv': {
        get: { summary: 'One CSV table of the search', parameters: [...id, { name: 'table', in: 'query', schema: { type: 'string', enum: ['variants', 'rounds', 'cells'], default: 'variants' } }], responses: { 200: { description: 'text/csv' }, 400: error, 404: error } },
      },
    },
  };
}
