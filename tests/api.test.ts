// HTTP API over loopback: runs, SSE, history, compare, cancel, concurrency, and 4xx errors naming the field.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../shared/analysis.js';
import type { RunDetail } from '../shared/api.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';
import { DEFAULT_ID } from './helpers/bundled.js';

let srv: Awaited<ReturnType<typeof startServer>>;
const MODEL = 'gpt2-opset14';
beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
});
afterAll(async () => {
  await srv?.close();
});

async function runToEnd(body: Parameters<typeof srv.api.createRun>[0]): Promise<RunDetail> {
  const { id } = await srv.api.createRun(body);
  return srv.api.waitForRun(id);
}

async function post(pathname: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const r = await fetch(`${srv.base}${pathname}`, { method: 'POST', headers, body });
  return { status: r.status, body: (await r.json()) as { error: string; field?: string } };
}

describe('analysis over HTTP', () => {
  let result: AnalysisResult;
  let runId: string;

  it('POST /api/runs returns 202 with an id, and the run completes with every measurement', async () => {
    const run = await runToEnd({ model: MODEL, prompt: 'The {{animal|cat}} sat on the mat.\nIt was warm. ', input: 'The cat was happy.' });
    expect(run.status).toBe('done');
    result = run.result!;
    runId = run.id;
    const L = result.model.nLayer;
    expect(result.layers).toHaveLength(L);
    expect(result.depthCurve).toHaveLength(L + 1);
    expect(result.readMap).toHaveLength(L);
    expect(result.readMap[0]).toHaveLength(result.p);
    expect(result.spans.map((s) => s.label)).toEqual(['animal']);
    expect(result.input.tokens).toHaveLength(result.n);
    expect(result.input.tokens[0].topWithPrompt).toHaveLength(5);
  });

  it('K(all layers) equals the mean prompt benefit over X-predicted tokens to 1e-4, and D(L) = 0', () => {
    expect(result.summary.identityResidual).toBeLessThan(1e-4);
    expect(Math.abs(result.depthCurve[0] - result.summary.meanBenefitRead)).toBeLessThan(1e-4);
    expect(result.depthCurve[result.depthCurve.length - 1]).toBe(0);
    // The all-token benefit is B averaged over every input token, as DESIGN defines it.
    const toks = result.input.tokens;
    const meanB = toks.reduce((a, t) => a + t.benefit, 0) / toks.length;
    expect(Math.abs(meanB - result.summary.meanBenefit)).toBeLessThan(1e-9);
  });

  it('read shares lie in [0, 1] for every layer and head', () => {
    for (const l of result.layers) {
      for (const v of [l.attention, l.sink, l.normWeighted, ...l.attentionPerHead, ...l.normWeightedPerHead, ...l.sinkPerHead]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
  });

  it('an empty prompt is refused with 400 naming the prompt (it would measure nothing)', async () => {
    const r = await post('/api/runs', JSON.stringify({ model: MODEL, prompt: '', input: 'Hello world.' }));
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ field: 'prompt', error: expect.stringMatching(/^prompt: the prompt is empty/) });
  });

  it('a one-token input works (no knockout is possible: K = 0, pi = null)', async () => {
    const run = await runToEnd({ model: MODEL, prompt: 'Greetings and ', input: 'x' });
    expect(run.status).toBe('done');
    expect(run.result!.n).toBe(1);
    expect(run.result!.summary.precomputationShare).toBeNull();
  });

  it('GET /api/runs/:id/events streams progress and the final status as SSE', async () => {
    const { id } = await srv.api.createRun({ model: MODEL, prompt: 'A short prompt. ', input: 'And an input.' });
    const r = await fetch(`${srv.base}/api/runs/${id}/events`);
    expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await r.text(); // the server ends the stream when the run ends
    expect(text).toMatch(/event: status\ndata: \{"status":"done"/);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.length).toBeGreaterThanOrEqual(2);
  });

  it('history lists runs newest first, searches, pages, and DELETE removes a run', async () => {
    const all = await srv.api.runs();
    expect(all.total).toBeGreaterThanOrEqual(3);
    expect(all.runs[0].createdAt >= all.runs[all.runs.length - 1].createdAt).toBe(true);
    const found = await srv.api.runs({ q: 'sat on the mat' });
    expect(found.runs.map((r) => r.id)).toContain(runId);
    const page = await srv.api.runs({ limit: 1, offset: 1 });
    expect(page.runs).toHaveLength(1);
    expect(page.runs[0].id).toBe(all.runs[1].id);
    const victim = all.runs[all.runs.length - 1].id;
    await srv.api.deleteRun(victim);
    await expect(srv.api.run(victim)).rejects.toMatchObject({ status: 404 });
  });

  it('POST /api/compare aligns 2 runs on the same input, and refuses different inputs', async () => {
    const a = await runToEnd({ model: MODEL, prompt: 'Cats are small. ', input: 'The cat ran.', label: 'A' });
    const b = await runToEnd({ model: MODEL, prompt: 'Dogs are big. ', input: 'The cat ran.', label: 'B', parentId: a.id });
    const cmp = await srv.api.compare([a.id, b.id]);
    expect(cmp.runs.map((r) => r.label)).toEqual(['A', 'B']);
    expect(cmp.tokens).toHaveLength(a.result!.n);
    const t = cmp.tokens[1];
    expect(t.benefit[1]).toBeCloseTo(b.result!.input.tokens[1].benefit, 10);
    expect(t.benefitVsFirst[0]).toBe(0);
    const c = await runToEnd({ model: MODEL, prompt: 'Dogs are big. ', input: 'Something else.' });
    await expect(srv.api.compare([a.id, c.id])).rejects.toMatchObject({ status: 422, field: 'ids.1' });
  });

  it('4 concurrent runs all complete with the same numbers as one run alone', async () => {
    const body = { model: MODEL, prompt: 'Once upon a time, ', input: 'there was a king.' };
    const alone = await runToEnd(body);
    const ids = await Promise.all([0, 1, 2, 3].map(() => srv.api.createRun(body)));
    const done = await Promise.all(ids.map(({ id }) => srv.api.waitForRun(id)));
    for (const r of done) {
      expect(r.status).toBe('done');
      expect(r.result!.summary.meanBenefit).toBeCloseTo(alone.result!.summary.meanBenefit, 10);
      expect(r.result!.depthCurve).toEqual(alone.result!.depthCurve);
    }
  });

  it('a queued run can be cancelled, and so can a running one', async () => {
    // A long run on the default model fills the single slot; the one behind it waits in the queue.
    const long = await srv.api.createRun({ model: DEFAULT_ID, prompt: 'word '.repeat(120), input: 'and then the input text follows here.', options: { spans: 'tokens' } });
    const queued = await srv.api.createRun({ model: MODEL, prompt: 'Second. ', input: 'Run.' });
    await srv.api.cancelRun(queued.id);
    expect((await srv.api.run(queued.id)).status).toBe('cancelled');
    // Wait until the long run reports progress, then cancel it mid-way.
    for (;;) {
      const r = await srv.api.run(long.id);
      if (r.status === 'running' && r.progress) break;
      if (r.status !== 'queued' && r.status !== 'running') throw new Error(`the long run ended (${r.status}) before it could be cancelled`);
      await new Promise((res) => setTimeout(res, 50));
    }
    await srv.api.cancelRun(long.id);
    const end = await srv.api.waitForRun(long.id);
    expect(end.status).toBe('cancelled');
    expect(end.result).toBeNull();
  });
});

describe('bad input gets a 4xx JSON error naming the field', () => {
  it('missing input', async () => {
    const r = await post('/api/runs', JSON.stringify({ prompt: 'x' }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('input');
  });
  it('wrong type', async () => {
    const r = await post('/api/runs', JSON.stringify({ prompt: 5, input: 'x' }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('prompt');
    const o = await post('/api/runs', JSON.stringify({ prompt: '', input: 'x', options: { layerWindow: 'wide' } }));
    expect(o.body.field).toBe('options.layerWindow');
  });
  it('unknown field', async () => {
    const r = await post('/api/runs', JSON.stringify({ prompt: '', input: 'x', temperature: 1 }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('temperature');
  });
  it('unknown model', async () => {
    const r = await post('/api/runs', JSON.stringify({ model: 'gpt-17', prompt: '', input: 'x' }));
    expect(r.status).toBe(422);
    expect(r.body.field).toBe('model');
    expect(r.body.error).toMatch(/gpt-17/);
  });
  it('text longer than the context', async () => {
    const r = await post('/api/runs', JSON.stringify({ model: MODEL, prompt: 'p'.repeat(30), input: 'x'.repeat(40) }));
    expect(r.status).toBe(422);
    expect(r.body.field).toBe('input');
    expect(r.body.error).toMatch(/context of 64/);
  });
  it('oversized body', async () => {
    const r = await post('/api/runs', JSON.stringify({ prompt: 'x'.repeat(2_000_000), input: 'y' }));
    expect(r.status).toBe(413);
  });
  it('malformed JSON', async () => {
    const r = await post('/api/runs', '{"prompt": "x", ');
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('body');
  });
  it('a body that is not an object', async () => {
    const r = await post('/api/runs', '[1,2]');
    expect(r.status).toBe(400);
  });
  it('an unbalanced span marker names its position', async () => {
    const r = await post('/api/runs', JSON.stringify({ model: MODEL, prompt: 'a {{b', input: 'x' }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('prompt');
    expect(r.body.error).toMatch(/character 2/);
  });
  it('a malformed or unknown run id', async () => {
    expect((await fetch(`${srv.base}/api/runs/not-a-uuid`)).status).toBe(400);
    expect((await fetch(`${srv.base}/api/runs/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    const r = await post('/api/compare', JSON.stringify({ ids: ['00000000-0000-4000-8000-000000000000'] }));
    expect(r.status).toBe(400);
    expect(r.body.field).toBe('ids');
  });
  it('the server still answers after all of that', async () => {
    expect((await fetch(`${srv.base}/api/health`)).status).toBe(200);
  });
  it('serves an OpenAPI document describing the endpoints', async () => {
    const doc = (await (await fetch(`${srv.base}/api/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/runs', '/api/runs/{id}', '/api/compare', '/api/twins', '/api/runs/{id}/report.html', '/api/runs/{id}/activations']),
    );
  });
});
