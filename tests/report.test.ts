// Report and export endpoints over HTTP on the small fixture model: JSON against the committed schema, CSV round
// trips, the safetensors file against the format spec and the engine, the export size limit, comparison reports.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../shared/analysis.js';
import { allHookNames } from '../shared/hooks.js';
import { reportJsonSchemas } from '../server/report/schema.js';
import { SCHEMAS_DIR, schemaFileText } from '../scripts/write-schemas.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';

const MODEL = 'gpt2-opset14';
// User text with markup in it: reports must show it as text, never as HTML.
const PROMPT_A = 'The {{animal|cat}} <b>sat</b>.\nWarm. ';
const PROMPT_B = 'A {{pet|dog}} ran.\n';
const INPUT = 'It was "safe" & <i>.';

let srv: Awaited<ReturnType<typeof startServer>>;
let idA: string;
let idB: string;
let resultA: AnalysisResult;
let resultB: AnalysisResult;

beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
  const [a, b] = await Promise.all([
    srv.api.createRun({ model: MODEL, prompt: PROMPT_A, input: INPUT, label: 'cat <prompt>' }),
    srv.api.createRun({ model: MODEL, prompt: PROMPT_B, input: INPUT }),
  ]);
  const [ra, rb] = [await srv.api.waitForRun(a.id), await srv.api.waitForRun(b.id)];
  expect([ra.status, rb.status]).toEqual(['done', 'done']);
  [idA, idB, resultA, resultB] = [a.id, b.id, ra.result!, rb.result!];
});
afterAll(async () => {
  await srv?.close();
});

const ajv = new Ajv2020.default({ allErrors: true, strict: true });
function schemaFile(name: string): object {
  return JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, name), 'utf8')) as object;
}

async function get(p: string) {
  const r = await fetch(`${srv.base}${p}`);
  return { status: r.status, headers: r.headers, text: await r.text() };
}
async function post(p: string, body: unknown) {
  const r = await fetch(`${srv.base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, headers: r.headers, bytes: Buffer.from(await r.arrayBuffer()) };
}
const json = (b: Buffer) => JSON.parse(b.toString('utf8')) as { error: string; field?: string; estimate?: { totalBytes: number; limitBytes: number } };

describe('JSON report', () => {
  it('the committed schema files equal what scripts/write-schemas.ts generates', () => {
    for (const [file, schema] of Object.entries(reportJsonSchemas())) {
      expect(fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8'), `schemas/${file} is stale: run npm run schemas`).toBe(schemaFileText(schema));
    }
  });

  it('a run report validates against schemas/report.v1.schema.json and carries model identity, tokens and every metric', async () => {
    const r = await get(`/api/runs/${idA}/report.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="precache-lens-${idA}-report.json"`);
    const rep = JSON.parse(r.text);
    const validate = ajv.compile(schemaFile('report.v1.schema.json'));
    expect(validate(rep), JSON.stringify(validate.errors)).toBe(true);
    expect(rep.schema).toBe('precache-lens.report/1');
    expect(rep.model.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rep.model.graphFile).toMatch(/\.onnx$/);
    expect(rep.model.config.configJson).toBeTypeOf('object');
    expect(rep.tokenizer.file).toBe('tokenizer.json');
    expect(rep.tokenizer.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rep.software.onnxruntimeNode).toMatch(/^\d+\.\d+/);
    expect(rep.run).toMatchObject({ id: idA, label: 'cat <prompt>', prompt: PROMPT_A, input: INPUT, status: 'done' });
    expect(rep.tokens.prompt.map((t: { id: number }) => t.id)).toEqual(resultA.prompt.tokens.map((t) => t.id));
    expect(rep.metrics).toEqual(resultA);
    expect(rep.variants.length).toBe(resultA.variants.length);
  });

  it('the schema rejects a report with a missing metric, a wrong type or an unknown field', async () => {
    const validate = ajv.compile(schemaFile('report.v1.schema.json'));
    const fresh = async () => JSON.parse((await get(`/api/runs/${idA}/report.json`)).text);
    const a = await fresh();
    delete a.metrics.summary.meanBenefit;
    expect(validate(a)).toBe(false);
    const b = await fresh();
    b.metrics.depthCurve[0] = '0.1';
    expect(validate(b)).toBe(false);
    const c = await fresh();
    c.extra = 1;
    expect(validate(c)).toBe(false);
  });

  it('a comparison report validates against schemas/comparison.v1.schema.json and aligns tokens across runs', async () => {
    const r = await post('/api/compare/report.json', { ids: [idA, idB] });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="precache-lens-compare-[0-9a-f]{8}-[0-9a-f]{8}\.json"$/);
    const rep = JSON.parse(r.bytes.toString('utf8'));
    const validate = ajv.compile(schemaFile('comparison.v1.schema.json'));
    expect(validate(rep), JSON.stringify(validate.errors)).toBe(true);
    expect(rep.runs.map((x: { run: { id: string } }) => x.run.id)).toEqual([idA, idB]);
    expect(rep.tokens).toHaveLength(resultA.n);
    expect(rep.tokens[1].benefit).toEqual([resultA.input.tokens[1].benefit, resultB.input.tokens[1].benefit]);
  });

  it('unknown, unfinished or mismatched runs are JSON errors naming the field', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const r1 = await get(`/api/runs/${missing}/report.json`);
    expect(r1.status).toBe(404);
    expect(JSON.parse(r1.text).field).toBe('id');
    const r2 = await get('/api/runs/not-a-uuid/report.html');
    expect([r2.status, JSON.parse(r2.text).field]).toEqual([400, 'id']);
    const r3 = await post('/api/compare/report.html', { ids: [idA, missing] });
    expect([r3.status, json(r3.bytes).field]).toEqual([404, 'ids.1']);
    const r4 = await post('/api/compare/report.csv', { ids: [idA, idB], table: 'nope' });
    expect([r4.status, json(r4.bytes).field]).toEqual([400, 'table']);
    const r5 = await post('/api/compare/report.json', { ids: [idA] });
    expect([r5.status, json(r5.bytes).field]).toEqual([400, 'ids']);
  });
});

describe('CSV tables', () => {
  const rows = async (p: string) => {
    const r = await get(p);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    return parseCsv(r.text, { columns: true }) as Record<string, string>[];
  };

  it('the per-token table parses back to exactly the losses and benefits of the result', async () => {
    const t = await rows(`/api/runs/${idA}/report.csv?table=tokens`);
    expect(t).toHaveLength(resultA.n);
    resultA.input.tokens.forEach((tok, k) => {
      expect(t[k].text).toBe(tok.text);
      expect(Number(t[k].position)).toBe(tok.position);
      expect(Number(t[k].loss_with_prompt)).toBe(tok.lossWithPrompt);
      expect(Number(t[k].loss_no_prompt)).toBe(tok.lossNoPrompt);
      expect(Number(t[k].loss_no_prompt_natural)).toBe(tok.lossNoPromptNatural);
      expect(Number(t[k].benefit)).toBe(tok.benefit);
    });
  });

  it('the per-layer, per-head and span tables parse back to the same numbers', async () => {
    const L = await rows(`/api/runs/${idA}/report.csv?table=layers`);
    expect(L.map((r) => Number(r.attention_share))).toEqual(resultA.layers.map((l) => l.attention));
    expect(L.map((r) => Number(r.norm_weighted_share))).toEqual(resultA.layers.map((l) => l.normWeighted));
    expect(L.map((r) => Number(r.sink))).toEqual(resultA.layers.map((l) => l.sink));
    expect(L.map((r) => Number(r.depth_k))).toEqual(resultA.depthCurve.slice(0, -1));
    expect(L.map((r) => Number(r.layer_profile_k))).toEqual(resultA.layerProfile.map((x) => x.k));
    expect(L[0].pattern_hook).toBe('blocks.0.attn.hook_pattern');
    const H = await rows(`/api/runs/${idA}/report.csv?table=heads`);
    expect(H).toHaveLength(resultA.model.nLayer * resultA.model.nHead);
    expect(H.map((r) => Number(r.norm_weighted_share))).toEqual(resultA.layers.flatMap((l) => l.normWeightedPerHead));
    expect(H.map((r) => Number(r.attention_share))).toEqual(resultA.layers.flatMap((l) => l.attentionPerHead));
    const S = await rows(`/api/runs/${idA}/report.csv?table=spans`);
    expect(S.map((r) => [r.label, r.text, Number(r.k_all_layers), Number(r.k_layers_from_1)])).toEqual(resultA.spans.map((s) => [s.label, 'cat', s.kAllLayers, s.kFromLayer1]));
  });

  it('the comparison per-token table has one column group per run that parses back to each run\'s numbers', async () => {
    const r = await post('/api/compare/report.csv', { ids: [idA, idB], table: 'tokens' });
    expect(r.status).toBe(200);
    const t = parseCsv(r.bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
    resultA.input.tokens.forEach((tok, k) => {
      expect(Number(t[k]['run1.loss_with_prompt'])).toBe(tok.lossWithPrompt);
      expect(Number(t[k]['run2.loss_with_prompt'])).toBe(resultB.input.tokens[k].lossWithPrompt);
      expect(Number(t[k]['run2.benefit'])).toBe(resultB.input.tokens[k].benefit);
      expect(Number(t[k].loss_no_prompt_natural)).toBe(tok.lossNoPromptNatural);
    });
    const g = await get(`/api/compare/report.csv?ids=${idA},${idB}&table=summary`);
    const s = parseCsv(g.text, { columns: true }) as Record<string, string>[];
    expect(s.map((x) => Number(x.mean_benefit))).toEqual([resultA.summary.meanBenefit, resultB.summary.meanBenefit]);
  });

  it('an unknown table is a 400 naming table', async () => {
    const r = await get(`/api/runs/${idA}/report.csv?table=everything`);
    expect([r.status, JSON.parse(r.text).field]).toEqual([400, 'table']);
  });
});

/** Reads a safetensors file exactly as the format spec lays it out, without the project's reader. */
function parseBySpec(buf: Buffer) {
  const n = buf.readBigUInt64LE(0);
  expect(n).toBeLessThan(BigInt(buf.length));
  const headerLength = Number(n);
  expect(headerLength % 8).toBe(0);
  const headerText = buf.subarray(8, 8 + headerLength).toString('utf8');
  expect(headerText.startsWith('{')).toBe(true);
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const data = buf.subarray(8 + headerLength);
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [string, { dtype: string; shape: number[]; data_offsets: [number, number] }][];
  const sorted = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  let at = 0;
  const tensors = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, e] of sorted) {
    expect(e.dtype).toBe('F32');
    expect(e.data_offsets[0]).toBe(at); // contiguous, no gaps or overlaps
    const count = e.shape.reduce((a, b) => a * b, 1);
    expect(e.data_offsets[1] - e.data_offsets[0]).toBe(4 * count);
    expect(e.data_offsets[1]).toBeLessThanOrEqual(data.length);
    const view = new DataView(data.buffer, data.byteOffset + e.data_offsets[0], 4 * count);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true); // little-endian
    tensors.set(name, { shape: e.shape, values });
    at = e.data_offsets[1];
  }
  expect(at).toBe(data.length);
  return { metadata: header.__metadata__ as Record<string, string>, tensors };
}

describe('raw activations (safetensors)', () => {
  it('POST /api/runs/:id/activations returns one safetensors file whose tensors equal what the engine returns for those hooks', async () => {
    const r = await post(`/api/runs/${idA}/activations`, { hooks: ['blocks.*.hook_resid_pre', 'blocks.*.attn.hook_pattern'] });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="precache-lens-${idA}.safetensors"`);
    expect(Number(r.headers.get('content-length'))).toBe(r.bytes.length);
    const { metadata, tensors } = parseBySpec(r.bytes);
    const L = resultA.model.nLayer;
    const hooks = [...Array(L).keys()].flatMap((l) => [`blocks.${l}.hook_resid_pre`, `blocks.${l}.attn.hook_pattern`]);
    expect([...tensors.keys()].sort()).toEqual([...hooks].sort());
    const seq = [resultA.bos.id, ...resultA.prompt.tokens.map((t) => t.id), ...resultA.input.tokens.map((t) => t.id)];
    const T = seq.length;
    expect(tensors.get('blocks.0.attn.hook_pattern')!.shape).toEqual([1, resultA.model.nHead, T, T]);
    expect(tensors.get('blocks.1.hook_resid_pre')!.shape).toEqual([1, T, resultA.model.dModel]);
    expect(metadata.run_id).toBe(idA);
    expect(metadata.model_hash).toBe(resultA.model.hash);
    expect(metadata.prompt).toBe(PROMPT_A);
    expect(metadata.input).toBe(INPUT);
    expect(JSON.parse(metadata.token_ids)).toEqual(seq);
    expect(JSON.parse(metadata.positions)).toEqual(seq.map((_, i) => i));
    expect(metadata.precache_lens_version).toMatch(/^\d+\.\d+\.\d+/);
    const direct = await srv.engine.run(srv.registry.get(MODEL)!.md.dir, { tokens: [seq], positionIds: [seq.map((_, i) => i)], hooks, logits: false });
    for (const h of hooks) {
      const want = direct.cache.get(h)!;
      expect(tensors.get(h)!.shape, h).toEqual([...want.dims]);
      expect(tensors.get(h)!.values, h).toEqual(want.data);
    }
  });

  it('a form POST with comma-separated hooks streams the same kind of file, * means every hook, and a GET runs nothing (405)', async () => {
    const get = await fetch(`${srv.base}/api/runs/${idB}/activations?hooks=*`);
    expect([get.status, get.headers.get('allow'), ((await get.json()) as { field: string }).field]).toEqual([405, 'POST', 'method']);
    const r = await fetch(`${srv.base}/api/runs/${idB}/activations`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'hooks=*' });
    expect(r.status).toBe(200);
    const { tensors } = parseBySpec(Buffer.from(await r.arrayBuffer()));
    expect([...tensors.keys()].sort()).toEqual(allHookNames(resultB.model.nLayer).sort());
  });

  it('an export over PRECACHE_LENS_MAX_EXPORT_MB is refused before running, with an error naming hooks and a size estimate', async () => {
    const before = process.env.PRECACHE_LENS_MAX_EXPORT_MB;
    process.env.PRECACHE_LENS_MAX_EXPORT_MB = '0.01';
    try {
      const r = await post(`/api/runs/${idA}/activations`, { hooks: ['*'] });
      expect(r.status).toBe(422);
      const e = json(r.bytes);
      expect(e.field).toBe('hooks');
      expect(e.error).toMatch(/over the export limit.*pick a subset/);
      expect(e.estimate!.totalBytes).toBeGreaterThan(e.estimate!.limitBytes);
      const est = await post(`/api/runs/${idA}/activations/estimate`, { hooks: ['blocks.0.attn.hook_value_norm'] });
      expect(est.status).toBe(200);
      expect(JSON.parse(est.bytes.toString('utf8'))).toMatchObject({ withinLimit: true, hooks: [{ name: 'blocks.0.attn.hook_value_norm' }] });
    } finally {
      if (before === undefined) delete process.env.PRECACHE_LENS_MAX_EXPORT_MB;
      else process.env.PRECACHE_LENS_MAX_EXPORT_MB = before;
    }
  });

  it('a hook the model does not have, or no hooks, is an error naming the field', async () => {
    const r1 = await post(`/api/runs/${idA}/activations`, { hooks: ['blocks.0.hook_resid_pre', 'blocks.9.hook_resid_pre'] });
    expect([r1.status, json(r1.bytes).field]).toEqual([422, 'hooks.1']);
    expect(json(r1.bytes).error).toMatch(/layer 9 does not exist/);
    const r2 = await post(`/api/runs/${idA}/activations`, { hooks: ['blocks.*.nothing'] });
    expect([r2.status, json(r2.bytes).field]).toEqual([422, 'hooks.0']);
    const r3 = await post(`/api/runs/${idA}/activations`, { hooks: [] });
    expect([r3.status, json(r3.bytes).field]).toEqual([400, 'hooks']);
  });
});
