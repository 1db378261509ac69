// Browser end-to-end tests of the web workbench: Debian's headless Chromium (via playwright-core) against the real
// server on the bundled default model.
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import { startServer } from '../helpers/server.js';
import { inkedPixels as inked, runAndWait as runAndWaitOn, shot as shotOf, closeWorkbench, openWorkbench, type TestServer, RECIPE_INPUT as INPUT, RECIPE_PROMPT_A as PROMPT_A, RECIPE_PROMPT_B as PROMPT_B } from './harness.js';
import { DEFAULT_DIR, DEFAULT_ID } from '../helpers/bundled.js';
import { overflowingText } from '../helpers/context.js';
import { openModelDir } from '../../server/model/model-dir.js';

/** The default model, read in the test process (its config.json and tokenizer), not from the page under test. */
const MD = openModelDir(DEFAULT_DIR);
const CFG = MD.config;

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];
const runIds: { a?: string; b?: string } = {};

const shot = (name: string) => shotOf(page, name);
const runAndWait = (trigger: () => Promise<void>, prev?: string) => runAndWaitOn(page, trigger, prev);
const inkedPixels = (testId: string) => inked(page, testId);

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-'));
}, 180_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('web workbench in headless Chromium', () => {
  it('opens on the workspace with the default model and its facts', async () => {
    await page.goto(srv.base);
    await expect.poll(() => page.getByTestId('model-facts').textContent()).toContain(`${CFG.nLayer} × ${CFG.nHead}`);
    expect(await page.locator('#model').inputValue()).toBe(DEFAULT_ID);
    expect(await page.getByTestId('model-facts').textContent()).toContain(`${CFG.nCtx} tokens`);
    expect(await page.getByTestId('intro').isVisible()).toBe(true);
  });

  it('highlights span markers in the prompt editor and shows a marker error beside the prompt', async () => {
    await page.getByTestId('prompt-input').fill('Hello {{oops');
    await expect.poll(() => page.getByTestId('error-prompt').textContent()).toContain('never closed');
    await page.getByTestId('prompt-input').fill(PROMPT_A);
    expect(await page.getByTestId('error-prompt').count()).toBe(0);
    expect(await page.locator('.hl-backdrop .hl-marker').count()).toBe(2);
    expect(await page.locator('.hl-backdrop .hl-inside').textContent()).toBe('apple pie');
  });

  it('runs an analysis with Ctrl+Enter and shows the headline numbers and every chart', async () => {
    await page.getByTestId('input-input').fill(INPUT);
    await page.getByTestId('label-input').fill('variant A');
    runIds.a = await runAndWait(async () => {
      await page.getByTestId('input-input').focus();
      await page.keyboard.press('Control+Enter');
    });
    expect(await page.getByTestId('progress-stage').textContent()).toBe('done');
    expect(await page.getByTestId('run-title').textContent()).toBe('variant A');
    for (const id of ['stat-loss-with', 'stat-loss-without', 'stat-benefit', 'stat-pi']) {
      expect(await page.getByTestId(id).textContent()).toMatch(/\d+\.\d/);
    }
    expect(await page.getByTestId('stat-pi').textContent()).toMatch(/%/);
    const charts = ['depth-curve-chart', 'layer-profile-chart', 'read-share-chart', 'head-grid-chart', 'read-map-chart', 'span-importance-chart'];
    for (const id of charts) {
      await page.getByTestId(id).scrollIntoViewIfNeeded();
      await expect.poll(() => inkedPixels(id), { message: `${id} draws on its canvas` }).toBeGreaterThan(300);
    }
    // Input tokens are coloured by benefit; hovering one shows its losses and top predictions.
    const tokens = page.locator('[data-testid=token-benefit-text] .tok');
    expect(await tokens.count()).toBeGreaterThan(5);
    await page.getByTestId('token-benefit-text').scrollIntoViewIfNeeded();
    await tokens.nth(2).hover();
    const tip = (await page.getByTestId('token-tip').textContent()) ?? '';
    expect(tip).toContain('loss with prompt');
    expect(tip).toContain('top predictions with prompt');
    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await shot('workbench');
  });

  it('links views: selecting a span highlights it in the prompt editor, selecting a layer marks its chip', async () => {
    await page.locator('[data-testid=span-list] button', { hasText: 'dish' }).click();
    await expect.poll(() => page.locator('.hl-backdrop mark.hl-selected').textContent()).toBe('apple pie');
    expect(await page.locator('[data-testid=span-list] tr.selected').count()).toBe(1);
    await page.locator('[data-testid=layer-selector] button', { hasText: 'blocks.2' }).click();
    expect(await page.locator('[data-testid=layer-selector] button[aria-pressed=true]').textContent()).toBe('blocks.2');
    await page.getByTestId('card-readmap').scrollIntoViewIfNeeded();
    await shot('read-map-selection');
    await page.setViewportSize({ width: 1280, height: 2300 });
    await shot('workbench-full');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('forks the run, edits the prompt, reruns, and compares the two variants side by side', async () => {
    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await page.getByTestId('fork-button').click();
    expect(await page.getByTestId('fork-chip').textContent()).toContain(runIds.a!.slice(0, 8));
    expect(await page.getByTestId('prompt-input').inputValue()).toBe(PROMPT_A);
    await page.getByTestId('prompt-input').fill(PROMPT_B);
    await page.getByTestId('label-input').fill('variant B');
    runIds.b = await runAndWait(() => page.getByTestId('run-button').click(), runIds.a);
    expect(await page.getByTestId('run-title').textContent()).toBe('variant B');
    const detail = (await (await fetch(`${srv.base}/api/runs/${runIds.b}`)).json()) as RunDetail;
    expect(detail.parentId).toBe(runIds.a);

    await page.getByTestId('compare-parent-button').click();
    await page.getByTestId('variant-compare').waitFor({ timeout: 20_000 });
    const rows = page.locator('[data-testid=compare-table] tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('variant A');
    expect(await rows.nth(1).textContent()).toContain('variant B');
    expect(await page.locator('[data-testid=compare-token-diff] .diff-row').count()).toBe(2);
    for (const id of ['compare-token-chart', 'compare-depth-chart', 'compare-profile-chart', 'compare-readshare-chart']) {
      await page.getByTestId(id).scrollIntoViewIfNeeded();
      await expect.poll(() => inkedPixels(id), { message: `${id} draws on its canvas` }).toBeGreaterThan(300);
    }
    expect(page.url()).toContain(`#/compare/${runIds.a},${runIds.b}`);
    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await shot('compare');
  });

  it('finds both runs in the history after a server restart and a reload, searches and reopens one', async () => {
    const port = Number(new URL(srv.base).port);
    // Leave the page first: a page that polls a server that is gone logs "connection refused", which is this test's
    // own doing, not the app's.
    await page.goto('about:blank');
    await srv.close();
    srv = await startServer({ dataDir, port });
    await page.goto(`${srv.base}/`);
    await page.reload();
    const items = page.getByTestId('history-item');
    await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(2);
    const text = (await page.getByTestId('history').textContent()) ?? '';
    expect(text).toContain('variant A');
    expect(text).toContain('variant B');

    await page.getByTestId('history-search').fill('Steps: peel');
    await expect.poll(() => items.count()).toBe(1);
    await items.first().locator('.history-open').click();
    await expect.poll(() => page.getByTestId('run-title').textContent()).toBe('variant B');
    await page.getByTestId('history-search').fill('');
    await expect.poll(() => items.count()).toBe(2);

    // Compare from the history's check boxes too.
    for (const id of [runIds.a!, runIds.b!]) await page.locator(`[data-testid=history-item][data-run-id="${id}"] input[type=checkbox]`).check();
    await page.getByTestId('compare-button').click();
    await page.getByTestId('variant-compare').waitFor();
    await shot('history');
  });

  it('exports the run as a JSON report (versioned schema, run, metrics) from the Export menu', async () => {
    await page.goto(`${srv.base}/#/run/${runIds.a}`);
    await expect.poll(() => page.getByTestId('run-title').textContent()).toBe('variant A');
    await page.getByTestId('export-button').click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    expect(download.suggestedFilename()).toBe(`precache-lens-${runIds.a}-report.json`);
    const file = await download.path();
    const report = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      schema: string;
      run: { id: string; prompt: string; input: string; label: string | null; status: string };
      metrics: NonNullable<RunDetail['result']>;
    };
    expect(report.schema).toBe('precache-lens.report/1');
    expect(report.run.id).toBe(runIds.a);
    expect(report.run.status).toBe('done');
    expect(report.run.prompt).toBe(PROMPT_A);
    expect(report.run.input).toBe(INPUT);
    expect(report.run.label).toBe('variant A');
    expect(report.metrics.depthCurve).toHaveLength(CFG.nLayer + 1);
    expect(report.metrics.layers[3].hooks.pattern).toBe('blocks.3.attn.hook_pattern');
    expect(report.metrics.spans.map((s) => s.label)).toEqual(['dish']);
    expect(await page.getByTestId('export-button-menu').count()).toBe(0);
  });

  it('shows a field error beside the input for an input longer than the model context', async () => {
    await page.getByTestId('input-input').fill(overflowingText(MD));
    await page.getByTestId('run-button').click();
    await expect.poll(() => page.getByTestId('error-input').textContent()).toContain(`context of ${CFG.nCtx}`);
    expect(await page.getByTestId('error-prompt').count()).toBe(0);
    await shot('field-error');
    await page.getByTestId('input-input').fill(INPUT);
    expect(await page.getByTestId('error-input').count()).toBe(0);
  });

  it('stacks the layout in a narrow window: the workspace, then the results, then the history', async () => {
    await page.setViewportSize({ width: 430, height: 900 });
    await page.goto(`${srv.base}/#/run/${runIds.a}`);
    await page.getByTestId('headline-numbers').waitFor();
    // The page fills in after the headline (the editor takes the run's texts, notes come and go): measure the three
    // boxes once two measurements 250 ms apart agree, so that the order checked is the settled layout's.
    const boxes = async () => Promise.all([page.locator('.workspace').boundingBox(), page.locator('.main').boundingBox(), page.getByTestId('history').boundingBox()]);
    let settled = await boxes();
    await expect.poll(async () => {
      const before = JSON.stringify(settled);
      await page.waitForTimeout(250);
      settled = await boxes();
      return JSON.stringify(settled) === before;
    }).toBe(true);
    const [workspace, main, history] = settled.map((b) => b!);
    expect(main.y).toBeGreaterThanOrEqual(workspace.y + workspace.height - 1);
    expect(history.y).toBeGreaterThanOrEqual(main.y + main.height - 1);
    const docWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(docWidth).toBeLessThanOrEqual(431);
    await page.getByTestId('headline-numbers').scrollIntoViewIfNeeded();
    await shot('narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows the stage while a run goes and cancels it', async () => {
    const long = Array.from({ length: 40 }, (_, k) => `item${k}`).join(' ');
    await page.getByTestId('prompt-input').fill(long);
    await page.locator('#spans').selectOption('tokens');
    await page.getByTestId('run-button').click();
    await page.getByTestId('cancel-button').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('progress-stage').textContent()).toMatch(/queued|running|tokeniz|forward|knockout|metrics/);
    await page.getByTestId('cancel-button').click();
    await expect.poll(() => page.getByTestId('progress-stage').textContent(), { timeout: 60_000 }).toBe('cancelled');
    await expect.poll(() => page.getByTestId('run-results').getAttribute('data-status'), { timeout: 10_000 }).toBe('cancelled');
  });

  it('deletes a run from the history (after a confirm) and closes its view', async () => {
    const cancelledId = await page.getByTestId('run-results').getAttribute('data-run-id');
    const items = page.getByTestId('history-item');
    await expect.poll(() => items.count()).toBe(3);
    const item = page.locator(`[data-testid=history-item][data-run-id="${cancelledId}"]`);
    await item.getByTestId('delete-button').click();
    await item.getByTestId('confirm-delete').click();
    await expect.poll(() => items.count()).toBe(2);
    await page.getByTestId('intro').waitFor();
    expect((await fetch(`${srv.base}/api/runs/${cancelledId}`)).status).toBe(404);
  });

  it('logged no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
