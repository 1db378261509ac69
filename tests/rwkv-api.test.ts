// The HTTP API serves an RWKV run like any other: listed model, staged run, result with the recurrent fields.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../shared/api.js';
import type { AnalysisResult } from '../shared/analysis.js';
import type { ExperimentDetail } from '../shared/experiments.js';
import { startServer } from './helpers/server.js';

const RWKV = path.resolve(__dirname, 'fixtures/models/rwkv-tiny');
// A transformer with the same byte tokenizer, to put next to the RNN.
const GPT2 = path.resolve(__dirname, 'fixtures/models/gpt2-opset14');
const post = async (p: string, body: unknown) => {
  const r = await fetch(`${srv.base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};
let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer({ models: [RWKV, GPT2] });
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
    // Transformer-only endpoints refuse the RNN's run with a 4xx naming the model, not a crash.
    for (const [p, body] of [
      [`/api/runs/${id}/attention`, { layer: 0, head: 0 }],
      [`/api/runs/${id}/activations`, { hooks: ['blocks.0.hook_resid_post'] }],
    ] as const) {
      const res = await post(p, body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.json.field).toBe('model');
    }
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

  it('runs one prompt and input on a transformer and, side by side, on the RNN (POST /api/twins with `with`)', async () => {
    const r = await post('/api/twins', { model: 'gpt2-opset14', with: 'rwkv-tiny', prompt: 'Say it twice: ', input: 'Hello, hello!' });
    expect(r.status).toBe(202);
    const a = await waitDone((r.json.vanilla as { id: string }).id);
    const b = await waitDone((r.json.myopic as { id: string }).id);
    expect([a.status, b.status]).toEqual(['done', 'done']);
    expect((a.result as AnalysisResult).model.architecture).toBeUndefined();
    expect((b.result as AnalysisResult).model.architecture).toBe('rwkv');
    const cmp = await post('/api/compare', { ids: [a.id, b.id] });
    expect(cmp.status).toBe(200);
  });

  it('names the field when the second model is unknown or the same as the first', async () => {
    expect(await post('/api/twins', { model: 'rwkv-tiny', with: 'nope', prompt: 'a', input: 'b' })).toMatchObject({ status: 422, json: { field: 'with' } });
    expect(await post('/api/twins', { model: 'rwkv-tiny', with: 'rwkv-tiny', prompt: 'a', input: 'b' })).toMatchObject({ status: 422, json: { field: 'with' } });
    expect(await post('/api/experiments', { model: 'gpt2-opset14', with: 'nope', prompts: [{ text: 'a' }], inputs: { texts: ['bc'] } })).toMatchObject({ status: 422, json: { field: 'with' } });
  });

  it('runs an experiment with the RNN as the second model: every cell on both, twins statistics between them', async () => {
    const r = await post('/api/experiments', { model: 'gpt2-opset14', with: 'rwkv-tiny', prompts: [{ text: 'Say it twice: ' }], inputs: { texts: ['Hello, hello!', 'World, world.'] }, options: { spanKnockouts: false, resamples: 200 } });
    expect(r.status).toBe(202);
    let d: ExperimentDetail;
    for (;;) {
      d = (await (await fetch(`${srv.base}/api/experiments/${r.json.id as string}`)).json()) as ExperimentDetail;
      if (d.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(d.status).toBe('done');
    expect(d.models).toEqual(['gpt2-opset14', 'rwkv-tiny']);
    expect(d.cells).toHaveLength(4);
    expect(d.twins![0].n).toBe(2);
  }, 120_000);
});
