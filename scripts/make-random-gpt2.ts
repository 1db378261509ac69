// Writes a random-weight GPT-2 model directory in Hugging Face layout, its ONNX graph built in TypeScript.
//
//   npx tsx scripts/make-random-gpt2.ts --out DIR [--layers 12 --d-model 768 --heads 12 --ctx 1024 --vocab 50257
//        --seed 1 --std 0.02 --opset 14 --tokenizer-from DIR]
//
// DIR gets config.json (GPT-2 style), tokenizer.json + tokenizer_config.json copied from --tokenizer-from (default
// the full GPT-2 tokenizer, generated into .cache/ by scripts/gpt2-tokenizer.ts), onnx/model.onnx and generator.json
// (the arguments, so a cache can tell whether it is stale). The default vocab size and bos/eos ids come from the
// tokenizer folder's config.json when it has one, else from the tokenizer itself (highest id in tokenizer.json + 1;
// the ids of tokenizer_config.json's bos_token / eos_token).
//
// The graph has the op structure of a Hugging Face GPT2LMHeadModel torch.onnx export (eager attention):
//   inputs input_ids / attention_mask / position_ids, int64 [batch_size, sequence_length]; output logits [B,T,V]
//   Gather(wte) + Gather(wpe) -> Add
//   per layer: ln_1 (decomposed ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add at opset 14, LayerNormalization
//   at opset 17) -> c_attn MatMul + Add -> Split q,k,v -> Reshape [B,T,H,dh] -> Transpose (q, v: [B,H,T,dh];
//   k: [B,H,dh,T]) -> MatMul q k -> Div sqrt(dh) -> Where(causal mask sliced from a [1,1,ctx,ctx] bool
//   initializer with Shape/Slice, scores, float32 min) -> Add extended attention mask ((1 - mask) * float32 min,
//   [B,1,1,T]) -> Softmax(-1) -> MatMul v -> Transpose -> Reshape [B,T,d] -> c_proj MatMul + Add -> residual Add
//   -> ln_2 -> c_fc MatMul + Add -> gelu_new (Mul/Pow/Mul/Add/Mul/Tanh/Add/Mul) -> c_proj MatMul + Add -> residual
//   Add; ln_f; logits = MatMul(x, Transpose(wte)) (tied, wte stored once).
// Weights: mulberry32-seeded Box-Muller normals with standard deviation --std (default 0.02, GPT-2's initializer
// range) for every matrix, embedding and bias, LayerNorm biases included; LayerNorm gains are exactly 1. Drawn in a
// fixed order (see randomGpt2Weights), so the same shape and seed give the same weights. Stored as little-endian
// float32 rawData.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import { mulberry32 } from '../shared/random.js';
import { fullGpt2TokenizerDir } from './gpt2-tokenizer.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;

/** Bump when the graph or the weight order changes, so cached directories are regenerated. */
export const GENERATOR_VERSION = 1;
const FLOAT32_MIN = -3.4028234663852886e38; // torch.finfo(torch.float32).min, as HF GPT-2 masks with
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface Gpt2Shape {
  nLayer: number;
  nHead: number;
  dModel: number;
  nCtx: number;
  vocabSize: number;
}

export interface RandomGpt2Config extends Gpt2Shape {
  /** Standard deviation of every random weight (default 0.02). */
  std?: number;
  /** 14: decomposed LayerNorm (as torch exports at opset 14); 17: LayerNormalization. */
  opset?: 14 | 17;
  layerNormEps?: number;
  bosTokenId?: number;
  eosTokenId?: number;
}

export interface Gpt2LayerWeights {
  ln1G: Float32Array;
  ln1B: Float32Array;
  /** [d, 3d] (HF Conv1D layout: [in, out]). */
  cAttnW: Float32Array;
  cAttnB: Float32Array;
  /** [d, d]. */
  attnProjW: Float32Array;
  attnProjB: Float32Array;
  ln2G: Float32Array;
  ln2B: Float32Array;
  /** [d, 4d]. */
  fcW: Float32Array;
  fcB: Float32Array;
  /** [4d, d]. */
  mlpProjW: Float32Array;
  mlpProjB: Float32Array;
}

export interface Gpt2Weights {
  /** [vocab, d]; also the (tied) unembedding. */
  wte: Float32Array;
  /** [ctx, d]. */
  wpe: Float32Array;
  layers: Gpt2LayerWeights[];
  lnFG: Float32Array;
  lnFB: Float32Array;
}

/** Standard normals from a seeded uniform source (Box-Muller, both values used). */
export function normalSource(seed: number): (out: Float32Array, std: number) => Float32Array {
  const u = mulberry32(seed);
  let spare: number | null = null;
  return (out, std) => {
    for (let i = 0; i < out.length; i++) {
      if (spare !== null) {
        out[i] = spare * std;
        spare = null;
        continue;
      }
      let u1 = u();
      while (u1 <= 1e-300) u1 = u();
      const r = Math.sqrt(-2 * Math.log(u1));
      const th = 2 * Math.PI * u();
      out[i] = r * Math.cos(th) * std;
      spare = r * Math.sin(th);
    }
    return out;
  };
}

export function checkShape(s: Gpt2Shape): void {
  for (const [k, v] of Object.entries({ nLayer: s.nLayer, nHead: s.nHead, dModel: s.dModel, nCtx: s.nCtx, vocabSize: s.vocabSize })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${k} must be a positive integer, got ${v}`);
  }
  if (s.dModel % s.nHead !== 0) throw new Error(`d_model ${s.dModel} is not divisible by ${s.nHead} heads`);
}

/** Parameter count of the model (wte counted once: it is tied). */
export function gpt2ParamCount(s: Gpt2Shape): number {
  const d = s.dModel;
  const perLayer = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
  return s.vocabSize * d + s.nCtx * d + s.nLayer * perLayer + 2 * d;
}

/**
 * The random weights for a shape and seed, drawn in this order: wte, wpe, then per layer ln_1 bias, c_attn weight,
 * c_attn bias, attn c_proj weight, bias, ln_2 bias, c_fc weight, bias, mlp c_proj weight, bias; then ln_f bias.
 * LayerNorm gains are 1 and draw nothing.
 */
export function randomGpt2Weights(cfg: Gpt2Shape & { std?: number }, seed: number): Gpt2Weights {
  checkShape(cfg);
  const std = cfg.std ?? 0.02;
  const d = cfg.dModel;
  const draw = normalSource(seed);
  const rnd = (n: number) => draw(new Float32Array(n), std);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const wte = rnd(cfg.vocabSize * d);
  const wpe = rnd(cfg.nCtx * d);
  const layers: Gpt2LayerWeights[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    const ln1G = ones(d);
    const ln1B = rnd(d);
    const cAttnW = rnd(d * 3 * d);
    const cAttnB = rnd(3 * d);
    const attnProjW = rnd(d * d);
    const attnProjB = rnd(d);
    const ln2G = ones(d);
    const ln2B = rnd(d);
    const fcW = rnd(d * 4 * d);
    const fcB = rnd(4 * d);
    const mlpProjW = rnd(4 * d * d);
    const mlpProjB = rnd(d);
    layers.push({ ln1G, ln1B, cAttnW, cAttnB, attnProjW, attnProjB, ln2G, ln2B, fcW, fcB, mlpProjW, mlpProjB });
  }
  return { wte, wpe, layers, lnFG: ones(d), lnFB: rnd(d) };
}

// ---------------------------------------------------------------------------------------------- graph building

type AttrValue = number | number[] | { f: number } | { t: ITensorProto };

function littleEndianBytes(a: Float32Array | BigInt64Array | Uint8Array): Uint8Array {
  if (os.endianness() !== 'LE') throw new Error('make-random-gpt2 writes rawData from typed arrays and needs a little-endian machine');
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function floatTensor(name: string, dims: number[], values: Float32Array): ITensorProto {
  const n = dims.reduce((x, y) => x * y, 1);
  if (n !== values.length) throw new Error(`${name}: ${values.length} values for dims [${dims}]`);
  return onnx.TensorProto.create({ name, dataType: DT.FLOAT, dims, rawData: littleEndianBytes(values) });
}

function int64Tensor(name: string, dims: number[], values: number[]): ITensorProto {
  return onnx.TensorProto.create({ name, dataType: DT.INT64, dims, rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))) });
}

export function boolTensor(name: string, dims: number[], values: Uint8Array): ITensorProto {
  return onnx.TensorProto.create({ name, dataType: DT.BOOL, dims, rawData: values });
}

export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly inits: ITensorProto[] = [];
  private readonly constCache = new Map<string, string>();

  node(opType: string, name: string, inputs: string[], nOut = 1, attrs: Record<string, AttrValue> = {}): string[] {
    const outputs = nOut === 1 ? [`${name}_output_0`] : Array.from({ length: nOut }, (_, i) => `${name}_output_${i}`);
    const attribute = Object.entries(attrs).map(([k, v]) => {
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name: k, ints: v, type: onnx.AttributeProto.AttributeType.INTS });
      if (typeof v === 'number') return onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT });
      if ('f' in v) return onnx.AttributeProto.create({ name: k, f: v.f, type: onnx.AttributeProto.AttributeType.FLOAT });
      return onnx.AttributeProto.create({ name: k, t: v.t, type: onnx.AttributeProto.AttributeType.TENSOR });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, name, input: inputs, output: outputs, attribute }));
    return outputs;
  }

  one(opType: string, name: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, name, inputs, 1, attrs)[0];
  }

  weight(name: string, dims: number[], values: Float32Array): string {
    this.inits.push(floatTensor(name, dims, values));
    return name;
  }

  /** A shared float scalar initializer. */
  scalar(v: number): string {
    const key = `f:${v}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = `const_f32_${this.constCache.size}`;
      this.inits.push(floatTensor(name, [], new Float32Array([v])));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A shared 1-D int64 initializer. */
  ints(values: number[]): string {
    const key = `i:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = `const_i64_${this.constCache.size}`;
      this.inits.push(int64Tensor(name, [values.length], values));
      this.constCache.set(key, name);
    }
    return name;
  }
}

function layerNorm(g: GraphBuilder, prefix: string, x: string, gain: string, bias: string, opset: number, eps: number): string {
  if (opset >= 17) return g.one('LayerNormalization', `${prefix}/LayerNormalization`, [x, gain, bias], { axis: -1, epsilon: { f: eps } });
  const mean = g.one('ReduceMean', `${prefix}/ReduceMean`, [x], { axes: [-1], keepdims: 1 });
  const diff = g.one('Sub', `${prefix}/Sub`, [x, mean]);
  const sq = g.one('Pow', `${prefix}/Pow`, [diff, g.scalar(2)]);
  const v = g.one('ReduceMean', `${prefix}/ReduceMean_1`, [sq], { axes: [-1], keepdims: 1 });
  const ve = g.one('Add', `${prefix}/Add`, [v, g.scalar(eps)]);
  const sd = g.one('Sqrt', `${prefix}/Sqrt`, [ve]);
  const nrm = g.one('Div', `${prefix}/Div`, [diff, sd]);
  const scaled = g.one('Mul', `${prefix}/Mul`, [nrm, gain]);
  return g.one('Add', `${prefix}/Add_1`, [scaled, bias]);
}

export function linear(g: GraphBuilder, prefix: string, x: string, w: string, b: string): string {
  const mm = g.one('MatMul', `${prefix}/MatMul`, [x, w]);
  return g.one('Add', `${prefix}/Add`, [mm, b]);
}

export function tensorInfo(name: string, elemType: number, dims: (string | number)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d }))),
        }),
      }),
    }),
  });
}

/**
 * How attention appears in the graph: eager ops (a torch export), or fused as onnxruntime's transformer optimizer
 * (com.microsoft `Attention`, packed QKV), as an Optimum/ORT `MultiHeadAttention` over separate Q/K/V, or as the
 * standard ONNX `Attention` op (opset 23, current torch.onnx).
 */
export type AttentionKind = 'eager' | 'ms-attention' | 'ms-mha' | 'onnx-attention';

export interface GraphOptions {
  attention?: AttentionKind;
  /** Residual adds and the norms after them fused into com.microsoft SkipLayerNormalization (ORT optimizer style). */
  skipNorms?: boolean;
  /**
   * KV-cache inputs and outputs: `past_key_values.{l}.key|value` [B,H,P,dh] -> `present.{l}.key|value` (eager,
   * ms-mha, onnx-attention) or onnxruntime's packed `past_{l}` [2,B,H,P,dh] -> `present_{l}` (ms-attention).
   */
  past?: boolean;
}

const MS = 'com.microsoft';

/** Builds the GPT-2 ONNX model (see the header comment for its op structure) around the given weights. */
export function buildGpt2Onnx(cfg: RandomGpt2Config, w: Gpt2Weights, go: GraphOptions = {}): ModelProto {
  checkShape(cfg);
  const kind = go.attention ?? 'eager';
  const opset = kind === 'onnx-attention' ? 23 : (cfg.opset ?? 14);
  if (opset !== 14 && opset !== 17 && opset !== 23) throw new Error(`opset must be 14 or 17, got ${opset}`);
  if (go.skipNorms && opset < 17) throw new Error('skipNorms needs opset 17 (LayerNormalization for the first norm)');
  const eps = cfg.layerNormEps ?? 1e-5;
  const { nLayer: L, nHead: H, dModel: d, nCtx: C, vocabSize: V } = cfg;
  const dh = d / H;
  const g = new GraphBuilder();
  const contrib = (opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, number | { f: number }>) => {
    const attribute = Object.entries(attrs).map(([k, v]) =>
      typeof v === 'number'
        ? onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT })
        : onnx.AttributeProto.create({ name: k, f: v.f, type: onnx.AttributeProto.AttributeType.FLOAT }),
    );
    g.nodes.push(onnx.NodeProto.create({ opType, name, domain: kind === 'onnx-attention' && opType === 'Attention' ? '' : MS, input: inputs, output: outputs, attribute }));
  };
  const pastIn: ReturnType<typeof tensorInfo>[] = [];
  const presentOut: ReturnType<typeof tensorInfo>[] = [];

  const wte = g.weight('transformer.wte.weight', [V, d], w.wte);
  const wpe = g.weight('transformer.wpe.weight', [C, d], w.wpe);
  const tok = g.one('Gather', '/transformer/wte/Gather', [wte, 'input_ids']);
  const pos = g.one('Gather', '/transformer/wpe/Gather', [wpe, 'position_ids']);
  let h = g.one('Add', '/transformer/Add', [tok, pos]);

  // Extended attention mask: (1 - mask[:, None, None, :]) * float32 min -> [B,1,1,T].
  const m1 = g.one('Unsqueeze', '/transformer/Unsqueeze', ['attention_mask', g.ints([1])]);
  const m2 = g.one('Unsqueeze', '/transformer/Unsqueeze_1', [m1, g.ints([2])]);
  const mf = g.one('Cast', '/transformer/Cast', [m2], { to: DT.FLOAT });
  const inv = g.one('Sub', '/transformer/Sub', [g.scalar(1), mf]);
  const extMask = kind === 'eager' ? g.one('Mul', '/transformer/Mul', [inv, g.scalar(FLOAT32_MIN)]) : '';
  const maskI32 = kind === 'ms-attention' || kind === 'ms-mha' ? g.one('Cast', '/transformer/Cast_mask', ['attention_mask'], { to: DT.INT32 }) : '';
  if (kind !== 'eager') g.nodes.splice(g.nodes.findIndex((n) => n.name === '/transformer/Cast'), 2);

  // GPT-2's causal "bias" buffer: lower-triangular bool [1,1,ctx,ctx], stored once.
  if (kind === 'eager') {
    const tri = new Uint8Array(C * C);
    for (let i = 0; i < C; i++) for (let j = 0; j <= i; j++) tri[i * C + j] = 1;
    g.inits.push(boolTensor('transformer.causal_mask', [1, 1, C, C], tri));
  }

  const wnOf = (l: number) => (s: string) => `transformer.h.${l}.${s}`;
  const ln1Of = (l: number, x: string) => {
    const lw = w.layers[l];
    const wn = wnOf(l);
    return layerNorm(g, `/transformer/h.${l}/ln_1`, x, g.weight(wn('ln_1.weight'), [d], lw.ln1G), g.weight(wn('ln_1.bias'), [d], lw.ln1B), opset, eps);
  };
  let ln1 = ln1Of(0, h);
  let lnF = '';
  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    const p = `/transformer/h.${l}`;
    const wn = wnOf(l);
    const cAttnW = g.weight(wn('attn.c_attn.weight'), [d, 3 * d], lw.cAttnW);
    const cAttnB = g.weight(wn('attn.c_attn.bias'), [3 * d], lw.cAttnB);
    const pastK = `past_key_values.${l}.key`;
    const pastV = `past_key_values.${l}.value`;
    const kvDims = ['batch_size', H, 'past_sequence_length', dh];
    const presentDims = ['batch_size', H, 'past_sequence_length + sequence_length', dh];
    let merged: string;
    if (kind === 'ms-attention') {
      const ins = [ln1, cAttnW, cAttnB, maskI32];
      const outs = [`${p}/attn/Attention_output_0`];
      if (go.past) {
        ins.push(`past_${l}`);
        outs.push(`present_${l}`);
        pastIn.push(tensorInfo(`past_${l}`, DT.FLOAT, [2, 'batch_size', H, 'past_sequence_length', dh]));
        presentOut.push(tensorInfo(`present_${l}`, DT.FLOAT, [2, 'batch_size', H, 'past_sequence_length + sequence_length', dh]));
      }
      contrib('Attention', `${p}/attn/Attention`, ins, outs, { num_heads: H, unidirectional: 1 });
      merged = outs[0];
    } else if (kind === 'ms-mha' || kind === 'onnx-attention') {
      const mha = kind === 'ms-mha';
      const proj = mha ? g.one('MatMul', `${p}/attn/c_attn/MatMul`, [ln1, cAttnW]) : linear(g, `${p}/attn/c_attn`, ln1, cAttnW, cAttnB);
      const [q, k, v] = g.node('Split', `${p}/attn/Split`, [proj, g.ints([d, d, d])], 3, { axis: 2 });
      const outs = [`${p}/attn/Attention_output_0`];
      const ins = mha ? [q, k, v, cAttnB, maskI32, ''] : [q, k, v, ''];
      if (go.past) {
        ins.push(pastK, pastV);
        outs.push(`present.${l}.key`, `present.${l}.value`);
        pastIn.push(tensorInfo(pastK, DT.FLOAT, kvDims), tensorInfo(pastV, DT.FLOAT, kvDims));
        presentOut.push(tensorInfo(`present.${l}.key`, DT.FLOAT, presentDims), tensorInfo(`present.${l}.value`, DT.FLOAT, presentDims));
      }
      if (mha) contrib('MultiHeadAttention', `${p}/attn/MultiHeadAttention`, ins, outs, { num_heads: H, unidirectional: 1 });
      else contrib('Attention', `${p}/attn/Attention`, ins, outs, { q_num_heads: H, kv_num_heads: H, is_causal: 1 });
      merged = outs[0];
    } else {
      const qkv = linear(g, `${p}/attn/c_attn`, ln1, cAttnW, cAttnB);
      const [q, k, v] = g.node('Split', `${p}/attn/Split`, [qkv, g.ints([d, d, d])], 3, { axis: 2 });
      const heads = g.ints([0, 0, H, dh]);
      const qh = g.one('Reshape', `${p}/attn/Reshape`, [q, heads]);
      const kh = g.one('Reshape', `${p}/attn/Reshape_1`, [k, heads]);
      const vh = g.one('Reshape', `${p}/attn/Reshape_2`, [v, heads]);
      const qt = g.one('Transpose', `${p}/attn/Transpose`, [qh], { perm: [0, 2, 1, 3] });
      let vt = g.one('Transpose', `${p}/attn/Transpose_2`, [vh], { perm: [0, 2, 1, 3] });
      let kt: string;
      if (go.past) {
        let kb = g.one('Transpose', `${p}/attn/Transpose_1`, [kh], { perm: [0, 2, 1, 3] });
        kb = g.one('Concat', `${p}/attn/Concat`, [pastK, kb], { axis: 2 });
        vt = g.one('Concat', `${p}/attn/Concat_1`, [pastV, vt], { axis: 2 });
        g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: `${p}/attn/present_k`, input: [kb], output: [`present.${l}.key`] }));
        g.nodes.push(onnx.NodeProto.create({ opType: 'Identity', name: `${p}/attn/present_v`, input: [vt], output: [`present.${l}.value`] }));
        pastIn.push(tensorInfo(pastK, DT.FLOAT, kvDims), tensorInfo(pastV, DT.FLOAT, kvDims));
        presentOut.push(tensorInfo(`present.${l}.key`, DT.FLOAT, presentDims), tensorInfo(`present.${l}.value`, DT.FLOAT, presentDims));
        kt = g.one('Transpose', `${p}/attn/Transpose_3`, [kb], { perm: [0, 1, 3, 2] });
      } else kt = g.one('Transpose', `${p}/attn/Transpose_3`, [kh], { perm: [0, 2, 3, 1] });
      const scores = g.one('MatMul', `${p}/attn/MatMul`, [qt, kt]);
      const scaled = g.one('Div', `${p}/attn/Div`, [scores, g.scalar(Math.sqrt(dh))]);
      // causal = bias[:, :, kLen - qLen : kLen, :kLen]
      const qLen = g.one('Slice', `${p}/attn/Slice`, [g.one('Shape', `${p}/attn/Shape`, [qt]), g.ints([2]), g.ints([3]), g.ints([0])]);
      const kLen = g.one('Slice', `${p}/attn/Slice_1`, [g.one('Shape', `${p}/attn/Shape_1`, [kt]), g.ints([3]), g.ints([4]), g.ints([0])]);
      const start = g.one('Sub', `${p}/attn/Sub`, [kLen, qLen]);
      const rows = g.one('Slice', `${p}/attn/Slice_2`, ['transformer.causal_mask', start, kLen, g.ints([2])]);
      const causal = g.one('Slice', `${p}/attn/Slice_3`, [rows, g.ints([0]), kLen, g.ints([3])]);
      const masked = g.one('Where', `${p}/attn/Where`, [causal, scaled, g.scalar(FLOAT32_MIN)]);
      const withPad = g.one('Add', `${p}/attn/Add`, [masked, extMask]);
      const probs = g.one('Softmax', `${p}/attn/Softmax`, [withPad], { axis: -1 });
      const ctx = g.one('MatMul', `${p}/attn/MatMul_1`, [probs, vt]);
      const ctxT = g.one('Transpose', `${p}/attn/Transpose_4`, [ctx], { perm: [0, 2, 1, 3] });
      merged = g.one('Reshape', `${p}/attn/Reshape_3`, [ctxT, g.ints([0, 0, d])]);
    }
    const attnProjW = g.weight(wn('attn.c_proj.weight'), [d, d], lw.attnProjW);
    const attnProjB = g.weight(wn('attn.c_proj.bias'), [d], lw.attnProjB);
    const ln2G = g.weight(wn('ln_2.weight'), [d], lw.ln2G);
    const ln2B = g.weight(wn('ln_2.bias'), [d], lw.ln2B);
    let mid: string;
    let ln2: string;
    if (go.skipNorms) {
      const attnMm = g.one('MatMul', `${p}/attn/c_proj/MatMul`, [merged, attnProjW]);
      mid = `${p}/SkipLayerNorm_sum`;
      ln2 = `${p}/ln_2/SkipLayerNorm_output_0`;
      contrib('SkipLayerNormalization', `${p}/SkipLayerNorm`, [attnMm, h, ln2G, ln2B, attnProjB], [ln2, '', '', mid], { epsilon: { f: eps } });
    } else {
      const attnOut = linear(g, `${p}/attn/c_proj`, merged, attnProjW, attnProjB);
      mid = g.one('Add', `${p}/Add`, [h, attnOut]);
      ln2 = layerNorm(g, `${p}/ln_2`, mid, ln2G, ln2B, opset, eps);
    }
    const fc = linear(g, `${p}/mlp/c_fc`, ln2, g.weight(wn('mlp.c_fc.weight'), [d, 4 * d], lw.fcW), g.weight(wn('mlp.c_fc.bias'), [4 * d], lw.fcB));
    // gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
    const half = g.one('Mul', `${p}/mlp/Mul`, [fc, g.scalar(0.5)]);
    const cube = g.one('Pow', `${p}/mlp/Pow`, [fc, g.scalar(3)]);
    const cubeS = g.one('Mul', `${p}/mlp/Mul_1`, [cube, g.scalar(0.044715)]);
    const inner = g.one('Add', `${p}/mlp/Add`, [fc, cubeS]);
    const innerS = g.one('Mul', `${p}/mlp/Mul_2`, [inner, g.scalar(Math.sqrt(2 / Math.PI))]);
    const th = g.one('Tanh', `${p}/mlp/Tanh`, [innerS]);
    const onePlus = g.one('Add', `${p}/mlp/Add_1`, [th, g.scalar(1)]);
    const act = g.one('Mul', `${p}/mlp/Mul_3`, [half, onePlus]);
    const mlpProjW = g.weight(wn('mlp.c_proj.weight'), [4 * d, d], lw.mlpProjW);
    const mlpProjB = g.weight(wn('mlp.c_proj.bias'), [d], lw.mlpProjB);
    if (go.skipNorms) {
      const mlpMm = g.one('MatMul', `${p}/mlp/c_proj/MatMul`, [act, mlpProjW]);
      const last = l === L - 1;
      const nw = last ? null : w.layers[l + 1];
      const gain = last ? g.weight('transformer.ln_f.weight', [d], w.lnFG) : g.weight(wnOf(l + 1)('ln_1.weight'), [d], nw!.ln1G);
      const bias = last ? g.weight('transformer.ln_f.bias', [d], w.lnFB) : g.weight(wnOf(l + 1)('ln_1.bias'), [d], nw!.ln1B);
      h = `${p}/SkipLayerNorm_1_sum`;
      const normed = `${p}/SkipLayerNorm_1_output_0`;
      contrib('SkipLayerNormalization', `${p}/SkipLayerNorm_1`, [mlpMm, mid, gain, bias, mlpProjB], [normed, '', '', h], { epsilon: { f: eps } });
      if (last) lnF = normed;
      else ln1 = normed;
    } else {
      const mlpOut = linear(g, `${p}/mlp/c_proj`, act, mlpProjW, mlpProjB);
      h = g.one('Add', `${p}/Add_1`, [mid, mlpOut]);
      if (l < L - 1) ln1 = ln1Of(l + 1, h);
    }
  }
  if (!go.skipNorms) lnF = layerNorm(g, '/transformer/ln_f', h, g.weight('transformer.ln_f.weight', [d], w.lnFG), g.weight('transformer.ln_f.bias', [d], w.lnFB), opset, eps);
  const wteT = g.one('Transpose', '/lm_head/Transpose', [wte], { perm: [1, 0] });
  g.nodes.push(onnx.NodeProto.create({ opType: 'MatMul', name: '/lm_head/MatMul', input: [lnF, wteT], output: ['logits'] }));

  const graph = onnx.GraphProto.create({
    name: 'main_graph',
    node: g.nodes,
    initializer: g.inits,
    input: [
      tensorInfo('input_ids', DT.INT64, ['batch_size', 'sequence_length']),
      tensorInfo('attention_mask', DT.INT64, ['batch_size', 'past_sequence_length + sequence_length']),
      tensorInfo('position_ids', DT.INT64, ['batch_size', 'sequence_length']),
      ...pastIn,
    ],
    output: [tensorInfo('logits', DT.FLOAT, ['batch_size', 'sequence_length', V]), ...presentOut],
  });
  const usesMs = kind === 'ms-attention' || kind === 'ms-mha' || !!go.skipNorms;
  return onnx.ModelProto.create({
    irVersion: opset >= 23 ? 8 : opset >= 17 ? 8 : 7,
    producerName: 'precache-lens make-random-gpt2',
    producerVersion: String(GENERATOR_VERSION),
    opsetImport: [
      onnx.OperatorSetIdProto.create({ domain: '', version: opset }),
      ...(usesMs ? [onnx.OperatorSetIdProto.create({ domain: MS, version: 1 })] : []),
    ],
    graph,
  });
}

// ---------------------------------------------------------------------------------------------- model directory

export interface WriteOptions extends Partial<RandomGpt2Config> {
  out: string;
  seed?: number;
  /** Directory whose tokenizer.json / tokenizer_config.json (and config.json if any: bos, eos, vocab) are used; default the full GPT-2 tokenizer. */
  tokenizerFrom?: string;
  /** Fused attention / norms / KV cache in the graph (default: eager, no cache). */
  graph?: GraphOptions;
}

export interface WriteResult {
  dir: string;
  graphPath: string;
  graphBytes: number;
  params: number;
  ms: { weights: number; build: number; encode: number; write: number; total: number };
  generator: Record<string, unknown>;
}

function readJsonObject(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * Vocabulary size and bos/eos ids as a tokenizer folder's own files give them: the highest id in tokenizer.json
 * (model vocab and added tokens) + 1, and the ids of tokenizer_config.json's bos_token / eos_token (undefined where
 * the config names none).
 */
export function tokenizerIds(dir: string): { vocabSize: number; bosTokenId?: number; eosTokenId?: number } {
  const need = (f: string) => {
    const file = path.join(dir, f);
    if (!fs.existsSync(file)) throw new Error(`${file}: missing (--tokenizer-from needs tokenizer.json and tokenizer_config.json)`);
    return readJsonObject(file);
  };
  const tok = need('tokenizer.json');
  const cfg = need('tokenizer_config.json');
  const model = tok.model as { vocab?: unknown } | undefined;
  if (!model || typeof model.vocab !== 'object' || model.vocab === null || Array.isArray(model.vocab)) {
    throw new Error(`${path.join(dir, 'tokenizer.json')}: no model.vocab object (expected a BPE tokenizer)`);
  }
  const ids = new Map<string, number>(Object.entries(model.vocab as Record<string, number>));
  for (const t of (tok.added_tokens ?? []) as { id: number; content: string }[]) ids.set(t.content, t.id);
  let max = -1;
  for (const id of ids.values()) if (Number.isInteger(id) && id > max) max = id;
  if (max < 0) throw new Error(`${path.join(dir, 'tokenizer.json')}: no token ids`);
  const idOf = (key: string): number | undefined => {
    const v = cfg[key];
    const content = typeof v === 'string' ? v : (v as { content?: unknown } | null | undefined)?.content;
    if (typeof content !== 'string') return undefined;
    const id = ids.get(content);
    if (id === undefined) throw new Error(`${path.join(dir, 'tokenizer_config.json')}: ${key} ${JSON.stringify(content)} is not a token of tokenizer.json`);
    return id;
  };
  return { vocabSize: max + 1, bosTokenId: idOf('bos_token'), eosTokenId: idOf('eos_token') };
}

/** The full argument set a directory is generated from (defaults filled in), as stored in generator.json. */
export function resolveOptions(o: WriteOptions): Required<Omit<WriteOptions, 'out' | 'graph'>> & { version: number; graph?: GraphOptions } {
  const tokDir = path.resolve(o.tokenizerFrom ?? fullGpt2TokenizerDir());
  let tokCfg: Record<string, unknown> = {};
  const cfgFile = path.join(tokDir, 'config.json');
  if (fs.existsSync(cfgFile)) tokCfg = readJsonObject(cfgFile);
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
  // The tokenizer files are read only for what neither the options nor config.json give.
  let fromTok: ReturnType<typeof tokenizerIds> | undefined;
  const tokIds = () => (fromTok ??= tokenizerIds(tokDir));
  const vocabSize = o.vocabSize ?? int(tokCfg.vocab_size) ?? tokIds().vocabSize;
  const bos = o.bosTokenId ?? int(tokCfg.bos_token_id) ?? tokIds().bosTokenId;
  if (bos === undefined) throw new Error(`${tokDir}: no bos token id (config.json bos_token_id or tokenizer_config.json bos_token)`);
  const eos = o.eosTokenId ?? int(tokCfg.eos_token_id) ?? tokIds().eosTokenId ?? bos;
  if (bos >= vocabSize || eos >= vocabSize) throw new Error(`bos/eos id ${Math.max(bos, eos)} does not fit a vocabulary of ${vocabSize}`);
  return {
    version: GENERATOR_VERSION,
    nLayer: o.nLayer ?? 12,
    nHead: o.nHead ?? 12,
    dModel: o.dModel ?? 768,
    nCtx: o.nCtx ?? 1024,
    vocabSize,
    seed: o.seed ?? 1,
    std: o.std ?? 0.02,
    opset: o.opset ?? 14,
    layerNormEps: o.layerNormEps ?? 1e-5,
    bosTokenId: bos,
    eosTokenId: eos,
    tokenizerFrom: tokDir,
    ...(o.graph ? { graph: o.graph } : {}),
  };
}

/** True when DIR holds a complete model generated from exactly these options (by this generator version). */
export function isUpToDate(o: WriteOptions): boolean {
  const f = path.join(o.out, 'generator.json');
  if (!fs.existsSync(f) || !fs.existsSync(path.join(o.out, 'onnx/model.onnx'))) return false;
  try {
    return JSON.stringify(readJsonObject(f)) === JSON.stringify(resolveOptions(o));
  } catch {
    return false;
  }
}

export function writeRandomGpt2(o: WriteOptions): WriteResult {
  const t0 = performance.now();
  const r = resolveOptions(o);
  const cfg: RandomGpt2Config = r;
  checkShape(cfg);
  const params = gpt2ParamCount(cfg);
  if (4 * params + 64 * 2 ** 20 > PROTOBUF_LIMIT) {
    throw new Error(`${params} parameters (${(4 * params / 2 ** 30).toFixed(2)} GiB of float32) do not fit protobuf's 2 GB limit; external data is not supported`);
  }
  const weights = randomGpt2Weights(cfg, r.seed);
  const t1 = performance.now();
  const model = buildGpt2Onnx(cfg, weights, r.graph);
  const t2 = performance.now();
  const bytes = onnx.ModelProto.encode(model).finish();
  const t3 = performance.now();

  const dir = path.resolve(o.out);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  // generator.json last-written marks the directory complete; remove a stale one first.
  fs.rmSync(path.join(dir, 'generator.json'), { force: true });
  const graphPath = path.join(dir, 'onnx/model.onnx');
  const tmp = `${graphPath}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, graphPath);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    const src = path.join(r.tokenizerFrom, f);
    if (!fs.existsSync(src)) throw new Error(`${src}: missing (--tokenizer-from needs tokenizer.json and tokenizer_config.json)`);
    if (f === 'tokenizer_config.json') {
      const tc = readJsonObject(src);
      if ('model_max_length' in tc) tc.model_max_length = r.nCtx;
      fs.writeFileSync(path.join(dir, f), JSON.stringify(tc, null, 2) + '\n');
    } else fs.copyFileSync(src, path.join(dir, f));
  }
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    bos_token_id: r.bosTokenId,
    eos_token_id: r.eosTokenId,
    n_ctx: r.nCtx,
    n_positions: r.nCtx,
    vocab_size: r.vocabSize,
    n_embd: r.dModel,
    n_layer: r.nLayer,
    n_head: r.nHead,
    layer_norm_epsilon: r.layerNormEps,
    embd_pdrop: 0,
    attn_pdrop: 0,
    resid_pdrop: 0,
    initializer_range: r.std,
    tie_word_embeddings: true,
    _comment: `random weights from scripts/make-random-gpt2.ts (seed ${r.seed}, std ${r.std}, opset ${model.opsetImport?.[0]?.version}${r.graph ? `, graph ${JSON.stringify(r.graph)}` : ''}); not a trained model`,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'generator.json'), JSON.stringify(r, null, 2) + '\n');
  const t4 = performance.now();
  return {
    dir,
    graphPath,
    graphBytes: bytes.length,
    params,
    ms: { weights: t1 - t0, build: t2 - t1, encode: t3 - t2, write: t4 - t3, total: t4 - t0 },
    generator: r,
  };
}

// ---------------------------------------------------------------------------------------------- CLI

const USAGE = `usage: npx tsx scripts/make-random-gpt2.ts --out DIR [--layers 12] [--d-model 768] [--heads 12] [--ctx 1024]
       [--vocab N (default: the tokenizer dir's config.json vocab_size, else its tokenizer's size)] [--seed 1] [--std 0.02] [--opset 14|17]
       [--tokenizer-from DIR (default the full GPT-2 tokenizer, generated into .cache/)] [--past (KV-cache inputs/outputs, as current exports have)] [--if-missing]`;

function parseCli(argv: string[]): { opts: WriteOptions; ifMissing: boolean } {
  const map: Record<string, keyof WriteOptions> = {
    '--out': 'out',
    '--layers': 'nLayer',
    '--d-model': 'dModel',
    '--heads': 'nHead',
    '--ctx': 'nCtx',
    '--vocab': 'vocabSize',
    '--seed': 'seed',
    '--std': 'std',
    '--opset': 'opset',
    '--tokenizer-from': 'tokenizerFrom',
  };
  const opts: Record<string, unknown> = {};
  let ifMissing = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (a === '--if-missing') {
      ifMissing = true;
      continue;
    }
    if (a === '--past') {
      opts.graph = { past: true };
      continue;
    }
    const key = map[a];
    if (!key) throw new Error(`unknown argument ${a}\n${USAGE}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    if (key === 'out' || key === 'tokenizerFrom') opts[key] = v;
    else {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${a}: not a number: ${v}`);
      opts[key] = n;
    }
  }
  if (!opts.out) throw new Error(`--out is required\n${USAGE}`);
  return { opts: opts as unknown as WriteOptions, ifMissing };
}

async function main() {
  const { opts, ifMissing } = parseCli(process.argv.slice(2));
  if (ifMissing && isUpToDate(opts)) {
    console.log(`${path.resolve(opts.out)}: up to date, nothing to do`);
    return;
  }
  const r = writeRandomGpt2(opts);
  const g = r.generator as ReturnType<typeof resolveOptions>;
  console.log(
    `wrote ${r.dir}: GPT-2 ${g.nLayer} layers, d ${g.dModel}, ${g.nHead} heads, ctx ${g.nCtx}, vocab ${g.vocabSize}, ` +
      `${(r.params / 1e6).toFixed(1)}M params, opset ${g.opset}, seed ${g.seed}; onnx/model.onnx ${(r.graphBytes / 2 ** 20).toFixed(1)} MiB ` +
      `in ${(r.ms.total / 1000).toFixed(1)} s (weights ${(r.ms.weights / 1000).toFixed(1)} s, build ${(r.ms.build / 1000).toFixed(1)} s, ` +
      `encode ${(r.ms.encode / 1000).toFixed(1)} s, write ${(r.ms.write / 1000).toFixed(1)} s)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
