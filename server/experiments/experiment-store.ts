// Experiments in SQLite: their definition and one row per cell (prompt x input x model), in the run store's database file.
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CellStatus, ExperimentInput, ExperimentOptions, ExperimentStatus } from '../../shared/experiments.js';
import type { CellMetrics } from './cell-metrics.js';

/**
 * Each entry upgrades these tables by one version; never edit one that has shipped, append a new one. The version is
 * kept in its own row (the run store owns the database's user_version).
 */
const MIGRATIONS: string[] = [
  `CREATE TABLE experiments (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     status TEXT NOT NULL,
     label TEXT,
     models TEXT NOT NULL,
     options TEXT NOT NULL,
     prompts TEXT NOT NULL,
     inputs TEXT NOT NULL,
     error TEXT
   );
   CREATE INDEX experiments_created ON experiments(created_at DESC);
   CREATE TABLE experiment_cells (
     experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
     prompt_idx INTEGER NOT NULL,
     input_idx INTEGER NOT NULL,
     model_idx INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     status TEXT NOT NULL,
     run_id TEXT,
     error TEXT,
     metrics TEXT,
     PRIMARY KEY (experiment_id, prompt_idx, input_idx, model_idx)
   );
   CREATE INDEX experiment_cells_seq ON experiment_cells(experiment_id, status, seq);`,
];

export const EXPERIMENT_SCHEMA_VERSION = MIGRATIONS.length;

export interface ExperimentRow {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  status: ExperimentStatus;
  label: string | null;
  models: string[];
  options: ExperimentOptions;
  prompts: { label: string | null; text: string }[];
  inputs: ExperimentInput[];
  error: string | null;
}

export interface CellRow {
  prompt: number;
  input: number;
  model: number;
  seq: number;
  status: CellStatus;
  runId: string | null;
  error: string | null;
  metrics: CellMetrics | null;
}

interface DbExperiment {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: ExperimentStatus;
  label: string | null;
  models: string;
  options: string;
  prompts: string;
  inputs: string;
  error: string | null;
}

interface DbCell {
  prompt_idx: number;
  input_idx: number;
  model_idx: number;
  seq: number;
  status: CellStatus;
  run_id: string | null;
  error: string | null;
  metrics: string | null;
}

/** An experiment's columns other than its prompts and inputs (what the history lists). */
const toHead = (r: Omit<DbExperiment, 'prompts' | 'inputs'>): Omit<ExperimentRow, 'prompts' | 'inputs'> => ({
  id: r.id,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  status: r.status,
  label: r.label,
  models: JSON.parse(r.models) as string[],
  options: JSON.parse(r.options) as ExperimentOptions,
  error: r.error,
});

const toRow = (r: DbExperiment): ExperimentRow => ({
  ...toHead(r),
  prompts: JSON.parse(r.prompts) as ExperimentRow['prompts'],
  inputs: JSON.parse(r.inputs) as ExperimentInput[],
});

const toCell = (c: DbCell): CellRow => ({
  prompt: c.prompt_idx,
  input: c.input_idx,
  model: c.model_idx,
  seq: c.seq,
  status: c.status,
  runId: c.run_id,
  error: c.error,
  metrics: c.metrics ? (JSON.parse(c.metrics) as CellMetrics) : null,
});

export class ExperimentStore {
  constructor(private readonly db: Database.Database) {
    this.migrate();
  }

  private migrate() {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_components (name TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
    const row = this.db.prepare(`SELECT version FROM schema_components WHERE name = 'experiments'`).get() as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > EXPERIMENT_SCHEMA_VERSION) {
      throw new Error(`runs.sqlite has experiment tables of version ${current}, newer than this program's ${EXPERIMENT_SCHEMA_VERSION}; upgrade Precache Lens`);
    }
    for (let v = current; v < EXPERIMENT_SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.prepare(`INSERT INTO schema_components (name, version) VALUES ('experiments', ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version`).run(v + 1);
      })();
    }
  }

  /**
   * Creates an experiment and all its cells, pending, in one transaction. Cells are ordered input-major (every prompt
   * and model of input 0, then input 1, ...) so that work shared per input stays warm.
   */
  create(e: { label: string | null; models: string[]; options: ExperimentOptions; prompts: ExperimentRow['prompts']; inputs: ExperimentInput[] }): ExperimentRow {
    const id = crypto.randomUUID();
    const ins = this.db.prepare(`INSERT INTO experiment_cells (experiment_id, prompt_idx, input_idx, model_idx, seq, status) VALUES (?, ?, ?, ?, ?, 'pending')`);
    this.db.transaction(() => {
      this.db
        .prepare(`INSERT INTO experiments (id, created_at, status, label, models, options, prompts, inputs) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)`)
        .run(id, new Date().toISOString(), e.label, JSON.stringify(e.models), JSON.stringify(e.options), JSON.stringify(e.prompts), JSON.stringify(e.inputs));
      let seq = 0;
      for (let i = 0; i < e.inputs.length; i++) for (let p = 0; p < e.prompts.length; p++) for (let m = 0; m < e.models.length; m++) ins.run(id, p, i, m, seq++);
    })();
    return this.get(id)!;
  }

  get(id: string): ExperimentRow | null {
    const r = this.db.prepare(`SELECT * FROM experiments WHERE id = ?`).get(id) as DbExperiment | undefined;
    return r ? toRow(r) : null;
  }

  /** Newest first; without prompts' and inputs' texts. */
  list(opts: { limit: number; offset: number }): { total: number; experiments: (Omit<ExperimentRow, 'prompts' | 'inputs'> & { nPrompts: number; nInputs: number })[] } {
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM experiments`).get() as { n: number }).n;
    const rows = this.db
      .prepare(
        `SELECT id, created_at, finished_at, status, label, models, options, error, json_array_length(prompts) AS np, json_array_length(inputs) AS ni
         FROM experiments ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`,
      )
      .all(opts.limit, opts.offset) as (Omit<DbExperiment, 'prompts' | 'inputs'> & { np: number; ni: number })[];
    return {
      total,
      experiments: rows.map((r) => ({ ...toHead(r), nPrompts: r.np, nInputs: r.ni })),
    };
  }

  /** Ids of experiments still running (to resume after a restart). */
  running(): string[] {
    return (this.db.prepare(`SELECT id FROM experiments WHERE status = 'running' ORDER BY created_at`).all() as { id: string }[]).map((r) => r.id);
  }

  setStatus(id: string, status: ExperimentStatus, error: string | null = null) {
    const finished = status === 'running' ? null : new Date().toISOString();
    this.db.prepare(`UPDATE experiments SET status = ?, error = ?, finished_at = ? WHERE id = ?`).run(status, error, finished, id);
  }

  cells(id: string): CellRow[] {
    return (this.db.prepare(`SELECT prompt_idx, input_idx, model_idx, seq, status, run_id, error, metrics FROM experiment_cells WHERE experiment_id = ? ORDER BY seq`).all(id) as DbCell[]).map(toCell);
  }

  /** Cells in one status, in order (`limit` bounds the read). */
  cellsWithStatus(id: string, statuses: CellStatus[], limit = 1_000_000): CellRow[] {
    const q = `SELECT prompt_idx, input_idx, model_idx, seq, status, run_id, error, metrics FROM experiment_cells WHERE experiment_id = ? AND status IN (${statuses.map(() => '?').join(', ')}) ORDER BY seq LIMIT ?`;
    return (this.db.prepare(q).all(id, ...statuses, limit) as DbCell[]).map(toCell);
  }

  cell(id: string, seq: number): CellRow | null {
    const c = this.db.prepare(`SELECT prompt_idx, input_idx, model_idx, seq, status, run_id, error, metrics FROM experiment_cells WHERE experiment_id = ? AND seq = ?`).get(id, seq) as DbCell | undefined;
    return c ? toCell(c) : null;
  }

  counts(id: string): Record<CellStatus, number> {
    const out: Record<CellStatus, number> = { pending: 0, queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const r of this.db.prepare(`SELECT status, COUNT(*) AS n FROM experiment_cells WHERE experiment_id = ? GROUP BY status`).all(id) as { status: CellStatus; n: number }[]) out[r.status] = r.n;
    return out;
  }

  updateCell(id: string, seq: number, c: { status: CellStatus; runId?: string | null; error?: string | null; metrics?: CellMetrics | null }) {
    this.db
      .prepare(
        `UPDATE experiment_cells SET status = @status,
           run_id = CASE WHEN @setRun THEN @runId ELSE run_id END,
           error = @error,
           metrics = CASE WHEN @setMetrics THEN @metrics ELSE metrics END
         WHERE experiment_id = @id AND seq = @seq`,
      )
      .run({
        id,
        seq,
        status: c.status,
        setRun: c.runId !== undefined ? 1 : 0,
        runId: c.runId ?? null,
        error: c.error ?? null,
        setMetrics: c.metrics !== undefined ? 1 : 0,
        metrics: c.metrics ? JSON.stringify(c.metrics) : null,
      });
  }

  /** Marks every cell that has not finished as cancelled; returns their run ids that may still be live. */
  cancelOpenCells(id: string): string[] {
    const live = this.cellsWithStatus(id, ['queued', 'running']).map((c) => c.runId).filter((r): r is string => r !== null);
    this.db.prepare(`UPDATE experiment_cells SET status = 'cancelled', error = 'cancelled by the user' WHERE experiment_id = ? AND status IN ('pending', 'queued', 'running')`).run(id);
    return live;
  }

  runIds(id: string): string[] {
    return (this.db.prepare(`SELECT run_id FROM experiment_cells WHERE experiment_id = ? AND run_id IS NOT NULL`).all(id) as { run_id: string }[]).map((r) => r.run_id);
  }

  delete(id: string): boolean {
    return this.db.prepare(`DELETE FROM experiments WHERE id = ?`).run(id).changes > 0;
  }
}
