// The two errors every layer shares: bad input (a 4xx naming the field) and a cancelled run.

/** The caller's input is at fault: the HTTP layer answers 4xx `{error, field}`; the CLI prints the message. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field && !message.startsWith(`${field}:`) ? `${field}: ${message}` : message);
    this.name = 'InputError';
  }
}

/** A run (or job) stopped because the user cancelled it. */
export class CancelledError extends Error {
  constructor(message = 'the run was cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export const isCancelled = (e: unknown): boolean => e instanceof Error && e.name === 'CancelledError';
