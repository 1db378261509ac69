// An error the HTTP layer answers as JSON with a status; `field` names the request field at fault.
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
