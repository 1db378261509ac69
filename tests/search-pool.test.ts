// A prompt search in pool mode (serve --redis, a real redis-server and a worker process): racing cells are BullMQ jobs
// that the worker runs, and they equal embedded mode's.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkersResponse } from '../shared/pool.js';
import type { SearchDetail } from '../shared/search.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { startServer } from './helpers/server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-search-pool-'));
const children = new Set<ChildProcess>();
let redisPort = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 180_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

type Srv = Awaited<ReturnType<typeof startServer>>;
let pool: Srv;
let embedded: Srv;

beforeAll(async () => {
  redisPort = await freePort();
  track(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
  const probe = new Redis(redisPort, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  await until('redis-server', async () => {
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } catch {
      probe.disconnect();
      return false;
    }
  });
  probe.disconnect();
  track(spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), 'worker', '--redis', `redis://127.0.0.1:${redisPort}`, '--model', DEFAULT_MODEL_DIR, '--threads', '1', '--data', path.join(TMP, 'worker')], { cwd: ROOT, stdio: 'ignore' }));
  pool = await startServer({ redis: `redis://127.0.0.1:${redisPort}` });
  embedded = await startServer({ redis: null });
}, 180_000);

afterAll(async () => {
  for (const s of [pool, embedded]) {
    s?.searches.close();
    s?.experiments.close();
    await s?.close();
  }
  for (const c of children) c.kill('SIGKILL');
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
  });
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
