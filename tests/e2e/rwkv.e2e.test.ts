// The web UI serves the bundled RWKV like any other model: "Run next to" a transformer, the side-by-side view, the RNN's run view.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import { closeWorkbench, openWorkbench, type TestServer } from './harness.js';
import { DEFAULT_ID, RWKV_ID } from '../helpers/bundled.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-rwkv-'));
}, 300_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('RWKV in headless Chromium', () => {
  it('runs the default transformer next to the bundled RWKV and shows both side by side, then the RNN run with its state changes', async () => {
    await page.goto(srv.base);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(DEFAULT_ID);
    await page.getByTestId('prompt-input').fill('Fellow-Citizens of the Senate and House of Representatives: ');
    await page.getByTestId('input-input').fill('The state of the Union is strong.');
    const button = page.getByTestId('side-by-side-button');
    await expect.poll(() => button.textContent()).toContain(RWKV_ID);
    await button.click();
    await page.getByTestId('twins-compare').and(page.locator('[data-ready="true"]')).waitFor({ timeout: 240_000 });
    expect(await page.locator('.twins h2').first().textContent()).toBe('Transformer and RNN, side by side');
    await page.getByTestId('rnn-explainer').waitFor();
    // Labels say what the two models are; "vanilla"/"myopic" belong to twins only.
    expect(await page.getByTestId('twins-col-vanilla').textContent()).toContain('transformer');
    expect(await page.getByTestId('twins-col-myopic').textContent()).toContain('RNN');
    expect((await page.getByTestId('twins-compare').innerText()).toLowerCase()).not.toMatch(/vanilla|myopic/);
    // The RNN has no attention: a note pointing to its state-reset curve instead of an empty read map.
    expect(await page.getByTestId('twins-readmap-chart-myopic').count()).toBe(0);
    expect(await page.getByTestId('twins-readmap-none-myopic').textContent()).toContain('state-reset curve');
    const ids = /#\/twins\/([0-9a-f-]+),([0-9a-f-]+)/.exec(page.url())!;
    const rnn = (await (await fetch(`${srv.base}/api/runs/${ids[2]}`)).json()) as RunDetail;
    expect(rnn.modelId).toBe(RWKV_ID);
    await page.goto(`${srv.base}/#/run/${ids[2]}`);
    const table = page.getByTestId('state-change-table');
    await table.waitFor({ timeout: 60_000 });
    expect(await table.locator('tbody tr').count()).toBe(4);
    expect(await page.getByTestId('card-depth').textContent()).toContain('no-prompt state');
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
