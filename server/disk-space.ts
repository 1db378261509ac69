// Disk space in the data directory: free-space checks before large writes, the "out of space" error the API answers
// 507 with, temporary files written beside their target (and swept at start), and a small reserve file that is given
// up so that a run failing for lack of space can still be marked failed.
import fs from 'node:fs';
import path from 'node:path';

/** Margin kept on top of a write's own size: file-system metadata, SQLite's journal pages. */
export const WRITE_MARGIN_BYTES = 1 << 20;
/** The reserve file: enough for SQLite to record a few runs as failed when the disk is otherwise full. */
export const RESERVE_BYTES = 4 << 20;
export const RESERVE_FILE = 'space-reserve';

export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`;

/**
 * A write that did not fit: names the directory, what was being written, how much it needs and how much is free.
 * Its name survives the engine worker's boundary (RemoteError keeps names), so both sides recognise it.
 */
export class OutOfSpaceError extends Error {
  readonly field = 'disk';
  constructor(
    readonly dir: string,
    readonly what: string,
    readonly neededBytes: number,
    readonly freeBytes: number | null,
  ) {
    super(
      `disk: the data directory ${dir} is out of space: ${what} needs about ${mib(neededBytes)}` +
        `${freeBytes === null ? '' : `, ${mib(freeBytes)} free`}; free some space there (or start with --data on a larger disk) and try again`,
    );
    this.name = 'OutOfSpaceError';
  }
}

/** Free bytes for an unprivileged writer on the file system holding `dir` (the nearest existing ancestor), or null. */
export function freeBytes(dir: string): number | null {
  return diskUsage(dir)?.freeBytes ?? null;
}

export function diskUsage(dir: string): { freeBytes: number; totalBytes: number } | null {
  const q = quotaFor(dir);
  if (q) {
    const used = bytesUnder(q.dir);
    return { freeBytes: Math.max(0, q.bytes - used), totalBytes: q.bytes };
  }
  const s = statfs(dir);
  return s ? { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize } : null;
}

/**
 * Fault-injection seam for tests that cannot mount a small file system (they need root): PRECACHE_LENS_FAULT_DISK_QUOTA
 * = `<dir>:<bytes>` makes every directory under <dir> look like a file system of <bytes> holding what <dir> holds.
 * The free-space checks read it, and the run store caps SQLite's size to it (`max_page_count`), so writes fail as on
 * a full disk. Never set it outside tests.
 */
export function quotaFor(dir: string): { dir: string; bytes: number } | null {
  const v = process.env.PRECACHE_LENS_FAULT_DISK_QUOTA;
  if (!v) return null;
  const at = v.lastIndexOf(':');
  const root = path.resolve(v.slice(0, at));
  const bytes = Number(v.slice(at + 1));
  if (at <= 0 || !Number.isInteger(bytes) || bytes <= 0) throw new Error(`PRECACHE_LENS_FAULT_DISK_QUOTA=${JSON.stringify(v)}: expected <dir>:<bytes>`);
  const d = path.resolve(dir);
  return d === root || d.startsWith(`${root}${path.sep}`) ? { dir: root, bytes } : null;
}

/** Bytes of the files under `dir` (for the seam above). */
function bytesUnder(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    try {
      total += fs.statSync(path.join(e.parentPath, e.name)).size;
    } catch {
      // removed meanwhile
    }
  }
  return total;
}

function statfs(dir: string): fs.StatsFs | null {
  let d = path.resolve(dir);
  for (;;) {
    try {
      return fs.statfsSync(d);
    } catch {
      const up = path.dirname(d);
      if (up === d) return null;
      d = up;
    }
  }
}

/** Is `e` a write that failed for lack of space: ENOSPC/EDQUOT, SQLite's SQLITE_FULL, or our own error (also across the worker boundary)? */
export function isOutOfSpace(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const x = e as { code?: unknown; name?: unknown; message?: unknown };
  if (x.name === 'OutOfSpaceError') return true;
  if (x.code === 'ENOSPC' || x.code === 'EDQUOT' || x.code === 'SQLITE_FULL') return true;
  // SQLite reports a full disk under a write as an I/O error on some paths (SQLITE_IOERR_WRITE with ENOSPC underneath).
  return typeof x.code === 'string' && x.code.startsWith('SQLITE_IOERR') && typeof x.message === 'string' && /disk is full|no space/i.test(x.message);
}

/** Throws OutOfSpaceError unless `bytes` (plus a margin) fit in `dir` now. */
export function ensureFreeSpace(dir: string, bytes: number, what: string): void {
  const free = freeBytes(dir);
  const needed = bytes + WRITE_MARGIN_BYTES;
  if (free !== null && free < needed) throw new OutOfSpaceError(dir, what, needed, free);
}

/** Rethrows a lack-of-space failure of a write as OutOfSpaceError naming `dir` and `what`; anything else as it was. */
export function asOutOfSpace(e: unknown, dir: string, what: string, bytes: number): unknown {
  // Ours already (also as a RemoteError from the engine thread): it names the directory and size best.
  if (!isOutOfSpace(e) || (e as Error).name === 'OutOfSpaceError') return e;
  return new OutOfSpaceError(dir, what, bytes + WRITE_MARGIN_BYTES, freeBytes(dir));
}

/** The name of a temporary file beside `target`: same directory (so the rename is atomic), tagged with this process. */
export function tempPathFor(target: string): string {
  return `${target}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/**
 * Writes `target` through a temporary file beside it: `write` fills the temporary path, which is then renamed over
 * the target. On any failure the temporary file is removed, and a lack of space becomes OutOfSpaceError.
 */
export function writeBeside(target: string, bytes: number, what: string, write: (tmp: string) => void): void {
  const dir = path.dirname(target);
  ensureFreeSpace(dir, bytes, what);
  const tmp = tempPathFor(target);
  try {
    write(tmp);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw asOutOfSpace(e, dir, what, bytes);
  }
}

const TEMP = /\.(\d+)\.\d+(?:\.[a-z0-9]+)?\.tmp$|\.tmp-(\d+)$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files in `dir` left by processes that are gone (a crash or a kill mid-write); those of live
 * processes (another server or worker sharing a cache) stay. Returns the names removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const f of names) {
    const m = TEMP.exec(f);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (alive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, f), { force: true });
      removed.push(f);
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  return removed;
}

/**
 * A file of RESERVE_BYTES in the data directory, held while there is room. When a write fails for lack of space,
 * `release()` deletes it so that the failure itself can be recorded; `restore()` puts it back once space returns.
 */
export class SpaceReserve {
  readonly file: string;

  constructor(
    readonly dir: string,
    readonly bytes = RESERVE_BYTES,
  ) {
    this.file = path.join(dir, RESERVE_FILE);
    this.restore();
  }

  get held(): boolean {
    try {
      return fs.statSync(this.file).size >= this.bytes;
    } catch {
      return false;
    }
  }

  /** Gives the reserve up; true when there was one to give. */
  release(): boolean {
    if (!fs.existsSync(this.file)) return false;
    fs.rmSync(this.file, { force: true });
    return true;
  }

  /** Writes the reserve again when it is missing and it fits with room to spare; never throws. */
  restore(): boolean {
    if (this.held) return true;
    const free = freeBytes(this.dir);
    if (free !== null && free < this.bytes * 2 + WRITE_MARGIN_BYTES) return false;
    try {
      writeBeside(this.file, this.bytes, 'the space reserve', (tmp) => fs.writeFileSync(tmp, Buffer.alloc(this.bytes)));
      return true;
    } catch {
      return false;
    }
  }
}
