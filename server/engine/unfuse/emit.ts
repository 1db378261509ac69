// Emits the standard-ONNX nodes and constants that replace one fused node, with names unique to that node.
import { TensorType, onnx, type NodeProto, type TensorProto } from '../onnx-graph.js';

export type AttrValue = number | number[] | { f: number };

/** float32 -> IEEE half bits (round to nearest even), for constants of fp16 graphs. */
export function toHalfBits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

/** The most negative finite value of a float type: what a masked score becomes (softmax then gives exactly 0). */
export function lowest(elemType: number): number {
  if (elemType === TensorType.FLOAT16) return -65504;
  if (elemType === TensorType.BFLOAT16) return -3.3895313892515355e38;
  return -3.4028234663852886e38;
}

export function floatBytes(values: number[], elemType: number): Uint8Array {
  if (elemType === TensorType.FLOAT16) {
    const u = Uint16Array.from(values, toHalfBits);
    return new Uint8Array(u.buffer);
  }
  if (elemType === TensorType.BFLOAT16) {
    const f = new Float32Array(values);
    const u32 = new Uint32Array(f.buffer);
    const u = Uint16Array.from(u32, (x) => x >>> 16);
    return new Uint8Array(u.buffer);
  }
  if (elemType === TensorType.DOUBLE) return new Uint8Array(new Float64Array(values).buffer);
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Collects nodes and constants for one fused node's replacement; every name starts with `prefix`. */
export class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private n = 0;

  constructor(
    readonly prefix: string,
    /** The float type the fused node computes in: constants that meet its tensors get this type. */
    readonly floatType: number,
    /** The default-domain opset of the model: decides between attribute and input forms (ReduceMean, Split...). */
    readonly opset: number,
  ) {}

  private fresh(tag: string): string {
    return `${this.prefix}/${tag}_${this.n++}`;
  }

  /** One node; returns its outputs (fresh names unless `outputs` names them). */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOut = 1, outputs?: string[]): string[] {
    const name = this.fresh(opType);
    const outs = outputs ?? Array.from({ length: nOut }, (_, i) => `${name}/out${i}`);
    const attribute = Object.entries(attrs).map(([k, v]) => {
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name: k, ints: v, type: onnx.AttributeProto.AttributeType.INTS });
      if (typeof v === 'number') return onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT });
      return onnx.AttributeProto.create({ name: k, f: v.f, type: onnx.AttributeProto.AttributeType.FLOAT });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, name, input: inputs, output: outs, attribute }));
    return outs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    return this.node(opType, inputs, attrs, 1, output ? [output] : undefined)[0];
  }

  i64(values: number[], scalar = false): string {
    const name = this.fresh('i64');
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.inits.push(onnx.TensorProto.create({ name, dataType: TensorType.INT64, dims: scalar ? [] : [values.length], rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  /** A scalar in the node's float type. */
  f(value: number): string {
    const name = this.fresh('f');
    this.inits.push(onnx.TensorProto.create({ name, dataType: this.floatType, dims: [], rawData: floatBytes([value], this.floatType) }));
    return name;
  }

  // ------------------------------------------------------------------ opset-aware helpers

  unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Unsqueeze', [x, this.i64(axes)]) : this.op('Unsqueeze', [x], { axes });
  }

  squeeze(x: string, axes: number[]): string {
    return this.opset >= 13 ? this.op('Squeeze', [x, this.i64(axes)]) : this.op('Squeeze', [x], { axes });
  }

  reduceMean(x: string, axes: number[]): string {
    return this.opset >= 18 ? this.op('ReduceMean', [x, this.i64(axes)], { keepdims: 1 }) : this.op('ReduceMean', [x], { axes, keepdims: 1 });
  }

  split(x: string, sizes: number[], axis: number): string[] {
    return this.opset >= 13
      ? this.node('Split', [x, this.i64(sizes)], { axis }, sizes.length)
      : this.node('Split', [x], { axis, split: sizes }, sizes.length);
  }

  /** x[..., start:end] along `axis` (static bounds). */
  slice(x: string, start: number, end: number, axis: number): string {
    return this.op('Slice', [x, this.i64([start]), this.i64([end]), this.i64([axis])]);
  }

  /** Dimension `axis` of x as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.op('Gather', [this.op('Shape', [x]), this.i64([axis], true)], { axis: 0 });
  }

  cast(x: string, to: number): string {
    return this.op('Cast', [x], { to });
  }

  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm });
  }

  reshape(x: string, shape: number[], output?: string): string {
    return this.op('Reshape', [x, this.i64(shape)], {}, output);
  }
}
