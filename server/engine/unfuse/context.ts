// What an un-fusing rule may ask about the graph around the fused node, and the error it throws when it cannot.
import { GraphIndex, TensorType, attr, num, type GraphProto, type NodeProto } from '../onnx-graph.js';

export class UnfuseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnfuseError';
  }
}

const FLOAT_TYPES = new Set<number>([TensorType.FLOAT, TensorType.FLOAT16, TensorType.BFLOAT16, TensorType.DOUBLE]);

export class UnfuseContext {
  readonly ix: GraphIndex;
  private readonly declared = new Map<string, number>();

  constructor(
    readonly graph: GraphProto,
    readonly file: string,
    readonly opset: number,
  ) {
    this.ix = new GraphIndex(graph);
    for (const vi of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
      const t = vi.type?.tensorType?.elemType;
      if (vi.name && t) this.declared.set(vi.name, t);
    }
  }

  /** An error naming the node, the detail (attribute or input) and the file. */
  fail(n: NodeProto, detail: string): UnfuseError {
    return new UnfuseError(
      `${this.file}: cannot un-fuse ${n.domain || 'ai.onnx'}.${n.opType} node "${n.name ?? ''}": ${detail}; ` +
        'attention hooks and interventions need this operator expanded into standard ONNX ops',
    );
  }

  /** Input i when given (optional inputs may be missing or ''). */
  input(n: NodeProto, i: number): string | null {
    const v = n.input?.[i];
    return v ? v : null;
  }

  /** True when output i exists and something reads it (a node or the graph's outputs). */
  outputUsed(n: NodeProto, i: number): boolean {
    const o = n.output?.[i];
    if (!o) return false;
    return this.ix.consumersOf(o).length > 0 || (this.graph.output ?? []).some((g) => g.name === o);
  }

  intAttr(n: NodeProto, name: string, dflt: number): number {
    const a = attr(n, name);
    return a && a.i != null ? num(a.i) : dflt;
  }

  floatAttr(n: NodeProto, name: string, dflt: number | null): number | null {
    const a = attr(n, name);
    return a ? Number(a.f ?? 0) : dflt;
  }

  intsAttr(n: NodeProto, name: string): number[] | null {
    const a = attr(n, name);
    return a?.ints?.length ? a.ints.map(num) : null;
  }

  /** Dims of a constant tensor (initializer, possibly behind Transpose/Cast), else null. */
  constDims(t: string | null): number[] | null {
    return t ? this.ix.constantDims(t) : null;
  }

  /** Dims of a graph input as declared (-1 for symbolic), else of a constant. */
  dims(t: string | null): number[] | null {
    if (!t) return null;
    const c = this.constDims(t);
    if (c) return c;
    const vi = [...(this.graph.input ?? []), ...(this.graph.valueInfo ?? [])].find((i) => i.name === t);
    const d = vi?.type?.tensorType?.shape?.dim;
    return d ? d.map((x) => (x.dimValue != null && num(x.dimValue) > 0 ? num(x.dimValue) : -1)) : null;
  }

  /**
   * Rank and last dimension of a tensor (-1 when unknown), from declared shapes or propagated through the ops that
   * feed attention in exports (embedding Gather, MatMul by a constant, bias Add, Split, norms, elementwise ops).
   */
  shapeHint(t: string, depth = 0): { rank: number; last: number } | null {
    const d = this.dims(t);
    if (d) return { rank: d.length, last: d.length ? d[d.length - 1] : -1 };
    const p = this.ix.producer.get(t);
    if (!p || depth > 60) return null;
    const op = p.opType ?? '';
    const ins = (p.input ?? []).filter((i) => !!i);
    const h0 = () => (ins[0] ? this.shapeHint(ins[0], depth + 1) : null);
    if (op === 'Gather') {
      const data = this.constDims(ins[0]);
      const idx = this.shapeHint(ins[1], depth + 1);
      return data && idx && this.intAttr(p, 'axis', 0) === 0 ? { rank: idx.rank + data.length - 1, last: data[data.length - 1] } : null;
    }
    if (op === 'MatMul' || op === 'MatMulNBits' || op === 'MatMulInteger' || op === 'DynamicQuantizeMatMul' || op === 'MatMulIntegerToFloat') {
      const x = h0();
      const wd = this.constDims(ins[1]);
      if (op === 'MatMulNBits') return x ? { rank: x.rank, last: this.intAttr(p, 'N', -1) } : null;
      return x && wd?.length === 2 ? { rank: x.rank, last: wd[1] } : null;
    }
    if (op === 'Split') {
      const x = h0();
      if (!x) return null;
      const axis = this.intAttr(p, 'axis', 0);
      const k = (p.output ?? []).indexOf(t);
      const sizes = ins[1] ? this.constInts(ins[1]) : this.intsAttr(p, 'split');
      if (axis !== -1 && axis !== x.rank - 1) return { rank: x.rank, last: x.last };
      return { rank: x.rank, last: sizes ? sizes[k] : x.last > 0 && p.output?.length ? x.last / p.output.length : -1 };
    }
    if (op.startsWith('Reduce')) {
      const x = h0();
      if (!x) return null;
      if (this.intAttr(p, 'keepdims', 1)) return { rank: x.rank, last: -1 };
      const axes = ins[1] ? this.constInts(ins[1]) : this.intsAttr(p, 'axes');
      return axes ? { rank: x.rank - axes.length, last: -1 } : null;
    }
    if (op === 'Reshape') {
      const shape = ins[1] ? this.constInts(ins[1]) : null;
      return shape ? { rank: shape.length, last: shape[shape.length - 1] > 0 ? shape[shape.length - 1] : -1 } : null;
    }
    if (['Add', 'Sub', 'Mul', 'Div', 'Cast', 'Identity', 'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization',
      'SkipSimplifiedLayerNormalization', 'Relu', 'Gelu', 'FastGelu', 'Tanh', 'Sigmoid', 'Softmax', 'Neg', 'Sqrt', 'Pow', 'Where', 'QuickGelu', 'BiasGelu', 'Dropout'].includes(op)) {
      // Elementwise ops: the first non-constant operand decides (constants broadcast into it).
      const dyn = ins.find((i) => !this.ix.isConstant(i)) ?? ins[0];
      return dyn ? this.shapeHint(dyn, depth + 1) : null;
    }
    return null;
  }

  /** Values of a small constant int64/int32 initializer. */
  constInts(t: string): number[] | null {
    const init = this.ix.initializers.get(t);
    if (!init) return null;
    if (init.int64Data?.length) return init.int64Data.map(num);
    if (init.int32Data?.length) return [...init.int32Data];
    const raw = init.rawData;
    if (!raw?.length) return null;
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    if (init.dataType === TensorType.INT64) return [...new BigInt64Array(buf)].map(Number);
    if (init.dataType === TensorType.INT32) return [...new Int32Array(buf)];
    return null;
  }

  /**
   * The float element type of a tensor: declared, an initializer's, or followed back through its producer (Cast
   * gives its target; other ops their first float input's). Defaults to float32.
   */
  floatType(t: string, depth = 0): number {
    const d = this.declared.get(t);
    if (d && FLOAT_TYPES.has(d)) return d;
    const init = this.ix.initializers.get(t);
    if (init?.dataType && FLOAT_TYPES.has(init.dataType)) return init.dataType;
    const p = this.ix.producer.get(t);
    if (!p || depth > 40) return TensorType.FLOAT;
    if (p.opType === 'Cast') return attrTo(p) ?? TensorType.FLOAT;
    if (p.opType === 'DequantizeLinear' || p.opType === 'MatMulNBits' || p.opType === 'DynamicQuantizeMatMul' || p.opType === 'MatMulIntegerToFloat') {
      const scale = p.opType === 'DequantizeLinear' ? p.input?.[1] : p.input?.[p.opType === 'MatMulNBits' ? 2 : 2];
      return scale ? this.floatType(scale, depth + 1) : TensorType.FLOAT;
    }
    for (const i of p.input ?? []) {
      if (!i) continue;
      const r = this.knownFloat(i, depth + 1);
      if (r) return r;
    }
    return TensorType.FLOAT;
  }

  private knownFloat(t: string, depth: number): number | null {
    const d = this.declared.get(t);
    if (d) return FLOAT_TYPES.has(d) ? d : null;
    const init = this.ix.initializers.get(t);
    if (init) return init.dataType && FLOAT_TYPES.has(init.dataType) ? init.dataType : null;
    const p = this.ix.producer.get(t);
    if (!p || depth > 40) return null;
    if (p.opType === 'Cast') return attrTo(p);
    if (['Shape', 'Size', 'ArgMax', 'ArgMin', 'Equal', 'Less', 'Greater', 'Not', 'And', 'Or', 'NonZero', 'Range'].includes(p.opType ?? '')) return null;
    for (const i of p.input ?? []) {
      if (!i) continue;
      const r = this.knownFloat(i, depth + 1);
      if (r) return r;
    }
    return null;
  }
}

function attrTo(p: NodeProto): number | null {
  const a = attr(p, 'to');
  const v = a?.i != null ? num(a.i) : null;
  return v !== null && FLOAT_TYPES.has(v) ? v : null;
}
