// Browser end-to-end tests of the Export menu (HTML / CSV reports, raw activations as safetensors, comparison exports)
// and of "Run on both twins" (the default model and its myopic twin side by side), in headless Chromium against the
// real server on the bundled models. Short texts keep the runs quick.
import fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import { inkedPixels, publishScreenshot, runAndWait, shot, closeWorkbench, openWorkbench, type TestServer } from './harness.js';
import { DEFAULT_DIR, DEFAULT_ID, TWIN_ID } from '../helpers/bundled.js';
import { openModelDir } from '../../server/model/model-dir.js';

/** The default model's head count, read from its config.json (not from the page or the run under test). */
const N_HEAD = openModelDir(DEFAULT_DIR).config.nHead;

const PROMPT = 'Recipe: {{dish|apple pie}}.\nIngredients: apples, sugar.\n';
const TWIN_PROMPT = 'Recipe: {{dish|apple pie}}.\nIngredients: apples, sugar, flour, butter.\n';
const INPUT = 'Peel the apples and mix them with sugar.';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];
let runId = '';
let run: RunDetail;
const twins: { vanilla?: string; myopic?: string } = {};

async function openExportMenu(): Promise<void> {
  await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
  if ((await page.getByTestId('export-button-menu').count()) === 0) await page.getByTestId('export-button').click();
  await page.getByTestId('export-button-menu').waitFor();
}

async function download(testId: string): Promise<{ name: string; body: Buffer }> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  return { name: d.suggestedFilename(), body: fs.readFileSync((await d.path())!) };
}

beforeAll(async () => {
  ({ srv, dataDir, browser, page, pageErrors } = await openWorkbench('pl-e2e-x-'));
}, 180_000);

afterAll(async () => {
  delete process.env.PRECACHE_LENS_MAX_EXPORT_MB;
  await closeWorkbench({ browser, srv, dataDir });
});

describe('exports and the myopic twin in headless Chromium', () => {
  it('runs a short analysis on the default model', async () => {
    await page.goto(srv.base);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(DEFAULT_ID);
    await page.getByTestId('prompt-input').fill(PROMPT);
    await page.getByTestId('input-input').fill(INPUT);
    await page.getByTestId('label-input').fill('exports');
    runId = await runAndWait(page, () => page.getByTestId('run-button').click());
    run = (await (await fetch(`${srv.base}/api/runs/${runId}`)).json()) as RunDetail;
    expect(run.status).toBe('done');
  });

  it('groups the exports in one menu and downloads the HTML report and the tokens CSV', async () => {
    await openExportMenu();
    const menu = (await page.getByTestId('export-button-menu').textContent()) ?? '';
    for (const item of ['JSON report', 'HTML report', 'tokens.csv', 'layers.csv', 'heads.csv', 'spans.csv', 'Activations…']) expect(menu).toContain(item);
    await shot(page, 'export-menu');
    // The print view opens the same report inline, in a new tab.
    const printLink = page.getByTestId('export-html-print');
    expect(await printLink.getAttribute('href')).toBe(`/api/runs/${runId}/report.html?inline=1`);
    expect(await printLink.getAttribute('target')).toBe('_blank');

    const html = await download('export-html');
    expect(html.name).toBe(`precache-lens-${runId}-report.html`);
    const text = html.body.toString('utf8');
    expect(text).toContain(PROMPT); // the raw prompt, markers and all, in the report's prompt block
    expect(text).toContain('<svg');

    await openExportMenu();
    const csv = await download('export-csv-tokens');
    expect(csv.name).toBe(`precache-lens-${runId}-tokens.csv`);
    const lines = csv.body.toString('utf8').trim().split('\n');
    expect(lines[0]).toBe('index,position,id,text,loss_with_prompt,loss_no_prompt,loss_no_prompt_natural,benefit,benefit_natural');
    expect(lines).toHaveLength(1 + run.result!.n);
  });

  it('exports raw activations: attn.hook_pattern at layer 0 as a safetensors file, sized first', async () => {
    await openExportMenu();
    await page.getByTestId('export-activations').click();
    const dialog = page.getByTestId('activations-dialog');
    await dialog.waitFor();
    await page.getByTestId('act-kind-hook_resid_pre').uncheck();
    expect(await page.getByTestId('act-kind-attn.hook_pattern').isChecked()).toBe(true);
    await page.getByTestId('act-layers-some').check();
    expect(await page.getByTestId('act-layer-0').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('act-layer-1').getAttribute('aria-pressed')).toBe('false');

    // nHead × T × T float32s, T = BOS + prompt + input.
    const T = 1 + run.result!.p + run.result!.n;
    const rows = page.getByTestId('activations-hook-row');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(1);
    expect(await rows.first().getAttribute('data-hook')).toBe('blocks.0.attn.hook_pattern');
    expect(Number(await rows.first().getAttribute('data-bytes'))).toBe(N_HEAD * T * T * 4);
    expect(await rows.first().textContent()).toContain(`[1, ${N_HEAD}, ${T}, ${T}]`);
    const total = page.getByTestId('activations-total');
    const totalBytes = Number(await total.getAttribute('data-bytes'));
    expect(totalBytes).toBeGreaterThan(N_HEAD * T * T * 4);
    expect(await total.textContent()).toMatch(/limit 512\.0 MiB/);
    const py = (await page.getByTestId('activations-python').textContent()) ?? '';
    expect(py).toContain('from safetensors.numpy import load_file');
    expect(py).toContain(`t = load_file("precache-lens-${runId}.safetensors")`);
    expect(py).toContain('t["blocks.0.attn.hook_pattern"].shape');
    await shot(page, 'activations-dialog');

    const file = await download('activations-download');
    expect(file.name).toBe(`precache-lens-${runId}.safetensors`);
    const n = Number(file.body.readBigUInt64LE(0));
    const header = JSON.parse(file.body.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(Object.keys(header)).toContain('blocks.0.attn.hook_pattern');
    expect(header['blocks.0.attn.hook_pattern'].dtype).toBe('F32');
    expect(header['blocks.0.attn.hook_pattern'].shape).toEqual([1, N_HEAD, T, T]);
    expect(file.body.length).toBe(totalBytes);
    // Each attention row sums to one: the file's data are the real pattern, little-endian float32.
    const [off] = header['blocks.0.attn.hook_pattern'].data_offsets;
    const data = file.body.subarray(8 + n + off);
    let row = 0;
    for (let j = 0; j < T; j++) row += data.readFloatLE((T - 1) * T * 4 + j * 4);
    expect(row).toBeCloseTo(1, 4);
  });

  it('refuses an export over the size limit with the server’s message and no download', async () => {
    process.env.PRECACHE_LENS_MAX_EXPORT_MB = '0.001'; // read by the server at each request
    try {
      await page.getByTestId('act-kind-attn.hook_value_norm').check(); // a new set of hooks: a fresh estimate
      await expect.poll(() => page.getByTestId('activations-error').textContent(), { timeout: 15_000 }).toContain('over the export limit');
      expect(await page.getByTestId('activations-download').isDisabled()).toBe(true);
      expect(await page.getByTestId('activations-total').getAttribute('class')).toContain('over');
    } finally {
      delete process.env.PRECACHE_LENS_MAX_EXPORT_MB;
    }
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('activations-dialog').count()).toBe(0);
  });

  it('runs on both twins, follows both runs, and shows them side by side', async () => {
    await page.getByTestId('prompt-input').fill(TWIN_PROMPT);
    await page.getByTestId('label-input').fill('twins');
    await expect.poll(() => page.getByTestId('twins-button').isEnabled()).toBe(true);
    await page.getByTestId('twins-button').click();
    await page.getByTestId('twins-compare').waitFor({ timeout: 10_000 });
    const m = /#\/twins\/([0-9a-f-]{36}),([0-9a-f-]{36})$/.exec(page.url());
    expect(m, page.url()).not.toBeNull();
    [twins.vanilla, twins.myopic] = [m![1], m![2]];
    await page.getByTestId('twins-progress').waitFor();
    expect(await page.getByTestId('twin-progress-vanilla').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('twin-progress-myopic').count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('twins-compare').getAttribute('data-ready'), { timeout: 150_000, interval: 250 }).toBe('true');
    expect(await page.locator('[data-testid=twins-progress] [data-status=done]').count()).toBe(2);

    expect(await page.getByTestId('twins-col-vanilla').textContent()).toContain(DEFAULT_ID);
    expect(await page.getByTestId('twins-col-myopic').textContent()).toContain(TWIN_ID);
    expect(await page.getByTestId('twins-explainer').textContent()).toContain('stop-gradients');
    expect(await page.locator('[data-testid=twins-table] tbody tr').count()).toBe(5);
    for (const id of ['twins-depth-chart', 'twins-readmap-chart-vanilla', 'twins-readmap-chart-myopic', 'twins-readshare-chart']) {
      await page.getByTestId(id).scrollIntoViewIfNeeded();
      await expect.poll(() => inkedPixels(page, id), { message: `${id} draws on its canvas` }).toBeGreaterThan(300);
    }
    const va = (await (await fetch(`${srv.base}/api/runs/${twins.vanilla}`)).json()) as RunDetail;
    const my = (await (await fetch(`${srv.base}/api/runs/${twins.myopic}`)).json()) as RunDetail;
    expect([va.modelId, my.modelId]).toEqual([DEFAULT_ID, TWIN_ID]);
    expect(va.prompt).toBe(TWIN_PROMPT);

    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await shot(page, 'twins');
    await page.setViewportSize({ width: 1280, height: 1500 });
    const file = await shot(page, 'twins-full');
    publishScreenshot(file, 'twins.png');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('reopens the twins view from its URL after a reload', async () => {
    await page.reload();
    await page.getByTestId('twins-compare').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.getByTestId('twins-compare').getAttribute('data-ready'), { timeout: 15_000 }).toBe('true');
    expect(page.url()).toContain(`#/twins/${twins.vanilla},${twins.myopic}`);
    expect(await page.getByTestId('twins-readmap-vanilla').textContent()).toContain(DEFAULT_ID);
    expect(await page.getByTestId('twins-readmap-myopic').textContent()).toContain(TWIN_ID);
    for (const id of ['twins-readmap-chart-vanilla', 'twins-readmap-chart-myopic']) {
      await page.getByTestId(id).scrollIntoViewIfNeeded();
      await expect.poll(() => inkedPixels(page, id)).toBeGreaterThan(300);
    }
    await shot(page, 'twins-reloaded');
  });

  it('reopens the twin pair side by side from the history', async () => {
    await page.goto(`${srv.base}/#/run/${twins.myopic}`);
    await page.getByTestId('run-results').waitFor();
    await page.locator(`[data-testid=history-item][data-run-id="${twins.myopic}"]`).getByTestId('history-twins').click();
    await page.getByTestId('twins-compare').waitFor({ timeout: 15_000 });
    expect(page.url()).toContain(`#/twins/${twins.vanilla},${twins.myopic}`);
  });

  it('exports a comparison of two runs of the default model on the same input (summary CSV, HTML report)', async () => {
    // The exports run and the vanilla twin share the model and the input: variants of one prompt.
    await page.goto(`${srv.base}/#/compare/${runId},${twins.vanilla}`);
    await page.getByTestId('variant-compare').waitFor({ timeout: 15_000 });
    await page.getByTestId('compare-export-button').click();
    const csv = await download('compare-export-csv-summary');
    const rows = parse(csv.body.toString('utf8')) as string[][];
    expect(rows[0].slice(0, 4)).toEqual(['run', 'run_id', 'label', 'prompt']);
    expect(rows.map((r) => r[1]).slice(1)).toEqual([runId, twins.vanilla]);
    expect(rows[1][3]).toBe(PROMPT);
    await page.getByTestId('compare-export-button').click();
    const html = await download('compare-export-html');
    expect(html.name).toMatch(/^precache-lens-compare-.*\.html$/);
    expect(html.body.toString('utf8')).toContain('<svg');
  });

  it('logged no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
