// Experiments over HTTP on the bundled model: statistics, cells as runs, reports, validation, cancel, delete, twins.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail, InputSetSummary } from '../shared/experiments.js';
import type { RunDetail } from '../shared/api.js';
import { SCHEMAS_DIR, schemaFileText } from '../scripts/write-schemas.js';
import { experimentJsonSchemas } from '../server/experiments/report-schema.js';
import { startServer } from './helpers/server.js';
import { DEFAULT_DIR, DEFAULT_ID, TWIN_ID } from './helpers/bundled.js';
import { overflowingText } from './helpers/context.js';
import { openModelDir } from '../server/model/model-dir.js';

/** The default model (what these experiments run on), read from its own folder. */
const MD = openModelDir(DEFAULT_DIR);
const { nLayer, nCtx } = MD.config;

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  srv?.experiments.close();
  await srv?.close();
});

const FAST = { spanKnockouts: false, resamples: 200 };
const PROMPTS = [{ label: 'speech', text: 'The President said to the Congress: ' }, { text: 'Chapter one. ' }];
const INPUTS = ['The state of the Union is strong.', 'We must balance the budget this year.', 'She opened the door and looked outside.'];

async function call(method: string, p: string, body?: unknown) {
  const r = await fetch(`${srv.base}${p}`, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: (text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null) as Record<string, unknown> };
}

async function waitFor(id: string, until: (d: ExperimentDetail) => boolean = (d) => d.status !== 'running'): Promise<ExperimentDetail> {
  for (;;) {
    const d = (await call('GET', `/api/experiments/${id}`)).json as unknown as ExperimentDetail;
    if (until(d)) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('experiment over texts', () => {
  let d: ExperimentDetail;
  beforeAll(async () => {
    const r = await call('POST', '/api/experiments', { label: 'api test', prompts: PROMPTS, inputs: { texts: INPUTS }, options: FAST });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/api/experiments/${r.json.id}`);
    d = await waitFor(r.json.id as string);
  }, 120_000);

  it('finishes every prompt x input cell and reports progress done/total', () => {
    expect(d.status).toBe('done');
    expect(d.progress).toMatchObject({ done: 6, failed: 0, total: 6, etaS: 0 });
    expect(d.cells).toHaveLength(6);
    expect(d.cells.every((c) => c.status === 'done' && c.runId && c.depthCurve!.length === nLayer + 1)).toBe(true);
    expect(d.prompts[0]).toEqual({ label: 'speech', text: PROMPTS[0].text });
    expect(d.inputs.map((x) => x.text)).toEqual(INPUTS);
  });

  it('summarises each prompt with means over inputs and 95% intervals around them; pi is a ratio of means', () => {
    expect(d.summary).toHaveLength(2);
    for (const s of d.summary) {
      const cells = d.cells.filter((c) => c.prompt === s.prompt);
      expect(s.n).toBe(3);
      expect(s.meanBenefit!.mean).toBeCloseTo(mean(cells.map((c) => c.meanBenefit!)), 12);
      expect(s.meanBenefitRead!.mean).toBeCloseTo(mean(cells.map((c) => c.meanBenefitRead!)), 12);
      expect(s.meanBenefit!.lo).toBeLessThanOrEqual(s.meanBenefit!.mean);
      expect(s.meanBenefit!.hi).toBeGreaterThanOrEqual(s.meanBenefit!.mean);
      expect(s.depthCurve).toHaveLength(nLayer + 1);
      s.depthCurve.forEach((k, i) => expect(k.mean).toBeCloseTo(mean(cells.map((c) => c.depthCurve![i])), 12));
      const pi = cells.reduce((a, c) => a + c.depthCurve![1], 0) / cells.reduce((a, c) => a + c.depthCurve![0], 0);
      expect(s.precomputationShare!.mean).toBeCloseTo(pi, 12);
      expect(s.readShares).toHaveLength(nLayer);
    }
  });

  it('compares the two prompts paired on the same inputs, with a sign-flip p-value and Holm', () => {
    expect(d.pairs).toHaveLength(1);
    const p = d.pairs[0];
    const diffs = [0, 1, 2].map((i) => d.cells.find((c) => c.prompt === 0 && c.input === i)!.meanBenefit! - d.cells.find((c) => c.prompt === 1 && c.input === i)!.meanBenefit!);
    expect(p.meanBenefitDiff!.mean).toBeCloseTo(mean(diffs), 12);
    // n = 3 is enumerated exactly: every p-value is a multiple of 1/8, at least 2/8 (a pattern and its mirror).
    expect(p.meanBenefitDiff!.p * 8).toBeCloseTo(Math.round(p.meanBenefitDiff!.p * 8), 9);
    expect(p.meanBenefitDiff!.p).toBeGreaterThanOrEqual(0.25);
    expect(p.meanBenefitDiff!.pHolm).toBe(p.meanBenefitDiff!.p);
  });

  it('a cell opens as an ordinary run and equals a single run of the same prompt and input to 1e-9', async () => {
    const cell = d.cells.find((c) => c.prompt === 0 && c.input === 1)!;
    const asRun = (await call('GET', `/api/runs/${cell.runId}`)).json as unknown as RunDetail;
    expect(asRun.status).toBe('done');
    expect(asRun.prompt).toBe(PROMPTS[0].text);
    const single = await call('POST', '/api/runs', { prompt: PROMPTS[0].text, input: INPUTS[1], options: { spanKnockouts: false } });
    const run = await srv.api.waitForRun(single.json.id as string);
    const a = asRun.result!;
    const b = run.result!;
    expect(Math.abs(a.summary.meanBenefit - b.summary.meanBenefit)).toBeLessThan(1e-9);
    expect(Math.abs(cell.meanBenefit! - b.summary.meanBenefit)).toBeLessThan(1e-9);
    a.depthCurve.forEach((x, k) => expect(Math.abs(x - b.depthCurve[k])).toBeLessThan(1e-9));
    a.input.tokens.forEach((t, k) => expect(Math.abs(t.lossWithPrompt - b.input.tokens[k].lossWithPrompt)).toBeLessThan(1e-9));
    a.layers.forEach((l, k) => expect(Math.abs(l.normWeighted - b.layers[k].normWeighted)).toBeLessThan(1e-9));
  });

  it('writes a JSON report valid against the committed schema, CSV tables and an HTML report with a forest plot', async () => {
    for (const [file, schema] of Object.entries(experimentJsonSchemas())) {
      expect(fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8'), `schemas/${file} is stale: run npm run schemas`).toBe(schemaFileText(schema));
    }
    const rep = await call('GET', `/api/experiments/${d.id}/report.json`);
    expect(rep.json.schema).toBe('precache-lens.experiment/1');
    const ajv = new Ajv2020.default({ allErrors: true, strict: true });
    const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, 'experiment.v1.schema.json'), 'utf8')) as object);
    expect(validate(rep.json), JSON.stringify(validate.errors)).toBe(true);
    const rows = async (table: string) => parseCsv((await call('GET', `/api/experiments/${d.id}/report.csv?table=${table}`)).text, { columns: true }) as Record<string, string>[];
    const cells = await rows('cells');
    expect(cells).toHaveLength(6);
    expect(Number(cells[0].mean_benefit)).toBe(d.cells[0].meanBenefit);
    const prompts = await rows('prompts');
    expect(prompts.map((r) => r.prompt_label)).toEqual(['speech', 'P2']);
    expect(Number(prompts[0].mean_benefit_lo)).toBe(d.summary[0].meanBenefit!.lo);
    expect(await rows('pairs')).toHaveLength(1);
    expect((await call('GET', `/api/experiments/${d.id}/report.csv?table=nope`)).json.field).toBe('table');
    const html = (await call('GET', `/api/experiments/${d.id}/report.html`)).text;
    expect(html).toMatch(/<svg class="chart" role="img" aria-label="Forest plot of mean prompt benefit/);
    expect(html).not.toMatch(/<script/i);
  });

  it('lists the experiment in the history and streams its final progress', async () => {
    const list = (await call('GET', '/api/experiments')).json as { total: number; experiments: { id: string; prompts: number; inputs: number; progress: { done: number } }[] };
    const row = list.experiments.find((e) => e.id === d.id)!;
    expect(row).toMatchObject({ prompts: 2, inputs: 3, progress: { done: 6 } });
    const sse = await call('GET', `/api/experiments/${d.id}/events`);
    expect(sse.text).toContain('event: status\ndata: {"status":"done"');
    expect(sse.text).toContain('event: progress\ndata: {"done":6');
  });
});

describe('experiment progress as Server-Sent Events', () => {
  it('streams each cell as it runs and finishes, progress, and the final status, then ends', async () => {
    const r = await call('POST', '/api/experiments', { prompts: [{ text: 'Note: ' }], inputs: { texts: ['It rained.', 'The sun came out.'] }, options: FAST });
    const res = await fetch(`${srv.base}/api/experiments/${r.json.id}/events`);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n\n/g)].map((m) => ({ event: m[1], data: JSON.parse(m[2]) as Record<string, unknown> }));
    const doneCells = events.filter((e) => e.event === 'cell' && e.data.status === 'done');
    expect(doneCells.map((e) => e.data.input).sort()).toEqual([0, 1]);
    expect(doneCells.every((e) => typeof e.data.meanBenefit === 'number' && typeof e.data.runId === 'string')).toBe(true);
    expect(events.filter((e) => e.event === 'progress').at(-1)!.data).toMatchObject({ done: 2, total: 2 });
    expect(events.at(-1)).toEqual({ event: 'status', data: { status: 'done', error: null } });
  }, 120_000);
});

describe('experiment requests that cannot run', () => {
  const bad = async (body: unknown) => {
    const r = await call('POST', '/api/experiments', body);
    return { status: r.status, field: r.json.field, error: r.json.error as string };
  };
  it('answers 4xx naming the field', async () => {
    expect(await bad({ prompts: [], inputs: { texts: ['x'] } })).toMatchObject({ status: 400, field: 'prompts' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { texts: [] } })).toMatchObject({ status: 400, field: 'inputs.texts' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { texts: ['x'] }, extra: 1 })).toMatchObject({ status: 400, field: 'extra' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { texts: ['x'] }, options: { resamples: 5 } })).toMatchObject({ status: 400, field: 'options.resamples' });
    expect(await bad({ prompts: Array.from({ length: 51 }, () => ({ text: 'a' })), inputs: { texts: ['x'] } })).toMatchObject({ status: 400, field: 'prompts' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { set: 'no-such-set' } })).toMatchObject({ status: 422, field: 'inputs.set' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { set: 'brown-press', count: 2000 } })).toMatchObject({ status: 422, field: 'inputs.count' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { texts: ['x'] }, model: 'nope' })).toMatchObject({ status: 422, field: 'model' });
    expect(await bad({ prompts: [{ text: 'a' }], inputs: { texts: ['x'] }, model: TWIN_ID, twin: true })).toMatchObject({ status: 422, field: 'twin' });
    expect(await bad({ prompts: [{ text: 'a' }, { text: '{{unclosed' }], inputs: { texts: ['x'] } })).toMatchObject({ status: 422, field: 'prompts.1.text' });
    const long = await bad({ prompts: [{ text: 'a' }], inputs: { texts: ['fine', overflowingText(MD)] } });
    expect(long).toMatchObject({ status: 422, field: 'inputs.texts.1' });
    expect(long.error).toContain(`context of ${nCtx}`);
  });

  it('answers 404 for an unknown experiment and 400 for a malformed id', async () => {
    expect((await call('GET', '/api/experiments/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('GET', '/api/experiments/nope')).json.field).toBe('id');
    expect((await call('DELETE', '/api/experiments/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});

describe('bundled input sets, twins, cancel and delete', () => {
  it('GET /api/input-sets lists each set with id, title, size and provenance', async () => {
    const { sets } = (await call('GET', '/api/input-sets')).json as unknown as { sets: InputSetSummary[] };
    expect(sets.length).toBeGreaterThanOrEqual(6);
    const s = sets.find((x) => x.id === 'sotu-1861-1945')!;
    expect(s.size).toBeGreaterThanOrEqual(100);
    expect(s.provenance).toMatch(/validation split/);
    expect(s.licence).toMatch(/public domain/i);
  });

  it('runs a set sample on the model and its myopic twin: myopia gap, pi difference and loss by position', async () => {
    const r = await call('POST', '/api/experiments', { twin: true, prompts: [{ text: 'Fellow-Citizens of the Senate and House of Representatives: ' }], inputs: { set: 'sotu-1861-1945', count: 2, seed: 7 }, options: FAST });
    expect(r.status).toBe(202);
    const d = await waitFor(r.json.id as string);
    expect(d.models).toEqual([DEFAULT_ID, TWIN_ID]);
    expect(d.inputs.every((x) => x.source?.set === 'sotu-1861-1945')).toBe(true);
    expect(d.cells).toHaveLength(4);
    expect(d.summary.map((s) => s.model)).toEqual([0, 1]);
    const t = d.twins![0];
    expect(t.n).toBe(2);
    const cellsOf = (m: number) => d.summary.find((s) => s.model === m)!.meanLossWithPrompt!.mean;
    expect(t.myopiaGap!.mean).toBeCloseTo(cellsOf(1) - cellsOf(0), 12);
    expect(t.lossByPosition[0]).toMatchObject({ position: 1, count: 2 });
    expect(t.lossByPosition[0].withPrompt).toHaveLength(2);
    expect(d.pairs).toEqual([]);
    const html = (await call('GET', `/api/experiments/${d.id}/report.html`)).text;
    expect(html).toContain('aria-label="Loss against token position');
  }, 120_000);

  it('cancels a running experiment, keeping finished cells, and deletes it with its cell runs', async () => {
    const r = await call('POST', '/api/experiments', { prompts: [{ text: 'A story: ' }], inputs: { set: 'brown-fiction', count: 30 }, options: FAST });
    const id = r.json.id as string;
    const mid = await waitFor(id, (d) => d.progress.done >= 1);
    expect(mid.status).toBe('running');
    expect(mid.progress.etaS).not.toBeNull();
    const c = await call('POST', `/api/experiments/${id}/cancel`);
    expect(c.status).toBe(202);
    const d = (await call('GET', `/api/experiments/${id}`)).json as unknown as ExperimentDetail;
    expect(d.status).toBe('cancelled');
    const done = d.cells.filter((x) => x.status === 'done');
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.length).toBeLessThan(30);
    expect(d.cells.filter((x) => x.status !== 'done').every((x) => x.status === 'cancelled')).toBe(true);
    expect(d.summary[0].n).toBe(done.length);
    expect((await call('POST', `/api/experiments/${id}/cancel`)).status).toBe(409);
    const runIds = d.cells.map((x) => x.runId).filter((x): x is string => x !== null);
    await srv.runs.idle();
    expect((await call('DELETE', `/api/experiments/${id}`)).status).toBe(204);
    expect((await call('GET', `/api/experiments/${id}`)).status).toBe(404);
    for (const runId of runIds) expect((await call('GET', `/api/runs/${runId}`)).status).toBe(404);
  }, 120_000);
});
