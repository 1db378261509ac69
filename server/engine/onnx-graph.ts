// ONNX protobuf access (via the onnx-proto schema for protobufjs) and a read-only index over a graph.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

export const TensorType = onnxProto.onnx.TensorProto.DataType;

/** protobufjs gives int64 fields as Long objects (or numbers); this makes them plain numbers. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return Number(v);
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function attr(node: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a && a.i != null ? num(a.i) : dflt;
}

/** Producer/consumer maps over the top-level graph; ONNX requires nodes in topological order, so index = order. */
export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly order = new Map<NodeProto, number>();
  readonly initializers = new Map<string, TensorProto>();
  readonly graphInputs = new Set<string>();

  constructor(readonly graph: GraphProto) {
    (graph.node ?? []).forEach((n, i) => {
      this.order.set(n, i);
      for (const o of n.output ?? []) if (o) this.producer.set(o, n);
      for (const inp of n.input ?? []) {
        if (!inp) continue;
        const list = this.consumers.get(inp);
        if (list) list.push(n);
        else this.consumers.set(inp, [n]);
      }
    });
    for (const t of graph.initializer ?? []) if (t.name) this.initializers.set(t.name, t);
    for (const i of graph.input ?? []) if (i.name) this.graphInputs.add(i.name);
  }

  consumersOf(tensor: string): NodeProto[] {
    return this.consumers.get(tensor) ?? [];
  }

  /** A tensor that does not depend on any graph input: an initializer, or computed only from constants. */
  isConstant(tensor: string, seen = new Map<string, boolean>()): boolean {
    const cached = seen.get(tensor);
    if (cached !== undefined) return cached;
    if (this.initializers.has(tensor)) return true;
    if (this.graphInputs.has(tensor)) return false;
    const p = this.producer.get(tensor);
    if (!p) return false;
    seen.set(tensor, false);
    const r = (p.input ?? []).every((i) => !i || this.isConstant(i, seen));
    seen.set(tensor, r);
    return r;
  }

  /** True when `ancestor` is `tensor` itself or feeds it through any path. */
  dependsOn(tensor: string, ancestor: string): boolean {
    const stack = [tensor];
    const seen = new Set<string>();
    while (stack.length) {
      const t = stack.pop()!;
      if (t === ancestor) return true;
      if (seen.has(t)) continue;
      seen.add(t);
      const p = this.producer.get(t);
      if (p) for (const i of p.input ?? []) if (i) stack.push(i);
    }
    return false;
  }

  /** Dims of an initializer, or of a Transpose of one (as a weight fed through a Transpose node). */
  constantDims(tensor: string): number[] | null {
    const init = this.initializers.get(tensor);
    if (init) return (init.dims ?? []).map(num);
    const p = this.producer.get(tensor);
    if (p && p.opType === 'Transpose' && p.input?.[0]) {
      const inner = this.constantDims(p.input[0]);
      if (!inner) return null;
      const permAttr = attr(p, 'perm');
      const perm = permAttr?.ints?.length ? permAttr.ints.map(num) : inner.map((_, i) => inner.length - 1 - i);
      return perm.map((i) => inner[i]);
    }
    if (p && (p.opType === 'Identity' || p.opType === 'Cast') && p.input?.[0]) return this.constantDims(p.input[0]);
    return null;
  }
}

/** Operators that compute attention internally, so its probabilities never exist as a tensor. */
export const FUSED_ATTENTION_OPS = new Set([
  'Attention',
  'MultiHeadAttention',
  'GroupQueryAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'DecoderAttention',
  'DecoderMaskedSelfAttention',
  'DecoderMaskedMultiHeadAttention',
  'SparseAttention',
  'LongformerAttention',
  'QAttention',
]);

export interface FoundNode {
  opType: string;
  domain: string;
  name: string;
  /** Names of the If/Loop/Scan nodes the node sits inside, outermost first; empty at top level. */
  path: string[];
}

/** Walks the graph and every subgraph (If/Loop/Scan bodies), calling `visit` for each node. */
export function walkNodes(graph: GraphProto, visit: (n: NodeProto, path: string[]) => void, path: string[] = []): void {
  for (const n of graph.node ?? []) {
    visit(n, path);
    for (const a of n.attribute ?? []) {
      const sub = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
      for (const g of sub) walkNodes(g, visit, [...path, `${n.opType}:${n.name ?? ''}`]);
    }
  }
}

export function findFusedAttention(graph: GraphProto): FoundNode[] {
  const out: FoundNode[] = [];
  walkNodes(graph, (n, path) => {
    const op = n.opType ?? '';
    if (FUSED_ATTENTION_OPS.has(op) || (op === 'ScaledDotProductAttention' && n.domain)) {
      out.push({ opType: op, domain: n.domain || 'ai.onnx', name: n.name ?? '', path });
    }
  });
  return out;
}
