// One server per data directory: an exclusive SQLite lock the operating system drops when the process dies.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/** Who holds a data directory, as the holder wrote it next to the lock. */
export interface LockOwner {
  pid: number;
  url?: string;
  startedAt: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner | null,
  ) {
    super(
      `data directory ${dir} is in use by ${owner ? `another Precache Lens server, process ${owner.pid}${owner.url ? ` (${owner.url})` : ''}, started ${owner.startedAt}` : 'another Precache Lens server'}; ` +
        'stop it first, or give this one its own directory with --data or PRECACHE_LENS_DATA. Nothing in the directory was touched.',
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataLock {
  /** Records where the holder can be reached, for the message a second server prints. */
  describe(url: string): void;
  release(): void;
}

/**
 * Takes the data directory for this process or throws DataDirInUseError naming the holder. The lock is an open
 * EXCLUSIVE transaction on `server.lock` (POSIX record locks underneath): it works between processes and between
 * servers in one process, and a killed process never leaves it behind (no stale lock files to guess about).
 */
export function lockDataDir(dir: string): DataLock {
  fs.mkdirSync(dir, { recursive: true });
  const ownerFile = path.join(dir, 'server.owner.json');
  const db = new Database(path.join(dir, 'server.lock'), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw new DataDirInUseError(dir, readOwner(ownerFile));
    throw e;
  }
  const owner: LockOwner = { pid: process.pid, startedAt: new Date().toISOString() };
  const write = () => fs.writeFileSync(ownerFile, `${JSON.stringify(owner)}\n`);
  write();
  let held = true;
  return {
    describe(url) {
      owner.url = url;
      write();
    },
    release() {
      if (!held) return;
      held = false;
      fs.rmSync(ownerFile, { force: true });
      db.close();
    },
  };
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : null;
  } catch {
    return null;
  }
}
