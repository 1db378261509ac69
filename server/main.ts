// Server entry point: `npm start` (serve the bundled default model on 127.0.0.1).
import { createRequire } from 'node:module';
import { EngineClient } from './engine/engine-client.js';
import { ModelRegistry, modelsFromEnv } from './model/registry.js';
import { createApp } from './app.js';
import { RunStore } from './store/run-store.js';
import { RunManager } from './runs/run-manager.js';
import path from 'node:path';

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
}

export const DEFAULT_DATA_DIR = process.env.PRECACHE_LENS_DATA ?? path.resolve('.precache-lens');

export async function serve(opts: ServeOptions) {
  const registry = new ModelRegistry(opts.models);
  const dataDir = opts.dataDir ?? DEFAULT_DATA_DIR;
  const store = new RunStore(dataDir);
  const engine = new EngineClient({ threads: opts.threads, cacheDir: opts.cacheDir ?? path.join(dataDir, 'graph-cache') });
  const runs = new RunManager(store, engine, opts.concurrency, opts.maxBatchMB);
  const app = createApp({ engine, registry, store, runs, version });
  const server = await new Promise<import('node:http').Server>((resolve, reject) => {
    const s = app.listen(opts.port, opts.host, () => resolve(s));
    s.on('error', reject);
  });
  return { server, engine, registry, store, runs };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const host = process.env.PRECACHE_LENS_HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 5177);
  serve({ host, port, models: modelsFromEnv() })
    .then(({ server }) => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      console.log(`Precache Lens is running: open http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${p}/`);
    })
    .catch((e: Error) => {
      console.error(`precache-lens: ${e.message}`);
      process.exit(1);
    });
}
