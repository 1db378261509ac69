// GET /api/history: an experiment's cells sit under one entry, runs stay single, and a search finds both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryPage } from '../shared/api.js';
import { startServer } from './helpers/server.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures/models/gpt2-opset14');
let srv: Awaited<ReturnType<typeof startServer>>;
let expId = '';
let soloId = '';

const history = async (qs = ''): Promise<HistoryPage> => (await (await fetch(`${srv.base}/api/history${qs}`)).json()) as HistoryPage;

beforeAll(async () => {
  srv = await startServer({ models: [FIXTURE], dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'pl-history-')) });
  soloId = (await srv.api.createRun({ model: 'gpt2-opset14', prompt: 'A lone run. ', input: 'Nothing else.' })).id;
  await srv.api.waitForRun(soloId);
  const res = await fetch(`${srv.base}/api/experiments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt2-opset14', label: 'grid', prompts: [{ text: 'Zebra prompt. ' }, { text: 'Other prompt. ' }], inputs: { texts: ['one pelican', 'two', 'three'] }, options: { resamples: 100, spanKnockouts: false } }),
  });
  expId = ((await res.json()) as { id: string }).id;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const d = (await (await fetch(`${srv.base}/api/experiments/${expId}`)).json()) as { status: string };
    if (d.status !== 'running') break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 90_000);

afterAll(async () => {
  srv.experiments.close();
  await srv.close();
  fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

describe('GET /api/history', () => {
  it('lists a 2 x 3 experiment as one entry holding its 6 cells, next to the single run, newest first', async () => {
    const h = await history();
    expect(h.total).toBe(2);
    expect(h.entries.map((e) => e.kind)).toEqual(['experiment', 'run']);
    const e = h.entries[0];
    if (e.kind !== 'experiment') throw new Error('expected the experiment first');
    expect(e.experiment.id).toBe(expId);
    expect(e.cells).toBe(6);
    expect(e.firstPrompt).toBe('Zebra prompt. ');
    expect(e.matchingCells).toBeNull();
    // /api/runs still lists every run, the cells included.
    expect((await srv.api.runs()).total).toBe(7);
  });

  it("finds an experiment by a cell's input and says how many of its cells match; a single run by its prompt", async () => {
    const h = await history('?q=pelican');
    expect(h.entries).toHaveLength(1);
    const e = h.entries[0];
    expect(e.kind === 'experiment' && e.matchingCells).toBe(2);
    const solo = await history('?q=lone');
    expect(solo.entries.map((x) => (x.kind === 'run' ? x.run.id : x.experiment.id))).toEqual([soloId]);
    const byLabel = await history('?q=grid');
    expect(byLabel.entries.map((x) => x.kind)).toEqual(['experiment']);
  });

  it('refuses a bad query with a 400 naming the field', async () => {
    const res = await fetch(`${srv.base}/api/history?limit=0`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { field?: string }).field).toBe('limit');
  });
});
