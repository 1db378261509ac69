// An analysis over HTTP on the bundled stories260K model: its losses equal the converter's PyTorch reference
// (tests/fixtures/stories-260k/losses-golden.json, from tools/py/stories260k_convert.py) to 1e-4, the knockout
// identity holds to 1e-5, a fitting prompt helps and an unrelated one does not, and bad requests get a 4xx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../shared/api.js';
import { startServer } from './helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = 'precache-stories-260k';
interface LossCase {
  prompt: string;
  input: string;
  prompt_ids: number[];
  input_ids: number[];
  loss_with_prompt: number[];
  loss_no_prompt_same_positions: number[];
  loss_no_prompt_natural: number[];
}
const golden = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/fixtures/stories-260k/losses-golden.json'), 'utf8')) as { cases: LossCase[] };

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.close();
});

async function runToEnd(prompt: string, input: string): Promise<RunDetail> {
  const { id } = await srv.api.createRun({ model: MODEL, prompt, input });
  return srv.api.waitForRun(id);
}

const maxDiff = (a: number[], b: number[]) => {
  expect(a).toHaveLength(b.length);
  return Math.max(...a.map((v, i) => Math.abs(v - b[i])));
};

describe('an analysis of the bundled stories260K over HTTP', () => {
  const means: number[] = [];
  for (const [k, c] of golden.cases.entries()) {
    it(`case ${k}: every input token's losses equal the PyTorch reference to 1e-4 and the knockout identity holds to 1e-5`, async () => {
      const run = await runToEnd(c.prompt, c.input);
      expect(run.status, run.error ?? '').toBe('done');
      const r = run.result!;
      expect(r.p).toBe(c.prompt_ids.length);
      expect(r.input.tokens.map((t) => t.id)).toEqual(c.input_ids);
      const toks = r.input.tokens;
      expect(maxDiff(toks.map((t) => t.lossWithPrompt), c.loss_with_prompt)).toBeLessThan(1e-4);
      expect(maxDiff(toks.map((t) => t.lossNoPrompt), c.loss_no_prompt_same_positions)).toBeLessThan(1e-4);
      expect(maxDiff(toks.map((t) => t.lossNoPromptNatural), c.loss_no_prompt_natural)).toBeLessThan(1e-4);
      expect(r.summary.identityResidual).toBeLessThan(1e-5);
      // Token texts keep their metaspace spaces: the input, read after the prompt, starts with one.
      expect(toks.map((t) => t.text).join('')).toBe(` ${c.input}`);
      means.push(r.summary.meanBenefit);
    });
  }

  it('a prompt that sets up the story lowers the input loss, an unrelated one does not help as much', () => {
    expect(means).toHaveLength(2);
    expect(means[0]).toBeGreaterThan(0.1);
    expect(means[0]).toBeGreaterThan(means[1]);
  });

  it('a prompt and input beyond its 512-token context get a 422 naming the field', async () => {
    const r = await fetch(`${srv.base}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'Lily ran. '.repeat(200), input: 'Tom sat down.' }),
    });
    expect(r.status).toBe(422);
    const body = (await r.json()) as { error: string; field?: string };
    expect(body.error).toMatch(/512/);
    expect(body.field).toBeTruthy();
  });
});
