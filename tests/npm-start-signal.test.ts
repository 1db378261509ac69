// `npm start` under a service manager: SIGTERM to the npm process reaches the server, which stops cleanly (its
// running run marked interrupted, the port and the data-directory lock let go) and leaves no process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from '../server/data-lock.js';
import { freePort, until as waitUntil } from './helpers/processes.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-npm-start-'));
const DATA = path.join(TMP, 'data');
let npm: ChildProcess | null = null;
let serverPid: number | null = null;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const until = <T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 240_000) => waitUntil(what, f, timeoutMs);

afterAll(async () => {
  // Whatever failed: the npm process and the server it started go (only these two, by their ids).
  if (npm && npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
  if (serverPid !== null && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
  fs.rmSync(TMP, { recursive: true, force: true });
}, 30_000);

describe('npm start', () => {
  it('stops the server on SIGTERM to the npm process: run marked interrupted, port and lock released, exit 0', async () => {
    const port = await freePort();
    let log = '';
    npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), PRECACHE_LENS_DATA: DATA, PRECACHE_LENS_CONCURRENCY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    npm.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => npm!.once('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;
    await until('the server', async () => {
      if (npm!.exitCode !== null) throw new Error(`npm start exited early:\n${log}`);
      return fetch(`${base}/api/health`).then((r) => r.ok, () => false);
    });
    serverPid = (JSON.parse(fs.readFileSync(path.join(DATA, 'server.owner.json'), 'utf8')) as { pid: number }).pid;
    expect(serverPid).not.toBe(npm.pid);

    // A run of several seconds (a knockout per prompt token), caught while it runs.
    const r = await fetch(`${base}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: `Dear Sir, ${Array.from({ length: 40 }, (_, k) => `item${k}`).join(' ')}. `,
        input: 'I write to you about the matter of the bridge, which the council has discussed at length over the past three meetings without reaching any decision.',
        options: { spans: 'tokens' },
      }),
    });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    await until('the run running', async () => ((await (await fetch(`${base}/api/runs/${id}`)).json()) as { status: string }).status === 'running');

    npm.kill('SIGTERM');
    const code = await exited;
    expect(code, log).toBe(0);
    expect(log).toMatch(/SIGTERM: stopping/);
    await until('the server process gone', () => !alive(serverPid!), 30_000);
    // The port is free again and nobody answers there.
    expect(await fetch(`${base}/api/health`).then(() => 'answered', () => 'refused')).toBe('refused');
    // The lock is free: another server could take the directory now.
    lockDataDir(DATA).release();
    const db = new Database(path.join(DATA, 'runs.sqlite'), { readonly: true });
    try {
      const row = db.prepare('SELECT status, error FROM runs WHERE id = ?').get(id) as { status: string; error: string };
      expect(row.status).toBe('failed');
      expect(row.error).toMatch(/^interrupted: the server was stopped \(SIGTERM\)/);
    } finally {
      db.close();
    }
  }, 420_000);
});
