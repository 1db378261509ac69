// Phone width (390 px): nothing wider than the screen on the run, compare, twins, experiment and search pages (tables
// scroll inside their own box), charts keep a usable width, and a run's results come before the history. The run is
// the bundled recipe example, the one the README's walkthrough quotes.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negativeDepthNote } from '../../shared/run-reading.js';
import { constructedExperiment } from '../helpers/constructed-experiment.js';
import { axeProblems, closeWorkbench, ROOT, openWorkbench, publishScreenshot, RECIPE_INPUT, RECIPE_PROMPT_A, RECIPE_PROMPT_B, shot, type TestServer } from './harness.js';

let srv: TestServer;
let dataDir: string;
let browser: Browser;
let context: BrowserContext;
let phone: Page;
const ids: { a?: string; b?: string; twins?: [string, string] } = {};

beforeAll(async () => {
  ({ srv, dataDir, browser } = await openWorkbench('pl-e2e-phone-'));
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  phone = await context.newPage();
  ids.a = (await srv.api.createRun({ prompt: RECIPE_PROMPT_A, input: RECIPE_INPUT })).id;
  ids.b = (await srv.api.createRun({ prompt: RECIPE_PROMPT_B, input: RECIPE_INPUT })).id;
  const t = await srv.api.createTwinRuns({ prompt: RECIPE_PROMPT_A, input: RECIPE_INPUT });
  ids.twins = [t.vanilla.id, t.myopic.id];
  for (const id of [ids.a, ids.b, ...ids.twins]) expect((await srv.api.waitForRun(id)).status).toBe('done');
}, 300_000);

afterAll(async () => {
  await context?.close();
  await closeWorkbench({ browser, srv, dataDir });
});

/** Elements sticking out past the right edge of the screen (or cut off by a box that hides overflow), unless a box that scrolls holds them. */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const out: string[] = [];
    // Held by a box that scrolls sideways and itself fits; a box that hides the overflow cuts numbers off, which counts.
    const clipped = (el: Element): boolean => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const ox = getComputedStyle(p).overflowX;
        if (ox === 'auto' || ox === 'scroll') return p.getBoundingClientRect().right <= vw + 1;
        if (ox === 'hidden' || ox === 'clip') return false;
      }
      return false;
    };
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > vw + 1 && !clipped(el)) {
        const id = el.getAttribute('data-testid') ?? el.className.toString().split(' ')[0] ?? '';
        out.push(`${el.tagName.toLowerCase()}${id ? `.${id}` : ''} right=${Math.round(r.right)}`);
      }
    }
    if (document.documentElement.scrollWidth > vw + 1) out.unshift(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
    return out.slice(0, 8);
  });
}

/** Width of each drawn chart (canvas) on the page: none may collapse. */
const chartWidths = (page: Page) => page.locator('canvas').evaluateAll((cs) => cs.filter((c) => (c as HTMLElement).offsetParent !== null).map((c) => Math.round(c.getBoundingClientRect().width)));

describe('at 390 px', () => {
  it('a run: results come before the history, nothing sticks out, charts keep their width', async () => {
    await phone.goto(`${srv.base}/#/run/${ids.a}`);
    await phone.getByTestId('dashboard').waitFor();
    await phone.waitForTimeout(500);
    const resultsTop = await phone.getByTestId('run-results').evaluate((e) => e.getBoundingClientRect().top);
    const historyTop = await phone.getByTestId('history').evaluate((e) => e.getBoundingClientRect().top);
    expect(resultsTop).toBeLessThan(historyTop);
    expect(await overflowing(phone)).toEqual([]);
    const widths = await chartWidths(phone);
    expect(widths.length).toBeGreaterThan(0);
    expect(Math.min(...widths)).toBeGreaterThanOrEqual(240);
    expect(await axeProblems(phone)).toEqual([]);
    // The README's walkthrough quotes this very run (the bundled recipe example): its sentence, and what its depth
    // curve does below 0 (the layers of the page's note, or that there is none).
    await phone.getByTestId('card-depth').locator('canvas').first().waitFor();
    const summary = (await phone.getByTestId('run-summary').textContent())!.trim();
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\s*\n\s*/g, ' ');
    expect(readme).toContain(`"${summary}"`);
    const note = negativeDepthNote((await srv.api.run(ids.a!)).result!.depthCurve);
    if (note) {
      await phone.getByTestId('depth-negative-note').waitFor();
      expect(await phone.getByTestId('depth-negative-note').textContent()).toBe(note);
      expect(readme).toContain(`D(k) dips below 0 at k = ${/k = (\S+) \(/.exec(note)![1]}`);
    } else {
      expect(await phone.getByTestId('depth-negative-note').count()).toBe(0);
      expect(readme).toContain('D(k) stays at or above 0 at every layer');
    }
    await phone.getByTestId('run-results').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    publishScreenshot(await shot(phone, 'phone-run'), 'phone.png');
  });

  it('a comparison of two variants: its table scrolls in its box, nothing else sticks out', async () => {
    await phone.goto(`${srv.base}/#/compare/${ids.a},${ids.b}`);
    await phone.locator('.compare-table').first().waitFor();
    // The README's variant step: B of the "Steps:" variant.
    const b = (await srv.api.run(ids.b!)).result!.summary.meanBenefit;
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ')).toContain(`(B is then ${b.toFixed(2)} nats/token)`);
    await phone.waitForTimeout(500);
    expect(await overflowing(phone)).toEqual([]);
  });

  it('twins side by side: both read maps keep a usable width', async () => {
    await phone.goto(`${srv.base}/#/twins/${ids.twins![0]},${ids.twins![1]}`);
    await phone.getByTestId('twins-compare').and(phone.locator('[data-ready="true"]')).waitFor({ timeout: 60_000 });
    await phone.waitForTimeout(500);
    expect(await overflowing(phone)).toEqual([]);
    for (const role of ['vanilla', 'myopic']) {
      const w = await phone.getByTestId(`twins-readmap-${role}`).evaluate((e) => e.getBoundingClientRect().width);
      expect(w).toBeGreaterThanOrEqual(240);
    }
  });

  it('an experiment: prompt, pairs and forest plots fit or scroll in their own box', async () => {
    const c = constructedExperiment();
    await phone.route(`**/api/experiments/${c.id}`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(c) }));
    await phone.goto(`${srv.base}/#/experiments/${c.id}`);
    await phone.getByTestId('prompt-table').waitFor();
    expect(await overflowing(phone)).toEqual([]);
    expect(await axeProblems(phone)).toEqual([]);
    await phone.getByTestId('prompt-table').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await shot(phone, 'phone-experiment');
  });

  it('the search page', async () => {
    await phone.goto(`${srv.base}/#/search`);
    await phone.waitForTimeout(800);
    expect(await overflowing(phone)).toEqual([]);
    expect(await axeProblems(phone)).toEqual([]);
  });
});
