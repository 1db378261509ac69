// POST /api/tokenize: the editor's live token counts equal what a run of the same texts measures.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';

const MODEL = 'gpt2-opset14';
let srv: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

describe('token count endpoint', () => {
  it('counts the prompt and the input as a run of them does, and names the context', async () => {
    const prompt = 'The cat sat on the mat.';
    const input = ' It purred loudly, then slept.';
    const c = await srv.api.countTokens({ model: MODEL, texts: [prompt, input] });
    const { id } = await srv.api.createRun({ model: MODEL, prompt, input, options: { spans: 'words' } });
    const run = await srv.api.waitForRun(id);
    expect(run.status).toBe('done');
    expect(c.counts).toEqual([run.result!.p, run.result!.n]);
    expect(c.nCtx).toBeGreaterThan(0);
    expect(c.model).toBe(MODEL);
  });

  it('refuses an unknown model or a missing text list with the field named', async () => {
    const post = async (body: unknown) => {
      const r = await fetch(`${srv.base}/api/tokenize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as { field?: string } };
    };
    expect(await post({ model: 'nope', texts: ['a'] })).toMatchObject({ status: 422, body: { field: 'model' } });
    expect(await post({ texts: [] })).toMatchObject({ status: 400, body: { field: 'texts' } });
    expect(await post({})).toMatchObject({ status: 400, body: { field: 'texts' } });
  });
});
