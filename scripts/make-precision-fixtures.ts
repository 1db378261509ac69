// Writes fp16 and quantised variants of a float32 model directory, as export tools produce them (model_fp16.onnx,
// model_quantized.onnx, q4), converting the graph in TypeScript:
//
//   npx tsx scripts/make-precision-fixtures.ts [--from tests/fixtures/models/gpt2-tiny-eager] [--out tests/fixtures/models]
//        [--only fp16,q8,q4]
//
//   fp16:  every float initializer, Cast target, graph input and output becomes float16 (transformers.js / Optimum
//          fp16 exports without keep_io_types); constants are clamped to float16's range (-65504 for float32 min).
//   q8:    onnxruntime quantize_dynamic's pattern for each MatMul by a constant [K, N] weight: DynamicQuantizeLinear on
//          the activation, int8 weight (symmetric, per tensor), MatMulInteger, Cast, Mul by x_scale * w_scale.
//   q8-fused: the same weights through com.microsoft DynamicQuantizeMatMul (what ORT's optimizer fuses them into).
//   qdq:   weight-only QDQ: int8 weights per output column, DequantizeLinear(axis 1) feeding the float MatMul.
//   q4:    com.microsoft MatMulNBits (4 bits, block size 16 along K, symmetric: no zero points, so 8).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { floatBytes } from '../server/engine/unfuse/emit.js';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.ModelProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type Precision = 'fp16' | 'q8' | 'q8-fused' | 'qdq' | 'q4';
export const PRECISIONS: Precision[] = ['fp16', 'q8', 'q8-fused', 'qdq', 'q4'];
export const Q4_BLOCK = 16;

function f32(t: ITensorProto): Float32Array {
  const raw = t.rawData!;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): ITensorProto {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: raw });
}

const scalarF = (name: string, v: number) => tensor(name, DT.FLOAT, [], new Uint8Array(new Float32Array([v]).buffer));
const node = (opType: string, name: string, input: string[], output: string[], attrs: Record<string, number> = {}, domain = '') =>
  onnx.NodeProto.create({
    opType,
    name,
    domain,
    input,
    output,
    attribute: Object.entries(attrs).map(([k, v]) => onnx.AttributeProto.create({ name: k, i: v, type: onnx.AttributeProto.AttributeType.INT })),
  });

export function toFp16(m: ModelProto): void {
  const g = m.graph!;
  for (const t of g.initializer ?? []) {
    if (t.dataType !== DT.FLOAT) continue;
    t.rawData = floatBytes([...f32(t)].map((x) => Math.max(-65504, Math.min(65504, x))), DT.FLOAT16);
    t.dataType = DT.FLOAT16;
  }
  for (const n of g.node ?? []) for (const a of n.attribute ?? []) if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === DT.FLOAT) a.i = DT.FLOAT16;
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) if (v.type?.tensorType?.elemType === DT.FLOAT) v.type.tensorType.elemType = DT.FLOAT16;
}

/** MatMul nodes whose second input is a float [K, N] initializer. */
function weightMatmuls(m: ModelProto): { n: INodeProto; w: ITensorProto }[] {
  const inits = new Map((m.graph!.initializer ?? []).map((t) => [t.name!, t]));
  return (m.graph!.node ?? [])
    .filter((n) => n.opType === 'MatMul')
    .map((n) => ({ n, w: inits.get(n.input![1]!)! }))
    .filter(({ w }) => w && w.dataType === DT.FLOAT && w.dims?.length === 2);
}

/** Symmetric int8 quantisation of a [K, N] matrix, per tensor or per column. */
function int8(w: Float32Array, K: number, N: number, perColumn: boolean): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(perColumn ? N : 1);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) {
    const i = perColumn ? n : 0;
    scales[i] = Math.max(scales[i], Math.abs(w[k * N + n]) / 127);
  }
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) q[k * N + n] = Math.round(w[k * N + n] / (scales[perColumn ? n : 0] || 1));
  return { q, scales };
}

function replaceNode(m: ModelProto, old: INodeProto, nodes: INodeProto[]): void {
  const list = m.graph!.node!;
  list.splice(list.indexOf(old), 1, ...nodes);
}

export function quantize(m: ModelProto, kind: Exclude<Precision, 'fp16'>): void {
  const g = m.graph!;
  const used = new Set<string>();
  let ms = false;
  for (const { n, w } of weightMatmuls(m)) {
    const [K, N] = (w.dims ?? []).map(Number);
    const W = f32(w);
    const x = n.input![0]!;
    const y = n.output![0]!;
    const p = n.name ?? y;
    used.add(w.name!);
    if (kind === 'q8' || kind === 'q8-fused') {
      const { q, scales } = int8(W, K, N, false);
      g.initializer!.push(tensor(`${w.name}_quantized`, DT.INT8, [K, N], new Uint8Array(q.buffer)), scalarF(`${w.name}_scale`, scales[0]), tensor(`${w.name}_zero_point`, DT.INT8, [], new Uint8Array(1)));
      if (kind === 'q8-fused') {
        ms = true;
        replaceNode(m, n, [node('DynamicQuantizeMatMul', `${p}_quant`, [x, `${w.name}_quantized`, `${w.name}_scale`, `${w.name}_zero_point`], [y], {}, 'com.microsoft')]);
      } else {
        replaceNode(m, n, [
          node('DynamicQuantizeLinear', `${p}_x_quant`, [x], [`${p}_x_q`, `${p}_x_scale`, `${p}_x_zp`]),
          node('MatMulInteger', `${p}_quant`, [`${p}_x_q`, `${w.name}_quantized`, `${p}_x_zp`, `${w.name}_zero_point`], [`${p}_int32`]),
          node('Cast', `${p}_cast`, [`${p}_int32`], [`${p}_float`], { to: DT.FLOAT }),
          node('Mul', `${p}_scales_mul`, [`${p}_x_scale`, `${w.name}_scale`], [`${p}_scales`]),
          node('Mul', `${p}_output_mul`, [`${p}_float`, `${p}_scales`], [y]),
        ]);
      }
    } else if (kind === 'qdq') {
      const { q, scales } = int8(W, K, N, true);
      g.initializer!.push(
        tensor(`${w.name}_quantized`, DT.INT8, [K, N], new Uint8Array(q.buffer)),
        tensor(`${w.name}_scale`, DT.FLOAT, [N], new Uint8Array(scales.buffer)),
        tensor(`${w.name}_zero_point`, DT.INT8, [N], new Uint8Array(N)),
      );
      replaceNode(m, n, [
        node('DequantizeLinear', `${p}_weight_dq`, [`${w.name}_quantized`, `${w.name}_scale`, `${w.name}_zero_point`], [`${w.name}_dequantized`], { axis: 1 }),
        node('MatMul', p, [x, `${w.name}_dequantized`], [y]),
      ]);
    } else {
      ms = true;
      // MatMulNBits: B [N, K/block, block/2] uint8, two 4-bit values a byte (low nibble first); scales [N * K/block].
      const nb = Math.ceil(K / Q4_BLOCK);
      const packed = new Uint8Array(N * nb * (Q4_BLOCK / 2));
      const sc = new Float32Array(N * nb);
      for (let c = 0; c < N; c++) {
        for (let b = 0; b < nb; b++) {
          let amax = 0;
          for (let i = 0; i < Q4_BLOCK && b * Q4_BLOCK + i < K; i++) amax = Math.max(amax, Math.abs(W[(b * Q4_BLOCK + i) * N + c]));
          const s = amax / 7 || 1;
          sc[c * nb + b] = s;
          for (let i = 0; i < Q4_BLOCK; i++) {
            const k = b * Q4_BLOCK + i;
            const qv = k < K ? Math.max(0, Math.min(15, Math.round(W[k * N + c] / s) + 8)) : 8;
            const at = (c * nb + b) * (Q4_BLOCK / 2) + (i >> 1);
            packed[at] |= i & 1 ? qv << 4 : qv;
          }
        }
      }
      g.initializer!.push(tensor(`${w.name}_Q4`, DT.UINT8, [N, nb, Q4_BLOCK / 2], packed), tensor(`${w.name}_scales`, DT.FLOAT, [N * nb], new Uint8Array(sc.buffer)));
      const mm = node('MatMulNBits', `${p}_Q4`, [x, `${w.name}_Q4`, `${w.name}_scales`], [y], { K, N, bits: 4, block_size: Q4_BLOCK }, 'com.microsoft');
      replaceNode(m, n, [mm]);
    }
  }
  g.initializer = (g.initializer ?? []).filter((t) => !used.has(t.name!));
  if (ms && !(m.opsetImport ?? []).some((o) => o.domain === 'com.microsoft')) m.opsetImport!.push(onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 }));
}

/** Writes `<out>/<name>-<precision>` for each precision: the source directory with its graph converted. */
export function writePrecisionVariants(from: string, out: string, precisions: Precision[] = PRECISIONS): string[] {
  const src = path.join(from, 'onnx/model.onnx');
  const written: string[] = [];
  for (const p of precisions) {
    const m = onnx.ModelProto.decode(fs.readFileSync(src));
    if (p === 'fp16') toFp16(m);
    else quantize(m, p);
    const dir = path.join(out, `${path.basename(from).replace(/-eager$/, '')}-${p}`);
    fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(from, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'onnx/model.onnx'), onnx.ModelProto.encode(m).finish());
    written.push(dir);
  }
  return written;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (k: string, d: string) => {
    const i = process.argv.indexOf(k);
    return i > 0 ? process.argv[i + 1] : d;
  };
  const from = path.resolve(arg('--from', path.join(REPO, 'tests/fixtures/models/gpt2-tiny-eager')));
  const out = path.resolve(arg('--out', path.join(REPO, 'tests/fixtures/models')));
  const only = arg('--only', '');
  const list = only ? (only.split(',') as Precision[]) : PRECISIONS;
  for (const p of list) if (!PRECISIONS.includes(p)) throw new Error(`--only: unknown precision ${p} (${PRECISIONS.join(', ')})`);
  for (const d of writePrecisionVariants(from, out, list)) console.log(`wrote ${d} (${(fs.statSync(path.join(d, 'onnx/model.onnx')).size / 1024).toFixed(0)} KiB graph)`);
}
