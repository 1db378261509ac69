// Helpers shared by the API routers: async handlers, zod validation that names the field, run lookups.
import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { describeZodError } from '../../shared/api.js';
import { HttpError } from '../http-error.js';
import { REPORT_CSP } from '../security.js';
import type { RunStore, StoredRun } from '../store/run-store.js';

/**
 * An async route handler whose errors reach Express's error handler; `mapError` may turn a domain error into an
 * HttpError first.
 */
export function wrap(fn: (req: Request, res: Response) => Promise<void> | void, mapError: (e: unknown) => unknown = (e) => e) {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(fn(req, res)).catch((e: unknown) => next(mapError(e)));
  };
}

/** Parses a request part with a zod schema; a failure is a 400 naming the first offending field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const { message, field } = describeZodError(r.error);
    throw new HttpError(400, message, field);
  }
  return r.data;
}

/** The `:id` route parameter, which must be a run id (a UUID). */
export function uuidParam(req: Request): string {
  const id = String(req.params.id);
  if (!z.string().uuid().safeParse(id).success) throw new HttpError(400, `id: "${id}" is not a run id (a UUID)`, 'id');
  return id;
}

/** A stored run, or a 404 naming `field` (`id`, or `ids.k` in a list). */
export function requireRun(store: RunStore, id: string, field = 'id'): StoredRun {
  const run = store.getFull(id);
  if (!run) throw new HttpError(404, `${field === 'id' ? '' : `${field}: `}no run ${id}`, field);
  return run;
}

/** A stored run that finished with a result, or a 404/409 naming `field`. */
export function requireDoneRun(store: RunStore, id: string, field = 'id'): StoredRun {
  const run = requireRun(store, id, field);
  if (run.status !== 'done' || !run.result) throw new HttpError(409, `${field}: run ${id} is ${run.status}, not done`, field);
  return run;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one (String#isWellFormed, ES2024).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/**
 * The path (`prompt`, `options.spans`, `hooks.2`) of the first string or key in a parsed body or query that is not
 * well-formed Unicode (a lone UTF-16 surrogate such as "\ud800"), or null. Such text cannot be stored and sent back
 * as the same JSON, so it is refused at the door instead of being changed silently.
 */
export function illFormedStringPath(value: unknown, at: string[] = [], depth = 0): string | null {
  if (typeof value === 'string') return wellFormed(value) ? null : at.join('.') || 'body';
  if (value === null || typeof value !== 'object' || depth > 64) return null;
  for (const [k, v] of Object.entries(value)) {
    if (!wellFormed(k)) return [...at, k].join('.');
    const p = illFormedStringPath(v, [...at, k], depth + 1);
    if (p !== null) return p;
  }
  return null;
}

/** Middleware: a 400 naming the field that holds a lone surrogate, in the JSON body or the query. */
export function requireWellFormedText(req: Request, _res: Response, next: NextFunction): void {
  for (const value of [req.body, req.query]) {
    const p = illFormedStringPath(value);
    if (p !== null) return next(new HttpError(400, `${p}: contains a lone UTF-16 surrogate; text must be valid Unicode`, p));
  }
  next();
}

/** `?inline=1` asks for an HTML report shown in the tab instead of downloaded. */
export const InlineQuery = z.object({ inline: z.enum(['0', '1']).optional() });

/**
 * Sends a report or export: every one the same way, as a download (an HTML report inline only when asked with
 * `?inline=1`), never cached, and HTML under REPORT_CSP (`default-src 'none'`: a report is a static document).
 */
export function sendReport(res: Response, body: string, type: string, filename: string, inline = false): void {
  res.type(type);
  if (type.startsWith('text/html')) res.setHeader('content-security-policy', REPORT_CSP);
  res.setHeader('content-disposition', `${inline && type.startsWith('text/html') ? 'inline' : 'attachment'}; filename="${filename}"`);
  res.setHeader('cache-control', 'no-store');
  res.send(body);
}
