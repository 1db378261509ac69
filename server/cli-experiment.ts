// CLI `experiment`: prompts x inputs (a file or a bundled set) on a model (and its myopic twin), with statistics and
// reports; runs in-process on the same core as POST /api/experiments, resumable by running the same command again.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { describeZodError } from '../shared/api.js';
import { InputError } from '../shared/errors.js';
import { CreateExperimentSchema, type CreateExperimentRequest, type ExperimentDetail, type Interval } from '../shared/experiments.js';
import { lockDataDir } from './data-lock.js';
import { ExperimentManager } from './experiments/experiment-manager.js';
import type { ExperimentRow } from './experiments/experiment-store.js';
import { readTextsFile } from './experiments/input-files.js';
import { EXPERIMENT_CSV_TABLES, experimentCsv, experimentReport, renderExperimentHtml } from './experiments/report.js';
import { DEFAULT_DATA_DIR } from './main.js';
import { BUNDLED_IDS, DEFAULT_MODEL_DIR, ModelRegistry } from './model/registry.js';
import { writeFileAtomic } from './report/batch.js';
import { RunManager } from './runs/run-manager.js';
import { RunStore } from './store/run-store.js';
import { EngineClient } from './worker/engine-client.js';
import { experimentPiVerdict, pairReading, rankPrompts } from '../shared/experiment-reading.js';
import { followUntilEnded } from './cli-follow.js';

const int = (name: string, min = 0) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

interface ExperimentCliOptions {
  prompts: string;
  inputs?: string;
  inputSet?: string;
  count?: number;
  seed?: number;
  field: string;
  twin?: boolean;
  /** A second model directory to run every cell on too (instead of the myopic twin). */
  with?: string;
  model: string;
  out: string;
  data?: string;
  label?: string;
  resamples?: number;
  statSeed?: number;
  spanKnockouts: boolean;
  threads?: number;
  maxBatchMb?: number;
  quiet?: boolean;
}

/** Flags as the user typed them, for messages about a request field. */
const FLAG_OF: Record<string, string> = { prompts: '--prompts', 'inputs.texts': '--inputs', 'inputs.set': '--input-set', 'inputs.count': '--count', 'inputs.seed': '--seed', twin: '--twin', with: '--with', model: '--model', 'options.resamples': '--resamples', 'options.seed': '--stat-seed' };
const flagOf = (field: string | undefined) => (field ? (FLAG_OF[field] ?? FLAG_OF[field.replace(/\.\d+(\..*)?$/, '')] ?? field) : '');

function buildRequest(o: ExperimentCliOptions, modelId: string, withId?: string): CreateExperimentRequest {
  if (!!o.inputs === !!o.inputSet) throw new Error('give --inputs FILE or --input-set ID (one of them)');
  if (o.count !== undefined && !o.inputSet) throw new Error('--count is for --input-set');
  const prompts = readTextsFile(o.prompts, '--prompts').map((text) => ({ text }));
  const req = {
    model: modelId,
    twin: o.twin ?? false,
    ...(withId ? { with: withId } : {}),
    label: o.label ?? path.basename(path.resolve(o.out)),
    prompts,
    inputs: o.inputs ? { texts: readTextsFile(o.inputs, '--inputs', o.field) } : { set: o.inputSet!, ...(o.count !== undefined ? { count: o.count } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) },
    options: { ...(o.spanKnockouts ? {} : { spanKnockouts: false }), ...(o.resamples !== undefined ? { resamples: o.resamples } : {}), ...(o.statSeed !== undefined ? { seed: o.statSeed } : {}) },
  };
  const r = CreateExperimentSchema.safeParse(req);
  if (!r.success) {
    const { message, field } = describeZodError(r.error);
    throw new Error(`${flagOf(field)}: ${message.replace(/^[\w.]+: /, '')}`);
  }
  return r.data;
}

/** The same experiment, unfinished or done, from an earlier run of this command with the same data directory. */
function findSame(m: ExperimentManager, models: string[], req: CreateExperimentRequest, inputs: string[] | null): ExperimentRow | null {
  for (const e of m.experiments.list({ limit: 200, offset: 0 }).experiments) {
    if (e.status !== 'running' && e.status !== 'done') continue;
    const row = m.experiments.get(e.id)!;
    const sameInputs = inputs ? JSON.stringify(row.inputs.map((x) => x.text)) === JSON.stringify(inputs) : 'set' in req.inputs && row.inputs[0]?.source?.set === req.inputs.set && row.inputs.length === (req.inputs.count ?? row.inputs.length);
    if (
      sameInputs &&
      JSON.stringify(row.models) === JSON.stringify(models) &&
      JSON.stringify(row.prompts.map((p) => p.text)) === JSON.stringify(req.prompts.map((p) => p.text)) &&
      JSON.stringify(row.options) === JSON.stringify(req.options ?? {})
    ) {
      return row;
    }
  }
  return null;
}

const fmt = (x: Interval | null, d = 4) => (x ? `${x.mean.toFixed(d)} [${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]` : 'n/a');

export function printExperimentSummary(d: ExperimentDetail, out: (s: string) => void = console.log) {
  d.models.forEach((model, mi) => {
    out(`${model}: mean B over inputs, nats/token [95% CI]; pi = sum D(1) / sum D(0)`);
    for (const s of rankPrompts(d.summary.filter((x) => x.model === mi))) {
      out(`  P${s.prompt + 1}  n=${s.n}  B ${fmt(s.meanBenefit)}  pi ${fmt(s.precomputationShare, 3)}  ${JSON.stringify(d.prompts[s.prompt].text.slice(0, 40))}`);
      const v = experimentPiVerdict(s);
      if (!v.ok) out(`      pi is ${v.reason}`);
    }
    const pairs = d.pairs.filter((x) => x.model === mi);
    const tested = pairs.filter((x) => x.meanBenefitDiff).length;
    for (const p of pairs) {
      const x = p.meanBenefitDiff;
      out(`  P${p.a + 1} - P${p.b + 1}: ${fmt(x)}  p ${x ? x.p.toPrecision(3) : 'n/a'}  Holm ${x ? x.pHolm.toPrecision(3) : 'n/a'}`);
      out(`      ${pairReading(p, d.prompts[p.a].label ?? `P${p.a + 1}`, d.prompts[p.b].label ?? `P${p.b + 1}`, tested, d.statistics.level).sentence}`);
    }
  });
  for (const t of d.twins ?? []) out(`  myopia gap P${t.prompt + 1}: ${fmt(t.myopiaGap)} nats (with prompt), ${fmt(t.myopiaGapNoPrompt)} (without)`);
}

/** Writes experiment.json, experiment.html and experiment-{cells,prompts,pairs}.csv into `dir`; returns their paths. */
export function writeExperimentReports(dir: string, d: ExperimentDetail): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const rep = experimentReport(d);
  const files: [string, string][] = [
    ['experiment.json', `${JSON.stringify(rep, null, 1)}\n`],
    ['experiment.html', renderExperimentHtml(rep)],
    ...EXPERIMENT_CSV_TABLES.map((t): [string, string] => [`experiment-${t}.csv`, experimentCsv(d, t)]),
  ];
  return files.map(([name, data]) => {
    const file = path.join(dir, name);
    writeFileAtomic(file, data);
    return file;
  });
}

export async function runExperimentCommand(o: ExperimentCliOptions, log: (s: string) => void = console.log): Promise<ExperimentDetail> {
  const dirs = [o.model];
  const twinDir = `${path.resolve(o.model)}-myopic`;
  if (o.twin && fs.existsSync(twinDir)) dirs.push(twinDir);
  if (o.with) dirs.push(o.with);
  const registry = new ModelRegistry(dirs, false);
  const modelId = registry.defaultId()!;
  const withId = o.with ? registry.list().find((m) => path.resolve(m.md.dir) === path.resolve(o.with!))?.id : undefined;
  if (o.with && (!withId || withId === modelId)) throw new Error(`--with: ${o.with} is the same model as --model`);
  const req = buildRequest(o, modelId, withId);
  // The cells are runs in this data directory (default: inside --out), so running the command again resumes.
  const dataDir = path.resolve(o.data ?? path.join(o.out, 'data'));
  const lock = lockDataDir(dataDir);
  const store = new RunStore(dataDir);
  const engine = new EngineClient({ threads: o.threads, cacheDir: path.join(DEFAULT_DATA_DIR, 'graph-cache') });
  const runs = new RunManager(store, engine, undefined, o.maxBatchMb);
  const manager = new ExperimentManager({ store, runs, registry, engine });
  const bar = !o.quiet && process.stderr.isTTY ? new cliProgress.SingleBar({ format: ' experiment [{bar}] {value}/{total} cells | ETA {eta_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  try {
    const models = o.twin ? [modelId, registry.twinOf(modelId)?.id ?? ''] : withId ? [modelId, withId] : [modelId];
    let row = findSame(manager, models, req, 'texts' in req.inputs ? req.inputs.texts : null);
    if (row) log(`${row.status === 'done' ? 'already computed' : 'resuming'}: experiment ${row.id} in ${dataDir}`);
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
    bar?.start(start.total, start.done + start.failed);
    await followUntilEnded(manager, id, (e) => {
      if (e.type === 'progress') bar?.update(e.progress.done + e.progress.failed);
    });
    bar?.stop();
    const d = manager.detail(id)!;
    const files = writeExperimentReports(o.out, d);
    if (!o.quiet) printExperimentSummary(d, log);
    log(`${d.progress.done} of ${d.progress.total} cells done${d.error ? ` (${d.error})` : ''}; wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
    return d;
  } finally {
    bar?.stop();
    manager.close();
    await engine.close();
    store.close();
    lock.release();
  }
}

export function addExperimentCommand(program: Command): void {
  program
    .command('experiment')
    .description('every prompt x every input on a model (and its myopic twin), with 95% bootstrap CIs, paired tests and reports; rerun to resume')
    .requiredOption('--prompts <file>', 'prompts: blocks separated by lines holding only ---, or .jsonl / .csv (see --field)')
    .option('--inputs <file>', 'input texts: blocks separated by ---, .jsonl or .csv')
    .option('--input-set <id>', 'a bundled input set (GET /api/input-sets or docs/experiments.md lists them)')
    .option('--count <n>', 'passages drawn from the set (default: all)', int('--count', 1))
    .option('--seed <n>', 'seed of the draw from the set', int('--seed'))
    .option('--field <name>', 'the JSONL field or CSV column that holds the text', 'text')
    .option('--twin', "also run every cell on the model's myopic twin (<model>-myopic)")
    .option('--with <dir>', `or also run every cell on this model (same tokenizer), e.g. models/${BUNDLED_IDS.recurrent} next to a transformer`)
    .option('-m, --model <dir>', 'model directory', DEFAULT_MODEL_DIR)
    .requiredOption('--out <dir>', 'output directory for experiment.json/.html/-*.csv (and, by default, its run data)')
    .option('--data <dir>', 'data directory holding the cells as runs (default: <out>/data)')
    .option('--label <text>', 'experiment label (default: the --out folder name)')
    .option('--resamples <n>', 'bootstrap resamples per interval (default 2000)', int('--resamples', 100))
    .option('--stat-seed <n>', 'seed of the bootstrap and permutation resampling (default 1)', int('--stat-seed'))
    .option('--no-span-knockouts', 'skip span knockouts in every cell (faster; spans are not part of the statistics)')
    .option('--threads <n>', 'ONNX Runtime threads', int('--threads', 1))
    .option('--max-batch-mb <mb>', 'memory bound per engine call (MiB)', int('--max-batch-mb', 1))
    .option('-q, --quiet', 'no progress bar or summary')
    .action(async (o: ExperimentCliOptions) => {
      await runExperimentCommand(o);
    });
}
