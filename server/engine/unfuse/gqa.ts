// com.microsoft GroupQueryAttention (onnxruntime-genai's Llama-family attention): kv heads, seqlens_k, rotary, window.
import { TensorType, onnx, type NodeProto } from '../onnx-graph.js';
import { emitCore, emitRotary } from './core.js';
import type { UnfuseContext } from './context.js';
import type { Emitter } from './emit.js';
import { widthOf } from './ms-attention.js';

export function unfuseGqa(ctx: UnfuseContext, n: NodeProto, e: Emitter): void {
  const H = ctx.intAttr(n, 'num_heads', 0);
  const Hkv = ctx.intAttr(n, 'kv_num_heads', 0);
  if (H <= 0 || Hkv <= 0) throw ctx.fail(n, 'attributes num_heads and kv_num_heads are required');
  if (H % Hkv !== 0) throw ctx.fail(n, `attribute num_heads ${H} is not a multiple of kv_num_heads ${Hkv}`);
  if (ctx.intAttr(n, 'smooth_softmax', 0)) throw ctx.fail(n, 'attribute smooth_softmax=1 is not supported');
  if (ctx.input(n, 10)) throw ctx.fail(n, 'input attention_bias is not supported');
  if (ctx.input(n, 11)) throw ctx.fail(n, 'input head_sink is not supported');
  if (ctx.outputUsed(n, 3)) throw ctx.fail(n, 'output output_qk is used');
  const query = ctx.input(n, 0)!;
  let key = ctx.input(n, 1);
  let value = ctx.input(n, 2);
  const seqlens = ctx.input(n, 5);
  if (!seqlens) throw ctx.fail(n, 'input seqlens_k is missing');
  const cosD = ctx.constDims(ctx.input(n, 7));
  let dh = -1;
  let q = query;
  if (!key) {
    // Packed [B, S, (H + 2 Hkv) dh].
    const width = widthOf(ctx, query);
    dh = width > 0 ? width / (H + 2 * Hkv) : -1;
    if (!Number.isInteger(dh) || dh <= 0) throw ctx.fail(n, 'input query is packed QKV but its width is not declared');
    [q, key, value] = e.split(query, [H * dh, Hkv * dh, Hkv * dh], 2);
  } else {
    const width = widthOf(ctx, query);
    dh = width > 0 ? width / H : -1;
    if (!Number.isInteger(dh) || dh <= 0) {
      const pd = ctx.dims(ctx.input(n, 3));
      dh = pd?.[3] ?? -1;
    }
    if (!Number.isInteger(dh) || dh <= 0) throw ctx.fail(n, 'the head size cannot be read from the declared shapes of query or past_key');
  }
  if (!value) throw ctx.fail(n, 'input value is missing');
  // Per row: total length = seqlens_k + 1; new tokens sit at total - S .. total - 1.
  const total = e.op('Add', [e.cast(seqlens, TensorType.INT64), e.i64([1], true)]); // [B]
  let qs = e.reshape(q, [0, 0, H, dh]);
  let ks = e.reshape(key, [0, 0, Hkv, dh]);
  const vs = e.reshape(value, [0, 0, Hkv, dh]);
  if (ctx.intAttr(n, 'do_rotary', 0)) {
    const cos = ctx.input(n, 7);
    const sin = ctx.input(n, 8);
    if (!cos || !sin) throw ctx.fail(n, 'attribute do_rotary=1 without inputs cos_cache and sin_cache');
    const half = cosD?.[1] ?? -1;
    if (half <= 0) throw ctx.fail(n, 'input cos_cache is not a constant [max_positions, rotary_dim/2] tensor');
    let positions = ctx.input(n, 9) ?? positionIdsInput(ctx);
    if (!positions) {
      const S = e.dim(q, 1);
      const i = e.op('Range', [e.i64([0], true), S, e.i64([1], true)]); // [S]
      const start = e.op('Sub', [total, S]); // [B]
      positions = e.op('Add', [e.unsqueeze(start, [1]), e.unsqueeze(i, [0])]); // [B,S]
    }
    const interleaved = ctx.intAttr(n, 'rotary_interleaved', 0) === 1;
    qs = emitRotary(e, { x: qs, positions, cosCache: cos, sinCache: sin, rotaryDim: 2 * half, dHead: dh, interleaved });
    ks = emitRotary(e, { x: ks, positions, cosCache: cos, sinCache: sin, rotaryDim: 2 * half, dHead: dh, interleaved });
  }
  const qh = e.transpose(qs, [0, 2, 1, 3]);
  let kh = e.transpose(ks, [0, 2, 1, 3]);
  let vh = e.transpose(vs, [0, 2, 1, 3]);
  const pk = ctx.input(n, 3);
  const pv = ctx.input(n, 4);
  if (pk && pv) {
    kh = e.op('Concat', [pk, kh], { axis: 2 });
    vh = e.op('Concat', [pv, vh], { axis: 2 });
  }
  if (ctx.outputUsed(n, 1)) e.op('Identity', [kh], {}, n.output![1]);
  if (ctx.outputUsed(n, 2)) e.op('Identity', [vh], {}, n.output![2]);
  const scale = ctx.floatAttr(n, 'scale', 0);
  const window = ctx.intAttr(n, 'local_window_size', -1);
  emitCore(e, {
    q: qh,
    k: kh,
    v: vh,
    nHead: H,
    nKvHead: Hkv,
    dHead: dh,
    scale: scale ? scale : null,
    causal: true,
    totalPerRow: total,
    window: window > 0 ? window : null,
    softcap: ctx.floatAttr(n, 'softcap', 0),
    output: n.output![0],
    layout: 'bsd',
  });
}

/**
 * The graph's `position_ids` input, added when the export has none (onnxruntime-genai graphs derive rotary positions
 * from the mask): un-fused, rotary reads explicit positions, so that a run at shifted positions (the no-prompt
 * baseline) means what it says instead of silently using 0..T-1. Null when positions cannot be given this way.
 */
function positionIdsInput(ctx: UnfuseContext): string | null {
  const g = ctx.graph;
  const name = 'position_ids';
  if ((g.input ?? []).some((i) => i.name === name)) return name;
  if (ctx.ix.producer.has(name) || !(g.input ?? []).some((i) => i.name === 'input_ids')) return null;
  g.input = [
    ...(g.input ?? []),
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({
        tensorType: onnx.TypeProto.Tensor.create({
          elemType: TensorType.INT64,
          shape: onnx.TensorShapeProto.create({ dim: ['batch_size', 'sequence_length'].map((d) => onnx.TensorShapeProto.Dimension.create({ dimParam: d })) }),
        }),
      }),
    }),
  ];
  return name;
}
