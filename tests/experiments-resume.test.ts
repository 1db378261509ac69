// An experiment interrupted by closing the server resumes when a server reopens the same data directory, without recomputing finished cells.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../shared/experiments.js';
import type { RunDetail } from '../shared/api.js';
import { startServer } from './helpers/server.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-exp-resume-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

async function detail(base: string, id: string): Promise<ExperimentDetail> {
  return (await (await fetch(`${base}/api/experiments/${id}`)).json()) as ExperimentDetail;
}

async function waitFor(base: string, id: string, until: (d: ExperimentDetail) => boolean): Promise<ExperimentDetail> {
  for (;;) {
    const d = await detail(base, id);
    if (until(d)) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('experiment resume after a restart', () => {
  it('keeps finished cells (same runs, not rerun) and completes the rest', async () => {
    const first = await startServer({ dataDir });
    const body = { label: 'resume', prompts: [{ text: 'A speech: ' }], inputs: { set: 'sotu-1946-2020', count: 8, seed: 2 }, options: { spanKnockouts: false, resamples: 200 } };
    const r = await fetch(`${first.base}/api/experiments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const { id } = (await r.json()) as { id: string };
    const mid = await waitFor(first.base, id, (d) => d.progress.done >= 2);
    // The process "dies": the experiment stops following its runs and the server closes with work in flight.
    first.experiments.close();
    // Runs still waiting in the closing process's queue are dropped, as a killed process would drop them (queued first,
    // so that cancelling the running one does not start the next on a closed engine).
    const open = (await detail(first.base, id)).cells.filter((c) => c.runId && c.status !== 'done');
    for (const c of [...open].sort((a, b) => (a.status === 'queued' ? -1 : 1) - (b.status === 'queued' ? -1 : 1))) first.runs.cancel(c.runId!);
    await first.close();
    const doneBefore = mid.cells.filter((c) => c.status === 'done');
    expect(doneBefore.length).toBeLessThan(8);

    const second = await startServer({ dataDir });
    try {
      const d = await waitFor(second.base, id, (x) => x.status !== 'running');
      expect(d.status).toBe('done');
      expect(d.progress).toMatchObject({ done: 8, total: 8 });
      for (const c of doneBefore) {
        const now = d.cells.find((x) => x.input === c.input)!;
        expect(now.runId).toBe(c.runId);
        expect(now.meanBenefit).toBe(c.meanBenefit);
        const run = (await (await fetch(`${second.base}/api/runs/${c.runId}`)).json()) as RunDetail;
        // Finished before the restart, not after: the run was not computed again.
        expect(Date.parse(run.finishedAt!)).toBeLessThan(Date.parse(d.finishedAt!) - 0);
        expect(run.status).toBe('done');
      }
      // One run per cell in the history: interrupted leftovers were replaced, not kept beside the new ones.
      const runs = (await (await fetch(`${second.base}/api/runs?q=resume&limit=200`)).json()) as { total: number; runs: RunDetail[] };
      expect(runs.total).toBe(8);
      expect(new Set(d.cells.map((c) => c.runId)).size).toBe(8);
      expect(runs.runs.every((x) => x.status === 'done')).toBe(true);
    } finally {
      second.experiments.close();
      await second.close();
    }
  }, 180_000);
});
