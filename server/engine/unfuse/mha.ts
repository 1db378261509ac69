// com.microsoft MultiHeadAttention: separate (or packed) Q/K/V, optional bias, key padding mask, attention_bias, past.
import type { NodeProto } from '../onnx-graph.js';
import { emitCore, keyMaskAdditive, keyRangeAllow, toHeads } from './core.js';
import type { UnfuseContext } from './context.js';
import type { Emitter } from './emit.js';
import { rankOf, widthOf } from './ms-attention.js';

export function unfuseMha(ctx: UnfuseContext, n: NodeProto, e: Emitter): void {
  const H = ctx.intAttr(n, 'num_heads', 0);
  if (H <= 0) throw ctx.fail(n, 'attribute num_heads is missing');
  if (ctx.input(n, 8)) throw ctx.fail(n, 'input past_sequence_length (shared KV buffer) is not supported');
  if (ctx.input(n, 9)) throw ctx.fail(n, 'input cache_indirection (beam search) is not supported');
  if (ctx.outputUsed(n, 3)) throw ctx.fail(n, 'output qk is used');
  const query = ctx.input(n, 0)!;
  const key = ctx.input(n, 1);
  const value = ctx.input(n, 2);
  const bias = ctx.input(n, 3);
  const maskFilter = ctx.floatAttr(n, 'mask_filter_value', -10000) ?? -10000;
  const scaleAttr = ctx.floatAttr(n, 'scale', 0);

  let qh: string;
  let kh: string;
  let vh: string;
  let dh: number;
  if (!key) {
    // Packed QKV [B, S, H, 3, dh].
    const qd = ctx.dims(query);
    dh = qd?.length === 5 && qd[4] > 0 ? qd[4] : -1;
    if (dh <= 0) throw ctx.fail(n, 'input query is packed QKV but its head size is not declared');
    if (bias) throw ctx.fail(n, 'input bias with packed QKV is not supported');
    const [q, k, v] = e.split(query, [1, 1, 1], 3);
    const heads = (t: string) => e.transpose(e.squeeze(t, [3]), [0, 2, 1, 3]);
    qh = heads(q);
    kh = heads(k);
    vh = heads(v);
  } else {
    const kRank = rankOf(ctx, key);
    const qw = widthOf(ctx, query);
    const D = qw > 0 ? qw : (ctx.constDims(bias)?.[0] ?? -3) / 3;
    dh = D / H;
    if (!Number.isInteger(dh) || dh <= 0) throw ctx.fail(n, 'the hidden size of input query is not declared (needed to split heads)');
    let q = query;
    let k = key;
    let v = value;
    if (bias) {
      const [bq, bk, bv] = e.split(bias, [D, D, D], 0);
      q = e.op('Add', [q, bq]);
      if (kRank === 3) k = e.op('Add', [k, bk]);
      if (kRank === 3 && v) v = e.op('Add', [v, bv]);
    }
    qh = toHeads(e, q, H, dh);
    if (kRank === 5) {
      // Packed KV [B, L, H, 2, dh].
      const [pk, pv] = e.split(key, [1, 1], 3);
      kh = e.transpose(e.squeeze(pk, [3]), [0, 2, 1, 3]);
      vh = e.transpose(e.squeeze(pv, [3]), [0, 2, 1, 3]);
    } else if (kRank === 4) {
      if (!v) throw ctx.fail(n, 'input value is missing');
      kh = key;
      vh = v;
    } else if (kRank === 3) {
      if (!v) throw ctx.fail(n, 'input value is missing');
      kh = toHeads(e, k, H, dh);
      vh = toHeads(e, v, H, dh);
    } else throw ctx.fail(n, `input key of rank ${kRank ?? 'unknown'}`);
  }
  const pk = ctx.input(n, 6);
  const pv = ctx.input(n, 7);
  if (pk && pv) {
    kh = e.op('Concat', [pk, kh], { axis: 2 });
    vh = e.op('Concat', [pv, vh], { axis: 2 });
  } else if (pk || pv) throw ctx.fail(n, 'only one of past_key / past_value is given');
  if (ctx.outputUsed(n, 1)) e.op('Identity', [kh], {}, n.output![1]);
  if (ctx.outputUsed(n, 2)) e.op('Identity', [vh], {}, n.output![2]);

  const additive: string[] = [];
  const allow: string[] = [];
  const mask = ctx.input(n, 4);
  if (mask) {
    const rank = rankOf(ctx, mask);
    if (rank === 2) additive.push(keyMaskAdditive(e, mask, maskFilter));
    else if (rank === 1) allow.push(keyRangeAllow(e, mask, null, e.dim(kh, 2)));
    else throw ctx.fail(n, `input key_padding_mask of rank ${rank ?? 'unknown'} (only [B] and [B, total] masks are supported)`);
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
