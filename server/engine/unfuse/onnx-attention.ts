// The standard ONNX Attention operator (opset 23/24, written by current torch.onnx exports).
import { TensorType, type NodeProto } from '../onnx-graph.js';
import { emitCore } from './core.js';
import type { UnfuseContext } from './context.js';
import type { Emitter } from './emit.js';
import { rankOf, widthOf } from './ms-attention.js';

export function unfuseOnnxAttention(ctx: UnfuseContext, n: NodeProto, e: Emitter): void {
  if (ctx.outputUsed(n, 3)) throw ctx.fail(n, 'output qk_matmul_output is used');
  if (ctx.input(n, 6)) throw ctx.fail(n, 'input nonpad_kv_seqlen is not supported');
  const Q = ctx.input(n, 0)!;
  const K = ctx.input(n, 1)!;
  const V = ctx.input(n, 2)!;
  const rank = rankOf(ctx, Q) ?? (ctx.intAttr(n, 'q_num_heads', 0) > 0 ? 3 : 4);
  let qh: string;
  let kh: string;
  let vh: string;
  let H: number;
  let Hkv: number;
  let dh: number;
  if (rank === 3) {
    H = ctx.intAttr(n, 'q_num_heads', 0);
    Hkv = ctx.intAttr(n, 'kv_num_heads', 0);
    if (H <= 0 || Hkv <= 0) throw ctx.fail(n, 'attributes q_num_heads and kv_num_heads are required for 3-D inputs');
    const width = widthOf(ctx, Q);
    dh = width > 0 ? width / H : (ctx.dims(ctx.input(n, 4))?.[3] ?? -1);
    if (!Number.isInteger(dh) || dh <= 0) throw ctx.fail(n, 'the head size cannot be read from the declared shapes of Q or past_key');
    const heads = (t: string, h: number) => e.transpose(e.reshape(t, [0, 0, h, dh]), [0, 2, 1, 3]);
    qh = heads(Q, H);
    kh = heads(K, Hkv);
    vh = heads(V, Hkv);
  } else {
    const qd = ctx.dims(Q);
    const kd = ctx.dims(K) ?? ctx.dims(ctx.input(n, 4));
    H = qd?.[1] ?? -1;
    Hkv = kd?.[1] ?? -1;
    dh = qd?.[3] ?? -1;
    if (H <= 0 || Hkv <= 0 || dh <= 0) throw ctx.fail(n, 'the head counts and head size of 4-D inputs Q and K are not declared');
    qh = Q;
    kh = K;
    vh = V;
  }
  if (H % Hkv !== 0) throw ctx.fail(n, `${H} query heads are not a multiple of ${Hkv} key/value heads`);
  const pk = ctx.input(n, 4);
  const pv = ctx.input(n, 5);
  if (pk && pv) {
    kh = e.op('Concat', [pk, kh], { axis: 2 });
    vh = e.op('Concat', [pv, vh], { axis: 2 });
  }
  if (ctx.outputUsed(n, 1)) e.op('Identity', [kh], {}, n.output![1]);
  if (ctx.outputUsed(n, 2)) e.op('Identity', [vh], {}, n.output![2]);
  const additive: string[] = [];
  const allow: string[] = [];
  const mask = ctx.input(n, 3);
  if (mask) {
    const declared = [...(ctx.graph.input ?? []), ...(ctx.graph.valueInfo ?? [])].find((i) => i.name === mask)?.type?.tensorType?.elemType;
    const isBool = declared === TensorType.BOOL || ctx.ix.initializers.get(mask)?.dataType === TensorType.BOOL || producedBool(ctx, mask);
    (isBool ? allow : additive).push(mask);
  }
  const scale = ctx.floatAttr(n, 'scale', 0);
  emitCore(e, {
    q: qh,
    k: kh,
    v: vh,
    nHead: H,
    nKvHead: Hkv,
    dHead: dh,
    scale: scale ? scale : null,
    causal: ctx.intAttr(n, 'is_causal', 0) === 1,
    additive,
    allow,
    softcap: ctx.floatAttr(n, 'softcap', 0),
    output: n.output![0],
    layout: rank === 3 ? 'bsd' : 'bnsh',
  });
}

const BOOL_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);

function producedBool(ctx: UnfuseContext, t: string): boolean {
  const p = ctx.ix.producer.get(t);
  if (!p) return false;
  if (BOOL_OPS.has(p.opType ?? '')) return true;
  if (p.opType === 'Cast') return ctx.intAttr(p, 'to', 0) === TensorType.BOOL;
  if (['Expand', 'Reshape', 'Unsqueeze', 'Slice', 'Identity'].includes(p.opType ?? '') && p.input?.[0]) return producedBool(ctx, p.input[0]);
  return false;
}
