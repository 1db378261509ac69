// compare-models: one analysis on two exports of a model, and how far each metric moved (core, CLI and HTTP API).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareModels } from '../server/compare/compare-models.js';
import { ModelRegistry } from '../server/model/registry.js';
import { EngineClient } from '../server/worker/engine-client.js';
import { buildProgram } from '../server/cli.js';
import { diffAnalyses, type ModelDiff } from '../shared/model-diff.js';
import type { AnalysisResult } from '../shared/analysis.js';
import { startServer } from './helpers/server.js';
import { FIXTURES } from './helpers/golden.js';

const EAGER = path.join(FIXTURES, 'gpt2-tiny-eager');
const Q8 = path.join(FIXTURES, 'gpt2-tiny-q8');
const FUSED = path.join(FIXTURES, 'gpt2-tiny-ort-attention');
const REQ = { prompt: 'Hello, {{w|world}}! ', input: 'Hello again, world.', options: { spans: 'marked' as const } };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-compare-models-'));
let engine: EngineClient;
beforeAll(() => {
  engine = new EngineClient({ threads: 1, cacheDir: path.join(tmp, 'graphs') });
});
afterAll(async () => {
  await engine.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const models = (a: string, b: string) => {
  const l = new ModelRegistry([a, b], false).list();
  return [l[0], l[1]] as const;
};
const maxMove = (d: ModelDiff) => Math.max(...d.series.map((s) => s.maxAbsDelta), ...d.scalars.filter((s) => s.metric !== 'identityResidual').map((s) => Math.abs(s.delta ?? 0)));

describe('compareModels (the analysis job on each model, then the metric diff)', () => {
  let eagerVsQ8: Awaited<ReturnType<typeof compareModels>>;

  it('a fused export (Attention + SkipLayerNormalization) of the same weights moves no metric beyond 1e-4', async () => {
    const r = await compareModels(engine, [...models(EAGER, FUSED)], REQ);
    expect(r.diff.series.map((s) => s.metric)).toEqual(['lossWithPrompt', 'benefit', 'attentionReadShare', 'normWeightedReadShare', 'sinkMass', 'depthCurve', 'layerProfile', 'readMap', 'spanImportance']);
    expect(maxMove(r.diff)).toBeLessThan(1e-4);
  });

  it('a GroupQueryAttention export of a Llama (knockouts reusing its KV cache) moves no metric beyond 1e-4 from the eager one', async () => {
    const r = await compareModels(engine, [...models(path.join(FIXTURES, 'llama-tiny-eager'), path.join(FIXTURES, 'llama-tiny-gqa-rotary'))], REQ);
    expect(r.b.summary.identityResidual).toBeLessThan(1e-4);
    expect(maxMove(r.diff)).toBeLessThan(1e-4);
  });

  it('q8 against fp32: the moves are reported, each delta is B - A, and the largest move is located', async () => {
    eagerVsQ8 = await compareModels(engine, [...models(EAGER, Q8)], REQ);
    const { a, b, diff } = eagerVsQ8;
    expect(diff.a.model.name).toBe('gpt2-tiny-eager');
    expect(diff.b.model.name).toBe('gpt2-tiny-q8');
    expect(maxMove(diff)).toBeGreaterThan(1e-3);
    const loss = diff.scalars.find((s) => s.metric === 'meanLossWithPrompt')!;
    expect(loss.delta).toBeCloseTo(b.summary.meanLossWithPrompt - a.summary.meanLossWithPrompt, 12);
    const depth = diff.series.find((s) => s.metric === 'depthCurve')!;
    const moves = a.depthCurve.map((x, k) => Math.abs(b.depthCurve[k] - x));
    expect(depth.maxAbsDelta).toBe(Math.max(...moves));
    expect(moves[depth.at]).toBe(depth.maxAbsDelta);
  });

  it('analyses of different inputs are refused: their tokens cannot be compared position by position', () => {
    const { a, b } = eagerVsQ8;
    const other: AnalysisResult = { ...b, input: { ...b.input, tokens: b.input.tokens.slice(1) } };
    expect(() => diffAnalyses(a, other)).toThrow(/runs: the two analyses tokenized the prompt or input differently/);
  });
});

describe('precache-lens compare-models A B', () => {
  it('writes both results and the diff as JSON', async () => {
    const out = path.join(tmp, 'cmp.json');
    await buildProgram().parseAsync(['node', 'precache-lens', 'compare-models', EAGER, path.join(Q8, 'onnx/model.onnx'), '--prompt', REQ.prompt, '--input', REQ.input, '--spans', 'marked', '--json', out, '-q', '--threads', '1']);
    const r = JSON.parse(fs.readFileSync(out, 'utf8')) as { a: AnalysisResult; b: AnalysisResult; diff: ModelDiff };
    expect(r.diff.b.model.name).toBe('gpt2-tiny-q8-model');
    expect(r.diff.series.find((s) => s.metric === 'spanImportance')!.a).toHaveLength(1);
    expect(maxMove(r.diff)).toBeGreaterThan(1e-3);
  });

  it('the same graph twice is refused', async () => {
    await expect(buildProgram().parseAsync(['node', 'precache-lens', 'compare-models', EAGER, EAGER, '--input', 'x', '-q'])).rejects.toThrow(/same graph/);
  });
});

describe('POST /api/compare-models', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    srv = await startServer({ models: [EAGER, Q8], threads: 1 });
  });
  afterAll(async () => {
    await srv?.close();
  });

  const post = (body: unknown) => fetch(`${srv.base}/api/compare-models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('diffs two finished runs of one prompt + input on two models; mismatched or unfinished runs get a 4xx naming the field', async () => {
    const ra = await srv.api.createRun({ model: 'gpt2-tiny-eager', ...REQ });
    const rb = await srv.api.createRun({ model: 'gpt2-tiny-q8', ...REQ });
    const rc = await srv.api.createRun({ model: 'gpt2-tiny-q8', ...REQ, input: 'Something else.' });
    const [a, b] = await Promise.all([srv.api.waitForRun(ra.id), srv.api.waitForRun(rb.id), srv.api.waitForRun(rc.id)]);
    const ok = await post({ runs: [a.id, b.id] });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { models: string[]; diff: ModelDiff };
    expect(body.models).toEqual(['gpt2-tiny-eager', 'gpt2-tiny-q8']);
    expect(body.diff).toEqual(diffAnalyses(a.result!, b.result!));

    const mismatch = await post({ runs: [a.id, rc.id] });
    expect(mismatch.status).toBe(422);
    expect(((await mismatch.json()) as { field: string }).field).toBe('runs');
    const bad = await post({ runs: [a.id, 'nope'] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('runs.1');
    const missing = await post({ runs: [a.id, '00000000-0000-4000-8000-000000000000'] });
    expect(missing.status).toBe(404);
  });
});
