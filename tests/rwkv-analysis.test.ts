// The recurrent analysis: state-reset knockouts on rwkv-tiny, the reset identity, span deletion and the result schema.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRecurrent } from '../server/analysis/recurrent-analyze.js';
import { RecurrentModel } from '../server/engine/recurrent-model.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { AnalysisResultSchema } from '../server/report/schema.js';
import { tokenLosses } from '../shared/metrics/loss.js';
import type { PartialEvent } from '../shared/analysis.js';

const DIR = path.resolve(__dirname, 'fixtures/models/rwkv-tiny');
const m = RecurrentModel.load(DIR, { threads: 1 });
const tok = loadTokenizer(m.md);
afterAll(() => m.release());

const PROMPT = 'Say it twice: ';
const INPUT = 'Hello, hello, world!';

async function oneCallLosses(ids: number[], from: number): Promise<number[]> {
  const r = await m.run({ tokens: [ids] });
  const T = ids.length;
  const logits = { data: r.logits!.data, dims: [T, r.logits!.dims[2]] };
  return tokenLosses(logits, ids, Array.from({ length: T - from }, (_, k) => from + k));
}

describe('recurrent analysis', () => {
  it('measures losses equal to single-call runs of [BOS]+P+X and [BOS]+X, and the reset identity D(0) = mean B', async () => {
    const stages: string[] = [];
    const r = await analyzeRecurrent(m, tok, { modelId: 'rwkv-tiny', prompt: PROMPT, input: INPUT }, { onStage: (e: PartialEvent) => stages.push(e.stage) });
    expect(stages).toEqual(['headline', 'depth', 'spans']);
    expect(r.model.architecture).toBe('rwkv');
    const bos = tok.bosId;
    const P = tok.encode(PROMPT);
    const X = tok.encode(INPUT);
    const withOne = await oneCallLosses([bos, ...P, ...X], 1 + P.length);
    const noOne = await oneCallLosses([bos, ...X], 1);
    r.input.tokens.forEach((t, k) => {
      expect(Math.abs(t.lossWithPrompt - withOne[k])).toBeLessThan(1e-4);
      expect(Math.abs(t.lossNoPrompt - noOne[k])).toBeLessThan(1e-4);
    });
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
    expect(Math.abs(r.depthCurve[0] - r.summary.meanBenefitRead)).toBeLessThan(1e-4);
    expect(r.depthCurve).toHaveLength(r.model.nLayer + 1);
    expect(r.depthCurve[r.model.nLayer]).toBe(0);
    expect(r.summary.precomputationShare).toBeCloseTo(r.depthCurve[1] / r.depthCurve[0], 10);
    // The prompt is a real benefit or harm on this random net, so the numbers are not trivially zero.
    expect(Math.abs(r.summary.meanBenefitRead)).toBeGreaterThan(1e-3);
    for (const l of r.layers) {
      expect(l.state!.hook).toBe(`blocks.${l.layer}.hook_state`);
      expect(l.state!.boundaryChange).toBeGreaterThan(0);
      expect(l.attention).toBe(0);
    }
    expect(AnalysisResultSchema.safeParse(r).success).toBe(true);
  });

  it('gives a span covering the whole prompt the same K as resetting every layer (deleting it leaves [BOS] alone)', async () => {
    const r = await analyzeRecurrent(m, tok, { modelId: 'rwkv-tiny', prompt: `{{all|${PROMPT}}}`, input: INPUT });
    expect(r.spans).toHaveLength(1);
    expect(Math.abs(r.spans[0].kAllLayers - r.depthCurve[0])).toBeLessThan(1e-4);
    expect(r.variants.filter((v) => v.kind === 'span-all')).toHaveLength(1);
  });

  it('runs no resets for a one-token input (x_1 is predicted before X starts) and still reports its benefit', async () => {
    const r = await analyzeRecurrent(m, tok, { modelId: 'rwkv-tiny', prompt: PROMPT, input: 'H' });
    expect(r.n).toBe(1);
    expect(r.depthCurve.every((d) => d === 0)).toBe(true);
    expect(r.summary.precomputationShare).toBeNull();
    expect(r.variants.map((v) => v.kind)).toEqual(['with-prompt', 'no-prompt', 'no-prompt-natural']);
    expect(Math.abs(r.summary.meanBenefit)).toBeGreaterThan(0);
  });
});
