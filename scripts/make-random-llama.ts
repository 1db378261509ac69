// Writes a random-weight tiny Llama (RMSNorm, rotary, grouped-query attention, SwiGLU) model directory, its ONNX
// graph built in TypeScript either eagerly (as a torch export) or with com.microsoft GroupQueryAttention.
//
//   npx tsx scripts/make-random-llama.ts --out DIR [--attention eager|gqa-rotary|rotary-gqa] [--seed 11]
//
// eager:       q/k/v MatMuls -> rotary (HF rotate_half, cos/sin gathered by position_ids) -> past concat -> repeat_kv
//              -> scores, causal + padding masks, Softmax, probs @ V -> o_proj; inputs input_ids, attention_mask,
//              position_ids, past_key_values.{l}.key/value [B, kv heads, P, dh]; outputs logits, present.*.
// gqa-rotary:  q/k/v MatMuls -> GroupQueryAttention(do_rotary=1, cos/sin caches, position_ids) as the onnxruntime-genai
//              model builder writes it (seqlens_k = sum(mask) - 1, total_sequence_length = mask width).
// rotary-gqa:  com.microsoft RotaryEmbedding on q and k, then GroupQueryAttention without rotary (ORT optimizer style).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { GraphBuilder, boolTensor, normalSource, tensorInfo } from './make-random-gpt2.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
const DT = onnx.TensorProto.DataType;
const MS = 'com.microsoft';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type LlamaAttention = 'eager' | 'gqa-rotary' | 'rotary-gqa';

export interface LlamaShape {
  nLayer: number;
  nHead: number;
  nKvHead: number;
  dModel: number;
  dFf: number;
  nCtx: number;
  vocabSize: number;
  ropeTheta: number;
  eps: number;
}

export const TINY_LLAMA: LlamaShape = { nLayer: 2, nHead: 4, nKvHead: 2, dModel: 64, dFf: 64, nCtx: 64, vocabSize: 257, ropeTheta: 10000, eps: 1e-5 };

export interface LlamaWeights {
  embed: Float32Array;
  layers: { ln1: Float32Array; wq: Float32Array; wk: Float32Array; wv: Float32Array; wo: Float32Array; ln2: Float32Array; wg: Float32Array; wu: Float32Array; wd: Float32Array }[];
  norm: Float32Array;
  /** [d, V] (MatMul layout). */
  lmHead: Float32Array;
}

/** Weights drawn in a fixed order: embed, per layer ln1, q, k, v, o, ln2, gate, up, down; norm; lm_head. */
export function randomLlamaWeights(s: LlamaShape, seed: number, std = 0.12): LlamaWeights {
  const draw = normalSource(seed);
  const rnd = (n: number, sd = std) => draw(new Float32Array(n), sd);
  const gain = (n: number) => rnd(n, 0.2).map((x) => 1 + x);
  const dh = s.dModel / s.nHead;
  const embed = rnd(s.vocabSize * s.dModel);
  const layers = Array.from({ length: s.nLayer }, () => ({
    ln1: gain(s.dModel),
    wq: rnd(s.dModel * s.nHead * dh),
    wk: rnd(s.dModel * s.nKvHead * dh),
    wv: rnd(s.dModel * s.nKvHead * dh),
    wo: rnd(s.nHead * dh * s.dModel),
    ln2: gain(s.dModel),
    wg: rnd(s.dModel * s.dFf),
    wu: rnd(s.dModel * s.dFf),
    wd: rnd(s.dFf * s.dModel),
  }));
  return { embed, layers, norm: gain(s.dModel), lmHead: rnd(s.dModel * s.vocabSize) };
}

/** cos/sin of position * theta^(-2i/dh), [ctx, dh/2]. */
export function ropeCaches(s: LlamaShape): { cos: Float32Array; sin: Float32Array } {
  const dh = s.dModel / s.nHead;
  const half = dh / 2;
  const cos = new Float32Array(s.nCtx * half);
  const sin = new Float32Array(s.nCtx * half);
  for (let p = 0; p < s.nCtx; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * Math.pow(s.ropeTheta, (-2 * i) / dh);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/**
 * `skipNorms`: each residual add and the RMSNorm after it fused into com.microsoft SkipSimplifiedLayerNormalization
 * (its sum output carries the stream), as the onnxruntime-genai model builder writes Llama.
 */
export function buildLlamaOnnx(s: LlamaShape, w: LlamaWeights, kind: LlamaAttention, skipNorms = false): ModelProto {
  const { nLayer: L, nHead: H, nKvHead: Hkv, dModel: d, dFf: F, nCtx: C, vocabSize: V, eps } = s;
  const dh = d / H;
  const g = new GraphBuilder();
  const ms = (opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, number>) => {
    const attribute = Object.entries(attrs).map(([k, v]) =>
      k === 'epsilon'
        ? onnx.AttributeProto.create({ name: k, f: v, type: onnx.AttributeProto.AttributeType.FLOAT })
        : onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT }),
    );
    g.nodes.push(onnx.NodeProto.create({ opType, name, domain: MS, input: inputs, output: outputs, attribute }));
  };
  const rms = (prefix: string, x: string, gain: string) => {
    const sq = g.one('Pow', `${prefix}/Pow`, [x, g.scalar(2)]);
    const mean = g.one('ReduceMean', `${prefix}/ReduceMean`, [sq], { axes: [-1], keepdims: 1 });
    const sd = g.one('Sqrt', `${prefix}/Sqrt`, [g.one('Add', `${prefix}/Add`, [mean, g.scalar(eps)])]);
    return g.one('Mul', `${prefix}/Mul`, [g.one('Div', `${prefix}/Div`, [x, sd]), gain]);
  };
  const { cos, sin } = ropeCaches(s);
  const half = dh / 2;
  const pastIn: ReturnType<typeof tensorInfo>[] = [];
  const presentOut: ReturnType<typeof tensorInfo>[] = [];

  let h = g.one('Gather', '/model/embed_tokens/Gather', [g.weight('model.embed_tokens.weight', [V, d], w.embed), 'input_ids']);
  // Shared per-graph tensors.
  let cosB = '';
  let sinB = '';
  let extMask = '';
  let seqlensK = '';
  let totalLen = '';
  const cosCache = g.weight('model.rotary.cos_cache', [C, half], cos);
  const sinCache = g.weight('model.rotary.sin_cache', [C, half], sin);
  if (kind === 'eager') {
    // HF: cos = cat(freqs, freqs).cos()[position_ids] -> [B,1,S,dh].
    const cosFull = g.one('Concat', '/model/rotary/Concat', [cosCache, cosCache], { axis: 1 });
    const sinFull = g.one('Concat', '/model/rotary/Concat_1', [sinCache, sinCache], { axis: 1 });
    cosB = g.one('Unsqueeze', '/model/rotary/Unsqueeze', [g.one('Gather', '/model/rotary/Gather', [cosFull, 'position_ids']), g.ints([1])]);
    sinB = g.one('Unsqueeze', '/model/rotary/Unsqueeze_1', [g.one('Gather', '/model/rotary/Gather_1', [sinFull, 'position_ids']), g.ints([1])]);
    const m = g.one('Cast', '/model/mask/Cast', [g.one('Unsqueeze', '/model/mask/Unsqueeze', ['attention_mask', g.ints([1, 2])])], { to: DT.FLOAT });
    extMask = g.one('Mul', '/model/mask/Mul', [g.one('Sub', '/model/mask/Sub', [g.scalar(1), m]), g.scalar(-3.4028234663852886e38)]);
    const tri = new Uint8Array(C * C);
    for (let i = 0; i < C; i++) for (let j = 0; j <= i; j++) tri[i * C + j] = 1;
    g.inits.push(boolTensor('model.causal_mask', [1, 1, C, C], tri));
  } else {
    // The genai model builder's attention inputs.
    const sum = g.one('ReduceSum', '/model/attn_mask_reformat/ReduceSum', ['attention_mask', g.ints([1])], { keepdims: 0 });
    seqlensK = g.one('Cast', '/model/attn_mask_reformat/Cast', [g.one('Sub', '/model/attn_mask_reformat/Sub', [sum, g.ints([1])])], { to: DT.INT32 });
    const width = g.one('Gather', '/model/attn_mask_reformat/Gather', [g.one('Shape', '/model/attn_mask_reformat/Shape', ['attention_mask']), g.ints([1])], { axis: 0 });
    totalLen = g.one('Cast', '/model/attn_mask_reformat/Cast_1', [width], { to: DT.INT32 });
  }

  const rotateHalf = (prefix: string, x: string) => {
    const x1 = g.one('Slice', `${prefix}/Slice`, [x, g.ints([0]), g.ints([half]), g.ints([3])]);
    const x2 = g.one('Slice', `${prefix}/Slice_1`, [x, g.ints([half]), g.ints([dh]), g.ints([3])]);
    return g.one('Concat', `${prefix}/Concat`, [g.one('Neg', `${prefix}/Neg`, [x2]), x1], { axis: 3 });
  };
  const applyRope = (prefix: string, x: string) =>
    g.one('Add', `${prefix}/Add`, [g.one('Mul', `${prefix}/Mul`, [x, cosB]), g.one('Mul', `${prefix}/Mul_1`, [rotateHalf(prefix, x), sinB])]);
  const repeatKv = (prefix: string, x: string) => {
    const u = g.one('Unsqueeze', `${prefix}/Unsqueeze`, [x, g.ints([2])]);
    const e = g.one('Expand', `${prefix}/Expand`, [u, g.ints([1, 1, H / Hkv, 1, 1])]);
    return g.one('Reshape', `${prefix}/Reshape`, [e, g.ints([0, H, -1, dh])]);
  };

  let nextIn = '';
  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    const p = `/model/layers.${l}`;
    const wn = (x: string) => `model.layers.${l}.${x}`;
    const x = skipNorms && l > 0 ? nextIn : rms(`${p}/input_layernorm`, h, g.weight(wn('input_layernorm.weight'), [d], lw.ln1));
    const q = g.one('MatMul', `${p}/attn/q_proj/MatMul`, [x, g.weight(wn('attn.q_proj.weight'), [d, H * dh], lw.wq)]);
    const k = g.one('MatMul', `${p}/attn/k_proj/MatMul`, [x, g.weight(wn('attn.k_proj.weight'), [d, Hkv * dh], lw.wk)]);
    const v = g.one('MatMul', `${p}/attn/v_proj/MatMul`, [x, g.weight(wn('attn.v_proj.weight'), [d, Hkv * dh], lw.wv)]);
    const pastK = `past_key_values.${l}.key`;
    const pastV = `past_key_values.${l}.value`;
    pastIn.push(tensorInfo(pastK, DT.FLOAT, ['batch_size', Hkv, 'past_sequence_length', dh]), tensorInfo(pastV, DT.FLOAT, ['batch_size', Hkv, 'past_sequence_length', dh]));
    presentOut.push(
      tensorInfo(`present.${l}.key`, DT.FLOAT, ['batch_size', Hkv, 'total_sequence_length', dh]),
      tensorInfo(`present.${l}.value`, DT.FLOAT, ['batch_size', Hkv, 'total_sequence_length', dh]),
    );
    let merged: string;
    if (kind === 'eager') {
      const heads = (t: string, n: number, tag: string) => g.one('Transpose', `${p}/attn/Transpose_${tag}`, [g.one('Reshape', `${p}/attn/Reshape_${tag}`, [t, g.ints([0, 0, n, dh])])], { perm: [0, 2, 1, 3] });
      const qr = applyRope(`${p}/attn/rope_q`, heads(q, H, 'q'));
      const kr = applyRope(`${p}/attn/rope_k`, heads(k, Hkv, 'k'));
      const kAll = g.one('Concat', `${p}/attn/Concat_k`, [pastK, kr], { axis: 2 });
      const vAll = g.one('Concat', `${p}/attn/Concat_v`, [pastV, heads(v, Hkv, 'v')], { axis: 2 });
      g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: `${p}/attn/present_k`, input: [kAll], output: [`present.${l}.key`] }));
      g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: `${p}/attn/present_v`, input: [vAll], output: [`present.${l}.value`] }));
      const kRep = repeatKv(`${p}/attn/repeat_k`, kAll);
      const vRep = repeatKv(`${p}/attn/repeat_v`, vAll);
      const kt = g.one('Transpose', `${p}/attn/Transpose_kt`, [kRep], { perm: [0, 1, 3, 2] });
      const scores = g.one('Mul', `${p}/attn/Mul`, [g.one('MatMul', `${p}/attn/MatMul`, [qr, kt]), g.scalar(1 / Math.sqrt(dh))]);
      const qLen = g.one('Slice', `${p}/attn/Slice`, [g.one('Shape', `${p}/attn/Shape`, [qr]), g.ints([2]), g.ints([3]), g.ints([0])]);
      const kLen = g.one('Slice', `${p}/attn/Slice_1`, [g.one('Shape', `${p}/attn/Shape_1`, [kRep]), g.ints([2]), g.ints([3]), g.ints([0])]);
      const start = g.one('Sub', `${p}/attn/Sub`, [kLen, qLen]);
      const rows = g.one('Slice', `${p}/attn/Slice_2`, ['model.causal_mask', start, kLen, g.ints([2])]);
      const causal = g.one('Slice', `${p}/attn/Slice_3`, [rows, g.ints([0]), kLen, g.ints([3])]);
      const masked = g.one('Where', `${p}/attn/Where`, [causal, scores, g.scalar(-3.4028234663852886e38)]);
      const probs = g.one('Softmax', `${p}/attn/Softmax`, [g.one('Add', `${p}/attn/Add`, [masked, extMask])], { axis: -1 });
      const ctx = g.one('MatMul', `${p}/attn/MatMul_1`, [probs, vRep]);
      merged = g.one('Reshape', `${p}/attn/Reshape_o`, [g.one('Transpose', `${p}/attn/Transpose_o`, [ctx], { perm: [0, 2, 1, 3] }), g.ints([0, 0, d])]);
    } else {
      let qIn = q;
      let kIn = k;
      if (kind === 'rotary-gqa') {
        qIn = `${p}/attn/q_rotary/output_0`;
        kIn = `${p}/attn/k_rotary/output_0`;
        ms('RotaryEmbedding', `${p}/attn/q_rotary`, [q, 'position_ids', cosCache, sinCache], [qIn], { interleaved: 0, num_heads: H });
        ms('RotaryEmbedding', `${p}/attn/k_rotary`, [k, 'position_ids', cosCache, sinCache], [kIn], { interleaved: 0, num_heads: Hkv });
      }
      merged = `${p}/attn/GroupQueryAttention/output_0`;
      const rotary = kind === 'gqa-rotary';
      const ins = [qIn, kIn, v, pastK, pastV, seqlensK, totalLen, rotary ? cosCache : '', rotary ? sinCache : '', rotary ? 'position_ids' : ''];
      ms('GroupQueryAttention', `${p}/attn/GroupQueryAttention`, ins, [merged, `present.${l}.key`, `present.${l}.value`], { num_heads: H, kv_num_heads: Hkv, do_rotary: rotary ? 1 : 0 });
    }
    const attnOut = g.one('MatMul', `${p}/attn/o_proj/MatMul`, [merged, g.weight(wn('attn.o_proj.weight'), [H * dh, d], lw.wo)]);
    let mid: string;
    let y: string;
    if (skipNorms) {
      mid = `${p}/skip_sum`;
      y = `${p}/post_attention_layernorm/output_0`;
      ms('SkipSimplifiedLayerNormalization', `${p}/post_attention_layernorm`, [attnOut, h, g.weight(wn('post_attention_layernorm.weight'), [d], lw.ln2)], [y, '', '', mid], { epsilon: eps });
    } else {
      mid = g.one('Add', `${p}/Add`, [h, attnOut]);
      y = rms(`${p}/post_attention_layernorm`, mid, g.weight(wn('post_attention_layernorm.weight'), [d], lw.ln2));
    }
    const gate = g.one('MatMul', `${p}/mlp/gate_proj/MatMul`, [y, g.weight(wn('mlp.gate_proj.weight'), [d, F], lw.wg)]);
    const up = g.one('MatMul', `${p}/mlp/up_proj/MatMul`, [y, g.weight(wn('mlp.up_proj.weight'), [d, F], lw.wu)]);
    const act = g.one('Mul', `${p}/mlp/Mul_1`, [g.one('Mul', `${p}/mlp/Mul`, [gate, g.one('Sigmoid', `${p}/mlp/Sigmoid`, [gate])]), up]);
    const down = g.one('MatMul', `${p}/mlp/down_proj/MatMul`, [act, g.weight(wn('mlp.down_proj.weight'), [F, d], lw.wd)]);
    if (skipNorms) {
      const last = l === L - 1;
      const gain = last ? g.weight('model.norm.weight', [d], w.norm) : g.weight(`model.layers.${l + 1}.input_layernorm.weight`, [d], w.layers[l + 1].ln1);
      h = `${p}/skip_sum_1`;
      nextIn = last ? '/model/norm/output_0' : `/model/layers.${l + 1}/input_layernorm/output_0`;
      ms('SkipSimplifiedLayerNormalization', last ? '/model/norm' : `/model/layers.${l + 1}/input_layernorm`, [down, mid, gain], [nextIn, '', '', h], { epsilon: eps });
    } else h = g.one('Add', `${p}/Add_1`, [mid, down]);
  }
  const normed = skipNorms ? nextIn : rms('/model/norm', h, g.weight('model.norm.weight', [d], w.norm));
  g.nodes.push(onnx.NodeProto.create({ opType: 'MatMul', name: '/lm_head/MatMul', input: [normed, g.weight('lm_head.weight', [d, V], w.lmHead)], output: ['logits'] }));
  const graph = onnx.GraphProto.create({
    name: 'main_graph',
    node: g.nodes,
    initializer: g.inits,
    input: [
      tensorInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
      tensorInfo('attention_mask', DT.INT64, ['batch_size', 'total_sequence_length']),
      tensorInfo('position_ids', DT.INT64, ['batch_size', 'sequence_length']),
      ...pastIn,
    ],
    output: [tensorInfo('logits', DT.FLOAT, ['batch_size', 'sequence_length', V]), ...presentOut],
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'precache-lens make-random-llama',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 }), ...(kind === 'eager' && !skipNorms ? [] : [onnx.OperatorSetIdProto.create({ domain: MS, version: 1 })])],
    graph,
  });
}

/** Writes DIR: config.json (Llama style), the fixtures' byte tokenizer, onnx/model.onnx. */
export function writeRandomLlama(out: string, kind: LlamaAttention, seed = 11, s: LlamaShape = TINY_LLAMA, skipNorms = false): string {
  const w = randomLlamaWeights(s, seed);
  const bytes = onnx.ModelProto.encode(buildLlamaOnnx(s, w, kind, skipNorms)).finish();
  fs.mkdirSync(path.join(out, 'onnx'), { recursive: true });
  fs.writeFileSync(path.join(out, 'onnx/model.onnx'), bytes);
  const tok = path.join(REPO, 'tests/fixtures/models/gpt2-opset14');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tok, f), path.join(out, f));
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: s.dModel,
    intermediate_size: s.dFf,
    num_hidden_layers: s.nLayer,
    num_attention_heads: s.nHead,
    num_key_value_heads: s.nKvHead,
    max_position_embeddings: s.nCtx,
    vocab_size: s.vocabSize,
    rms_norm_eps: s.eps,
    rope_theta: s.ropeTheta,
    bos_token_id: 256,
    eos_token_id: 256,
    tie_word_embeddings: false,
    _comment: `random weights from scripts/make-random-llama.ts (seed ${seed}, attention ${kind}); not a trained model`,
  };
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  return path.join(out, 'onnx/model.onnx');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (k: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const out = arg('--out');
  const kind = (arg('--attention') ?? 'eager') as LlamaAttention;
  if (!out || !['eager', 'gqa-rotary', 'rotary-gqa'].includes(kind)) {
    console.error('usage: npx tsx scripts/make-random-llama.ts --out DIR [--attention eager|gqa-rotary|rotary-gqa] [--seed 11]');
    process.exit(1);
  }
  const f = writeRandomLlama(out, kind, Number(arg('--seed') ?? 11));
  console.log(`wrote ${f} (${(fs.statSync(f).size / 1024).toFixed(0)} KiB)`);
}
