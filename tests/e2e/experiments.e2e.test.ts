// Browser end-to-end test of experiments: build one in the UI, watch it fill, read its forest plot and pairs, open a cell as a run.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../../shared/experiments.js';
import { constructedExperiment } from '../helpers/constructed-experiment.js';
import { shot, closeWorkbench, openWorkbench, publishScreenshot, type TestServer, axeProblems } from './harness.js';
import { DEFAULT_ID, TWIN_ID, RWKV_ID, STORIES_ID } from '../helpers/bundled.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-exp-'));
}, 180_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('experiments in headless Chromium', () => {
  let id = '';

  it('builds an experiment of two prompts on pasted texts and watches it finish', async () => {
    await page.goto(srv.base);
    await page.getByTestId('experiments-link').click();
    await page.getByTestId('experiment-builder').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.getByTestId('experiment-prompts').fill('The President said to the Congress:\n---\nOnce upon a time,');
    await page.getByTestId('experiment-source-texts').check();
    await page.getByTestId('experiment-texts').fill('The state of the Union is strong.\n---\nWe must balance the budget.\n---\nShe opened the door.');
    await page.getByTestId('experiment-resamples').fill('300');
    expect(await page.getByTestId('experiment-start').textContent()).toContain('2 × 3');
    await page.getByTestId('experiment-start').click();
    await expect.poll(() => page.evaluate(() => window.location.hash), { timeout: 10_000 }).toMatch(/^#\/experiments\/[0-9a-f-]{36}$/);
    id = (await page.evaluate(() => window.location.hash)).split('/')[2];
    await expect.poll(() => page.getByTestId('experiment-status').getAttribute('data-status'), { timeout: 120_000, interval: 500 }).toBe('done');
    expect(await page.getByTestId('experiment-progress').textContent()).toContain('6/6 cells');
    expect(await page.getByTestId('matrix-cell').count()).toBe(6);
    // "HTML report" opens in a tab: the report is served as an attachment unless ?inline=1.
    const reportLink = page.getByRole('link', { name: 'HTML report' });
    expect(await reportLink.getAttribute('href')).toBe(`/api/experiments/${id}/report.html?inline=1`);
    const inline = await fetch(`${srv.base}/api/experiments/${id}/report.html?inline=1`);
    expect(inline.headers.get('content-disposition') ?? '').not.toMatch(/attachment/);
    // The history lists the experiment next to the runs, and opens it.
    // (The sidebar's list refreshes every few seconds, so it may still say "running" for a moment.)
    await expect.poll(async () => (await page.getByTestId('history-experiment').count()) && (await page.getByTestId('history-experiment').first().textContent()), { timeout: 15_000, interval: 500 }).toContain('done');
    await page.getByTestId('pair-sentence').first().waitFor();
    publishScreenshot(await shot(page, 'experiment-results'), 'experiment.png');
  }, 180_000);

  it("puts the experiment's 6 cells under one history row, findable by a cell's input, each row one Tab stop", async () => {
    const d = (await (await fetch(`${srv.base}/api/experiments/${id}`)).json()) as ExperimentDetail;
    const cellRuns = new Set(d.cells.map((c) => c.runId));
    expect(await page.getByTestId('history-experiment').count()).toBe(1);
    const listed = await page.getByTestId('history-item').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
    expect(listed.filter((r) => cellRuns.has(r))).toEqual([]);
    expect(await page.getByTestId('history-experiment').textContent()).toContain('2 prompts × 3 inputs · 6 cells');
    // A search by one cell's input finds the experiment's row and says how many cells match.
    await page.getByTestId('history-search').fill('balance the budget');
    await expect.poll(() => page.getByTestId('history-experiment-matches').textContent(), { timeout: 10_000 }).toContain('2 cells match');
    expect(await page.getByTestId('history-item').count()).toBe(0);
    await page.getByTestId('history-search').fill('');
    // Tab goes from one row to the next: the checkbox and × of a run row are not stops of their own.
    const solo = await srv.api.createRun({ prompt: 'A single run. ', input: 'Next to the experiment.' });
    await srv.api.waitForRun(solo.id);
    await expect.poll(() => page.getByTestId('history-item').count(), { timeout: 15_000 }).toBe(1);
    const rows = await page.locator('.history-open').count();
    await page.locator('.history-open').first().focus();
    expect(rows).toBe(2);
    for (let k = 1; k < rows; k++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate((k) => document.activeElement === document.querySelectorAll('.history-open')[k], k)).toBe(true);
    }
    expect(await axeProblems(page)).toEqual([]);
  });

  it('draws a forest plot whose rows are the API summary: mean B with its 95% interval per prompt', async () => {
    const d = (await (await fetch(`${srv.base}/api/experiments/${id}`)).json()) as ExperimentDetail;
    const rows = page.getByTestId('forest-benefit').getByTestId('forest-row');
    expect(await rows.count()).toBe(2);
    for (let k = 0; k < 2; k++) {
      const row = rows.nth(k);
      const ci = d.summary[k].meanBenefit!;
      expect(Number(await row.getAttribute('data-mean'))).toBe(ci.mean);
      expect(Number(await row.getAttribute('data-lo'))).toBe(ci.lo);
      expect(Number(await row.getAttribute('data-hi'))).toBe(ci.hi);
      expect(await row.getAttribute('data-summary')).toBe(`P${k + 1}: ${ci.mean.toFixed(3)} [${ci.lo.toFixed(3)}, ${ci.hi.toFixed(3)}]`);
    }
    expect(await page.getByTestId('forest-benefit').locator('desc').textContent()).toContain(`P1: ${d.summary[0].meanBenefit!.mean.toFixed(3)}`);
    expect(await page.getByTestId('forest-pi').getByTestId('forest-row').count()).toBe(2);
    expect(await page.getByTestId('pair-row').count()).toBe(1);
    expect(await page.getByTestId('pair-row').textContent()).toContain(d.pairs[0].meanBenefitDiff!.p.toFixed(3));
    // One plain sentence for the pair, and a prompt table with each prompt's text, n and intervals.
    expect(await page.getByTestId('pair-sentence').count()).toBe(1);
    expect(await page.getByTestId('pair-sentence').textContent()).toMatch(/(lowers the loss more than|No difference shown between)/);
    const prompts = page.getByTestId('prompt-row');
    expect(await prompts.count()).toBe(2);
    const best = [...d.summary].sort((x, y) => y.meanBenefit!.mean - x.meanBenefit!.mean)[0];
    expect(await prompts.first().textContent()).toContain(d.prompts[best.prompt].text);
    expect(await prompts.first().textContent()).toContain(best.meanBenefit!.mean.toFixed(3));
    expect(await axeProblems(page)).toEqual([]);
  });

  it('reads a constructed experiment whose prompts all raise the loss: pair sentences with Holm, π marked "not a share", ticks and values on hover', async () => {
    const c = constructedExperiment();
    await page.route(`**/api/experiments/${c.id}`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(c) }));
    await page.goto(`${srv.base}/#/experiments/${c.id}`);
    await page.getByTestId('prompt-table').waitFor();
    const sentences = await page.getByTestId('pair-sentence').allTextContents();
    expect(sentences).toHaveLength(3);
    expect(sentences[0]).toBe("P1 lowers the loss more than P2 by 0.250 nats/token [0.120, 0.380]; this holds after Holm's correction for 3 comparisons (p = 0.012, n = 8 inputs).");
    expect(sentences[1]).toContain("not shown after Holm's correction for 3 comparisons (p = 0.117");
    // Every π is marked, in the table and in the plot (hollow rows with the caveat in their text).
    expect(await page.getByTestId('pi-caveat').count()).toBe(3);
    expect(await page.getByTestId('pi-caveat').first().textContent()).toMatch(/^not a share: the prompt raises the loss/);
    const piRows = page.getByTestId('forest-pi').getByTestId('forest-row');
    for (let k = 0; k < 3; k++) expect(await piRows.nth(k).getAttribute('data-summary')).toContain('(not a share)');
    // The prompt table is sorted by mean B and shows each text.
    expect(await page.getByTestId('prompt-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-prompt')))).toEqual(['0', '2', '1']);
    expect(await page.getByTestId('prompt-row').first().textContent()).toContain('Once upon a time,');
    // Ticks with labels, a labelled zero line, and a row's values appear when the pointer is over it.
    const plot = page.getByTestId('forest-benefit');
    expect(await plot.getByTestId('forest-tick').count()).toBeGreaterThanOrEqual(3);
    expect(await plot.getByTestId('forest-zero').count()).toBe(1);
    expect(await plot.textContent()).toContain('0 = no effect');
    const value = plot.getByTestId('forest-row').first().getByTestId('forest-value');
    expect(await value.evaluate((e) => getComputedStyle(e).visibility)).toBe('hidden');
    await plot.getByTestId('forest-row').first().hover();
    expect(await value.evaluate((e) => getComputedStyle(e).visibility)).toBe('visible');
    expect(await value.textContent()).toBe('-0.050 [-0.120, 0.020]');
    expect(await axeProblems(page)).toEqual([]);
    await page.unroute(`**/api/experiments/${c.id}`);
    await page.goto(`${srv.base}/#/experiments/${id}`);
    await page.getByTestId('matrix-cell').first().waitFor();
  });

  it('opens a cell of the matrix as an ordinary run', async () => {
    const d = (await (await fetch(`${srv.base}/api/experiments/${id}`)).json()) as ExperimentDetail;
    await page.getByTestId('matrix-cell').first().click();
    await expect.poll(() => page.evaluate(() => window.location.hash)).toBe(`#/run/${d.cells.find((c) => c.prompt === 0 && c.input === 0)!.runId}`);
    await page.goBack();
    await page.getByTestId('experiment-results').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('reads inputs from an uploaded .jsonl file by the chosen field', async () => {
    await page.goto(`${srv.base}/#/experiments`);
    await page.getByTestId('experiment-prompts').fill('A: ');
    await page.getByTestId('experiment-source-file').check();
    await page.getByTestId('experiment-file').setInputFiles({ name: 'inputs.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"body":"one"}\n{"body":"two"}\n{"body":"three"}\n') });
    await expect.poll(() => page.getByTestId('experiment-builder').textContent()).toContain('has no string field "text"');
    expect(await page.getByTestId('experiment-start').isDisabled()).toBe(true);
    await page.getByTestId('experiment-field').fill('body');
    await expect.poll(() => page.getByTestId('experiment-builder').textContent()).toContain('3 texts in inputs.jsonl');
    expect(await page.getByTestId('experiment-start').textContent()).toContain('1 × 3');
  });

  it('shows a refused request beside the builder, naming the problem', async () => {
    await page.goto(`${srv.base}/#/experiments`);
    await page.getByTestId('experiment-prompts').fill('{{unclosed');
    await page.getByTestId('experiment-start').click();
    await expect.poll(() => page.getByTestId('experiment-error').textContent()).toMatch(/prompts\.0\.text/);
  });

  it('picks its own model and a second model that reads the same tokens, and describes input sets for users', async () => {
    await page.goto(`${srv.base}/#/experiments`);
    await page.getByTestId('experiment-builder').waitFor();
    expect(await page.getByTestId('experiment-model').inputValue()).toBe(DEFAULT_ID);
    const seconds = await page.getByTestId('experiment-second').locator('option').allTextContents();
    expect(seconds).toContain(`${TWIN_ID} (its myopic twin)`);
    expect(seconds).toContain(RWKV_ID);
    expect(seconds.some((o) => o.includes('stories'))).toBe(false);
    await page.getByTestId('experiment-second').selectOption(RWKV_ID);
    await page.getByTestId('experiment-prompts').fill('A: ');
    await page.getByTestId('experiment-source-set').check();
    expect(await page.getByTestId('experiment-start').textContent()).toContain('× 2 cells');
    const about = (await page.getByTestId('experiment-set-description').locator('p').first().textContent()) ?? '';
    expect(about).toContain('never saw them');
    expect(about).not.toMatch(/tools\/|\.mjs|\.ts\b/);
    await page.getByTestId('experiment-model').selectOption(STORIES_ID);
    expect(await page.getByTestId('experiment-second').locator('option').count()).toBe(1);
    expect(await page.getByTestId('experiment-builder').textContent()).toContain(`no other model reads ${STORIES_ID}`);
    expect(await axeProblems(page)).toEqual([]);
  });
});
