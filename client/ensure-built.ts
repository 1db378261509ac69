// Builds the web client into dist/client when it is missing or older than its sources (run by `npm start` and the e2e tests).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLIENT_INDEX = path.join(ROOT, 'dist/client/index.html');
export const VITE_CONFIG = path.join(ROOT, 'client/vite.config.ts');
/** What the bundle is made of: the client itself and the shared types and helpers it imports. */
const SOURCES = [path.join(ROOT, 'client'), path.join(ROOT, 'shared'), path.join(ROOT, 'package-lock.json')];

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const e of fs.readdirSync(p)) {
    if (e === 'node_modules' || e.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(path.join(p, e)));
  }
  return newest;
}

export function clientIsStale(): boolean {
  if (!fs.existsSync(CLIENT_INDEX)) return true;
  const built = fs.statSync(CLIENT_INDEX).mtimeMs;
  return SOURCES.some((s) => newestMtime(s) > built);
}

/** Returns true when it built. */
export async function ensureClientBuilt(opts: { force?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  if (!opts.force && !clientIsStale()) return false;
  opts.log?.(`building the web client (${path.relative(ROOT, VITE_CONFIG)} -> dist/client)…`);
  // A test runner's NODE_ENV=test would give React's development build.
  process.env.NODE_ENV = 'production';
  const { build } = await import('vite');
  await build({ configFile: VITE_CONFIG, mode: 'production', logLevel: 'warn' });
  return true;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  ensureClientBuilt({ force: process.argv.includes('--force'), log: (l) => console.log(l) }).catch((e: Error) => {
    console.error(`precache-lens: building the web client failed: ${e.message}`);
    process.exit(1);
  });
}
