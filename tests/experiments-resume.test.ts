// An experiment interrupted by closing the server resumes when a server reopens the same data directory, without recomputing finished cells.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../shared/experiments.js';
import type { RunDetail } from '../shared/api.js';
import { startServer } from './helpers/server.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-exp-resume-'));
const killedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-exp-kill-'));
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(killedDir, { recursive: true, force: true });
});

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
    // Closing the engine while onnxruntime is inside a session run aborts the process (Napi::Error): let the
    // cancelled run stop first. (A real kill -9 needs no such care; the data left behind is the same.)
    await first.runs.idle();
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

  it('a server killed with SIGKILL mid-experiment leaves it resumable: the next server completes it without rerunning finished cells', async () => {
    const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), 'serve', '--port', '0', '--data', killedDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      const body = { label: 'killed', prompts: [{ text: 'A speech: ' }], inputs: { set: 'sotu-1790-1860', count: 6, seed: 4 }, options: { spanKnockouts: false, resamples: 200 } };
      const { id } = (await (await fetch(`${base}/api/experiments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { id: string };
      const mid = await waitFor(base, id, (d) => d.progress.done >= 2);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const doneBefore = mid.cells.filter((c) => c.status === 'done');
      expect(doneBefore.length).toBeLessThan(6);

      const next = await startServer({ dataDir: killedDir });
      try {
        const d = await waitFor(next.base, id, (x) => x.status !== 'running');
        expect(d).toMatchObject({ status: 'done', progress: { done: 6, total: 6 } });
        for (const c of doneBefore) expect(d.cells.find((x) => x.input === c.input)!.runId).toBe(c.runId);
        const runs = (await (await fetch(`${next.base}/api/runs?q=killed&limit=200`)).json()) as { total: number };
        expect(runs.total).toBe(6);
      } finally {
        next.experiments.close();
        await next.runs.idle();
        await next.close();
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 240_000);
});
