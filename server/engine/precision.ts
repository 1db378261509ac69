// Reduced-precision graphs: the float type of a tensor, quantised projections recognised as projections, and their
// weights read back as float32 (hook_value_norm needs W_O as a matrix).
import fs from 'node:fs';
import path from 'node:path';
import { GraphIndex, TensorType, attrInt, num, type GraphProto, type NodeProto, type TensorProto } from './onnx-graph.js';
import { UnfuseContext } from './unfuse/context.js';

/** The float element type a tensor has in the graph (float32 when nothing says otherwise). */
export function floatTypeOf(graph: GraphProto, tensor: string): number {
  return new UnfuseContext(graph, '', 17).floatType(tensor);
}

/** How an output projection holds its weight. `float`: a float tensor (initializer or computed), [in, out] or transposed. */
export type WeightRef =
  | { kind: 'float'; tensor: string; transposed: boolean }
  | { kind: 'quantized'; node: NodeProto; scale: string | null; zeroPoint: string | null; weight: string };

export interface Projection {
  /** The node that consumes the attention output (MatMul, Gemm, MatMulNBits, DynamicQuantizeLinear...). */
  node: NodeProto;
  /** The projected tensor (after dequantisation for the integer patterns). */
  out: string;
  weight: WeightRef;
}

const Q_PROJECTIONS = new Set(['MatMulNBits', 'DynamicQuantizeMatMul']);

/**
 * The projection that reads `t` as its activation: float MatMul/Gemm, com.microsoft MatMulNBits or
 * DynamicQuantizeMatMul, or onnxruntime's dynamic quantisation pattern (DynamicQuantizeLinear -> MatMulInteger ->
 * Cast -> Mul by the scales, or MatMulIntegerToFloat).
 */
export function projectionOf(ix: GraphIndex, t: string): Projection | null {
  const cs = ix.consumersOf(t);
  const mm = cs.find((c) => (c.opType === 'MatMul' || c.opType === 'Gemm') && c.input?.[0] === t && c.input?.[1]);
  if (mm) {
    const transposed = mm.opType === 'Gemm' && attrInt(mm, 'transB', 0) === 1;
    return { node: mm, out: mm.output![0]!, weight: { kind: 'float', tensor: mm.input![1]!, transposed } };
  }
  const q = cs.find((c) => Q_PROJECTIONS.has(c.opType ?? '') && c.input?.[0] === t);
  if (q) {
    const isNbits = q.opType === 'MatMulNBits';
    const scale = q.input?.[2] || null;
    const zp = (isNbits ? q.input?.[3] : q.input?.[3]) || null;
    return { node: q, out: q.output![0]!, weight: { kind: 'quantized', node: q, weight: q.input![1]!, scale, zeroPoint: zp } };
  }
  const dql = cs.find((c) => c.opType === 'DynamicQuantizeLinear' && c.input?.[0] === t);
  if (dql?.output?.[0]) {
    const mi = ix.consumersOf(dql.output[0]).find((c) => (c.opType === 'MatMulInteger' || c.opType === 'MatMulIntegerToFloat') && c.input?.[0] === dql.output![0]);
    if (!mi?.output?.[0]) return null;
    if (mi.opType === 'MatMulIntegerToFloat') {
      return { node: dql, out: mi.output[0], weight: { kind: 'quantized', node: mi, weight: mi.input![1]!, scale: mi.input?.[3] || null, zeroPoint: mi.input?.[5] || null } };
    }
    // MatMulInteger -> Cast -> Mul(·, x_scale * w_scale)
    const cast = ix.consumersOf(mi.output[0]).find((c) => c.opType === 'Cast');
    const mul = cast?.output?.[0] ? ix.consumersOf(cast.output[0]).find((c) => c.opType === 'Mul') : undefined;
    if (!mul?.output?.[0]) return null;
    const scales = (mul.input ?? []).find((i) => i && i !== cast!.output![0]) ?? '';
    const sm = ix.producer.get(scales);
    const wScale = sm?.opType === 'Mul' ? ((sm.input ?? []).find((i) => i && i !== dql.output![1]) ?? null) : null;
    return { node: dql, out: mul.output[0], weight: { kind: 'quantized', node: mi, weight: mi.input![1]!, scale: wScale, zeroPoint: mi.input?.[3] || null } };
  }
  return null;
}

/**
 * Walking back from a projection's output: the node that takes the activation as its input 0 (MatMul, Gemm,
 * MatMulNBits, DynamicQuantizeMatMul, or the DynamicQuantizeLinear of the integer patterns), or null.
 */
export function projectionEntry(ix: GraphIndex, out: string): NodeProto | null {
  const p = ix.producer.get(out);
  if (!p) return null;
  if (p.opType === 'MatMul' || p.opType === 'Gemm' || Q_PROJECTIONS.has(p.opType ?? '')) return p;
  const dqlOf = (t: string | undefined) => {
    const q = t ? ix.producer.get(t) : undefined;
    return q?.opType === 'DynamicQuantizeLinear' ? q : null;
  };
  if (p.opType === 'MatMulIntegerToFloat') return dqlOf(p.input?.[0]);
  if (p.opType === 'Mul') {
    for (const i of p.input ?? []) {
      const cast = i ? ix.producer.get(i) : undefined;
      const mi = cast?.opType === 'Cast' && cast.input?.[0] ? ix.producer.get(cast.input[0]) : undefined;
      if (mi?.opType === 'MatMulInteger') return dqlOf(mi.input?.[0]);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------- reading weights

function rawBytes(t: TensorProto, modelDir: string): Uint8Array | null {
  if (t.rawData?.length) return t.rawData;
  const ext = t.externalData ?? [];
  const loc = ext.find((e) => e.key === 'location')?.value;
  if (!loc) return null;
  const offset = Number(ext.find((e) => e.key === 'offset')?.value ?? 0);
  const length = Number(ext.find((e) => e.key === 'length')?.value ?? 0);
  const fd = fs.openSync(path.resolve(modelDir, loc), 'r');
  try {
    const size = length || fs.fstatSync(fd).size - offset;
    const buf = Buffer.alloc(size);
    fs.readSync(fd, buf, 0, size, offset);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    fs.closeSync(fd);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Values of a constant tensor as numbers (float, float16, bfloat16, int8/uint8/int32/int64). */
export function tensorValues(t: TensorProto, modelDir: string): Float64Array {
  const n = (t.dims ?? []).map(num).reduce((a, b) => a * b, 1);
  const raw = rawBytes(t, modelDir);
  const dt = t.dataType ?? 0;
  if (raw) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    switch (dt) {
      case TensorType.FLOAT: return Float64Array.from(new Float32Array(buf));
      case TensorType.DOUBLE: return new Float64Array(buf);
      case TensorType.FLOAT16: return Float64Array.from(new Uint16Array(buf), halfToFloat);
      case TensorType.BFLOAT16: return Float64Array.from(new Uint16Array(buf), (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]);
      case TensorType.INT8: return Float64Array.from(new Int8Array(buf));
      case TensorType.UINT8: return Float64Array.from(new Uint8Array(buf));
      case TensorType.INT32: return Float64Array.from(new Int32Array(buf));
      case TensorType.INT64: return Float64Array.from(new BigInt64Array(buf), Number);
    }
    throw new Error(`tensor "${t.name}": data type ${dt} cannot be read as a weight`);
  }
  if (t.floatData?.length) return Float64Array.from(t.floatData);
  if (t.int32Data?.length) {
    // float16 and 8-bit types are stored one value per int32 element when not raw.
    return dt === TensorType.FLOAT16 ? Float64Array.from(t.int32Data, halfToFloat) : Float64Array.from(t.int32Data);
  }
  if (t.int64Data?.length) return Float64Array.from(t.int64Data.map(num));
  if (t.doubleData?.length) return Float64Array.from(t.doubleData);
  return new Float64Array(n);
}

function constValues(ix: GraphIndex, name: string | null, modelDir: string): Float64Array | null {
  if (!name) return null;
  const t = ix.initializers.get(name);
  return t ? tensorValues(t, modelDir) : null;
}

/**
 * A projection's weight as a float32 [in, out] matrix, dequantised where it is stored quantised, or null when it is
 * not a constant the reader understands.
 */
export function dequantizedWeight(ix: GraphIndex, w: WeightRef, modelDir: string): { data: Float32Array; dims: [number, number] } | null {
  if (w.kind === 'float') {
    // A DequantizeLinear of a constant (QDQ weights), or a plain initializer of any float type.
    const p = ix.producer.get(w.tensor);
    if (p?.opType === 'DequantizeLinear' && !w.transposed) {
      const q = ix.initializers.get(p.input?.[0] ?? '');
      const dims = (q?.dims ?? []).map(num);
      if (!q || dims.length !== 2) return null;
      const x = tensorValues(q, modelDir);
      const scale = constValues(ix, p.input?.[1] ?? null, modelDir);
      const zp = constValues(ix, p.input?.[2] || null, modelDir);
      if (!scale) return null;
      const axis = attrInt(p, 'axis', 1);
      return { data: affine(x, dims[0], dims[1], scale, zp, axis === 0 ? 'row' : 'col'), dims: [dims[0], dims[1]] };
    }
    const t = ix.initializers.get(w.tensor);
    const dims = (t?.dims ?? []).map(num);
    if (!t || dims.length !== 2) return null;
    const v = Float32Array.from(tensorValues(t, modelDir));
    if (!w.transposed) return { data: v, dims: [dims[0], dims[1]] };
    const [o, i] = dims;
    const tr = new Float32Array(v.length);
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) tr[c * o + r] = v[r * i + c];
    return { data: tr, dims: [i, o] };
  }
  const n = w.node;
  if (n.opType === 'MatMulNBits') return nbits(ix, n, modelDir);
  const q = ix.initializers.get(w.weight);
  const dims = (q?.dims ?? []).map(num);
  const scale = constValues(ix, w.scale, modelDir);
  if (!q || dims.length !== 2 || !scale) return null;
  return { data: affine(tensorValues(q, modelDir), dims[0], dims[1], scale, constValues(ix, w.zeroPoint, modelDir), 'col'), dims: [dims[0], dims[1]] };
}

/** (q - zp) * scale with scale/zp scalars or per column (per row for axis 0). */
function affine(q: Float64Array, K: number, N: number, scale: Float64Array, zp: Float64Array | null, per: 'row' | 'col'): Float32Array {
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let c = 0; c < N; c++) {
      const i = scale.length === 1 ? 0 : per === 'col' ? c : k;
      out[k * N + c] = (q[k * N + c] - (zp ? zp[zp.length === 1 ? 0 : i] : 0)) * scale[i];
    }
  }
  return out;
}

/** com.microsoft MatMulNBits: B [N, blocks, blob] packed low bits first, scales [N * blocks], optional zero points. */
function nbits(ix: GraphIndex, n: NodeProto, modelDir: string): { data: Float32Array; dims: [number, number] } | null {
  const K = attrInt(n, 'K', 0);
  const N = attrInt(n, 'N', 0);
  const bits = attrInt(n, 'bits', 4);
  const block = attrInt(n, 'block_size', 0);
  if (!K || !N || !block || (bits !== 4 && bits !== 8) || n.input?.[4]) return null;
  const B = constValues(ix, n.input?.[1] ?? null, modelDir);
  const scales = constValues(ix, n.input?.[2] ?? null, modelDir);
  if (!B || !scales) return null;
  const zpT = n.input?.[3] ? ix.initializers.get(n.input[3]) : undefined;
  const zpV = zpT ? tensorValues(zpT, modelDir) : null;
  const zpPacked = zpT?.dataType === TensorType.UINT8;
  const nb = Math.ceil(K / block);
  const blob = (block * bits) / 8;
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const dflt = 2 ** (bits - 1);
  const out = new Float32Array(K * N);
  for (let c = 0; c < N; c++) {
    for (let b = 0; b < nb; b++) {
      const s = scales[c * nb + b];
      let z = dflt;
      if (zpV) {
        if (zpPacked) {
          const perCol = Math.ceil((nb * bits) / 8);
          const byte = zpV[c * perCol + Math.floor(b / perByte)];
          z = (byte >> ((b % perByte) * bits)) & mask;
        } else z = zpV[c * nb + b];
      }
      for (let i = 0; i < block; i++) {
        const k = b * block + i;
        if (k >= K) break;
        const byte = B[(c * nb + b) * blob + Math.floor(i / perByte)];
        const qv = (byte >> ((i % perByte) * bits)) & mask;
        out[k * N + c] = (qv - z) * s;
      }
    }
  }
  return { data: out, dims: [K, N] };
}
