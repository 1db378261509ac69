// The start page's one-click story example on the bundled stories260K (a real pretrained Llama): the run shows a
// positive prompt benefit with its tokens read as text (spaces kept), and the story experiment finishes with the
// story's own prompt ahead of the unrelated ones.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import type { ExperimentDetail } from '../../shared/experiments.js';
import { closeWorkbench, openWorkbench, publishScreenshot, runAndWait, shot, type TestServer } from './harness.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-stories-'));
}, 300_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('the story example in headless Chromium', () => {
  it('runs in one click from the start page on stories260K and shows a positive benefit', async () => {
    await page.goto(srv.base);
    await page.getByTestId('intro').waitFor();
    // Today's example stays, next to the story.
    await page.getByTestId('example-recipe').waitFor();
    const id = await runAndWait(page, () => page.getByTestId('example-story').click());
    const run = (await (await fetch(`${srv.base}/api/runs/${id}`)).json()) as RunDetail;
    expect(run.modelId).toBe('precache-stories-260k');
    expect(run.prompt).toContain('{{name|Lily}}');
    expect(run.result!.summary.meanBenefit).toBeGreaterThan(0.1);
    expect(await page.getByTestId('run-inputs').textContent()).toContain('precache-stories-260k');
    const shown = (await page.getByTestId('stat-benefit').textContent()) ?? '';
    expect(shown).toMatch(/\+0\.\d+/);
    // Metaspace tokens read with their spaces: the input's tokens put together give the input text.
    expect((await page.getByTestId('token-benefit-text').textContent())?.trim()).toBe(run.input);
    expect(await page.locator('[data-testid=token-benefit-text] .tok').count()).toBe(run.result!.n);
    await page.getByTestId('dashboard').waitFor();
    publishScreenshot(await shot(page, 'story-example'), 'story-example.png');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('starts the story experiment in one click and finishes with the story prompt ahead (paired interval above 0)', async () => {
    await page.goto(srv.base);
    await page.getByTestId('example-story-experiment').click();
    await page.waitForURL(/#\/experiments\/[0-9a-f-]+/, { timeout: 30_000 });
    const id = /#\/experiments\/([0-9a-f-]+)/.exec(page.url())![1];
    let d: ExperimentDetail;
    for (;;) {
      d = (await (await fetch(`${srv.base}/api/experiments/${id}`)).json()) as ExperimentDetail;
      if (d.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(d.status).toBe('done');
    expect(d.models).toEqual(['precache-stories-260k']);
    expect(d.inputs.every((x) => x.source?.set === 'stories-lily-ball')).toBe(true);
    const vsStock = d.pairs.find((p) => p.a === 0 && p.b === 2)!;
    expect(vsStock.meanBenefitDiff!.lo).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  }, 180_000);
});
