// The myopic twin comparison over HTTP on the bundled models.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './helpers/server.js';
import { DEFAULT_ID, TWIN_DIR, TWIN_ID } from './helpers/bundled.js';
import { openModelDir } from '../server/model/model-dir.js';

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('myopic twin comparison', () => {
  it('POST /api/twins runs one prompt and input on the default model and its myopic twin, and they compare side by side', async () => {
    const { vanilla, myopic } = await srv.api.createTwinRuns({ prompt: 'Fellow-Citizens of the Senate: ', input: 'The state of the Union is strong.', options: { spanKnockouts: false } });
    const [a, b] = await Promise.all([srv.api.waitForRun(vanilla.id), srv.api.waitForRun(myopic.id)]);
    expect([a.status, b.status]).toEqual(['done', 'done']);
    expect(a.result!.model.id).toBe(DEFAULT_ID);
    expect(b.result!.model.id).toBe(TWIN_ID);
    expect(a.result!.summary.identityResidual).toBeLessThan(1e-4);
    expect(b.result!.summary.identityResidual).toBeLessThan(1e-4);
    const cmp = await srv.api.compare([a.id, b.id]);
    expect(cmp.models.map((m) => m.id)).toEqual([DEFAULT_ID, TWIN_ID]);
    expect(cmp.runs[1].depthCurve).toHaveLength(openModelDir(TWIN_DIR).config.nLayer + 1);
    // The twins are different networks: their losses differ.
    expect(cmp.runs[0].summary.meanLossWithPrompt).not.toBeCloseTo(cmp.runs[1].summary.meanLossWithPrompt, 3);
  });

  it('a model without a twin is refused naming the field', async () => {
    const r = await fetch(`${srv.base}/api/twins`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: TWIN_ID, prompt: '', input: 'x' }) });
    expect(r.status).toBe(422);
    expect(((await r.json()) as { field: string }).field).toBe('model');
  });
});
