// Every HTML report is served the same way (a download unless ?inline=1, under default-src 'none'), and a foreign
// Origin is refused whatever Sec-Fetch-Site says, even with a valid token.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';
import { rawRequest } from './helpers/raw-request.js';

const MODEL = 'gpt2-opset14';
const TOKEN = 'test-token-1234';

let srv: Awaited<ReturnType<typeof startServer>>;
let runA: string;
let runB: string;
let experiment: string;

const auth = { authorization: `Bearer ${TOKEN}` };
const req = (method: string, p: string, headers: Record<string, string> = {}, body?: string) => rawRequest(srv.base, method, p, { ...auth, ...headers }, body);

beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)], token: TOKEN });
  const create = async (prompt: string) => {
    const r = await req('POST', '/api/runs', { 'content-type': 'application/json' }, JSON.stringify({ model: MODEL, prompt, input: 'and then it rained.', options: { spanKnockouts: false } }));
    expect(r.status).toBe(202);
    return r.json.id as string;
  };
  runA = await create('The day was warm ');
  runB = await create('It was cold ');
  const x = await req(
    'POST',
    '/api/experiments',
    { 'content-type': 'application/json' },
    JSON.stringify({ model: MODEL, prompts: [{ text: 'The day was warm ' }, { text: 'It was cold ' }], inputs: { texts: ['and then it rained.'] }, options: { spanKnockouts: false, resamples: 100 } }),
  );
  expect(x.status).toBe(202);
  experiment = x.json.id as string;
  const until = async (f: () => Promise<boolean>) => {
    for (let k = 0; k < 1200 && !(await f()); k++) await new Promise((r) => setTimeout(r, 100));
  };
  await until(async () => (await req('GET', `/api/experiments/${experiment}`)).json.status !== 'running');
  for (const id of [runA, runB]) await until(async () => (await req('GET', `/api/runs/${id}`)).json.status === 'done');
}, 180_000);

afterAll(async () => {
  await srv?.close();
});

describe('HTML reports', () => {
  const reports = () => [`/api/runs/${runA}/report.html`, `/api/compare/report.html?ids=${runA},${runB}`, `/api/experiments/${experiment}/report.html`];

  it('are all downloads (attachment) with default-src none and no caching', async () => {
    for (const p of reports()) {
      const r = await req('GET', p);
      expect(r.status, p).toBe(200);
      expect(r.headers['content-type'], p).toMatch(/^text\/html/);
      expect(r.headers['content-disposition'], p).toMatch(/^attachment; filename="[^"]+\.html"$/);
      expect(r.headers['content-security-policy'], p).toMatch(/^default-src 'none'/);
      expect(r.headers['cache-control'], p).toBe('no-store');
    }
  });

  it('are shown inline only when asked with ?inline=1, under the same policy', async () => {
    for (const p of reports()) {
      const r = await req('GET', `${p}${p.includes('?') ? '&' : '?'}inline=1`);
      expect(r.status, p).toBe(200);
      expect(r.headers['content-disposition'], p).toMatch(/^inline; filename="[^"]+\.html"$/);
      expect(r.headers['content-security-policy'], p).toMatch(/^default-src 'none'/);
    }
  });

  it('answer a bad inline value with a 400 naming it', async () => {
    const r = await req('GET', `/api/experiments/${experiment}/report.html?inline=yes`);
    expect(r.status).toBe(400);
    expect(r.json.field).toBe('inline');
  });

  it('the experiment JSON and CSV are downloads too', async () => {
    for (const p of [`/api/experiments/${experiment}/report.json`, `/api/experiments/${experiment}/report.csv?table=cells`]) {
      const r = await req('GET', p);
      expect(r.status, p).toBe(200);
      expect(r.headers['content-disposition'], p).toMatch(/^attachment; /);
    }
  });
});

describe('a foreign Origin', () => {
  it('is refused on a POST with a valid token even when Sec-Fetch-Site says same-origin', async () => {
    const r = await req('POST', `/api/runs/${runA}/cancel`, { origin: 'http://evil.example', 'sec-fetch-site': 'same-origin' });
    expect(r.status).toBe(403);
    expect(r.json.field).toBe('origin');
    expect(r.json.error).toContain('http://evil.example');
  });

  it('is refused with Sec-Fetch-Site none too, and an opaque "null" Origin as well', async () => {
    for (const origin of ['http://evil.example', 'null']) {
      const r = await req('DELETE', `/api/runs/${runB}`, { origin, 'sec-fetch-site': 'none' });
      expect(r.status, origin).toBe(403);
    }
    expect((await req('GET', `/api/runs/${runB}`)).status).toBe(200);
  });

  it('its own Origin with same-origin passes', async () => {
    const r = await req('POST', `/api/runs/${runA}/cancel`, { origin: srv.base, 'sec-fetch-site': 'same-origin' });
    expect(r.status).toBe(409); // the run is done: refused for that reason, not for its origin
    expect(r.json.field).toBe('id');
  });
});
