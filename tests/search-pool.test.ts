// A prompt search in pool mode (serve --redis, a real redis-server and a worker process): racing cells are BullMQ jobs
// that the worker runs, and they equal embedded mode's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkersResponse } from '../shared/pool.js';
import type { SearchDetail } from '../shared/search.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { Children, freePort, startRedis, startWorker, until } from './helpers/processes.js';
import { startServer } from './helpers/server.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-search-pool-'));
const children = new Children();
let redisPort = 0;

type Srv = Awaited<ReturnType<typeof startServer>>;
let pool: Srv;
let embedded: Srv;

beforeAll(async () => {
  redisPort = await freePort();
  await startRedis(children, redisPort);
  startWorker(children, redisPort, DEFAULT_MODEL_DIR, path.join(TMP, 'worker'));
  pool = await startServer({ redis: `redis://127.0.0.1:${redisPort}` });
  embedded = await startServer({ redis: null });
}, 180_000);

afterAll(async () => {
  for (const s of [pool, embedded]) {
    s?.searches.close();
    s?.experiments.close();
    await s?.close();
  }
  await children.stopAll();
  fs.rmSync(TMP, { recursive: true, force: true });
});

const INPUTS = ['The old keeper climbed the stairs.', 'The lamp was lit every evening.', 'Ships saw the lamp.', 'The stairs were winding.', 'He lit the lamp.', 'The keeper was old.'];
const BODY = {
  variants: { prompts: ['The old lighthouse keeper climbed the winding stairs to light the lamp for the ships.\n', 'Once upon a time, ', '### ### ###'] },
  inputs: { texts: INPUTS },
  options: { firstBatch: 2, explainInputs: 0, continuations: 0 },
};

async function runSearch(srv: Srv): Promise<SearchDetail> {
  const r = await fetch(`${srv.base}/api/searches`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
  expect(r.status).toBe(202);
  const { id } = (await r.json()) as { id: string };
  return until(`search ${id}`, async () => {
    const d = (await (await fetch(`${srv.base}/api/searches/${id}`)).json()) as SearchDetail;
    return d.status !== 'running' && d;
  }, 240_000);
}

describe('a search in pool mode', () => {
  it('runs its racing cells as jobs on the pool worker, equal to embedded mode', async () => {
    const p = await runSearch(pool);
    const e = await runSearch(embedded);
    expect(p.status).toBe('done');
    expect(e.status).toBe('done');
    // The worker reports its count in a heartbeat sent as each job ends; the server may see the job's result first.
    const done = await until('the worker to report its jobs', async () => {
      const ws = (await (await fetch(`${pool.base}/api/workers`)).json()) as WorkersResponse;
      const n = ws.workers.reduce((s, w) => s + w.jobsDone, 0);
      return n > 0 && n;
    });
    expect(done).toBeGreaterThan(0);
    const pc = pool.searches.searches.cells(p.id);
    const ec = new Map(embedded.searches.searches.cells(e.id).map((c) => [`${c.variant}:${c.input}`, c.lossWith]));
    expect(pc.length).toBe(ec.size);
    for (const c of pc) expect(Math.abs(c.lossWith - ec.get(`${c.variant}:${c.input}`)!)).toBeLessThan(1e-4);
    expect(p.finalists.map((f) => f.variant)).toEqual(e.finalists.map((f) => f.variant));
  }, 300_000);
});
