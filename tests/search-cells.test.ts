// Racing cells (the search's cheap engine path) equal what the full analysis computes for the same prompt and input:
// the with-prompt loss of every input token, the no-prompt loss at the natural positions and at the prompt's.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { DEFAULT_MODEL_DIR } from '../server/model/registry.js';
import { promptContinuations, raceCells } from '../server/search/race-cells.js';
import { modelOpener } from './helpers/models.js';

const models = modelOpener('pl-search-cells-');
const FIX = path.resolve('tests/fixtures/models');
const prompts = ['Once upon a time there was a {{who|little dog}}.', 'The weather report for today:', 'A'];
const inputs = ['The dog ran to the park and played with a ball.', 'Rain', 'It was sunny and warm, and everyone went outside to play in the garden all day long.'];

const short = { prompts: ['Once {{who|a dog}}.', 'Today:', 'A'], inputs: ['The dog ran.', 'Rain', 'It was sunny.'] };

describe.each([
  ['the bundled model (KV cache: X continues the prompt\'s keys/values)', DEFAULT_MODEL_DIR, { prompts, inputs }],
  ['a graph without past inputs (whole sequences; a 64-token context)', path.join(FIX, 'gpt2-opset14'), short],
])('racing cells on %s', (_name, dir, { prompts, inputs }) => {
  it('equal the full analysis: with-prompt losses, natural and shifted no-prompt losses, to 1e-4', async () => {
    const { m, tok } = models.open(dir);
    clearRunCaches();
    const cells = await raceCells(m, tok, { prompts, inputs, natural: true, shifted: true });
    expect(cells.withPrompt).toHaveLength(prompts.length);
    for (let k = 0; k < prompts.length; k++) {
      for (let i = 0; i < inputs.length; i++) {
        clearRunCaches();
        const r = await analyze(m, tok, { modelId: 'x', prompt: prompts[k], input: inputs[i], options: { spanKnockouts: false } });
        const toks = r.input.tokens;
        expect(cells.withPrompt[k][i]).toHaveLength(toks.length);
        toks.forEach((t, j) => {
          expect(Math.abs(cells.withPrompt[k][i][j] - t.lossWithPrompt)).toBeLessThan(1e-4);
          expect(Math.abs(cells.natural![i][j] - t.lossNoPromptNatural)).toBeLessThan(1e-4);
          expect(Math.abs(cells.shifted![k][i][j] - t.lossNoPrompt)).toBeLessThan(1e-4);
        });
      }
    }
  });
});

describe('racing cells', () => {
  it('batch sizes do not change the numbers (a memory bound of one row per call gives the same losses)', async () => {
    const { m, tok } = models.open(DEFAULT_MODEL_DIR);
    // Inputs of similar lengths, so that the default batches them together.
    const similar = ['The dog ran to the park.', 'The cat sat on the mat.', 'A bird flew over the house.', 'The sun rose over the hill.'];
    const a = await raceCells(m, tok, { prompts, inputs: similar, natural: true, shifted: false });
    const b = await raceCells(m, tok, { prompts, inputs: similar, natural: true, shifted: false, maxBatchMB: 1 });
    for (let k = 0; k < prompts.length; k++) for (let i = 0; i < similar.length; i++) a.withPrompt[k][i].forEach((x, j) => expect(Math.abs(x - b.withPrompt[k][i][j])).toBeLessThan(1e-4));
    for (let i = 0; i < similar.length; i++) a.natural![i].forEach((x, j) => expect(Math.abs(x - b.natural![i][j])).toBeLessThan(1e-4));
    expect(b.calls).toBeGreaterThan(a.calls);
  });

  it('refuses a prompt and input longer than the context, naming the input', async () => {
    const { m, tok } = models.open(DEFAULT_MODEL_DIR);
    const long = 'word '.repeat(m.config.nCtx + 10);
    await expect(raceCells(m, tok, { prompts: ['a'], inputs: ['b', long], natural: true, shifted: false })).rejects.toMatchObject({ name: 'InputError', field: 'inputs.1' });
  });

  it('continuations are seeded: the same seed gives the same samples, and the top next tokens are probabilities', async () => {
    const { m, tok } = models.open(DEFAULT_MODEL_DIR);
    const a = await promptContinuations(m, tok, { prompt: 'Once upon a time', count: 2, tokens: 5, seed: 3, topK: 4 });
    const b = await promptContinuations(m, tok, { prompt: 'Once upon a time', count: 2, tokens: 5, seed: 3, topK: 4 });
    expect(a).toEqual(b);
    expect(a.continuations).toHaveLength(2);
    expect(a.nextTokens).toHaveLength(4);
    expect(a.nextTokens[0].prob).toBeGreaterThanOrEqual(a.nextTokens[3].prob);
    expect(a.nextTokens.reduce((s, t) => s + t.prob, 0)).toBeLessThanOrEqual(1 + 1e-6);
  });
});
