// Helpers shared by the API routers: async handlers, zod validation that names the field, run lookups.
import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { describeZodError } from '../../shared/api.js';
import { HttpError } from '../http-error.js';
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
