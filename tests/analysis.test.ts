// Analysis pipeline: memory-bound batching, prefix reuse, edge cases (long prompt, no BOS, empty input).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze } from '../server/analysis/analyze.js';
import { noPromptCache, prefixCache } from '../server/analysis/execute.js';
import { FIXTURES } from './helpers/golden.js';
import { modelOpener } from './helpers/models.js';

const { open } = modelOpener('pl-analysis-');

describe('analysis pipeline', () => {
  const { m, tok } = open(path.join(FIXTURES, 'gpt2-opset14'));

  it('splits the variants into more engine calls under a smaller memory bound, with identical numbers', async () => {
    const args = { modelId: 'fx', prompt: 'One two three four five. ', input: 'six seven' };
    const roomy = await analyze(m, tok, { ...args, maxBatchMB: 512 });
    const tight = await analyze(m, tok, { ...args, maxBatchMB: 2.2 });
    expect(tight.timings.engineCalls).toBeGreaterThan(roomy.timings.engineCalls);
    expect(tight.depthCurve.map((x) => x.toFixed(6))).toEqual(roomy.depthCurve.map((x) => x.toFixed(6)));
    expect(tight.spans.map((s) => s.kAllLayers.toFixed(6))).toEqual(roomy.spans.map((s) => s.kAllLayers.toFixed(6)));
  });

  it('refuses, naming the bound, a variant that cannot fit in memory', async () => {
    await expect(analyze(m, tok, { modelId: 'fx', prompt: 'abc', input: 'def', maxBatchMB: 0.001 })).rejects.toThrow(/over the memory bound/);
  });

  it('handles a prompt much longer than the input', async () => {
    const r = await analyze(m, tok, { modelId: 'fx', prompt: 'a long preamble of many words here. '.repeat(1), input: 'ok', options: { spans: 'tokens' } });
    expect(r.p).toBeGreaterThan(10 * r.n);
    expect(r.readMap[0]).toHaveLength(r.p);
    expect(r.spans).toHaveLength(r.p);
    expect(r.summary.identityResidual).toBeLessThan(1e-4);
  });

  it('refuses an empty input and a sequence longer than the context, naming the field', async () => {
    await expect(analyze(m, tok, { modelId: 'fx', prompt: 'x', input: '' })).rejects.toThrow(/^input: /);
    await expect(analyze(m, tok, { modelId: 'fx', prompt: 'x'.repeat(40), input: 'y'.repeat(40) })).rejects.toThrow(/context of 64/);
  });

  it('uses the EOS token at position 0 for a model without a BOS token, and says so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-nobos-'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(FIXTURES, 'gpt2-opset14', f), path.join(dir, f));
    fs.mkdirSync(path.join(dir, 'onnx'));
    fs.copyFileSync(path.join(FIXTURES, 'gpt2-opset14/onnx/model.onnx'), path.join(dir, 'onnx/model.onnx'));
    const cfg = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gpt2-opset14/config.json'), 'utf8')) as Record<string, unknown>;
    delete cfg.bos_token_id;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    const tc = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    delete tc.bos_token;
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
    const nb = open(dir);
    const r = await analyze(nb.m, nb.tok, { modelId: 'nobos', prompt: 'Hi. ', input: 'there' });
    expect(r.bos).toMatchObject({ id: 256, source: 'eos' });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reusing the prompt\'s keys/values for knockouts (graphs with a KV cache) gives the same numbers as full runs', async () => {
    const past = open(path.join(FIXTURES, 'gpt2-past-opset14'));
    expect(past.m.supportsPast).toBe(true);
    const args = { modelId: 'fx', prompt: 'The {{a|quick}} brown {{b|fox}} jumps. ', input: 'over the dog' };
    const reused = await analyze(past.m, past.tok, args);
    const full = await analyze(past.m, past.tok, { ...args, reusePrefix: false });
    const close = (a: number[], b: number[]) => a.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(1e-5));
    close(reused.depthCurve, full.depthCurve);
    close(reused.layerProfile.map((x) => x.k), full.layerProfile.map((x) => x.k));
    close(reused.spans.flatMap((x) => [x.kAllLayers, x.kFromLayer1]), full.spans.flatMap((x) => [x.kAllLayers, x.kFromLayer1]));
    expect(reused.summary.identityResidual).toBeLessThan(1e-4);
    // And the same as the graph without a KV cache (same weights).
    const plain = await analyze(m, tok, args);
    close(reused.depthCurve, plain.depthCurve);
  });

  it('the headline from a prefix run plus X\'s columns (X\'s attention rows only) equals the one-run headline', async () => {
    const past = open(path.join(FIXTURES, 'gpt2-past-opset14'));
    const args = { modelId: 'fx', prompt: 'A fox jumps. A dog naps. ', input: 'over a dog and a cat' };
    prefixCache.clear();
    const split = await analyze(past.m, past.tok, args);
    const whole = await analyze(past.m, past.tok, { ...args, reusePrefix: false });
    expect(split.n).toBeGreaterThan(4);
    const close = (a: number[], b: number[], tol = 1e-5) => {
      expect(a.length).toBe(b.length);
      a.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(tol));
    };
    close(split.input.tokens.map((t) => t.lossWithPrompt), whole.input.tokens.map((t) => t.lossWithPrompt));
    close(split.input.tokens.flatMap((t) => t.topWithPrompt.map((q) => q.prob)), whole.input.tokens.flatMap((t) => t.topWithPrompt.map((q) => q.prob)));
    expect(split.input.tokens.map((t) => t.topWithPrompt.map((q) => q.id))).toEqual(whole.input.tokens.map((t) => t.topWithPrompt.map((q) => q.id)));
    close(split.layers.flatMap((l) => [l.attention, l.sink, l.normWeighted, ...l.attentionPerHead, ...l.normWeightedPerHead]), whole.layers.flatMap((l) => [l.attention, l.sink, l.normWeighted, ...l.attentionPerHead, ...l.normWeightedPerHead]));
    close(split.readMap.flat(), whole.readMap.flat());
    close([split.summary.attentionRolloutShare, split.summary.meanBenefit], [whole.summary.attentionRolloutShare, whole.summary.meanBenefit]);
    expect(split.summary.attentionRolloutShare).toBeGreaterThan(0);

    // A second input under the same prompt reuses the prefix run (one engine call fewer), with the same numbers as
    // computing it afresh.
    const other = { ...args, input: 'under a bridge' };
    const cached = await analyze(past.m, past.tok, other);
    prefixCache.clear();
    noPromptCache.clear();
    const fresh = await analyze(past.m, past.tok, other);
    expect(cached.timings.engineCalls).toBe(fresh.timings.engineCalls - 1);
    expect(cached.input.tokens.map((t) => t.lossWithPrompt)).toEqual(fresh.input.tokens.map((t) => t.lossWithPrompt));
    expect(cached.depthCurve).toEqual(fresh.depthCurve);
    expect(cached.summary.attentionRolloutShare).toBe(fresh.summary.attentionRolloutShare);
  });

  it('runs the with-prompt run whole when a graph\'s value norms leave out the past positions', async () => {
    const past = open(path.join(FIXTURES, 'gpt2-past-opset14'));
    const args = { modelId: 'fx', prompt: 'A fox jumps. A dog naps. ', input: 'over a dog and a cat' };
    // A graph of that kind, simulated: with a past, each layer's value norms come back for the new positions only.
    const m = Object.create(past.m) as typeof past.m;
    m.run = async (req) => {
      const r = await past.m.run(req);
      if (!req.past) return r;
      for (const [k, t] of r.cache) {
        if (!k.endsWith('attn.hook_value_norm')) continue;
        const [B, H, T] = t.dims;
        const q = req.tokens[0].length;
        const data = new Float32Array(B * H * q);
        for (let x = 0; x < B * H; x++) data.set(t.data.subarray(x * T + T - q, (x + 1) * T), x * q);
        r.cache.set(k, { data, dims: [B, H, q] });
      }
      return r;
    };
    prefixCache.clear();
    noPromptCache.clear();
    const fallback = await analyze(m, past.tok, args);
    prefixCache.clear();
    noPromptCache.clear();
    const split = await analyze(past.m, past.tok, args);
    // One more engine call (the whole run after the split one), the same numbers.
    expect(fallback.timings.engineCalls).toBe(split.timings.engineCalls + 1);
    const close = (a: number[], b: number[]) => a.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(1e-5));
    close(fallback.layers.map((l) => l.normWeighted), split.layers.map((l) => l.normWeighted));
    close(fallback.input.tokens.map((t) => t.lossWithPrompt), split.input.tokens.map((t) => t.lossWithPrompt));
    close(fallback.depthCurve, split.depthCurve);
    expect(fallback.summary.identityResidual).toBeLessThan(1e-4);
  });

  it('reports per-token top predictions as probabilities that sum to at most 1', async () => {
    const r = await analyze(m, tok, { modelId: 'fx', prompt: 'Hello ', input: 'world' });
    for (const t of r.input.tokens) {
      const s = t.topWithPrompt.reduce((a, q) => a + q.prob, 0);
      expect(s).toBeGreaterThan(0);
      expect(s).toBeLessThanOrEqual(1 + 1e-9);
      expect(t.topWithPrompt[0].prob).toBeGreaterThanOrEqual(t.topWithPrompt[1].prob);
    }
  });
});
