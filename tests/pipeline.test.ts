// The analysis pipeline's stages, variants by id, auto spans, the no-prompt cache and errors across the worker.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stagesOf, type PartialEvent } from '../shared/analysis.js';
import { analyze } from '../server/analysis/analyze.js';
import { noPromptCache } from '../server/analysis/execute.js';
import { AUTO_WORDS_MAX_TOKENS, planAnalysis, variantId } from '../server/analysis/plan.js';
import { EngineClient } from '../server/worker/engine-client.js';
import { RemoteError } from '../server/worker/protocol.js';
import { DEFAULT_MODEL, FIXTURES } from './helpers/golden.js';
import { modelOpener } from './helpers/models.js';

const { open, cacheDir } = modelOpener('pl-pipeline-');

/** Largest absolute difference between two JSON-like values with the same structure (numbers compared, rest equal). */
function maxDiff(a: unknown, b: unknown, at = ''): number {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, `${at}.length`).toBe(b.length);
    return a.reduce((m: number, x, i) => Math.max(m, maxDiff(x, b[i], `${at}[${i}]`)), 0);
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    expect(Object.keys(a).sort(), `${at} keys`).toEqual(Object.keys(b).sort());
    return Object.keys(a).reduce((m, k) => Math.max(m, maxDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`)), 0);
  }
  expect(a, at).toEqual(b);
  return 0;
}

const SENTENCES = 'The river runs north. Boats carry grain to the city. Every spring the water rises high. ' + 'Farmers plant rice on the banks. ';

describe('staged results', () => {
  const { m, tok } = open(path.join(FIXTURES, 'gpt2-opset14'));

  it('delivers headline, then depth, then spans, each equal to the finished result to 1e-6', async () => {
    const events: PartialEvent[] = [];
    let resolvedAfter = -1;
    const result = await analyze(m, tok, { modelId: 'fx', prompt: 'One two three. Four five. ', input: 'six seven eight' }, { onStage: (e) => events.push(e) });
    resolvedAfter = events.length;
    expect(events.map((e) => e.stage)).toEqual(['headline', 'depth', 'spans']);
    expect(resolvedAfter).toBe(3);
    const full = stagesOf(result);
    for (const e of events) expect(maxDiff(e.data, full[e.stage], e.stage)).toBeLessThanOrEqual(1e-6);
  });

  it('the headline waits for one no-prompt run only: the natural-position reference comes with the depth stage', async () => {
    const runs: { natural: boolean }[] = [];
    const atStage: Record<string, number> = {};
    const run = m.run.bind(m);
    m.run = (req) => {
      // The natural-position run: [BOS] + X at positions 0..n, no prompt and no past.
      runs.push({ natural: !req.past && !!req.positionIds && req.positionIds[0].every((x, i) => x === i) });
      return run(req);
    };
    try {
      const result = await analyze(m, tok, { modelId: 'fx', prompt: 'Nine ten eleven. ', input: 'twelve thirteen fourteen fifteen' }, { onStage: (e) => (atStage[e.stage] = runs.length) });
      const natural = runs.findIndex((r) => r.natural);
      expect(natural).toBeGreaterThanOrEqual(atStage.headline);
      expect(natural).toBeLessThan(atStage.depth);
      expect(runs.filter((r) => r.natural)).toHaveLength(1);
      const depth = stagesOf(result).depth;
      expect(depth.natural.lossNoPrompt).toEqual(result.input.tokens.map((t) => t.lossNoPromptNatural));
      result.input.tokens.forEach((t, k) => expect(t.benefitNatural).toBeCloseTo(t.lossNoPromptNatural - t.lossWithPrompt, 12));
      expect(result.summary.meanBenefitNatural).toBeCloseTo(result.summary.meanLossNoPromptNatural - result.summary.meanLossWithPrompt, 12);
    } finally {
      m.run = run;
    }
  });

  it('a one-token input still delivers all three stages (no knockouts: zeros, pi null)', async () => {
    const events: PartialEvent[] = [];
    await analyze(m, tok, { modelId: 'fx', prompt: 'Hello there. ', input: 'x' }, { onStage: (e) => events.push(e) });
    expect(events.map((e) => e.stage)).toEqual(['headline', 'depth', 'spans']);
    const depth = events[1].data as { depthCurve: number[]; precomputationShare: number | null };
    expect(depth.depthCurve.every((d) => d === 0)).toBe(true);
    expect(depth.precomputationShare).toBeNull();
  });

  it('looks variants up by id: the depth curve is D(k) of variant depth@k, the profile K of window@l', async () => {
    const result = await analyze(m, tok, { modelId: 'fx', prompt: 'Alpha beta gamma. Delta. ', input: 'one two three four' });
    const L = result.model.nLayer;
    const base = result.variants.find((v) => v.kind === 'with-prompt')!;
    expect(base.meanLoss).toBeCloseTo(result.summary.meanLossWithPrompt, 12);
    // The depth variants are listed first, in k order, then the windows; K = mean loss over x2..xn minus the open run's.
    const openRead = result.input.tokens.slice(1).reduce((a, t) => a + t.lossWithPrompt, 0) / (result.n - 1);
    const depth = result.variants.filter((v) => v.kind === 'depth');
    expect(depth.map((v) => v.blockedLayers[0])).toEqual(Array.from({ length: L }, (_, k) => k));
    depth.forEach((v, k) => expect(v.meanLoss - openRead).toBeCloseTo(result.depthCurve[k], 9));
    const windows = result.variants.filter((v) => v.kind === 'window');
    windows.forEach((v, l) => expect(v.meanLoss - openRead).toBeCloseTo(result.layerProfile[l].k, 9));
    expect(variantId.depth(3)).toBe('depth@3');
  });

  it('runs variants that block the same edges once: the top window is D(L-2), a whole-prompt span is D(0) and D(1)', async () => {
    let rows = 0;
    const run = m.run.bind(m);
    m.run = (req) => {
      if (req.targets && req.attentionBias) rows += req.tokens.length;
      return run(req);
    };
    try {
      // One marked segment covering the whole prompt: its span knockouts block what depth@0 and depth@1 block.
      const result = await analyze(m, tok, { modelId: 'fx', prompt: '{{all: Alpha beta gamma delta.}}', input: 'one two three four' });
      const L = result.model.nLayer;
      const ko = result.variants.filter((v) => !['with-prompt', 'no-prompt', 'no-prompt-natural'].includes(v.kind));
      const whole = (v: (typeof ko)[number]) => !v.blockedSpan || (v.blockedSpan[0] === 0 && v.blockedSpan[1] === result.p);
      const distinct = new Set(ko.map((v) => `${v.blockedLayers.join(',')}|${whole(v) ? 'all' : v.blockedSpan!.join(':')}`));
      expect(ko.length).toBe(2 * L + 2);
      expect(distinct.size).toBeLessThanOrEqual(ko.length - 3);
      expect(rows).toBe(distinct.size);
      const window = result.layerProfile[L - 1];
      expect(window.layers).toEqual([L - 2, L - 1]);
      expect(window.k).toBe(result.depthCurve[L - 2]);
      expect(result.spans).toHaveLength(1);
      expect(result.spans[0].kAllLayers).toBe(result.depthCurve[0]);
      expect(result.spans[0].kFromLayer1).toBe(result.depthCurve[1]);
    } finally {
      m.run = run;
    }
  });
});

describe('auto spans', () => {
  // The bundled model: a GPT-2-style byte-level BPE tokenizer and a context with room for a prompt of several sentences.
  const { m, tok } = open(DEFAULT_MODEL);

  it('cuts a short prompt into words', () => {
    const plan = planAnalysis(m.config, tok, { prompt: 'A short prompt here. ', input: 'x y' });
    expect(plan.split).toBe('words');
    expect(plan.refine).toBe(false);
  });

  it('uses marked segments when the prompt has them', () => {
    const plan = planAnalysis(m.config, tok, { prompt: 'Be {{tone|kind}} and {{len|brief}}. ', input: 'x y' });
    expect(plan.split).toBe('marked');
    expect(plan.spans.map((s) => s.label)).toEqual(['tone', 'len']);
  });

  it('cuts a long prompt into sentences, then the sentences that matter most into words naming their parent', async () => {
    const prompt = SENTENCES.repeat(2);
    const plan = planAnalysis(m.config, tok, { prompt, input: 'The boats' });
    expect(plan.p).toBeGreaterThan(AUTO_WORDS_MAX_TOKENS);
    expect(plan.split).toBe('sentences');
    expect(plan.spans.map((s) => s.label.trim())).toEqual([...SENTENCES.split(/(?<=\.) /).filter(Boolean), ...SENTENCES.split(/(?<=\.) /).filter(Boolean)].map((s) => s.trim()));
    const r = await analyze(m, tok, { modelId: 'fx', prompt, input: 'The boats' });
    const coarse = r.spans.filter((s) => s.parent === undefined);
    const fine = r.spans.filter((s) => s.parent !== undefined);
    expect(coarse).toHaveLength(plan.spans.length);
    expect(fine.length).toBeGreaterThan(0);
    for (const w of fine) {
      const parent = r.spans[w.parent!];
      expect(parent.parent).toBeUndefined();
      expect(w.tokenStart).toBeGreaterThanOrEqual(parent.tokenStart);
      expect(w.tokenEnd).toBeLessThanOrEqual(parent.tokenEnd);
    }
    // The refined sentences are among the most important ones by |K at all layers|.
    const ranked = [...coarse.keys()].sort((a, b) => Math.abs(coarse[b].kAllLayers) - Math.abs(coarse[a].kAllLayers));
    const parents = new Set(fine.map((w) => w.parent!));
    for (const p of parents) expect(ranked.indexOf(p)).toBeLessThan(3);
  });

  it('cuts a long prompt with several lines into lines first', () => {
    const prompt = SENTENCES.split('. ').join('.\n').repeat(2);
    const plan = planAnalysis(m.config, tok, { prompt, input: 'x' });
    expect(plan.split).toBe('lines');
  });

  it('keeps a requested split mode as asked (words on a long prompt)', () => {
    const plan = planAnalysis(m.config, tok, { prompt: SENTENCES.repeat(2), input: 'x', options: { spans: 'words' } });
    expect(plan.split).toBe('words');
    expect(plan.refine).toBe(false);
  });
});

describe('no-prompt runs are cached per model, input and positions', () => {
  const { m, tok } = open(path.join(FIXTURES, 'gpt2-opset14'));

  it('a second prompt of the same length on the same input reuses them, with identical numbers', async () => {
    noPromptCache.clear();
    const a = await analyze(m, tok, { modelId: 'fx', prompt: 'Red green blue. ', input: 'the sky is' });
    const b = await analyze(m, tok, { modelId: 'fx', prompt: 'Tan brown pink. ', input: 'the sky is' });
    expect(b.p).toBe(a.p);
    // Both no-prompt runs (at the prompt's positions and at the natural ones) come from the cache.
    expect(b.timings.engineCalls).toBe(a.timings.engineCalls - 2);
    expect(b.input.tokens.map((t) => t.lossNoPrompt)).toEqual(a.input.tokens.map((t) => t.lossNoPrompt));
    expect(b.input.tokens.map((t) => t.topNoPrompt)).toEqual(a.input.tokens.map((t) => t.topNoPrompt));
    // A fresh computation gives the same numbers as the cached ones.
    noPromptCache.clear();
    const c = await analyze(m, tok, { modelId: 'fx', prompt: 'Tan brown pink. ', input: 'the sky is' });
    expect(c.timings.engineCalls).toBe(a.timings.engineCalls);
    expect(c.input.tokens.map((t) => t.lossNoPrompt)).toEqual(b.input.tokens.map((t) => t.lossNoPrompt));
  });

  it('another input is computed afresh; another prompt length only at its own positions', async () => {
    noPromptCache.clear();
    const a = await analyze(m, tok, { modelId: 'fx', prompt: 'Red green blue. ', input: 'the sky is' });
    const other = await analyze(m, tok, { modelId: 'fx', prompt: 'Red green blue. ', input: 'the sea was' });
    const longer = await analyze(m, tok, { modelId: 'fx', prompt: 'Red green blue and gold. ', input: 'the sky is' });
    expect(other.timings.engineCalls).toBe(a.timings.engineCalls);
    expect(longer.p).toBeGreaterThan(a.p);
    expect(longer.input.tokens.map((t) => t.position)).not.toEqual(a.input.tokens.map((t) => t.position));
    // The natural-position run does not depend on the prompt: the longer prompt reuses it, identical.
    expect(longer.input.tokens.map((t) => t.lossNoPromptNatural)).toEqual(a.input.tokens.map((t) => t.lossNoPromptNatural));
    // Two inputs' natural runs, and three (input, length) runs at the prompt's positions.
    expect(noPromptCache.size).toBe(5);
  });
});

describe('errors across the worker boundary', () => {
  it('an input error keeps its field, and an unknown span mode is an input error naming options.spans', async () => {
    const engine = new EngineClient({ cacheDir, threads: 1 });
    try {
      const dir = path.join(FIXTURES, 'gpt2-opset14');
      const bad = engine.task('analyze', { modelDir: dir, modelId: 'fx', prompt: 'plain prompt', input: 'x', options: { spans: 'marked' } }).promise;
      await expect(bad).rejects.toBeInstanceOf(RemoteError);
      await expect(bad).rejects.toMatchObject({ name: 'InputError', field: 'options.spans', isInputError: true });
      const long = engine.task('analyze', { modelDir: dir, modelId: 'fx', prompt: 'word', input: 'word '.repeat(40) }).promise;
      await expect(long).rejects.toMatchObject({ field: 'input', message: expect.stringMatching(/context of 64/) });
    } finally {
      await engine.close();
    }
  });
});

describe('layer entry: knockouts computed from their first blocked layer on', () => {
  const cases = ['gpt2-past-opset14', 'gpt2-opset14', 'hf-tiny-gpt-neox', 'hf-tiny-llama', 'llama-tiny-gqa-rotary'];
  for (const name of cases) {
    it(`${name}: every variant equals the full-depth variant to 1e-5, and calls really start above layer 0`, async () => {
      const { m, tok } = open(path.join(FIXTURES, name));
      expect(m.layerEntryProblem()).toBeNull();
      const entries: number[] = [];
      const run = m.run.bind(m);
      m.run = (req) => {
        if (req.targets) entries.push(req.entry?.layer ?? 0);
        return run(req);
      };
      const args = { modelId: name, prompt: 'One two. Three four five. ', input: 'six seven eight', options: { layerWindow: 0 }, maxRowsPerCall: 2 };
      const full = await analyze(m, tok, { ...args, layerEntry: false });
      expect(entries.every((e) => e === 0)).toBe(true);
      entries.length = 0;
      const entered = await analyze(m, tok, { ...args, layerEntry: true });
      expect(Math.max(...entries)).toBe(m.config.nLayer - 1);
      expect(entered.variants.map((v) => v.label)).toEqual(full.variants.map((v) => v.label));
      entered.variants.forEach((v, i) => expect(Math.abs(v.meanLoss - full.variants[i].meanLoss)).toBeLessThanOrEqual(1e-5));
      entered.depthCurve.forEach((d, k) => expect(Math.abs(d - full.depthCurve[k])).toBeLessThanOrEqual(1e-5));
      entered.spans.forEach((s, k) => expect(Math.abs(s.kFromLayer1 - full.spans[k].kFromLayer1)).toBeLessThanOrEqual(1e-5));
      m.run = run;
    });
  }

  it('an fp16 graph (float32 at its boundary) takes layer entry too, within its precision of full depth', async () => {
    const { m, tok } = open(path.join(FIXTURES, 'gpt2-tiny-fp16'));
    expect(m.layerEntryProblem()).toBeNull();
    const args = { modelId: 'fp16', prompt: 'One two. Three four five. ', input: 'six seven eight', options: { layerWindow: 0 }, maxRowsPerCall: 2 };
    const full = await analyze(m, tok, { ...args, layerEntry: false });
    const entered = await analyze(m, tok, { ...args, layerEntry: true });
    // float16 keeps about 3 decimal digits; blocked and open runs differ by accumulation order at that level.
    entered.variants.forEach((v, i) => expect(Math.abs(v.meanLoss - full.variants[i].meanLoss)).toBeLessThanOrEqual(2e-3));
    expect(entered.summary.identityResidual).toBeLessThanOrEqual(2e-3);
  });

  it('the engine starts at the given stream: the right one reproduces the full run, another one does not; skipped hooks are empty', async () => {
    const { m } = open(path.join(FIXTURES, 'gpt2-opset14'));
    const seq = [0, 5, 6, 7, 8, 9];
    const targets = [[...seq.slice(1), 1]];
    const hooks = Array.from({ length: m.config.nLayer }, (_, l) => `blocks.${l}.hook_resid_pre`);
    const variant = { hooks, bias: true, rows: true, targets: true, entry: true };
    const full = await m.run({ tokens: [seq], hooks, variant, targets, logits: false });
    const resid = full.cache.get('blocks.2.hook_resid_pre')!;
    const same = await m.run({ tokens: [seq], hooks, targets, logits: false, entry: { layer: 2, resid }, variant });
    const zero = await m.run({ tokens: [seq], targets, logits: false, entry: { layer: 2, resid: { data: new Float32Array(resid.data.length), dims: resid.dims } }, variant });
    const diff = (a: Float32Array, b: Float32Array) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
    expect(diff(same.targetLogprobs!.data, full.targetLogprobs!.data)).toBeLessThanOrEqual(1e-5);
    expect(diff(zero.targetLogprobs!.data, full.targetLogprobs!.data)).toBeGreaterThan(0.1);
    expect(same.cache.get('blocks.0.hook_resid_pre')!.data.length).toBe(0);
    expect(same.cache.get('blocks.2.hook_resid_pre')!.dims).toEqual(resid.dims);
    await expect(m.run({ tokens: [seq], entry: { layer: 2, resid: { data: new Float32Array(3), dims: [1, 1, 3] } }, variant })).rejects.toThrow(/entry.resid: dims \[1,1,3\] must be \[B=1, T=6, d\]/);
  });
});

describe('one copy of the weights', () => {
  it('a request that the analysis graph covers (an attention pattern after an analysis) runs on its session', async () => {
    const { m, tok } = open(path.join(FIXTURES, 'gpt2-past-opset14'));
    await analyze(m, tok, { modelId: 'fx', prompt: 'One two three. ', input: 'four five' });
    const sessions = (m as unknown as { sessions: Map<string, unknown> }).sessions;
    const before = sessions.size;
    expect(before).toBe(1);
    const r = await m.run({ tokens: [[0, 5, 6, 7]], hooks: ['blocks.1.attn.hook_pattern'] });
    expect(sessions.size).toBe(before);
    expect(r.cache.get('blocks.1.attn.hook_pattern')!.dims).toEqual([1, m.config.nHead, 4, 4]);
    // A hook the analysis graph does not offer needs a graph (and session) of its own.
    await m.run({ tokens: [[0, 5, 6, 7]], hooks: ['blocks.1.hook_resid_mid'] });
    expect(sessions.size).toBe(before + 1);
  });
});
