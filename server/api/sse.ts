// Server-sent event streams with a bound: a client that stops reading is dropped once the events it has not taken
// exceed a stated size, so the server never buffers without limit for it.
import type { Request, Response } from 'express';
import { settings } from '../settings.js';

export interface EventStream {
  /** Sends one event; false when the stream is closed (the client left, or was dropped for not reading). */
  send(event: string, data: unknown): boolean;
  /** Ends the stream normally. */
  end(): void;
  /** Runs `fn` once when the stream closes, whatever closes it (unsubscribe from the source here). */
  onClose(fn: () => void): void;
}

/** Opens an event stream on `res`. `maxBufferedBytes`: what may wait in this process for the client (default PRECACHE_LENS_SSE_MAX_BUFFER_KB). */
export function openEventStream(req: Request, res: Response, maxBufferedBytes = settings().sseMaxBufferKB * 1024): EventStream {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let closed = false;
  const cleanups: (() => void)[] = [];
  const close = () => {
    if (closed) return;
    closed = true;
    for (const f of cleanups.splice(0)) f();
  };
  req.on('close', close);
  res.on('close', close);
  return {
    send(event, data) {
      if (closed) return false;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      // The kernel's socket buffers are full and this much more waits in memory: the client is not reading.
      if (res.writableLength > maxBufferedBytes) {
        console.warn(`event stream ${req.originalUrl}: dropped a client that stopped reading (${res.writableLength} bytes waiting, limit ${maxBufferedBytes})`);
        close();
        res.destroy();
        return false;
      }
      return true;
    },
    end() {
      close();
      res.end();
    },
    onClose(fn) {
      if (closed) fn();
      else cleanups.push(fn);
    },
  };
}
