// Tokens of a SentencePiece (metaspace) model read as text everywhere, and side-by-side views only on one tokenizer:
// the bundled precache-stories-260k (Llama 2 tokenizer, byte fallback) next to the GPT-2-tokenizer models.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import { axeProblems, closeWorkbench, openWorkbench, runAndWait, type TestServer } from './harness.js';
import { DEFAULT_ID, RWKV_ID, STORIES_ID } from '../helpers/bundled.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

const STORIES = STORIES_ID;
const PROMPT = 'Once upon a time, there was a little girl named Lily.';
const INPUT = 'Lily loved to play with her ball in the park.';

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-tok-'));
}, 180_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('a metaspace tokenizer in headless Chromium', () => {
  let runId = '';

  it('shows the input strip with its spaces, and offers no "Run next to" a model on another tokenizer', async () => {
    await page.goto(srv.base);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(DEFAULT_ID);
    // The GPT-2-tokenizer default is offered the RWKV model, which reads the same tokens.
    await expect.poll(() => page.getByTestId('side-by-side-button').count()).toBe(1);
    await page.locator('#model').selectOption(STORIES);
    await expect.poll(() => page.getByTestId('side-by-side-button').count()).toBe(0);
    await page.getByTestId('prompt-input').fill(PROMPT);
    await page.getByTestId('input-input').fill(INPUT);
    runId = await runAndWait(page, () => page.getByTestId('run-button').click());
    const strip = page.getByTestId('token-benefit-text');
    await strip.waitFor();
    expect(await strip.innerText()).toContain('Lily loved to play with her ball in the park.');
    const labels = await strip.locator('.tok').allTextContents();
    expect(labels).toContain(' play');
    expect(labels.some((l) => l.includes('▁'))).toBe(false);
    // The run read in plain words under its title, and one thing to try next once it is done.
    expect(await page.getByTestId('run-summary').textContent()).toMatch(/^The prompt (lowers|raises|barely changes) precache-stories-260k's loss on the input/);
    await expect.poll(() => page.getByTestId('next-step').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.getByTestId('next-step').textContent()).toMatch(/^Try next: /);
    // The editor holds this run: same texts, model and options.
    expect(await page.getByTestId('draft-matches').textContent()).toContain('model and options');
    expect(await axeProblems(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('gives the same token texts in the API JSON and the CSV, HTML and JSON reports', async () => {
    const run = (await (await fetch(`${srv.base}/api/runs/${runId}`)).json()) as RunDetail;
    const r = run.result!;
    expect(r.prompt.tokens.map((t) => t.text).join('')).toBe(PROMPT);
    expect(r.input.tokens.map((t) => t.text).join('')).toBe(` ${INPUT}`);
    expect(r.input.tokens.every((t) => !t.text.includes('▁'))).toBe(true);
    for (const t of r.input.tokens) for (const q of t.topWithPrompt) expect(q.text).not.toBe('');
    const json = await (await fetch(srv.api.runReportUrl(runId, 'json'))).text();
    expect(json).toContain('" play"');
    const csv = await (await fetch(srv.api.runReportUrl(runId, 'csv', { table: 'tokens' }))).text();
    expect(csv).toMatch(/, play,|," play",/);
    expect(csv).not.toContain('▁');
    const html = await (await fetch(srv.api.runReportUrl(runId, 'html'))).text();
    expect(html).not.toContain('▁play');
    expect(html).toContain('play');
  });

  it('refuses a side-by-side run or experiment on two tokenizers with a 422 naming both', async () => {
    const res = await fetch(`${srv.base}/api/twins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: STORIES, with: RWKV_ID, prompt: PROMPT, input: INPUT }),
    });
    expect(res.status).toBe(422);
    const err = (await res.json()) as { error: string; field?: string };
    expect(err.field).toBe('with');
    expect(err.error).toContain('SentencePiece BPE with byte fallback, 512 tokens');
    expect(err.error).toContain('byte-level BPE');
    const exp = await fetch(`${srv.base}/api/experiments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: DEFAULT_ID, with: STORIES, prompts: [{ text: PROMPT }], inputs: { texts: [INPUT] } }),
    });
    expect(exp.status).toBe(422);
    const e2 = (await exp.json()) as { error: string; field?: string };
    expect(e2.field).toBe('with');
    expect(e2.error).toMatch(/another tokenizer/);
  });
});
