// The Express app: JSON API under /api and the built web client (or a placeholder page) at /.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { EngineClient } from './worker/engine-client.js';
import { RemoteError } from './worker/protocol.js';
import { InputError } from '../shared/errors.js';
import type { ModelRegistry } from './model/registry.js';
import type { RunStore } from './store/run-store.js';
import type { RunManager } from './runs/run-manager.js';
import { HttpError } from './http-error.js';
import { QueueFullError } from './runs/run-manager.js';
import { securityMiddleware, type SecurityOptions } from './security.js';
import { settings } from './settings.js';
import { requireWellFormedText } from './api/http.js';
import { runsRouter } from './api/runs-routes.js';
import { reportRouter } from './api/report-routes.js';
import { attentionRouter } from './api/attention-routes.js';
import { tokenizeRouter } from './api/tokenize-routes.js';
import { experimentsRouter } from './api/experiments-routes.js';
import { compareModelsRouter } from './api/compare-models-routes.js';
import type { ExperimentManager } from './experiments/experiment-manager.js';
import type { PoolBackend } from './pool/pool-backend.js';
import { workersRouter } from './api/workers-routes.js';
import { searchRouter } from './api/search-routes.js';
import type { SearchManager } from './search/search-manager.js';
import { diskUsage, isOutOfSpace, mib, OutOfSpaceError, WRITE_MARGIN_BYTES } from './disk-space.js';
import { tokenizerIdentity } from './model/tokenizer-identity.js';
import { historyRouter } from './api/history-routes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLIENT_DIST = path.join(ROOT, 'dist/client');

export interface AppDeps {
  engine: EngineClient;
  registry: ModelRegistry;
  store: RunStore;
  runs: RunManager;
  experiments: ExperimentManager;
  /** Prompt search (server/search/); absent: its endpoints answer 503. */
  searches?: SearchManager | null;
  /** The worker pool, when runs go to Redis (serve --redis); null or absent: they run in this process. */
  pool?: PoolBackend | null;
  version: string;
  /** Host allow-list, same-origin checks and the access token (server/security.ts). */
  security: SecurityOptions;
  /** Free space in the data directory below which /api/health says ok: false (default PRECACHE_LENS_MIN_FREE_MB). */
  minFreeBytes?: number;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityMiddleware(deps.security));
  app.use(express.json({ limit: '1mb' }));
  app.use(requireWellFormedText);
  const started = Date.now();

  const minFreeBytes = deps.minFreeBytes ?? settings().minFreeMB * 2 ** 20;
  app.get('/api/health', (_req, res) => {
    // backend.ok is false while the pool's Redis is unreachable: the server answers, queued runs wait.
    const backend = deps.runs.backend.health();
    const dir = deps.store.dataDir;
    const usage = diskUsage(dir);
    const diskOk = usage === null || usage.freeBytes >= minFreeBytes;
    // Space came back: the reserve that lets a run fail cleanly on a full disk is put back (a no-op while it is there).
    if (diskOk) deps.store.reserve.restore();
    const disk = {
      dir,
      freeBytes: usage?.freeBytes ?? null,
      totalBytes: usage?.totalBytes ?? null,
      minFreeBytes,
      ok: diskOk,
      message: diskOk ? null : `the data directory ${dir} has ${mib(usage!.freeBytes)} free, under ${mib(minFreeBytes)}: runs may fail for lack of space`,
    };
    res.json({ ok: backend.ok && diskOk, version: deps.version, uptimeS: Math.round((Date.now() - started) / 1000), backend, disk });
  });

  app.get('/api/models', async (_req, res, next) => {
    try {
      const models = await Promise.all(
        deps.registry.list().map(async (m) => {
          const info = await deps.engine.info(m.md.dir);
          return {
            id: m.id,
            name: m.md.name,
            dir: m.md.dir,
            bundled: m.bundled,
            graph: path.relative(m.md.dir, m.md.graphPath),
            modelHash: info.modelHash,
            config: info.config,
            attentionProblem: info.attentionProblem,
            tokenizer: tokenizerIdentity(m.md),
          };
        }),
      );
      res.json({ default: deps.registry.defaultId(), models });
    } catch (e) {
      next(e);
    }
  });

  app.use('/api', runsRouter(deps));
  app.use('/api', reportRouter(deps));
  app.use('/api', attentionRouter(deps));
  app.use('/api', tokenizeRouter(deps));
  app.use('/api', experimentsRouter(deps));
  app.use('/api', historyRouter(deps));
  app.use('/api', compareModelsRouter(deps));
  app.use('/api', workersRouter(deps));
  app.use('/api', searchRouter(deps));

  app.use('/api', (req, _res, next) => next(new HttpError(404, `no such endpoint: ${req.method} ${req.originalUrl}`)));

  if (fs.existsSync(path.join(CLIENT_DIST, 'index.html'))) {
    app.use(express.static(CLIENT_DIST));
    app.get(/^\/(?!api\/).*/, (_req, res) => res.sendFile(path.join(CLIENT_DIST, 'index.html')));
  } else {
    app.get('/', (_req, res) => res.type('html').send(PLACEHOLDER));
  }

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = err as { status?: number; type?: string; message?: string; field?: string };
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...(err.field ? { field: err.field } : {}), ...err.details });
    } else if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: `request body is not valid JSON: ${e.message}`, field: 'body' });
    } else if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'request body is too large (limit 1 MB)', field: 'body' });
    } else if (e.type === 'entity.verify.failed' || e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      res.status(415).json({ error: e.message ?? 'unsupported body encoding', field: 'body' });
    } else if (err instanceof QueueFullError) {
      res.setHeader('Retry-After', String(err.retryAfterS));
      res.status(429).json({ error: err.message, field: 'queue' });
    } else if (err instanceof URIError && typeof e.status === 'number') {
      // The router could not percent-decode a path segment (`/api/runs/%`).
      res.status(400).json({ error: `path: ${e.message} (bad percent-encoding)`, field: 'path' });
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      // Other client errors raised while reading the request, e.g. a body that is not the Content-Encoding it claims.
      const encoding = req.headers['content-encoding'];
      const what = encoding ? `body: cannot be decoded as Content-Encoding ${encoding}: ${e.message}` : `body: ${e.message}`;
      res.status(e.status).json({ error: what, field: 'body' });
    } else if (isOutOfSpace(err)) {
      // 507 Insufficient Storage: this request's write did not fit; reads and the rest go on being served.
      const o = err instanceof OutOfSpaceError ? err : null;
      const dir = o?.dir ?? deps.store.dataDir;
      const message = o || err instanceof RemoteError ? (e.message ?? '') : new OutOfSpaceError(dir, 'this request', WRITE_MARGIN_BYTES, diskUsage(dir)?.freeBytes ?? null).message;
      res.status(507).json({ error: message, field: 'disk', dataDir: dir, ...(o ? { neededBytes: o.neededBytes, freeBytes: o.freeBytes } : {}) });
    } else if ((err instanceof RemoteError && err.isInputError) || err instanceof InputError) {
      // Input errors keep their field across the worker boundary (server/worker/protocol.ts).
      res.status(422).json({ error: err.message, ...(err.field ? { field: err.field } : {}) });
    } else {
      console.error(err);
      res.status(500).json({ error: `internal error: ${e.message ?? String(err)}` });
    }
  });
  return app;
}

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Precache Lens</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}code{background:#f3f4f6;padding:0 .25rem}</style>
</head><body><h1>Precache Lens</h1><p>The server is running. The web workbench is not built yet; the API is at
<a href="/api/models"><code>/api/models</code></a> and <a href="/api/health"><code>/api/health</code></a>.</p></body></html>`;
