// Graph surgery: finds each layer's attention and residual stream structurally, exposes hooks as graph
// outputs and adds per-layer attention-score bias inputs.
import {
  GraphIndex,
  TensorType,
  findFusedAttention,
  num,
  onnx,
  type ModelProto,
  type NodeProto,
} from './onnx-graph.js';
import { parseHookName, type LayerHookKind } from '../../shared/hooks.js';
import { dequantizedWeight, floatTypeOf, projectionEntry, projectionOf, type WeightRef } from './precision.js';
import { UnfuseContext } from './unfuse/context.js';
import path from 'node:path';

export class GraphStructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphStructureError';
  }
}

export interface LayerStructure {
  layer: number;
  /** Unfused attention: the Softmax node and the probs@V MatMul. */
  softmax: NodeProto | null;
  pattern: string | null;
  vOperand: string | null;
  /** Fused attention: the op that hides the pattern. */
  fused: { opType: string; name: string } | null;
  /**
   * The attention output projection's weight as the graph uses it, and whether it is stored [out, in]; `quantized`
   * when the projection is an integer or 4-bit one (the weight is then dequantised for hook_value_norm).
   */
  wO: { tensor: string; transposed: boolean; quantized?: WeightRef } | null;
  residPre: string | null;
  /** Null when the block has no such tensor (parallel attention/MLP): then it is synthesised as pre + attn_out. */
  residMid: string | null;
  attnOut: string | null;
  residPost: string | null;
  parallel: boolean;
}

export interface ModelStructure {
  file: string;
  layers: LayerStructure[];
  lnFinal: string | null;
  /** The projection producing the logits, when it reads lnFinal directly as [B,T,d] (lets surgery pick rows). */
  unembed: NodeProto | null;
  logits: string;
  nHead: number;
  dHead: number;
  /** Set when attention is unreachable (fused op, or inside an If/Loop subgraph): why, naming the op. */
  attentionProblem: string | null;
}

const PASS_THROUGH = new Set(['Cast', 'Identity', 'Dropout']);
const SHAPE_OPS = new Set(['Transpose', 'Reshape', 'Identity', 'Cast', 'Dropout', 'Squeeze', 'Unsqueeze', 'Flatten']);

function single<T>(xs: T[]): T | null {
  return xs.length === 1 ? xs[0] : null;
}

/** Follows a tensor forward through pass-through ops; returns the MatMul that takes it as its first input. */
function probsMatmul(ix: GraphIndex, tensor: string): NodeProto | null {
  let t = tensor;
  for (let hops = 0; hops < 4; hops++) {
    const cs = ix.consumersOf(t);
    const mm = cs.find((c) => c.opType === 'MatMul' && c.input?.[0] === t);
    if (mm) return mm;
    const pass = cs.find((c) => PASS_THROUGH.has(c.opType ?? ''));
    if (!pass?.output?.[0]) return null;
    t = pass.output[0];
  }
  return null;
}

/** From the attention core's output, walks through head-merging shape ops to the output projection (float or quantised). */
function findOutputProjection(ix: GraphIndex, coreOut: string): { out: string; wO: NonNullable<LayerStructure['wO']> } | null {
  let t = coreOut;
  for (let hops = 0; hops < 8; hops++) {
    const cs = ix.consumersOf(t);
    const proj = projectionOf(ix, t);
    if (proj) {
      const w = proj.weight;
      return { out: proj.out, wO: w.kind === 'float' ? { tensor: w.tensor, transposed: w.transposed } : { tensor: w.weight, transposed: false, quantized: w } };
    }
    const next = single(cs.filter((c) => SHAPE_OPS.has(c.opType ?? '')));
    if (!next?.output?.[0]) return null;
    t = next.output[0];
  }
  return null;
}

/** From the projection's output, skips bias adds and shape ops: the tensor that the residual add consumes. */
function attentionOutput(ix: GraphIndex, projOut: string): string {
  let t = projOut;
  for (let hops = 0; hops < 6; hops++) {
    const cs = ix.consumersOf(t);
    if (cs.length !== 1) return t;
    const c = cs[0];
    const other = (c.input ?? []).find((i) => i && i !== t);
    const isBias = c.opType === 'Add' && other !== undefined && ix.isConstant(other);
    if (!(isBias || SHAPE_OPS.has(c.opType ?? '')) || !c.output?.[0]) return t;
    t = c.output[0];
  }
  return t;
}

function otherInput(n: NodeProto, t: string): string | null {
  const ins = (n.input ?? []).filter((i) => !!i);
  if (ins.length !== 2) return null;
  return ins[0] === t ? ins[1] : ins[1] === t ? ins[0] : null;
}

/** The residual Add that consumes `t` and whose other operand satisfies `pred`. Latest in topological order wins. */
function residualAdd(ix: GraphIndex, t: string, pred: (other: string) => boolean): { node: NodeProto; other: string } | null {
  // Exports often put a no-op Cast (e.g. RMSNorm's .to(float32)) between the stream and its consumers.
  const aliases = [t];
  for (let i = 0; i < aliases.length && i < 8; i++) {
    for (const c of ix.consumersOf(aliases[i])) if ((c.opType === 'Cast' || c.opType === 'Identity') && c.output?.[0]) aliases.push(c.output[0]);
  }
  const adds = aliases.flatMap((a) =>
    ix
      .consumersOf(a)
      .filter((c) => c.opType === 'Add')
      .filter((c) => {
        const o = otherInput(c, a);
        return o !== null && !ix.isConstant(o) && !aliases.includes(o) && pred(o);
      }),
  );
  adds.sort((a, b) => ix.order.get(a)! - ix.order.get(b)!);
  const node = adds.length ? adds[adds.length - 1] : null;
  if (!node) return null;
  const other = (node.input ?? []).find((i) => i && !aliases.includes(i))!;
  return { node, other };
}

function traceLayer(ix: GraphIndex, layer: number, coreOut: string, coreInput: string): Omit<LayerStructure, 'softmax' | 'pattern' | 'vOperand' | 'fused'> {
  const base = { layer, wO: null, residPre: null, residMid: null, attnOut: null, residPost: null, parallel: false };
  const proj = findOutputProjection(ix, coreOut);
  // Without a recognisable output projection (some fused exports), the core's own output is the attention output.
  const wO = proj ? proj.wO : null;
  const attnOut = attentionOutput(ix, proj?.out ?? coreOut);
  // Sequential block: x + attn_out, where x feeds the attention itself.
  const r1 = residualAdd(ix, attnOut, () => true);
  const r1Out = r1?.node.output?.[0];
  if (!r1 || !r1Out) return { ...base, wO, attnOut };
  if (ix.dependsOn(coreInput, r1.other)) {
    const mid = r1Out;
    // Sequential MLP adds a branch computed from mid; a block whose MLP reads x instead is parallel after all.
    const r2 = residualAdd(ix, mid, (o) => ix.dependsOn(o, mid)) ?? residualAdd(ix, mid, () => true);
    return { ...base, wO, attnOut, residPre: r1.other, residMid: mid, residPost: r2?.node.output?.[0] ?? null };
  }
  // Parallel block (GPT-NeoX/GPT-J): (attn_out + mlp_out) + x.
  const r2 = residualAdd(ix, r1Out, (o) => ix.dependsOn(coreInput, o));
  if (!r2?.node.output?.[0]) return { ...base, wO, attnOut };
  return { ...base, wO, attnOut, residPre: r2.other, residMid: null, residPost: r2.node.output[0], parallel: true };
}

/** Finds the final norm's output: the activation input of the projection that produces the logits. */
function findLnFinal(ix: GraphIndex, logits: string): string | null {
  let t = logits;
  for (let hops = 0; hops < 6; hops++) {
    const p = ix.producer.get(t);
    if (!p) return null;
    const entry = projectionEntry(ix, t);
    if (entry?.input?.[0]) {
      let x = entry.input[0];
      // A 2-D Gemm sees flattened rows; report the [B,T,d] tensor before the flattening.
      for (let k = 0; k < 3; k++) {
        const q = ix.producer.get(x);
        if (q && (q.opType === 'Reshape' || q.opType === 'Flatten') && q.input?.[0]) x = q.input[0];
        else break;
      }
      return x;
    }
    const next = p.opType === 'Add' ? (p.input ?? []).find((i) => i && !ix.isConstant(i)) : p.input?.[0];
    if (!next || !(p.opType === 'Add' || SHAPE_OPS.has(p.opType ?? ''))) return null;
    t = next;
  }
  return null;
}

/**
 * The node that takes [B,T,d] into the projection producing the logits (a MatMul, or the first node of a quantised
 * one), if nothing but shape-neutral ops sit between the projection and the output.
 */
function findUnembed(ix: GraphIndex, logits: string): NodeProto | null {
  let t = logits;
  for (let hops = 0; hops < 4; hops++) {
    const p = ix.producer.get(t);
    if (!p) return null;
    const entry = projectionEntry(ix, t);
    if (entry && entry.opType !== 'Gemm' && entry.input?.[0]) {
      const q = ix.producer.get(entry.input[0]);
      return q && (q.opType === 'Reshape' || q.opType === 'Flatten') ? null : entry;
    }
    // An LM head with a bias (Phi-2): MatMul then Add of a constant [V].
    const biasAdd = p.opType === 'Add' ? (p.input ?? []).filter((i) => i && !ix.isConstant(i)) : [];
    if (biasAdd.length === 1 && (p.input ?? []).length === 2) {
      t = biasAdd[0];
      continue;
    }
    if (!(p.opType === 'Identity' || p.opType === 'Cast') || !p.input?.[0]) return null;
    t = p.input[0];
  }
  return null;
}

export const LOGIT_ROWS_INPUT = 'logits_rows';

/**
 * Adds an int64 input `logits_rows` [R]: only those sequence positions reach the unembedding, so the logits output
 * becomes [B,R,V]. The unembedding is the costliest matmul of a small model; analyses need a few rows of it.
 */
export function addLogitRows(model: ModelProto, s: ModelStructure): void {
  if (!s.unembed?.input?.[0]) throw new GraphStructureError(`${s.file}: cannot find the unembedding MatMul to select logits rows`);
  const g = model.graph!;
  const src = s.unembed.input[0];
  const picked = 'precache_lens/logits_rows/picked';
  g.node!.splice(g.node!.indexOf(s.unembed), 0, node('Gather', [src, LOGIT_ROWS_INPUT], [picked], 'precache_lens/logits_rows/gather', { axis: 1 }));
  s.unembed.input![0] = picked;
  g.input!.push(symbolicInput(LOGIT_ROWS_INPUT, TensorType.INT64, ['logits_rows']));
}

export const TARGET_IDS_INPUT = 'target_ids';
export const TARGET_LOGPROBS_OUTPUT = 'target_logprobs';
/** Which rows of the [B*R, V] log-softmax get their top entries (int64 [Rt]), and how many (int64 [1]). */
export const TOP_ROWS_INPUT = 'precache_lens/top_rows';
export const TOP_K_INPUT = 'precache_lens/top_k';
/** The top log-probabilities [Rt, k] (largest first; equal ones by lower id) and their token ids (int64). */
export const TOP_LOGPROBS_OUTPUT = 'precache_lens/top_logprobs';
export const TOP_IDS_OUTPUT = 'precache_lens/top_ids';

/**
 * Adds an int64 input `target_ids` [B,R,1] and an output `target_logprobs` [B,R,1] = log softmax(logits)[target]:
 * an analysis that only needs losses never copies [B,R,vocab] logits out of the runtime.
 */
export function addTargetLogprobs(model: ModelProto, s: ModelStructure): void {
  const g = model.graph!;
  const p = 'precache_lens/target_logprobs';
  const logits = floatTypeOf(g, s.logits) === TensorType.FLOAT ? s.logits : `${p}/logits_f32`;
  if (logits !== s.logits) g.node!.push(node('Cast', [s.logits], [logits], `${p}/cast`, { to: TensorType.FLOAT }));
  g.node!.push(node('LogSoftmax', [logits], [`${p}/logsm`], `${p}/logsoftmax`, { axis: -1 }));
  g.node!.push(node('GatherElements', [`${p}/logsm`, TARGET_IDS_INPUT], [TARGET_LOGPROBS_OUTPUT], `${p}/gather`, { axis: 2 }));
  g.output!.push(floatOutput(TARGET_LOGPROBS_OUTPUT));
  g.input!.push(symbolicInput(TARGET_IDS_INPUT, TensorType.INT64, ['target_batch', 'target_rows', 'target_one']));
  // The top predictions of chosen rows, so that their [R, V] logits need not leave the runtime (a call that wants
  // none asks for one row: the node runs on every call).
  const t = 'precache_lens/top';
  g.node!.push(node('Flatten', [`${p}/logsm`], [`${t}/flat`], `${t}/flatten`, { axis: 2 }));
  g.node!.push(node('Gather', [`${t}/flat`, TOP_ROWS_INPUT], [`${t}/rows`], `${t}/gather`, { axis: 0 }));
  g.node!.push(node('TopK', [`${t}/rows`, TOP_K_INPUT], [TOP_LOGPROBS_OUTPUT, TOP_IDS_OUTPUT], `${t}/topk`, { axis: -1, largest: 1, sorted: 1 }));
  g.output!.push(floatOutput(TOP_LOGPROBS_OUTPUT));
  g.output!.push(tensorOutput(TOP_IDS_OUTPUT, TensorType.INT64));
  g.input!.push(symbolicInput(TOP_ROWS_INPUT, TensorType.INT64, ['top_rows']));
  g.input!.push(symbolicInput(TOP_K_INPUT, TensorType.INT64, ['top_k_one']));
}

export interface AnalyzeOptions {
  file: string;
  nHead: number;
  dHead: number;
  nLayer: number | null;
}

/** Reads a model's structure. Never throws for fused attention: that is recorded in `attentionProblem`. */
export function analyzeModel(model: ModelProto, opts: AnalyzeOptions): ModelStructure {
  const graph = model.graph;
  if (!graph) throw new GraphStructureError(`${opts.file}: the ONNX file has no graph`);
  const ix = new GraphIndex(graph);
  const logitsOut = (graph.output ?? []).find((o) => o.name === 'logits') ?? graph.output?.[0];
  if (!logitsOut?.name) throw new GraphStructureError(`${opts.file}: the graph has no outputs`);
  const fusedAll = findFusedAttention(graph);
  const fusedTop = fusedAll.filter((f) => f.path.length === 0);

  const layers: LayerStructure[] = [];
  for (const n of graph.node ?? []) {
    if (n.opType === 'Softmax' && n.output?.[0] && n.input?.[0]) {
      const mm = probsMatmul(ix, n.output[0]);
      if (!mm?.input?.[1] || !mm.output?.[0]) continue;
      const rest = traceLayer(ix, layers.length, mm.output[0], n.input[0]);
      layers.push({ ...rest, softmax: n, pattern: n.output[0], vOperand: mm.input[1], fused: null });
    } else if (fusedTop.some((f) => f.name === (n.name ?? '') && f.opType === n.opType) && n.output?.[0] && n.input?.[0]) {
      const rest = traceLayer(ix, layers.length, n.output[0], n.input[0]);
      layers.push({ ...rest, softmax: null, pattern: null, vOperand: null, fused: { opType: n.opType!, name: n.name ?? '' } });
    }
  }

  let attentionProblem: string | null = null;
  if (fusedAll.length) {
    const f = fusedAll[0];
    const where = f.path.length ? ` inside ${f.path.join(' > ')}` : '';
    attentionProblem =
      `${opts.file}: attention is fused into the operator ${f.domain}.${f.opType} (node "${f.name}"${where}), ` +
      'which never materialises the attention pattern; attention hooks and interventions need an export with ' +
      'eager attention (softmax(QK^T)V as separate ops) and without onnxruntime transformer fusions';
  } else if (layers.length === 0) {
    const sub: string[] = [];
    let softmaxInSub = false;
    if (graph) {
      for (const n of graph.node ?? []) {
        for (const a of n.attribute ?? []) {
          const gs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
          for (const g of gs) if ((g.node ?? []).some((m) => m.opType === 'Softmax')) { softmaxInSub = true; sub.push(`${n.opType} node "${n.name ?? ''}"`); }
        }
      }
    }
    attentionProblem = softmaxInSub
      ? `${opts.file}: attention sits inside a subgraph of the operator ${sub[0]}, which graph surgery cannot reach; ` +
        'use the export without the If branch (e.g. decoder_model.onnx instead of decoder_model_merged.onnx)'
      : `${opts.file}: no attention found (no Softmax feeding a probs@V MatMul)`;
  }
  if (!attentionProblem && opts.nLayer !== null && layers.length !== opts.nLayer) {
    attentionProblem = `${opts.file}: found ${layers.length} attention softmaxes but config.json says ${opts.nLayer} layers`;
  }
  // Residual stream between blocks: post of layer l is pre of layer l+1 when both were found.
  for (let l = 0; l + 1 < layers.length; l++) {
    const next = layers[l + 1].residPre;
    if (next) layers[l].residPost = next;
  }
  return {
    file: opts.file,
    layers,
    lnFinal: findLnFinal(ix, logitsOut.name),
    unembed: findUnembed(ix, logitsOut.name),
    logits: logitsOut.name,
    nHead: opts.nHead,
    dHead: opts.dHead,
    attentionProblem,
  };
}

export function floatOutput(name: string) {
  return tensorOutput(name, TensorType.FLOAT);
}

/** A graph output of the given element type, shape left to the runtime. */
export function tensorOutput(name: string, elemType: number) {
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType }) }) });
}

/** A graph input of the given element type whose dims are all symbolic (named by `dimParams`). */
export function symbolicInput(name: string, elemType: number, dimParams: string[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({ dim: dimParams.map((d) => onnx.TensorShapeProto.Dimension.create({ dimParam: d })) }),
      }),
    }),
  });
}

export function node(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, number[] | number> = {}) {
  const attribute = Object.entries(attrs).map(([k, v]) =>
    Array.isArray(v)
      ? onnx.AttributeProto.create({ name: k, ints: v, type: onnx.AttributeProto.AttributeType.INTS })
      : onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT }),
  );
  return onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute });
}

export function int64Init(name: string, values: number[]) {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return onnx.TensorProto.create({ name, dataType: TensorType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
}

function floatInit(name: string, dims: number[], values: Float32Array) {
  return onnx.TensorProto.create({ name, dataType: TensorType.FLOAT, dims, rawData: new Uint8Array(values.buffer) });
}

const ATTENTION_KINDS: ReadonlySet<LayerHookKind> = new Set(['attn.hook_pattern', 'attn.hook_v', 'attn.hook_value_norm']);

/**
 * Adds the named hooks as graph outputs (named exactly as the hooks), in place. Throws a GraphStructureError that
 * names the hook when the structure it needs was not found.
 */
export function addHooks(model: ModelProto, s: ModelStructure, names: readonly string[]): void {
  const g = model.graph!;
  const newNodes: NodeProto[] = [];
  const existingOutputs = new Set((g.output ?? []).map((o) => o.name));
  // Hooks are float32 whatever the graph computes in (fp16 exports): one Cast where needed.
  const types = new UnfuseContext(g, s.file, 17);
  const isF32 = (t: string) => types.floatType(t) === TensorType.FLOAT;
  const expose = (tensor: string, hook: string) => {
    newNodes.push(isF32(tensor) ? node('Identity', [tensor], [hook], `precache_lens/${hook}`) : node('Cast', [tensor], [hook], `precache_lens/${hook}`, { to: TensorType.FLOAT }));
    g.output!.push(floatOutput(hook));
  };
  const asF32 = (tensor: string, tag: string) => {
    if (isF32(tensor)) return tensor;
    const out = `precache_lens/${tag}/f32`;
    newNodes.push(node('Cast', [tensor], [out], `precache_lens/${tag}/cast`, { to: TensorType.FLOAT }));
    return out;
  };
  for (const name of names) {
    const ref = parseHookName(name);
    if (!ref) throw new GraphStructureError(`unknown hook "${name}"`);
    if (ref.kind === 'logits') {
      if (!existingOutputs.has('logits')) expose(s.logits, 'logits');
      continue;
    }
    if (ref.kind === 'ln_final.hook_normalized') {
      if (!s.lnFinal) throw new GraphStructureError(`${s.file}: cannot find the final norm's output for hook "${name}"`);
      expose(s.lnFinal, name);
      continue;
    }
    if (ref.layer === null) throw new GraphStructureError(`unknown hook "${name}"`);
    const L = s.layers[ref.layer];
    if (!L) throw new GraphStructureError(`${s.file}: hook "${name}": layer ${ref.layer} not found (found ${s.layers.length} layers)`);
    if (ATTENTION_KINDS.has(ref.kind) && (s.attentionProblem || !L.pattern)) {
      throw new GraphStructureError(`hook "${name}" is unavailable: ${s.attentionProblem ?? `${s.file}: layer ${ref.layer} has no attention pattern`}`);
    }
    const missing = () => new GraphStructureError(`${s.file}: hook "${name}": could not find this tensor in layer ${ref.layer}'s structure`);
    switch (ref.kind) {
      case 'hook_resid_pre':
        if (!L.residPre) throw missing();
        expose(L.residPre, name);
        break;
      case 'hook_resid_post':
        if (!L.residPost) throw missing();
        expose(L.residPost, name);
        break;
      case 'hook_resid_mid':
        if (L.residMid) expose(L.residMid, name);
        else if (L.residPre && L.attnOut) {
          // Parallel blocks never form x + attn_out; compute it so the hook means the same in every family.
          newNodes.push(node('Add', [asF32(L.residPre, `${name}/pre`), asF32(L.attnOut, `${name}/attn`)], [name], `precache_lens/${name}`));
          g.output!.push(floatOutput(name));
        } else throw missing();
        break;
      case 'attn.hook_pattern':
        expose(L.pattern!, name);
        break;
      case 'attn.hook_v':
        // The probs@V operand is [B,H,T,dh]; TransformerLens's hook_v is [B,T,H,dh].
        newNodes.push(node('Transpose', [asF32(L.vOperand!, name)], [name], `precache_lens/${name}`, { perm: [0, 2, 1, 3] }));
        g.output!.push(floatOutput(name));
        break;
      case 'attn.hook_value_norm': {
        if (!L.wO) throw missing();
        const p = `precache_lens/${name}`;
        let w: string;
        let dOut: number;
        const ix = new GraphIndex(g);
        if (L.wO.quantized || !isF32(L.wO.tensor)) {
          // Integer, 4-bit or fp16 weights: W_O read back as a float32 [in, out] constant.
          const ref: WeightRef = L.wO.quantized ?? { kind: 'float', tensor: L.wO.tensor, transposed: L.wO.transposed };
          const deq = dequantizedWeight(ix, ref, path.dirname(s.file));
          if (!deq) throw new GraphStructureError(`${s.file}: hook "${name}": the attention output projection's weight (${L.wO.tensor}) cannot be read as a matrix`);
          w = `${p}/w_f32`;
          g.initializer!.push(floatInit(w, deq.dims, deq.data));
          dOut = deq.dims[1];
        } else {
          w = L.wO.tensor;
          if (L.wO.transposed) {
            newNodes.push(node('Transpose', [w], [`${p}/w_t`], `${p}/transpose`, { perm: [1, 0] }));
            w = `${p}/w_t`;
          }
          const dims = ix.constantDims(L.wO.tensor);
          dOut = dims ? (L.wO.transposed ? dims[0] : dims[1]) : s.nHead * s.dHead;
        }
        g.initializer!.push(int64Init(`${p}/shape`, [s.nHead, s.dHead, dOut]));
        g.initializer!.push(floatInit(`${p}/ones`, [s.dHead, 1], new Float32Array(s.dHead).fill(1)));
        g.initializer!.push(int64Init(`${p}/out_shape`, [0, 0, -1]));
        // ||v_j^h W_O^h||^2 = v_j^h G_h (v_j^h)^T with G_h = W_O^h (W_O^h)^T [dh, dh]: per position dh^2 multiply-adds
        // instead of dh*d (12x fewer for GPT-2). G depends on weights only, so onnxruntime folds it at load. The
        // quadratic form is summed by a ones-vector MatMul, clamped at 0 (rounding can take a zero norm below it),
        // then the square root. Every call on a graph with this hook pays for it, fetched or not.
        const v = asF32(L.vOperand!, `${name}/v`);
        newNodes.push(node('Reshape', [w, `${p}/shape`], [`${p}/w_heads`], `${p}/reshape_w`));
        newNodes.push(node('Transpose', [`${p}/w_heads`], [`${p}/w_heads_t`], `${p}/transpose_heads`, { perm: [0, 2, 1] }));
        newNodes.push(node('MatMul', [`${p}/w_heads`, `${p}/w_heads_t`], [`${p}/gram`], `${p}/gram`));
        newNodes.push(node('MatMul', [v, `${p}/gram`], [`${p}/vg`], `${p}/vg`));
        newNodes.push(node('Mul', [`${p}/vg`, v], [`${p}/sq`], `${p}/sq`));
        newNodes.push(node('MatMul', [`${p}/sq`, `${p}/ones`], [`${p}/sum`], `${p}/sum`));
        newNodes.push(node('Relu', [`${p}/sum`], [`${p}/sum_pos`], `${p}/clamp`));
        newNodes.push(node('Sqrt', [`${p}/sum_pos`], [`${p}/norm`], `${p}/sqrt`));
        newNodes.push(node('Reshape', [`${p}/norm`, `${p}/out_shape`], [name], `${p}/squeeze`));
        g.output!.push(floatOutput(name));
        break;
      }
    }
  }
  g.node!.push(...newNodes);
}

export const biasInputName = (layer: number) => `attention_bias.${layer}`;

/**
 * Adds one float input per layer, `attention_bias.{l}`, broadcastable to [B,H,T,T] and added to the attention
 * scores right before the softmax (so after the causal and padding masks). Returns the new input names.
 */
export function addAttentionBias(model: ModelProto, s: ModelStructure): string[] {
  if (s.attentionProblem) throw new GraphStructureError(`attention interventions are unavailable: ${s.attentionProblem}`);
  const g = model.graph!;
  const names: string[] = [];
  for (const L of s.layers) {
    if (!L.softmax) throw new GraphStructureError(`${s.file}: layer ${L.layer} has no softmax for the attention bias`);
    const name = biasInputName(L.layer);
    const scores = L.softmax.input![0]!;
    const biased = `precache_lens/${name}/scores`;
    // The input is float32; fp16 graphs add it in their own type (-inf stays -inf).
    const scoreType = floatTypeOf(g, scores);
    const bias = scoreType === TensorType.FLOAT ? name : `precache_lens/${name}/cast`;
    const add = node('Add', [scores, bias], [biased], `precache_lens/${name}/add`);
    L.softmax.input![0] = biased;
    const at = g.node!.indexOf(L.softmax);
    g.node!.splice(at, 0, ...(bias === name ? [] : [node('Cast', [name], [bias], `precache_lens/${name}/cast_node`, { to: scoreType })]), add);
    g.input!.push(symbolicInput(name, TensorType.FLOAT, ['bias_batch', 'bias_heads', 'bias_queries', 'bias_keys']));
    names.push(name);
  }
  return names;
}

/** Dims of a graph input as numbers, with -1 for symbolic dims. */
export function inputDims(model: ModelProto, name: string): number[] | null {
  const vi = (model.graph?.input ?? []).find((i) => i.name === name);
  const dims = vi?.type?.tensorType?.shape?.dim;
  if (!dims) return null;
  return dims.map((d) => (d.dimValue != null && num(d.dimValue) > 0 ? num(d.dimValue) : -1));
}
