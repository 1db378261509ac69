// Numeric settings from environment variables: a bad value stops the server with a message naming the variable.

/** A non-negative integer from `name`, or `fallback` when it is unset or empty. */
export function envInt(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d{1,9}$/.test(raw.trim())) throw new Error(`${name}=${JSON.stringify(raw)}: expected a non-negative whole number`);
  return Number(raw.trim());
}
