// Prompt search over HTTP on the bundled model: a race that drops the bad variants and finds the good one, cells
// equal to runs alone, held-out finalists explained by an experiment, reports, validation naming the field, cancel.
import Ajv2020 from 'ajv/dist/2020.js';
import { parse as parseCsv } from 'csv-parse/sync';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../shared/api.js';
import type { ExperimentDetail } from '../shared/experiments.js';
import { MAX_SEARCH_VARIANTS, type SearchDetail } from '../shared/search.js';
import { SCHEMAS_DIR, schemaFileText } from '../scripts/write-schemas.js';
import { searchJsonSchemas } from '../server/search/search-report.js';
import { startServer } from './helpers/server.js';
import { INPUTS, PASSAGE } from './helpers/lighthouse.js';
import { RWKV_ID } from './helpers/bundled.js';

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  srv?.searches.close();
  srv?.experiments.close();
  await srv?.close();
});

async function call(method: string, p: string, body?: unknown) {
  const r = await fetch(`${srv.base}${p}`, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: (text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null) as Record<string, unknown> };
}

async function waitFor(id: string, until: (d: SearchDetail) => boolean = (d) => d.status !== 'running'): Promise<SearchDetail> {
  for (;;) {
    const d = (await call('GET', `/api/searches/${id}`)).json as unknown as SearchDetail;
    if (until(d)) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A prompt holding the inputs' passage (tests/helpers/lighthouse.ts), and prompts of unrelated symbols.
const GOOD = `Story: ${PASSAGE}\n`;
const BAD = ['%%% ### @@@ ~~~ ^^^', '0 1 0 1 0 1 0 1 0 1'];

describe('a search over HTTP', () => {
  let d: SearchDetail;
  it('races, drops the unrelated prompts, and the held-out winner is the prompt that fits the inputs', async () => {
    const r = await call('POST', '/api/searches', {
      label: 'lighthouse',
      variants: { prompts: [BAD[0], { text: GOOD, label: 'good' }, BAD[1]] },
      inputs: { texts: INPUTS },
      options: { firstBatch: 4, heldOut: 0.25, explainInputs: 2, continuations: 2, continuationTokens: 6 },
    });
    expect(r.status).toBe(202);
    const id = r.json.id as string;
    d = await waitFor(id);
    expect(d.status).toBe('done');
    expect(d.heldOutInputs).toHaveLength(3);
    expect(d.rounds.length).toBeGreaterThanOrEqual(1);
    // Both unrelated prompts fall, at the round the variants say.
    expect(d.variants[0].roundDropped).not.toBeNull();
    expect(d.variants[2].roundDropped).not.toBeNull();
    expect(d.rounds[d.variants[0].roundDropped!].dropped).toContain(0);
    expect(d.stopReason).toBe('one-left');
    expect(d.finalists[0].variant).toBe(1);
    expect(d.variants[1].status).toBe('finalist');
    // Its figures come from the held-out inputs.
    expect(d.finalists[0].heldOut.n).toBe(3);
    expect(d.finalists[0].heldOut.meanBenefit!.mean).toBeGreaterThan(0);
    // Fewer cells than the grid, the baseline once per input.
    expect(d.cells).toBeLessThan(d.gridCells);
    expect(d.baselines).toBe(new Set(srv.searches.searches.cells(id).map((c) => c.input)).size);
    // Explained: D(k) and pi from an ordinary experiment's full analyses, continuations and next tokens.
    expect(d.experimentId).toBeTruthy();
    const x = (await call('GET', `/api/experiments/${d.experimentId}`)).json as unknown as ExperimentDetail;
    expect(x.status).toBe('done');
    expect(x.prompts[0].text).toBe(GOOD);
    expect(d.finalists[0].depthCurve!.length).toBeGreaterThan(2);
    expect(d.finalists[0].precomputationShare).not.toBeNull();
    // How much of the winner's lead over the runner-up is read from precomputation: computed from the same analyses.
    expect(d.finalists[0].leadPrecomputationShare).toBeNull();
    const cellsOf = (k: number) => x.cells.filter((c) => c.prompt === k).sort((a, b) => a.input - b.input);
    const [w, o] = [cellsOf(0), cellsOf(1)];
    const num = w.reduce((s, c, i) => s + c.depthCurve![1] - o[i].depthCurve![1], 0);
    const den = w.reduce((s, c, i) => s + c.depthCurve![0] - o[i].depthCurve![0], 0);
    expect(d.finalists[1].leadPrecomputationShare!.mean).toBeCloseTo(num / den, 10);
    expect(d.finalists[0].runIds).toHaveLength(2);
    expect(d.finalists[0].continuations).toHaveLength(2);
    expect(d.finalists[0].nextTokens.length).toBeGreaterThan(0);
  });

  it("a search's cell equals the same prompt and input run alone", async () => {
    const cells = srv.searches.searches.cells(d.id);
    const c = cells.find((x) => x.variant === 1)!;
    const run = await call('POST', '/api/runs', { prompt: GOOD, input: INPUTS[c.input], options: { spanKnockouts: false } });
    const rid = run.json.id as string;
    let full: RunDetail;
    for (;;) {
      full = (await call('GET', `/api/runs/${rid}`)).json as unknown as RunDetail;
      if (full.status !== 'queued' && full.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const toks = full.result!.input.tokens;
    const meanWith = toks.reduce((s, t) => s + t.lossWithPrompt, 0) / toks.length;
    const meanNatural = toks.reduce((s, t) => s + t.lossNoPromptNatural, 0) / toks.length;
    expect(Math.abs(c.lossWith - meanWith)).toBeLessThan(1e-4);
    expect(Math.abs(srv.searches.searches.baselines(d.id).get(c.input)! - meanNatural)).toBeLessThan(1e-4);
  });

  it('reports: JSON valid against the committed schema, CSV tables, HTML', async () => {
    const file = path.join(SCHEMAS_DIR, 'search.v1.schema.json');
    const schema = searchJsonSchemas()['search.v1.schema.json'];
    expect(fs.readFileSync(file, 'utf8')).toBe(schemaFileText(schema));
    const j = await call('GET', `/api/searches/${d.id}/report.json`);
    const validate = new Ajv2020.default({ strict: false }).compile(schema as object);
    expect(validate(j.json), JSON.stringify(validate.errors)).toBe(true);
    const csv = parseCsv((await call('GET', `/api/searches/${d.id}/report.csv?table=variants`)).text, { columns: true }) as Record<string, string>[];
    expect(csv).toHaveLength(3);
    expect(csv[1].status).toBe('finalist');
    const cells = parseCsv((await call('GET', `/api/searches/${d.id}/report.csv?table=cells`)).text, { columns: true }) as Record<string, string>[];
    expect(cells).toHaveLength(d.cells);
    const html = await call('GET', `/api/searches/${d.id}/report.html`);
    expect(html.text).toContain('lighthouse');
    expect(html.text).toContain('held-out');
    expect((await call('GET', '/api/searches')).json.total).toBeGreaterThanOrEqual(1);
  });
});

describe('bad requests name the field', () => {
  it.each([
    ['a template above the variant cap', { variants: { template: `{{a|${'x||'.repeat(8)}x}} {{b|${'y||'.repeat(8)}y}}` }, inputs: { texts: INPUTS } }, 422, 'variants.template', `${MAX_SEARCH_VARIANTS}`],
    ['a template without alternatives', { variants: { template: 'just {{a|text}}' }, inputs: { texts: INPUTS } }, 422, 'variants.template', 'alternatives'],
    ['a bad template', { variants: { template: 'a {{b||c' }, inputs: { texts: INPUTS } }, 422, 'variants.template', 'never closed'],
    ['too many prompts', { variants: { prompts: Array.from({ length: MAX_SEARCH_VARIANTS + 1 }, (_, k) => `p${k}`) }, inputs: { texts: INPUTS } }, 400, 'variants.prompts', `${MAX_SEARCH_VARIANTS}`],
    ['two kinds of variants at once', { variants: { prompts: ['a', 'b'], template: '{{x|a||b}}' }, inputs: { texts: INPUTS } }, 400, 'variants', 'exactly one'],
    ['too many reorderings', { variants: { ablate: 'A. B. C.', reorder: 99 }, inputs: { texts: INPUTS } }, 400, 'variants.reorder', 'reordering cap'],
    ['too few inputs', { variants: { prompts: ['a', 'b'] }, inputs: { texts: ['x', 'y', 'z'] } }, 422, 'inputs', '4'],
    ['a budget that cannot pay for one round', { variants: { prompts: ['a', 'b'] }, inputs: { texts: INPUTS }, budget: { cells: 3 } }, 422, 'budget.cells', 'at least'],
    ['an input longer than the context', { variants: { prompts: ['a', 'b'] }, inputs: { texts: [...INPUTS.slice(0, 5), 'word '.repeat(2000)] } }, 422, 'inputs.texts.5', 'context'],
    ['a recurrent model', { model: RWKV_ID, variants: { prompts: ['a', 'b'] }, inputs: { texts: INPUTS } }, 422, 'model', 'recurrent'],
    ['an unknown field', { variants: { prompts: ['a', 'b'] }, inputs: { texts: INPUTS }, speed: 'max' }, 400, 'speed', 'unknown'],
    ['an unknown objective', { variants: { prompts: ['a', 'b'] }, inputs: { texts: INPUTS }, objective: 'vibes' }, 400, 'objective', ''],
  ])('%s', async (_name, body, status, field, text) => {
    const r = await call('POST', '/api/searches', body);
    expect(r.status).toBe(status);
    expect(String(r.json.field)).toContain(field);
    expect(String(r.json.error)).toContain(text);
  });

  it('an unknown search is a 404, a malformed id a 400', async () => {
    expect((await call('GET', '/api/searches/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('GET', '/api/searches/nope')).json.field).toBe('id');
  });
});

describe('budgets', () => {
  it('a seconds budget stops the race between jobs; the search still finishes and says why it stopped', async () => {
    const alts = (k: number) => Array.from({ length: 4 }, (_, j) => `word${k}${j}`).join('||');
    const r = await call('POST', '/api/searches', {
      variants: { template: `Notes: {{a|${alts(1)}}} and {{b|${alts(2)}}}.` },
      inputs: { set: 'brown-fiction', count: 64 },
      budget: { seconds: 1 },
      options: { firstBatch: 2, halving: false, explainInputs: 0, continuations: 0 },
    });
    expect(r.status).toBe(202);
    const d = await waitFor(r.json.id as string);
    expect(d.status).toBe('done');
    expect(d.stopReason).toBe('budget-seconds');
    expect(d.cells).toBeLessThan(16 * d.raceInputs.length);
  });
});

describe('cancel and delete', () => {
  it('a cancelled search keeps its rounds; delete removes it', async () => {
    const alts = (k: number) => Array.from({ length: 4 }, (_, j) => `word${k}${j}`).join('||');
    const r = await call('POST', '/api/searches', {
      variants: { template: `Notes: {{a|${alts(1)}}} and {{b|${alts(2)}}}.` },
      inputs: { set: 'brown-fiction', count: 64 },
      options: { firstBatch: 2 },
    });
    expect(r.status).toBe(202);
    const id = r.json.id as string;
    const running = await waitFor(id, (x) => x.rounds.length >= 1 || x.status !== 'running');
    expect(running.status).toBe('running');
    expect((await call('POST', `/api/searches/${id}/cancel`)).status).toBe(202);
    const d = await waitFor(id);
    expect(d.status).toBe('cancelled');
    expect(d.stopReason).toBe('cancelled');
    expect(d.rounds.length).toBeGreaterThanOrEqual(1);
    expect(d.rounds[0].live).toHaveLength(16);
    expect(d.finalists).toEqual([]);
    expect((await call('POST', `/api/searches/${id}/cancel`)).status).toBe(409);
    expect((await call('DELETE', `/api/searches/${id}`)).status).toBe(204);
    expect((await call('GET', `/api/searches/${id}`)).status).toBe(404);
  });
});
