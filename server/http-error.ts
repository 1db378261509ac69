// An error the HTTP layer answers as JSON with a status; `field` names the request field at fault.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    /** Extra members of the JSON body (e.g. the size estimate of a refused export). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
