// Run history in SQLite (better-sqlite3, WAL): runs, their variants and results, with schema migrations.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import type { RunStatus, RunSummary } from '../../shared/api.js';

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

export class RunStore {
  readonly db: Database.Database;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, 'runs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.migrate();
    // A run still marked queued/running belongs to a process that died: it will never finish.
    this.db
      .prepare(`UPDATE runs SET status = 'failed', error = 'interrupted: the server stopped before the run finished', finished_at = ? WHERE status IN ('queued', 'running')`)
      .run(new Date().toISOString());
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
    this.db
      .prepare(
        `INSERT INTO runs (id, created_at, status, label, parent_id, model_id, prompt, input, options) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, createdAt, r.label ?? null, r.parentId ?? null, r.modelId, r.prompt, r.input, JSON.stringify(r.options));
    return this.get(id)!;
  }

  setStatus(id: string, status: RunStatus, error: string | null = null) {
    const finished = status === 'done' || status === 'failed' || status === 'cancelled' ? new Date().toISOString() : null;
    this.db.prepare(`UPDATE runs SET status = ?, error = ?, finished_at = COALESCE(?, finished_at) WHERE id = ?`).run(status, error, finished, id);
  }

  /** Stores one finished stage of a running run (merged into the stages stored so far, atomically). */
  saveStage(id: string, stage: string, data: unknown) {
    this.db.transaction(() => {
      const row = this.db.prepare(`SELECT stages FROM runs WHERE id = ?`).get(id) as { stages: string | null } | undefined;
      if (!row) return;
      const stages = row.stages ? (JSON.parse(row.stages) as Record<string, unknown>) : {};
      stages[stage] = data;
      this.db.prepare(`UPDATE runs SET stages = ? WHERE id = ?`).run(JSON.stringify(stages), id);
    })();
  }

  /** Stores a finished run's result and variants in one transaction: all or nothing. */
  finish(id: string, r: { modelHash: string; result: unknown; meanBenefit: number | null; precomputationShare: number | null; variants: VariantRow[] }) {
    const ins = this.db.prepare(
      `INSERT INTO variants (run_id, idx, kind, label, blocked_layers, blocked_span, mean_loss) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM variants WHERE run_id = ?`).run(id);
      for (const v of r.variants) {
        ins.run(id, v.idx, v.kind, v.label, JSON.stringify(v.blockedLayers), v.blockedSpan ? JSON.stringify(v.blockedSpan) : null, v.meanLoss);
      }
      this.db
        .prepare(
          `UPDATE runs SET status = 'done', error = NULL, finished_at = ?, model_hash = ?, result = ?, stages = NULL, mean_benefit = ?, precomputation_share = ? WHERE id = ?`,
        )
        .run(new Date().toISOString(), r.modelHash, JSON.stringify(r.result), r.meanBenefit, r.precomputationShare, id);
    })();
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
    return this.db.prepare(`DELETE FROM runs WHERE id = ?`).run(id).changes > 0;
  }

  close() {
    this.db.close();
  }
}
