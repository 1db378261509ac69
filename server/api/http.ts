// Helpers shared by the API routers: zod validation that names the field, and route-parameter checks.
import type { Request } from 'express';
import { z } from 'zod';
import { describeZodError } from '../../shared/api.js';
import { HttpError } from '../http-error.js';

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
