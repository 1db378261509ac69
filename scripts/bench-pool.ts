// Benchmark: experiment cells per minute on a worker pool (1 and 2 worker processes, 1 thread each) against embedded mode.
// Usage: tsx scripts/bench-pool.ts [--inputs N] (needs redis-server on PATH; starts and stops everything itself).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { serve } from '../server/main.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bench-pool-'));
const argIdx = process.argv.indexOf('--inputs');
const N_INPUTS = argIdx > 0 ? Number(process.argv[argIdx + 1]) : 10;
const PROMPTS = [{ text: 'The President said to the Congress: ' }, { text: 'Chapter one. ' }];
const SENTENCES = ['The state of the Union is strong.', 'We must balance the budget this year.', 'She opened the door and looked outside.', 'Prices rose again in the spring.', 'The army crossed the river at dawn.'];
const INPUTS = Array.from({ length: N_INPUTS }, (_, i) => `${SENTENCES[i % SENTENCES.length]} ${SENTENCES[(i * 3 + 1) % SENTENCES.length]} (${i})`);
const OPTIONS = { spanKnockouts: false, resamples: 200 };
const children: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function timeExperiment(base: string, inputs: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/experiments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompts: PROMPTS, inputs: { texts: inputs }, options: OPTIONS }) });
  const { id } = (await r.json()) as { id: string };
  for (;;) {
    const d = (await (await fetch(`${base}/api/experiments/${id}`)).json()) as { status: string; progress: { failed: number } };
    if (d.status !== 'running') {
      if (d.status !== 'done' || d.progress.failed) throw new Error(`experiment ${d.status}`);
      return performance.now() - t0;
    }
    await sleep(100);
  }
}

/** Cells per minute of one mode: a 2 x 1 warm-up (graph caches), then the timed 2 x N experiment. */
async function measure(label: string, redis: string | null, workers: number): Promise<number> {
  const procs: ChildProcess[] = [];
  for (let k = 0; k < workers; k++) {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), 'worker', '--redis', redis!, '--model', DEFAULT_MODEL_DIR, '--threads', '1', '--data', path.join(TMP, `w${k}`)], { stdio: 'ignore' });
    procs.push(p);
    children.push(p);
  }
  const s = await serve({ host: '127.0.0.1', port: 0, models: [], threads: 1, dataDir: path.join(TMP, label), token: false, redis });
  const base = `http://127.0.0.1:${(s.server.address() as net.AddressInfo).port}`;
  try {
    if (redis) while (((await (await fetch(`${base}/api/workers`)).json()) as { workers: unknown[] }).workers.length < workers) await sleep(200);
    await timeExperiment(base, ['Warm-up text.']);
    const ms = await timeExperiment(base, INPUTS);
    const perMin = (PROMPTS.length * INPUTS.length) / (ms / 60_000);
    console.log(`${label.padEnd(22)} ${PROMPTS.length * INPUTS.length} cells in ${(ms / 1000).toFixed(1)} s: ${perMin.toFixed(1)} cells/min`);
    return perMin;
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    s.experiments.close();
    s.server.closeAllConnections?.();
    await new Promise<void>((r) => s.server.close(() => r()));
    await s.pool?.close();
    await s.engine.close();
    s.store.close();
  }
}

async function main() {
  const port = await freePort();
  const redisProc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(redisProc);
  const url = `redis://127.0.0.1:${port}`;
  let probe: Redis;
  for (;;) {
    probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    if (await probe.connect().then(() => true, () => false)) break;
    probe.disconnect();
    await sleep(100);
  }
  try {
    console.log(`${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(2)}; experiment of ${PROMPTS.length} prompts x ${INPUTS.length} inputs, 1 ONNX thread per process`);
    const embedded = await measure('embedded', null, 0);
    await probe.flushall();
    const one = await measure('pool, 1 worker', url, 1);
    await probe.flushall();
    const two = await measure('pool, 2 workers', url, 2);
    console.log(`ratios to embedded: 1 worker ${(one / embedded).toFixed(2)}x, 2 workers ${(two / embedded).toFixed(2)}x`);
  } finally {
    probe.disconnect();
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(TMP, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
