// Test helper: starts the real server on an ephemeral loopback port.
import type { AddressInfo } from 'node:net';
import { serve, type ServeOptions } from '../../server/main.js';

export async function startServer(opts: Partial<ServeOptions> = {}) {
  const s = await serve({ host: '127.0.0.1', port: 0, models: [], threads: 2, ...opts });
  const { port } = s.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    ...s,
    base,
    async close() {
      await new Promise<void>((r) => s.server.close(() => r()));
      await s.engine.close();
    },
  };
}
