// Server entry point: `npm start` (serve the bundled default model on 127.0.0.1).
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { EngineClient } from './worker/engine-client.js';
import { ModelRegistry } from './model/registry.js';
import { createApp } from './app.js';
import { RunStore } from './store/run-store.js';
import { RunManager } from './runs/run-manager.js';
import { ExperimentManager } from './experiments/experiment-manager.js';
import { SearchManager } from './search/search-manager.js';
import { PoolRaceBackend } from './search/pool-race-backend.js';
import { lockDataDir } from './data-lock.js';
import { settings } from './settings.js';
import { generateToken, isLoopback } from './security.js';
import { PoolBackend } from './pool/pool-backend.js';
import { checkRedisUrl, POOL_CELL_WINDOW, POOL_IN_FLIGHT, redisUrlFromEnv } from './pool/config.js';
import { removeStaleTemps } from './disk-space.js';

const require = createRequire(import.meta.url);
const { version } = require('../package.json') as { version: string };

export interface ServeOptions {
  host: string;
  port: number;
  models: string[];
  /** Where runs.sqlite and the rewritten-graph cache live. */
  dataDir?: string;
  threads?: number;
  cacheDir?: string;
  concurrency?: number;
  maxBatchMB?: number;
  /** Runs that may wait for a free slot before POST /api/runs answers 429 (default PRECACHE_LENS_MAX_QUEUE or 32). */
  maxQueue?: number;
  /**
   * The access token: a string to use that one, false for none, undefined for the default (none on loopback, a
   * generated one on any other address).
   */
  token?: string | false;
  /** More names the Host header may carry besides loopback names and `host`. */
  allowedHosts?: string[];
  /** Memory the engine may keep in cached runtime sessions, MiB (default PRECACHE_LENS_SESSION_CACHE_MB or 1024). */
  sessionCacheMB?: number;
  /** Disk the rewritten-graph cache may use, MiB (default PRECACHE_LENS_GRAPH_CACHE_MB or 256). */
  graphCacheMB?: number;
  /**
   * Redis of a worker pool (serve --redis, default PRECACHE_LENS_REDIS): runs and experiment cells become jobs that
   * `precache-lens worker`s run; null or unset without the variable: they run in this process.
   */
  redis?: string | null;
  /** Free space in the data directory below which /api/health says ok: false, MiB (default PRECACHE_LENS_MIN_FREE_MB or 256). */
  minFreeMB?: number;
}

/** How long a shutdown waits for running analyses to stop at their next checkpoint before the engine is terminated. */
const SHUTDOWN_GRACE_MS = 10_000;

export const DEFAULT_DATA_DIR = settings().dataDir;

/** The token a server on `host` requires: explicit, disabled, or generated when it listens beyond loopback. */
export function resolveToken(host: string, token: string | false | undefined): string | null {
  if (token === false) return null;
  if (token !== undefined) {
    if (!/^[\x21-\x7e]{8,200}$/.test(token)) throw new Error('--token / PRECACHE_LENS_TOKEN: use 8 to 200 printable ASCII characters without spaces');
    return token;
  }
  return isLoopback(host) ? null : generateToken();
}

/** Listens, or fails with a message naming the port: never reports success on a port someone else holds. */
function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use (another Precache Lens server or another program); stop it, or choose another port with --port or PORT`));
      else if (e.code === 'EACCES') reject(new Error(`port ${port} on ${host}: permission denied; choose a port above 1023 with --port or PORT`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new Error(`--host ${host}: this machine has no such address`));
      else reject(e);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** The URL to print: loopback for a wildcard address, with the token as Jupyter does. */
export function serverUrl(host: string, port: number, token: string | null): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/${token ? `?token=${token}` : ''}`;
}

/**
 * Starts the server. Order matters: the data directory is locked first and the port taken second, so a second
 * server that cannot have either exits before it opens the run store (which marks unfinished runs interrupted).
 */
export async function serve(opts: ServeOptions) {
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const token = resolveToken(opts.host, opts.token);
  const lock = lockDataDir(dataDir);
  const server = http.createServer();
  try {
    await listen(server, opts.port, opts.host);
  } catch (e) {
    lock.release();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = serverUrl(opts.host, port, token);
  lock.describe(serverUrl(opts.host, port, null));
  try {
    const registry = new ModelRegistry(opts.models);
    const store = new RunStore(dataDir);
    const cacheDir = opts.cacheDir ?? path.join(dataDir, 'graph-cache');
    // Half-written files of a process that died mid-write (a full disk, a kill) would fill the disk again.
    for (const dir of [dataDir, cacheDir]) for (const f of removeStaleTemps(dir)) console.warn(`precache-lens: removed ${path.join(dir, f)}, left by an interrupted write`);
    const engine = new EngineClient({
      threads: opts.threads,
      cacheDir,
      // Unset: the engine reads PRECACHE_LENS_SESSION_CACHE_MB / PRECACHE_LENS_GRAPH_CACHE_MB (also for the CLI).
      sessionCacheMB: opts.sessionCacheMB,
      graphCacheMB: opts.graphCacheMB,
    });
    const redis = opts.redis === undefined ? redisUrlFromEnv() : opts.redis;
    const pool = redis ? new PoolBackend(checkRedisUrl(redis), engine, store.db) : null;
    const runs = new RunManager(store, pool ?? engine, opts.concurrency ?? (pool ? POOL_IN_FLIGHT : undefined), opts.maxBatchMB, opts.maxQueue);
    const experiments = new ExperimentManager({ store, runs, registry, engine }, pool ? POOL_CELL_WINDOW : undefined);
    // In pool mode a search's racing cells are BullMQ jobs on the same queues as analyses.
    const raceBackend = pool ? new PoolRaceBackend(pool) : undefined;
    const searches = new SearchManager({ store, registry, engine, experiments, race: raceBackend });
    const app = createApp({
      engine,
      registry,
      store,
      runs,
      experiments,
      searches,
      pool,
      version,
      security: { host: opts.host, port, token, allowedHosts: opts.allowedHosts },
      ...(opts.minFreeMB !== undefined ? { minFreeBytes: opts.minFreeMB * 2 ** 20 } : {}),
    });
    server.on('request', app);
    server.on('close', () => {
      lock.release();
      void pool?.close();
      void raceBackend?.close();
    });
    let stopping: Promise<void> | null = null;
    /**
     * A clean stop (SIGTERM, SIGINT): no new connections; running and queued runs are stopped and marked failed as
     * interrupted; experiments stay running in the store, to be resumed by the next start; then the engine, the pool,
     * the store and the data-directory lock are let go.
     */
    const shutdown = (why: string): Promise<void> =>
      (stopping ??= (async () => {
        server.close();
        searches.close();
        experiments.close();
        runs.stop(`interrupted: the server was stopped (${why}) before the run finished`);
        server.closeAllConnections();
        try {
          await engine.close(SHUTDOWN_GRACE_MS);
          await pool?.close();
        } finally {
          store.close();
          lock.release();
        }
      })());
    return { server, engine, registry, store, runs, experiments, searches, pool, token, url, shutdown };
  } catch (e) {
    server.close();
    lock.release();
    throw e;
  }
}

/** The environment's serve settings (PRECACHE_LENS_*), for `npm start` and as defaults of `serve`. */
export function serveOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Pick<ServeOptions, 'token' | 'allowedHosts'> {
  const s = settings(env);
  return { token: s.token, allowedHosts: s.allowedHosts };
}

/** What a started server prints: the URL to open and, beyond loopback, what the token protects. */
export function announce(host: string, url: string, token: string | null): void {
  console.log(`Precache Lens is running: open ${url}`);
  // On every interface, other machines need a name of this one, not 127.0.0.1.
  if (host === '0.0.0.0' || host === '::') console.log(`  from another machine: ${url.replace('127.0.0.1', os.hostname())}`);
  if (token) console.log('The access token in that URL is needed by every browser and script (header: Authorization: Bearer <token>).');
  else if (!isLoopback(host)) console.warn(`warning: listening on ${host} without an access token: anyone who can reach this address can run analyses and read or delete your run history.`);
}

/**
 * SIGTERM and SIGINT stop the server cleanly (see serve's shutdown) and end the process with status 0; a second
 * signal ends it at once. `npm start` execs this process, so a service manager's signal to npm reaches it.
 */
export function stopOnSignals(shutdown: (why: string) => Promise<void>, log: (line: string) => void = (l) => console.log(l)): void {
  let signals = 0;
  const on = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      log(`precache-lens: ${sig} again, exiting now`);
      process.exit(130);
    }
    log(`precache-lens: ${sig}: stopping (running runs are marked interrupted)`);
    shutdown(sig).then(
      () => {
        log('precache-lens: stopped');
        process.exit(0);
      },
      (e: Error) => {
        console.error(`precache-lens: stopping failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  Promise.resolve()
    .then(() => settings())
    .then((s) => serve({ host: s.host, port: s.port, models: s.models, ...serveOptionsFromEnv() }))
    .then(({ url, token, shutdown }) => {
      stopOnSignals(shutdown);
      announce(settings().host, url, token);
    })
    .catch((e: Error) => {
      console.error(`precache-lens: ${e.message}`);
      process.exit(1);
    });
}
