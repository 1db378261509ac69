// The OpenAPI 3.1 document, with request bodies generated from the same zod schemas the server validates with.
import { z } from 'zod';
import { CompareSchema, CreateRunSchema } from '../../shared/api.js';

export function openApiDocument() {
  const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema: z.toJSONSchema(schema) } } });
  const error = { description: 'JSON error naming the field', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' }, field: { type: 'string' } }, required: ['error'] } } } };
  const id = [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }];
  return {
    openapi: '3.1.0',
    info: { title: 'Precache Lens API', version: '1' },
    paths: {
      '/api/health': { get: { summary: 'Liveness', responses: { 200: { description: 'ok' } } } },
      '/api/models': { get: { summary: 'Models this server offers, with config summaries', responses: { 200: { description: 'models' } } } },
      '/api/runs': {
        post: { summary: 'Start an analysis of a prompt and an input', requestBody: json(CreateRunSchema), responses: { 202: { description: '{id, status}' }, 400: error, 413: error, 422: error } },
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
      '/api/runs/{id}': {
        get: { summary: 'A run with all its metrics (result), token strings and timings', parameters: id, responses: { 200: { description: 'run' }, 404: error } },
        delete: { summary: 'Delete a run (cancels it first if live)', parameters: id, responses: { 204: { description: 'deleted' }, 404: error } },
      },
      '/api/runs/{id}/events': { get: { summary: 'Server-Sent Events: status and progress {stage, done, total}', parameters: id, responses: { 200: { description: 'text/event-stream' }, 404: error } } },
      '/api/runs/{id}/cancel': { post: { summary: 'Cancel a queued or running run', parameters: id, responses: { 202: { description: 'cancelling' }, 404: error, 409: error } } },
      '/api/compare': { post: { summary: 'Align 2 to 4 finished runs on the same input', requestBody: json(CompareSchema), responses: { 200: { description: 'comparison' }, 400: error, 404: error, 409: error, 422: error } } },
    },
  };
}
