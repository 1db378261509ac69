// History as the sidebar lists it: runs that are not experiment cells, and one entry per experiment for its cells,
// newest first; a search matches runs by label, prompt, input or model, and an experiment by its label, its prompts
// or any of its cells.
import type { HistoryEntry, HistoryPage } from '../../shared/api.js';
import type { RunStore } from '../store/run-store.js';
import type { ExperimentManager } from './experiment-manager.js';

const RUN_MATCH = `(r.label LIKE @q ESCAPE '\\' OR r.prompt LIKE @q ESCAPE '\\' OR r.input LIKE @q ESCAPE '\\' OR r.model_id LIKE @q ESCAPE '\\')`;

export function historyPage(store: RunStore, x: ExperimentManager, opts: { q?: string; limit: number; offset: number }): HistoryPage {
  const q = opts.q ? `%${opts.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const runWhere = q ? `AND ${RUN_MATCH}` : '';
  const expWhere = q
    ? `WHERE e.label LIKE @q ESCAPE '\\' OR e.prompts LIKE @q ESCAPE '\\' OR EXISTS (SELECT 1 FROM experiment_cells c JOIN runs r ON r.id = c.run_id WHERE c.experiment_id = e.id AND ${RUN_MATCH})`
    : '';
  const union = `
    SELECT 'run' AS kind, r.id AS id, r.created_at AS created_at FROM runs r
      WHERE r.id NOT IN (SELECT run_id FROM experiment_cells WHERE run_id IS NOT NULL) ${runWhere}
    UNION ALL
    SELECT 'experiment' AS kind, e.id AS id, e.created_at AS created_at FROM experiments e ${expWhere}`;
  const params = q ? { q } : {};
  const db = store.db;
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM (${union})`).get(params) as { n: number }).n;
  const rows = db.prepare(`SELECT kind, id FROM (${union}) ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`).all({ ...params, limit: opts.limit, offset: opts.offset }) as {
    kind: 'run' | 'experiment';
    id: string;
  }[];
  const entries: HistoryEntry[] = [];
  for (const row of rows) {
    if (row.kind === 'run') {
      const run = store.get(row.id);
      if (run) entries.push({ kind: 'run', run });
      continue;
    }
    const e = x.experiments.get(row.id);
    if (!e) continue;
    const cells = (db.prepare(`SELECT COUNT(*) AS n FROM experiment_cells WHERE experiment_id = ? AND run_id IS NOT NULL`).get(e.id) as { n: number }).n;
    const matchingCells = q
      ? (db.prepare(`SELECT COUNT(*) AS n FROM experiment_cells c JOIN runs r ON r.id = c.run_id WHERE c.experiment_id = @id AND ${RUN_MATCH}`).get({ id: e.id, q }) as { n: number }).n
      : null;
    entries.push({
      kind: 'experiment',
      experiment: {
        id: e.id,
        label: e.label,
        status: e.status,
        createdAt: e.createdAt,
        finishedAt: e.finishedAt,
        error: e.error,
        models: e.models,
        prompts: e.prompts.length,
        inputs: e.inputs.length,
        progress: x.progress(e.id),
      },
      firstPrompt: e.prompts[0]?.text ?? '',
      cells,
      matchingCells,
    });
  }
  return { total, entries };
}
