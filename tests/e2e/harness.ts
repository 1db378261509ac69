// Shared pieces of the browser end-to-end tests: Debian's headless Chromium via playwright-core against the real
// server on the bundled models, the client built the way `npm start` builds it, screenshots and canvas checks.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startServer } from '../helpers/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = path.join(ROOT, 'artifacts/screenshots');
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Fails (never skips) without Chromium; builds the client only when missing or stale, in a child without NODE_ENV=test. */
export function prepareBrowserTests(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH; .ci/run installs it`);
  }
  const env = { ...process.env };
  delete env.NODE_ENV;
  execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'client/ensure-built.ts')], { cwd: ROOT, env, stdio: 'inherit' });
  fs.mkdirSync(SHOTS, { recursive: true });
}

/** A browser with one 1280×800 page that accepts downloads; page errors and console errors (except 4xx) are collected. */
export async function openBrowser(): Promise<{ browser: Browser; context: BrowserContext; page: Page; pageErrors: string[] }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // 4xx answers are expected in some tests (field errors, refused exports); the app shows them beside the field.
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) pageErrors.push(`console.error: ${m.text()}`);
  });
  return { browser, context, page, pageErrors };
}

/** The recipe prompts and input the run-view and workbench tests compare (a marked span, two variants). */
export const RECIPE_PROMPT_A = 'Recipe: {{dish|apple pie}}.\nIngredients: apples, sugar, flour, butter.\n';
export const RECIPE_PROMPT_B = 'Recipe: {{dish|apple pie}}.\nSteps: peel, slice, mix, bake.\n';
export const RECIPE_INPUT = 'Peel the apples and mix them with sugar.';

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core in the page: the serious and critical violations, by rule id and the first offending elements. */
export async function axeProblems(p: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: the app's CSP (script-src 'self') would refuse an injected <script>.
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(fs.readFileSync(AXE, 'utf8'));
  return p.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
}

export type TestServer = Awaited<ReturnType<typeof startServer>>;

export interface Workbench {
  srv: TestServer;
  dataDir: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  pageErrors: string[];
}

/** A browser test file's setup: the server on the bundled models with a fresh data directory, and a page (openBrowser). */
export async function openWorkbench(dataDirPrefix: string): Promise<Workbench> {
  prepareBrowserTests();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), dataDirPrefix));
  const srv = await startServer({ dataDir });
  try {
    return { srv, dataDir, ...(await openBrowser()) };
  } catch (e) {
    await closeWorkbench({ srv, dataDir });
    throw e;
  }
}

/** Stops what openWorkbench started (the browser, the server with its experiments, the data directory), each even when one before it fails. */
export async function closeWorkbench(w: { browser?: Browser; srv?: TestServer; dataDir?: string }): Promise<void> {
  try {
    await w.browser?.close();
  } finally {
    try {
      w.srv?.experiments.close();
      await w.srv?.close();
    } finally {
      if (w.dataDir) fs.rmSync(w.dataDir, { recursive: true, force: true });
    }
  }
}

export async function shot(page: Page, name: string): Promise<string> {
  await page.waitForTimeout(400); // let chart animations settle
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Copies a screenshot into docs/ as `name` when PRECACHE_LENS_UPDATE_DOCS=1 (`npm run docs:screenshots`); a plain test
 * run leaves the checkout's files alone and keeps its screenshots in artifacts/ only.
 */
export function publishScreenshot(file: string, name: string): void {
  if (process.env.PRECACHE_LENS_UPDATE_DOCS === '1') fs.copyFileSync(file, path.join(ROOT, 'docs', name));
}

/** Clicks Run (or presses the shortcut) and waits until a new run, other than `prev`, is shown as done. */
export async function runAndWait(page: Page, trigger: () => Promise<void>, prev?: string): Promise<string> {
  await trigger();
  await expect.poll(() => page.getByTestId('progress').isVisible(), { timeout: 10_000 }).toBe(true);
  const handle = await page.waitForFunction(
    (prevId) => {
      const el = document.querySelector('[data-testid=run-results]');
      const id = el?.getAttribute('data-run-id');
      return id && id !== prevId && el!.getAttribute('data-status') === 'done' ? id : null;
    },
    prev ?? null,
    { timeout: 90_000, polling: 100 },
  );
  return (await handle.jsonValue()) as string;
}

/** Non-white pixels drawn on a chart's canvas: proves the chart rendered, not just that the element exists. */
export async function inkedPixels(page: Page, testId: string): Promise<number> {
  return page.evaluate((id) => {
    const canvas = document.querySelector(`[data-testid="${id}"] canvas`) as HTMLCanvasElement | null;
    if (!canvas) return -1;
    const ctx = canvas.getContext('2d');
    if (!ctx) return -1;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235)) n++;
    return n;
  }, testId);
}
