// Pool mode on a real redis-server with worker processes: experiments equal embedded mode's; kill -9, Redis restarts, cancel, SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../shared/analysis.js';
import type { ExperimentDetail } from '../shared/experiments.js';
import { queueName } from '../server/pool/config.js';
import type { WorkersResponse } from '../shared/pool.js';
import { RemoteError } from '../server/worker/protocol.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { startServer } from './helpers/server.js';
import { DEFAULT_ID, TWIN_ID } from './helpers/bundled.js';
import { overflowingText } from './helpers/context.js';
import { openModelDir } from '../server/model/model-dir.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-pool-'));
/** Short locks, so a killed worker's job is taken up again within seconds (the default is BullMQ's 30 s). */
const LOCK_MS = 2000;
const FAST = { spanKnockouts: false, resamples: 200 };
const PROMPTS = [{ text: 'The President said to the Congress: ' }, { text: 'Chapter one. ' }];
const INPUTS = [
  'The state of the Union is strong.',
  'We must balance the budget this year.',
  'She opened the door and looked outside.',
  'Prices rose again in the spring.',
  'The army crossed the river at dawn.',
  'He wrote a letter to his mother.',
];

const children = new Set<ChildProcess>();
let redisPort = 0;
let redisProc: ChildProcess | null = null;

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

/**
 * A run of a few seconds on a one-thread worker (a knockout per prompt token), for tests that must catch it running:
 * a short one can start and finish between two looks at the workers' status.
 */
const LONG_RUN = {
  prompt: `Dear Sir, ${Array.from({ length: 40 }, (_, k) => `item${k}`).join(' ')}. `,
  input: 'I write to you about the matter of the bridge, which the council has discussed at length over the past three meetings without reaching any decision that the town can act upon.',
  options: { spans: 'tokens' },
};

async function until<T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

async function startRedis() {
  redisProc = track(spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
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
}

function stopProcess(p: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p?.exitCode ?? null);
  return new Promise((resolve) => {
    p.once('exit', (code) => resolve(code));
    p.kill(signal);
  });
}

interface WorkerProc {
  proc: ChildProcess;
  log: () => string;
}

function startWorker(k: number): WorkerProc {
  let out = '';
  const proc = track(
    spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), 'worker', '--redis', `redis://127.0.0.1:${redisPort}`, '--model', DEFAULT_MODEL_DIR, '--threads', '1', '--data', path.join(TMP, `worker-${k}`)], {
      cwd: ROOT,
      env: { ...process.env, PRECACHE_LENS_POOL_LOCK_MS: String(LOCK_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return { proc, log: () => out };
}

type Srv = Awaited<ReturnType<typeof startServer>>;
let pool: Srv;
let embedded: Srv;
let workers: WorkerProc[] = [];

async function call(srv: Srv, method: string, p: string, body?: unknown) {
  const r = await fetch(`${srv.base}${p}`, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

async function experiment(srv: Srv, label: string): Promise<string> {
  const r = await call(srv, 'POST', '/api/experiments', { label, prompts: PROMPTS, inputs: { texts: INPUTS }, options: FAST });
  expect(r.status).toBe(202);
  return r.json.id as string;
}

async function detail(srv: Srv, id: string): Promise<ExperimentDetail> {
  return (await call(srv, 'GET', `/api/experiments/${id}`)).json as unknown as ExperimentDetail;
}

const finished = (srv: Srv, id: string) => until(`experiment ${id}`, async () => {
  const d = await detail(srv, id);
  return d.status !== 'running' && d;
}, 240_000);

async function workersSeen(): Promise<WorkersResponse> {
  return (await call(pool, 'GET', '/api/workers')).json as unknown as WorkersResponse;
}

/** The stored result of each cell, by prompt and input. */
function results(srv: Srv, d: ExperimentDetail): Map<string, AnalysisResult> {
  return new Map(d.cells.map((c) => [`${c.prompt}:${c.input}`, srv.store.getFull(c.runId!)!.result as AnalysisResult]));
}

/** Largest |a - b| over every number of two results, timings aside; Infinity when their shapes differ. */
function maxDiff(a: unknown, b: unknown, key = ''): number {
  if (key === 'timings') return 0;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length ? Math.max(0, ...a.map((x, i) => maxDiff(x, b[i]))) : Infinity;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    if (ka.join() !== Object.keys(b).sort().join()) return Infinity;
    return Math.max(0, ...ka.map((k) => maxDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], k)));
  }
  return a === b ? 0 : Infinity;
}

let reference: Map<string, AnalysisResult>;

/** Every cell done, each with its own run stored once (one done row, one pool record), equal to embedded mode's. */
function expectComplete(d: ExperimentDetail) {
  expect(d.status).toBe('done');
  expect(d.progress).toMatchObject({ done: 12, failed: 0, total: 12 });
  const runIds = d.cells.map((c) => c.runId!);
  expect(new Set(runIds).size).toBe(12);
  const db = pool.store.db;
  for (const id of runIds) {
    expect(pool.store.get(id)!.status).toBe('done');
    expect((db.prepare('SELECT COUNT(*) AS n FROM pool_runs WHERE run_id = ?').get(id) as { n: number }).n).toBe(1);
  }
  const got = results(pool, d);
  for (const [k, r] of reference) expect(maxDiff(got.get(k), r), `cell ${k}`).toBeLessThanOrEqual(1e-9);
}

beforeAll(async () => {
  redisPort = await freePort();
  await startRedis();
  workers = [startWorker(1), startWorker(2)];
  pool = await startServer({ redis: `redis://127.0.0.1:${redisPort}`, threads: 1, dataDir: path.join(TMP, 'pool-server') });
  embedded = await startServer({ threads: 1, dataDir: path.join(TMP, 'embedded-server') });
  // The embedded reference runs while the workers load their model.
  reference = results(embedded, await finished(embedded, await experiment(embedded, 'embedded')));
  await until('two workers', async () => (await workersSeen()).workers.length === 2);
}, 300_000);

afterAll(async () => {
  // Everything this file started goes, whatever failed: workers, servers, Redis.
  await Promise.allSettled([...children].map((p) => stopProcess(p)));
  await Promise.allSettled([pool?.close(), embedded?.close()]);
  fs.rmSync(TMP, { recursive: true, force: true });
}, 60_000);

describe('a pool of two worker processes', () => {
  it('lists its workers, their model and the Redis it uses, and says every model with no worker', async () => {
    const w = await workersSeen();
    expect(w.backend).toBe('pool');
    expect(w.redis).toMatchObject({ url: `redis://127.0.0.1:${redisPort}`, reachable: true });
    const hash = (await pool.engine.info(DEFAULT_MODEL_DIR)).modelHash;
    expect(w.workers.map((x) => x.models.map((m) => m.hash))).toEqual([[hash], [hash]]);
    const byId = new Map(w.models.map((m) => [m.id, m]));
    expect(byId.get(DEFAULT_ID)!.workers).toBe(2);
    // The workers were given only the default model: its myopic twin has none.
    expect(byId.get(TWIN_ID)!.workers).toBe(0);
    expect((await call(pool, 'GET', '/api/health')).json).toMatchObject({ ok: true, backend: { kind: 'pool', ok: true } });
  });

  it('keeps a run of a model no worker has queued, counts it as waiting, and removes its job when it is cancelled', async () => {
    const r = await call(pool, 'POST', '/api/runs', { model: TWIN_ID, prompt: 'Hello. ', input: 'Nobody runs this.', options: { spanKnockouts: false } });
    const id = r.json.id as string;
    const hash = (await pool.engine.info(pool.registry.get(TWIN_ID)!.md.dir)).modelHash;
    const queue = new Queue(queueName(hash), { connection: { host: '127.0.0.1', port: redisPort } });
    await until('its job in Redis', async () => (await queue.getJobState(id)) === 'waiting');
    const m = (await workersSeen()).models.find((x) => x.id === TWIN_ID)!;
    expect(m).toMatchObject({ workers: 0, waiting: 1, active: 0 });
    expect(pool.store.get(id)!.status).toBe('queued');
    expect((await call(pool, 'POST', `/api/runs/${id}/cancel`)).status).toBeLessThan(300);
    await until('the job removed', async () => (await queue.getJobState(id)) === 'unknown');
    expect(pool.store.get(id)!.status).toBe('cancelled');
    await queue.close();
  });

  it('runs an experiment of 2 prompts x 6 inputs with results equal to embedded mode to 1e-9, and says which worker ran each cell', async () => {
    const d = await finished(pool, await experiment(pool, 'pool'));
    expectComplete(d);
    const ran = await Promise.all(d.cells.map(async (c) => (await call(pool, 'GET', `/api/runs/${c.runId}/worker`)).json.worker as string));
    const ids = (await workersSeen()).workers.map((w) => w.id);
    expect(ran.every((w) => ids.includes(w))).toBe(true);
    expect(new Set(ran).size).toBe(2); // both workers took cells
    // The experiment's own view names each cell's worker too (the matrix shows it).
    expect(d.cells.map((c) => c.worker)).toEqual(ran);
    expect((await workersSeen()).jobsLastMinute).toBeGreaterThan(0);
  }, 300_000);

  it('fails a job with an input error once, without retrying it, and keeps the error field', async () => {
    const runId = crypto.randomUUID();
    // An input longer than the default model's context on its own tokenizer.
    const md = openModelDir(DEFAULT_MODEL_DIR);
    const started = pool.pool!.start(runId, { modelDir: DEFAULT_MODEL_DIR, modelId: DEFAULT_ID, prompt: 'Hello. ', input: overflowingText(md), options: {} }, {});
    const err = await started.promise.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).isInputError).toBe(true);
    expect((err as RemoteError).field).toBe('input');
    expect((err as RemoteError).message).toContain(`context of ${md.config.nCtx}`);
    const queue = new Queue(queueName((await pool.engine.info(DEFAULT_MODEL_DIR)).modelHash), { connection: { host: '127.0.0.1', port: redisPort } });
    const job = await Job.fromId(queue, runId);
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    await queue.close();
  });

  it('cancels a run on the worker that runs it: the worker stops and the run is cancelled', async () => {
    const r = await call(pool, 'POST', '/api/runs', LONG_RUN);
    const id = r.json.id as string;
    const busy = await until('a worker running the run', async () => (await workersSeen()).workers.find((w) => w.current.some((c) => c.runId === id)));
    expect((await call(pool, 'POST', `/api/runs/${id}/cancel`)).status).toBeLessThan(300);
    await until('the run cancelled', () => pool.store.get(id)!.status === 'cancelled');
    // The flag reached the worker: it gives the job up (failed as cancelled) instead of finishing it.
    const queue = new Queue(queueName((await pool.engine.info(DEFAULT_MODEL_DIR)).modelHash), { connection: { host: '127.0.0.1', port: redisPort } });
    await until('the job given up', async () => (await queue.getJobState(id)) === 'failed');
    const job = await Job.fromId(queue, id);
    expect(job!.failedReason).toBe('cancelled by the user');
    await queue.close();
    const after = (await workersSeen()).workers.find((w) => w.id === busy.id)!;
    expect(after.current.some((c) => c.runId === id)).toBe(false);
  });

  it('completes an experiment with every cell stored once when a worker is killed with SIGKILL mid-job', async () => {
    const id = await experiment(pool, 'kill -9');
    const [status, victim] = await until('a worker mid-job', async () => {
      const w = (await workersSeen()).workers.find((x) => x.current.length > 0);
      const proc = w && workers.find((p) => p.proc.pid === w.pid);
      return proc && ([w, proc] as const);
    });
    await stopProcess(victim.proc, 'SIGKILL');
    const d = await finished(pool, id);
    expectComplete(d);
    // The job it held was taken up by the other worker once its lock lapsed (stalled-job detection).
    const orphan = status.current[0].runId;
    expect((await call(pool, 'GET', `/api/runs/${orphan}/worker`)).json.worker).not.toBe(status.id);
    workers = workers.filter((w) => w !== victim);
  }, 300_000);

  it('says Redis is unreachable while it is down, and completes an experiment across a Redis restart', async () => {
    const id = await experiment(pool, 'redis restart');
    await until('a cell done', async () => (await detail(pool, id)).progress.done >= 1);
    await stopProcess(redisProc, 'SIGKILL');
    const health = await until('health saying so', async () => {
      const h = (await call(pool, 'GET', '/api/health')).json;
      return h.ok === false && h;
    });
    expect((health.backend as { message: string }).message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);
    expect((await workersSeen()).redis).toMatchObject({ reachable: false });
    await startRedis();
    const d = await finished(pool, id);
    expectComplete(d);
    expect((await call(pool, 'GET', '/api/health')).json).toMatchObject({ ok: true });
  }, 300_000);

  it('on SIGTERM, a worker finishes its current job, delivers it, and exits with status 0', async () => {
    const w = workers[0];
    const r = await call(pool, 'POST', '/api/runs', LONG_RUN);
    const id = r.json.id as string;
    await until('the worker running it', async () => (await workersSeen()).workers.some((x) => x.pid === w.proc.pid && x.current.some((c) => c.runId === id)));
    const code = await stopProcess(w.proc, 'SIGTERM');
    expect(code).toBe(0);
    await until('the run stored', () => pool.store.get(id)!.status === 'done');
    expect(w.log()).toMatch(/SIGTERM: finishing the current job/);
  });
});
