// Searches in SQLite (in the run store's database file): their definition, one row per racing cell and per input's
// baseline, and the finalists once explained. The race itself is not stored: it is replayed from the cells.
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ExperimentInput } from '../../shared/experiments.js';
import type { SearchFinalist, SearchObjective, SearchOptions, SearchPhase, SearchStatus, SearchVariant } from '../../shared/search.js';

/** Each entry upgrades these tables by one version; never edit one that has shipped, append a new one. */
const MIGRATIONS: string[] = [
  `CREATE TABLE searches (
     id TEXT PRIMARY KEY,
     created_at TEXT NOT NULL,
     finished_at TEXT,
     status TEXT NOT NULL,
     phase TEXT NOT NULL,
     label TEXT,
     model TEXT NOT NULL,
     objective TEXT NOT NULL,
     budget TEXT NOT NULL,
     options TEXT NOT NULL,
     variants TEXT NOT NULL,
     inputs TEXT NOT NULL,
     race_inputs TEXT NOT NULL,
     held_out TEXT NOT NULL,
     frozen TEXT,
     finalists TEXT,
     experiment_id TEXT,
     error TEXT
   );
   CREATE INDEX searches_created ON searches(created_at DESC);
   CREATE TABLE search_cells (
     search_id TEXT NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
     variant_idx INTEGER NOT NULL,
     input_idx INTEGER NOT NULL,
     loss_with REAL NOT NULL,
     loss_shifted REAL,
     PRIMARY KEY (search_id, variant_idx, input_idx)
   );
   CREATE TABLE search_baselines (
     search_id TEXT NOT NULL REFERENCES searches(id) ON DELETE CASCADE,
     input_idx INTEGER NOT NULL,
     loss_natural REAL NOT NULL,
     PRIMARY KEY (search_id, input_idx)
   );`,
];

export const SEARCH_SCHEMA_VERSION = MIGRATIONS.length;

export interface SearchRow {
  id: string;
  createdAt: string;
  finishedAt: string | null;
  status: SearchStatus;
  phase: SearchPhase;
  label: string | null;
  model: string;
  objective: SearchObjective;
  budget: { cells?: number; seconds?: number };
  options: Required<SearchOptions>;
  variants: SearchVariant[];
  inputs: ExperimentInput[];
  raceInputs: number[];
  heldOut: number[];
  /** A race stopped from outside (seconds budget, cancel) after this many rounds. */
  frozen: { rounds: number; reason: 'budget-seconds' | 'cancelled' } | null;
  finalists: SearchFinalist[] | null;
  /** The experiment that explains the finalists (full analyses on held-out inputs). */
  experimentId: string | null;
  error: string | null;
}

/** A racing cell: the mean loss of the input with the variant's prompt (and, for that objective, without it at the prompt's positions). */
export interface RaceCellRow {
  variant: number;
  input: number;
  lossWith: number;
  lossShifted: number | null;
}

interface DbSearch {
  id: string;
  created_at: string;
  finished_at: string | null;
  status: SearchStatus;
  phase: SearchPhase;
  label: string | null;
  model: string;
  objective: SearchObjective;
  budget: string;
  options: string;
  variants: string;
  inputs: string;
  race_inputs: string;
  held_out: string;
  frozen: string | null;
  finalists: string | null;
  experiment_id: string | null;
  error: string | null;
}

const toRow = (r: DbSearch): SearchRow => ({
  id: r.id,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  status: r.status,
  phase: r.phase,
  label: r.label,
  model: r.model,
  objective: r.objective,
  budget: JSON.parse(r.budget) as SearchRow['budget'],
  options: JSON.parse(r.options) as SearchRow['options'],
  variants: JSON.parse(r.variants) as SearchVariant[],
  inputs: JSON.parse(r.inputs) as ExperimentInput[],
  raceInputs: JSON.parse(r.race_inputs) as number[],
  heldOut: JSON.parse(r.held_out) as number[],
  frozen: r.frozen ? (JSON.parse(r.frozen) as SearchRow['frozen']) : null,
  finalists: r.finalists ? (JSON.parse(r.finalists) as SearchFinalist[]) : null,
  experimentId: r.experiment_id,
  error: r.error,
});

export class SearchStore {
  constructor(private readonly db: Database.Database) {
    this.migrate();
  }

  private migrate() {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_components (name TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
    const row = this.db.prepare(`SELECT version FROM schema_components WHERE name = 'searches'`).get() as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > SEARCH_SCHEMA_VERSION) throw new Error(`runs.sqlite has search tables of version ${current}, newer than this program's ${SEARCH_SCHEMA_VERSION}; upgrade Precache Lens`);
    for (let v = current; v < SEARCH_SCHEMA_VERSION; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.prepare(`INSERT INTO schema_components (name, version) VALUES ('searches', ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version`).run(v + 1);
      })();
    }
  }

  create(s: Omit<SearchRow, 'id' | 'createdAt' | 'finishedAt' | 'status' | 'phase' | 'frozen' | 'finalists' | 'experimentId' | 'error'>): SearchRow {
    const id = crypto.randomUUID();
    this.db
      .prepare(
        `INSERT INTO searches (id, created_at, status, phase, label, model, objective, budget, options, variants, inputs, race_inputs, held_out)
         VALUES (?, ?, 'running', 'race', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, new Date().toISOString(), s.label, s.model, s.objective, JSON.stringify(s.budget), JSON.stringify(s.options), JSON.stringify(s.variants), JSON.stringify(s.inputs), JSON.stringify(s.raceInputs), JSON.stringify(s.heldOut));
    return this.get(id)!;
  }

  get(id: string): SearchRow | null {
    const r = this.db.prepare(`SELECT * FROM searches WHERE id = ?`).get(id) as DbSearch | undefined;
    return r ? toRow(r) : null;
  }

  /** Newest first. */
  list(opts: { limit: number; offset: number }): { total: number; searches: SearchRow[] } {
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM searches`).get() as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM searches ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`).all(opts.limit, opts.offset) as DbSearch[];
    return { total, searches: rows.map(toRow) };
  }

  running(): string[] {
    return (this.db.prepare(`SELECT id FROM searches WHERE status = 'running' ORDER BY created_at`).all() as { id: string }[]).map((r) => r.id);
  }

  setStatus(id: string, status: SearchStatus, error: string | null = null) {
    const finished = status === 'running' ? null : new Date().toISOString();
    this.db.prepare(`UPDATE searches SET status = ?, error = ?, finished_at = ? WHERE id = ?`).run(status, error, finished, id);
  }

  setPhase(id: string, phase: SearchPhase) {
    this.db.prepare(`UPDATE searches SET phase = ? WHERE id = ?`).run(phase, id);
  }

  freeze(id: string, frozen: NonNullable<SearchRow['frozen']>) {
    this.db.prepare(`UPDATE searches SET frozen = ? WHERE id = ? AND frozen IS NULL`).run(JSON.stringify(frozen), id);
  }

  setExperiment(id: string, experimentId: string) {
    this.db.prepare(`UPDATE searches SET experiment_id = ? WHERE id = ?`).run(experimentId, id);
  }

  setFinalists(id: string, finalists: SearchFinalist[]) {
    this.db.prepare(`UPDATE searches SET finalists = ? WHERE id = ?`).run(JSON.stringify(finalists), id);
  }

  /** Stores cells and baselines of one job in one transaction (a crash keeps all of them or none). */
  addCells(id: string, cells: RaceCellRow[], baselines: { input: number; lossNatural: number }[]) {
    const c = this.db.prepare(`INSERT OR IGNORE INTO search_cells (search_id, variant_idx, input_idx, loss_with, loss_shifted) VALUES (?, ?, ?, ?, ?)`);
    const b = this.db.prepare(`INSERT OR IGNORE INTO search_baselines (search_id, input_idx, loss_natural) VALUES (?, ?, ?)`);
    this.db.transaction(() => {
      for (const x of baselines) b.run(id, x.input, x.lossNatural);
      for (const x of cells) c.run(id, x.variant, x.input, x.lossWith, x.lossShifted);
    })();
  }

  cells(id: string): RaceCellRow[] {
    return (this.db.prepare(`SELECT variant_idx AS variant, input_idx AS input, loss_with AS lossWith, loss_shifted AS lossShifted FROM search_cells WHERE search_id = ?`).all(id) as RaceCellRow[]);
  }

  baselines(id: string): Map<number, number> {
    const rows = this.db.prepare(`SELECT input_idx AS input, loss_natural AS loss FROM search_baselines WHERE search_id = ?`).all(id) as { input: number; loss: number }[];
    return new Map(rows.map((r) => [r.input, r.loss]));
  }

  delete(id: string): boolean {
    return this.db.prepare(`DELETE FROM searches WHERE id = ?`).run(id).changes > 0;
  }
}
