// CLI `search`: race prompt variants (a list, a template, or ablations) over inputs on a model, then measure and
// explain the finalists on held-out inputs; runs in-process on the same core as POST /api/searches, and resumes
// (without recomputing finished cells) when the same command runs again.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { describeZodError } from '../shared/api.js';
import { InputError } from '../shared/errors.js';
import { CreateSearchSchema, searchOptionsWithDefaults, type CreateSearchRequest, type SearchDetail } from '../shared/search.js';
import { searchVariants } from '../shared/search-variants.js';
import type { Interval } from '../shared/stats/bootstrap.js';
import { lockDataDir } from './data-lock.js';
import { ExperimentManager, resolveExperimentInputs } from './experiments/experiment-manager.js';
import { readTextsFile } from './experiments/input-files.js';
import { DEFAULT_DATA_DIR } from './main.js';
import { DEFAULT_MODEL_DIR, ModelRegistry } from './model/registry.js';
import { writeFileAtomic } from './report/batch.js';
import { RunManager } from './runs/run-manager.js';
import { SearchManager } from './search/search-manager.js';
import { renderSearchHtml, SEARCH_CSV_TABLES, searchCsv, searchReport } from './search/search-report.js';
import type { SearchRow } from './search/search-store.js';
import { RunStore } from './store/run-store.js';
import { EngineClient } from './worker/engine-client.js';
import { followUntilEnded } from './cli-follow.js';

const int = (name: string, min = 0) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};
const share = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`${name} must be a number between 0 and 1`);
  return n;
};

export interface SearchCliOptions {
  template?: string;
  prompts?: string;
  ablate?: string;
  reorder?: number;
  inputs?: string;
  inputSet?: string;
  count?: number;
  seed?: number;
  field: string;
  budgetCells?: number;
  budgetSeconds?: number;
  objective?: 'benefit' | 'benefitAtPromptPositions';
  heldOut?: number;
  firstBatch?: number;
  /** commander's --no-halving sets it false. */
  halving?: boolean;
  finalists?: number;
  explainInputs?: number;
  model: string;
  out: string;
  data?: string;
  label?: string;
  threads?: number;
  maxBatchMb?: number;
  quiet?: boolean;
}

/** Flags as the user typed them, for messages about a request field. */
const FLAG_OF: Record<string, string> = {
  'variants.template': '--template',
  'variants.prompts': '--prompts',
  'variants.ablate': '--ablate',
  'variants.reorder': '--reorder',
  'inputs.texts': '--inputs',
  inputs: '--inputs / --input-set',
  'inputs.set': '--input-set',
  'inputs.count': '--count',
  'inputs.seed': '--seed',
  'budget.cells': '--budget-cells',
  'budget.seconds': '--budget-seconds',
  'options.heldOut': '--held-out',
  'options.firstBatch': '--first-batch',
  'options.finalists': '--finalists',
  'options.explainInputs': '--explain-inputs',
  model: '--model',
};
const flagOf = (field: string | undefined) => (field ? (FLAG_OF[field] ?? FLAG_OF[field.replace(/\.\d+(\..*)?$/, '')] ?? field) : '');

function readWhole(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n').replace(/\n$/, '');
  } catch {
    throw new InputError(`cannot read ${file}`, flag);
  }
}

export function buildSearchRequest(o: SearchCliOptions, modelId: string): CreateSearchRequest {
  const kinds = [o.template, o.prompts, o.ablate].filter((x) => x !== undefined).length;
  if (kinds !== 1) throw new Error('give one of --template FILE, --prompts FILE or --ablate FILE');
  if (!!o.inputs === !!o.inputSet) throw new Error('give --inputs FILE or --input-set ID (one of them)');
  if (o.count !== undefined && !o.inputSet) throw new Error('--count is for --input-set');
  if (o.reorder !== undefined && !o.ablate) throw new Error('--reorder is for --ablate');
  const variants = o.template
    ? { template: readWhole(o.template, '--template') }
    : o.prompts
      ? { prompts: readTextsFile(o.prompts, '--prompts') }
      : { ablate: readWhole(o.ablate!, '--ablate'), ...(o.reorder !== undefined ? { reorder: o.reorder } : {}) };
  const budget = { ...(o.budgetCells !== undefined ? { cells: o.budgetCells } : {}), ...(o.budgetSeconds !== undefined ? { seconds: o.budgetSeconds } : {}) };
  const options = {
    ...(o.heldOut !== undefined ? { heldOut: o.heldOut } : {}),
    ...(o.firstBatch !== undefined ? { firstBatch: o.firstBatch } : {}),
    ...(o.halving === false ? { halving: false } : {}),
    ...(o.finalists !== undefined ? { finalists: o.finalists } : {}),
    ...(o.explainInputs !== undefined ? { explainInputs: o.explainInputs } : {}),
  };
  const req = {
    model: modelId,
    label: o.label ?? path.basename(path.resolve(o.out)),
    variants,
    inputs: o.inputs ? { texts: readTextsFile(o.inputs, '--inputs', o.field) } : { set: o.inputSet!, ...(o.count !== undefined ? { count: o.count } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
    ...(Object.keys(budget).length ? { budget } : {}),
    ...(o.objective ? { objective: o.objective } : {}),
    options,
  };
  const r = CreateSearchSchema.safeParse(req);
  if (!r.success) {
    const { message, field } = describeZodError(r.error);
    throw new Error(`${flagOf(field)}: ${message.replace(/^[\w.]+: /, '')}`);
  }
  return r.data;
}

/** The same search, unfinished or done, from an earlier run of this command with the same data directory. */
function findSame(m: SearchManager, fresh: Omit<SearchRow, 'id' | 'createdAt' | 'finishedAt' | 'status' | 'phase' | 'frozen' | 'finalists' | 'experimentId' | 'error' | 'raceInputs' | 'heldOut' | 'label'>): SearchRow | null {
  const key = (s: typeof fresh) => JSON.stringify([s.model, s.objective, s.budget, s.options, s.variants.map((v) => v.text), s.inputs.map((x) => x.text)]);
  const want = key(fresh);
  for (const s of m.searches.list({ limit: 200, offset: 0 }).searches) {
    if ((s.status === 'running' || s.status === 'done') && key(s) === want) return s;
  }
  return null;
}

const fmt = (x: Interval | null, d = 4) => (x ? `${x.mean.toFixed(d)} [${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]` : 'n/a');

export function printSearchSummary(d: SearchDetail, out: (s: string) => void = console.log) {
  out(`${d.variants.length} variants, ${d.rounds.length} rounds, race stopped: ${d.stopReason ?? 'n/a'}; ${d.cells} racing cells of a ${d.gridCells}-cell grid`);
  for (const r of d.rounds) out(`  round ${d.rounds.indexOf(r) + 1}: ${r.inputs} inputs, ${r.live.length} live, leader V${r.leader + 1}, dropped ${r.dropped.map((v) => `V${v + 1}`).join(' ') || '-'}`);
  out(`finalists (figures from ${d.heldOutInputs.length} held-out inputs the race never used), mean benefit nats/token [95% CI]:`);
  d.finalists.forEach((f, k) => {
    const v = d.variants[f.variant];
    out(`  ${k + 1}. V${f.variant + 1} ${v.label}: ${fmt(f.heldOut.meanBenefit)}${f.heldOut.vsWinner ? `  vs winner ${fmt(f.heldOut.vsWinner)}` : ''}  pi ${fmt(f.precomputationShare, 3)}`);
    out(`     ${JSON.stringify(v.text.slice(0, 100))}`);
  });
  if (d.lead) out(`held-out lead of the winner over the runner-up: ${fmt(d.lead)}`);
}

export function writeSearchReports(dir: string, d: SearchDetail, cells: Parameters<typeof searchCsv>[2]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const rep = searchReport(d);
  const files: [string, string][] = [
    ['search.json', `${JSON.stringify(rep, null, 1)}\n`],
    ['search.html', renderSearchHtml(rep)],
    ...SEARCH_CSV_TABLES.map((t): [string, string] => [`search-${t}.csv`, searchCsv(d, t, cells)]),
  ];
  return files.map(([name, data]) => {
    const file = path.join(dir, name);
    writeFileAtomic(file, data);
    return file;
  });
}

/** Runs (or resumes) a search; returns its detail and how many racing cells this invocation computed. */
export async function runSearchCommand(o: SearchCliOptions, log: (s: string) => void = console.log): Promise<{ detail: SearchDetail; computedHere: number }> {
  const registry = new ModelRegistry([o.model], false);
  const modelId = registry.defaultId()!;
  const req = buildSearchRequest(o, modelId);
  // The cells live in this data directory (default: inside --out), so running the command again resumes.
  const dataDir = path.resolve(o.data ?? path.join(o.out, 'data'));
  const lock = lockDataDir(dataDir);
  const store = new RunStore(dataDir);
  const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
  const runs = new RunManager(store, engine, undefined, o.maxBatchMb);
  const experiments = new ExperimentManager({ store, runs, registry, engine });
  // Constructing the manager takes up this directory's unfinished searches where their stored cells end.
  const manager = new SearchManager({ store, registry, engine, experiments });
  const bar = !o.quiet && process.stderr.isTTY ? new cliProgress.SingleBar({ format: ' search [{bar}] {value}/{total} cells | {phase} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  try {
    const options = searchOptionsWithDefaults(req.options);
    let row: SearchRow | null = null;
    try {
      row = findSame(manager, { model: modelId, objective: req.objective ?? 'benefit', budget: req.budget ?? {}, options, variants: searchVariants(req.variants, options.seed), inputs: resolveExperimentInputs(req.inputs) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
    }
    const before = row ? manager.searches.cells(row.id).length : 0;
    if (row) log(`${row.status === 'done' ? 'already computed' : 'resuming'}: search ${row.id} in ${dataDir} (${before} cells stored)`);
    else {
      try {
        row = await manager.create(req);
      } catch (e) {
        if (e instanceof InputError) throw new Error(`${flagOf(e.field)}: ${e.message.replace(/^[\w.]+: /, '')}`);
        throw e;
      }
    }
    const id = row.id;
    const start = manager.progress(id);
    bar?.start(start.maxCells, start.cells, { phase: row.phase });
    await followUntilEnded(manager, id, (e) => {
      if (e.type === 'progress') bar?.update(e.progress.cells);
      if (e.type === 'phase') bar?.update({ phase: e.phase });
    });
    bar?.stop();
    const d = manager.detail(id)!;
    const files = writeSearchReports(o.out, d, manager.searches.cells(id));
    if (!o.quiet) printSearchSummary(d, log);
    log(`${d.status}${d.error ? ` (${d.error})` : ''}; wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
    return { detail: d, computedHere: d.cells - before };
  } finally {
    bar?.stop();
    manager.close();
    experiments.close();
    await engine.close();
    store.close();
    lock.release();
  }
}

export function addSearchCommand(program: Command): void {
  program
    .command('search')
    .description('race prompt variants over inputs (paired intervals against the leader, doubling batches), then measure and explain the finalists on held-out inputs; rerun to resume')
    .option('--template <file>', 'a prompt whose spans carry alternatives: {{name|first||second}} (docs/search.md)')
    .option('--prompts <file>', 'prompts: blocks separated by lines holding only ---, or .jsonl / .csv')
    .option('--ablate <file>', 'a prompt: each marked span (or, without marks, each sentence) left out in turn')
    .option('--reorder <n>', 'with --ablate: also n seeded reorderings of its sentences', int('--reorder'))
    .option('--inputs <file>', 'input texts: blocks separated by ---, .jsonl or .csv')
    .option('--input-set <id>', 'a bundled input set (GET /api/input-sets lists them)')
    .option('--count <n>', 'passages drawn from the set (default: all)', int('--count', 1))
    .option('--seed <n>', 'seed of the draw from the set', int('--seed'))
    .option('--field <name>', 'the JSONL field or CSV column that holds the text', 'text')
    .option('--budget-cells <n>', 'racing cells the search may compute (the held-out round included)', int('--budget-cells', 1))
    .option('--budget-seconds <s>', 'seconds the race may take from the search\'s start', int('--budget-seconds', 1))
    .option('--objective <name>', 'benefit (against the no-prompt baseline at natural positions; default) or benefitAtPromptPositions')
    .option('--held-out <share>', 'share of the inputs held out for the finalists (default 0.25)', share('--held-out'))
    .option('--first-batch <n>', 'inputs in the first round (default 8); each round doubles them', int('--first-batch', 2))
    .option('--no-halving', 'race by interval drops only (no variant dropped without evidence; more cells)')
    .option('--finalists <n>', 'variants measured on held-out inputs and explained (default 3)', int('--finalists', 1))
    .option('--explain-inputs <n>', 'held-out inputs of the finalists\' full analyses (default 4)', int('--explain-inputs'))
    .option('-m, --model <dir>', 'model directory', DEFAULT_MODEL_DIR)
    .requiredOption('--out <dir>', 'output directory for search.json/.html/-*.csv (and, by default, its data)')
    .option('--data <dir>', 'data directory holding the cells (default: <out>/data)')
    .option('--label <text>', 'search label (default: the --out folder name)')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1))
    .option('--max-batch-mb <mb>', 'memory bound per engine call (MiB)', int('--max-batch-mb', 1))
    .option('-q, --quiet', 'no progress bar or summary')
    .action(async (o: SearchCliOptions) => {
      if (o.objective && o.objective !== 'benefit' && o.objective !== 'benefitAtPromptPositions') throw new InvalidArgumentError('--objective must be benefit or benefitAtPromptPositions');
      await runSearchCommand(o);
    });
}
