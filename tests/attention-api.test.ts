// POST /api/runs/:id/attention: one head's pattern over the run's sequence, equal to the engine's hook, with clear 4xx errors.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttentionPattern } from '../shared/attention.js';
import type { AnalysisResult } from '../shared/analysis.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';

const MODEL = 'gpt2-opset14';
let srv: Awaited<ReturnType<typeof startServer>>;
let id: string;
let result: AnalysisResult;

async function post(body: unknown, runId = id): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${srv.base}/api/runs/${runId}/attention`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
  ({ id } = await srv.api.createRun({ model: MODEL, prompt: 'The cat sat.', input: ' It purred loudly.', options: { spans: 'words' } }));
  const run = await srv.api.waitForRun(id);
  expect(run.status, run.error ?? '').toBe('done');
  result = run.result!;
}, 120_000);
afterAll(async () => {
  await srv?.close();
});

describe('attention pattern endpoint', () => {
  it('returns the causal pattern of one head, rows summing to 1, tokens marked as BOS, prompt and input', async () => {
    const a: AttentionPattern = await srv.api.attention(id, { layer: 1, head: 1 });
    const T = 1 + result.p + result.n;
    expect(a.hooks.pattern).toBe('blocks.1.attn.hook_pattern');
    expect(a.weights).toHaveLength(T);
    a.weights.forEach((row, i) => {
      expect(row).toHaveLength(i + 1);
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 3);
    });
    expect(a.tokens.map((t) => t.role)).toEqual(['bos', ...Array(result.p).fill('prompt'), ...Array(result.n).fill('input')]);
    expect(a.tokens[1].text).toBe(result.prompt.tokens[0].text);
    expect(a.valueNorms).toBeNull();
  });

  it('the pattern averaged over heads and input rows gives the run\u2019s attention read share of that layer', async () => {
    // The run's read share: mean over X rows of sum over P' / (1 - sink), averaged over heads.
    const H = result.model.nHead;
    const shares: number[] = [];
    for (let h = 0; h < H; h++) {
      const a = await srv.api.attention(id, { layer: 0, head: h });
      let s = 0;
      for (let i = result.p + 1; i <= result.p + result.n; i++) {
        const row = a.weights[i];
        s += row.slice(1, result.p + 1).reduce((x, v) => x + v, 0) / (1 - row[0]);
      }
      shares.push(s / result.n);
    }
    shares.forEach((s, h) => expect(s).toBeCloseTo(result.layers[0].attentionPerHead[h], 3));
  });

  it('norm-weighted: each edge weighted by the value norm, rows renormalised, the norms returned', async () => {
    const plain = await srv.api.attention(id, { layer: 1, head: 0 });
    const nw = await srv.api.attention(id, { layer: 1, head: 0, normWeighted: true });
    expect(nw.hooks.valueNorm).toBe('blocks.1.attn.hook_value_norm');
    const norms = nw.valueNorms!;
    expect(norms).toHaveLength(plain.weights.length);
    const i = plain.weights.length - 1;
    const raw = plain.weights[i].map((v, j) => v * norms[j]);
    const sum = raw.reduce((s, v) => s + v, 0);
    raw.forEach((v, j) => expect(nw.weights[i][j]).toBeCloseTo(v / sum, 3));
  });

  it('names the field of a bad layer, head or body, and 404s an unknown run', async () => {
    expect(await post({ layer: 99, head: 0 })).toMatchObject({ status: 400, json: { field: 'layer' } });
    expect(await post({ layer: 0, head: 12 })).toMatchObject({ status: 400, json: { field: 'head' } });
    expect(await post({ layer: 'x', head: 0 })).toMatchObject({ status: 400, json: { field: 'layer' } });
    expect(await post({ layer: 0, head: 0, extra: 1 })).toMatchObject({ status: 400 });
    expect(await post({ layer: 0, head: 0 }, '00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404, json: { field: 'id' } });
  });
});
