// The bundled RWKV pair: on the default model's tokenizer (so it runs next to it), its card's validation-slice loss
// and repeat test are what the recurrent engine measures, the model copies from its context (issue 21: a second copy
// of a random sequence at least 2 nats/token cheaper than the first) and its myopic twin does not, its card's prompt
// experiments state the committed cells' means and the engine recomputes sample cells, and an analysis keeps the
// reset identity.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRecurrent } from '../server/analysis/recurrent-analyze.js';
import { RecurrentModel } from '../server/engine/recurrent-model.js';
import { BUNDLED_MODELS, ModelRegistry } from '../server/model/registry.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { targetLosses } from '../shared/metrics/loss.js';
import { repeatTest } from '../scripts/lib/lm-eval.js';
import { DEFAULT_DIR, RWKV_DIR, RWKV_ID, RWKV_TWIN_DIR, RWKV_TWIN_ID } from './helpers/bundled.js';
import { expectCardStatesCellMeans, expectCardStatesRepeat, readCardExperiment } from './helpers/model-card.js';

const SLICE = path.resolve(__dirname, 'fixtures/val-slice-8k.bin');
const CARD_LINE = /^Validation-slice loss \(tests\/fixtures\/val-slice-8k\.bin\):\s*\**\s*([0-9]+\.[0-9]+)\s*\**\s*nats\/token/m;
const models = [RWKV_DIR, RWKV_TWIN_DIR].map((d) => RecurrentModel.load(d, { threads: 2 }));
const m = models[0];
afterAll(async () => {
  for (const x of models) await x.release();
});

describe('bundled RWKV model', () => {
  it.each([0, 1])('model %i (vanilla, myopic) is bundled, at most 40 MB, on the default model\'s tokenizer, and its card states the validation-slice loss the engine measures (to 0.01)', async (i) => {
    const m = models[i];
    const DIR = [RWKV_DIR, RWKV_TWIN_DIR][i];
    expect(BUNDLED_MODELS).toContain(DIR);
    expect(fs.statSync(m.md.graphPath).size).toBeLessThanOrEqual(40e6);
    expect(fs.readFileSync(path.join(DIR, 'tokenizer.json')).equals(fs.readFileSync(path.join(DEFAULT_DIR, 'tokenizer.json')))).toBe(true);
    const card = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
    const stated = Number(CARD_LINE.exec(card)![1]);
    const b = fs.readFileSync(SLICE);
    const tokens = Array.from(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    // scripts/eval-model.ts's slice windows: the model's own context (config.json), non-overlapping, 4 to a run.
    const W = m.md.config.nCtx;
    let sum = 0;
    let count = 0;
    for (let w = 0; w + W < tokens.length; w += W * 4) {
      const rows = [0, 1, 2, 3].map((k) => tokens.slice(w + k * W, w + k * W + W + 1)).filter((r) => r.length === W + 1);
      const r = await m.run({ tokens: rows.map((row) => row.slice(0, W)) });
      const V = r.logits!.dims[2];
      rows.forEach((row, k) => {
        for (const x of targetLosses({ data: r.logits!.data.subarray(k * W * V, (k + 1) * W * V), dims: [W, V] }, row.slice(1))) sum += x;
        count += W;
      });
    }
    expect(count).toBe(4096);
    expect(Math.abs(sum / count - stated)).toBeLessThan(0.01);
  }, 120_000);

  it('copies from its context (repeat drop at least 2 nats/token, as its card states) and its myopic twin does not', async () => {
    const tok = loadTokenizer(m.md);
    const v = await repeatTest(m, tok.vocabSize, tok.bosId);
    const t = await repeatTest(models[1], tok.vocabSize, tok.bosId);
    expectCardStatesRepeat(RWKV_DIR, v);
    expect(v.firstCopy - v.secondCopy).toBeGreaterThanOrEqual(2);
    expect(t.firstCopy - t.secondCopy).toBeLessThan(1);
  }, 120_000);

  it('finds the myopic RNN as the RWKV twin (so "Run on both twins" works for it)', () => {
    const reg = new ModelRegistry([], true);
    expect(reg.twinOf(RWKV_ID)?.id).toBe(RWKV_TWIN_ID);
  });

  it('keeps the reset identity on a real prompt and input', async () => {
    const r = await analyzeRecurrent(m, loadTokenizer(m.md), { modelId: RWKV_ID, prompt: 'Fellow-Citizens of the Senate and House of Representatives: ', input: 'The state of the Union is strong.', options: { spanKnockouts: false } });
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
    expect(r.model.architecture).toBe('rwkv');
  }, 120_000);
});

describe.each(['sotu-1861-1945', 'kjv'])('the RWKV card\'s %s experiment', (set) => {
  const e = readCardExperiment(RWKV_DIR, set);

  it('states the mean benefits of the committed cells, over at least 40 inputs', () => {
    expectCardStatesCellMeans(RWKV_DIR, e, [RWKV_ID, RWKV_TWIN_ID]);
  });

  it('has cells that the recurrent engine recomputes', async () => {
    const tok = loadTokenizer(m.md);
    for (const { input, prompt } of [{ input: 0, prompt: 0 }, { input: Math.floor(e.inputs.length / 2), prompt: 1 }]) {
      const cell = e.cells.find((c) => c.model === 0 && c.input === input && c.prompt === prompt)!;
      const r = await analyzeRecurrent(m, tok, { modelId: RWKV_ID, prompt: e.prompts[prompt].text, input: e.inputs[input].text, options: { spanKnockouts: false } });
      expect(Math.abs(r.summary.meanBenefit - cell.meanBenefit!)).toBeLessThan(1e-4);
    }
  }, 300_000);
});
