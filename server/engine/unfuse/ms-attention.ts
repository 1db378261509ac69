// com.microsoft Attention (onnxruntime's fused GPT-2/BERT attention): packed QKV projection, mask_index, past.
import type { NodeProto } from '../onnx-graph.js';
import { emitCore, keyMaskAdditive, keyRangeAllow, toHeads } from './core.js';
import type { UnfuseContext } from './context.js';
import type { Emitter } from './emit.js';

/** Rank of a tensor (declared, or propagated from the ops that produce it). */
export function rankOf(ctx: UnfuseContext, t: string): number | null {
  return ctx.shapeHint(t)?.rank ?? null;
}

/** Last dimension of a tensor, or -1. */
export function widthOf(ctx: UnfuseContext, t: string): number {
  return ctx.shapeHint(t)?.last ?? -1;
}

export function unfuseMsAttention(ctx: UnfuseContext, n: NodeProto, e: Emitter): void {
  const H = ctx.intAttr(n, 'num_heads', 0);
  if (H <= 0) throw ctx.fail(n, 'attribute num_heads is missing');
  if (ctx.intAttr(n, 'do_rotary', 0)) throw ctx.fail(n, 'attribute do_rotary=1 (rotary inside Attention) is not supported');
  if (ctx.intAttr(n, 'past_present_share_buffer', 0)) throw ctx.fail(n, 'attribute past_present_share_buffer=1 (a preallocated KV buffer) is not supported');
  if (ctx.input(n, 6)) throw ctx.fail(n, 'input past_sequence_length (shared KV buffer) is not supported');
  const x = ctx.input(n, 0)!;
  const w = ctx.input(n, 1)!;
  let sizes = ctx.intsAttr(n, 'qkv_hidden_sizes');
  if (!sizes) {
    const wd = ctx.constDims(w);
    if (!wd || wd.length !== 2 || wd[1] % 3 !== 0) throw ctx.fail(n, 'input weights is not a constant [in, 3*hidden] matrix and qkv_hidden_sizes is not set');
    sizes = [wd[1] / 3, wd[1] / 3, wd[1] / 3];
  }
  if (sizes[0] !== sizes[1]) throw ctx.fail(n, `attribute qkv_hidden_sizes ${JSON.stringify(sizes)}: Q and K sizes differ`);
  const dh = sizes[0] / H;
  const dv = sizes[2] / H;
  if (!Number.isInteger(dh) || !Number.isInteger(dv)) throw ctx.fail(n, `attribute qkv_hidden_sizes ${JSON.stringify(sizes)} is not divisible by num_heads ${H}`);
  if (dh !== dv) throw ctx.fail(n, 'attribute qkv_hidden_sizes gives V a head size different from Q/K');
  const scaleAttr = ctx.floatAttr(n, 'scale', 0);
  const maskFilter = ctx.floatAttr(n, 'mask_filter_value', -10000) ?? -10000;

  let qkv = e.op('MatMul', [x, w]);
  const bias = ctx.input(n, 2);
  if (bias) qkv = e.op('Add', [qkv, bias]);
  const [q, k, v] = e.split(qkv, sizes, 2);
  const qh = toHeads(e, q, H, dh);
  let kh = toHeads(e, k, H, dh);
  let vh = toHeads(e, v, H, dh);
  const past = ctx.input(n, 4);
  if (past) {
    // past is [2, B, H, P, dh]: keys then values.
    const pk = e.op('Gather', [past, e.i64([0], true)], { axis: 0 });
    const pv = e.op('Gather', [past, e.i64([1], true)], { axis: 0 });
    kh = e.op('Concat', [pk, kh], { axis: 2 });
    vh = e.op('Concat', [pv, vh], { axis: 2 });
  }
  if (ctx.outputUsed(n, 1)) {
    e.op('Concat', [e.unsqueeze(kh, [0]), e.unsqueeze(vh, [0])], { axis: 0 }, n.output![1]);
  }
  const additive: string[] = [];
  const allow: string[] = [];
  const mask = ctx.input(n, 3);
  if (mask) {
    const rank = rankOf(ctx, mask);
    if (rank === 2) additive.push(keyMaskAdditive(e, mask, maskFilter));
    else if (rank === 3) additive.push(e.unsqueeze(e.op('Mul', [e.op('Sub', [e.f(1), e.cast(mask, e.floatType)]), e.f(maskFilter)]), [1]));
    else if (rank === 1) {
      // [B] end positions, or [2B] end then start positions (right/left padding).
      const md = ctx.dims(mask) ?? [-1];
      const xd = ctx.dims(x);
      const B = xd?.[0] ?? -1;
      if (md[0] > 0 && B > 0 && md[0] === 2 * B) {
        const [end, start] = e.split(mask, [B, B], 0);
        allow.push(keyRangeAllow(e, end, start, e.dim(kh, 2)));
      } else allow.push(keyRangeAllow(e, mask, null, e.dim(kh, 2)));
    } else throw ctx.fail(n, `input mask_index of rank ${rank ?? 'unknown'} (only [B], [B, total], [B, S, total] masks are supported)`);
  }
  const ab = ctx.input(n, 5);
  if (ab) additive.push(ab);
  emitCore(e, {
    q: qh,
    k: kh,
    v: vh,
    nHead: H,
    nKvHead: H,
    dHead: dh,
    scale: scaleAttr ? scaleAttr : null,
    causal: ctx.intAttr(n, 'unidirectional', 0) === 1,
    additive,
    allow,
    output: n.output![0],
    layout: 'bsd',
  });
}
