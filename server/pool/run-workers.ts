// Which worker computed each pool run, kept next to the runs in SQLite: also the exactly-once record of completions.
import type Database from 'better-sqlite3';

export class RunWorkers {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS pool_runs (
      run_id TEXT PRIMARY KEY,
      worker TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      finished_at TEXT NOT NULL
    )`);
  }

  /** Records a completion; false when this run's completion was recorded before (a duplicate is not stored). */
  record(runId: string, worker: string, attempts: number): boolean {
    const r = this.db.prepare(`INSERT OR IGNORE INTO pool_runs (run_id, worker, attempts, finished_at) VALUES (?, ?, ?, ?)`).run(runId, worker, attempts, new Date().toISOString());
    return r.changes === 1;
  }

  get(runId: string): { worker: string; attempts: number; finishedAt: string } | null {
    const r = this.db.prepare(`SELECT worker, attempts, finished_at FROM pool_runs WHERE run_id = ?`).get(runId) as { worker: string; attempts: number; finished_at: string } | undefined;
    return r ? { worker: r.worker, attempts: r.attempts, finishedAt: r.finished_at } : null;
  }

  /** Runs finished by the pool since `sinceIso`, per worker. */
  since(sinceIso: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM pool_runs WHERE finished_at >= ?`).get(sinceIso) as { n: number }).n;
  }
}
