// Environment settings, read in one place. Each call reads the environment afresh (tests and operators may change
// it between requests); a malformed value is an error naming the variable, never a silent default.
import path from 'node:path';

export interface Settings {
  /** PRECACHE_LENS_DATA: run history, graph cache, lock (default ./.precache-lens). */
  dataDir: string;
  /** PRECACHE_LENS_HOST and PORT: where `npm start` listens. */
  host: string;
  port: number;
  /** PRECACHE_LENS_MODELS: extra model directories (path-delimiter separated). */
  models: string[];
  /** PRECACHE_LENS_CONCURRENCY: analyses run at once. */
  concurrency: number;
  /** PRECACHE_LENS_MAX_QUEUE: runs that may wait for a free slot before the API answers 429. */
  maxQueue: number;
  /** PRECACHE_LENS_MAX_BATCH_MB: memory bound of one engine call of an analysis (MiB, estimated). */
  maxBatchMB: number;
  /** PRECACHE_LENS_MAX_EXPORT_MB: size limit of a raw-activations export (MiB). */
  maxExportMB: number;
  /** PRECACHE_LENS_SESSION_CACHE_MB: memory the cached runtime sessions of all models may hold (MiB). */
  sessionCacheMB: number;
  /** PRECACHE_LENS_GRAPH_CACHE_MB: disk the rewritten-graph cache may use (MiB). */
  graphCacheMB: number;
  /** PRECACHE_LENS_TOKEN / PRECACHE_LENS_NO_TOKEN=1: the access token (undefined: the default for the host). */
  token: string | false | undefined;
  /** PRECACHE_LENS_ALLOWED_HOSTS: more names the Host header may carry (comma separated). */
  allowedHosts: string[];
  /** PRECACHE_LENS_REDIS: the worker pool's Redis URL (checked by server/pool/config.ts), or null: in-process. */
  redis: string | null;
  /** PRECACHE_LENS_POOL_LOCK_MS: how long a pool worker's lock on a job lasts unrenewed (ms). */
  poolLockMs: number;
  /** PRECACHE_LENS_MIN_FREE_MB: free space in the data directory below which /api/health says ok: false (MiB). */
  minFreeMB: number;
  /** PRECACHE_LENS_SSE_MAX_BUFFER_KB: events an SSE client has not taken that may wait in memory before it is dropped (KiB). */
  sseMaxBufferKB: number;
}

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 5177,
  concurrency: 1,
  maxQueue: 32,
  maxBatchMB: 2048,
  maxExportMB: 512,
  sessionCacheMB: 1024,
  graphCacheMB: 256,
  poolLockMs: 30_000,
  minFreeMB: 256,
  sseMaxBufferKB: 1024,
} as const;

function raw(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** A whole number >= min from `name`, or `fallback` when unset or empty. */
function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^\d{1,9}$/.test(v) || Number(v) < min) throw new Error(`${name}=${JSON.stringify(env[name])}: expected a whole number >= ${min}`);
  return Number(v);
}

/** A positive number of MiB (fractions allowed) from `name`, or `fallback` when unset or empty. */
function mib(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new Error(`${name}=${JSON.stringify(env[name])}: expected a positive number of MiB`);
  return n;
}

export function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  const noToken = raw(env, 'PRECACHE_LENS_NO_TOKEN');
  return {
    dataDir: path.resolve(raw(env, 'PRECACHE_LENS_DATA') ?? '.precache-lens'),
    host: raw(env, 'PRECACHE_LENS_HOST') ?? DEFAULTS.host,
    port: whole(env, 'PORT', DEFAULTS.port, 0),
    models: (raw(env, 'PRECACHE_LENS_MODELS') ?? '').split(path.delimiter).filter(Boolean),
    concurrency: whole(env, 'PRECACHE_LENS_CONCURRENCY', DEFAULTS.concurrency),
    maxQueue: whole(env, 'PRECACHE_LENS_MAX_QUEUE', DEFAULTS.maxQueue, 0),
    maxBatchMB: mib(env, 'PRECACHE_LENS_MAX_BATCH_MB', DEFAULTS.maxBatchMB),
    maxExportMB: mib(env, 'PRECACHE_LENS_MAX_EXPORT_MB', DEFAULTS.maxExportMB),
    sessionCacheMB: mib(env, 'PRECACHE_LENS_SESSION_CACHE_MB', DEFAULTS.sessionCacheMB),
    graphCacheMB: mib(env, 'PRECACHE_LENS_GRAPH_CACHE_MB', DEFAULTS.graphCacheMB),
    token: noToken === '1' || noToken === 'true' ? false : raw(env, 'PRECACHE_LENS_TOKEN'),
    allowedHosts: (raw(env, 'PRECACHE_LENS_ALLOWED_HOSTS') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    redis: raw(env, 'PRECACHE_LENS_REDIS') ?? null,
    poolLockMs: whole(env, 'PRECACHE_LENS_POOL_LOCK_MS', DEFAULTS.poolLockMs, 100),
    minFreeMB: mib(env, 'PRECACHE_LENS_MIN_FREE_MB', DEFAULTS.minFreeMB),
    sseMaxBufferKB: whole(env, 'PRECACHE_LENS_SSE_MAX_BUFFER_KB', DEFAULTS.sseMaxBufferKB),
  };
}
