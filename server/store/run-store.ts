// Run history in SQLite (better-sqlite3, WAL): runs, their variants and results, with schema migrations.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import type { RunStatus, RunSummary } from '../../shared/api.js';
import { asOutOfSpace, diskUsage, ensureFreeSpace, isOutOfSpace, quotaFor, SpaceReserve } from '../disk-space.js';

export type { RunStatus };
/** A run as the history lists it: the same shape the API returns (shared/api.ts RunSummary). */
export type RunRow = RunSummary;

export interface VariantRow {
  idx: number;
  kind: string;
  label: string;
  blockedLayers: number[];
  blockedSpan: [number, number] | null;
  meanLoss: number;
}

export interface StoredRun extends RunRow {
  result: unknown | null;
  /** The finished stages by name (see shared/analysis.ts StagedResult). */
  stages: Record<string, unknown>;
  variants: VariantRow[];
}

/** Each entry upgrades the schema by one version; never edit one that has shipped, append a new one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     status TEXT NOT NULL,
     label TEXT,
     parent_id TEXT,
     model_id TEXT NOT NULL,
     model_hash TEXT,
     prompt TEXT NOT NULL,
     input TEXT NOT NULL,
     options TEXT NOT NULL,
     error TEXT,
     mean_benefit REAL,
     precomputation_share REAL,
     result TEXT
   );
   CREATE INDEX runs_created ON runs(created_at DESC);
   CREATE TABLE variants (
     run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
     idx INTEGER NOT NULL,
     kind TEXT NOT NULL,
     label TEXT NOT NULL,
     blocked_layers TEXT NOT NULL,
     blocked_span TEXT,
     mean_loss REAL NOT NULL,
     PRIMARY KEY (run_id, idx)
   );`,
  // Staged results: each finished stage (headline, depth, spans) of a run, kept when the run is cancelled or fails.
  `ALTER TABLE runs ADD COLUMN stages TEXT;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

interface DbRun {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: RunStatus;
  label: string | null;
  parent_id: string | null;
  model_id: string;
  model_hash: string | null;
  prompt: string;
  input: string;
  options: string;
  error: string | null;
  mean_benefit: number | null;
  precomputation_share: number | null;
  result?: string | null;
  stages?: string | null;
}

function toRow(r: DbRun): RunRow {
  return {
    id: r.id,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    status: r.status,
    label: r.label,
    parentId: r.parent_id,
    modelId: r.model_id,
    modelHash: r.model_hash,
    prompt: r.prompt,
    input: r.input,
    options: JSON.parse(r.options) as Record<string, unknown>,
    error: r.error,
    meanBenefit: r.mean_benefit,
    precomputationShare: r.precomputation_share,
  };
}

/** runs.sqlite cannot be used as it is (not a database, truncated, corrupted): the server refuses to start on it. */
export class DamagedStoreError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(
      `${file} is damaged (${problem}); the server did not start and changed nothing in it. ` +
        `Restore it from a backup (see \`precache-lens backup\`: stop the server, copy the backup over ${path.basename(file)} and remove any ${path.basename(file)}-wal and -shm beside it), ` +
        `or move it aside to start with an empty history.`,
    );
    this.name = 'DamagedStoreError';
  }
}

/** Opens runs.sqlite and reads it through (SQLite's quick_check) before anything writes to it. */
export function openCheckedDatabase(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (e) {
    throw new DamagedStoreError(file, (e as Error).message);
  }
  try {
    const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
    const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
    if (problems.length) throw new DamagedStoreError(file, `quick_check: ${problems.join('; ')}`);
  } catch (e) {
    db.close();
    if (e instanceof DamagedStoreError) throw e;
    throw new DamagedStoreError(file, (e as Error).message);
  }
  return db;
}

export class RunStore {
  readonly db: Database.Database;
  readonly file: string;
  /** Given up when a write finds the disk full, so that the failure can still be recorded (server/disk-space.ts). */
  readonly reserve: SpaceReserve;

  constructor(readonly dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'runs.sqlite');
    this.db = openCheckedDatabase(this.file);
    this.reserve = new SpaceReserve(dataDir);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    // After a checkpoint the log is cut back, so a full disk shows up as a failed write now, not at a later checkpoint.
    this.db.pragma('journal_size_limit = 0');
    this.migrate();
    // A run still marked queued/running belongs to a process that died: it will never finish.
    this.markUnfinished('interrupted: the server stopped before the run finished');
  }

  /** Marks every queued or running run failed with `reason` (at start, and at a clean shutdown). */
  markUnfinished(reason: string): number {
    return this.write('marking unfinished runs', 0, true, () =>
      this.db.prepare(`UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE status IN ('queued', 'running')`).run(reason, new Date().toISOString()).changes,
    );
  }

  /**
   * Runs a write; a lack of space becomes OutOfSpaceError naming the data directory and about `bytes`. A write that
   * records a failure (`vital`) gives up the space reserve and is tried once more, so that it lands even on a full disk.
   */
  private write<T>(what: string, size: number | (() => number), vital: boolean, fn: () => T): T {
    const bytes = () => (typeof size === 'number' ? size : size());
    const capped = (): T => {
      this.applyQuota();
      return fn();
    };
    try {
      return capped();
    } catch (e) {
      if (!isOutOfSpace(e)) throw e;
      if (vital && this.reserve.release()) {
        try {
          return capped();
        } catch (e2) {
          throw asOutOfSpace(e2, this.dataDir, what, bytes());
        }
      }
      throw asOutOfSpace(e, this.dataDir, what, bytes());
    }
  }

  /** The tests' full-disk seam (PRECACHE_LENS_FAULT_DISK_QUOTA, server/disk-space.ts): SQLite may grow only into the free quota. */
  private applyQuota() {
    const q = quotaFor(this.dataDir);
    if (!q) return;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = diskUsage(this.dataDir)!.freeBytes;
    // The log (-wal) takes as much again as the pages a write adds: half the free space for new pages.
    this.db.pragma(`max_page_count = ${Math.max(pages, pages + Math.floor(free / 2 / pageSize))}`);
  }

  /** Throws OutOfSpaceError unless about `bytes` more fit in the data directory (checked before accepting work). */
  ensureRoom(bytes: number, what: string): void {
    ensureFreeSpace(this.dataDir, bytes, what);
  }

  /** Takes an online copy of runs.sqlite (SQLite's backup API) to `file`; the server keeps reading and writing meanwhile. */
  backup(file: string): Promise<Database.BackupMetadata> {
    return this.db.backup(file);
  }

  private migrate() {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(`runs.sqlite has schema version ${current}, newer than this program's ${SCHEMA_VERSION}; upgrade Precache Lens`);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  create(r: { modelId: string; prompt: string; input: string; options: Record<string, unknown>; label?: string | null; parentId?: string | null }): RunRow {
    const id = crypto.randomUUID();
    const createdAt = new Date().toISOString();
    const options = JSON.stringify(r.options);
    const bytes = 2 * (r.prompt.length + r.input.length + options.length + (r.label?.length ?? 0)) + 4096;
    this.write('a new run', bytes, false, () =>
      this.db
        .prepare(
          `INSERT INTO runs (id, created_at, status, label, parent_id, model_id, prompt, input, options) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, createdAt, r.label ?? null, r.parentId ?? null, r.modelId, r.prompt, r.input, options),
    );
    return this.get(id)!;
  }

  setStatus(id: string, status: RunStatus, error: string | null = null) {
    const finished = status === 'done' || status === 'failed' || status === 'cancelled' ? new Date().toISOString() : null;
    // A run's end (failed for lack of space, say) must be recorded even on a full disk: that write may use the reserve.
    this.write(`the status of run ${id}`, 4096 + (error?.length ?? 0) * 2, finished !== null, () =>
      this.db.prepare(`UPDATE runs SET status = ?, error = ?, finished_at = COALESCE(?, finished_at) WHERE id = ?`).run(status, error, finished, id),
    );
  }

  /** Stores one finished stage of a running run (merged into the stages stored so far, atomically). */
  saveStage(id: string, stage: string, data: unknown) {
    let bytes = 0;
    this.write(`stage ${stage} of run ${id}`, () => bytes, false, () =>
      this.db.transaction(() => {
        const row = this.db.prepare(`SELECT stages FROM runs WHERE id = ?`).get(id) as { stages: string | null } | undefined;
        if (!row) return;
        const stages = row.stages ? (JSON.parse(row.stages) as Record<string, unknown>) : {};
        stages[stage] = data;
        const json = JSON.stringify(stages);
        bytes = json.length * 2;
        this.db.prepare(`UPDATE runs SET stages = ? WHERE id = ?`).run(json, id);
      })(),
    );
  }

  /** Stores a finished run's result and variants in one transaction: all or nothing. */
  finish(id: string, r: { modelHash: string; result: unknown; meanBenefit: number | null; precomputationShare: number | null; variants: VariantRow[] }) {
    const ins = this.db.prepare(
      `INSERT INTO variants (run_id, idx, kind, label, blocked_layers, blocked_span, mean_loss) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const result = JSON.stringify(r.result);
    this.write(`the result of run ${id}`, result.length * 2 + r.variants.length * 256, false, () =>
      this.db.transaction(() => {
        this.db.prepare(`DELETE FROM variants WHERE run_id = ?`).run(id);
        for (const v of r.variants) {
          ins.run(id, v.idx, v.kind, v.label, JSON.stringify(v.blockedLayers), v.blockedSpan ? JSON.stringify(v.blockedSpan) : null, v.meanLoss);
        }
        this.db
          .prepare(
            `UPDATE runs SET status = 'done', error = NULL, finished_at = ?, model_hash = ?, result = ?, stages = NULL, mean_benefit = ?, precomputation_share = ? WHERE id = ?`,
          )
          .run(new Date().toISOString(), r.modelHash, result, r.meanBenefit, r.precomputationShare, id);
      })(),
    );
  }

  get(id: string): RunRow | null {
    const r = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as DbRun | undefined;
    return r ? toRow(r) : null;
  }

  getFull(id: string): StoredRun | null {
    const r = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as DbRun | undefined;
    if (!r) return null;
    const vs = this.db.prepare(`SELECT * FROM variants WHERE run_id = ? ORDER BY idx`).all(id) as {
      idx: number;
      kind: string;
      label: string;
      blocked_layers: string;
      blocked_span: string | null;
      mean_loss: number;
    }[];
    return {
      ...toRow(r),
      result: r.result ? (JSON.parse(r.result) as unknown) : null,
      stages: r.stages ? (JSON.parse(r.stages) as Record<string, unknown>) : {},
      variants: vs.map((v) => ({
        idx: v.idx,
        kind: v.kind,
        label: v.label,
        blockedLayers: JSON.parse(v.blocked_layers) as number[],
        blockedSpan: v.blocked_span ? (JSON.parse(v.blocked_span) as [number, number]) : null,
        meanLoss: v.mean_loss,
      })),
    };
  }

  /** History, newest first; `q` matches label, prompt, input or model (case-insensitive substring). */
  list(opts: { q?: string; limit: number; offset: number }): { total: number; runs: RunRow[] } {
    const where = opts.q ? `WHERE label LIKE @q ESCAPE '\\' OR prompt LIKE @q ESCAPE '\\' OR input LIKE @q ESCAPE '\\' OR model_id LIKE @q ESCAPE '\\'` : '';
    const q = opts.q ? `%${opts.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
    const params = q ? { q } : {};
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM runs ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(
        `SELECT id, created_at, finished_at, status, label, parent_id, model_id, model_hash, prompt, input, options, error, mean_benefit, precomputation_share FROM runs ${where} ORDER BY created_at DESC, rowid DESC LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, limit: opts.limit, offset: opts.offset }) as DbRun[];
    return { total, runs: rows.map(toRow) };
  }

  delete(id: string): boolean {
    // Deleting frees space, but first it needs a little (SQLite logs the change): it may use the reserve.
    return this.write(`deleting run ${id}`, 4096, true, () => this.db.prepare(`DELETE FROM runs WHERE id = ?`).run(id).changes > 0);
  }

  close() {
    this.db.close();
  }
}
