// Test helper: starts the real server on an ephemeral loopback port with a throwaway data directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServeOptions } from '../../server/main.js';
import { ApiClient } from '../../shared/api.js';

export async function startServer(opts: Partial<ServeOptions> = {}) {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pl-data-'));
  const s = await serve({ host: '127.0.0.1', port: 0, models: [], threads: 2, dataDir, ...opts });
  const { port } = s.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    ...s,
    base,
    dataDir,
    api: new ApiClient(base),
    /** Stops the server, its engine and store, each even when one before it fails. */
    async close() {
      try {
        s.server.closeAllConnections?.();
        await new Promise<void>((r) => s.server.close(() => r()));
      } finally {
        try {
          await s.engine.close();
        } finally {
          s.store.close();
          if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
        }
      }
    },
  };
}
