// The bundled RWKV pair: on the default model's tokenizer (so it runs next to it), its card's validation-slice loss
// is what the recurrent engine measures, and an analysis keeps the reset identity.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRecurrent } from '../server/analysis/recurrent-analyze.js';
import { RecurrentModel } from '../server/engine/recurrent-model.js';
import { BUNDLED_MODELS, ModelRegistry } from '../server/model/registry.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { targetLosses } from '../shared/metrics/loss.js';
import { DEFAULT_DIR, RWKV_DIR, RWKV_ID, RWKV_TWIN_DIR, RWKV_TWIN_ID } from './helpers/bundled.js';

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
