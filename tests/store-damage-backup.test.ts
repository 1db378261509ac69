// A damaged runs.sqlite is refused at start with a message naming it and what to do, and left as it was; an online
// backup (`precache-lens backup DIR`) taken while the server runs restores (`precache-lens restore`) to the same history.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../server/main.js';
import { lockDataDir } from '../server/data-lock.js';
import { RunStore } from '../server/store/run-store.js';
import { FIXTURES } from './helpers/golden.js';
import { startServer } from './helpers/server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-store-'));
const MODEL = 'gpt2-opset14';
const models = [path.join(FIXTURES, MODEL)];

afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** Runs the CLI; resolves with its exit status and output. */
function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

/** A data directory whose store holds `n` runs with texts long enough to spread over many pages. */
function storeWithRuns(name: string, n = 300): string {
  const dir = path.join(TMP, name);
  const s = new RunStore(dir);
  for (let k = 0; k < n; k++) s.create({ modelId: 'm', prompt: `prompt ${k} ${'p'.repeat(1500)}`, input: `input ${k} ${'x'.repeat(1500)}`, options: {} });
  s.close();
  return dir;
}

async function expectRefused(dir: string, problem: RegExp) {
  const file = path.join(dir, 'runs.sqlite');
  const before = sha(file);
  const err = await serve({ host: '127.0.0.1', port: 0, models: [], dataDir: dir, threads: 1 }).then(
    (s) => {
      s.server.close();
      return null;
    },
    (e: Error) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect(err!.message).toContain(file);
  expect(err!.message).toMatch(problem);
  expect(err!.message).toMatch(/changed nothing/);
  expect(err!.message).toMatch(/precache-lens backup|move it aside/);
  // Nothing written: the same bytes, no log file beside it, and the lock let go.
  expect(sha(file)).toBe(before);
  expect(fs.existsSync(`${file}-wal`)).toBe(false);
  lockDataDir(dir).release();
}

describe('a damaged runs.sqlite', () => {
  it('that is not a database at all is refused at start, untouched', async () => {
    const dir = path.join(TMP, 'garbage');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'runs.sqlite'), crypto.randomBytes(64 * 1024));
    await expectRefused(dir, /damaged \(.*not a database/);
  });

  it('that was cut short is refused at start, untouched', async () => {
    const dir = storeWithRuns('truncated');
    const file = path.join(dir, 'runs.sqlite');
    fs.truncateSync(file, Math.floor(fs.statSync(file).size * 0.6));
    await expectRefused(dir, /damaged/);
  });

  it('with pages overwritten in the middle is refused at start, untouched', async () => {
    const dir = storeWithRuns('corrupted');
    const file = path.join(dir, 'runs.sqlite');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(16 * 4096), 0, 16 * 4096, 8 * 4096);
    fs.closeSync(fd);
    await expectRefused(dir, /damaged/);
  });

  it('stops `precache-lens serve` with status 1 and the message', async () => {
    const dir = path.join(TMP, 'garbage-cli');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'runs.sqlite'), Buffer.from('this is not SQLite'.repeat(1000)));
    const r = await cli(['serve', '--port', '0', '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${path.join(dir, 'runs.sqlite')} is damaged`);
  }, 60_000);
});

describe('precache-lens backup and restore', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  const DATA = path.join(TMP, 'live');
  const BACKUPS = path.join(TMP, 'backups');
  const ids: string[] = [];

  beforeAll(async () => {
    srv = await startServer({ models, dataDir: DATA, threads: 1 });
    for (const prompt of ['The day was warm ', 'It was cold ']) ids.push((await srv.api.createRun({ model: MODEL, prompt, input: 'and then it rained.', options: { spanKnockouts: false } })).id);
    for (const id of ids) expect((await srv.api.waitForRun(id)).status).toBe('done');
  }, 120_000);
  afterAll(async () => {
    await srv?.close();
  });

  it('backs up while the server runs and restores into a fresh data directory with the same runs', async () => {
    const b = await cli(['backup', BACKUPS, '--data', DATA]);
    expect(b.code, b.out).toBe(0);
    expect(b.out).toMatch(/backed up 2 runs/);
    const [file] = fs.readdirSync(BACKUPS);
    expect(file).toMatch(/^runs-.*\.sqlite$/);
    // The server was not disturbed: it still answers and writes.
    const later = await srv.api.createRun({ model: MODEL, prompt: 'Later ', input: 'and then it rained.', options: { spanKnockouts: false } });
    expect((await srv.api.waitForRun(later.id)).status).toBe('done');
    const original = await Promise.all(ids.map((id) => fetch(`${srv.base}/api/runs/${id}`).then((r) => r.json())));

    const fresh = path.join(TMP, 'restored');
    const r = await cli(['restore', path.join(BACKUPS, file), '--data', fresh]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/restored 2 runs/);
    const back = await startServer({ models, dataDir: fresh, threads: 1 });
    try {
      const restored = await Promise.all(ids.map((id) => fetch(`${back.base}/api/runs/${id}`).then((x) => x.json())));
      expect(restored).toEqual(original);
    } finally {
      await back.close();
    }
  }, 120_000);

  it('restore refuses while a server holds the directory, and sets the current history aside instead of overwriting it', async () => {
    const [file] = fs.readdirSync(BACKUPS);
    const held = await cli(['restore', path.join(BACKUPS, file), '--data', DATA]);
    expect(held.code).toBe(1);
    expect(held.out).toMatch(/in use by another Precache Lens server/);

    const other = storeWithRuns('replace-me', 3);
    const before = sha(path.join(other, 'runs.sqlite'));
    const r = await cli(['restore', path.join(BACKUPS, file), '--data', other]);
    expect(r.code, r.out).toBe(0);
    const aside = fs.readdirSync(other).find((f) => f.startsWith('runs.sqlite.replaced-') && !f.endsWith('-wal') && !f.endsWith('-shm'));
    expect(aside).toBeDefined();
    expect(sha(path.join(other, aside!))).toBe(before);
  }, 60_000);

  it('refuses to back up a damaged store', async () => {
    const dir = path.join(TMP, 'garbage-backup');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'runs.sqlite'), crypto.randomBytes(8192));
    const r = await cli(['backup', path.join(TMP, 'nope'), '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/is damaged/);
    expect(fs.existsSync(path.join(TMP, 'nope')) ? fs.readdirSync(path.join(TMP, 'nope')) : []).toEqual([]);
  }, 60_000);
});
