// The pool's names and settings in one place: Redis URL checks, queue and key names, timing of locks and heartbeats.
import { Redis, type RedisOptions } from 'ioredis';
import { settings } from '../settings.js';

/** Prefix of every key this project writes besides BullMQ's own (`bull:`). */
export const KEY_PREFIX = 'precache-lens';

/** One queue per model graph (its sha256): a worker consumes only the queues of models it has byte for byte. */
export function queueName(modelHash: string): string {
  if (!/^[0-9a-f]{64}$/.test(modelHash)) throw new Error(`not a sha256: ${modelHash}`);
  return `precache-lens-analyze-${modelHash}`;
}

export const cancelKey = (runId: string) => `${KEY_PREFIX}:cancel:${runId}`;
export const workerKey = (workerId: string) => `${KEY_PREFIX}:worker:${workerId}`;
export const WORKER_KEY_PATTERN = `${KEY_PREFIX}:worker:*`;

export interface PoolTiming {
  /** How long a worker's lock on a job lasts unrenewed: after a kill -9, the job is retried elsewhere within about this. */
  lockMs: number;
  /** How often a worker writes its heartbeat; it is forgotten after three missed ones. */
  heartbeatMs: number;
}

/** PRECACHE_LENS_POOL_LOCK_MS (default 30000, BullMQ's) lets tests and small clusters notice dead workers sooner. */
export function poolTiming(env: NodeJS.ProcessEnv = process.env): PoolTiming {
  return { lockMs: settings(env).poolLockMs, heartbeatMs: 5_000 };
}

/** PRECACHE_LENS_REDIS: the pool's Redis (redis:// or rediss:// for TLS), or null for the in-process backend. */
export function redisUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = settings(env).redis;
  return v ? checkRedisUrl(v, 'PRECACHE_LENS_REDIS') : null;
}

export function checkRedisUrl(url: string, what = '--redis'): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${what}: not a URL: expected redis://[:password@]host:port[/db] or rediss://... for TLS`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${what}: ${u.protocol} is not redis: or rediss:`);
  if (!u.hostname) throw new Error(`${what}: the URL names no host`);
  return url;
}

/** The URL without its password, for logs, health and the UI. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(invalid URL)';
  }
}

/**
 * A connection as BullMQ wants it: commands wait across reconnects (maxRetriesPerRequest null), and reconnecting
 * never stops, backing off to 2 s, so queued work resumes when Redis returns.
 */
export function connect(url: string, extra: RedisOptions = {}): Redis {
  const r = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    ...extra,
  });
  // An outage is reported by whoever owns the connection (health, the worker's log), not as an unhandled event.
  r.on('error', () => {});
  return r;
}

/** Runs a pool server keeps in flight on Redis (its RunManager slots): enough to keep many workers busy. */
export const POOL_IN_FLIGHT = 64;
/** Cells of one experiment submitted at a time in pool mode (in-process: 3), so every worker has one. */
export const POOL_CELL_WINDOW = 32;
