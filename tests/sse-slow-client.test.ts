// A server-sent event stream whose client stops reading is dropped once what waits for it passes the stated bound;
// a client that reads gets every event. Real sockets on loopback; the sender pushes far more than the kernel buffers.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEventStream } from '../server/api/sse.js';
import { settings } from '../server/settings.js';

const LIMIT = 256 * 1024;
const EVENT = 'x'.repeat(64 * 1024);
/** 32 MiB in all: far beyond what loopback socket buffers hold for a client that does not read. */
const EVENTS = 512;

let server: http.Server;
let base: { host: string; port: number };
const outcomes: { sent: number; dropped: boolean; maxWaiting: number; closedCalled: boolean }[] = [];

beforeAll(async () => {
  const app = express();
  app.get('/events', (req, res) => {
    const stream = openEventStream(req, res, LIMIT);
    const o = { sent: 0, dropped: false, maxWaiting: 0, closedCalled: false };
    outcomes.push(o);
    stream.onClose(() => (o.closedCalled = true));
    // Events come from a source over time (as a run's progress does), one per turn of the event loop.
    let k = 0;
    const tick = () => {
      if (k++ >= EVENTS) return stream.end();
      if (!stream.send('partial', { k, data: EVENT })) {
        o.dropped = true;
        return;
      }
      o.sent++;
      o.maxWaiting = Math.max(o.maxWaiting, res.writableLength);
      setImmediate(tick);
    };
    tick();
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function request(sock: net.Socket) {
  sock.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
}

describe('an SSE client', () => {
  it('that stops reading is dropped once more than the bound waits for it, and the stream cleans up', async () => {
    const sock = net.connect(base);
    await new Promise((r) => sock.once('connect', r));
    request(sock);
    sock.pause(); // never reads
    sock.on('error', () => {});
    const before = outcomes.length;
    const o = await new Promise<(typeof outcomes)[number]>((resolve, reject) => {
      const end = Date.now() + 50_000;
      const look = () => {
        const x = outcomes[before];
        if (x && (x.dropped || x.sent === EVENTS)) resolve(x);
        else if (Date.now() > end) reject(new Error(`the stream neither dropped nor finished: ${JSON.stringify(x)}`));
        else setTimeout(look, 50);
      };
      look();
    });
    sock.destroy();
    expect(o.dropped).toBe(true);
    expect(o.closedCalled).toBe(true);
    expect(o.sent).toBeLessThan(EVENTS);
    // What waited in memory stayed within the bound plus the one event that crossed it.
    expect(o.maxWaiting).toBeLessThanOrEqual(LIMIT + EVENT.length + 1024);
  }, 60_000);

  it('that reads gets every event and the end of the stream', async () => {
    const sock = net.connect(base);
    await new Promise((r) => sock.once('connect', r));
    const before = outcomes.length;
    request(sock);
    let bytes = 0;
    sock.on('data', (b: Buffer) => (bytes += b.length));
    await new Promise<void>((r) => sock.once('end', () => r()));
    sock.destroy();
    const o = outcomes[before];
    expect(o.dropped).toBe(false);
    expect(o.sent).toBe(EVENTS);
    expect(bytes).toBeGreaterThan(EVENTS * EVENT.length);
  }, 60_000);

  it('has a stated default bound, set by PRECACHE_LENS_SSE_MAX_BUFFER_KB', () => {
    expect(settings({}).sseMaxBufferKB).toBe(1024);
    expect(settings({ PRECACHE_LENS_SSE_MAX_BUFFER_KB: '64' }).sseMaxBufferKB).toBe(64);
    expect(() => settings({ PRECACHE_LENS_SSE_MAX_BUFFER_KB: 'lots' })).toThrow(/PRECACHE_LENS_SSE_MAX_BUFFER_KB/);
  });
});
