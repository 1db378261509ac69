// Out of space, never out of service: the server on a small tmpfs that the test mounts and fills (as root; otherwise,
// or with PL_DISK_TEST_SEAM=1, on the fault-injection seam PRECACHE_LENS_FAULT_DISK_QUOTA). A write that does not fit
// fails its one run or request (507, naming the data directory), and reads, history and health go on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './helpers/server.js';
import { diskUsage } from '../server/disk-space.js';
import { until as waitUntil } from './helpers/processes.js';
import { DEFAULT_DIR, TWIN_DIR, TWIN_ID } from './helpers/bundled.js';
import { openModelDir } from '../server/model/model-dir.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-disk-'));
const MNT = path.join(TMP, 'data');
/** A model's rewritten-graph weights in the graph cache: its ONNX graph's initializers in one file, about the graph's size. */
const weightsMiB = (dir: string) => fs.statSync(openModelDir(dir).graphPath).size / 2 ** 20;
/** What the data directory holds besides the weights while runs go on: the space reserve (4 MiB), the run history, the small rewritten graphs. */
const HELD_MB = 5;
/** The free space under which /api/health says the disk is low. */
const MIN_FREE_MB = 8;
/**
 * Room for one model, not for two: the default model's weights and what the runs hold, plus free space halfway
 * between the health floor and the twin's weights, so the default model runs with the disk healthy and the twin's
 * weights never fit.
 */
const SIZE_MB = Math.ceil(weightsMiB(DEFAULT_DIR) + HELD_MB + (MIN_FREE_MB + weightsMiB(TWIN_DIR)) / 2);
const FILLER = path.join(MNT, 'filler');

/**
 * A real tmpfs needs root (CI runs as root, see .ci/run); without it, or where mounting is not allowed (a container
 * without CAP_SYS_ADMIN), the seam stands in for the small disk.
 */
let SEAM = process.getuid?.() !== 0 || process.env.PL_DISK_TEST_SEAM === '1';
const freeNow = () => diskUsage(MNT)!.freeBytes;

type Srv = Awaited<ReturnType<typeof startServer>>;
let srv: Srv | null = null;
let mounted = false;

async function call(method: string, p: string, body?: unknown) {
  const r = await fetch(`${srv!.base}${p}`, { method, headers: body === undefined ? undefined : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

const until = <T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false) => waitUntil(what, f, 180_000);

const ended = (id: string) =>
  until(`run ${id} to end`, async () => {
    const r = (await call('GET', `/api/runs/${id}`)).json;
    return r.status !== 'queued' && r.status !== 'running' && r;
  });

/** Writes the filler until the file system refuses (ENOSPC), or up to the seam's quota; returns the bytes written. */
function fill(): number {
  if (SEAM) {
    const n = freeNow();
    fs.appendFileSync(FILLER, Buffer.alloc(n, 1));
    return n;
  }
  const chunk = Buffer.alloc(256 * 1024, 1);
  const fd = fs.openSync(FILLER, 'a');
  let written = 0;
  try {
    for (;;) written += fs.writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
  // The last partial page too: nothing at all is left.
  const small = Buffer.alloc(512, 1);
  const fd2 = fs.openSync(FILLER, 'a');
  try {
    for (;;) written += fs.writeSync(fd2, small);
  } catch {
    // full
  } finally {
    fs.closeSync(fd2);
  }
  return written;
}

/** Temporary files anywhere in the data directory. */
function temps(): string[] {
  return (fs.readdirSync(MNT, { recursive: true }) as string[]).filter((f) => /\.tmp(-\d+)?$/.test(f) || /\.\d+\.\d+(\.[a-z0-9]+)?\.tmp$/.test(f));
}

const SHORT = { prompt: 'The President said: ', input: 'The state of the Union is strong.', options: { spanKnockouts: false } };
/** Several seconds on one thread (a knockout per prompt token), so the disk can be filled while it runs. */
const LONG = {
  prompt: `Dear Sir, ${Array.from({ length: 40 }, (_, k) => `item${k}`).join(' ')}. `,
  input: 'I write to you about the matter of the bridge, which the council has discussed at length over the past three meetings without reaching any decision that the town can act upon.',
  options: { spans: 'tokens' },
};

beforeAll(async () => {
  fs.mkdirSync(MNT);
  if (!SEAM) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m`, 'tmpfs', MNT], { stdio: 'pipe' });
      mounted = true;
    } catch (e) {
      console.warn(`disk-full test: cannot mount a tmpfs (${(e as Error).message.trim()}); using the fault-injection seam`);
      SEAM = true;
    }
  }
  if (SEAM) process.env.PRECACHE_LENS_FAULT_DISK_QUOTA = `${MNT}:${SIZE_MB * 2 ** 20}`;
  // A half-written weights file of a process that died mid-write (pid 2^22 + 1 is above Linux's pid_max default).
  fs.mkdirSync(path.join(MNT, 'graph-cache'));
  fs.writeFileSync(path.join(MNT, 'graph-cache', `0123456789abcdef.weights.${2 ** 22 + 1}.1700000000000.tmp`), Buffer.alloc(6 << 20));
  srv = await startServer({ dataDir: MNT, threads: 1, minFreeMB: MIN_FREE_MB });
}, 120_000);

afterAll(async () => {
  try {
    await srv?.close();
  } finally {
    if (mounted) execFileSync('umount', ['-l', MNT]);
    delete process.env.PRECACHE_LENS_FAULT_DISK_QUOTA;
    fs.rmSync(TMP, { recursive: true, force: true });
  }
}, 60_000);

describe('a server whose data directory fills up', () => {
  let first: Record<string, unknown>;

  it('removed the temporary file a dead process left in the graph cache when it started', () => {
    expect(temps()).toEqual([]);
  });

  it('reports the free space in /api/health', async () => {
    const h = (await call('GET', '/api/health')).json;
    expect(h.ok).toBe(true);
    const disk = h.disk as { dir: string; freeBytes: number; totalBytes: number; minFreeBytes: number; ok: boolean };
    expect(disk).toMatchObject({ dir: MNT, ok: true, minFreeBytes: MIN_FREE_MB * 2 ** 20 });
    expect(disk.totalBytes).toBe(SIZE_MB * 2 ** 20);
    expect(disk.freeBytes).toBeGreaterThan(disk.minFreeBytes);
  });

  it('runs an analysis while there is room', async () => {
    const r = await call('POST', '/api/runs', SHORT);
    expect(r.status).toBe(202);
    first = await ended(r.json.id as string);
    expect(first.status).toBe('done');
  }, 180_000);

  it('fails a run whose rewritten graph does not fit, before writing it, naming the directory and the size', async () => {
    const free = freeNow();
    // The default model's weights are in the cache, and the disk is still healthy: room for one model.
    expect(free).toBeGreaterThan(MIN_FREE_MB * 2 ** 20);
    const r = await call('POST', '/api/runs', { ...SHORT, model: TWIN_ID });
    expect(r.status).toBe(202);
    const run = await ended(r.json.id as string);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/out of space/);
    expect(run.error).toContain(path.join(MNT, 'graph-cache'));
    expect(run.error).toMatch(/weights .* needs about \d+ MiB/);
    // Checked before writing: nothing was written, not even part of a temporary file.
    expect(temps()).toEqual([]);
    expect(freeNow()).toBeGreaterThanOrEqual(free - (1 << 20));
  }, 180_000);

  it('when the disk is full: 507 for a new run naming the directory and what it needs; health says so; reads go on', async () => {
    fill();
    const h = (await call('GET', '/api/health')).json;
    expect(h.ok).toBe(false);
    expect(h.disk).toMatchObject({ dir: MNT, ok: false });
    expect((h.disk as { message: string }).message).toContain(MNT);

    const r = await call('POST', '/api/runs', SHORT);
    expect(r.status).toBe(507);
    expect(r.json).toMatchObject({ field: 'disk', dataDir: MNT });
    expect(r.json.error).toContain(MNT);
    expect(r.json.neededBytes as number).toBeGreaterThan(0);

    // An export that needs a rewritten graph it cannot write: 507 too, naming the graph cache in the data directory.
    const exp = await call('POST', `/api/runs/${first.id}/activations`, { hooks: ['blocks.3.attn.hook_v'] });
    expect(exp.status).toBe(507);
    expect(exp.json).toMatchObject({ field: 'disk', dataDir: MNT });
    expect(exp.json.error).toContain(path.join(MNT, 'graph-cache'));
    expect(exp.json.error).toMatch(/the rewritten graph needs about/);

    const again = await call('GET', `/api/runs/${first.id}`);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first);
    const history = await call('GET', '/api/runs');
    expect(history.status).toBe(200);
    expect((history.json.runs as { id: string }[]).some((x) => x.id === first.id)).toBe(true);
    expect((await call('GET', `/api/runs/${first.id}/report.json`)).status).toBe(200);
  }, 60_000);

  it('fails a run that fills the disk while it runs, records why, and stays up', async () => {
    fs.rmSync(FILLER);
    const r = await call('POST', '/api/runs', LONG);
    expect(r.status).toBe(202);
    const id = r.json.id as string;
    await until('the run running', async () => (await call('GET', `/api/runs/${id}`)).json.status === 'running');
    fill();
    const run = await ended(id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/out of space/);
    expect(run.error).toContain(MNT);
    expect((await call('GET', '/api/health')).status).toBe(200);
    expect((await call('GET', `/api/runs/${first.id}`)).json).toEqual(first);
    expect(temps()).toEqual([]);
  }, 240_000);

  it('serves new runs again once space is freed, and the store is intact', async () => {
    fs.rmSync(FILLER);
    const h = await until('health ok again', async () => {
      const x = (await call('GET', '/api/health')).json;
      return x.ok === true && x;
    });
    expect(h.disk).toMatchObject({ ok: true });
    const r = await call('POST', '/api/runs', SHORT);
    expect(r.status).toBe(202);
    expect((await ended(r.json.id as string)).status).toBe('done');
    const db = new Database(path.join(MNT, 'runs.sqlite'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 180_000);
});
