// Staged results over HTTP: `partial` SSE events before the run ends, stages in GET /api/runs/:id, kept on cancel;
// a twins comparison exports as JSON, CSV and HTML like any other comparison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult, StagedResult } from '../shared/analysis.js';
import type { RunDetail } from '../shared/api.js';
import { startServer } from './helpers/server.js';
import { DEFAULT_ID, TWIN_ID } from './helpers/bundled.js';

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.close();
});

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads a run's event stream to its end (the server closes it at a final status), calling `onEvent` as events come. */
async function readEvents(id: string, onEvent: (e: SseEvent) => void = () => {}): Promise<SseEvent[]> {
  const res = await fetch(`${srv.base}/api/runs/${id}/events`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const out: SseEvent[] = [];
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as unknown;
      out.push({ event, data });
      onEvent({ event, data });
    }
  }
  return out;
}

async function createRun(body: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${srv.base}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(202);
  return ((await r.json()) as { id: string }).id;
}

const getRun = async (id: string) => (await (await fetch(`${srv.base}/api/runs/${id}`)).json()) as RunDetail;

describe('staged results over HTTP', () => {
  it('sends each stage as a partial event before the final status, and GET returns the same stages', async () => {
    const id = await createRun({ prompt: 'The weather report for the coast. Winds are strong. ', input: 'Rain is expected tomorrow along the shore.' });
    const events = await readEvents(id);
    const partials = events.filter((e) => e.event === 'partial').map((e) => e.data as { stage: string; data: unknown });
    expect(partials.map((p) => p.stage)).toEqual(['headline', 'depth', 'spans']);
    const lastStatus = events.map((e, i) => ({ e, i })).filter(({ e }) => e.event === 'status').pop()!;
    expect((lastStatus.e.data as { status: string }).status).toBe('done');
    const firstPartial = events.findIndex((e) => e.event === 'partial');
    expect(firstPartial).toBeGreaterThanOrEqual(0);
    expect(firstPartial).toBeLessThan(lastStatus.i);
    const run = await getRun(id);
    const result = run.result as AnalysisResult;
    expect(run.stages.headline!.summary.meanBenefit).toBe(result.summary.meanBenefit);
    expect(run.stages.depth!.depthCurve).toEqual(result.depthCurve);
    expect(run.stages.spans!.spans).toEqual(result.spans);
    // What the stream sent is what the finished result holds.
    const sent = Object.fromEntries(partials.map((p) => [p.stage, p.data])) as StagedResult;
    expect(sent.headline!.readMap).toEqual(result.readMap);
    expect(sent.depth!.precomputationShare).toBe(result.summary.precomputationShare);
  });

  it('a run cancelled after its headline keeps the headline (and any later stage done by then)', async () => {
    // Span knockouts on every token of a long prompt keep the run busy well after its headline.
    const prompt = 'In the quiet valley the old miller ground wheat for the village, and every morning the children carried bread home. '.repeat(3);
    const id = await createRun({ prompt, input: 'The miller ground the wheat and the children carried the bread.', options: { spans: 'tokens' } });
    let cancelled = false;
    const events = await readEvents(id, (e) => {
      if (!cancelled && e.event === 'partial' && (e.data as { stage: string }).stage === 'headline') {
        cancelled = true;
        void fetch(`${srv.base}/api/runs/${id}/cancel`, { method: 'POST' });
      }
    });
    expect(cancelled).toBe(true);
    expect((events.filter((e) => e.event === 'status').pop()!.data as { status: string }).status).toBe('cancelled');
    const run = await getRun(id);
    expect(run.status).toBe('cancelled');
    expect(run.result).toBeNull();
    expect(run.stages.headline).toBeDefined();
    expect(run.stages.headline!.p).toBeGreaterThan(60);
    expect(run.stages.spans).toBeUndefined();
    // A late subscriber to a finished (cancelled) run gets its status; GET keeps serving the stages.
    expect((await getRun(id)).stages.headline!.summary.meanLossWithPrompt).toBe(run.stages.headline!.summary.meanLossWithPrompt);
  });
});

describe('a twins comparison exports like any other comparison', () => {
  it('JSON, CSV and HTML reports of a model and its myopic twin on one prompt and input', async () => {
    const r = await fetch(`${srv.base}/api/twins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'A speech to the Congress. ', input: 'The state of the Union is strong.' }),
    });
    expect(r.status).toBe(202);
    const { vanilla, myopic } = (await r.json()) as { vanilla: { id: string }; myopic: { id: string } };
    for (const id of [vanilla.id, myopic.id]) expect((await srv.api.waitForRun(id)).status).toBe('done');
    const ids = [vanilla.id, myopic.id];
    const post = (p: string) => fetch(`${srv.base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids }) });

    const json = await post('/api/compare/report.json');
    expect(json.status).toBe(200);
    const rep = (await json.json()) as { runs: { metrics: AnalysisResult }[]; tokens: unknown[] };
    expect(rep.runs.map((x) => x.metrics.model.id)).toEqual([DEFAULT_ID, TWIN_ID]);
    expect(rep.runs[0].metrics.model.hash).not.toBe(rep.runs[1].metrics.model.hash);
    expect(rep.tokens.length).toBe(rep.runs[0].metrics.n);

    const csv = await post('/api/compare/report.csv');
    expect(csv.status).toBe(200);
    expect((await csv.text()).split('\n').length).toBeGreaterThan(2);

    const html = await post('/api/compare/report.html');
    expect(html.status).toBe(200);
    const page = await html.text();
    expect(page).toContain(TWIN_ID);
    expect(page).toMatch(/<svg/);
  });
});
