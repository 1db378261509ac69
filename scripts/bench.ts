// Speed benchmark: plain forward vs hooked forward vs full analysis, as ratios measured in one process.
//
//   npm run bench [-- --json FILE] [--skip-small] [--long] [--threads 2] [--reps 5] [--analysis-reps 1] [--full-warmup]
//                 [--model DIR] [--experiment [--experiment-inputs 50]] [--search]
//
// --search: only the search bench (scripts/bench-search.ts): 16 template variants over 64 inputs raced as a prompt
// search, against one plain forward, one full analysis and the full grid, in this process; JSON under `search`.
//
// --experiment: only the experiment bench (scripts/bench-experiment.ts): 4 prompts x N inputs as one experiment
// against the same cells as separate analyses in this process.
//
// Models: (a) the default model (server/model/registry.ts DEFAULT_MODEL_DIR, or --model DIR); (b) a GPT-2-small-shaped random-weight
// export with a KV cache (12 layers, d 768, 12 heads, ctx 1024, vocab 50257, 124M params), generated on demand by
// scripts/make-random-gpt2.ts into .cache/bench-gpt2-small/ (git-ignored) and reused while its generator.json
// matches. --skip-small leaves (b) out.
// Input: [BOS] + P + X with P and X made of random single-token words (seeded), so that p and n are exact:
// p = n = 128 (T = 257); a model whose context is shorter gets p = ctx - 1 - n (the default model: p = 127, T = 256).
// Per model, in the same process: `--reps` plain forwards (m.run({ tokens: [seq] }), logits only) and `--reps`
// hooked forwards (attn.hook_pattern + attn.hook_value_norm of every layer, the hooks analyze() asks for),
// alternating, after one warm-up of each; then analyze() (server/analysis/analyze.ts, default options) after one
// warm-up analysis — by default a short one (16 + 16 tokens) that builds the same sessions and rewritten graphs;
// --full-warmup makes it a full-size analysis. Reported: medians, hooked/plain and analysis/plain ratios next to the
// targets for later work (not asserted), engine calls and variants of the analysis, and peak memory: RSS sampled
// every 50 ms by a worker thread (per phase and per model) and process.resourceUsage().maxRSS (whole process).
// The engine's rewritten graphs are cached in .cache/bench-graphs/ (small graphs plus one shared weights file per model, ~500 MB for the small model; safe to delete).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HookedModel } from '../server/engine/hooked-model.js';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { settings } from '../server/settings.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { loadTokenizer, type TextTokenizer } from '../server/model/tokenizer.js';
import { hookName } from '../shared/hooks.js';
import { isUpToDate, type WriteOptions } from './make-random-gpt2.js';
import { mulberry32 } from '../shared/random.js';
import { benchExperiment } from './bench-experiment.js';
import { benchSearch } from './bench-search.js';

const require = createRequire(import.meta.url);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SMALL_DIR = path.join(REPO, '.cache/bench-gpt2-small');
const GRAPH_CACHE = path.join(REPO, '.cache/bench-graphs');
// With a KV cache (past_key_values.* -> present.*), as current GPT-2 exports (optimum, transformers.js) have it:
// the analysis then computes only X's columns in its knockouts.
const SMALL_OPTS: WriteOptions = { out: SMALL_DIR, nLayer: 12, nHead: 12, dModel: 768, nCtx: 1024, vocabSize: 50257, seed: 1, graph: { past: true } };
const TEXT_SEED = 1234;
const TARGETS = { hookedOverPlain: 1.1, headlineOverPlain: 2, depthOverPlain: 12, analysisOverPlain: 100, longPeakRssMiB: 2560 };

interface Args {
  json: string | null;
  skipSmall: boolean;
  threads: number;
  reps: number;
  analysisReps: number;
  fullWarmup: boolean;
  model: string;
  long: boolean;
  experiment: boolean;
  experimentInputs: number;
  search: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { json: null, skipSmall: false, threads: 2, reps: 5, analysisReps: 1, fullWarmup: false, model: DEFAULT_MODEL_DIR, long: false, experiment: false, experimentInputs: 50, search: false };
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--skip-small') a.skipSmall = true;
    else if (f === '--long') a.long = true;
    else if (f === '--full-warmup') a.fullWarmup = true;
    else if (f === '--experiment') a.experiment = true;
    else if (f === '--search') a.search = true;
    else if (f === '--experiment-inputs') a.experimentInputs = num(f, argv[++i]);
    else if (f === '--json') a.json = argv[++i] ?? (() => { throw new Error('--json needs a file'); })();
    else if (f === '--model') a.model = argv[++i] ?? (() => { throw new Error('--model needs a directory'); })();
    else if (f === '--threads') a.threads = num(f, argv[++i]);
    else if (f === '--reps') a.reps = num(f, argv[++i]);
    else if (f === '--analysis-reps') a.analysisReps = num(f, argv[++i]);
    else if (f === '--help' || f === '-h') {
      console.log('usage: npm run bench -- [--json FILE] [--skip-small] [--long] [--threads 2] [--reps 5] [--analysis-reps 1] [--full-warmup] [--model DIR] [--experiment [--experiment-inputs 50]]');
      process.exit(0);
    } else throw new Error(`unknown argument ${f}`);
  }
  return a;
}

// ------------------------------------------------------------------ memory sampling (worker thread, 50 ms)

/** Samples process RSS every 50 ms from a worker thread, so that it keeps sampling while the main thread is busy. */
class RssSampler {
  private readonly shared = new Float64Array(new SharedArrayBuffer(16)); // [peak since reset, overall peak]
  private readonly worker: Worker;

  constructor() {
    this.worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const a = workerData;
       setInterval(() => { const r = process.memoryUsage.rss(); if (r > a[0]) a[0] = r; if (r > a[1]) a[1] = r; }, 50);`,
      { eval: true, workerData: this.shared },
    );
    this.worker.unref();
  }

  /** Peak RSS (bytes) since the last reset, including the current value; then resets. */
  take(): number {
    const now = process.memoryUsage.rss();
    const p = Math.max(this.shared[0], now);
    this.shared[0] = now;
    return p;
  }

  overall(): number {
    return Math.max(this.shared[1], process.memoryUsage.rss());
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

// ------------------------------------------------------------------ inputs

/**
 * Text of exactly `count` tokens: random vocabulary entries that decode to " word" (a space and letters) and encode
 * back to themselves; the pre-tokenizer splits at each space, so the text's encoding is the words' ids.
 */
/**
 * A text of exactly `count` tokens: random single-token words, with every `every`-th token a separator (`.` makes
 * sentences, `\n` lines) so that `auto` spans meet the structure of a real prompt. `every = 0`: words only.
 */
function randomWordText(tok: TextTokenizer, count: number, rnd: () => number, sep: { every: number; text: string } = { every: 0, text: '' }): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const words: string[] = [];
    while (words.length < count) {
      if (sep.every > 0 && (words.length + 1) % sep.every === 0) {
        words.push(sep.text);
        continue;
      }
      const id = Math.floor(rnd() * tok.vocabSize);
      if (id === tok.bosId) continue;
      const s = tok.decode([id]);
      if (!/^ [a-zA-Z]{2,}$/.test(s)) continue;
      const back = tok.encode(s);
      if (back.length !== 1 || back[0] !== id) continue;
      words.push(s);
    }
    const text = words.join('');
    if (tok.encode(text).length === count) return text;
  }
  throw new Error(`could not build a text of exactly ${count} tokens with this tokenizer`);
}

// ------------------------------------------------------------------ measurement

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const MiB = (b: number) => Math.round(b / 2 ** 20);

interface Timing {
  warmupMs: number;
  samplesMs: number[];
  medianMs: number;
}

async function timeIt(reps: number, f: () => Promise<unknown>): Promise<Timing> {
  let t = performance.now();
  await f();
  const warmupMs = performance.now() - t;
  const samplesMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    t = performance.now();
    await f();
    samplesMs.push(performance.now() - t);
  }
  return { warmupMs, samplesMs, medianMs: median(samplesMs) };
}

interface ModelBench {
  name: string;
  dir: string;
  shape: { nLayer: number; nHead: number; dModel: number; nCtx: number; vocabSize: number; graphMiB: number };
  generation: { ms: number | null; note: string } | null;
  p: number;
  n: number;
  T: number;
  note: string;
  loadMs: number;
  plain: Timing;
  hooked: Timing;
  analysis: Timing & { warmup: string };
  /** Time from the analysis start to each stage (headline, depth) and to its end, over one plain forward. */
  ratios: { hookedOverPlain: number; headlineOverPlain: number; depthOverPlain: number; analysisOverPlain: number };
  stageMs: Record<string, number>;
  /** `--long`: the GPT-2-small shape at T = 1024. */
  long: { p: number; n: number; T: number; analysisMs: number; peakRssMiB: number; variants: number; engineCalls: number } | null;
  targets: typeof TARGETS;
  engineCalls: number;
  variants: number;
  knockoutVariants: number;
  analysisTimings: Record<string, number>;
  maxBatchMB: number;
  peakRssMiB: { plain: number; hooked: number; analysis: number; model: number };
}

async function benchModel(dir: string, name: string, args: Args, sampler: RssSampler, generation: ModelBench['generation']): Promise<ModelBench> {
  const analysisReps = args.analysisReps;
  sampler.take();
  const tLoad = performance.now();
  const m = HookedModel.load(dir, { threads: args.threads, cacheDir: GRAPH_CACHE });
  const tok = loadTokenizer(m.md);
  const c = m.config;
  const s = m.analyze();
  if (s.attentionProblem) throw new Error(`${name}: ${s.attentionProblem}`);
  const loadMs = performance.now() - tLoad;

  const n = 128;
  const p = Math.min(128, c.nCtx - 1 - n);
  if (p < 1) throw new Error(`${name}: context ${c.nCtx} is too short for n = ${n}`);
  const note = p === 128 ? 'p = n = 128' : `context ${c.nCtx} < 257, so p = ${p}, n = ${n}`;
  const rnd = mulberry32(TEXT_SEED);
  // The prompt is made of sentences of 12 tokens (11 words and a full stop), as prompts are.
  const prompt = randomWordText(tok, p, rnd, { every: 12, text: '.' });
  const input = randomWordText(tok, n, rnd);
  const seq = [tok.bosId, ...tok.encode(prompt), ...tok.encode(input)];
  const T = seq.length;

  // Plain and hooked forwards alternate (after one warm-up each), so that drifting load on a shared machine hits
  // both alike; each gets its own peak RSS from the phases in which it ran.
  const hooks = Array.from({ length: c.nLayer }, (_, l) => [hookName(l, 'attn.hook_pattern'), hookName(l, 'attn.hook_value_norm')]).flat();
  process.stdout.write(`  ${name}: plain and hooked forwards, 1 warm-up + ${args.reps} each, alternating ... `);
  const plain = { warmupMs: 0, samplesMs: [] as number[], medianMs: 0 };
  const hooked = { warmupMs: 0, samplesMs: [] as number[], medianMs: 0 };
  let rssPlain = 0;
  let rssHooked = 0;
  const once = async (f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  const runPlain = () => m.run({ tokens: [seq] });
  const runHooked = () => m.run({ tokens: [seq], hooks });
  sampler.take();
  plain.warmupMs = await once(runPlain);
  rssPlain = Math.max(rssPlain, sampler.take());
  hooked.warmupMs = await once(runHooked);
  rssHooked = Math.max(rssHooked, sampler.take());
  for (let i = 0; i < args.reps; i++) {
    plain.samplesMs.push(await once(runPlain));
    rssPlain = Math.max(rssPlain, sampler.take());
    hooked.samplesMs.push(await once(runHooked));
    rssHooked = Math.max(rssHooked, sampler.take());
  }
  plain.medianMs = median(plain.samplesMs);
  hooked.medianMs = median(hooked.samplesMs);
  console.log(`plain ${plain.medianMs.toFixed(0)} ms, hooked ${hooked.medianMs.toFixed(0)} ms`);

  // Warm-up analysis: builds the hooked, plain and attention-bias sessions (and rewritten graphs) analyze() uses.
  const warm = args.fullWarmup ? { prompt, input } : { prompt: randomWordText(tok, 16, mulberry32(1)), input: randomWordText(tok, 16, mulberry32(2)) };
  process.stdout.write(`  ${name}: analysis warm-up (${args.fullWarmup ? 'full size' : 'short: 16 + 16 tokens'}) + ${analysisReps} full ... `);
  const holder: { last: Awaited<ReturnType<typeof analyze>> | null; stageMs: Record<string, number> } = { last: null, stageMs: {} };
  let first = true;
  const analysisT = await timeIt(analysisReps, async () => {
    // Each timed analysis starts without cached no-prompt runs, as a first analysis of an input does.
    clearRunCaches();
    const t0 = performance.now();
    const stageMs: Record<string, number> = {};
    const r = await analyze(m, tok, { modelId: name, ...(first ? warm : { prompt, input }) }, { onStage: (e) => (stageMs[e.stage] = performance.now() - t0) });
    if (!first) {
      holder.last = r;
      holder.stageMs = stageMs;
    }
    first = false;
  });
  const rssAnalysis = sampler.take();
  const res = holder.last!;
  console.log(`median ${(analysisT.medianMs / 1000).toFixed(1)} s`);
  if (res.p !== p || res.n !== n) throw new Error(`${name}: the analysis saw p = ${res.p}, n = ${res.n}, expected ${p}, ${n}`);

  let long: ModelBench['long'] = null;
  if (args.long && c.nCtx >= 1024) {
    // T = 1024: p = 512 in lines of 16 tokens, n = 511, spans `lines`.
    const lp = 512;
    const ln = 511;
    const lPrompt = randomWordText(tok, lp, mulberry32(TEXT_SEED + 1), { every: 16, text: '\n' });
    const lInput = randomWordText(tok, ln, mulberry32(TEXT_SEED + 2));
    process.stdout.write(`  ${name}: long analysis, T = ${1 + lp + ln}, spans lines ... `);
    // Only the analysis's own session stays loaded (the plain and hooked ones above would count in its peak);
    // the long analysis's time therefore includes building its session.
    await m.release();
    clearRunCaches();
    sampler.take();
    const t = performance.now();
    const lr = await analyze(m, tok, { modelId: name, prompt: lPrompt, input: lInput, options: { spans: 'lines' } });
    const analysisMs = performance.now() - t;
    const peak = sampler.take();
    console.log(`${(analysisMs / 1000).toFixed(1)} s, peak RSS ${MiB(peak)} MiB`);
    long = { p: lr.p, n: lr.n, T: 1 + lr.p + lr.n, analysisMs, peakRssMiB: MiB(peak), variants: lr.variants.length, engineCalls: lr.timings.engineCalls };
  }

  await m.release();
  const graphMiB = MiB(fs.statSync(m.md.graphPath).size);
  return {
    name,
    dir: path.relative(REPO, dir) || dir,
    shape: { nLayer: c.nLayer, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx, vocabSize: c.vocabSize, graphMiB },
    generation,
    p: res.p,
    n: res.n,
    T,
    note,
    loadMs,
    plain,
    hooked,
    analysis: { ...analysisT, warmup: args.fullWarmup ? 'full-size analysis' : 'short analysis (16 + 16 tokens), same sessions' },
    ratios: {
      hookedOverPlain: hooked.medianMs / plain.medianMs,
      headlineOverPlain: holder.stageMs.headline / plain.medianMs,
      depthOverPlain: holder.stageMs.depth / plain.medianMs,
      analysisOverPlain: analysisT.medianMs / plain.medianMs,
    },
    stageMs: holder.stageMs,
    long,
    targets: TARGETS,
    engineCalls: res.timings.engineCalls,
    variants: res.variants.length,
    knockoutVariants: res.variants.filter((v) => !['with-prompt', 'no-prompt', 'no-prompt-natural'].includes(v.kind)).length,
    analysisTimings: { ...res.timings },
    maxBatchMB: settings().maxBatchMB,
    peakRssMiB: { plain: MiB(rssPlain), hooked: MiB(rssHooked), analysis: MiB(rssAnalysis), model: MiB(Math.max(rssPlain, rssHooked, rssAnalysis)) },
  };
}

function ensureSmall(): ModelBench['generation'] {
  const genInfo = path.join(SMALL_DIR, 'bench-generation.json');
  if (isUpToDate(SMALL_OPTS)) {
    let ms: number | null = null;
    try {
      ms = (JSON.parse(fs.readFileSync(genInfo, 'utf8')) as { ms: number }).ms;
    } catch {
      /* generated outside the bench */
    }
    return { ms, note: `reused ${path.relative(REPO, SMALL_DIR)}/ (generated earlier${ms !== null ? ` in ${(ms / 1000).toFixed(1)} s` : ''}; delete it to regenerate)` };
  }
  console.log(`  generating the GPT-2-small-shaped random model into ${path.relative(REPO, SMALL_DIR)}/ ...`);
  const t = performance.now();
  const o = SMALL_OPTS;
  const cli = ['--out', SMALL_DIR, '--layers', o.nLayer, '--heads', o.nHead, '--d-model', o.dModel, '--ctx', o.nCtx, '--vocab', o.vocabSize, '--seed', o.seed].map(String).concat(o.graph?.past ? ['--past'] : []);
  // A child process, so that generation's memory does not count in this process's peak.
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO, 'scripts/make-random-gpt2.ts'), ...cli], { stdio: 'inherit', cwd: REPO });
  if (r.status !== 0) throw new Error(`make-random-gpt2 failed (exit ${r.status})`);
  const ms = performance.now() - t;
  fs.writeFileSync(genInfo, JSON.stringify({ ms }) + '\n');
  return { ms, note: `generated now in ${(ms / 1000).toFixed(1)} s` };
}

// ------------------------------------------------------------------ report

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r, k) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ') + (k === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : '')).join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    const g = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' });
    if (g.status === 0) commit = g.stdout.trim() + (spawnSync('git', ['diff', '--quiet', 'HEAD', '--', 'server', 'shared'], { cwd: REPO }).status === 0 ? '' : ' (server/ or shared/ modified)');
  } catch {
    /* not a git checkout */
  }
  const machine = { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, platform: `${os.platform()} ${os.arch()}`, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) };
  console.log(`Precache Lens bench — ${new Date().toISOString()}`);
  console.log(`machine: ${machine.cpu} x ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.platform}; load average ${machine.loadavg.join(' ')}`);
  console.log(`node ${process.version}, onnxruntime-node ${ortVersion} (CPU EP), ORT intra-op threads: ${args.threads}; commit ${commit}`);
  console.log(`input: [BOS] + P + X of random single-token words (seed ${TEXT_SEED}); forwards: median of ${args.reps} (plain and hooked alternating) after 1 warm-up each`);
  if (args.search) {
    const r = await benchSearch({ model: args.model, threads: args.threads, graphCache: GRAPH_CACHE });
    const line = JSON.stringify({ bench: 'precache-lens/search', date: new Date().toISOString(), commit, machine, threads: args.threads, search: r });
    console.log(line);
    if (args.json) fs.writeFileSync(args.json, `${line}\n`);
    return;
  }
  if (args.experiment) {
    const r = await benchExperiment({ model: args.model, threads: args.threads, graphCache: GRAPH_CACHE, inputs: args.experimentInputs });
    const line = JSON.stringify({ bench: 'precache-lens/experiment', date: new Date().toISOString(), commit, machine, threads: args.threads, ...r });
    console.log(line);
    if (args.json) fs.writeFileSync(args.json, `${line}\n`);
    return;
  }
  const sampler = new RssSampler();
  const results: ModelBench[] = [];
  const tAll = performance.now();

  results.push(await benchModel(args.model, path.basename(args.model), args, sampler, null));
  if (!args.skipSmall) {
    const gen = ensureSmall();
    console.log(`  gpt2-small-random: ${gen!.note}`);
    results.push(await benchModel(SMALL_DIR, 'gpt2-small-random', args, sampler, gen));
  }
  const totalS = (performance.now() - tAll) / 1000;
  const maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  const overallSampledMiB = MiB(sampler.overall());
  await sampler.stop();

  const f0 = (x: number) => x.toFixed(0);
  const rows: string[][] = [['', ...results.map((r) => r.name)]];
  rows.push(['shape (L / d / H / ctx / vocab)', ...results.map((r) => `${r.shape.nLayer} / ${r.shape.dModel} / ${r.shape.nHead} / ${r.shape.nCtx} / ${r.shape.vocabSize}`)]);
  rows.push(['graph file', ...results.map((r) => `${r.shape.graphMiB} MiB`)]);
  rows.push(['generation', ...results.map((r) => (r.generation ? (r.generation.ms !== null ? `${(r.generation.ms / 1000).toFixed(1)} s${r.generation.note.startsWith('reused') ? ' (earlier; cached)' : ''}` : 'cached') : 'bundled'))]);
  rows.push(['p / n / T', ...results.map((r) => `${r.p} / ${r.n} / ${r.T}`)]);
  rows.push(['load + structure', ...results.map((r) => `${f0(r.loadMs)} ms`)]);
  rows.push(['plain forward (median)', ...results.map((r) => `${f0(r.plain.medianMs)} ms`)]);
  rows.push(['hooked forward (median)', ...results.map((r) => `${f0(r.hooked.medianMs)} ms`)]);
  rows.push(['full analysis (median)', ...results.map((r) => `${f0(r.analysis.medianMs)} ms (x${r.analysis.samplesMs.length})`)]);
  rows.push(['hooked / plain   [target <= 1.10]', ...results.map((r) => r.ratios.hookedOverPlain.toFixed(2))]);
  rows.push(['headline / plain [target <= 2]', ...results.map((r) => r.ratios.headlineOverPlain.toFixed(1))]);
  rows.push(['depth / plain    [target <= 12]', ...results.map((r) => r.ratios.depthOverPlain.toFixed(1))]);
  rows.push(['analysis / plain [target <= 100]', ...results.map((r) => r.ratios.analysisOverPlain.toFixed(1))]);
  rows.push(['analysis: engine calls', ...results.map((r) => String(r.engineCalls))]);
  rows.push(['analysis: variants (knockouts)', ...results.map((r) => `${r.variants} (${r.knockoutVariants})`)]);
  rows.push(['analysis: forward / knockout ms', ...results.map((r) => `${f0(r.analysisTimings.forwardMs)} / ${f0(r.analysisTimings.knockoutMs)}`)]);
  rows.push(['first (warm-up) forward', ...results.map((r) => `${f0(r.plain.warmupMs)} ms`)]);
  rows.push(['long (T = 1024): time / peak RSS [target <= 2560 MiB]', ...results.map((r) => (r.long ? `${(r.long.analysisMs / 1000).toFixed(1)} s / ${r.long.peakRssMiB} MiB` : '-'))]);
  rows.push(['peak RSS plain / hooked / analysis', ...results.map((r) => `${r.peakRssMiB.plain} / ${r.peakRssMiB.hooked} / ${r.peakRssMiB.analysis} MiB`)]);
  console.log('');
  for (const r of results) if (r.note !== 'p = n = 128') console.log(`note: ${r.name}: ${r.note}`);
  console.log(table(rows));
  console.log(`peak RSS, whole process: ${overallSampledMiB} MiB sampled (50 ms), maxRSS ${maxRssMiB} MiB (process.resourceUsage)`);
  console.log(`analysis warm-up: ${results[0]?.analysis.warmup}; analysis memory bound ${settings().maxBatchMB} MiB per engine call (PRECACHE_LENS_MAX_BATCH_MB)`);
  console.log(`targets are for later work and are not asserted; total bench time ${totalS.toFixed(0)} s`);

  const out = {
    bench: 'precache-lens',
    date: new Date().toISOString(),
    commit,
    machine,
    node: process.version,
    onnxruntimeNode: ortVersion,
    threads: args.threads,
    reps: args.reps,
    textSeed: TEXT_SEED,
    models: results,
    // The GPT-2-small shape's figures at the top level too (the issue's field names): ratios, variants, peakRssMiB.analysis, long.
    ratios: results[results.length - 1]?.ratios,
    variants: results[results.length - 1]?.variants,
    long: results.find((r) => r.long)?.long ? { analysisMs: results.find((r) => r.long)!.long!.analysisMs, peakRssMiB: results.find((r) => r.long)!.long!.peakRssMiB } : null,
    peakRssMiB: { overall: overallSampledMiB, analysis: results[results.length - 1]?.peakRssMiB.analysis },
    maxRssMiB,
    totalSeconds: totalS,
  };
  const line = JSON.stringify(out);
  console.log(line);
  if (args.json) {
    fs.mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
    fs.writeFileSync(args.json, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
