// Writes the model card (README.md) of a bundled-family model trained by tools/py/train_cpu.py (issue 21) from the
// files that hold its figures, so that every number in the card comes from a measurement and names its command:
//
//   npx tsx tools/model-card.ts --model models/precache-gpt2-6l --arch gpt2 --train ~/train/gpt2-8k \
//     --experiments runs/cards/precache-gpt2-6l --old precache-gpt2-8l=runs/old/precache-gpt2-8l-eval.json
//
//   --model DIR        the exported model: config.json, onnx/model.onnx, eval.json (tools/finish_cpu.sh writes them)
//   --arch gpt2|rwkv   which trainer layout (the card's architecture section)
//   --train DIR        train_cpu.py's --out folder: cfg.json and log.jsonl (tokens seen, training time, stages, stops)
//   --experiments DIR  tools/card-experiments.sh's output: <set>/experiment.json for sotu-1861-1945 and kjv
//   --no-experiments   instead: a card without the prompt experiments (an interim model), saying so
//   --old NAME=FILE    eval-model.ts JSON of a model this one replaces (per-source nats/byte on the same held-out text);
//                      repeatable
//   --weights DIR      tools/py/ckpt_weights.py's output the model was exported from (its step.json: the step the
//                      weights are from; the training table stops there)
//   --note TEXT        a paragraph in bold under the title (what is interim about the model, say)
//   --continues REV    the run (--init-from) continued the model as bundled at commit REV, on this tokenizer: the
//                      card names that commit, where the predecessor's own card tells its training (without it, a
//                      continued run is described as continuing the 50,257-token pair of commit 0747144)
//   --out FILE         default DIR/README.md
//
// The card keeps the line "Validation-slice loss (tests/fixtures/val-slice-8k.bin): X nats/token" that
// tests/default-model.test.ts reads.
import fs from 'node:fs';
import path from 'node:path';

interface Interval { mean: number; lo: number; hi: number; p?: number; pHolm?: number }
interface SourceRow { loss: number; natsPerByte: number; bytes: number; predicted: number; windows: number }
interface EvalJson {
  graphBytes: number;
  graphSha256: string;
  engine: { runtime: string; threads: number; cpu: string };
  slice: { file: string; loss: number; predicted: number };
  repeat: { settings: string; firstCopy: number; secondCopy: number; difference: number };
  samples?: { settings: string; items: { prompt: string; greedy: string; sampled: string }[] };
  sources?: { ctx?: number; maxWindowsPerSource: number | string; perSource: Record<string, SourceRow>; natsPerByte: number; overall: number };
}
interface ExperimentJson {
  experiment: { models: string[] };
  prompts: { text: string }[];
  summary: { prompt: number; model: number; n: number; meanBenefit: Interval }[];
  pairs: { a: number; b: number; model: number; n: number; meanBenefitDiff: Interval }[];
  twins?: { prompt: number; n: number; myopiaGap: Interval; myopiaGapNoPrompt: Interval }[];
}

const SETS: Record<string, { label: string; matching: number[] }> = {
  'sotu-1861-1945': { label: 'State of the Union (held-out addresses)', matching: [0, 2] },
  kjv: { label: 'King James Bible (held-out chapters)', matching: [1, 3] },
};
const SOURCE_NAMES: Record<string, string> = {
  sotu: 'State of the Union', brown: 'Brown corpus', kjv: 'King James Bible', gcide: 'GCIDE dictionary',
  devil: "The Devil's Dictionary", fortunes: 'fortunes',
};

function parseArgs(argv: string[]) {
  const a: { model?: string; arch?: string; train?: string; experiments?: string; old: [string, string][]; out?: string; weights?: string; note?: string; continues?: string } = { old: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--no-experiments') {
      a.experiments = '';
      continue;
    }
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${k}: needs a value`);
    if (k === '--model') a.model = v;
    else if (k === '--arch') a.arch = v;
    else if (k === '--train') a.train = v;
    else if (k === '--experiments') a.experiments = v;
    else if (k === '--out') a.out = v;
    else if (k === '--weights') a.weights = v;
    else if (k === '--note') a.note = v;
    else if (k === '--continues') {
      if (!/^[0-9a-f]{7,40}$/.test(v)) throw new Error(`--continues: a commit id (7-40 hex digits), got '${v}'`);
      a.continues = v;
    }
    else if (k === '--old') {
      const eq = v.indexOf('=');
      if (eq < 1) throw new Error(`--old: expected NAME=FILE, got '${v}'`);
      a.old.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else throw new Error(`unknown option ${k}`);
    i++;
  }
  for (const k of ['model', 'arch', 'train'] as const) if (!a[k]) throw new Error(`--${k} is required`);
  if (a.experiments === undefined) throw new Error('--experiments is required (or --no-experiments)');
  if (a.arch !== 'gpt2' && a.arch !== 'rwkv') throw new Error(`--arch: gpt2 or rwkv, got '${a.arch}'`);
  return a as Required<Omit<typeof a, 'weights' | 'note' | 'continues'>> & { weights?: string; note?: string; continues?: string };
}

function readJson<T>(file: string): T {
  if (!fs.existsSync(file)) throw new Error(`${file}: not found`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

const f3 = (x: number) => x.toFixed(3);
const f4 = (x: number) => x.toFixed(4);
const ci = (x: Interval) => `${x.mean >= 0 ? '+' : ''}${f3(x.mean)} [${f3(x.lo)}, ${f3(x.hi)}]`;
const pv = (p: number | undefined) => (p === undefined ? '' : p < 0.001 ? p.toExponential(1) : p.toFixed(4));
const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

type Stage = { step: number; ctx: number; rows: number; repeat: number; synthetic: number };

/** The stages the run went through: the first from the start record's curriculum, then every stage record that changed
 * something (a resume logs the stage it resumes in again). */
function stagesOf(lines: Record<string, unknown>[], start: Record<string, unknown> | undefined): Stage[] {
  const first = (start?.curriculum as number[][] | undefined)?.[0];
  const all: Stage[] = first ? [{ step: 0, ctx: first[1], rows: first[2], repeat: first[3], synthetic: first[4] ?? 0 }] : [];
  for (const l of lines.filter((x) => x.event === 'stage')) {
    const st = { step: l.step as number, ctx: l.ctx as number, rows: l.batch as number, repeat: l.repeat_share as number, synthetic: (l.synthetic_share as number | undefined) ?? 0 };
    const prev = all[all.length - 1];
    if (!prev || prev.ctx !== st.ctx || prev.rows !== st.rows || prev.repeat !== st.repeat || prev.synthetic !== st.synthetic) all.push(st);
  }
  return all;
}

/**
 * Wall-clock seconds of the run from the log's clock (records written since train_cpu.py stamps them): each process's
 * span from its start or resume record to its last record, summed; and the first step that the stamped spans cover
 * (earlier records carry no clock).
 */
export function wallTime(lines: Record<string, unknown>[]): { seconds: number; fromStep: number } | null {
  let seconds = 0;
  let fromStep: number | null = null;
  let spanStart: number | null = null;
  let spanLast: number | null = null;
  const close = () => {
    if (spanStart !== null && spanLast !== null) seconds += spanLast - spanStart;
    spanStart = spanLast = null;
  };
  for (const l of lines) {
    if (l.event === 'start' || l.event === 'resume') close();
    if (typeof l.time !== 'number') continue;
    if (spanStart === null) {
      spanStart = l.time;
      if (fromStep === null) fromStep = typeof l.step === 'number' ? l.step : 0;
    }
    spanLast = l.time;
  }
  close();
  return fromStep === null ? null : { seconds, fromStep };
}

/** Training facts from train_cpu.py's log: tokens per model, seconds of training (both twins, lockstep), stops. */
export function trainingFacts(logFile: string, upToStep = Infinity) {
  if (!fs.existsSync(logFile)) throw new Error(`${logFile}: not found (train_cpu.py's --out folder holds it)`);
  const all = fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  // Up to the exported step: the log ends at the first record past it, or at a resume from it (training went on).
  const end = all.findIndex((l) => typeof l.step === 'number' && (l.step > upToStep || (l.event === 'resume' && l.step >= upToStep)));
  const lines = end < 0 ? all : all.slice(0, end);
  const steps = lines.filter((l) => typeof l.step === 'number' && typeof l.tokens === 'number' && typeof l.train_s === 'number');
  const last = steps[steps.length - 1];
  if (!last) throw new Error(`${logFile}: no step records`);
  const start = lines.find((l) => l.event === 'start');
  const evals = lines.filter((l) => Array.isArray(l.vanilla_repeat));
  const args = (start?.args ?? {}) as Record<string, unknown>;
  const parallel = lines.find((l) => (l.event === 'start' || l.event === 'resume') && (l.args as Record<string, unknown> | undefined)?.parallel_twins);
  return {
    /** The models the run started from (train_cpu.py --init-from), by twin; null for a run from random weights. */
    init: (start?.init as Record<string, string> | null | undefined) ?? null,
    threads: (start?.threads as number | undefined) ?? 1,
    /** The first step from which the twins ran at once on two threads (--parallel-twins), if any. */
    parallelFrom: parallel ? ((parallel.step as number | undefined) ?? 0) : null,
    evalEvery: (args.eval_every as number | undefined) ?? 250,
    step: last.step as number,
    tokens: last.tokens as number,
    trainSeconds: last.train_s as number,
    params: (start?.params as number | undefined) ?? null,
    resumes: lines.filter((l) => l.event === 'resume').length,
    wall: wallTime(lines),
    stages: stagesOf(lines, start),
    repeatCurve: evals.map((l) => ({ step: l.step as number, vanilla: l.vanilla_repeat as number[], myopic: l.myopic_repeat as number[] })),
  };
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  const name = path.basename(path.resolve(a.model));
  const twin = name.endsWith('-myopic') ? name.slice(0, -'-myopic'.length) : `${name}-myopic`;
  const isMyopic = name.endsWith('-myopic');
  const cfg = readJson<Record<string, number>>(path.join(a.model, 'config.json'));
  const ev = readJson<EvalJson>(path.join(a.model, 'eval.json'));
  const weightsStep = a.weights ? readJson<{ step: number }>(path.join(a.weights, 'step.json')).step : Infinity;
  const tr = trainingFacts(path.join(a.train, 'log.jsonl'), weightsStep);
  if (a.continues && !tr.init) throw new Error(`--continues ${a.continues}: ${path.join(a.train, 'log.jsonl')} names no --init-from models`);
  // A run that continued earlier models (--init-from): this twin's predecessor, named by its folder (<dir>/onnx/model.onnx).
  const predecessor = tr.init ? path.basename(path.dirname(path.dirname(tr.init[isMyopic ? 'myopic' : 'vanilla']))) : '';
  const exps = !a.experiments ? [] : Object.keys(SETS).map((set) => ({ set, e: readJson<ExperimentJson>(path.join(a.experiments, set, 'experiment.json')) }));
  const olds = a.old.map(([n, file]) => ({ name: n, ev: readJson<EvalJson>(file) }));
  const out: string[] = [];
  const P = (s = '') => out.push(s);

  const layers = cfg.n_layer ?? cfg.num_hidden_layers;
  const d = cfg.n_embd ?? cfg.hidden_size;
  const heads = cfg.n_head ?? cfg.num_attention_heads;
  const ctx = cfg.n_positions ?? cfg.max_position_embeddings ?? cfg.ctx_len;
  P('---\nlicense: mit\nlanguage:\n- en\nlibrary_name: onnx\npipeline_tag: text-generation\ntags:\n- ' + a.arch + '\n- onnx\n- interpretability\n- precache-lens\n---\n');
  P(`# ${name}\n`);
  if (a.note) P(`**${a.note}**\n`);
  const kind = a.arch === 'gpt2' ? 'GPT-2-layout transformer' : 'RWKV-5 recurrent model';
  P(`${isMyopic ? `The myopic twin of [\`${twin}\`](../${twin}/README.md): a` : 'A'} small ${kind} (${layers} layers, d_model ${d}, ${heads} heads, ` +
    `${tr.params ? `${(tr.params / 1e6).toFixed(2)} M parameters, ` : ''}${a.arch === 'gpt2' ? `${ctx}-token context, ` : ''}8,192-token byte-level BPE) trained by ` +
    `this project on two CPU cores (\`tools/py/train_cpu.py\`, issue 21)` +
    (tr.init && a.continues
      ? `, continuing \`${predecessor}\` as bundled at commit ${a.continues} (its card, with its own training: \`git show ${a.continues}:models/${predecessor}/README.md\`), on the same tokenizer (\`--init-from\`). ` +
        `${isMyopic ? 'It was' : `Its myopic twin [\`${twin}\`](../${twin}/README.md) was`} trained in the same run, on the same batches, continuing its own predecessor; `
      : tr.init
      ? `, continuing \`${predecessor}\` (the earlier bundled ${isMyopic ? 'myopic twin' : 'default model'}, trained by this project on State of the Union and Brown text with GPT-2's 50,257-token vocabulary; ` +
        'its card: `git show 0747144:models/' + predecessor + '/README.md`) with its vocabulary cut to this tokenizer\'s tokens (matched by token string, `--init-from`). ' +
        `${isMyopic ? 'It was' : `Its myopic twin [\`${twin}\`](../${twin}/README.md) was`} trained in the same run, on the same batches, continuing its own predecessor (the two predecessors were trained in lockstep from the same initial weights); `
      : ` from scratch. ${isMyopic ? 'It was' : `Its myopic twin [\`${twin}\`](../${twin}/README.md) was`} trained in the same run, on the same batches, from the same initial weights; `) +
    'the myopic model gets no gradient from a later position\'s loss into an earlier position\'s computation, so it ' +
    'cannot learn to precompute for the future.\n');

  P('## Files\n');
  P(`\`config.json\`, \`tokenizer.json\` + \`tokenizer_config.json\`, \`onnx/model.onnx\` (float32, ${thousands(ev.graphBytes)} bytes, sha256 \`${ev.graphSha256}\`), \`eval.json\` (every figure below that is measured through the engine).\n`);

  P('## Tokenizer\n');
  P('GPT-2\'s byte-level BPE cut to its first 7,935 merges (`node tools/make-gpt2-tokenizer.mjs DIR --vocab-size 8192`): ids 0-8,190 are GPT-2\'s own ' +
    'ids, `<|endoftext|>` = 8,191 is BOS and EOS. Bytes per token on each held-out source (UTF-8 bytes of the text / tokens):\n');
  if (ev.sources) {
    P('| source | bytes/token |\n|---|---|');
    for (const [s, r] of Object.entries(ev.sources.perSource)) P(`| ${SOURCE_NAMES[s] ?? s} | ${(r.bytes / r.predicted).toFixed(2)} |`);
    P();
  }

  P('## Training\n');
  P(`${thousands(tr.tokens)} tokens per model (${thousands(tr.step)} steps${a.weights ? '; the exported weights are those of this step, the checkpoint\'s, written by `tools/py/ckpt_weights.py`' : ''})${tr.init ? ' in this run, after the predecessor\'s own training' : ''}, ${(tr.trainSeconds / 3600).toFixed(2)} hours of training for the lockstep pair ` +
    `(${thousands((2 * tr.tokens) / tr.trainSeconds)} tokens/s over both twins, ${tr.parallelFrom === null ? (tr.threads === 1 ? 'one torch thread' : `${tr.threads} torch threads`) : `${tr.parallelFrom > 0 ? `one twin after the other until step ${thousands(tr.parallelFrom)}, then ` : ''}the twins at once on two threads (\`--parallel-twins\`)`}, niced, on a shared 2-core machine; ${tr.resumes} resumes from checkpoints` +
    `${tr.wall ? `; wall time ${(tr.wall.seconds / 3600).toFixed(2)} hours${tr.wall.fromStep > 0 ? ` from step ${thousands(tr.wall.fromStep)} on (earlier log records carry no clock)` : ''}, evaluations and checkpoints included` : ''}). ` +
    'Recipe, curriculum and measured settings: [tools/README-training.md](../../tools/README-training.md). Stage changes:\n');
  if (tr.stages.length) {
    P('| from step | window | rows | rows with a repeated span | synthetic rows |\n|---|---|---|---|---|');
    for (const s of tr.stages) P(`| ${thousands(s.step)} | ${s.ctx} | ${s.rows} | ${Math.round(s.repeat * 100)} % | ${Math.round(s.synthetic * 100)} % |`);
    P();
  }

  P('## Held-out loss\n');
  // The windows' length: the config's context unless the evaluation was given --ctx (an RWKV config's 1,024, read at 256).
  const evalCtx = ev.sources?.ctx !== undefined && ev.sources.ctx !== ctx ? ev.sources.ctx : undefined;
  P(`Through the project's engine (\`npx tsx scripts/eval-model.ts --model DIR --corpus data/corpus8k --slice tests/fixtures/val-slice-8k.bin --skip-val${evalCtx ? ` --ctx ${evalCtx}` : ''} --json DIR/eval.json\`), ` +
    `${evalCtx ? `windows of ${evalCtx} tokens` : 'windows of the model\'s context'}${ev.sources && ev.sources.maxWindowsPerSource !== 'all' ? ` (the first ${ev.sources.maxWindowsPerSource} windows of each source)` : ' (every window of each source)'}` +
    `${evalCtx ? `; the config's context is ${thousands(ctx)}, at which the validation slice below is read` : ''}. ` +
    'Nats/byte divides the summed loss by the UTF-8 bytes of the predicted text, so models with other tokenizers compare on the same text.\n');
  if (ev.sources) {
    const head = ['source', 'nats/token', 'nats/byte', ...olds.map((o) => `${o.name} nats/byte`)];
    P(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
    for (const [s, r] of Object.entries(ev.sources.perSource)) {
      const oldCells = olds.map((o) => { const x = o.ev.sources?.perSource[s]; return x ? f4(x.natsPerByte) : '-'; });
      P(`| ${[SOURCE_NAMES[s] ?? s, f4(r.loss), f4(r.natsPerByte), ...oldCells].join(' | ')} |`);
    }
    const both = (e: EvalJson) => { const ps = ['sotu', 'brown'].map((s) => e.sources?.perSource[s]); return ps.every(Boolean) ? ps.reduce((t, x) => t + x!.loss * x!.predicted, 0) / ps.reduce((t, x) => t + x!.bytes, 0) : NaN; };
    P(`| State of the Union + Brown | | ${[f4(both(ev)), ...olds.map((o) => (Number.isFinite(both(o.ev)) ? f4(both(o.ev)) : '-'))].join(' | ')} |`);
    P();
  }
  P(`Validation-slice loss (tests/fixtures/val-slice-8k.bin): ${f4(ev.slice.loss)} nats/token (${ev.slice.predicted} predicted tokens; \`tests/${a.arch === 'rwkv' ? 'rwkv-bundled' : 'default-model'}.test.ts\` recomputes it).\n`);

  P('## Repeat test\n');
  P(`${ev.repeat.settings}: first copy ${f4(ev.repeat.firstCopy)}, second copy ${f4(ev.repeat.secondCopy)} nats/token, a drop of **${f4(ev.repeat.difference)}** (\`eval.json\` → \`repeat\`). ` +
    `During training (held-out evaluation every ${tr.evalEvery} steps, PyTorch, first → second copy):\n`);
  const curve = tr.repeatCurve.filter((_, i, all) => i % Math.max(1, Math.floor(all.length / 8)) === 0 || i === all.length - 1);
  P('| step | vanilla | myopic |\n|---|---|---|');
  for (const c of curve) P(`| ${thousands(c.step)} | ${c.vanilla.map(f3).join(' → ')} | ${c.myopic.map(f3).join(' → ')} |`);
  P();

  if (ev.samples?.items.length) {
    P('## Samples\n');
    P(`From \`eval.json\` → \`samples\` (${ev.samples.settings}). A continuation that loops on what the model has just seen is a habit ` +
      'of the synthetic repeated-pattern rows of the curriculum: with little context it copies; a prompt of a few sentences gives it something to read instead.\n');
    P('| prompt | greedy | sampled |\n|---|---|---|');
    const cell = (t: string) => JSON.stringify(t).replace(/\|/g, '\\|');
    for (const it of ev.samples.items) P(`| ${cell(it.prompt)} | ${cell(it.greedy)} | ${cell(it.sampled)} |`);
    P();
  }

  P('## Prompt experiments\n');
  if (!exps.length) P('None were run for this model (an interim model: see the note under the title). `bash tools/card-experiments.sh DIR OUT --count 48` runs them.\n');
  else P('`bash tools/card-experiments.sh DIR OUT --count 48` runs the project\'s `experiment` command with the myopic twin on held-out inputs of two kinds ' +
    '(bundled input sets `sotu-1861-1945` and `kjv`, never in the training text), with four prompts (`tools/card-prompts.txt`): P1 "The following is the ' +
    'annual message of the President of the United States to the Congress.", P2 "The following is a chapter of the King James Bible.", P3 the ' +
    'addresses\' salutation "Fellow-Citizens of the Senate and House of Representatives:", P4 the first two verses of Genesis 1 in the inputs\' ' +
    'chapter-and-verse layout. Mean benefit B (loss without the prompt minus loss with it, nats/token) with 95 % bootstrap intervals; paired ' +
    'differences with their p-value and Holm\'s correction over the experiment\'s comparisons.\n');
  for (const { set, e } of exps) {
    const m = e.experiment.models.indexOf(name);
    if (m < 0) throw new Error(`${a.experiments}/${set}: model ${name} is not in the experiment (${e.experiment.models.join(', ')})`);
    P(`**${SETS[set].label}** (n = ${e.summary.find((s) => s.model === m)?.n}):\n`);
    P('| prompt | mean B | matches the inputs |\n|---|---|---|');
    for (const s of e.summary.filter((x) => x.model === m)) P(`| P${s.prompt + 1} | ${ci(s.meanBenefit)} | ${SETS[set].matching.includes(s.prompt) ? 'yes' : 'no'} |`);
    P();
    P('| difference | mean | p | Holm p |\n|---|---|---|---|');
    for (const p of e.pairs.filter((x) => x.model === m)) P(`| P${p.a + 1} − P${p.b + 1} | ${ci(p.meanBenefitDiff)} | ${pv(p.meanBenefitDiff.p)} | ${pv(p.meanBenefitDiff.pHolm)} |`);
    P();
    if (e.twins?.length) {
      P('Myopia gap (mean loss of the myopic twin minus the model\'s on the same inputs, nats/token):\n');
      P('| prompt | with the prompt | without |\n|---|---|---|');
      for (const t of e.twins) P(`| P${t.prompt + 1} | ${ci(t.myopiaGap)} | ${ci(t.myopiaGapNoPrompt)} |`);
      P();
    }
  }

  P('## Measured with\n');
  P(`${ev.engine.runtime}, ${ev.engine.threads} threads, ${ev.engine.cpu}. Licence: MIT (weights); the training text is public domain or freely redistributable (tools/README-training.md, section 1).`);
  const file = a.out ?? path.join(a.model, 'README.md');
  fs.writeFileSync(file, out.join('\n') + '\n');
  console.log(`wrote ${file}`);
}

try {
  main();
} catch (e) {
  console.error(`model-card: ${(e as Error).message}`);
  process.exit(1);
}
