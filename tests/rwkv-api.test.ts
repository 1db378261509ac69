// The HTTP API serves an RWKV run like any other: listed model, staged run, result with the recurrent fields.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../shared/api.js';
import type { AnalysisResult } from '../shared/analysis.js';
import { startServer } from './helpers/server.js';

const RWKV = path.resolve(__dirname, 'fixtures/models/rwkv-tiny');
let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer({ models: [RWKV] });
});
afterAll(async () => {
  await srv?.close();
});

async function waitDone(id: string): Promise<RunDetail> {
  for (let i = 0; i < 600; i++) {
    const r = (await (await fetch(`${srv.base}/api/runs/${id}`)).json()) as RunDetail;
    if (r.status !== 'queued' && r.status !== 'running') return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('run did not finish');
}

describe('RWKV over HTTP', () => {
  it('runs a prompt on the RWKV model and returns a result with architecture rwkv, a depth curve and state changes', async () => {
    const res = await fetch(`${srv.base}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rwkv-tiny', prompt: 'Say it twice: ', input: 'Hello, hello, world!' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const run = await waitDone(id);
    expect(run.status).toBe('done');
    const r = run.result as AnalysisResult;
    expect(r.model.architecture).toBe('rwkv');
    expect(r.depthCurve).toHaveLength(3);
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
    expect(r.layers.every((l) => l.state && l.state.boundaryChange > 0)).toBe(true);
    expect(Object.keys(run.stages ?? {}).sort()).toEqual(['depth', 'headline', 'spans']);
  });

  it('rejects an input longer than the model allows with a 4xx naming the field', async () => {
    const res = await fetch(`${srv.base}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rwkv-tiny', prompt: 'x', input: 'y'.repeat(5000) }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(((await res.json()) as { field: string }).field).toBeTruthy();
  });
});
