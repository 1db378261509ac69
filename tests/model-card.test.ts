// tools/model-card.ts writes the bundled family's cards from the files that hold their figures. Fed constructed
// inputs, the card must carry each figure as measured, derive the combined ones correctly (nats/byte over two sources
// is summed loss over summed bytes, not a mean of ratios), mark which prompts match the inputs, collapse the stage
// records a resume repeats, and keep the slice line tests/default-model.test.ts reads. Bad input names the file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-model-card-'));
afterAll(() => fs.rmSync(TMP, { recursive: true, force: true }));

const src = (loss: number, predicted: number, bytes: number) => ({ loss, predicted, bytes, natsPerByte: (loss * predicted) / bytes, windows: 1 });
const evalJson = (sotu: number, brown: number) => ({
  graphBytes: 28337834, graphSha256: 'ab'.repeat(32),
  engine: { runtime: 'onnxruntime-node 1.30.0', threads: 2, cpu: 'test cpu' },
  slice: { file: 'tests/fixtures/val-slice-8k.bin', loss: 4.56789, predicted: 4096 },
  repeat: { settings: '20 sequences of 50 ids', firstCopy: 9.5, secondCopy: 3.25, difference: 6.25 },
  samples: { settings: 'BOS + prompt, 30 new tokens', items: [{ prompt: 'In the year', greedy: ' 1861, 1861 | x', sampled: ' the' }] },
  sources: { maxWindowsPerSource: 'all', natsPerByte: 1, overall: 4, perSource: { sotu: src(sotu, 1000, 4000), brown: src(brown, 3000, 9000) } },
});
const experiment = (model: string) => ({
  experiment: { models: [model, `${model}-myopic`] },
  prompts: [{ text: 'a' }, { text: 'b' }, { text: 'c' }, { text: 'd' }],
  summary: [0, 1, 2, 3].flatMap((p) => [0, 1].map((m) => ({ prompt: p, model: m, n: 48, meanBenefit: { mean: 0.1 * (p + 1) * (m ? -1 : 1), lo: 0.05, hi: 0.5 } }))),
  pairs: [{ a: 0, b: 1, model: 0, n: 48, meanBenefitDiff: { mean: 0.2, lo: 0.1, hi: 0.3, p: 0.0005, pHolm: 0.003 } }],
  twins: [{ prompt: 0, n: 48, myopiaGap: { mean: 0.9, lo: 0.8, hi: 1.0 }, myopiaGapNoPrompt: { mean: 0.95, lo: 0.85, hi: 1.05 } }],
});

function fixture(name: string) {
  const model = path.join(TMP, name);
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify({ n_layer: 6, n_embd: 256, n_head: 8, n_positions: 512, vocab_size: 8192 }));
  fs.writeFileSync(path.join(model, 'eval.json'), JSON.stringify(evalJson(4.0, 5.0)));
  const train = path.join(TMP, `${name}-train`);
  fs.mkdirSync(train, { recursive: true });
  const log = [
    { event: 'start', params: 6970000, curriculum: [[0, 128, 16, 0.5], [2000, 256, 8, 0.25]] },
    { step: 250, tokens: 512000, train_s: 1000, vanilla_repeat: [9.9, 9.6], myopic_repeat: [10.1, 9.9] },
    { event: 'resume', step: 251, time: 1000 },
    { event: 'stage', step: 251, ctx: 128, batch: 16, repeat_share: 0.5, time: 1001 },
    { event: 'stage', step: 2000, ctx: 256, batch: 8, repeat_share: 0.25, synthetic_share: 0.125, time: 4600 },
    { event: 'stopped', step: 2500, time: 5500 },
    { event: 'resume', step: 2500, time: 90000 },
    { step: 3000, tokens: 6144000, train_s: 7200, vanilla_repeat: [9.5, 3.3], myopic_repeat: [9.8, 9.1], time: 92700 },
  ];
  fs.writeFileSync(path.join(train, 'log.jsonl'), log.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const exps = path.join(TMP, `${name}-exps`);
  for (const set of ['sotu-1861-1945', 'kjv']) {
    fs.mkdirSync(path.join(exps, set), { recursive: true });
    fs.writeFileSync(path.join(exps, set, 'experiment.json'), JSON.stringify(experiment(name)));
  }
  const old = path.join(TMP, `${name}-old.json`);
  fs.writeFileSync(old, JSON.stringify(evalJson(3.0, 6.0)));
  return { model, train, exps, old };
}

function card(args: string[]): string {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'tools/model-card.ts'), ...args], { cwd: ROOT, stdio: 'pipe' });
  return fs.readFileSync(path.join(args[args.indexOf('--model') + 1], 'README.md'), 'utf8');
}

describe('tools/model-card.ts', () => {
  it('writes every figure from its source file, with the derived ones computed correctly', () => {
    const f = fixture('fam-6l');
    const text = card(['--model', f.model, '--arch', 'gpt2', '--train', f.train, '--experiments', f.exps, '--old', `old-8l=${f.old}`]);
    // The slice line tests/default-model.test.ts parses.
    expect(text).toMatch(/^Validation-slice loss \(tests\/fixtures\/val-slice-8k\.bin\): 4\.5679 nats\/token/m);
    // State of the Union + Brown: (4*1000 + 5*3000) / (4000 + 9000) = 1.4615 nats/byte; the old model's 21000 / 13000 = 1.6154.
    expect(text).toContain('| State of the Union + Brown | | 1.4615 | 1.6154 |');
    expect(text).toContain('| State of the Union | 4.0000 | 1.0000 | 0.7500 |');
    expect(text).toContain('a drop of **6.2500**');
    // Samples as the evaluation wrote them, a table cell's bar escaped.
    expect(text).toContain('| "In the year" | " 1861, 1861 \\| x" | " the" |');
    expect(text).toContain('6,144,000 tokens per model (3,000 steps), 2.00 hours');
    // Wall time: two stamped process spans, 4,500 s + 2,700 s, not the gap between them; the first records had no clock.
    expect(text).toContain('wall time 2.00 hours from step 251 on (earlier log records carry no clock)');
    // The resume's repeated stage record is not a stage change.
    expect(text.match(/^\| [0-9,]+ \| (128|256) \| /gm)).toEqual(['| 0 | 128 | ', '| 2,000 | 256 | ']);
    // Matching prompts per input kind: P1 and P3 for State of the Union, P2 and P4 for King James.
    const sotu = text.slice(text.indexOf('**State of the Union'), text.indexOf('**King James'));
    expect(sotu).toContain('| P1 | +0.100 [0.050, 0.500] | yes |');
    expect(sotu).toContain('| P2 | +0.200 [0.050, 0.500] | no |');
    expect(sotu).toContain('| P1 − P2 | +0.200 [0.100, 0.300] | 5.0e-4 | 0.0030 |');
    const kjv = text.slice(text.indexOf('**King James'));
    expect(kjv).toContain('| P2 | +0.200 [0.050, 0.500] | yes |');
    expect(kjv).toContain('| P1 | +0.900 [0.800, 1.000] | +0.950 [0.850, 1.050] |');
    expect(text).toContain('Its myopic twin [`fam-6l-myopic`](../fam-6l-myopic/README.md)');
  });

  it('reads the myopic twin\'s own row of the experiments and links back to its model', () => {
    const f = fixture('fam-6l');
    const twinDir = path.join(TMP, 'fam-6l-myopic');
    fs.cpSync(f.model, twinDir, { recursive: true });
    const text = card(['--model', twinDir, '--arch', 'gpt2', '--train', f.train, '--experiments', f.exps]);
    expect(text).toMatch(/^The myopic twin of \[`fam-6l`\]\(\.\.\/fam-6l\/README\.md\): a small GPT-2-layout transformer/m);
    expect(text).toContain('| P1 | -0.100 [0.050, 0.500] | yes |');
  });

  it('names the models a continued run started from, and stops the training figures at the exported step', () => {
    const f = fixture('fam-8l');
    const logFile = path.join(f.train, 'log.jsonl');
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    lines[0] = { ...lines[0], threads: 1, args: { eval_every: 100 }, init: { vanilla: '/x/old-8l/onnx/model.onnx', myopic: '/x/old-8l-myopic/onnx/model.onnx' } };
    // A later step than the one exported: its tokens, repeat figures and stage must not reach the card.
    lines.splice(2, 0, { event: 'resume', step: 251, time: 1000, args: { parallel_twins: true } });
    lines.push({ event: 'resume', step: 3000, time: 99000, args: {} });
    lines.push({ event: 'stage', step: 3100, ctx: 256, batch: 8, repeat_share: 0, synthetic_share: 0, time: 93000 });
    lines.push({ step: 3200, tokens: 9999999, train_s: 9000, vanilla_repeat: [1, 1], myopic_repeat: [1, 1], time: 93500 });
    fs.writeFileSync(logFile, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const weights = path.join(TMP, 'fam-8l-weights');
    fs.mkdirSync(weights, { recursive: true });
    fs.writeFileSync(path.join(weights, 'step.json'), JSON.stringify({ step: 3000, tokens: 6144000 }));
    const text = card(['--model', f.model, '--arch', 'gpt2', '--train', f.train, '--experiments', f.exps, '--weights', weights]);
    expect(text).toContain('continuing `old-8l` (the earlier bundled default model');
    expect(text).toContain('continuing its own predecessor');
    expect(text).not.toContain('from scratch');
    expect(text).toContain('6,144,000 tokens per model (3,000 steps; the exported weights are those of this step');
    expect(text).not.toContain('9,999,999');
    expect(text).toContain('3 resumes from checkpoints');
    expect(text).toContain('evaluation every 100 steps');
    expect(text).toContain('one twin after the other until step 251, then the twins at once on two threads (`--parallel-twins`)');
    expect(text.match(/^\| [0-9,]+ \| (128|256) \| /gm)).toEqual(['| 0 | 128 | ', '| 2,000 | 256 | ']);
    const twinDir = path.join(TMP, 'fam-8l-myopic');
    fs.cpSync(f.model, twinDir, { recursive: true });
    expect(card(['--model', twinDir, '--arch', 'gpt2', '--train', f.train, '--experiments', f.exps])).toContain('continuing `old-8l-myopic` (the earlier bundled myopic twin');
  });

  it('names the commit of a bundled model a run continued on the same tokenizer, and refuses it for a run from scratch', () => {
    const f = fixture('fam-again');
    const logFile = path.join(f.train, 'log.jsonl');
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const fromScratch = card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments']);
    let err = '';
    try {
      card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments', '--continues', 'c63b5c6']);
    } catch (e) {
      err = String((e as { stderr?: Buffer }).stderr);
    }
    expect(err).toContain('--continues c63b5c6: ' + logFile + ' names no --init-from models');
    expect(fromScratch).toContain('from scratch');
    lines[0] = { ...lines[0], init: { vanilla: '/x/fam-again/onnx/model.onnx', myopic: '/x/fam-again-myopic/onnx/model.onnx' } };
    fs.writeFileSync(logFile, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const text = card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments', '--continues', 'c63b5c6']);
    expect(text).toContain('continuing `fam-again` as bundled at commit c63b5c6 (its card, with its own training: `git show c63b5c6:models/fam-again/README.md`), on the same tokenizer');
    expect(text).not.toContain('50,257');
    expect(text).not.toContain('from scratch');
    expect(() => card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments', '--continues', 'main'])).toThrow();
  });

  it('writes an interim card without experiments only when asked to, with its note under the title', () => {
    const f = fixture('fam-rnn');
    const text = card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments', '--note', 'Interim: step 3,000.']);
    expect(text).toMatch(/^# fam-rnn\n\n\*\*Interim: step 3,000\.\*\*$/m);
    expect(text).toContain('None were run for this model');
    expect(text).not.toContain('**State of the Union (held-out');
    expect(text).toContain('windows of the model\'s context (every window of each source)');
    // An evaluation given --ctx (eval.json's sources.ctx) says so, and its command carries the flag.
    const ev = JSON.parse(fs.readFileSync(path.join(f.model, 'eval.json'), 'utf8'));
    fs.writeFileSync(path.join(f.model, 'eval.json'), JSON.stringify({ ...ev, sources: { ...ev.sources, ctx: 256 } }));
    const at256 = card(['--model', f.model, '--arch', 'rwkv', '--train', f.train, '--no-experiments']);
    expect(at256).toContain('--skip-val --ctx 256 --json DIR/eval.json`), windows of 256 tokens (every window of each source); the config\'s context is 512, at which the validation slice below is read.');
    // Without --old, the loss table has three columns in every row.
    expect(at256).toContain('| State of the Union | 4.0000 | 1.0000 |\n');
    expect(at256).toContain('`tests/rwkv-bundled.test.ts` recomputes it');
    let err = '';
    try {
      card(['--model', f.model, '--arch', 'rwkv', '--train', f.train]);
    } catch (e) {
      err = String((e as { stderr?: Buffer }).stderr);
    }
    expect(err).toContain('--experiments is required (or --no-experiments)');
  });

  it('names the missing file or the model an experiment lacks', () => {
    const f = fixture('fam-x');
    const run = (args: string[]) => {
      try {
        card(args);
        return '';
      } catch (e) {
        return String((e as { stderr?: Buffer }).stderr);
      }
    };
    expect(run(['--model', f.model, '--arch', 'gpt2', '--train', path.join(TMP, 'nowhere'), '--experiments', f.exps])).toContain(path.join(TMP, 'nowhere', 'log.jsonl'));
    expect(run(['--model', f.model, '--arch', 'llama', '--train', f.train, '--experiments', f.exps])).toContain("--arch: gpt2 or rwkv, got 'llama'");
    const other = fixture('fam-y');
    expect(run(['--model', f.model, '--arch', 'gpt2', '--train', f.train, '--experiments', other.exps])).toContain('model fam-x is not in the experiment (fam-y, fam-y-myopic)');
  });
});
