// The definition that fused attention ops hide, in standard ONNX: scaled QK^T, masks, softmax, probs @ V.
// Surgery then finds it like an eager export's attention (Softmax feeding the probs@V MatMul).
import { TensorType } from '../onnx-graph.js';
import { lowest, type Emitter } from './emit.js';

export interface CoreOptions {
  /** [B, Hq, S, dh]. */
  q: string;
  /** [B, Hkv, Tk, dh] (past included). */
  k: string;
  v: string;
  nHead: number;
  nKvHead: number;
  dHead: number;
  /** Multiplies QK^T; default 1/sqrt(dh). */
  scale: number | null;
  /** Query i (of S) sees keys j <= Tk - S + i: the causal mask aligned to the end, as with a KV cache. */
  causal: boolean;
  /**
   * Per batch row, the absolute position of the last query plus one (GroupQueryAttention's seqlens_k + 1), int64
   * [B]; replaces Tk in the causal rule so that right-padded rows mask their padding. Null: Tk for every row.
   */
  totalPerRow?: string | null;
  /** Sliding window: query at position p sees keys p - window + 1 .. p (as onnxruntime's CPU kernel reads local_window_size); null or <= 0: none. */
  window?: number | null;
  /** Added to the scaled scores, broadcastable to [B, Hq, S, Tk]. */
  additive?: string[];
  /** Boolean masks (true = attend), broadcastable to [B, Hq, S, Tk]. */
  allow?: string[];
  /** Scores become softcap * tanh(scores / softcap). */
  softcap?: number | null;
  /** Value of a masked score; default the float type's lowest. */
  maskValue?: number | null;
  /** Output name and layout: [B, S, Hq*dh] ('bsd') or [B, Hq, S, dh] ('bnsh'). */
  output: string;
  layout: 'bsd' | 'bnsh';
}

/** [B, Hkv, T, dh] -> [B, Hq, T, dh], each kv head repeated for its Hq/Hkv query heads (as HF's repeat_kv). */
export function repeatKv(e: Emitter, x: string, nHead: number, nKvHead: number, dHead: number): string {
  if (nHead === nKvHead) return x;
  const rep = nHead / nKvHead;
  const u = e.unsqueeze(x, [2]);
  const ex = e.op('Expand', [u, e.i64([1, 1, rep, 1, 1])]);
  return e.reshape(ex, [0, nHead, -1, dHead]);
}

/** Emits the attention core; returns the probabilities tensor (the future hook_pattern). */
export function emitCore(e: Emitter, o: CoreOptions): string {
  const k = repeatKv(e, o.k, o.nHead, o.nKvHead, o.dHead);
  const v = repeatKv(e, o.v, o.nHead, o.nKvHead, o.dHead);
  const scale = o.scale ?? 1 / Math.sqrt(o.dHead);
  const kT = e.transpose(k, [0, 1, 3, 2]);
  let s = e.op('Mul', [e.op('MatMul', [o.q, kT]), e.f(scale)]);
  if (o.softcap && o.softcap > 0) s = e.op('Mul', [e.op('Tanh', [e.op('Div', [s, e.f(o.softcap)])]), e.f(o.softcap)]);
  const maskValue = o.maskValue ?? lowest(e.floatType);
  const allows = [...(o.allow ?? [])];
  if (o.causal || (o.window && o.window > 0)) allows.push(causalAllow(e, o.q, k, o.totalPerRow ?? null, o.causal, o.window ?? null));
  for (const a of allows) s = e.op('Where', [a, s, e.f(maskValue)]);
  for (const a of o.additive ?? []) s = e.op('Add', [s, a]);
  const probs = e.op('Softmax', [s], { axis: -1 });
  if (o.layout === 'bnsh') {
    e.op('MatMul', [probs, v], {}, o.output);
  } else {
    const ctx = e.op('MatMul', [probs, v]);
    e.reshape(e.transpose(ctx, [0, 2, 1, 3]), [0, 0, -1], o.output);
  }
  return probs;
}

/**
 * Boolean [S, Tk] (or [B, 1, S, Tk] with per-row totals): key j is visible to query i when j <= end - S + i
 * (causal) and j > end - S + i - window (sliding window).
 */
function causalAllow(e: Emitter, q: string, k: string, totalPerRow: string | null, causal: boolean, window: number | null): string {
  const S = e.dim(q, 2);
  const Tk = e.dim(k, 2);
  const zero = e.i64([0], true);
  const one = e.i64([1], true);
  const kpos = e.op('Range', [zero, Tk, one]); // [Tk]
  const qi = e.op('Range', [zero, S, one]); // [S]
  let qpos: string;
  if (totalPerRow) {
    // [B,1,S,1] = total_b - S + i
    const start = e.op('Sub', [totalPerRow, S]); // [B]
    const start4 = e.unsqueeze(start, [1, 2, 3]);
    qpos = e.op('Add', [start4, e.unsqueeze(qi, [1])]); // [B,1,S,1]
  } else {
    const start = e.op('Sub', [Tk, S]);
    qpos = e.unsqueeze(e.op('Add', [qi, start]), [1]); // [S,1]
  }
  let allow: string | null = null;
  if (causal) allow = e.op('Not', [e.op('Greater', [kpos, qpos])]);
  if (window && window > 0) {
    const w = e.op('Greater', [kpos, e.op('Sub', [qpos, e.i64([window], true)])]);
    allow = allow ? e.op('And', [allow, w]) : w;
  }
  return allow!;
}

/** [B, S, H*dh] -> [B, H, S, dh]. */
export function toHeads(e: Emitter, x: string, nHeads: number, dHead: number): string {
  return e.transpose(e.reshape(x, [0, 0, nHeads, dHead]), [0, 2, 1, 3]);
}

/** Additive [B, 1, 1, Tk] from a 0/1 key mask [B, Tk] of any numeric type: 0 where 1, `maskValue` where 0. */
export function keyMaskAdditive(e: Emitter, mask: string, maskValue: number): string {
  const m = e.cast(mask, e.floatType);
  const inv = e.op('Sub', [e.f(1), m]);
  return e.unsqueeze(e.op('Mul', [inv, e.f(maskValue)]), [1, 2]);
}

/** Boolean [B, 1, 1, Tk]: key j is visible when start_b <= j < end_b (mask_index given as end positions). */
export function keyRangeAllow(e: Emitter, end: string, start: string | null, Tk: string): string {
  const kpos = e.op('Range', [e.i64([0], true), Tk, e.i64([1], true)]);
  const endB = e.unsqueeze(e.cast(end, TensorType.INT64), [1, 2, 3]);
  let allow = e.op('Less', [kpos, endB]);
  if (start) {
    const startB = e.unsqueeze(e.cast(start, TensorType.INT64), [1, 2, 3]);
    allow = e.op('And', [allow, e.op('Not', [e.op('Less', [kpos, startB])])]);
  }
  return allow;
}

export interface RotaryOptions {
  /** [B, S, H, dh]. */
  x: string;
  /** int64 [B, S] or broadcastable. */
  positions: string;
  cosCache: string;
  sinCache: string;
  /** Rotated leading part of each head (2 * cos_cache's width); the rest passes through. */
  rotaryDim: number;
  dHead: number;
  interleaved: boolean;
}

/** Rotary position embedding of x [B, S, H, dh]; returns the same layout. */
export function emitRotary(e: Emitter, o: RotaryOptions): string {
  const half = o.rotaryDim / 2;
  const cos = e.unsqueeze(e.op('Gather', [o.cosCache, o.positions], { axis: 0 }), [2]); // [B,S,1,half]
  const sin = e.unsqueeze(e.op('Gather', [o.sinCache, o.positions], { axis: 0 }), [2]);
  const rot = o.rotaryDim === o.dHead ? o.x : e.slice(o.x, 0, o.rotaryDim, 3);
  let out: string;
  if (!o.interleaved) {
    const [x1, x2] = e.split(rot, [half, half], 3);
    const o1 = e.op('Sub', [e.op('Mul', [x1, cos]), e.op('Mul', [x2, sin])]);
    const o2 = e.op('Add', [e.op('Mul', [x2, cos]), e.op('Mul', [x1, sin])]);
    out = e.op('Concat', [o1, o2], { axis: 3 });
  } else {
    // Pairs (x[2i], x[2i+1]) rotate together.
    const pairs = e.reshape(rot, [0, 0, 0, half, 2]);
    const [xe, xo] = e.split(pairs, [1, 1], 4);
    const c = e.unsqueeze(cos, [4]);
    const sn = e.unsqueeze(sin, [4]);
    const oe = e.op('Sub', [e.op('Mul', [xe, c]), e.op('Mul', [xo, sn])]);
    const oo = e.op('Add', [e.op('Mul', [xo, c]), e.op('Mul', [xe, sn])]);
    out = e.reshape(e.op('Concat', [oe, oo], { axis: 4 }), [0, 0, 0, o.rotaryDim]);
  }
  if (o.rotaryDim === o.dHead) return out;
  return e.op('Concat', [out, e.slice(o.x, o.rotaryDim, o.dHead, 3)], { axis: 3 });
}
