// Browser tests of what a researcher relies on in a run's view: what produced it, one run per Ctrl+Enter, π warnings,
// no silent changes, tabs that stay apart, per-head attention patterns, stages drawn as they arrive, accessibility.
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/api.js';
import { piVerdict } from '../../shared/format.js';
import { inkedPixels, publishScreenshot, runAndWait, shot, SHOTS, closeWorkbench, openWorkbench, type TestServer, axeProblems, RECIPE_INPUT as INPUT, RECIPE_PROMPT_A as PROMPT_A, RECIPE_PROMPT_B as PROMPT_B } from './harness.js';
import { DEFAULT_DIR, DEFAULT_ID } from '../helpers/bundled.js';
import { openModelDir } from '../../server/model/model-dir.js';
import { loadTokenizer } from '../../server/model/tokenizer.js';

/** The default model's shape, read from its config.json (not from the page under test). */
const MD = openModelDir(DEFAULT_DIR);
const CFG = MD.config;
/** An input of one token on the default model's own tokenizer: the first of a few recipe words that is one token there. */
const TOK = loadTokenizer(MD);
const ONE_TOKEN_INPUT = [' Peel', ' Add', ' mix', ' the'].find((w) => TOK.encode(w).length === 1);

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[] = [];
const ids: { a?: string; b?: string } = {};

const runCount = async () => ((await (await fetch(`${srv.base}/api/runs?limit=1`)).json()) as { total: number }).total;
const runDetail = async (id: string) => (await (await fetch(`${srv.base}/api/runs/${id}`)).json()) as RunDetail;

async function fillDraft(p: Page, prompt: string, input: string, label = '') {
  await p.getByTestId('prompt-input').fill(prompt);
  await p.getByTestId('input-input').fill(input);
  await p.getByTestId('label-input').fill(label);
}

beforeAll(async () => {
  ({ srv, dataDir, browser, context, page, pageErrors } = await openWorkbench('pl-e2e-run-'));
}, 180_000);

afterAll(async () => {
  await closeWorkbench({ browser, srv, dataDir });
});

describe('a run shows what produced it (issue 15, point 1)', () => {
  it('shows the run’s prompt, input and model next to its numbers, whatever draft the editor holds', async () => {
    await page.goto(srv.base);
    await fillDraft(page, PROMPT_A, INPUT, 'variant A');
    // Live token counts under the editor (point 12), from the same tokenizer as the run.
    await expect.poll(() => page.getByTestId('token-count').textContent(), { timeout: 30_000 }).toMatch(new RegExp(`\\d+ tokens · BOS \\+ prompt \\+ input = \\d+ of ${CFG.nCtx} tokens`));
    expect(await page.getByTestId('prompt-token-count').textContent()).toMatch(/^\d+ tokens/);
    ids.a = await runAndWait(page, () => page.getByTestId('run-button').click());
    expect(await page.getByTestId('run-prompt').textContent()).toBe(PROMPT_A);
    expect(await page.getByTestId('run-input').textContent()).toBe(INPUT);
    expect(await page.getByTestId('run-inputs').textContent()).toContain(DEFAULT_ID);
    expect(await page.getByTestId('draft-matches').isVisible()).toBe(true);

    // Another draft in the editor, then the run reopened from the history and from a link: still A's texts.
    await fillDraft(page, 'A cake: flour, eggs, sugar.', 'Whisk the eggs.');
    await page.locator(`[data-testid=history-item][data-run-id="${ids.a}"] .history-open`).click();
    expect(await page.getByTestId('run-prompt').textContent()).toBe(PROMPT_A);
    expect(await page.getByTestId('draft-differs').textContent()).toContain('different draft');
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    await page.reload();
    await expect.poll(() => page.getByTestId('run-prompt').textContent()).toBe(PROMPT_A);
    expect(await page.getByTestId('run-input').textContent()).toBe(INPUT);

    await page.getByTestId('load-into-editor').click();
    expect(await page.getByTestId('prompt-input').inputValue()).toBe(PROMPT_A);
    expect(await page.getByTestId('input-input').inputValue()).toBe(INPUT);
    await expect.poll(() => page.getByTestId('draft-matches').isVisible()).toBe(true);
  });

  it('has no serious accessibility violations on the start page and the run view', async () => {
    await page.goto(srv.base);
    await page.getByTestId('intro').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    await page.getByTestId('headline-numbers').waitFor();
    await page.getByTestId('dashboard').waitFor();
    expect(await axeProblems(page)).toEqual([]);
  });

  it('offers a skip link to the results as the first keyboard stop', async () => {
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    await page.getByTestId('headline-numbers').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the results');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('results');
  });
});

describe('one run per Ctrl+Enter (point 3)', () => {
  it('two quick Ctrl+Enter presses start exactly one run', async () => {
    await page.goto(srv.base);
    await fillDraft(page, PROMPT_B, INPUT, 'double press');
    const before = await runCount();
    await page.getByTestId('input-input').focus();
    const id = await runAndWait(page, async () => {
      await page.keyboard.press('Control+Enter');
      await page.keyboard.press('Control+Enter');
    }, ids.a);
    expect(await runCount()).toBe(before + 1);
    expect((await runDetail(id)).label).toBe('double press');
    ids.b = id;
  });
});

describe('π is never shown without saying when it means nothing (point 4)', () => {
  it('warns beside π exactly when D(0) is too small or negative or π leaves 0–100%', async () => {
    for (const id of [ids.a!, ids.b!]) {
      await page.goto(`${srv.base}/#/run/${id}`);
      await page.getByTestId('stat-pi').waitFor();
      const r = (await runDetail(id)).result!;
      const verdict = piVerdict(r.depthCurve[0], r.summary.precomputationShare);
      await expect.poll(() => page.getByTestId('pi-warning').count()).toBe(verdict.ok ? 0 : 1);
    }
  });

  it('a one-token input (no knockout possible, D(0) = 0) shows π as undefined with the reason', async () => {
    await page.goto(srv.base);
    expect(ONE_TOKEN_INPUT, 'a one-token word on the default model\'s tokenizer').toBeDefined();
    await fillDraft(page, PROMPT_A, ONE_TOKEN_INPUT!, 'one token');
    await runAndWait(page, () => page.getByTestId('run-button').click(), ids.b);
    expect(await page.getByTestId('stat-pi').textContent()).toContain('–');
    expect(await page.getByTestId('pi-warning').textContent()).toMatch(/no share.*D\(0\)/s);
    // B over all of X and B over x₂..xₙ = D(0) are two labelled numbers, not one number and a tooltip.
    expect(await page.getByTestId('stat-benefit').textContent()).toContain('all of X');
    expect(await page.getByTestId('stat-benefit-read').textContent()).toContain('D(0)');
  });
});

describe('no silent changes (point 8)', () => {
  it('a window wider than the model allows is refused beside the field, not clamped', async () => {
    await page.goto(srv.base);
    await fillDraft(page, PROMPT_A, INPUT);
    const before = await runCount();
    await page.getByTestId('window-input').fill('99');
    await page.getByTestId('run-button').click();
    await expect.poll(() => page.getByTestId('error-options.layerWindow').textContent()).toMatch(/layerWindow|window|wider|<=|64/i);
    expect(await page.getByTestId('window-input').inputValue()).toBe('99');
    // Within zod's range but wider than this model needs (a radius of nLayer - 1 blocks every layer): the server's
    // model check says so, naming the model's layer count.
    expect(20).toBeGreaterThan(CFG.nLayer - 1);
    await page.getByTestId('window-input').fill('20');
    await page.getByTestId('run-button').click();
    await expect.poll(() => page.getByTestId('error-options.layerWindow').textContent()).toContain(`with ${CFG.nLayer} layers`);
    expect(await runCount()).toBe(before);
    await page.getByTestId('window-input').fill('1');
  });

  it('an empty prompt is refused beside the prompt instead of giving an all-zero result', async () => {
    const before = await runCount();
    await page.getByTestId('prompt-input').fill('');
    await page.getByTestId('run-button').click();
    await expect.poll(() => page.getByTestId('error-prompt').textContent()).toMatch(/empty/);
    expect(await runCount()).toBe(before);
    await page.getByTestId('prompt-input').fill(PROMPT_A);
    expect(await page.getByTestId('error-prompt').count()).toBe(0);
  });
});

describe('two tabs (point 9)', () => {
  it('each tab keeps its own draft across a reload', async () => {
    const tabB = await context.newPage();
    await page.goto(srv.base);
    await tabB.goto(srv.base);
    await page.getByTestId('prompt-input').fill('alpha prompt in tab A');
    await tabB.getByTestId('prompt-input').fill('beta prompt in tab B');
    await page.reload();
    await tabB.reload();
    expect(await page.getByTestId('prompt-input').inputValue()).toBe('alpha prompt in tab A');
    expect(await tabB.getByTestId('prompt-input').inputValue()).toBe('beta prompt in tab B');
    await tabB.close();
  });

  it('a run started or deleted in one tab shows up in the other tab’s history without a reload', async () => {
    const tabB = await context.newPage();
    await page.goto(srv.base);
    await tabB.goto(srv.base);
    const items = page.getByTestId('history-item');
    const before = await runCount();
    await expect.poll(() => items.count()).toBe(before);
    await fillDraft(tabB, PROMPT_B, 'Mix the flour.', 'from tab B');
    const id = await runAndWait(tabB, () => tabB.getByTestId('run-button').click());
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(before + 1);
    expect(await page.getByTestId('history').textContent()).toContain('from tab B');

    // Tab A opens the run; tab B deletes it: tab A's history drops it and its view closes.
    await page.locator(`[data-testid=history-item][data-run-id="${id}"] .history-open`).click();
    await page.getByTestId('run-results').waitFor();
    const item = tabB.locator(`[data-testid=history-item][data-run-id="${id}"]`);
    await item.getByTestId('delete-button').click();
    await item.getByTestId('confirm-delete').click();
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(before);
    await page.getByTestId('intro').waitFor();
    await tabB.close();
  });

  it('exporting a run deleted elsewhere says so instead of failing silently', async () => {
    await page.goto(srv.base);
    await fillDraft(page, PROMPT_B, 'Slice the apples.', 'to be deleted');
    const id = await runAndWait(page, () => page.getByTestId('run-button').click());
    // Deleted by a script (no tab is told).
    expect((await fetch(`${srv.base}/api/runs/${id}`, { method: 'DELETE' })).status).toBe(204);
    await page.getByTestId('export-button').click();
    await page.getByTestId('export-json').click();
    await expect.poll(() => page.getByTestId('export-button-error').textContent()).toContain('no longer exists');
  });
});

describe('per-head attention pattern', () => {
  it('opens from a head-grid cell: token x token, prompt and input marked, the hovered pair and weight spelled out', async () => {
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    const grid = page.getByTestId('head-grid-chart');
    await grid.scrollIntoViewIfNeeded();
    await expect.poll(() => inkedPixels(page, 'head-grid-chart')).toBeGreaterThan(300);
    // The grid's plot area: left 176, right 56, top 8, bottom 28 px; nHead columns x nLayer rows. Click layer 1, head 2.
    const box = (await grid.boundingBox())!;
    const x = box.x + 176 + ((box.width - 232) * 2.5) / CFG.nHead;
    const y = box.y + 8 + ((box.height - 36) * 1.5) / CFG.nLayer;
    await page.mouse.click(x, y);
    const view = page.getByTestId('attention-view');
    await view.waitFor();
    expect(await view.locator('h3').textContent()).toContain('blocks.1.attn.hook_pattern');
    expect(await view.locator('h3').textContent()).toContain('head 2');
    await view.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await expect.poll(() => inkedPixels(page, 'attention-chart'), { timeout: 30_000 }).toBeGreaterThan(1000);
    expect(await view.textContent()).toMatch(/prompt.*input/s);

    // Hover the lower-right of the main grid (an input token reading an earlier token).
    const chart = (await page.getByTestId('attention-chart').boundingBox())!;
    await page.getByTestId('attention-chart').hover({ position: { x: 150 + (chart.width - 166) * 0.3, y: chart.height - 50 } });
    await expect.poll(() => page.getByTestId('attention-readout').textContent()).toMatch(/x\d+ “.*” \(input\) reads .*: \d+\.\d+%/);
    await shot(page, 'attention');
    publishScreenshot(path.join(SHOTS, 'attention.png'), 'attention.png');

    // Norm-weighted: the same view from the pattern and the value norm hooks.
    await page.getByTestId('attention-norm').check();
    await expect.poll(() => view.textContent(), { timeout: 30_000 }).toContain('blocks.1.attn.hook_value_norm');
    await page.getByTestId('attention-layer').selectOption('3');
    await expect.poll(() => view.locator('h3').textContent()).toContain('blocks.3.attn.hook_pattern');
    expect(await axeProblems(page)).toEqual([]);
  });
});

describe('spans and compare', () => {
  it('sorts the span table by K and back by position', async () => {
    await page.goto(srv.base);
    await fillDraft(page, 'The recipe for apple pie needs apples, sugar, flour and butter.', INPUT, 'words');
    await page.locator('#spans').selectOption('words');
    const id = await runAndWait(page, () => page.getByTestId('run-button').click());
    const spans = (await runDetail(id)).result!.spans;
    const rows = page.locator('[data-testid=span-list] tbody tr');
    await page.getByTestId('span-sort-kAllLayers').click();
    const order = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-span-index'))));
    const ks = order.map((i) => spans[i].kAllLayers);
    expect(ks).toEqual([...ks].sort((p, q) => q - p));
    expect(await page.locator('th[aria-sort=descending]').count()).toBe(1);
    await page.getByTestId('span-sort-position').click();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-span-index'))))).toEqual(spans.map((_, i) => i));
  });

  it('compares two variants with a word diff of the prompts and read maps side by side', async () => {
    await page.goto(`${srv.base}/#/compare/${ids.a},${ids.b}`);
    await page.getByTestId('variant-compare').waitFor({ timeout: 20_000 });
    const diff = page.getByTestId('compare-prompt-diff-B');
    await diff.waitFor();
    expect(await diff.locator('ins').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('Steps')]));
    expect(await diff.locator('del').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('Ingredients')]));
    expect(await page.getByTestId('compare-same-input').textContent()).toContain(INPUT);
    for (const id of ['compare-readmap-chart-A', 'compare-readmap-chart-B', 'compare-spans-chart-A', 'compare-spans-chart-B', 'compare-depth-chart']) {
      await page.getByTestId(id).scrollIntoViewIfNeeded();
      await expect.poll(() => inkedPixels(page, id), { message: `${id} draws` }).toBeGreaterThan(300);
    }
    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await shot(page, 'compare-variants');
    publishScreenshot(path.join(SHOTS, 'compare-variants.png'), 'compare.png');
    expect(await axeProblems(page)).toEqual([]);
  });
});

describe('results as they arrive (issue 10, point 2)', () => {
  it('draws the headline while the run is still going, and a cancelled run keeps its finished stages', async () => {
    await page.goto(srv.base);
    const long = Array.from({ length: 48 }, (_, k) => `item${k}`).join(' ');
    await fillDraft(page, long, INPUT, 'staged');
    await page.locator('#spans').selectOption('tokens');
    await page.getByTestId('run-button').click();
    // The headline numbers are on screen while the run's status is still running.
    const seen = await page.waitForFunction(
      () => {
        const res = document.querySelector('[data-testid=run-results]');
        const dash = document.querySelector('[data-testid=dashboard]');
        return res?.getAttribute('data-status') === 'running' && dash?.getAttribute('data-stages')?.includes('headline') ? dash.getAttribute('data-stages') : null;
      },
      null,
      { timeout: 90_000, polling: 50 },
    );
    expect(await seen.jsonValue()).toContain('headline');
    expect(await page.getByTestId('stat-loss-with').textContent()).toMatch(/\d+\.\d{3}/);
    expect(await page.getByTestId('stage-pending').count()).toBeGreaterThan(0);
    await page.getByTestId('cancel-button').click();
    await expect.poll(() => page.getByTestId('run-results').getAttribute('data-status'), { timeout: 60_000 }).toBe('cancelled');
    expect(await page.getByTestId('run-ended').textContent()).toContain('stages it finished');
    expect(await page.getByTestId('stat-loss-with').textContent()).toMatch(/\d+\.\d{3}/);
    // What never came says so (not "computing"); what came is drawn, the natural-position reference with the depth stage.
    const stages = (await page.getByTestId('dashboard').getAttribute('data-stages')) ?? '';
    const foot = (await page.locator('.headline-foot').textContent()) ?? '';
    if (stages.includes('depth')) {
      expect(await page.getByTestId('stat-pi').textContent()).toMatch(/%|–/);
      expect(foot).toMatch(/natural no-prompt positions: B = [+−-]?\d/);
    } else {
      expect(await page.getByTestId('stat-pi').textContent()).toContain('not computed');
      expect(foot).toContain('natural no-prompt positions: B = not computed');
    }
    await page.locator('#spans').selectOption('auto');
  });
});

describe('layout (point 6)', () => {
  it('at 1024 px every headline number keeps its unit inside its box, and the read map has no inner scroll box', async () => {
    await page.setViewportSize({ width: 1024, height: 800 });
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    await page.getByTestId('dashboard').waitFor();
    const cut = await page.$$eval('.stat', (stats) =>
      stats.filter((st) => {
        const box = st.getBoundingClientRect();
        return Array.from(st.querySelectorAll(".stat-value > span")).some((el) => {
          const r = el.getBoundingClientRect();
          return r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
        });
      }).length,
    );
    expect(cut).toBe(0);
    const inner = await page.$eval('.readmap-pair', (el) => el.scrollHeight > el.clientHeight + 1);
    expect(inner).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('on a phone, starting a run brings its results into view', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(srv.base);
    await fillDraft(page, PROMPT_A, 'Mix the sugar in.', 'phone');
    await page.getByTestId('run-button').click();
    await page.getByTestId('run-results').waitFor();
    await expect.poll(() => page.getByTestId('run-results').evaluate((el) => Math.round(el.getBoundingClientRect().top)), { timeout: 10_000 }).toBeLessThan(400);
    await expect.poll(() => page.getByTestId('run-results').getAttribute('data-status'), { timeout: 90_000 }).toBe('done');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});

describe('screenshots and errors', () => {
  it('takes the run view screenshots (copied into docs/ with PRECACHE_LENS_UPDATE_DOCS=1)', async () => {
    await page.goto(`${srv.base}/#/run/${ids.a}`);
    await page.getByTestId('dashboard').waitFor();
    // The editor holding the run's own texts, and no live run in the form: the state a reader of the docs expects.
    if (await page.getByTestId('load-into-editor').count()) await page.getByTestId('load-into-editor').click();
    await page.getByTestId('fork-chip').locator('button[title]').click();
    await page.getByTestId('label-input').fill('');
    await page.reload();
    await page.getByTestId('dashboard').waitFor();
    await expect.poll(() => inkedPixels(page, 'depth-curve-chart')).toBeGreaterThan(300);
    await page.locator('.main').evaluate((m) => m.scrollTo(0, 0));
    await shot(page, 'workbench-run');
    publishScreenshot(path.join(SHOTS, 'workbench-run.png'), 'workbench.png');
    await page.locator('[data-testid=span-list] button', { hasText: 'dish' }).click();
    await page.getByTestId('card-readmap').scrollIntoViewIfNeeded();
    await shot(page, 'read-map-linked');
    publishScreenshot(path.join(SHOTS, 'read-map-linked.png'), 'read-map.png');
  });

  it('logged no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
