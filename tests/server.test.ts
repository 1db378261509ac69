// Server basics: health, models, placeholder page, and /api/health while a long run is in flight.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';
import { DEFAULT_ID } from './helpers/bundled.js';
import { openModelDir } from '../server/model/model-dir.js';

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer({ models: [path.join(FIXTURES, 'gpt2-opset14')] });
});
afterAll(async () => {
  await srv?.close();
});

describe('HTTP server basics', () => {
  it('GET /api/health answers ok', async () => {
    const r = await fetch(`${srv.base}/api/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true });
  });

  it('GET /api/models lists the user model first and the bundled default with its config', async () => {
    const r = await fetch(`${srv.base}/api/models`);
    const body = (await r.json()) as { default: string; models: { id: string; bundled: boolean; config: { nLayer: number; nCtx: number }; modelHash: string }[] };
    expect(body.default).toBe('gpt2-opset14');
    const ids = body.models.map((m) => m.id);
    expect(ids).toContain(DEFAULT_ID);
    const fx = body.models.find((m) => m.id === 'gpt2-opset14')!;
    expect(fx.config).toMatchObject({ nLayer: 3, nHead: 4, dModel: 64, nCtx: 64, vocabSize: 257 });
    expect(fx.modelHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an unknown API path gets a JSON 404 naming it', async () => {
    const r = await fetch(`${srv.base}/api/nope`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toMatch(/\/api\/nope/);
  });

  it('serves a page at /', async () => {
    const r = await fetch(`${srv.base}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/Precache Lens/);
  });

  it('answers /api/health while a long engine run is in progress', async () => {
    // 16 sequences filling the default model's context, of ids within its vocabulary.
    const { nCtx, vocabSize } = openModelDir(DEFAULT_MODEL).config;
    const tokens = Array.from({ length: 16 }, (_, b) => Array.from({ length: nCtx }, (_, i) => (i * 7 + b) % vocabSize));
    let finished = false;
    const run = srv.engine.run(DEFAULT_MODEL, { tokens }).then((r) => {
      finished = true;
      return r;
    });
    // Give the worker time to start the run, then ask for health several times.
    await new Promise((r) => setTimeout(r, 300));
    for (let k = 0; k < 3; k++) {
      const h = await fetch(`${srv.base}/api/health`);
      expect(h.status).toBe(200);
    }
    expect(finished).toBe(false);
    const result = await run;
    expect(result.logits!.dims).toEqual([16, nCtx, vocabSize]);
  });
});
