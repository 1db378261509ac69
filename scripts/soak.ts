// Soak: mixed traffic against a server of its own for N minutes; prints the server's RSS over time and error counts.
// Usage: npm run soak -- --minutes N [--clients 4] [--json FILE] [--sample-s 10]
// It starts `node --import tsx server/main.ts` on a free loopback port with a throwaway data directory, drives it
// with a few concurrent clients (runs and their SSE streams, reports, history, compare, attention, experiments and
// their streams, cancels, deletes, deliberate bad requests), then stops it with SIGTERM. Exit status 1 on any error.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const program = new Command()
  .name('soak')
  .option('--minutes <n>', 'how long to drive traffic', positive('--minutes'), 5)
  .option('--clients <n>', 'concurrent clients', positive('--clients'), 4)
  .option('--sample-s <n>', 'seconds between RSS samples', positive('--sample-s'), 10)
  .option('--json <file>', 'also write the summary as JSON')
  .parse(process.argv);
const opts = program.opts<{ minutes: number; clients: number; sampleS: number; json?: string }>();

const PROMPTS = ['The President said to the Congress: ', 'Chapter one. ', 'Dear Sir, ', 'Once upon a time, ', 'Q: What happened next? A: '];
const INPUTS = ['The state of the Union is strong.', 'We must balance the budget this year.', 'She opened the door and looked outside.', 'Prices rose again in the spring.', 'The army crossed the river at dawn.'];
const FAST = { spanKnockouts: false };
const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

const ops = new Map<string, number>();
const errors = new Map<string, number>();
const errorSamples: string[] = [];
let sseStreams = 0;
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

function error(kind: string, detail: string) {
  count(errors, kind);
  if (errorSamples.length < 20) {
    errorSamples.push(`${kind}: ${detail}`);
    // At once, with the time: a long soak's first error is worth seeing before it ends.
    console.error(`error at ${new Date().toISOString()}: ${kind}: ${detail}`);
  }
}

/** An error with its cause: fetch says only "fetch failed", the socket error (ECONNRESET, "other side closed") is its cause. */
function describe(e: unknown): string {
  const err = e as Error & { cause?: { message?: string; code?: string } };
  const cause = err.cause ? ` (cause: ${err.cause.code ? `${err.cause.code} ` : ''}${err.cause.message ?? String(err.cause)})` : '';
  return `${err.message}${cause}`;
}

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

/** The server process's resident set in MiB (Linux /proc, else ps). */
function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux: ask ps
  }
  return null;
}

let base = '';

/** One request; statuses in `ok` are expected; anything else (and any 5xx or network error) is an error. */
async function req(kind: string, method: string, p: string, body?: unknown, ok: number[] = [200]): Promise<{ status: number; json: unknown; text: string } | null> {
  count(ops, kind);
  try {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await r.text();
    if (!ok.includes(r.status)) {
      error(kind, `${method} ${p} -> ${r.status} ${text.slice(0, 200)}`);
      return null;
    }
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // HTML or CSV
    }
    return { status: r.status, json, text };
  } catch (e) {
    error(kind, `${method} ${p} -> ${describe(e)}`);
    return null;
  }
}

/** Reads an SSE stream to its end; returns the last status event's status, or null (an error was counted). */
async function follow(kind: string, p: string, finalStatuses: string[]): Promise<string | null> {
  count(ops, kind);
  sseStreams++;
  try {
    const r = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(300_000) });
    if (r.status !== 200 || !r.body) {
      error(kind, `GET ${p} -> ${r.status}`);
      return null;
    }
    let buf = '';
    let last: string | null = null;
    const decoder = new TextDecoder();
    const reader = r.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, at);
        buf = buf.slice(at + 2);
        if (ev.startsWith('event: status')) last = (JSON.parse(ev.slice(ev.indexOf('data: ') + 6)) as { status: string }).status;
      }
    }
    if (!last || !finalStatuses.includes(last)) {
      error(kind, `${p}: the stream ended at status ${last}`);
      return null;
    }
    return last;
  } catch (e) {
    error(kind, `${p}: ${describe(e)}`);
    return null;
  }
}

const doneRuns: string[] = [];

/** The latest finished run per input text: a comparison needs runs of the same input. */
const lastByInput = new Map<string, string>();

async function runAndFollow() {
  const input = pick(INPUTS);
  const r = await req('run.create', 'POST', '/api/runs', { prompt: pick(PROMPTS), input, options: FAST, label: 'soak' }, [202, 429]);
  if (!r || r.status === 429) return;
  const id = (r.json as { id: string }).id;
  const status = await follow('run.events', `/api/runs/${id}/events`, ['done', 'failed', 'cancelled']);
  if (status === 'failed') error('run.failed', (await req('run.get', 'GET', `/api/runs/${id}`))?.text.slice(0, 300) ?? id);
  if (status !== 'done') return;
  await req('run.get', 'GET', `/api/runs/${id}`);
  await req('report.json', 'GET', `/api/runs/${id}/report.json`);
  await req('report.html', 'GET', `/api/runs/${id}/report.html`);
  await req('report.csv', 'GET', `/api/runs/${id}/report.csv?table=${pick(['tokens', 'layers', 'depth'])}`, undefined, [200, 400]);
  await req('attention', 'POST', `/api/runs/${id}/attention`, { layer: Math.floor(Math.random() * 8), head: 0 });
  await req('activations.estimate', 'POST', `/api/runs/${id}/activations/estimate`, { hooks: ['blocks.0.hook_resid_pre'] });
  doneRuns.push(id);
  const other = lastByInput.get(input);
  lastByInput.set(input, id);
  // 404: another client deleted the older run meanwhile.
  if (other) await req('compare', 'POST', '/api/compare', { ids: [other, id] }, [200, 404]);
  // History does not grow without end: the oldest soak runs go.
  if (doneRuns.length > 40) await req('run.delete', 'DELETE', `/api/runs/${doneRuns.shift()}`, undefined, [204, 404]);
}

async function cancelOne() {
  const r = await req('run.create', 'POST', '/api/runs', { prompt: pick(PROMPTS), input: pick(INPUTS), options: { spans: 'tokens' } }, [202, 429]);
  if (!r || r.status === 429) return;
  const id = (r.json as { id: string }).id;
  // Cancelled while queued or running, or already done: 202 or 409, both fine.
  await req('run.cancel', 'POST', `/api/runs/${id}/cancel`, undefined, [202, 409]);
  await follow('run.events', `/api/runs/${id}/events`, ['done', 'cancelled']);
}

async function experiment() {
  const r = await req('experiment.create', 'POST', '/api/experiments', { label: 'soak', prompts: [{ text: pick(PROMPTS) }, { text: pick(PROMPTS) + ' ' }], inputs: { texts: [pick(INPUTS), pick(INPUTS)] }, options: { ...FAST, resamples: 200 } }, [202, 429]);
  if (!r || r.status === 429) return;
  const id = (r.json as { id: string }).id;
  const status = await follow('experiment.events', `/api/experiments/${id}/events`, ['done']);
  if (status !== 'done') return;
  await req('experiment.get', 'GET', `/api/experiments/${id}`);
  await req('experiment.report', 'GET', `/api/experiments/${id}/report.${pick(['json', 'html'])}`);
  await req('experiment.delete', 'DELETE', `/api/experiments/${id}`, undefined, [204]);
}

async function reads() {
  await req('health', 'GET', '/api/health');
  await req('models', 'GET', '/api/models');
  await req('history', 'GET', `/api/runs?limit=20&q=${encodeURIComponent(pick(['soak', 'Union', 'x%_', '']))}`);
  await req('tokenize', 'POST', '/api/tokenize', { texts: [pick(PROMPTS), pick(INPUTS)] });
  await req('experiments.list', 'GET', '/api/experiments');
}

async function badRequests() {
  await req('bad.json', 'POST', '/api/runs', '{"prompt": ', [400]);
  await req('bad.model', 'POST', '/api/runs', { model: 'no-such-model', prompt: 'a', input: 'b' }, [422]);
  await req('bad.id', 'GET', '/api/runs/not-a-uuid', undefined, [400]);
  await req('bad.field', 'POST', '/api/runs', { prompt: 'a', input: 'b', options: { spans: 'nonsense' } }, [400]);
  await req('bad.endpoint', 'GET', '/api/nope', undefined, [404]);
}

async function client(until: number) {
  while (Date.now() < until) {
    const x = Math.random();
    if (x < 0.45) await runAndFollow();
    else if (x < 0.55) await cancelOne();
    else if (x < 0.65) await experiment();
    else if (x < 0.85) await reads();
    else await badRequests();
  }
}

async function main() {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-soak-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  let serverLog = '';
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), PRECACHE_LENS_DATA: data, PRECACHE_LENS_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (b: Buffer) => (serverLog = (serverLog + b.toString()).slice(-20_000)));
  server.stderr!.on('data', (b: Buffer) => (serverLog = (serverLog + b.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  const rss: { atS: number; rssMiB: number | null }[] = [];
  let sampler: NodeJS.Timeout | null = null;
  let serverExit: number | null = null;
  try {
    for (let k = 0; ; k++) {
      if (server.exitCode !== null) throw new Error(`the server exited before it answered:\n${serverLog}`);
      if (await fetch(`${base}/api/health`).then((r) => r.ok, () => false)) break;
      if (k > 1200) throw new Error('the server did not answer within 2 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    const sample = () => {
      const s = { atS: Math.round((Date.now() - t0) / 1000), rssMiB: rssMiB(server.pid!) };
      rss.push(s);
      console.log(`t=${String(s.atS).padStart(5)} s  server RSS ${s.rssMiB ?? '?'} MiB  operations ${[...ops.values()].reduce((a, b) => a + b, 0)}  errors ${[...errors.values()].reduce((a, b) => a + b, 0)}`);
    };
    sample();
    sampler = setInterval(sample, opts.sampleS * 1000);
    const until = t0 + opts.minutes * 60_000;
    await Promise.all(Array.from({ length: opts.clients }, () => client(until)));
    clearInterval(sampler);
    sampler = null;
    sample();
    // Health at the end: the server is still up and says so.
    await req('health', 'GET', '/api/health');
  } finally {
    if (sampler) clearInterval(sampler);
    if (server.exitCode === null) server.kill('SIGTERM');
    serverExit = await exited;
    fs.rmSync(data, { recursive: true, force: true });
  }
  if (serverExit !== 0) error('server.exit', `the server exited with status ${serverExit} after SIGTERM:\n${serverLog.slice(-2000)}`);
  const summary = {
    minutes: opts.minutes,
    clients: opts.clients,
    operations: Object.fromEntries([...ops].sort()),
    totalOperations: [...ops.values()].reduce((a, b) => a + b, 0),
    sseStreams,
    errors: Object.fromEntries([...errors].sort()),
    totalErrors: [...errors.values()].reduce((a, b) => a + b, 0),
    errorSamples,
    rss,
  };
  console.log(`\n${summary.totalOperations} operations (${sseStreams} SSE streams) in ${opts.minutes} min with ${opts.clients} clients; ${summary.totalErrors} errors`);
  console.log(`server RSS (MiB) every ${opts.sampleS} s: ${rss.map((s) => s.rssMiB ?? '?').join(' ')}`);
  for (const e of errorSamples) console.log(`error: ${e}`);
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(summary, null, 1)}\n`);
  process.exitCode = summary.totalErrors > 0 ? 1 : 0;
}

main().catch((e: Error) => {
  console.error(`soak: ${e.message}`);
  process.exitCode = 1;
});
