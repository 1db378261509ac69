// The web app says when the server cannot do its work: "pool unavailable" while the pool's Redis is gone (and not
// once it is back), and a low-disk warning when the data directory is under its free-space threshold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import { Children, freePort, startRedis, stopProcess } from '../helpers/processes.js';
import { openBrowser, prepareBrowserTests, type TestServer } from './harness.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-e2e-banner-'));
const children = new Children();
let browser: Browser | undefined;
const servers: TestServer[] = [];

beforeAll(async () => {
  prepareBrowserTests();
  browser = (await openBrowser()).browser;
}, 600_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await Promise.allSettled(servers.map((s) => s.close()));
    await children.stopAll();
    fs.rmSync(TMP, { recursive: true, force: true });
  }
}, 60_000);

describe('the health banner', () => {
  it('says "pool unavailable" while Redis is gone and goes away when it is back', async () => {
    const port = await freePort();
    let redis: ChildProcess = await startRedis(children, port);
    const srv = await startServer({ redis: `redis://127.0.0.1:${port}`, dataDir: path.join(TMP, 'pool'), threads: 1 });
    servers.push(srv);
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(srv.base);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    expect(await page.getByTestId('backend-banner').count()).toBe(0);

    await stopProcess(redis, 'SIGKILL');
    const banner = page.getByTestId('backend-banner');
    // The app polls /api/health every 5 s.
    await banner.waitFor({ timeout: 60_000 });
    expect(await banner.textContent()).toMatch(/^pool unavailable: Redis at redis:\/\/127\.0\.0\.1:\d+\/? is unreachable/);
    expect(await banner.getAttribute('role')).toBe('alert');

    redis = await startRedis(children, port);
    await banner.waitFor({ state: 'detached', timeout: 60_000 });
    await context.close();
  }, 240_000);

  it('warns when the data directory has less free space than the threshold', async () => {
    // A threshold no disk meets: the server is healthy in every other way.
    const srv = await startServer({ dataDir: path.join(TMP, 'disk'), threads: 1, minFreeMB: 1e9 });
    servers.push(srv);
    const context = await browser!.newContext();
    const page = await context.newPage();
    await page.goto(srv.base);
    const banner = page.getByTestId('disk-banner');
    await banner.waitFor({ timeout: 60_000 });
    expect(await banner.textContent()).toContain(path.join(TMP, 'disk'));
    expect(await banner.textContent()).toMatch(/free, under .* runs may fail for lack of space/);
    expect(await page.getByTestId('backend-banner').count()).toBe(0);
    await context.close();
  }, 240_000);
});
