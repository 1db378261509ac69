// Unit tests of the pure metric math (shared/metrics.ts) on small hand-computed cases and seeded random patterns.
import { describe, it, expect } from 'vitest';
import {
  attentionReadShare,
  attentionRollout,
  batchItem,
  blockAllPromptMask,
  depthCurveFromLosses,
  depthLayerSets,
  inputPositions,
  layerWindows,
  meanLossIncrease,
  normWeightedReadShare,
  parseMarkedPrompt,
  precomputationShare,
  promptBenefit,
  promptHeadSums,
  readMap,
  spanBiasMask,
  splitSpans,
  tokenLosses,
  topPredictions,
  type Tensor,
  type TokenOffset,
} from '../shared/metrics.js';
import { targetLosses } from '../shared/metrics/loss.js';
import { mulberry32 as prng } from '../shared/random.js';

/** Builds a [H,T,T] tensor from per-head row lists. */
function pattern(heads: number[][][]): Tensor {
  const H = heads.length;
  const T = heads[0].length;
  return { data: Float32Array.from(heads.flat(2)), dims: [H, T, T] };
}
function norms(heads: number[][]): Tensor {
  return { data: Float32Array.from(heads.flat()), dims: [heads.length, heads[0].length] };
}

/** A causal softmax pattern [H,T,T] from random scores (some heads made sink-heavy). */
function randomPattern(rand: () => number, H: number, T: number): Tensor {
  const data = new Float32Array(H * T * T);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      const scores = Array.from({ length: i + 1 }, (_, j) => (rand() - 0.5) * 8 + (j === 0 && h % 2 === 0 ? 6 : 0));
      const max = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - max));
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((x, j) => (data[(h * T + i) * T + j] = x / z));
    }
  }
  return { data, dims: [H, T, T] };
}
function randomNorms(rand: () => number, H: number, T: number): Tensor {
  return { data: Float32Array.from({ length: H * T }, () => 0.1 + rand() * 5), dims: [H, T] };
}

// Shared hand-computed example: p=1, n=2, so T=4 (BOS, one prompt token, two input tokens).
// Head 0 rows (query i): only rows 2 and 3 (X) matter.
//   row 2: [0.2, 0.4, 0.4, 0]      non-BOS mass 0.8, prompt 0.4 -> share 0.5
//   row 3: [0.6, 0.1, 0.1, 0.2]    non-BOS mass 0.4, prompt 0.1 -> share 0.25
//   a_0 = (0.5 + 0.25)/2 = 0.375; sink s_0 = (0.2 + 0.6)/2 = 0.4
// Head 1 rows:
//   row 2: [0.5, 0, 0.5, 0]        prompt 0 -> share 0
//   row 3: [0, 0.5, 0.25, 0.25]    prompt 0.5 of 1 -> share 0.5
//   a_1 = 0.25; s_1 = 0.25
const HEAD0 = [
  [1, 0, 0, 0],
  [0.5, 0.5, 0, 0],
  [0.2, 0.4, 0.4, 0],
  [0.6, 0.1, 0.1, 0.2],
];
const HEAD1 = [
  [1, 0, 0, 0],
  [0.3, 0.7, 0, 0],
  [0.5, 0, 0.5, 0],
  [0, 0.5, 0.25, 0.25],
];
// Value norms ||v_j W_O^h|| per head over positions 0..3 (BOS's large norm must not count).
const NORM0 = [10, 2, 1, 3];
const NORM1 = [10, 1, 4, 2];

describe('tokenLosses', () => {
  it('equals -log of a hand-computed softmax, predicting position t from logits row t-1', () => {
    // Row 0 = [1,2,3] predicts token 0 at t=1: L = log(e^1+e^2+e^3) - 1 = 3 + log(1 + e^-1 + e^-2) - 1.
    const logits: Tensor = { data: Float32Array.from([1, 2, 3, 0, 0, 0]), dims: [2, 3] };
    const [l1] = tokenLosses(logits, [2, 0], [1]);
    expect(l1).toBeCloseTo(2.4076059644443806, 12);
    expect(l1).toBeCloseTo(-Math.log(Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3))), 12);
  });

  it('stays finite for huge logits (max subtracted before exp)', () => {
    const logits: Tensor = { data: Float32Array.from([1000, 1000, -1e30, 0, 0, 0]), dims: [2, 3] };
    expect(tokenLosses(logits, [0, 1], [1])[0]).toBeCloseTo(Math.log(2), 12);
  });

  it('computes one loss per requested input position', () => {
    const logits: Tensor = { data: Float32Array.from([0, 0, Math.log(3), 0, 0, 0]), dims: [3, 2] };
    // t=1 from row 0 (uniform over 2): log 2. t=2 from row 1 = [log 3, 0]: token 0 has prob 3/4.
    const losses = tokenLosses(logits, [0, 1, 0], inputPositions(0, 2));
    expect(losses[0]).toBeCloseTo(Math.log(2), 7);
    expect(losses[1]).toBeCloseTo(-Math.log(0.75), 6);
  });

  it('rejects position 0 (BOS has no prediction), positions past T and bad token ids', () => {
    const logits: Tensor = { data: new Float32Array(6), dims: [2, 3] };
    expect(() => tokenLosses(logits, [0, 1], [0])).toThrow(/position 0/);
    expect(() => tokenLosses(logits, [0, 1], [2])).toThrow(/position 2/);
    expect(() => tokenLosses(logits, [0, 5], [1])).toThrow(/token id 5/);
    expect(() => tokenLosses(logits, [0], [1])).toThrow(/1 tokens/);
  });
});

describe('topPredictions', () => {
  it('returns the k most probable ids, most probable first, with softmax probabilities', () => {
    const row = Float32Array.from([0, Math.log(4), Math.log(2), Math.log(1)]);
    // exp: [1, 4, 2, 1], sum 8.
    const top = topPredictions(row, 3);
    expect(top.map((t) => t.id)).toEqual([1, 2, 0]);
    expect(top[0].prob).toBeCloseTo(0.5, 6);
    expect(top[1].prob).toBeCloseTo(0.25, 6);
    expect(top[2].prob).toBeCloseTo(0.125, 6);
    expect(topPredictions(row, 10)).toHaveLength(4);
    expect(topPredictions(row, 0)).toEqual([]);
  });
});

describe('promptBenefit', () => {
  it('is the per-token loss drop and its mean', () => {
    const b = promptBenefit([3, 2, 4], [1, 2.5, 1]);
    expect(b.perToken).toEqual([2, -0.5, 3]);
    expect(b.mean).toBeCloseTo(1.5, 12);
  });
  it('is zero when the losses match (an empty prompt)', () => {
    expect(promptBenefit([1.25, 2], [1.25, 2])).toEqual({ perToken: [0, 0], mean: 0 });
  });
  it('rejects lists of different length', () => {
    expect(() => promptBenefit([1], [1, 2])).toThrow(/1 no-prompt losses vs 2/);
  });
});

describe('attentionReadShare', () => {
  it('matches the hand-computed share and sink mass per head, and averages heads for the layer', () => {
    const r = attentionReadShare(pattern([HEAD0, HEAD1]), 1, 2);
    expect(r.perHead[0]).toBeCloseTo(0.375, 6);
    expect(r.perHead[1]).toBeCloseTo(0.25, 6);
    expect(r.sinkPerHead[0]).toBeCloseTo(0.4, 6);
    expect(r.sinkPerHead[1]).toBeCloseTo(0.25, 6);
    expect(r.layer).toBeCloseTo(0.3125, 6);
    expect(r.sink).toBeCloseTo(0.325, 6);
  });

  it('counts a query that attends only to BOS as share 0', () => {
    // row 2 all on BOS (share 0), row 3: prompt 0.5 of non-BOS 1 -> 0.5; mean 0.25.
    const r = attentionReadShare(pattern([[[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 0.5, 0.25, 0.25]]]), 1, 2);
    expect(r.perHead[0]).toBeCloseTo(0.25, 6);
    expect(r.sinkPerHead[0]).toBeCloseTo(0.5, 6);
  });

  it('is 0 for an empty prompt while still reporting the sink', () => {
    const r = attentionReadShare(pattern([[[1, 0, 0], [0.5, 0.5, 0], [0.25, 0.25, 0.5]]]), 0, 2);
    expect(r.perHead).toEqual([0]);
    expect(r.layer).toBe(0);
    expect(r.sink).toBeCloseTo(0.375, 6);
  });

  it('ignores right padding past 1+p+n and rejects a pattern too short for the layout', () => {
    const padded = pattern([[...HEAD0.map((r) => [...r, 0]), [0.2, 0.2, 0.2, 0.2, 0.2]]]);
    expect(attentionReadShare(padded, 1, 2).perHead[0]).toBeCloseTo(0.375, 6);
    expect(() => attentionReadShare(pattern([HEAD0]), 2, 2)).toThrow(/T=4/);
  });
});

describe('normWeightedReadShare', () => {
  it('weights attention by value norms, leaves BOS out, and sums heads before dividing', () => {
    // Head 0, w_ij = A_ij * NORM0[j] for j >= 1:
    //   i=2: w = [0.4*2, 0.4*1] = [0.8, 0.4]            num 0.8, den 1.2
    //   i=3: w = [0.1*2, 0.1*1, 0.2*3] = [0.2,0.1,0.6]   num 0.2, den 0.9
    //   R_0 = 1.0 / 2.1
    // Head 1 with NORM1:
    //   i=2: w = [0*1, 0.5*4] = [0, 2]                  num 0,   den 2
    //   i=3: w = [0.5*1, 0.25*4, 0.25*2] = [0.5,1,0.5]   num 0.5, den 2
    //   R_1 = 0.5 / 4 = 0.125
    // Layer: (1.0 + 0.5) / (2.1 + 4) = 1.5 / 6.1 (not the mean of 0.476 and 0.125).
    const r = normWeightedReadShare(pattern([HEAD0, HEAD1]), norms([NORM0, NORM1]), 1, 2);
    expect(r.perHead[0]).toBeCloseTo(1 / 2.1, 6);
    expect(r.perHead[1]).toBeCloseTo(0.125, 6);
    expect(r.layer).toBeCloseTo(1.5 / 6.1, 6);
  });

  it('equals the plain share of a single head when all value norms are equal and queries read alike', () => {
    // Equal norms make w = A; with one input token the ratio of sums is that query's share.
    const p = pattern([[[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.6, 0.2]]]);
    expect(normWeightedReadShare(p, norms([[5, 5, 5]]), 1, 1).layer).toBeCloseTo(0.75, 6);
    expect(attentionReadShare(p, 1, 1).layer).toBeCloseTo(0.75, 6);
  });

  it('gives 0, not NaN, when every weight is zero and for an empty prompt', () => {
    expect(normWeightedReadShare(pattern([HEAD0]), norms([[1, 0, 0, 0]]), 1, 2)).toEqual({ perHead: [0], layer: 0 });
    expect(normWeightedReadShare(pattern([[[1, 0], [0.5, 0.5]]]), norms([[1, 1]]), 0, 1).layer).toBe(0);
  });

  it('rejects value norms whose [H,T] differs from the pattern', () => {
    expect(() => normWeightedReadShare(pattern([HEAD0]), norms([[1, 1, 1]]), 1, 2)).toThrow(/valueNorm dims \[1,3\]/);
  });
});

describe('readMap', () => {
  it('gives each prompt token the mean over X of its fraction of the query’s non-BOS norm-weighted attention', () => {
    // Layer 0 = head 0 alone: i=2 reads 0.8/1.2 = 2/3 of token 0, i=3 reads 0.2/0.9 = 2/9; mean 4/9.
    // Layer 1 = heads 0 and 1: i=2: (0.8 + 0)/(1.2 + 2) = 0.25; i=3: (0.2 + 0.5)/(0.9 + 2) = 7/29.
    const map = readMap([pattern([HEAD0]), pattern([HEAD0, HEAD1])], [norms([NORM0]), norms([NORM0, NORM1])], 1, 2);
    expect(map).toHaveLength(2);
    expect(map[0][0]).toBeCloseTo(4 / 9, 6);
    expect(map[1][0]).toBeCloseTo((0.25 + 7 / 29) / 2, 6);
  });

  it('splits a query’s reading between prompt tokens', () => {
    // p=2, n=1: row 3 = [0.1, 0.3, 0.2, 0.4], norms 1 except token 1 (position 2) with norm 2.
    // w = [0.3, 0.4, 0.4], den 1.1 -> token 0: 0.3/1.1, token 1: 0.4/1.1.
    const p = pattern([[[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0.3, 0.3, 0.4, 0], [0.1, 0.3, 0.2, 0.4]]]);
    const [row] = readMap([p], [norms([[1, 1, 2, 1]])], 2, 1);
    expect(row[0]).toBeCloseTo(0.3 / 1.1, 6);
    expect(row[1]).toBeCloseTo(0.4 / 1.1, 6);
  });

  it('has zero columns for an empty prompt', () => {
    const p = pattern([[[1, 0], [0.5, 0.5]]]);
    expect(readMap([p, p], [norms([[1, 1]]), norms([[1, 1]])], 0, 1)).toEqual([[], []]);
  });

  it('rejects a different number of patterns and value norms', () => {
    expect(() => readMap([pattern([HEAD0])], [], 1, 2)).toThrow(/1 layer patterns vs 0/);
  });
});

describe('attentionRollout', () => {
  // One head, p=1, n=1, T=3: A rows [1,0,0], [0.5,0.5,0], [0.2,0.3,0.5].
  // Â = 0.5A + 0.5I: rows [1,0,0], [0.25,0.75,0], [0.1,0.15,0.75] (already normalised).
  const A = pattern([[[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]]);

  it('matches a hand-computed one-layer rollout, BOS left out of the denominator', () => {
    // Row 2 of Â: prompt 0.15 of non-BOS 0.9 -> 1/6.
    expect(attentionRollout([A], 1, 1)).toBeCloseTo(1 / 6, 6);
  });

  it('multiplies layers', () => {
    // Row 2 of Â·Â = 0.1*[1,0,0] + 0.15*[0.25,0.75,0] + 0.75*[0.1,0.15,0.75] = [0.2125, 0.225, 0.5625]
    // -> 0.225 / 0.7875 = 2/7.
    expect(attentionRollout([A, A], 1, 1)).toBeCloseTo(2 / 7, 6);
  });

  it('averages heads before adding the residual', () => {
    // Two heads whose mean is A give the same rollout as A.
    const two = pattern([
      [[1, 0, 0], [0.5, 0.5, 0], [0.4, 0.1, 0.5]],
      [[1, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]],
    ]);
    expect(attentionRollout([two], 1, 1)).toBeCloseTo(1 / 6, 6);
  });

  it('is 0 for an empty prompt or no layers', () => {
    expect(attentionRollout([pattern([[[1, 0], [0.5, 0.5]]])], 0, 1)).toBe(0);
    expect(attentionRollout([], 1, 1)).toBe(0);
  });

  it('equals the product of the layers\' matrices written out, on random causal patterns of several heads and layers', () => {
    const rand = prng(5);
    const H = 4;
    const p = 6;
    const n = 5;
    const T = 1 + p + n;
    const layers = [0, 1, 2].map(() => randomPattern(rand, H, T));
    // R = Â_2 Â_1 Â_0 by plain matrix products, Â = rows-renormalised 0.5 * mean_h A + 0.5 * I.
    const hat = (t: Tensor) =>
      Array.from({ length: T }, (_, k) => {
        const row = Array.from({ length: T }, (_, j) => {
          let m = 0;
          for (let h = 0; h < H; h++) m += t.data[h * T * T + k * T + j];
          return 0.5 * (m / H) + (j === k ? 0.5 : 0);
        });
        const z = row.reduce((a, b) => a + b, 0);
        return row.map((x) => x / z);
      });
    const mul = (a: number[][], b: number[][]) => a.map((r) => b[0].map((_, j) => r.reduce((acc, x, k) => acc + x * b[k][j], 0)));
    const R = layers.map(hat).reduce((acc, m) => mul(m, acc));
    let want = 0;
    for (let i = p + 1; i <= p + n; i++) {
      const prompt = R[i].slice(1, p + 1).reduce((a, b) => a + b, 0);
      const open = R[i].slice(1, i + 1).reduce((a, b) => a + b, 0);
      want += prompt / open;
    }
    expect(attentionRollout(layers, p, n)).toBeCloseTo(want / n, 12);
  });

  it('X\'s rows [H,n,T] plus the prompt rows\' head sums give exactly the numbers of the full patterns', () => {
    const rand = prng(77);
    const H = 3;
    const p = 5;
    const n = 4;
    const T = 1 + p + n;
    const full = [randomPattern(rand, H, T), randomPattern(rand, H, T)];
    // What a run continuing the prompt's keys/values returns: rows p+1..p+n of each head; and what a run over
    // [BOS] + P' alone returns: the top-left [p+1, p+1] block (causal, so the same rows).
    const xRows = full.map((t) => ({ data: Float32Array.from({ length: H * n * T }, (_, x) => t.data[Math.floor(x / (n * T)) * T * T + (p + 1) * T + (x % (n * T))]), dims: [H, n, T] }));
    const prefix = full.map((t) => ({ data: Float32Array.from({ length: H * (p + 1) ** 2 }, (_, x) => { const h = Math.floor(x / (p + 1) ** 2); const r = Math.floor((x % (p + 1) ** 2) / (p + 1)); const c = x % (p + 1); return t.data[h * T * T + r * T + c]; }), dims: [H, p + 1, p + 1] }));
    const nrm = full.map(() => ({ data: Float32Array.from({ length: H * T }, () => rand() * 3), dims: [H, T] }));
    full.forEach((t, l) => {
      expect(attentionReadShare(xRows[l], p, n)).toEqual(attentionReadShare(t, p, n));
      expect(normWeightedReadShare(xRows[l], nrm[l], p, n)).toEqual(normWeightedReadShare(t, nrm[l], p, n));
    });
    expect(readMap(xRows, nrm, p, n)).toEqual(readMap(full, nrm, p, n));
    const want = attentionRollout(full, p, n);
    expect(want).toBeGreaterThan(0);
    expect(attentionRollout(xRows, p, n, prefix.map((t) => promptHeadSums(t, p)))).toBe(want);
    // X's rows without the prompt rows cannot be rolled out: said, not guessed.
    expect(() => attentionRollout(xRows, p, n)).toThrow(/promptRows\[0\] must be the \[6,6\] head sums/);
    expect(() => attentionReadShare({ data: new Float32Array(H * 3 * T), dims: [H, 3, T] }, p, n)).toThrow(/not \[H,T,T\] or \[H,n=4,T\]/);
  });
});

describe('shares on random softmax patterns (seeded)', () => {
  const cases: [p: number, n: number][] = [
    [0, 3],
    [3, 1],
    [1, 1],
    [5, 5],
    [40, 1],
    [30, 4],
  ];
  for (const [p, n] of cases) {
    it(`stay within [0,1] for p=${p}, n=${n}`, () => {
      const rand = prng(1000 * p + n);
      const H = 3;
      const L = 3;
      const T = 1 + p + n;
      const pats = Array.from({ length: L }, () => randomPattern(rand, H, T));
      const vns = Array.from({ length: L }, () => randomNorms(rand, H, T));
      const inUnit = (x: number) => {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
      };
      for (let l = 0; l < L; l++) {
        const a = attentionReadShare(pats[l], p, n);
        const r = normWeightedReadShare(pats[l], vns[l], p, n);
        [...a.perHead, a.layer, ...a.sinkPerHead, a.sink, ...r.perHead, r.layer].forEach(inUnit);
        if (p === 0) expect([a.layer, r.layer]).toEqual([0, 0]);
      }
      const map = readMap(pats, vns, p, n);
      expect(map).toHaveLength(L);
      for (const row of map) {
        expect(row).toHaveLength(p);
        row.forEach(inUnit);
        inUnit(row.reduce((s, x) => s + x, 0));
      }
      inUnit(attentionRollout(pats, p, n));
    });
  }

  it('read map rows sum to the plain share when one head has equal value norms', () => {
    const rand = prng(7);
    const [p, n] = [6, 4];
    const T = 1 + p + n;
    const pat = randomPattern(rand, 1, T);
    const [row] = readMap([pat], [{ data: new Float32Array(T).fill(2), dims: [1, T] }], p, n);
    expect(row.reduce((s, x) => s + x, 0)).toBeCloseTo(attentionReadShare(pat, p, n).layer, 6);
  });
});

describe('knockout arithmetic', () => {
  it('K is the mean loss increase when edges are blocked', () => {
    expect(meanLossIncrease([3, 2.5], [2, 2])).toBeCloseTo(0.75, 12);
    expect(meanLossIncrease([], [])).toBe(0);
  });

  it('depth curve has L+1 points with D(L) exactly 0', () => {
    // L=2: blocking from layer 0 -> losses [3,4] (K=1.5), from layer 1 -> [2.5,3] (K=0.75).
    const d = depthCurveFromLosses([[3, 4], [2.5, 3]], [2, 2]);
    expect(d).toEqual([1.5, 0.75, 0]);
    expect(precomputationShare(d)).toBeCloseTo(0.5, 12);
  });

  it('depth curve is all 0 and pi undefined (null) for an empty prompt', () => {
    // With p=0 blocking X->P' blocks nothing, so every run repeats the open losses.
    const open = [1.1, 0.7];
    const d = depthCurveFromLosses([open, open, open], open);
    expect(d).toEqual([0, 0, 0, 0]);
    expect(precomputationShare(d)).toBeNull();
  });

  it('pi is not clamped: it can exceed 1 or be negative', () => {
    expect(precomputationShare([1, 1.5, 0])).toBeCloseTo(1.5, 12);
    expect(precomputationShare([1, -0.25, 0])).toBeCloseTo(-0.25, 12);
    expect(precomputationShare([1e-12, 1, 0])).toBeNull();
  });

  it('depth layer sets are {k..L-1} and layer windows clip at the model edges', () => {
    expect(depthLayerSets(3)).toEqual([[0, 1, 2], [1, 2], [2]]);
    expect(layerWindows(4, 1)).toEqual([[0, 1], [0, 1, 2], [1, 2, 3], [2, 3]]);
    expect(layerWindows(3, 0)).toEqual([[0], [1], [2]]);
    expect(layerWindows(2, 5)).toEqual([[0, 1], [0, 1]]);
    expect(() => layerWindows(3, -1)).toThrow(/radius/);
  });
});

describe('parseMarkedPrompt', () => {
  it('strips {{name|text}} and {{text}} markers and records segment ranges in the clean text', () => {
    const m = parseMarkedPrompt('Say {{greeting|hello}} to {{the world}}.');
    expect(m.text).toBe('Say hello to the world.');
    expect(m.segments).toEqual([
      { name: 'greeting', charStart: 4, charEnd: 9 },
      { name: 'seg2', charStart: 13, charEnd: 22 },
    ]);
    expect(m.text.slice(13, 22)).toBe('the world');
  });

  it('trims names, keeps later | in the text and spans segments over lines', () => {
    const m = parseMarkedPrompt('{{ rules | a|b\nc}}');
    expect(m.text).toBe(' a|b\nc');
    expect(m.segments).toEqual([{ name: 'rules', charStart: 0, charEnd: 6 }]);
    // A | on a later line does not make a name.
    expect(parseMarkedPrompt('{{x\ny|z}}').segments[0].name).toBe('seg1');
  });

  it('reads \\{{ and \\}} as literal braces and leaves single braces alone', () => {
    const m = parseMarkedPrompt('f(\\{{x\\}}) {a} {{b}}');
    expect(m.text).toBe('f({{x}}) {a} b');
    expect(m.segments).toEqual([{ name: 'seg1', charStart: 13, charEnd: 14 }]);
  });

  it('returns the text unchanged when there are no markers', () => {
    expect(parseMarkedPrompt('plain {text}')).toEqual({ text: 'plain {text}', segments: [] });
  });

  it('throws errors naming the position of unbalanced, nested, unclosed, empty or repeated markers', () => {
    expect(() => parseMarkedPrompt('ab }} c')).toThrow(/'}}' at character 3 \(line 1, column 4\) closes no segment/);
    expect(() => parseMarkedPrompt('{{a {{b}} }}')).toThrow(/'\{\{' at character 4 .*inside the segment opened at character 0.*cannot nest/);
    expect(() => parseMarkedPrompt('x\n  {{open')).toThrow(/'\{\{' at character 4 \(line 2, column 3\) is never closed/);
    expect(() => parseMarkedPrompt('{{}}')).toThrow(/segment at character 0 .* is empty/);
    expect(() => parseMarkedPrompt('{{ |x}}')).toThrow(/empty segment name/);
    expect(() => parseMarkedPrompt('{{a|x}} {{a|y}}')).toThrow(/"a" at character 8 .* used twice/);
  });
});

describe('splitSpans', () => {
  // GPT-2 style tokens of "Hello world, hi\nthere": "Hello" " world" "," " hi" "\n" "there".
  const text = 'Hello world, hi\nthere';
  const offsets: TokenOffset[] = [[0, 5], [5, 11], [11, 12], [12, 15], [15, 16], [16, 21]];
  const ranges = (spans: ReturnType<typeof splitSpans>) => spans.map((s) => [s.label, s.tokenStart, s.tokenEnd]);

  it('tokens: one span per token with its exact text', () => {
    const spans = splitSpans(text, offsets, 'tokens');
    expect(spans).toHaveLength(6);
    expect(spans[1]).toEqual({ label: ' world', tokenStart: 1, tokenEnd: 2, charStart: 5, charEnd: 11 });
  });

  it('words: " word" tokens start a word, punctuation joins its word, whitespace-only tokens join the next word', () => {
    expect(ranges(splitSpans(text, offsets, 'words'))).toEqual([
      ['Hello', 0, 1],
      ['world,', 1, 3],
      ['hi', 3, 4],
      ['there', 4, 6],
    ]);
  });

  it('lines: newline tokens end their line', () => {
    const spans = splitSpans(text, offsets, 'lines');
    expect(ranges(spans)).toEqual([
      ['Hello world, hi', 0, 5],
      ['there', 5, 6],
    ]);
    expect(spans[0]).toMatchObject({ charStart: 0, charEnd: 16 });
  });

  it('words and lines partition the prompt tokens even with edge whitespace', () => {
    // "  a b\n" as GPT-2 tokenizes it: " ", " a", " b", "\n".
    const t = '  a b\n';
    const o: TokenOffset[] = [[0, 1], [1, 3], [3, 5], [5, 6]];
    expect(ranges(splitSpans(t, o, 'words'))).toEqual([
      ['a', 0, 2],
      ['b', 2, 4],
    ]);
    expect(ranges(splitSpans(t, o, 'lines'))).toEqual([['a b', 0, 4]]);
  });

  it('marked: tokens with a visible character inside a segment belong to it; outside text is no span', () => {
    const m = parseMarkedPrompt('Say {{greeting|hello}} to {{the world}}.');
    // "Say" " hello" " to" " the" " world" "."
    const o: TokenOffset[] = [[0, 3], [3, 9], [9, 12], [12, 16], [16, 22], [22, 23]];
    const spans = splitSpans(m.text, o, 'marked', m.segments);
    expect(spans).toEqual([
      { label: 'greeting', tokenStart: 1, tokenEnd: 2, charStart: 4, charEnd: 9 },
      { label: 'seg2', tokenStart: 3, tokenEnd: 5, charStart: 13, charEnd: 22 },
    ]);
  });

  it('marked: a token straddling a boundary belongs to the segment, and a swallowed segment gets an empty range', () => {
    // "ab{{x|cd}}ef" tokenized as "abc" "def": both tokens touch the segment "cd".
    const m = parseMarkedPrompt('ab{{x|cd}}ef');
    expect(splitSpans(m.text, [[0, 3], [3, 6]], 'marked', m.segments)[0]).toMatchObject({ tokenStart: 0, tokenEnd: 2 });
    // "x {{ }}y" -> text "x  y", segment = the second space, tokens "x" "  y": the only token touching the
    // segment has its visible character "y" outside it, so the segment gets an empty range at that token.
    const m2 = parseMarkedPrompt('x {{ }}y');
    const s = splitSpans(m2.text, [[0, 1], [1, 4]], 'marked', m2.segments)[0];
    expect(s).toMatchObject({ tokenStart: 1, tokenEnd: 1 });
  });

  it('returns no spans for an empty prompt and rejects bad offsets or missing segments', () => {
    expect(splitSpans('', [], 'words')).toEqual([]);
    expect(() => splitSpans('ab', [[0, 3]], 'tokens')).toThrow(/token 0 has offsets \[0,3\)/);
    expect(() => splitSpans('ab', [[1, 2], [0, 1]], 'tokens')).toThrow(/token 1 starts at 0/);
    expect(() => splitSpans('ab', [[0, 2]], 'marked')).toThrow(/needs the segments/);
  });
});

describe('bias masks', () => {
  it('spanBiasMask puts -Infinity exactly at (input query, span key) edges', () => {
    // T=5, p=2, n=2: positions 0 BOS, 1-2 prompt, 3-4 input; span = prompt token 1 = position 2.
    const m = spanBiasMask(5, 2, 2, { tokenStart: 1, tokenEnd: 2 });
    const blocked: [number, number][] = [];
    m.forEach((x, k) => {
      if (x === -Infinity) blocked.push([Math.floor(k / 5), k % 5]);
      else expect(x).toBe(0);
    });
    expect(blocked).toEqual([[3, 2], [4, 2]]);
  });

  it('blockAllPromptMask blocks every X -> P edge and never BOS or the input itself', () => {
    const m = blockAllPromptMask(4, 1, 2);
    expect(Array.from(m)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, -Infinity, 0, 0, 0, -Infinity, 0, 0]);
    expect(Array.from(blockAllPromptMask(3, 0, 2))).toEqual(new Array(9).fill(0));
  });

  it('rejects span ranges outside the prompt', () => {
    expect(() => spanBiasMask(4, 1, 2, { tokenStart: 0, tokenEnd: 2 })).toThrow(/\[0,2\)/);
  });
});

describe('batchItem', () => {
  it('views one batch item without copying', () => {
    const t: Tensor = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3] };
    const b1 = batchItem(t, 1);
    expect(b1.dims).toEqual([3]);
    expect(Array.from(b1.data)).toEqual([4, 5, 6]);
    expect(b1.data.buffer).toBe(t.data.buffer);
    expect(() => batchItem(t, 2)).toThrow(/batch index 2/);
  });
});

describe('targetLosses', () => {
  it('equals tokenLosses computed from the full logits when given the rows that predict each target', () => {
    const V = 5;
    const T = 4;
    const data = Float32Array.from({ length: T * V }, (_, i) => Math.sin(i * 1.7) * 3);
    const tokens = [0, 3, 1, 4];
    const full = tokenLosses({ data, dims: [T, V] }, tokens, [1, 2, 3]);
    const rows = { data: data.subarray(0, 3 * V), dims: [3, V] };
    const got = targetLosses(rows, [3, 1, 4]);
    got.forEach((l, k) => expect(l).toBeCloseTo(full[k], 12));
    expect(() => targetLosses(rows, [3, 1])).toThrow(/2 targets for 3 logits rows/);
  });
});
