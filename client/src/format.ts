// Formatting used by every view: numbers and tokens come from shared/format.ts (the HTML reports use the same), plus ids,
// times and snippets.

export { nats, pct, sci, showToken, signedNats } from '@shared/format.js';

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function snippet(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
