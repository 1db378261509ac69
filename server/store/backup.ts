// Backups of the run history: an online copy of runs.sqlite through SQLite's backup API (the server may keep running),
// and a restore that sets the current file aside instead of overwriting it.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensureFreeSpace, tempPathFor } from '../disk-space.js';
import { lockDataDir } from '../data-lock.js';
import { openCheckedDatabase } from './run-store.js';

export const STORE_FILE = 'runs.sqlite';

export interface BackupResult {
  file: string;
  bytes: number;
  runs: number;
}

function fileSize(f: string): number {
  try {
    return fs.statSync(f).size;
  } catch {
    return 0;
  }
}

function countRuns(db: Database.Database): number {
  const has = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'`).get();
  return has ? (db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n : 0;
}

/** `runs-2026-12-05T11-30-00Z.sqlite`: sorts by time, valid on every file system. */
export function backupName(now = new Date()): string {
  return `runs-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}.sqlite`;
}

/**
 * Copies `<dataDir>/runs.sqlite` into `destDir` with SQLite's online backup API: a consistent snapshot even while a
 * server writes to it. The copy is written beside its final name and renamed when complete and checked.
 */
export async function backupStore(dataDir: string, destDir: string, now = new Date()): Promise<BackupResult> {
  const src = path.join(dataDir, STORE_FILE);
  if (!fs.existsSync(src)) throw new Error(`--data: ${dataDir} has no ${STORE_FILE}; nothing to back up`);
  fs.mkdirSync(destDir, { recursive: true });
  const file = path.join(path.resolve(destDir), backupName(now));
  if (fs.existsSync(file)) throw new Error(`${file} exists already; nothing was overwritten`);
  ensureFreeSpace(destDir, fileSize(src) + fileSize(`${src}-wal`), `the backup of ${src}`);
  // A damaged store is refused here too: a backup of it would only copy the damage.
  const db = openCheckedDatabase(src);
  const tmp = tempPathFor(file);
  try {
    await db.backup(tmp);
    const copy = new Database(tmp, { readonly: true, fileMustExist: true });
    let runs: number;
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed its check (${String(check)})`);
      runs = countRuns(copy);
    } finally {
      copy.close();
    }
    fs.renameSync(tmp, file);
    return { file, bytes: fileSize(file), runs };
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  runs: number;
  /** Where the replaced runs.sqlite (and its -wal, -shm) went, or null when there was none. */
  setAside: string | null;
}

/**
 * Puts a backup in place as `<dataDir>/runs.sqlite`. Refused while a server holds the directory, and for a file that
 * is not a sound SQLite database. The current file is renamed aside (runs.sqlite.replaced-<time>), never overwritten.
 */
export function restoreStore(backupFile: string, dataDir: string, now = new Date()): RestoreResult {
  if (!fs.existsSync(backupFile)) throw new Error(`${backupFile}: no such file`);
  const probe = openCheckedDatabase(backupFile);
  let runs: number;
  try {
    runs = countRuns(probe);
  } finally {
    probe.close();
  }
  const lock = lockDataDir(dataDir);
  try {
    const target = path.join(dataDir, STORE_FILE);
    ensureFreeSpace(dataDir, fileSize(backupFile), `restoring ${backupFile}`);
    // The copy is complete beside the target before the current file moves aside.
    const tmp = tempPathFor(target);
    try {
      fs.copyFileSync(backupFile, tmp);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    let setAside: string | null = null;
    if (fs.existsSync(target)) {
      setAside = `${target}.replaced-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}`;
      for (const ext of ['', '-wal', '-shm']) if (fs.existsSync(target + ext)) fs.renameSync(target + ext, setAside + ext);
    }
    fs.renameSync(tmp, target);
    return { runs, setAside };
  } finally {
    lock.release();
  }
}
