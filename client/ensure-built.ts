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

const BUILD_LOCK = path.join(ROOT, 'dist/.client-build.lock');

/**
 * Runs `fn` while holding a directory lock, so two processes that start at once (e.g. two e2e test files) never build
 * into dist/client at the same time; a lock left by a killed build is taken over after 3 minutes.
 */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(BUILD_LOCK), { recursive: true });
  const deadline = Date.now() + 6 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(BUILD_LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(BUILD_LOCK).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > 180_000) fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`another build of the web client holds ${BUILD_LOCK}`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

/** Returns true when it built. */
export async function ensureClientBuilt(opts: { force?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  if (!opts.force && !clientIsStale()) return false;
  return withBuildLock(async () => {
    // Another process may have built it while this one waited for the lock.
    if (!opts.force && !clientIsStale()) return false;
    opts.log?.(`building the web client (${path.relative(ROOT, VITE_CONFIG)} -> dist/client)…`);
    // A test runner's NODE_ENV=test would give React's development build.
    process.env.NODE_ENV = 'production';
    const { build } = await import('vite');
    await build({ configFile: VITE_CONFIG, mode: 'production', logLevel: 'warn' });
    return true;
  });
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  ensureClientBuilt({ force: process.argv.includes('--force'), log: (l) => console.log(l) }).catch((e: Error) => {
    console.error(`precache-lens: building the web client failed: ${e.message}`);
    process.exit(1);
  });
}
