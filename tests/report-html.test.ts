// The HTML reports in headless Chromium: they open with no console errors and no network requests, show their
// charts (screenshots in artifacts/report/), render user text as text, and print to PDF.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'artifacts/report');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const MODEL = 'gpt2-opset14';
const INPUT = 'It was "safe" & <i>ok</i>.';

let srv: Awaited<ReturnType<typeof startServer>>;
let browser: Browser;
let ids: string[] = [];

beforeAll(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  srv = await startServer({ models: [path.join(FIXTURES, MODEL)] });
  const prompts = ['The {{animal|cat}} <b>sat</b>.\nWarm. ', 'A {{pet|dog}} <script>x</script>', 'Hello.\n'];
  ids = [];
  for (const prompt of prompts) {
    const { id } = await srv.api.createRun({ model: MODEL, prompt, input: INPUT });
    expect((await srv.api.waitForRun(id)).status).toBe('done');
    ids.push(id);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

/** Opens a saved HTML file and records console errors and every request other than the file itself. */
async function open(file: string, shot: string) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const url = pathToFileURL(file).href;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => {
    const u = r.url();
    if (u !== url && !u.startsWith('data:') && !u.startsWith('about:')) requests.push(u);
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.screenshot({ path: path.join(OUT, `${shot}.png`), fullPage: true });
  return { page, consoleErrors, requests };
}

async function save(urlPath: string, body: unknown, name: string): Promise<string> {
  const r = body === undefined ? await fetch(`${srv.base}${urlPath}`) : await fetch(`${srv.base}${urlPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/text\/html/);
  const file = path.join(OUT, name);
  fs.writeFileSync(file, await r.text());
  return file;
}

describe('HTML report in headless Chromium', () => {
  it('a run report opens with no console errors and no network requests, and shows its charts as inline SVG', async () => {
    const file = await save(`/api/runs/${ids[0]}/report.html`, undefined, 'run-report.html');
    const { page, consoleErrors, requests } = await open(file, 'run-report');
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    const charts = await page.$$eval('svg.chart', (els) => els.map((e) => e.getBoundingClientRect()).map((b) => [b.width, b.height]));
    expect(charts.length).toBeGreaterThanOrEqual(3);
    for (const [w, h] of charts) expect(w * h).toBeGreaterThan(10_000);
    // Each chart draws marks (lines, bars, cells), not just an empty frame.
    const marks = await page.$$eval('svg.chart', (els) => els.map((e) => e.querySelectorAll('path, rect').length));
    for (const m of marks) expect(m).toBeGreaterThan(5);
    // The prompt's markup and the input's are text on the page, not elements.
    expect(await page.$$eval('body b, body i, body script', (els) => els.length)).toBe(0);
    expect(await page.textContent('body')).toContain('<b>sat</b>');
    expect(await page.textContent('body')).toContain('<i>ok</i>');
    await page.close();
  });

  it('a comparison report of three runs opens cleanly with overlaid curves and per-token benefit differences', async () => {
    const file = await save('/api/compare/report.html', { ids }, 'comparison-report.html');
    const { page, consoleErrors, requests } = await open(file, 'comparison-report');
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.$$eval('svg.chart', (els) => els.length)).toBeGreaterThanOrEqual(6);
    expect(await page.$$eval('[aria-label="Per-token benefit difference against run 1"]', (els) => els.length)).toBe(1);
    expect(await page.$$eval('body b, body i, body script', (els) => els.length)).toBe(0);
    await page.close();
  });

  it('line and bar charts have a value axis with numeric tick labels and a name, in run and comparison reports', async () => {
    const cases: [string, string[]][] = [
      ['run-report.html', ['Depth curve D(k)', 'Layer profile', 'Read shares per layer']],
      ['comparison-report.html', ['Depth curves', 'Layer profiles', 'Norm-weighted read share per layer']],
    ];
    for (const [file, labels] of cases) {
      const { page } = await open(path.join(OUT, file), `${file}-axes`);
      for (const label of labels) {
        const axis = await page.$eval(`svg.chart[aria-label="${label}"]`, (svg) => {
          const box = svg.getBoundingClientRect();
          const texts = Array.from(svg.querySelectorAll('text')).map((t) => ({ s: (t.textContent ?? '').trim(), r: t.getBoundingClientRect() }));
          // Tick labels of the value axis: numbers (or percentages) left of the plot, at different heights.
          const ticks = texts.filter((t) => /^[−-]?\d+(\.\d+)?%?$/.test(t.s) && t.r.right < box.left + box.width * 0.1);
          const rotated = Array.from(svg.querySelectorAll('text')).filter((t) => /rotate|matrix\(0,\s*-1/.test(t.getAttribute('transform') ?? '')).map((t) => t.textContent);
          return { ticks: ticks.map((t) => t.s), heights: new Set(ticks.map((t) => Math.round(t.r.top))).size, names: rotated };
        });
        expect(axis.ticks.length, `${file}: ${label} has value-axis numbers`).toBeGreaterThanOrEqual(3);
        expect(axis.heights).toBe(axis.ticks.length);
        expect(axis.names.join(' '), `${file}: ${label} names its value axis`).toMatch(/nats|share/);
      }
      // Legend entries never overlap one another.
      const boxes = await page.$$eval('ul.chart-legend', (uls) => uls.map((ul) => Array.from(ul.querySelectorAll('li')).map((li) => li.getBoundingClientRect()).map((b) => [b.left, b.top, b.right, b.bottom])));
      for (const items of boxes) {
        for (let a = 0; a < items.length; a++)
          for (let b = a + 1; b < items.length; b++) {
            const [p, q] = [items[a], items[b]];
            expect(p[2] <= q[0] || q[2] <= p[0] || p[3] <= q[1] || q[3] <= p[1], `${file}: legend entries ${a} and ${b} overlap`).toBe(true);
          }
      }
      await page.close();
    }
  });

  it('the run report prints to a multi-page PDF', async () => {
    const { page } = await open(path.join(OUT, 'run-report.html'), 'run-report-again');
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    fs.writeFileSync(path.join(OUT, 'run-report.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    expect(pages).toBeGreaterThan(1);
    await page.close();
  });
});
