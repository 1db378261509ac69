// The model's dimensions as the ONNX graph states them: fused attention attributes, weight and cache shapes.
import onnxProto from 'onnx-proto';

type ModelProto = onnxProto.onnx.ModelProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

/** One dimension read from the graph, with where it was read (for messages that name both sides). */
export interface GraphFact {
  value: number;
  where: string;
}

/**
 * What the graph determines. Absent keys: the graph does not say (eager attention hides its head count in
 * reshape constants, which are not read). `nCtxLimit` is an upper bound: the rows of a position table (learned
 * position embedding or rotary cos cache), so positions beyond it cannot run.
 */
export interface GraphDims {
  nLayer?: GraphFact;
  nHead?: GraphFact;
  nKvHead?: GraphFact;
  dHead?: GraphFact;
  dModel?: GraphFact;
  vocabSize?: GraphFact;
  nCtxLimit?: GraphFact;
}

const MS = 'com.microsoft';
/** Fused attention ops whose attributes carry head counts: one per layer. */
const ATTENTION_OPS = new Set(['Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'PackedAttention', 'PackedMultiHeadAttention', 'SparseAttention']);
/** Ops that pass input_ids / position_ids on unchanged in value (reshaped or cast) on the way to their Gather. */
const ID_PASS = new Set(['Cast', 'Reshape', 'Identity', 'Unsqueeze', 'Squeeze', 'Flatten', 'Expand']);

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

function intAttr(n: NodeProto, name: string): number | null {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a && a.i != null ? num(a.i) : null;
}

/** Reads the dimensions from a decoded graph (before any rewriting: fused nodes still carry their attributes). */
export function graphDims(model: ModelProto): GraphDims {
  const g = model.graph;
  const out: GraphDims = {};
  if (!g) return out;
  const inits = new Map<string, TensorProto>();
  for (const t of g.initializer ?? []) if (t.name) inits.set(t.name, t);
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) if (o) producer.set(o, n);
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  /** Dims of a constant: an initializer, a Constant node's value, or either behind Transpose/Cast/Identity/DequantizeLinear. */
  const constDims = (t: string, depth = 0): number[] | null => {
    const init = inits.get(t);
    if (init) return (init.dims ?? []).map(num);
    const p = producer.get(t);
    if (!p || depth > 4) return null;
    if (p.opType === 'Constant') {
      const v = (p.attribute ?? []).find((a) => a.name === 'value')?.t;
      return v ? (v.dims ?? []).map(num) : null;
    }
    if ((p.opType === 'Cast' || p.opType === 'Identity' || p.opType === 'DequantizeLinear') && p.input?.[0]) return constDims(p.input[0], depth + 1);
    if (p.opType === 'Transpose' && p.input?.[0]) {
      const inner = constDims(p.input[0], depth + 1);
      const perm = (p.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map(num);
      return inner ? (perm?.length ? perm.map((i) => inner[i]) : [...inner].reverse()) : null;
    }
    return null;
  };
  /** The constant [rows, width] table that a Gather indexes with `input` (followed through reshapes and casts). */
  const tableOf = (input: string): { dims: number[]; name: string } | null => {
    const seen = new Set<string>();
    const stack = [input];
    while (stack.length) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      for (const c of consumers.get(t) ?? []) {
        if (c.opType === 'Gather' && c.input?.[1] === t && c.input[0]) {
          const dims = constDims(c.input[0]);
          if (dims?.length === 2) return { dims, name: c.input[0] };
        } else if (ID_PASS.has(c.opType ?? '') && c.input?.[0] === t && c.output?.[0]) stack.push(c.output[0]);
      }
    }
    return null;
  };

  const emb = tableOf('input_ids');
  if (emb) {
    out.vocabSize = { value: emb.dims[0], where: `the token embedding "${emb.name}" [${emb.dims.join(', ')}]` };
    out.dModel = { value: emb.dims[1], where: `the token embedding "${emb.name}" [${emb.dims.join(', ')}]` };
  }
  const wpe = tableOf('position_ids');
  if (wpe && (!emb || wpe.name !== emb.name)) out.nCtxLimit = { value: wpe.dims[0], where: `the position embedding "${wpe.name}" [${wpe.dims.join(', ')}]` };

  const fused = (g.node ?? []).filter((n) => n.domain === MS && ATTENTION_OPS.has(n.opType ?? ''));
  const std = (g.node ?? []).filter((n) => (!n.domain || n.domain === 'ai.onnx') && n.opType === 'Attention');
  const attention = [...fused, ...std];
  if (attention.length) {
    const kinds = [...new Set(attention.map((n) => `${n.domain || 'ai.onnx'}.${n.opType}`))].join(', ');
    out.nLayer = { value: attention.length, where: `the graph's ${attention.length} fused attention nodes (${kinds})` };
    const first = attention[0];
    const at = (a: string) => `attribute ${a} of node "${first.name ?? ''}" (${first.domain || 'ai.onnx'}.${first.opType})`;
    const h = intAttr(first, 'num_heads') ?? intAttr(first, 'q_num_heads');
    if (h && h > 0) out.nHead = { value: h, where: at(intAttr(first, 'num_heads') ? 'num_heads' : 'q_num_heads') };
    const kv = intAttr(first, 'kv_num_heads');
    if (kv && kv > 0) out.nKvHead = { value: kv, where: at('kv_num_heads') };
    else if (out.nHead && first.opType !== 'GroupQueryAttention') out.nKvHead = { value: out.nHead.value, where: `${out.nHead.where} (no separate key/value heads)` };
    // com.microsoft Attention: packed QKV weight [d, 3 * H * dh] (or qkv_hidden_sizes).
    if (first.opType === 'Attention' && first.domain === MS && out.nHead) {
      const sizes = (first.attribute ?? []).find((a) => a.name === 'qkv_hidden_sizes')?.ints?.map(num);
      const w = first.input?.[1] ? constDims(first.input[1]) : null;
      const qWidth = sizes?.length ? sizes[0] : w?.length === 2 && w[1] % 3 === 0 ? w[1] / 3 : null;
      if (qWidth && qWidth % out.nHead.value === 0) out.dHead = { value: qWidth / out.nHead.value, where: sizes?.length ? at('qkv_hidden_sizes') : `the packed QKV weight "${first.input![1]}" [${w!.join(', ')}] over ${at('num_heads')}` };
    }
    // Rotary caches [max positions, rotary_dim / 2] (GroupQueryAttention with do_rotary, RotaryEmbedding).
    const rot = (g.node ?? []).find((n) => n.domain === MS && ((n.opType === 'GroupQueryAttention' && n.input?.[7]) || n.opType === 'RotaryEmbedding'));
    const cacheName = rot ? (rot.opType === 'GroupQueryAttention' ? rot.input?.[7] : rot.input?.[2]) : null;
    const cos = cacheName ? constDims(cacheName) : null;
    if (cos?.length === 2 && !out.nCtxLimit) out.nCtxLimit = { value: cos[0], where: `the rotary cos cache "${cacheName}" [${cos.join(', ')}]` };
  }
  // Declared past inputs: [B, kv heads, P, dh] (past_key_values.*) or onnxruntime's packed [2, B, H, P, dh] (past_*).
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    const dims = (vi.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : -1));
    const rank4 = /^past_key_values\.\d+\.(key|value)$/.test(name) && dims.length === 4;
    const packed = /^past_\d+$/.test(name) && dims.length === 5;
    if (!rank4 && !packed) continue;
    const heads = rank4 ? dims[1] : dims[2];
    const dh = rank4 ? dims[3] : dims[4];
    if (dh > 0 && !out.dHead) out.dHead = { value: dh, where: `the declared shape of input "${name}" [${dims.map((d) => (d > 0 ? d : '?')).join(', ')}]` };
    if (heads > 0 && !out.nKvHead) out.nKvHead = { value: heads, where: `the declared shape of input "${name}" [${dims.map((d) => (d > 0 ? d : '?')).join(', ')}]` };
    break;
  }
  return out;
}

/** Decodes a graph file and reads its dimensions (weights stored as external data are not read). */
export function graphDimsOfBytes(bytes: Uint8Array): GraphDims {
  return graphDims(onnxProto.onnx.ModelProto.decode(bytes));
}
