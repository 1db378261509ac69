// fp16 and quantised exports (q8 dynamic, DynamicQuantizeMatMul, QDQ, 4-bit MatMulNBits) of one model: every hook is
// float32 and within the documented tolerance of the float32 export, and the knockout identity holds within it.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HookedModel, RunResult, Tensor } from '../server/engine/hooked-model.js';
import { allHookNames } from '../shared/hooks.js';
import { PRECISIONS, type Precision } from '../scripts/make-precision-fixtures.js';
import { GOLDEN_INPUT } from '../scripts/make-fused-fixtures.js';
import { FIXTURES } from './helpers/golden.js';
import { modelOpener } from './helpers/models.js';

/**
 * Documented tolerances (README, "Precision"): largest |hook - float32 hook| relative to the float32 hook's largest
 * magnitude, per precision, and the knockout identity |K(all layers) - mean benefit| in nats. Measured on these
 * fixtures (random weights: GPT-2 std 0.3, Llama std 0.12; harsher on quantisation than trained weights) with about
 * 2x headroom; weight-only schemes keep the identity exact because both runs see the same weights, and dynamic
 * int8 because a knockout also blocks the shared quantisation scale (server/engine/scale-groups.ts).
 */
const PRECISION_TOLERANCE: Record<'gpt2-tiny' | 'llama-tiny', Partial<Record<Precision, { hooks: number; identity: number }>>> = {
  'gpt2-tiny': {
    fp16: { hooks: 2e-3, identity: 1e-3 },
    q8: { hooks: 0.15, identity: 1e-5 },
    'q8-fused': { hooks: 0.15, identity: 1e-5 },
    qdq: { hooks: 0.07, identity: 1e-4 },
    q4: { hooks: 0.6, identity: 1e-4 },
  },
  'llama-tiny': {
    fp16: { hooks: 3e-3, identity: 1e-3 },
    q8: { hooks: 0.1, identity: 1e-5 },
    q4: { hooks: 0.6, identity: 1e-4 },
  },
};

const opener = modelOpener('pl-precision-');
const load = (name: string): HookedModel => opener.open(path.join(FIXTURES, name)).m;

const L = 2;
const HOOKS = allHookNames(L).filter((h) => h !== 'logits');
const seq = GOLDEN_INPUT;
const P = 7; // prompt tokens after BOS
const input = seq.slice(1 + P);

function relDiff(a: Tensor, b: Tensor): number {
  let d = 0;
  let scale = 0;
  for (let i = 0; i < b.data.length; i++) {
    d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
    scale = Math.max(scale, Math.abs(b.data[i]));
  }
  return d / scale;
}

/** Mean loss over the input tokens from logits rows (row r predicts token r + 1). */
function meanLoss(r: RunResult, firstRow: number, targets: number[]): number {
  const V = r.logits!.dims[2];
  let sum = 0;
  targets.forEach((t, k) => {
    const row = r.logits!.data.subarray((firstRow + k) * V, (firstRow + k + 1) * V);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum += lse - row[t];
  });
  return sum / targets.length;
}

/** |K(all layers) - mean benefit| in nats: blocking X->P' at every layer against [BOS] + X at the same positions. */
async function identityGap(m: HookedModel): Promise<{ gap: number; benefit: number }> {
  const T = seq.length;
  const bias = new Float32Array(T * T);
  for (let i = 1 + P; i < T; i++) for (let j = 1; j <= P; j++) bias[i * T + j] = -Infinity;
  const attentionBias: Record<number, Tensor> = {};
  for (let l = 0; l < L; l++) attentionBias[l] = { data: bias, dims: [1, 1, T, T] };
  // Input token k (k >= 1) is predicted by row P + k (full) or row k (short); the first by the last prompt row.
  const targets = input.slice(1);
  const open = meanLoss(await m.run({ tokens: [seq] }), 1 + P, targets);
  const blocked = meanLoss(await m.run({ tokens: [seq], attentionBias }), 1 + P, targets);
  const short = meanLoss(await m.run({ tokens: [[seq[0], ...input]], positionIds: [[0, ...input.map((_, i) => 1 + P + i)]] }), 1, targets);
  return { gap: Math.abs(blocked - open - (short - open)), benefit: short - open };
}

describe.each(Object.keys(PRECISION_TOLERANCE) as (keyof typeof PRECISION_TOLERANCE)[])('reduced-precision exports of %s', (family) => {
  let reference: RunResult | null = null;
  const ref = async () => (reference ??= await load(`${family}-eager`).run({ tokens: [seq], hooks: HOOKS }));

  for (const p of PRECISIONS.filter((x) => PRECISION_TOLERANCE[family][x])) {
    const tol = PRECISION_TOLERANCE[family][p]!;
    it(`${p}: every hook (value norms from the dequantised W_O included) is float32 and within ${tol.hooks} (relative) of float32`, async () => {
      const r = await load(`${family}-${p}`).run({ tokens: [seq], hooks: HOOKS });
      const f = await ref();
      for (const h of HOOKS) {
        const t = r.cache.get(h)!;
        expect(t.data, h).toBeInstanceOf(Float32Array);
        expect(t.dims, h).toEqual(f.cache.get(h)!.dims);
        expect(relDiff(t, f.cache.get(h)!), `${p} ${h}`).toBeLessThan(tol.hooks);
      }
      expect(r.logits!.data).toBeInstanceOf(Float32Array);
      expect(relDiff(r.logits!, f.logits!)).toBeLessThan(tol.hooks);
      // The graph really is reduced precision: not bit-identical to float32.
      expect(relDiff(r.cache.get('blocks.1.hook_resid_post')!, f.cache.get('blocks.1.hook_resid_post')!)).toBeGreaterThan(1e-6);
    });

    it(`${p}: the knockout identity K(all layers) = mean benefit holds within ${tol.identity} nats`, async () => {
      const { gap, benefit } = await identityGap(load(`${family}-${p}`));
      expect(gap).toBeLessThan(tol.identity);
      expect(Math.abs(benefit)).toBeGreaterThan(2 * tol.identity); // the prompt matters more than the gap, so the check means something
    });
  }
});

describe('fp16 interventions', () => {
  it('fp16: attention biases are added in the graph\'s float16 and row selection / in-graph targets work', async () => {
    const m = load('gpt2-tiny-fp16');
    const r = await m.run({ tokens: [seq], logitRows: [3, 9], targets: [[seq[4], seq[10]]], logits: false, hooks: ['blocks.0.attn.hook_pattern'] });
    expect(r.targetLogprobs!.dims).toEqual([1, 2]);
    const full = await m.run({ tokens: [seq] });
    const V = 257;
    const row = full.logits!.data.subarray(3 * V, 4 * V);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    expect(Math.abs(r.targetLogprobs!.data[0] - (row[seq[4]] - lse))).toBeLessThan(1e-3);
  });
});
