// The worker pool under faults, on a real redis-server: Redis killed and restarted mid-experiment (with AOF
// persistence and without), and a worker that stalls (SIGSTOP) without dying. Every cell is recorded exactly once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Job, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../shared/experiments.js';
import type { WorkersResponse } from '../shared/pool.js';
import { queueName } from '../server/pool/config.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { startServer } from './helpers/server.js';
import { Children, freePort, startRedis, startWorker, stopProcess, until, type WorkerProc } from './helpers/processes.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-pool-faults-'));
/** Short locks: a stalled worker's job is taken over within seconds (BullMQ's default is 30 s). */
const LOCK_MS = 2000;
const FAST = { spanKnockouts: false, resamples: 100 };
const PROMPTS = [{ text: 'The President said to the Congress: ' }, { text: 'Chapter one. ' }];
const INPUTS = ['The state of the Union is strong.', 'We must balance the budget this year.', 'She opened the door and looked outside.', 'Prices rose again in the spring.'];
const CELLS = PROMPTS.length * INPUTS.length;
/** A run of several seconds on a one-thread worker (a knockout per prompt token): long enough to stall mid-job. */
const LONG_RUN = {
  prompt: `Dear Sir, ${Array.from({ length: 40 }, (_, k) => `item${k}`).join(' ')}. `,
  input: 'I write to you about the matter of the bridge, which the council has discussed at length over the past three meetings without reaching any decision that the town can act upon.',
  options: { spans: 'tokens' },
};

const children = new Children();
let redisPort = 0;
let redisProc: ChildProcess | null = null;
let workers: WorkerProc[] = [];
type Srv = Awaited<ReturnType<typeof startServer>>;
let pool: Srv;

const AOF_DIR = path.join(TMP, 'redis-aof');
const redisArgs = (aof: boolean) => (aof ? ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', AOF_DIR] : ['--save', '', '--appendonly', 'no']);

async function call(method: string, p: string, body?: unknown) {
  const r = await fetch(`${pool.base}${p}`, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

const workersSeen = async () => (await call('GET', '/api/workers')).json as unknown as WorkersResponse;
const detail = async (id: string) => (await call('GET', `/api/experiments/${id}`)).json as unknown as ExperimentDetail;

/** Every cell done, each by its own run, stored once, with one completion recorded for it. */
function expectExactlyOnce(d: ExperimentDetail) {
  expect(d.status).toBe('done');
  expect(d.progress).toMatchObject({ done: CELLS, failed: 0, total: CELLS });
  const runIds = d.cells.map((c) => c.runId!);
  expect(new Set(runIds).size).toBe(CELLS);
  for (const id of runIds) {
    expect(pool.store.get(id)!.status).toBe('done');
    expect((pool.store.db.prepare('SELECT COUNT(*) AS n FROM pool_runs WHERE run_id = ?').get(id) as { n: number }).n).toBe(1);
  }
  // No run of this experiment beyond its cells (a cell resubmitted would leave a second run).
  const label = d.label!;
  const all = pool.store.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE label LIKE ?`).get(`${label} ·%`) as { n: number };
  expect(all.n).toBe(CELLS);
}

beforeAll(async () => {
  fs.mkdirSync(AOF_DIR);
  redisPort = await freePort();
  redisProc = await startRedis(children, redisPort, redisArgs(true));
  // A half-written weights file left by a worker that died mid-write (pid 2^22 + 1 is above Linux's default pid_max).
  fs.mkdirSync(path.join(TMP, 'worker-1', 'graph-cache'), { recursive: true });
  fs.writeFileSync(path.join(TMP, 'worker-1', 'graph-cache', `0123456789abcdef.weights.${2 ** 22 + 1}.1700000000000.tmp`), Buffer.alloc(1 << 20));
  const env = { PRECACHE_LENS_POOL_LOCK_MS: String(LOCK_MS) };
  workers = [1, 2].map((k) => startWorker(children, redisPort, DEFAULT_MODEL_DIR, path.join(TMP, `worker-${k}`), env));
  pool = await startServer({ redis: `redis://127.0.0.1:${redisPort}`, threads: 1, dataDir: path.join(TMP, 'server') });
  await until('two workers', async () => (await workersSeen()).workers.length === 2, 240_000);
}, 300_000);

afterAll(async () => {
  // Everything this file started goes, whatever failed: workers (stopped ones too), Redis, the server.
  await children.stopAll();
  await pool?.close();
  fs.rmSync(TMP, { recursive: true, force: true });
}, 60_000);

describe('a worker starting', () => {
  it('removes the temporary files a dead process left in its graph cache', () => {
    const left = fs.readdirSync(path.join(TMP, 'worker-1', 'graph-cache')).filter((f) => f.endsWith('.tmp'));
    expect(left).toEqual([]);
    expect(workers[0].log()).toMatch(/removed .*\.tmp, left by an interrupted write/);
  });
});

describe.each([
  { aof: true, name: 'with AOF persistence' },
  { aof: false, name: 'without persistence' },
])('Redis killed and restarted mid-experiment, $name', ({ aof, name }) => {
  it('says "pool unavailable" while Redis is gone, accepts runs meanwhile, and ends with every cell done exactly once', async () => {
    // The previous Redis (started with AOF) is replaced by one with this case's persistence.
    await stopProcess(redisProc, 'SIGKILL');
    fs.rmSync(AOF_DIR, { recursive: true, force: true });
    fs.mkdirSync(AOF_DIR);
    redisProc = await startRedis(children, redisPort, redisArgs(aof));
    await until('the pool healthy', async () => (await call('GET', '/api/health')).json.ok === true && (await workersSeen()).workers.length === 2, 120_000);

    const label = `redis restart ${name}`;
    const r = await call('POST', '/api/experiments', { label, prompts: PROMPTS, inputs: { texts: INPUTS }, options: FAST });
    expect(r.status).toBe(202);
    const id = r.json.id as string;
    await until('a cell done', async () => (await detail(id)).progress.done >= 1, 240_000);

    await stopProcess(redisProc, 'SIGKILL');
    const health = await until('health saying so', async () => {
      const h = (await call('GET', '/api/health')).json;
      return h.ok === false && h;
    });
    expect((health.backend as { message: string }).message).toMatch(/^pool unavailable: Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);
    // The server still serves: reads, and a new run is accepted and waits.
    expect((await call('GET', `/api/experiments/${id}`)).status).toBe(200);
    const waiting = await call('POST', '/api/runs', { prompt: 'Hello. ', input: 'A run sent while Redis is away.', options: { spanKnockouts: false } });
    expect(waiting.status).toBe(202);

    redisProc = await startRedis(children, redisPort, redisArgs(aof));
    const d = await until(`experiment ${id}`, async () => {
      const x = await detail(id);
      return x.status !== 'running' && x;
    }, 300_000);
    expectExactlyOnce(d);
    await until('the waiting run done', () => pool.store.get(waiting.json.id as string)!.status === 'done', 240_000);
    expect((await call('GET', '/api/health')).json).toMatchObject({ ok: true });
  }, 600_000);
});

describe('a worker that stalls (SIGSTOP) mid-job', () => {
  it('has its job taken over once its lock expires, and its late result is not recorded a second time', async () => {
    await until('two workers', async () => (await workersSeen()).workers.length === 2, 120_000);
    const r = await call('POST', '/api/runs', LONG_RUN);
    expect(r.status).toBe(202);
    const runId = r.json.id as string;
    const stalled = await until('a worker running it', async () => (await workersSeen()).workers.find((w) => w.current.some((c) => c.runId === runId)));
    const proc = workers.find((w) => w.proc.pid === stalled.pid)!;
    proc.proc.kill('SIGSTOP');
    try {
      // The other worker takes the job over after the lock lapses and finishes it.
      await until('the run done', () => pool.store.get(runId)!.status === 'done', 300_000);
    } finally {
      proc.proc.kill('SIGCONT');
    }
    const recorded = pool.pool!.runWorkers.get(runId)!;
    expect(recorded.worker).not.toBe(stalled.id);
    const finishedAt = pool.store.get(runId)!.finishedAt;

    // The stalled worker wakes, finishes its copy of the job and tries to deliver it: BullMQ refuses (its lock is gone).
    await until('the woken worker done with its copy', async () => {
      const w = (await workersSeen()).workers.find((x) => x.id === stalled.id);
      return w && w.current.length === 0 && w.jobsDone > stalled.jobsDone;
    }, 300_000);
    // Give the server a reconcile round to hear of anything it would record.
    await new Promise((res) => setTimeout(res, 3000));
    expect((pool.store.db.prepare('SELECT COUNT(*) AS n FROM pool_runs WHERE run_id = ?').get(runId) as { n: number }).n).toBe(1);
    expect(pool.pool!.runWorkers.get(runId)).toEqual(recorded);
    expect(pool.store.get(runId)!.finishedAt).toBe(finishedAt);
    const queue = new Queue(queueName((await pool.engine.info(DEFAULT_MODEL_DIR)).modelHash), { connection: { host: '127.0.0.1', port: redisPort } });
    try {
      const job = await Job.fromId(queue, runId);
      expect(await job!.getState()).toBe('completed');
      expect((job!.returnvalue as { worker: string }).worker).toBe(recorded.worker);
    } finally {
      await queue.close();
    }
  }, 600_000);
});
