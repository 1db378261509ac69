// Test helper: child processes a test starts (redis-server, pool workers) on free loopback ports, all stopped at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function until<T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The processes one test file started; `stopAll` ends every one still running (SIGKILL also ends a stopped one). */
export class Children {
  private readonly procs = new Set<ChildProcess>();

  track(p: ChildProcess): ChildProcess {
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    return p;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.procs].map((p) => stopProcess(p)));
  }
}

export function stopProcess(p: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p?.exitCode ?? null);
  return new Promise((resolve) => {
    p.once('exit', (code) => resolve(code));
    p.kill(signal);
  });
}

/** Starts Debian's redis-server on `port` and waits until it answers PING. `args`: persistence and the like. */
export async function startRedis(children: Children, port: number, args: string[] = ['--save', '', '--appendonly', 'no']): Promise<ChildProcess> {
  const proc = children.track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: 'ignore' }));
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => {});
  try {
    await until('redis-server', async () => {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with status ${proc.exitCode}`);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    });
  } finally {
    probe.disconnect();
  }
  return proc;
}

export interface WorkerProc {
  proc: ChildProcess;
  log: () => string;
}

/** A `precache-lens worker` process on the bundled default model, one thread, its own graph cache under `dataDir`. */
export function startWorker(children: Children, redisPort: number, model: string, dataDir: string, env: Record<string, string> = {}): WorkerProc {
  let out = '';
  const proc = children.track(
    spawn(process.execPath, [path.join(ROOT, 'bin/precache-lens.mjs'), 'worker', '--redis', `redis://127.0.0.1:${redisPort}`, '--model', model, '--threads', '1', '--data', dataDir], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return { proc, log: () => out };
}
