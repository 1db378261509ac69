// Writes fixtures that stand for files other tools write, with those tools' layouts, names and omissions:
//
//   npx tsx scripts/make-third-party-fixtures.ts [--out tests/fixtures/models]
//   npx tsx scripts/make-third-party-fixtures.ts --quantize-dynamic MODEL_DIR --out DIR
//        (any model directory's onnx/model.onnx through the same quantize_dynamic pattern, e.g. the bundled model for
//        `npm run bench -- --model DIR/onnx/model_quantized.onnx`; weights inline, so graphs under 2 GB only)
//
//   genai-gpt2-attention/   onnxruntime-genai folder for GPT-2, laid out like onnxruntime-genai's own test model
//                           (test/test_models/hf-internal-testing/tiny-random-gpt2-fp32): genai_config.json with
//                           head_size, num_key_value_heads, num_hidden_layers and no num_attention_heads or
//                           hidden_size; graph past.onnx as onnxruntime's GPT-2 convert_to_onnx writes it after its
//                           optimizer (com.microsoft Attention + SkipLayerNormalization, int32 input_ids /
//                           position_ids / attention_mask, packed past_{l} [2, B, H, P, dh] -> present_{l}).
//   genai-llama-gqa/        the genai model builder's Llama (builders/base.py: SkipSimplifiedLayerNormalization,
//                           GroupQueryAttention with rotary caches, fp32 CPU) with its genai_config.json key order,
//                           minus num_attention_heads and hidden_size (as the file reported in issue 23).
//   genai-phi3-packed-gqa/  the builder's Phi-3 form: one packed qkv_proj MatMul feeding GroupQueryAttention's query
//                           (key and value inputs empty), type "phi3"; same omissions.
//   genai-phi2-parallel/    the builder's Phi (Phi-2) form (builders/phi.py PhiModel.make_layer): LayerNorm then
//                           SkipLayerNormalization, attention and the fc MLP both reading the same norm output, their
//                           outputs joined by /model/layers.{l}/residual_add/Add (a parallel block), biases on every
//                           projection, FastGelu, GroupQueryAttention with partial rotary (cos cache [64, 8] for
//                           head size 32); type "phi"; same omissions.
//   gpt2-tiny-dynamic-int8/ and llama-tiny-dynamic-int8/: onnxruntime quantize_dynamic(weight_type=QInt8,
//                           op_types_to_quantize=['MatMul']) of the eager tiny models, written as
//                           onnx/model_quantized.onnx (transformers.js / Optimum layout) with quantize_dynamic's
//                           names: one DynamicQuantizeLinear "<x>_QuantizeLinear" per activation tensor (shared by
//                           every MatMul reading it), int8 symmetric per-tensor weights "<w>_quantized" /
//                           "<w>_scale" / "<w>_zero_point", MatMulInteger "<node>_quant", Cast, Mul
//                           "<node>_quant_scales_mul", Mul "<node>_quant_output_scale_mul". MatMulConstBOnly (the
//                           default): GPT-2's tied LM head MatMul(x, Transpose(wte)) has no constant B and stays float;
//                           Llama's untied lm_head is quantised.
//
// Tiny random weights (the same generators and seeds as the fused fixtures), the fixtures' byte tokenizer. Not
// written by the tools themselves (onnxruntime's Python packages are not installed here); see
// tests/fixtures/models/README.md for which source each layout was read from.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { GraphBuilder, buildGpt2Onnx, normalSource, randomGpt2Weights, tensorInfo } from './make-random-gpt2.js';
import { TINY_LLAMA, buildLlamaOnnx, randomLlamaWeights } from './make-random-llama.js';
import { FUSED_SHAPE, LLAMA_SEED } from './make-fused-fixtures.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKENIZER_DIR = path.join(REPO, 'tests/fixtures/models/gpt2-opset14');

const encode = (m: ModelProto) => onnx.ModelProto.encode(m).finish();

function copyTokenizer(dir: string, withConfig: boolean): void {
  fs.copyFileSync(path.join(TOKENIZER_DIR, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  if (withConfig) fs.copyFileSync(path.join(TOKENIZER_DIR, 'tokenizer_config.json'), path.join(dir, 'tokenizer_config.json'));
}

function writeJson(file: string, v: unknown, indent = 4): void {
  fs.writeFileSync(file, JSON.stringify(v, null, indent) + '\n');
}

// ------------------------------------------------------------------------------------------ onnxruntime-genai folders

/** The genai builder's "search" block (builders/base.py make_genai_config), for a context of `ctx`. */
function builderSearch(ctx: number) {
  return {
    diversity_penalty: 0.0,
    do_sample: false,
    early_stopping: true,
    length_penalty: 1.0,
    max_length: ctx,
    min_length: 0,
    no_repeat_ngram_size: 0,
    num_beams: 1,
    num_return_sequences: 1,
    past_present_share_buffer: true,
    repetition_penalty: 1.0,
    temperature: 1.0,
    top_k: 1,
    top_p: 1.0,
  };
}

/**
 * genai_config.json as builders/base.py make_genai_config writes it (its key order; json.dump sorts nothing), with
 * `omit` decoder keys left out.
 */
export function builderGenaiConfig(o: { type: string; ctx: number; vocab: number; headSize: number; hidden: number; heads: number; kvHeads: number; layers: number; filename: string; omit?: string[] }) {
  const decoder: Record<string, unknown> = {
    session_options: { log_id: 'onnxruntime-genai', provider_options: [] },
    filename: o.filename,
    head_size: o.headSize,
    hidden_size: o.hidden,
    inputs: { input_ids: 'input_ids', attention_mask: 'attention_mask', position_ids: 'position_ids', past_key_names: 'past_key_values.%d.key', past_value_names: 'past_key_values.%d.value' },
    outputs: { logits: 'logits', present_key_names: 'present.%d.key', present_value_names: 'present.%d.value' },
    num_attention_heads: o.heads,
    num_hidden_layers: o.layers,
    num_key_value_heads: o.kvHeads,
  };
  for (const k of o.omit ?? []) delete decoder[k];
  return {
    model: { bos_token_id: 256, context_length: o.ctx, decoder, eos_token_id: 256, pad_token_id: 256, type: o.type, vocab_size: o.vocab },
    search: builderSearch(o.ctx),
  };
}

/** Keys the genai_config.json left out (the graph states them). */
export const OMITTED = ['num_attention_heads', 'hidden_size'];

function writeGenaiGpt2(out: string): string {
  const dir = path.join(out, 'genai-gpt2-attention');
  fs.mkdirSync(dir, { recursive: true });
  const s = FUSED_SHAPE;
  const m = buildGpt2Onnx({ ...s, opset: 17 }, randomGpt2Weights(s, s.seed), { attention: 'ms-attention', skipNorms: true, past: true });
  // convert_to_onnx with --use_int32_inputs (what onnxruntime-genai's GPT-2 models use): int32 ids, positions, mask.
  for (const vi of m.graph!.input ?? []) if (['input_ids', 'position_ids', 'attention_mask'].includes(vi.name ?? '')) vi.type!.tensorType!.elemType = DT.INT32;
  m.producerName = 'onnxruntime.transformers';
  fs.writeFileSync(path.join(dir, 'past.onnx'), encode(m));
  copyTokenizer(dir, false);
  // Key for key what onnxruntime-genai's own tiny-random-gpt2-fp32/genai_config.json holds (ids for this tokenizer).
  writeJson(
    path.join(dir, 'genai_config.json'),
    {
      model: {
        type: 'gpt2',
        pad_token_id: 256,
        bos_token_id: 256,
        eos_token_id: 256,
        vocab_size: s.vocabSize,
        context_length: s.nCtx,
        decoder: {
          session_options: { 'session.use_device_allocator_for_initializers': '0', provider_options: [] },
          run_options: { 'memory.enable_memory_arena_shrinkage': '' },
          filename: 'past.onnx',
          num_key_value_heads: s.nHead,
          head_size: s.dModel / s.nHead,
          num_hidden_layers: s.nLayer,
          inputs: { past_names: 'past_%d' },
          outputs: { present_names: 'present_%d' },
        },
      },
    },
    2,
  );
  return dir;
}

function writeGenaiLlama(out: string, name: string, packed: boolean): string {
  const dir = path.join(out, name);
  fs.mkdirSync(dir, { recursive: true });
  const s = TINY_LLAMA;
  const m = buildLlamaOnnx(s, randomLlamaWeights(s, LLAMA_SEED), 'gqa-rotary', true);
  if (packed) packQkv(m, s.nHead, s.nKvHead, s.dModel / s.nHead, s.dModel);
  m.producerName = 'onnxruntime-genai';
  fs.writeFileSync(path.join(dir, 'model.onnx'), encode(m));
  copyTokenizer(dir, true);
  const cfg = builderGenaiConfig({
    type: packed ? 'phi3' : 'llama',
    ctx: s.nCtx,
    vocab: s.vocabSize,
    headSize: s.dModel / s.nHead,
    hidden: s.dModel,
    heads: s.nHead,
    kvHeads: s.nKvHead,
    layers: s.nLayer,
    filename: 'model.onnx',
    omit: OMITTED,
  });
  writeJson(path.join(dir, 'genai_config.json'), cfg);
  return dir;
}

function f32(t: ITensorProto): Float32Array {
  const raw = t.rawData!;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

/**
 * The builder's packed attention (use_packed_matmul, Phi-3): q/k/v weights concatenated into one
 * `model.layers.{l}.attn.qkv_proj.weight` [d, (H + 2 Hkv) dh], one MatMul, its output as GroupQueryAttention's query
 * with the key and value inputs empty.
 */
function packQkv(m: ModelProto, H: number, Hkv: number, dh: number, d: number): void {
  const g = m.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const byName = new Map((g.node ?? []).map((n) => [n.name!, n]));
  const drop = new Set<string>();
  for (const gqa of (g.node ?? []).filter((n) => n.opType === 'GroupQueryAttention')) {
    const p = gqa.name!.replace(/\/attn\/GroupQueryAttention$/, '');
    const l = Number(/layers\.(\d+)/.exec(p)![1]);
    const [q, k, v] = ['q', 'k', 'v'].map((x) => byName.get(`${p}/attn/${x}_proj/MatMul`)!);
    const ws = [q, k, v].map((n) => f32(inits.get(n.input![1]!)!));
    const widths = [H * dh, Hkv * dh, Hkv * dh];
    const W = widths.reduce((a, b) => a + b, 0);
    const packedW = new Float32Array(d * W);
    for (let r = 0; r < d; r++) {
      let off = 0;
      ws.forEach((w, i) => {
        packedW.set(w.subarray(r * widths[i], (r + 1) * widths[i]), r * W + off);
        off += widths[i];
      });
    }
    const wName = `model.layers.${l}.attn.qkv_proj.weight`;
    g.initializer!.push(onnx.TensorProto.create({ name: wName, dataType: DT.FLOAT, dims: [d, W], rawData: new Uint8Array(packedW.buffer) }));
    const out = `${p}/attn/qkv_proj/MatMul/output_0`;
    const mm = onnx.NodeProto.create({ opType: 'MatMul', name: `${p}/attn/qkv_proj/MatMul`, input: [q.input![0], wName], output: [out] });
    g.node!.splice(g.node!.indexOf(q), 0, mm);
    for (const n of [q, k, v]) {
      g.node!.splice(g.node!.indexOf(n), 1);
      drop.add(n.input![1]!);
    }
    gqa.input![0] = out;
    gqa.input![1] = '';
    gqa.input![2] = '';
    g.valueInfo = [...(g.valueInfo ?? []), onnx.ValueInfoProto.create({ name: out, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: DT.FLOAT, shape: onnx.TensorShapeProto.create({ dim: [{ dimParam: 'batch_size' }, { dimParam: 'sequence_length' }, { dimValue: W }] }) }) }) })];
  }
  g.initializer = (g.initializer ?? []).filter((t) => !drop.has(t.name!));
}

/** Phi-2's shape for the fixture: 2 layers, d 64, 2 heads (as many kv heads), head size 32, rotary on 16 of 32 dims (onnxruntime's GroupQueryAttention needs the cos cache's width, rotary/2, to be a multiple of 8). */
export const TINY_PHI2 = { nLayer: 2, nHead: 2, dModel: 64, dFf: 128, nCtx: 64, vocabSize: 257, rotaryDim: 16, ropeTheta: 10000, eps: 1e-5, seed: 29, std: 0.15 };

/** The genai builder's Phi (Phi-2) graph around random weights (see the header comment). */
export function buildPhi2Genai(): ModelProto {
  const s = TINY_PHI2;
  const { nLayer: L, nHead: H, dModel: d, dFf: F, nCtx: C, vocabSize: V } = s;
  const dh = d / H;
  const half = s.rotaryDim / 2;
  const normal = normalSource(s.seed);
  const rnd = (n: number, std = s.std) => normal(new Float32Array(n), std);
  const gains = (n: number) => rnd(n, 0.2).map((x) => 1 + x);
  const g = new GraphBuilder();
  const ms = (opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, number | { f: number }>) => {
    const attribute = Object.entries(attrs).map(([k, v]) =>
      typeof v === 'number'
        ? onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT })
        : onnx.AttributeProto.create({ name: k, f: v.f, type: onnx.AttributeProto.AttributeType.FLOAT }),
    );
    g.nodes.push(onnx.NodeProto.create({ opType, name, domain: 'com.microsoft', input: inputs, output: outputs, attribute }));
  };
  const lin = (prefix: string, x: string, w: string, din: number, dout: number) => {
    const mm = g.one('MatMul', `${prefix}/MatMul`, [x, g.weight(`${w}.weight`, [din, dout], rnd(din * dout))]);
    return g.one('Add', `${prefix}/Add`, [mm, g.weight(`${w}.bias`, [dout], rnd(dout, 0.1))]);
  };
  const cos = new Float32Array(C * half);
  const sin = new Float32Array(C * half);
  for (let p = 0; p < C; p++) for (let i = 0; i < half; i++) {
    const a = p * Math.pow(s.ropeTheta, (-2 * i) / s.rotaryDim);
    cos[p * half + i] = Math.cos(a);
    sin[p * half + i] = Math.sin(a);
  }
  const cosCache = g.weight('cos_cache', [C, half], cos);
  const sinCache = g.weight('sin_cache', [C, half], sin);
  const embed = g.one('Gather', '/model/embed_tokens/Gather', [g.weight('model.embed_tokens.weight', [V, d], rnd(V * d)), 'input_ids']);
  const sum = g.one('ReduceSum', '/model/attn_mask_reformat/attn_mask_subgraph/ReduceSum', ['attention_mask', g.ints([1])], { keepdims: 0 });
  const seqlensK = g.one('Cast', '/model/attn_mask_reformat/attn_mask_subgraph/Sub/Cast', [g.one('Sub', '/model/attn_mask_reformat/attn_mask_subgraph/Sub', [sum, g.ints([1])])], { to: DT.INT32 });
  const width = g.one('Gather', '/model/attn_mask_reformat/attn_mask_subgraph/Gather', [g.one('Shape', '/model/attn_mask_reformat/attn_mask_subgraph/Shape', ['attention_mask']), g.ints([1])], { axis: 0 });
  const totalLen = g.one('Cast', '/model/attn_mask_reformat/attn_mask_subgraph/Gather/Cast', [width], { to: DT.INT32 });
  const pastIn: ReturnType<typeof tensorInfo>[] = [];
  const presentOut: ReturnType<typeof tensorInfo>[] = [];
  let stream = embed; // the residual stream entering the layer (root input of the next SkipLayerNorm)
  let skip = ''; // the previous layer's residual_add output
  for (let l = 0; l < L; l++) {
    const p = `/model/layers.${l}`;
    const wn = (x: string) => `model.layers.${l}.${x}`;
    const gain = g.weight(wn('input_layernorm.weight'), [d], gains(d));
    const bias = g.weight(wn('input_layernorm.bias'), [d], rnd(d, 0.1));
    let ln: string;
    if (l === 0) ln = g.one('LayerNormalization', `${p}/input_layernorm/LayerNorm`, [stream, gain, bias], { axis: -1, epsilon: { f: s.eps } });
    else {
      ln = `${p}/input_layernorm/output_0`;
      const sumOut = `${p}/input_layernorm/output_3`;
      ms('SkipLayerNormalization', `${p}/input_layernorm/SkipLayerNorm`, [stream, skip, gain, bias], [ln, '', '', sumOut], { epsilon: { f: s.eps } });
      stream = sumOut;
    }
    const q = lin(`${p}/attn/q_proj`, ln, wn('self_attn.q_proj'), d, d);
    const k = lin(`${p}/attn/k_proj`, ln, wn('self_attn.k_proj'), d, d);
    const v = lin(`${p}/attn/v_proj`, ln, wn('self_attn.v_proj'), d, d);
    const pastK = `past_key_values.${l}.key`;
    const pastV = `past_key_values.${l}.value`;
    pastIn.push(tensorInfo(pastK, DT.FLOAT, ['batch_size', H, 'past_sequence_length', dh]), tensorInfo(pastV, DT.FLOAT, ['batch_size', H, 'past_sequence_length', dh]));
    presentOut.push(tensorInfo(`present.${l}.key`, DT.FLOAT, ['batch_size', H, 'total_sequence_length', dh]), tensorInfo(`present.${l}.value`, DT.FLOAT, ['batch_size', H, 'total_sequence_length', dh]));
    const attn = `${p}/attn/GroupQueryAttention/output_0`;
    ms('GroupQueryAttention', `${p}/attn/GroupQueryAttention`, [q, k, v, pastK, pastV, seqlensK, totalLen, cosCache, sinCache], [attn, `present.${l}.key`, `present.${l}.value`], { num_heads: H, kv_num_heads: H, do_rotary: 1 });
    const attnOut = lin(`${p}/attn/dense`, attn, wn('self_attn.dense'), d, d);
    const fc1 = lin(`${p}/mlp/fc1`, ln, wn('mlp.fc1'), d, F);
    const act = `${p}/mlp/act/FastGelu/output_0`;
    ms('FastGelu', `${p}/mlp/act/FastGelu`, [fc1], [act], {});
    const mlpOut = lin(`${p}/mlp/fc2`, act, wn('mlp.fc2'), F, d);
    skip = g.one('Add', `${p}/residual_add/Add`, [attnOut, mlpOut]);
  }
  const normed = '/model/layers.2/final_norm_layernorm/output_0';
  ms('SkipLayerNormalization', '/model/layers.2/final_norm_layernorm/SkipLayerNorm', [stream, skip, g.weight('model.final_layernorm.weight', [d], gains(d)), g.weight('model.final_layernorm.bias', [d], rnd(d, 0.1))], [normed, '', '', '/model/layers.2/final_norm_layernorm/output_3'], { epsilon: { f: s.eps } });
  const head = g.one('MatMul', '/lm_head/MatMul', [normed, g.weight('lm_head.weight', [d, V], rnd(d * V))]);
  g.nodes.push(onnx.NodeProto.create({ opType: 'Add', name: '/lm_head/Add', input: [head, g.weight('lm_head.bias', [V], rnd(V, 0.1))], output: ['logits'] }));
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
    producerName: 'onnxruntime-genai',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 17 }), onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })],
    graph,
  });
}

function writeGenaiPhi2(out: string): string {
  const dir = path.join(out, 'genai-phi2-parallel');
  fs.mkdirSync(dir, { recursive: true });
  const s = TINY_PHI2;
  fs.writeFileSync(path.join(dir, 'model.onnx'), encode(buildPhi2Genai()));
  copyTokenizer(dir, true);
  const dh = s.dModel / s.nHead;
  writeJson(path.join(dir, 'genai_config.json'), builderGenaiConfig({ type: 'phi', ctx: s.nCtx, vocab: s.vocabSize, headSize: dh, hidden: s.dModel, heads: s.nHead, kvHeads: s.nHead, layers: s.nLayer, filename: 'model.onnx', omit: OMITTED }));
  return dir;
}

// ------------------------------------------------------------------------------------------ quantize_dynamic

const tensor = (name: string, dataType: number, dims: number[], raw: Uint8Array): ITensorProto => onnx.TensorProto.create({ name, dataType, dims, rawData: raw });
const plain = (opType: string, name: string, input: string[], output: string[], attrs: Record<string, number> = {}): INodeProto =>
  onnx.NodeProto.create({ opType, name, input, output, attribute: Object.entries(attrs).map(([k, i]) => onnx.AttributeProto.create({ name: k, i, type: onnx.AttributeProto.AttributeType.INT })) });

/**
 * onnxruntime quantize_dynamic(weight_type=QInt8, per_channel=False, reduce_range=False, op_types_to_quantize=
 * ['MatMul']) in place: each MatMul whose B is a float initializer (MatMulConstBOnly) becomes
 * DynamicQuantizeLinear(A) (one per activation tensor) -> MatMulInteger -> Cast -> Mul(scales) -> Mul; weights
 * symmetric int8 with one scale (max |w| / 127, quant_utils' symmetric range [-127, 127]).
 */
export function quantizeDynamic(m: ModelProto): number {
  const g = m.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const quantized = new Set<string>();
  const dql = new Set<string>();
  const out: INodeProto[] = [];
  let count = 0;
  for (const n of g.node ?? []) {
    const w = n.opType === 'MatMul' && !n.domain ? inits.get(n.input![1]!) : undefined;
    if (!w || w.dataType !== DT.FLOAT || w.dims?.length !== 2) {
      out.push(n);
      continue;
    }
    count++;
    const x = n.input![0]!;
    const wn = w.name!;
    if (!quantized.has(wn)) {
      quantized.add(wn);
      const W = f32(w);
      const amax = W.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const scale = Math.fround(amax / 127) || 1;
      const q = Int8Array.from(W, (v) => Math.max(-127, Math.min(127, Math.round(v / scale))));
      g.initializer!.push(
        tensor(`${wn}_quantized`, DT.INT8, (w.dims ?? []).map(Number), new Uint8Array(q.buffer)),
        tensor(`${wn}_scale`, DT.FLOAT, [], new Uint8Array(new Float32Array([scale]).buffer)),
        tensor(`${wn}_zero_point`, DT.INT8, [], new Uint8Array(1)),
      );
    }
    if (!dql.has(x)) {
      dql.add(x);
      out.push(plain('DynamicQuantizeLinear', `${x}_QuantizeLinear`, [x], [`${x}_quantized`, `${x}_scale`, `${x}_zero_point`]));
    }
    const y = n.output![0]!;
    const qn = `${n.name}_quant`;
    out.push(
      plain('MatMulInteger', qn, [`${x}_quantized`, `${wn}_quantized`, `${x}_zero_point`, `${wn}_zero_point`], [`${y}_output_quantized`]),
      plain('Cast', `${y}_output_quantized_cast`, [`${y}_output_quantized`], [`${y}_output_quantized_cast_output`], { to: DT.FLOAT }),
      plain('Mul', `${qn}_scales_mul`, [`${x}_scale`, `${wn}_scale`], [`${qn}_scales_mul:0`]),
      plain('Mul', `${qn}_output_scale_mul`, [`${y}_output_quantized_cast_output`, `${qn}_scales_mul:0`], [y]),
    );
  }
  g.node = out;
  g.initializer = (g.initializer ?? []).filter((t) => !quantized.has(t.name!));
  m.producerName = 'onnx.quantize';
  return count;
}

function writeDynamicInt8(out: string, name: string, model: ModelProto, config: Record<string, unknown>): string {
  const dir = path.join(out, name);
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const n = quantizeDynamic(model);
  if (!n) throw new Error(`${name}: no MatMul was quantised`);
  fs.writeFileSync(path.join(dir, 'onnx/model_quantized.onnx'), encode(model));
  copyTokenizer(dir, true);
  writeJson(path.join(dir, 'config.json'), config, 2);
  return dir;
}

function main(): void {
  const i = process.argv.indexOf('--out');
  const out = path.resolve(i > 0 ? process.argv[i + 1] : path.join(REPO, 'tests/fixtures/models'));
  const q = process.argv.indexOf('--quantize-dynamic');
  if (q > 0) {
    const src = path.resolve(process.argv[q + 1]);
    const m = onnx.ModelProto.decode(fs.readFileSync(path.join(src, 'onnx/model.onnx')));
    const n = quantizeDynamic(m);
    fs.mkdirSync(path.join(out, 'onnx'), { recursive: true });
    fs.writeFileSync(path.join(out, 'onnx/model_quantized.onnx'), encode(m));
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) if (fs.existsSync(path.join(src, f))) fs.copyFileSync(path.join(src, f), path.join(out, f));
    console.log(`wrote ${path.join(out, 'onnx/model_quantized.onnx')} (${n} MatMuls quantised)`);
    return;
  }
  const written = [writeGenaiGpt2(out), writeGenaiLlama(out, 'genai-llama-gqa', false), writeGenaiLlama(out, 'genai-phi3-packed-gqa', true), writeGenaiPhi2(out)];
  const s = FUSED_SHAPE;
  const gpt2 = buildGpt2Onnx({ ...s, opset: 17 }, randomGpt2Weights(s, s.seed), { attention: 'eager', past: true });
  const gpt2Config = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/models/gpt2-tiny-eager/config.json'), 'utf8')) as Record<string, unknown>;
  written.push(writeDynamicInt8(out, 'gpt2-tiny-dynamic-int8', gpt2, { ...gpt2Config, _comment: 'gpt2-tiny-eager through quantize_dynamic (scripts/make-third-party-fixtures.ts); random weights' }));
  const llama = buildLlamaOnnx(TINY_LLAMA, randomLlamaWeights(TINY_LLAMA, LLAMA_SEED), 'eager');
  const llamaConfig = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/models/llama-tiny-eager/config.json'), 'utf8')) as Record<string, unknown>;
  written.push(writeDynamicInt8(out, 'llama-tiny-dynamic-int8', llama, { ...llamaConfig, _comment: 'llama-tiny-eager through quantize_dynamic (scripts/make-third-party-fixtures.ts); random weights' }));
  for (const d of written) console.log(`wrote ${d}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
