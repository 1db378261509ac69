// The server under careless and hostile clients: hook globs, Host, cross-site requests, headers, odd inputs, CSV, queue, token, port and data lock.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globMatches, matchHooks, parseHookName } from '../shared/hooks.js';
import { resolveHooks } from '../server/report/activations.js';
import { serve, resolveToken } from '../server/main.js';
import { DataDirInUseError } from '../server/data-lock.js';
import { QueueFullError } from '../server/runs/run-manager.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';
import { rawRequest } from './helpers/raw-request.js';
import { DEFAULT_ID } from './helpers/bundled.js';

const ROOT = path.resolve(FIXTURES, '../../..');
const MODEL = 'gpt2-opset14';
const models = [path.join(FIXTURES, MODEL)];

let srv: Awaited<ReturnType<typeof startServer>>;
let runA: string;
let runB: string;
const LABEL_A = '=HYPERLINK("http://evil.example","c")';

beforeAll(async () => {
  srv = await startServer({ models });
  const a = await srv.api.createRun({ model: MODEL, prompt: '+1+1 is two. ', input: '-1 and =2 and @x.', label: LABEL_A });
  const b = await srv.api.createRun({ model: MODEL, prompt: '@SUM(A1) says ', input: '-1 and =2 and @x.', label: '-2+3' });
  runA = a.id;
  runB = b.id;
  for (const id of [runA, runB]) expect((await srv.api.waitForRun(id)).status).toBe('done');
}, 120_000);
afterAll(async () => {
  await srv?.close();
});

const req = (method: string, p: string, headers: Record<string, string> = {}, body?: string | Buffer) => rawRequest(srv.base, method, p, headers, body);
const json = { 'content-type': 'application/json' };

describe('hook patterns', () => {
  it('match as globs: * any run, ? one character, everything else literal', () => {
    expect(globMatches('blocks.*.attn.hook_pattern', 'blocks.11.attn.hook_pattern')).toBe(true);
    expect(globMatches('blocks.?.hook_resid_pre', 'blocks.10.hook_resid_pre')).toBe(false);
    expect(globMatches('blocks.1*', 'blocks.1')).toBe(true);
    expect(globMatches('*', '')).toBe(true);
    expect(globMatches('a.c', 'abc')).toBe(false);
    expect(matchHooks('blocks.*.attn.hook_v', 3)).toEqual(['blocks.0.attn.hook_v', 'blocks.1.attn.hook_v', 'blocks.2.attn.hook_v']);
  });

  it('a pattern of many stars that matches nothing is answered at once (a backtracking regex never finished)', () => {
    expect(() => resolveHooks([`${'*'.repeat(60)}!`], 8)).toThrow(/matches no hook/);
    expect(() => resolveHooks([`${'*a'.repeat(49)}!`], 8)).toThrow(/matches no hook/);
    expect(matchHooks(`${'*?'.repeat(20)}`, 2)).toEqual(matchHooks('*', 2).filter((h) => h.length >= 20));
  });

  it('over HTTP, the same pattern is a 4xx naming hooks.0 and the server keeps answering', async () => {
    for (const p of [`/api/runs/${runA}/activations/estimate`, `/api/runs/${runA}/activations`]) {
      const r = await req('POST', p, json, JSON.stringify({ hooks: [`${'*'.repeat(60)}!`] }));
      expect([r.status, r.json.field]).toEqual([422, 'hooks.0']);
      expect((await req('GET', '/api/health')).status).toBe(200);
    }
  });

  it('a pattern longer than 100 characters is a 400 naming it', async () => {
    const r = await req('POST', `/api/runs/${runA}/activations/estimate`, json, JSON.stringify({ hooks: ['logits', `${'?'.repeat(101)}`] }));
    expect([r.status, r.json.field]).toEqual([400, 'hooks.1']);
    expect(() => matchHooks('*'.repeat(101), 2)).toThrow(/at most 100/);
  });

  it('a layer number with a leading zero is no hook name: estimate and export both refuse it, naming hooks.0', async () => {
    expect(parseHookName('blocks.01.hook_resid_pre')).toBeNull();
    for (const p of [`/api/runs/${runA}/activations/estimate`, `/api/runs/${runA}/activations`]) {
      const r = await req('POST', p, json, JSON.stringify({ hooks: ['blocks.01.hook_resid_pre'] }));
      expect([r.status, r.json.field]).toEqual([422, 'hooks.0']);
    }
  });
});

describe('who may talk to the server', () => {
  it('a request under a foreign Host name (DNS rebinding) is refused with 403 naming host, reads and deletes alike', async () => {
    const host = { host: `evil.example:${new URL(srv.base).port}` };
    const list = await req('GET', '/api/runs', host);
    expect([list.status, list.json.field]).toEqual([403, 'host']);
    expect(list.body.toString()).not.toContain(runA);
    const del = await req('DELETE', `/api/runs/${runB}`, host);
    expect(del.status).toBe(403);
    expect((await srv.api.run(runB)).status).toBe('done');
    for (const h of ['localhost', '127.0.0.1', '[::1]']) expect((await req('GET', '/api/health', { host: `${h}:1` })).status).toBe(200);
  });

  it('a state-changing request from another origin is refused; the same origin and scripts without Origin pass', async () => {
    const port = new URL(srv.base).port;
    const cancelFromEvil = await req('POST', `/api/runs/${runA}/cancel`, { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, 'x=1');
    expect([cancelFromEvil.status, cancelFromEvil.json.field]).toEqual([403, 'origin']);
    const crossSite = await req('DELETE', `/api/runs/${runA}`, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    const nullOrigin = await req('POST', '/api/runs', { origin: 'null', ...json }, '{}');
    expect(nullOrigin.status).toBe(403);
    // Same origin: the request reaches the handler (the run is finished, so cancelling it is a 409).
    const same = await req('POST', `/api/runs/${runA}/cancel`, { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' });
    expect(same.status).toBe(409);
    expect((await req('POST', `/api/runs/${runA}/cancel`)).status).toBe(409);
  });

  it('another site cannot embed API responses (an <img> or <script> GET), and activations are never computed on GET', async () => {
    const embedded = await req('GET', `/api/runs/${runA}`, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' });
    expect(embedded.status).toBe(403);
    const get = await req('GET', `/api/runs/${runA}/activations?hooks=logits`);
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
  });

  it('every response forbids framing and sniffing, sets a CSP and keeps referrers within the origin', async () => {
    for (const p of ['/', '/api/health', '/api/nope']) {
      const r = await req('GET', p);
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('same-origin');
    }
    const html = await req('GET', `/api/runs/${runA}/report.html?inline=1`);
    expect(html.status).toBe(200);
    expect(html.headers['content-security-policy']).toMatch(/^default-src 'none'/);
  });
});

describe('odd inputs get a 4xx naming the field', () => {
  it('a lone surrogate in any text is a 400 naming that field, never stored', async () => {
    const before = (await srv.api.runs()).total;
    const r = await req('POST', '/api/runs', json, '{"model":"gpt2-opset14","prompt":"a\\ud800b","input":"x"}');
    expect([r.status, r.json.field]).toEqual([400, 'prompt']);
    const l = await req('POST', '/api/runs', json, '{"prompt":"ok","input":"x","label":"\\udc00"}');
    expect([l.status, l.json.field]).toEqual([400, 'label']);
    expect((await srv.api.runs()).total).toBe(before);
    // A proper pair is fine text.
    expect(await srv.api.runs({ q: '\u{1F600}' })).toMatchObject({ total: 0 });
  });

  it('limit=0x10 and q=%00 are refused instead of being read as 16 and as "match everything"', async () => {
    const hex = await req('GET', '/api/runs?limit=0x10');
    expect([hex.status, hex.json.field]).toEqual([400, 'limit']);
    const nul = await req('GET', '/api/runs?q=%00');
    expect([nul.status, nul.json.field]).toEqual([400, 'q']);
    expect((await req('GET', '/api/runs?limit=1e1')).status).toBe(400);
    expect((await req('GET', '/api/runs?limit=16')).status).toBe(200);
  });

  it('a body that is not the Content-Encoding it claims is a 4xx naming body', async () => {
    for (const enc of ['gzip', 'br', 'deflate', 'zstd']) {
      const r = await req('POST', '/api/runs', { ...json, 'content-encoding': enc }, '{"prompt":"a","input":"b"}');
      expect(r.status, enc).toBeGreaterThanOrEqual(400);
      expect(r.status, enc).toBeLessThan(500);
      expect(r.json.field, enc).toBe('body');
    }
  });

  it('a path that does not percent-decode is a 400 naming path', async () => {
    for (const p of ['/api/runs/%', '/api/runs/%E0%A4%A', '/api/runs/%/report.json']) {
      const r = await req('GET', p);
      expect([r.status, r.json.field], p).toEqual([400, 'path']);
    }
  });

  it("a prompt longer than the model's context is a 422 whose message and field both say prompt", async () => {
    const r = await req('POST', '/api/runs', json, JSON.stringify({ model: MODEL, prompt: 'word '.repeat(200), input: 'x' }));
    expect([r.status, r.json.field]).toEqual([422, 'prompt']);
    expect(r.json.error).toMatch(/^prompt: /);
  });
});

describe('CSV exports', () => {
  const cells = (csv: string) => parseCsv(csv, { relax_column_count: true }) as string[][];

  it('text cells starting with = + - @ get a leading quote; numbers, negative ones too, stay numbers', async () => {
    const r = await req('POST', '/api/compare/report.csv', json, JSON.stringify({ ids: [runA, runB], table: 'summary' }));
    expect(r.status).toBe(200);
    const [head, ...rows] = cells(r.body.toString('utf8'));
    const col = (name: string) => head.indexOf(name);
    expect(rows.map((x) => x[col('label')]).sort()).toEqual([`'${LABEL_A}`, "'-2+3"].sort());
    expect(rows.map((x) => x[col('prompt')]).sort()).toEqual(["'+1+1 is two. ", "'@SUM(A1) says "].sort());
    for (const x of rows) expect(Number.isFinite(Number(x[col('mean_benefit')]))).toBe(true);
    const tokens = await req('GET', `/api/runs/${runA}/report.csv?table=tokens`);
    const [th, ...trows] = cells(tokens.body.toString('utf8'));
    for (const row of trows) {
      expect(row[th.indexOf('text')]).not.toMatch(/^[=+\-@\t\r]/);
      expect(Number.isFinite(Number(row[th.indexOf('benefit')]))).toBe(true);
    }
    expect(trows.some((row) => Number(row[th.indexOf('benefit')]) < 0 && row[th.indexOf('benefit')].startsWith('-'))).toBe(true);
  });
});

describe('limits and access', () => {
  it('a full queue answers 429 with Retry-After, and accepts again once it drains', async () => {
    const s = await startServer({ models, concurrency: 1, maxQueue: 1 });
    const held: { id: string }[] = [];
    try {
      // One long run on the bundled model holds the only slot, one more waits: the queue (1) is full.
      const slow = s.registry.get(DEFAULT_ID)!;
      const long = { prompt: 'The following is a speech to the Congress of the United States. '.repeat(6), input: 'Fellow citizens of the Senate and House of Representatives: '.repeat(4), options: {} };
      held.push(s.runs.submit(slow, long), s.runs.submit(slow, long));
      expect(() => s.runs.submit(slow, long)).toThrow(QueueFullError);
      const body = JSON.stringify({ model: MODEL, prompt: 'The cat sat. ', input: 'It was warm.' });
      const refused = await rawRequest(s.base, 'POST', '/api/runs', json, body);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.json).toMatchObject({ field: 'queue' });
      const twins = await rawRequest(s.base, 'POST', '/api/twins', json, JSON.stringify({ model: DEFAULT_ID, prompt: 'a', input: 'b' }));
      expect(twins.status).toBe(429);
      for (const r of held) s.runs.cancel(r.id);
      await s.runs.idle();
      expect((await rawRequest(s.base, 'POST', '/api/runs', json, body)).status).toBe(202);
    } finally {
      for (const r of held) s.runs.cancel(r.id);
      await s.runs.idle();
      await s.close();
    }
  }, 120_000);

  it('with an access token, the API answers 401 without it and accepts a Bearer header, a ?token= visit and its cookie', async () => {
    const token = 'test-token-0123456789';
    const s = await startServer({ models, token });
    try {
      const none = await rawRequest(s.base, 'GET', '/api/runs');
      expect([none.status, none.json.field]).toEqual([401, 'token']);
      expect((await rawRequest(s.base, 'GET', '/api/runs', { authorization: 'Bearer wrong-token-000' })).status).toBe(401);
      expect((await rawRequest(s.base, 'GET', '/api/runs', { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await rawRequest(s.base, 'GET', '/')).status).toBe(401);
      const visit = await rawRequest(s.base, 'GET', `/?token=${token}`);
      expect([visit.status, visit.headers.location]).toEqual([302, '/']);
      const cookie = String(visit.headers['set-cookie']?.[0]).split(';')[0];
      expect(String(visit.headers['set-cookie']?.[0])).toMatch(/HttpOnly/);
      expect((await rawRequest(s.base, 'GET', '/api/runs', { cookie })).status).toBe(200);
      expect((await rawRequest(s.base, 'GET', '/api/health')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('a server beyond loopback generates a token unless told not to; loopback needs none', async () => {
    expect(resolveToken('127.0.0.1', undefined)).toBeNull();
    expect(resolveToken('0.0.0.0', undefined)).toMatch(/^[\w-]{24,}$/);
    expect(resolveToken('0.0.0.0', undefined)).not.toBe(resolveToken('0.0.0.0', undefined));
    expect(resolveToken('192.168.1.5', false)).toBeNull();
    const s = await startServer({ host: '0.0.0.0', models });
    try {
      expect(s.token).toMatch(/^[\w-]{24,}$/);
      expect(s.url).toContain(`?token=${s.token}`);
      const port = new URL(s.url).port;
      expect((await rawRequest(`http://127.0.0.1:${port}`, 'GET', '/api/runs')).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});

/**
 * Runs `npm start`'s entry point in a child process; resolves with its exit code and output. `onOutput` sees the
 * output so far and may kill the child.
 */
function startChild(env: Record<string, string>, onOutput?: (out: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server/main.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (d: Buffer) => {
      out += d.toString();
      onOutput?.(out, child);
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('one server per port and per data directory', () => {
  it('on a port another program holds, the server exits non-zero naming the port, without claiming to run', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-port-'));
    try {
      const { code, out } = await startChild({ PORT: String(port), PRECACHE_LENS_DATA: data, PRECACHE_LENS_HOST: '127.0.0.1' });
      expect(code).not.toBe(0);
      expect(out).toContain(`port ${port}`);
      expect(out).not.toContain('is running');
    } finally {
      holder.close();
      fs.rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);

  it('a server killed with SIGKILL leaves no lock behind: the next one starts on the same data directory', async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-kill-'));
    try {
      const { out } = await startChild({ PORT: '0', PRECACHE_LENS_DATA: data, PRECACHE_LENS_HOST: '127.0.0.1' }, (o, child) => {
        if (o.includes('is running')) child.kill('SIGKILL');
      });
      expect(out).toContain('is running');
      const next = await serve({ host: '127.0.0.1', port: 0, models: [], dataDir: data });
      next.server.close();
      await next.engine.close();
      next.store.close();
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);

  it("a second server on a live server's data directory names the holder's process, exits non-zero and marks nothing interrupted", async () => {
    const queued = srv.store.create({ modelId: MODEL, prompt: 'p', input: 'x', options: {} });
    try {
      const { code, out } = await startChild({ PORT: '0', PRECACHE_LENS_DATA: srv.dataDir, PRECACHE_LENS_HOST: '127.0.0.1' });
      expect(code).not.toBe(0);
      expect(out).toContain(`process ${process.pid}`);
      expect(srv.store.get(queued.id)!.status).toBe('queued');
      await expect(serve({ host: '127.0.0.1', port: 0, models: [], dataDir: srv.dataDir })).rejects.toBeInstanceOf(DataDirInUseError);
      expect(srv.store.get(queued.id)!.status).toBe('queued');
      expect((await req('GET', '/api/health')).status).toBe(200);
    } finally {
      srv.store.delete(queued.id);
    }
  }, 90_000);
});
