// Seeded fuzzing of every endpoint in the OpenAPI document: each bad request gets a 4xx JSON error and the server stays up.
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../shared/random.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';
import { rawRequest, type RawResponse } from './helpers/raw-request.js';

const MODEL = 'gpt2-opset14';
const SEED = 20261129;
const REQUESTS = 600;

let srv: Awaited<ReturnType<typeof startServer>>;
let runId: string;
let endpoints: { method: string; path: string; hasBody: boolean; query: string[] }[];

beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
  runId = (await srv.api.createRun({ model: MODEL, prompt: 'The cat sat. ', input: 'It was warm.' })).id;
  expect((await srv.api.waitForRun(runId)).status).toBe('done');
  const doc = (await (await fetch(`${srv.base}/api/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[] }>>;
  };
  endpoints = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path: p,
      hasBody: !!op.requestBody,
      query: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name),
    })),
  );
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

const BAD_IDS = ['x', '%25', '%00', '..%2F..%2Fetc%2Fpasswd', 'a'.repeat(300), '00000000-0000-0000-0000-00000000000g', '%ED%A0%80', "1'%20OR%20'1'%3D'1", '%E2%80%AE'];
const UNKNOWN_ID = '3f0c9b44-1d7e-4c3b-9f33-0a6a2b7c1e55';

type Fault = { method: string; path: string; headers: Record<string, string>; body?: Buffer | string; what: string; endpoint?: string };

function makeFault(rand: () => number): Fault {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const ep = pick(endpoints);
  const hasId = ep.path.includes('{id}');
  const json = { 'content-type': 'application/json' };
  const withId = (id: string) => `${ep.path.replace('{id}', id)}`;
  const faults: (() => Fault)[] = [];
  if (hasId) {
    faults.push(() => ({ method: ep.method, path: withId(pick(BAD_IDS)), headers: json, body: ep.hasBody ? '{"hooks":["logits"],"ids":[]}' : undefined, what: 'bad id' }));
    faults.push(() => ({ method: ep.method, path: withId(UNKNOWN_ID), headers: json, body: ep.hasBody ? '{"hooks":["logits"],"layer":0,"head":0}' : undefined, what: 'unknown id' }));
  }
  // Only non-destructive calls get the real run: a valid DELETE would succeed, which is not a fault.
  const target = hasId ? withId(ep.method === 'DELETE' ? UNKNOWN_ID : runId) : ep.path;
  if (ep.method === 'POST' && ep.hasBody) {
    const bodies: [string, Buffer | string, Record<string, string>][] = [
      ['malformed JSON', pick(['{', '{"a":', '[1,', '{"prompt":"x",}', 'nul', '\u0000', '{"a":1}x']), json],
      ['not an object', pick(['[]', '[1,2]', '"text"', '42', 'null', 'true']), json],
      ['wrong types', JSON.stringify(pick([{ prompt: 1, input: [], hooks: 'x', ids: 'a,b', layer: 'zero' }, { prompt: null, input: {}, hooks: [1], ids: [1, 2], head: -1 }])), json],
      ['unknown fields only', JSON.stringify({ ['x'.repeat(1 + Math.floor(rand() * 40))]: rand() }), json],
      ['lone surrogate', `{"prompt":"a\\ud800","input":"b","hooks":["\\udfff"],"ids":["\\ud83d"]}`, json],
      ['deep nesting', `${'['.repeat(20000)}${']'.repeat(20000)}`, json],
      ['over the size limit', `{"prompt":"${'a'.repeat(1_100_000)}"}`, json],
      ['plain body, gzip claimed', '{"prompt":"a"}', { ...json, 'content-encoding': pick(['gzip', 'br', 'deflate']) }],
      ['unknown encoding', zlib.gzipSync('{}'), { ...json, 'content-encoding': pick(['zstd', 'compress', 'x-bogus']) }],
      ['wrong charset', '{}', { 'content-type': 'application/json; charset=klingon' }],
      ['text body', 'prompt=a&input=b', { 'content-type': pick(['text/plain', 'application/octet-stream']) }],
    ];
    const [what, body, headers] = pick(bodies);
    faults.push(() => ({ method: 'POST', path: target, headers, body, what }));
  }
  if (ep.method === 'GET' && ep.query.length) {
    const q = pick(ep.query);
    const bad = pick(['-1', '0x10', '1e3', 'abc', '%00', '', '%ED%A0%80', '99999999999', 'a'.repeat(300)]);
    const value = q === 'q' ? pick(['%00', '%01', '%1F', 'a'.repeat(201)]) : q === 'ids' ? pick(['a,b', UNKNOWN_ID, `${UNKNOWN_ID},${UNKNOWN_ID}`, '']) : bad;
    if (!(q === 'limit' && /^\d+$/.test(value) && Number(value) <= 200) && !(q === 'offset' && /^\d+$/.test(value))) {
      const extra = q === 'ids' ? '' : ep.path.startsWith('/api/compare/') ? `&ids=${UNKNOWN_ID},${UNKNOWN_ID}` : '';
      faults.push(() => ({ method: 'GET', path: `${target}?${q}=${value}${extra}`, headers: {}, what: `bad query ${q}` }));
    }
  }
  faults.push(() => ({ method: ep.method, path: target, headers: { host: pick(['evil.example', 'evil.example:80', '127.0.0.1.nip.io', 'localhost.evil.example']) }, what: 'foreign Host' }));
  if (ep.method !== 'GET') faults.push(() => ({ method: ep.method, path: target, headers: { ...json, origin: pick(['http://evil.example', 'null', 'https://127.0.0.1.evil.example']) }, body: '{}', what: 'cross-site' }));
  return { ...pick(faults)(), endpoint: `${ep.method} ${ep.path}` };
}

describe('fuzzing', () => {
  it(`${REQUESTS} seeded bad requests over every endpoint each get a 4xx JSON error naming what is wrong, and the server stays up`, async () => {
    expect(endpoints.length).toBeGreaterThanOrEqual(15);
    const rand = mulberry32(SEED);
    const seen = new Set<string>();
    const failures: string[] = [];
    for (let k = 0; k < REQUESTS; k++) {
      const f = makeFault(rand);
      seen.add(f.endpoint!);
      let r: RawResponse;
      try {
        r = await rawRequest(srv.base, f.method, f.path, f.headers, f.body);
      } catch (e) {
        failures.push(`#${k} ${f.what} ${f.method} ${f.path.slice(0, 80)}: ${(e as Error).message}`);
        continue;
      }
      const ok = r.status >= 400 && r.status < 500 && typeof r.json?.error === 'string' && r.json.error.length > 0;
      if (!ok) failures.push(`#${k} ${f.what} ${f.method} ${f.path.slice(0, 80)} -> ${r.status} ${r.body.toString('utf8').slice(0, 160)}`);
      if (k % 50 === 0) expect((await fetch(`${srv.base}/api/health`)).status).toBe(200);
    }
    expect(failures).toEqual([]);
    // Every endpoint was hit at least once, and the finished run is intact.
    expect(seen.size).toBe(endpoints.length);
    expect((await fetch(`${srv.base}/api/health`)).status).toBe(200);
    expect((await srv.api.run(runId)).status).toBe('done');
  }, 180_000);
});
