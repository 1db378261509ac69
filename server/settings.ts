// Environment settings, read in one place. Each call reads the environment afresh (tests and operators may change it).
import path from 'node:path';

export interface Settings {
  /** PRECACHE_LENS_DATA: run history, graph cache, locks. */
  dataDir: string;
  /** PRECACHE_LENS_HOST and PORT: where `npm start` listens. */
  host: string;
  port: number;
  /** PRECACHE_LENS_MODELS: extra model directories (path-delimiter separated). */
  models: string[];
  /** PRECACHE_LENS_CONCURRENCY: analyses run at once. */
  concurrency: number;
  /** PRECACHE_LENS_MAX_BATCH_MB: memory bound of one engine call of an analysis (MiB, estimated). */
  maxBatchMB: number;
  /** PRECACHE_LENS_MAX_EXPORT_MB: size limit of a raw-activations export (MiB). */
  maxExportMB: number;
}

export const DEFAULTS = { port: 5177, host: '127.0.0.1', concurrency: 1, maxBatchMB: 2048, maxExportMB: 512 } as const;

function positive(v: string | undefined, fallback: number, integer = false): number {
  const n = Number(v);
  return v !== undefined && v.trim() !== '' && Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)) ? n : fallback;
}

export function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    dataDir: env.PRECACHE_LENS_DATA ? path.resolve(env.PRECACHE_LENS_DATA) : path.resolve('.precache-lens'),
    host: env.PRECACHE_LENS_HOST || DEFAULTS.host,
    port: positive(env.PORT, DEFAULTS.port, true),
    models: env.PRECACHE_LENS_MODELS ? env.PRECACHE_LENS_MODELS.split(path.delimiter).filter(Boolean) : [],
    concurrency: positive(env.PRECACHE_LENS_CONCURRENCY, DEFAULTS.concurrency, true),
    maxBatchMB: positive(env.PRECACHE_LENS_MAX_BATCH_MB, DEFAULTS.maxBatchMB),
    maxExportMB: positive(env.PRECACHE_LENS_MAX_EXPORT_MB, DEFAULTS.maxExportMB),
  };
}
