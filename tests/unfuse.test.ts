// Un-fusing fused attention and norms: the expanded graph computes what onnxruntime's fused kernels compute, and its
// hooks and knockouts equal those of the eager export of the same weights.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { HookedModel, type Tensor } from '../server/engine/hooked-model.js';
import { decodeModel, encodeModel, onnx, type ModelProto } from '../server/engine/onnx-graph.js';
import { unfuseModel } from '../server/engine/unfuse/index.js';
import { allHookNames } from '../shared/hooks.js';
import { buildGpt2Onnx, randomGpt2Weights, type GraphOptions } from '../scripts/make-random-gpt2.js';
import { FUSED_FIXTURES, FUSED_SHAPE, GENAI_FIXTURE, GOLDEN_INPUT, LLAMA_FIXTURES, LLAMA_SEED } from '../scripts/make-fused-fixtures.js';
import { buildLlamaOnnx, randomLlamaWeights, TINY_LLAMA } from '../scripts/make-random-llama.js';
import { FIXTURES } from './helpers/golden.js';

const TOL = 1e-4;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-unfuse-'));
const models: HookedModel[] = [];
afterAll(async () => {
  for (const m of models) await m.release();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function load(name: string): HookedModel {
  const m = HookedModel.load(path.join(FIXTURES, name), { cacheDir: path.join(tmp, 'graphs'), threads: 1 });
  models.push(m);
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic feeds for every input of a session: B rows of T=5 tokens after P cached positions. */
function feedsFor(s: ort.InferenceSession, P: number, H: number, dh: number, B = 2): Record<string, ort.Tensor> {
  const T = 5;
  const f: Record<string, ort.Tensor> = {};
  const wave = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i + seed));
  for (const n of s.inputNames) {
    if (n === 'input_ids') f[n] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 37 + 11) % 257)), [B, T]);
    else if (n === 'position_ids') f[n] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(P + (i % T))), [B, T]);
    else if (n === 'attention_mask') f[n] = new ort.Tensor('int64', new BigInt64Array(B * (P + T)).fill(1n), [B, P + T]);
    else if (n.startsWith('past_key_values.')) f[n] = new ort.Tensor('float32', wave(B * H * P * dh, n.length), [B, H, P, dh]);
    else if (n.startsWith('past_')) f[n] = new ort.Tensor('float32', wave(2 * B * H * P * dh, n.length), [2, B, H, P, dh]);
    else throw new Error(`test does not know input ${n}`);
  }
  return f;
}

/** Runs the fused and the un-fused graph on the same feeds; returns the largest difference over all outputs. */
async function fusedVsUnfused(model: ModelProto, P: number, kv = { H: FUSED_SHAPE.nHead, dh: FUSED_SHAPE.dModel / FUSED_SHAPE.nHead }, B = 2): Promise<{ diff: number; outputs: string[]; replaced: string[] }> {
  const fusedBytes = encodeModel(model);
  const u = decodeModel(fusedBytes);
  const replaced = unfuseModel(u, 'test.onnx').map((n) => n.opType);
  const s1 = await ort.InferenceSession.create(fusedBytes);
  const s2 = await ort.InferenceSession.create(encodeModel(u));
  const o1 = await s1.run(feedsFor(s1, P, kv.H, kv.dh, B));
  const o2 = await s2.run(feedsFor(s2, P, kv.H, kv.dh, B));
  let diff = 0;
  for (const k of s1.outputNames) diff = Math.max(diff, maxDiff(o1[k].data as Float32Array, o2[k].data as Float32Array));
  const outputs = [...s1.outputNames];
  await s1.release();
  await s2.release();
  return { diff, outputs, replaced };
}

const weights = randomGpt2Weights(FUSED_SHAPE, FUSED_SHAPE.seed);
const VARIANTS: [string, GraphOptions, string[]][] = [
  ['com.microsoft Attention (packed QKV, unidirectional, 2-D mask)', { attention: 'ms-attention' }, ['Attention']],
  ['com.microsoft Attention with packed past/present', { attention: 'ms-attention', past: true }, ['Attention']],
  ['com.microsoft MultiHeadAttention with bias, key padding mask and past', { attention: 'ms-mha', past: true }, ['MultiHeadAttention']],
  ['ONNX Attention (opset 23, is_causal) with past', { attention: 'onnx-attention', past: true }, ['Attention']],
  ['SkipLayerNormalization residual stream with bias', { attention: 'eager', skipNorms: true, past: true }, ['SkipLayerNormalization']],
  ['Attention and SkipLayerNormalization together', { attention: 'ms-attention', skipNorms: true }, ['Attention', 'SkipLayerNormalization']],
];

describe('un-fused graphs compute what onnxruntime computes for the fused ones', () => {
  for (const [label, go, ops] of VARIANTS) {
    it(`${label}: outputs (logits and presents) equal to 1e-4, past of length 0 and 3`, async () => {
      for (const P of go.past ? [0, 3] : [0]) {
        const r = await fusedVsUnfused(buildGpt2Onnx(FUSED_SHAPE, weights, go), P);
        expect(new Set(r.replaced)).toEqual(new Set(ops));
        expect(r.diff, `${label}, past ${P}`).toBeLessThan(TOL);
        if (go.past) expect(r.outputs.length).toBe(1 + 2 * (go.attention === 'ms-attention' ? 1 : 2));
      }
    });
  }
});

const llamaWeights = randomLlamaWeights(TINY_LLAMA, LLAMA_SEED);
const LLAMA_KV = { H: TINY_LLAMA.nKvHead, dh: TINY_LLAMA.dModel / TINY_LLAMA.nHead };

describe('GroupQueryAttention (kv heads, seqlens_k, rotary) un-fused', () => {
  for (const kind of ['gqa-rotary', 'rotary-gqa'] as const) {
    it(`${kind}: un-fused outputs equal the fused kernel's (batch 2 without past; batch 1 with a past of 3, the kernel's limit)`, async () => {
      for (const [B, P] of [[2, 0], [1, 3]]) {
        const r = await fusedVsUnfused(buildLlamaOnnx(TINY_LLAMA, llamaWeights, kind), P, LLAMA_KV, B);
        expect(r.replaced).toEqual(['GroupQueryAttention', 'GroupQueryAttention']);
        expect(r.diff, `${kind} B ${B} P ${P}`).toBeLessThan(TOL);
      }
    });
  }

  it('rotary positions taken from seqlens_k when the node has no position_ids input', async () => {
    const m = buildLlamaOnnx(TINY_LLAMA, llamaWeights, 'gqa-rotary');
    for (const n of m.graph!.node!) if (n.opType === 'GroupQueryAttention') n.input = n.input!.slice(0, 9);
    for (const [B, P] of [[2, 0], [1, 3]]) expect((await fusedVsUnfused(m, P, LLAMA_KV, B)).diff).toBeLessThan(TOL);
  });

  it('local_window_size masks keys further back than the window, as the kernel does', async () => {
    const m = buildLlamaOnnx(TINY_LLAMA, llamaWeights, 'gqa-rotary');
    for (const n of m.graph!.node!) {
      if (n.opType === 'GroupQueryAttention') n.attribute!.push(onnx.AttributeProto.create({ name: 'local_window_size', i: 2, type: onnx.AttributeProto.AttributeType.INT }));
    }
    expect((await fusedVsUnfused(m, 0, LLAMA_KV, 2)).diff).toBeLessThan(TOL);
    // The window must change the outputs (T = 5 > 2), or the check proves nothing.
    const a = await ort.InferenceSession.create(encodeModel(m));
    const b = await ort.InferenceSession.create(encodeModel(buildLlamaOnnx(TINY_LLAMA, llamaWeights, 'gqa-rotary')));
    const la = (await a.run(feedsFor(a, 0, LLAMA_KV.H, LLAMA_KV.dh))).logits.data as Float32Array;
    const lb = (await b.run(feedsFor(b, 0, LLAMA_KV.H, LLAMA_KV.dh))).logits.data as Float32Array;
    expect(maxDiff(la, lb)).toBeGreaterThan(1e-2);
  });
});

describe('an onnxruntime-genai style int4 graph (SkipSimplifiedLayerNormalization + GroupQueryAttention + MatMulNBits)', () => {
  const file = path.join(FIXTURES, GENAI_FIXTURE, 'model.onnx');

  it('un-fused outputs equal the fused kernels\' (batch 2 without past, batch 1 with a past of 3)', async () => {
    for (const [B, P] of [[2, 0], [1, 3]]) {
      const r = await fusedVsUnfused(decodeModel(fs.readFileSync(file)), P, LLAMA_KV, B);
      expect(new Set(r.replaced)).toEqual(new Set(['GroupQueryAttention', 'SkipSimplifiedLayerNormalization']));
      expect(r.diff, `B ${B} P ${P}`).toBeLessThan(TOL);
    }
  });

  it('read from its genai folder, every hook equals the eager Llama quantised the same way (llama-tiny-q4), to 1e-4', async () => {
    const hooks = allHookNames(TINY_LLAMA.nLayer).filter((h) => h !== 'logits');
    const ref = await load('llama-tiny-q4').run({ tokens: [GOLDEN_INPUT], hooks });
    const r = await load(GENAI_FIXTURE).run({ tokens: [GOLDEN_INPUT], hooks });
    expect(maxDiff(r.logits!.data, ref.logits!.data)).toBeLessThan(TOL);
    for (const h of hooks) expect(maxDiff(r.cache.get(h)!.data, ref.cache.get(h)!.data), h).toBeLessThan(TOL);
  });
});

describe('GroupQueryAttention graphs without a position_ids input (positions from the mask)', () => {
  it('the un-fused graph takes explicit positions: hooks equal the eager Llama, and the no-prompt run at shifted positions keeps the knockout identity', async () => {
    const dir = path.join(tmp, 'gqa-no-positions');
    fs.cpSync(path.join(FIXTURES, 'llama-tiny-gqa-rotary'), dir, { recursive: true });
    const file = path.join(dir, 'onnx/model.onnx');
    const m0 = decodeModel(fs.readFileSync(file));
    for (const n of m0.graph!.node!) if (n.opType === 'GroupQueryAttention') n.input = n.input!.slice(0, 9);
    m0.graph!.input = m0.graph!.input!.filter((i) => i.name !== 'position_ids');
    fs.writeFileSync(file, encodeModel(m0));
    const m = HookedModel.load(dir, { cacheDir: path.join(tmp, 'graphs'), threads: 1 });
    models.push(m);
    const hooks = ['blocks.1.attn.hook_pattern', 'blocks.1.hook_resid_post'];
    const ref = await load('llama-tiny-eager').run({ tokens: [GOLDEN_INPUT], hooks });
    const r = await m.run({ tokens: [GOLDEN_INPUT], hooks });
    for (const h of hooks) expect(maxDiff(r.cache.get(h)!.data, ref.cache.get(h)!.data), h).toBeLessThan(TOL);
    const shifted = GOLDEN_INPUT.slice(0, 5).map((_, i) => 9 + i);
    const a = await m.run({ tokens: [GOLDEN_INPUT.slice(0, 5)], positionIds: [shifted] });
    const b = await load('llama-tiny-eager').run({ tokens: [GOLDEN_INPUT.slice(0, 5)], positionIds: [shifted] });
    expect(maxDiff(a.logits!.data, b.logits!.data)).toBeLessThan(TOL);
  });
});

const TWINS: [string, string, number][] = [
  ...Object.keys(FUSED_FIXTURES).filter((n) => n !== 'gpt2-tiny-eager').map((n): [string, string, number] => [n, 'gpt2-tiny-eager', FUSED_SHAPE.nLayer]),
  ...Object.keys(LLAMA_FIXTURES).filter((n) => n !== 'llama-tiny-eager').map((n): [string, string, number] => [n, 'llama-tiny-eager', TINY_LLAMA.nLayer]),
  [GENAI_FIXTURE, 'llama-tiny-q4', TINY_LLAMA.nLayer],
];

describe('hooks and knockouts on fused fixtures equal the eager export', () => {
  const seq = GOLDEN_INPUT;

  for (const [name, twin, nLayer] of TWINS) {
    const hooks = allHookNames(nLayer).filter((h) => h !== 'logits');
    it(`${name}: every hook equals the eager export's to 1e-4, and the fixture's logits equal golden.json`, async () => {
      const eager = await load(twin).run({ tokens: [seq], hooks });
      const m = load(name);
      expect(m.analyze().attentionProblem).toBeNull();
      const r = await m.run({ tokens: [seq], hooks });
      for (const h of hooks) {
        const a = r.cache.get(h)!;
        const b = eager.cache.get(h)!;
        expect(a.dims, h).toEqual(b.dims);
        expect(maxDiff(a.data, b.data), `${name} ${h}`).toBeLessThan(TOL);
      }
      const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'golden.json'), 'utf8')) as { logits: number[][] };
      expect(maxDiff(r.logits!.data, golden.logits.flat())).toBeLessThan(TOL);
    });

    it(`${name}: blocking every input->prompt edge at all layers equals the no-prompt run at shifted positions`, async () => {
      const m = load(name);
      const prompt = seq.slice(1, 8);
      const input = seq.slice(8);
      const T = seq.length;
      const bias = new Float32Array(T * T);
      for (let i = 1 + prompt.length; i < T; i++) for (let j = 1; j <= prompt.length; j++) bias[i * T + j] = -Infinity;
      const attentionBias: Record<number, Tensor> = {};
      for (let l = 0; l < nLayer; l++) attentionBias[l] = { data: bias, dims: [1, 1, T, T] };
      const blocked = await m.run({ tokens: [seq], attentionBias });
      const short = await m.run({ tokens: [[seq[0], ...input]], positionIds: [[0, ...input.map((_, i) => prompt.length + 1 + i)]] });
      const V = 257;
      const rowsA = blocked.logits!.data.subarray((1 + prompt.length) * V);
      const rowsB = short.logits!.data.subarray(V);
      expect(maxDiff(rowsA, rowsB)).toBeLessThan(TOL);
      const open = await m.run({ tokens: [seq] });
      expect(maxDiff(open.logits!.data.subarray((1 + prompt.length) * V), rowsA)).toBeGreaterThan(1e-2);
    });
  }
});

describe('other input forms of the fused operators', () => {
  const i64 = (name: string, v: number[]) =>
    onnx.TensorProto.create({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [v.length], rawData: new Uint8Array(BigInt64Array.from(v, BigInt).buffer) });

  it('com.microsoft Attention with a 1-D mask_index (end positions per row)', async () => {
    const m = buildGpt2Onnx(FUSED_SHAPE, weights, { attention: 'ms-attention', past: true });
    const g = m.graph!;
    const cast = g.node!.find((n) => n.name === '/transformer/Cast_mask')!;
    // mask_index = sum(attention_mask, axis 1) as int32: [B]
    const sum = onnx.NodeProto.create({ opType: 'ReduceSum', name: 'mask_sum', input: ['attention_mask', 'mask_axes'], output: ['mask_sum_out'], attribute: [onnx.AttributeProto.create({ name: 'keepdims', i: 0, type: onnx.AttributeProto.AttributeType.INT })] });
    g.initializer!.push(i64('mask_axes', [1]));
    cast.input = ['mask_sum_out'];
    g.node!.splice(g.node!.indexOf(cast), 0, sum);
    for (const P of [0, 3]) expect((await fusedVsUnfused(m, P)).diff).toBeLessThan(TOL);
  });

});

describe('configurations that cannot be un-fused are refused naming the node, the attribute and the file', () => {
  it('com.microsoft Attention with past_present_share_buffer=1', () => {
    const m = buildGpt2Onnx(FUSED_SHAPE, weights, { attention: 'ms-attention' });
    const att = m.graph!.node!.find((n) => n.opType === 'Attention')!;
    att.attribute!.push(onnx.AttributeProto.create({ name: 'past_present_share_buffer', i: 1, type: onnx.AttributeProto.AttributeType.INT }));
    expect(() => unfuseModel(m, '/models/x/onnx/model.onnx')).toThrow(
      /\/models\/x\/onnx\/model\.onnx: cannot un-fuse com\.microsoft\.Attention node "\/transformer\/h\.0\/attn\/Attention": attribute past_present_share_buffer=1/,
    );
  });

  it('the engine reports the refusal as the reason attention hooks are unavailable, and still runs plain forwards', async () => {
    const dir = path.join(tmp, 'share-buffer');
    fs.cpSync(path.join(FIXTURES, 'gpt2-tiny-ort-attention'), dir, { recursive: true });
    const file = path.join(dir, 'onnx/model.onnx');
    const m0 = decodeModel(fs.readFileSync(file));
    const att = m0.graph!.node!.find((n) => n.opType === 'Attention')!;
    att.attribute!.push(onnx.AttributeProto.create({ name: 'do_rotary', i: 1, type: onnx.AttributeProto.AttributeType.INT }));
    fs.writeFileSync(file, encodeModel(m0));
    const m = HookedModel.load(dir, { cacheDir: path.join(tmp, 'graphs'), threads: 1 });
    models.push(m);
    await expect(m.run({ tokens: [[256, 1, 2]], hooks: ['blocks.0.attn.hook_pattern'] })).rejects.toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot un-fuse com\\.microsoft\\.Attention node ".*": attribute do_rotary=1`),
    );
  });
});
