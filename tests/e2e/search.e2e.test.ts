// Browser end-to-end test of the Search page: start a small search, watch a variant drop, open a finalist as a run
// and the finalists as an experiment; axe finds no accessibility violations.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeProblems, closeWorkbench, openWorkbench, shot, type TestServer } from './harness.js';
import { INPUTS, PASSAGE } from '../helpers/lighthouse.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-search-'));
}, 180_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});


describe('the Search page in headless Chromium', () => {
  it('starts a search of four prompts, shows a variant dropped, and opens a finalist as a run and the finalists as an experiment', async () => {
    await page.goto(srv.base);
    await page.getByTestId('search-link').click();
    await page.getByTestId('search-builder').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.getByTestId('search-kind-prompts').check();
    await page.getByTestId('search-variants-text').fill([`Story: ${PASSAGE}\n`, '%%% ### @@@ ~~~ ^^^', '0 1 0 1 0 1 0 1', 'zzz qqq xxx'].join('\n---\n'));
    await page.getByTestId('search-inputs-pasted').check();
    await page.getByTestId('search-inputs-text').fill(INPUTS.join('\n---\n'));
    await page.getByTestId('search-first-batch').fill('4');
    await page.getByTestId('search-start').click();
    await expect.poll(() => page.evaluate(() => window.location.hash), { timeout: 15_000 }).toMatch(/^#\/search\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByTestId('search-status').textContent(), { timeout: 180_000, interval: 500 }).toMatch(/^done/);
    // A dropped variant says the round it fell in and is greyed.
    const dropped = page.locator('[data-testid="search-variant-row"][data-dropped]');
    expect(await dropped.count()).toBeGreaterThanOrEqual(1);
    expect(await dropped.first().textContent()).toMatch(/dropped in round \d/);
    expect(await dropped.first().getAttribute('class')).toContain('variant-dropped');
    // The finalists table leads with the prompt that fits the inputs.
    await page.getByTestId('search-finalists').waitFor();
    expect(await page.getByTestId('search-finalist-row').first().textContent()).toContain('V1');
    expect(await axeProblems(page)).toEqual([]);
    await shot(page, 'search-results');
    // The winner opens as an ordinary run.
    await page.getByRole('button', { name: 'Open V1 as a run' }).click();
    await expect.poll(() => page.evaluate(() => window.location.hash), { timeout: 15_000 }).toMatch(/^#\/run\/[0-9a-f-]{36}$/);
    await page.goBack();
    await page.getByTestId('search-open-experiment').click();
    await expect.poll(() => page.evaluate(() => window.location.hash), { timeout: 15_000 }).toMatch(/^#\/experiments\/[0-9a-f-]{36}$/);
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
