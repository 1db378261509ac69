// scripts/make-random-gpt2.ts: the TypeScript-built GPT-2 export is recognised by the structural hook finder, and
// the engine's logits and hooks on it equal a plain-loop TypeScript forward pass over the same random weights.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HookedModel, type Tensor } from '../server/engine/hooked-model.js';
import { allHookNames, hookName } from '../shared/hooks.js';
import { randomGpt2Weights, writeRandomGpt2, type Gpt2Shape, type Gpt2Weights } from '../scripts/make-random-gpt2.js';
import { FIXTURES } from './helpers/golden.js';

const TOL = 1e-4;
// std 0.3 (not GPT-2's 0.02) so that attention is far from uniform and the logits are O(1).
const SHAPE: Gpt2Shape & { std: number } = { nLayer: 2, nHead: 2, dModel: 32, nCtx: 64, vocabSize: 257, std: 0.3 };
const SEED = 7;
const EPS = 1e-5;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-random-gpt2-'));
const cacheDir = path.join(tmp, 'graphs');
const models: HookedModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function generate(name: string, opset: 14 | 17, seed = SEED): string {
  const out = path.join(tmp, name);
  writeRandomGpt2({ out, ...SHAPE, seed, opset, tokenizerFrom: path.join(FIXTURES, 'gpt2-opset14') });
  return out;
}

function load(dir: string): HookedModel {
  const m = HookedModel.load(dir, { cacheDir, threads: 1 });
  models.push(m);
  return m;
}

// ------------------------------------------------------------------ reference forward pass (float64, plain loops)

interface RefOut {
  residPre: Float64Array[];
  residMid: Float64Array[];
  residPost: Float64Array[];
  /** [H,T,T] per layer. */
  pattern: Float64Array[];
  /** [T,H,dh] per layer. */
  v: Float64Array[];
  /** [H,T] per layer. */
  valueNorm: Float64Array[];
  lnFinal: Float64Array;
  logits: Float64Array;
}

/** y[T,out] = x[T,in] @ W[in,out] + b. */
function linear(x: Float64Array, T: number, nIn: number, W: Float32Array, b: Float32Array): Float64Array {
  const nOut = b.length;
  const y = new Float64Array(T * nOut);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < nOut; o++) {
      let s = b[o];
      for (let i = 0; i < nIn; i++) s += x[t * nIn + i] * W[i * nOut + o];
      y[t * nOut + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, T: number, d: number, g: Float32Array, b: Float32Array): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[t * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[t * d + i] - mean) ** 2;
    v /= d;
    const sd = Math.sqrt(v + EPS);
    for (let i = 0; i < d; i++) y[t * d + i] = ((x[t * d + i] - mean) / sd) * g[i] + b[i];
  }
  return y;
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

function referenceForward(s: Gpt2Shape, w: Gpt2Weights, tokens: number[], positions: number[]): RefOut {
  const { nLayer: L, nHead: H, dModel: d, vocabSize: V } = s;
  const dh = d / H;
  const T = tokens.length;
  const out: RefOut = { residPre: [], residMid: [], residPost: [], pattern: [], v: [], valueNorm: [], lnFinal: new Float64Array(0), logits: new Float64Array(0) };
  let x = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let i = 0; i < d; i++) x[t * d + i] = w.wte[tokens[t] * d + i] + w.wpe[positions[t] * d + i];
  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    out.residPre.push(x);
    const qkv = linear(layerNorm(x, T, d, lw.ln1G, lw.ln1B), T, d, lw.cAttnW, lw.cAttnB);
    const q = (t: number, h: number, k: number) => qkv[t * 3 * d + h * dh + k];
    const kk = (t: number, h: number, k: number) => qkv[t * 3 * d + d + h * dh + k];
    const vv = (t: number, h: number, k: number) => qkv[t * 3 * d + 2 * d + h * dh + k];
    const pat = new Float64Array(H * T * T);
    const merged = new Float64Array(T * d);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const sc = new Float64Array(i + 1);
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let k = 0; k < dh; k++) dot += q(i, h, k) * kk(j, h, k);
          sc[j] = dot / Math.sqrt(dh);
          max = Math.max(max, sc[j]);
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += Math.exp(sc[j] - max);
        for (let j = 0; j <= i; j++) pat[(h * T + i) * T + j] = Math.exp(sc[j] - max) / sum;
        for (let k = 0; k < dh; k++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += pat[(h * T + i) * T + j] * vv(j, h, k);
          merged[i * d + h * dh + k] = acc;
        }
      }
    }
    out.pattern.push(pat);
    const v = new Float64Array(T * d);
    const vn = new Float64Array(H * T);
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        for (let k = 0; k < dh; k++) v[t * d + h * dh + k] = vv(t, h, k);
        // ||v_t^h W_O^h||, W_O^h = rows h*dh..(h+1)*dh of c_proj.weight [in, out].
        let sq = 0;
        for (let o = 0; o < d; o++) {
          let s2 = 0;
          for (let k = 0; k < dh; k++) s2 += vv(t, h, k) * lw.attnProjW[(h * dh + k) * d + o];
          sq += s2 * s2;
        }
        vn[h * T + t] = Math.sqrt(sq);
      }
    }
    out.v.push(v);
    out.valueNorm.push(vn);
    const attnOut = linear(merged, T, d, lw.attnProjW, lw.attnProjB);
    const mid = x.map((val, i) => val + attnOut[i]);
    out.residMid.push(mid);
    const fc = linear(layerNorm(mid, T, d, lw.ln2G, lw.ln2B), T, d, lw.fcW, lw.fcB).map(gelu);
    const mlp = linear(fc, T, 4 * d, lw.mlpProjW, lw.mlpProjB);
    x = mid.map((val, i) => val + mlp[i]);
    out.residPost.push(x);
  }
  out.lnFinal = layerNorm(x, T, d, w.lnFG, w.lnFB);
  out.logits = new Float64Array(T * V);
  for (let t = 0; t < T; t++) {
    for (let u = 0; u < V; u++) {
      let s2 = 0;
      for (let i = 0; i < d; i++) s2 += out.lnFinal[t * d + i] * w.wte[u * d + i];
      out.logits[t * V + u] = s2;
    }
  }
  return out;
}

/** Max |a - b| over batch item `b` of an engine tensor and a reference array of the same per-item size. */
function maxDiff(t: Tensor, b: number, ref: Float64Array): number {
  const per = t.dims.slice(1).reduce((x, y) => x * y, 1);
  expect(per).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < per; i++) {
    const a = t.data[b * per + i];
    if (!Number.isFinite(a)) return Infinity;
    m = Math.max(m, Math.abs(a - ref[i]));
  }
  return m;
}

// BOS + UTF-8 bytes (the fixture tokenizer's ids are the byte values).
const TOKENS = [256, ...Buffer.from('Hello, world!\nThe quick brown fox')];
const T = TOKENS.length;
const POSITIONS = TOKENS.map((_, i) => i);
// A no-prompt-style row: same tokens at shifted, non-contiguous positions.
const SHIFTED = TOKENS.map((_, i) => (i === 0 ? 0 : i + 20));

describe('make-random-gpt2: a TypeScript-built GPT-2 export', () => {
  const dirs: Record<number, string> = {};
  let weights: Gpt2Weights;
  beforeAll(() => {
    dirs[14] = generate('opset14', 14);
    dirs[17] = generate('opset17', 17);
    weights = randomGpt2Weights(SHAPE, SEED);
  });

  it('randomGpt2Weights is deterministic in the seed, with LayerNorm gains 1', () => {
    const again = randomGpt2Weights(SHAPE, SEED);
    expect(again.wte).toEqual(weights.wte);
    expect(again.layers[1].mlpProjB).toEqual(weights.layers[1].mlpProjB);
    const other = randomGpt2Weights(SHAPE, SEED + 1);
    expect(other.wte[0]).not.toBe(weights.wte[0]);
    expect([...weights.layers[0].ln1G].every((v) => v === 1)).toBe(true);
    // std: sample standard deviation of wte close to 0.3.
    const n = weights.wte.length;
    const mean = weights.wte.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(weights.wte.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(sd - 0.3)).toBeLessThan(0.01);
    // Same options -> byte-identical graph file.
    const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    const dup = generate('dup', 14);
    expect(sha(path.join(dup, 'onnx/model.onnx'))).toBe(sha(path.join(dirs[14], 'onnx/model.onnx')));
  });

  it('writes a Hugging Face layout model directory', () => {
    const dir = dirs[14];
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) expect(fs.existsSync(path.join(dir, f))).toBe(true);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'gpt2', n_layer: 2, n_head: 2, n_embd: 32, n_positions: 64, vocab_size: 257, bos_token_id: 256, eos_token_id: 256 });
  });

  for (const opset of [14, 17] as const) {
    it(`opset ${opset}: the structural hook finder finds every layer`, () => {
      const s = load(dirs[opset]).analyze();
      expect(s.attentionProblem).toBeNull();
      expect(s.layers).toHaveLength(SHAPE.nLayer);
      for (const L of s.layers) {
        expect(L.residPre).toBeTruthy();
        expect(L.residMid).toBeTruthy();
        expect(L.residPost).toBeTruthy();
        expect(L.pattern).toBeTruthy();
        expect(L.wO).toEqual({ tensor: `transformer.h.${L.layer}.attn.c_proj.weight`, transposed: false });
        expect(L.parallel).toBe(false);
      }
      expect(s.layers[1].residPre).toBe(s.layers[0].residPost);
      expect(s.lnFinal).toBeTruthy();
    });

    it(`opset ${opset}: logits and every hook equal the plain-loop reference to 1e-4`, async () => {
      const m = load(dirs[opset]);
      const hooks = allHookNames(SHAPE.nLayer);
      const r = await m.run({ tokens: [TOKENS, TOKENS], positionIds: [POSITIONS, SHIFTED], hooks });
      for (const [b, pos] of [POSITIONS, SHIFTED].entries()) {
        const ref = referenceForward(SHAPE, weights, TOKENS, pos);
        const diffs: Record<string, number> = { logits: maxDiff(r.logits!, b, ref.logits), ln_final: maxDiff(r.cache.get('ln_final.hook_normalized')!, b, ref.lnFinal) };
        for (let l = 0; l < SHAPE.nLayer; l++) {
          diffs[`${l}.resid_pre`] = maxDiff(r.cache.get(hookName(l, 'hook_resid_pre'))!, b, ref.residPre[l]);
          diffs[`${l}.resid_mid`] = maxDiff(r.cache.get(hookName(l, 'hook_resid_mid'))!, b, ref.residMid[l]);
          diffs[`${l}.resid_post`] = maxDiff(r.cache.get(hookName(l, 'hook_resid_post'))!, b, ref.residPost[l]);
          diffs[`${l}.pattern`] = maxDiff(r.cache.get(hookName(l, 'attn.hook_pattern'))!, b, ref.pattern[l]);
          diffs[`${l}.v`] = maxDiff(r.cache.get(hookName(l, 'attn.hook_v'))!, b, ref.v[l]);
          diffs[`${l}.value_norm`] = maxDiff(r.cache.get(hookName(l, 'attn.hook_value_norm'))!, b, ref.valueNorm[l]);
        }
        for (const [k, v] of Object.entries(diffs)) expect(v, `row ${b} ${k}`).toBeLessThan(TOL);
        // The logits are not trivially small (std 0.3 weights), so 1e-4 is a real check.
        expect(Math.max(...ref.logits.map(Math.abs))).toBeGreaterThan(0.5);
      }
      // Attention rows sum to 1, and the pattern is causal.
      for (let l = 0; l < SHAPE.nLayer; l++) {
        const p = r.cache.get(hookName(l, 'attn.hook_pattern'))!;
        for (let row = 0; row < 2 * SHAPE.nHead * T; row++) {
          const i = row % T;
          let s = 0;
          for (let j = 0; j < T; j++) {
            s += p.data[row * T + j];
            if (j > i) expect(p.data[row * T + j]).toBe(0);
          }
          expect(Math.abs(s - 1)).toBeLessThan(1e-5);
        }
      }
    });
  }
});
