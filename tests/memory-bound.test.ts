// Memory and disk stay bounded over many distinct activation exports: runtime sessions and rewritten graphs are LRU caches.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allHookNames } from '../shared/hooks.js';
import { ApiClient } from '../shared/api.js';
import { FIXTURES } from './helpers/golden.js';

const ROOT = path.resolve(FIXTURES, '../../..');
const MODEL = 'gpt2-opset14';
const EXPORTS = 50;
/** The bounds the server runs with: about two sessions of this small model, and 64 KiB of rewritten graphs. */
const SESSION_CACHE_MB = '10';
const GRAPH_CACHE_MB = '0.0625';

let child: ChildProcess;
let base = '';
let data = '';

/** Resident memory of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

beforeAll(async () => {
  data = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-mem-'));
  child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      PRECACHE_LENS_HOST: '127.0.0.1',
      PRECACHE_LENS_DATA: data,
      PRECACHE_LENS_MODELS: path.join(FIXTURES, MODEL),
      PRECACHE_LENS_SESSION_CACHE_MB: SESSION_CACHE_MB,
      PRECACHE_LENS_GRAPH_CACHE_MB: GRAPH_CACHE_MB,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}, 60_000);

afterAll(() => {
  child?.kill('SIGTERM');
  if (data) fs.rmSync(data, { recursive: true, force: true });
});

describe('bounded caches', () => {
  it(`${EXPORTS} exports, each with a different hook set, leave resident memory and the graph cache within their bounds`, async () => {
    const api = new ApiClient(base);
    const { id } = await api.createRun({ model: MODEL, prompt: 'The cat sat on the mat. ', input: 'It was warm.' });
    expect((await api.waitForRun(id)).status).toBe('done');
    const hooks = allHookNames(3).filter((h) => h !== 'logits');
    const sets: string[][] = [];
    for (let i = 0; i < hooks.length && sets.length < EXPORTS; i++) for (let j = i + 1; j < hooks.length && sets.length < EXPORTS; j++) sets.push([hooks[i], hooks[j]]);
    expect(new Set(sets.map((s) => s.join())).size).toBe(EXPORTS);

    const exportOnce = async (set: string[]) => {
      const r = await fetch(`${base}/api/runs/${id}/activations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hooks: set }) });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    };
    // Warm up: the first exports load the runtime and allocator pools, which are not per hook set.
    for (const set of sets.slice(0, 10)) await exportOnce(set);
    const before = rssMiB(child.pid!);
    for (const set of sets.slice(10)) await exportOnce(set);
    const after = rssMiB(child.pid!);
    console.log(`RSS after 10 exports ${before.toFixed(1)} MiB, after ${EXPORTS}: ${after.toFixed(1)} MiB (+${(after - before).toFixed(1)})`);
    // Unbounded, each hook set kept its own session (measured: +131 MiB over these 40 sets, ~3 MiB each here and
    // 68 MB each on the default model). Bounded, what remains is allocator noise.
    expect(after - before).toBeLessThan(40);

    const graphs = fs.readdirSync(path.join(data, 'graph-cache')).filter((f) => f.endsWith('.onnx'));
    const graphBytes = graphs.reduce((a, f) => a + fs.statSync(path.join(data, 'graph-cache', f)).size, 0);
    // Within the bound, except that the graph just written is always kept.
    const largest = Math.max(...graphs.map((f) => fs.statSync(path.join(data, 'graph-cache', f)).size));
    expect(graphBytes).toBeLessThanOrEqual(Number(GRAPH_CACHE_MB) * 2 ** 20 + largest);
    expect(graphs.length).toBeLessThan(EXPORTS);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
  }, 180_000);
});
