// Knockouts in graphs that quantise activations per tensor at run time: a blocked edge also blocks the scale path.
//
// onnxruntime's quantize_dynamic computes one scale and zero point per activation tensor (DynamicQuantizeLinear),
// so every row's quantised value depends on every other row's extremes: the prompt's columns reach X's columns
// through the scale even when X's attention to them is blocked. Blocking X -> S at layer l here means X reads
// nothing of S at that layer, the shared scale included: the rows outside S are quantised with a scale computed over
// those rows only (as if S's rows were not in the tensor), the rows of S keep the whole tensor's. With every prompt
// column blocked at every layer, X's columns then compute exactly what [BOS] + X alone computes, so the knockout
// identity holds as it does in float graphs. Unblocked layers (and runs without biases) keep the graph's own
// quantisation bit for bit.
import { GraphIndex, TensorType, onnx, type ModelProto, type NodeProto } from './onnx-graph.js';
import { LOGIT_ROWS_INPUT, int64Init, node, symbolicInput, type ModelStructure } from './surgery.js';
import { UnfuseContext } from './unfuse/context.js';

/** Per layer, one float input [B, T]: 1 for the rows quantised with the group's own scale, 0 elsewhere. */
export const scaleGroupInput = (layer: number) => `precache_lens/scale_group.${layer}`;

const MS = 'com.microsoft';
const LOGIT_ROWS_GATHER = 'precache_lens/logits_rows/gather';

function scalarF(name: string, v: number) {
  return onnx.TensorProto.create({ name, dataType: TensorType.FLOAT, dims: [], rawData: new Uint8Array(new Float32Array([v]).buffer) });
}

/** The layer a tensor belongs to: the last layer whose residual stream it depends on (the LM head: the last layer). */
function layerOf(ix: GraphIndex, s: ModelStructure, t: string): number | null {
  for (let l = s.layers.length - 1; l >= 0; l--) {
    const pre = s.layers[l].residPre;
    if (pre && ix.dependsOn(t, pre)) return l;
  }
  return null;
}

/**
 * Rewrites every DynamicQuantizeLinear whose outputs feed MatMulInteger -> Cast -> Mul chains (quantize_dynamic's
 * pattern) and every com.microsoft DynamicQuantizeMatMul: each output gets a twin computed with the group's scale,
 * and a Where picks the twin on the group's rows. Returns the layers that got an input, and the nodes left as they
 * were (their rank or consumers are not the known pattern) in words.
 */
export function addScaleGroups(model: ModelProto, s: ModelStructure): { layers: number[]; skipped: string[] } {
  const g = model.graph!;
  const ix = new GraphIndex(g);
  const ctx = new UnfuseContext(g, s.file, 17);
  const layers = new Set<number>();
  const skipped: string[] = [];
  const added: NodeProto[] = [];
  const quantParams = new Map<string, { q: string; scale: string; zp: string; mask3: string }>();
  const INF = 'precache_lens/scale_group/inf';
  const NEG_INF = 'precache_lens/scale_group/neg_inf';
  g.initializer!.push(scalarF(INF, Infinity), scalarF(NEG_INF, -Infinity), scalarF('precache_lens/scale_group/zero', 0), scalarF('precache_lens/scale_group/one', 1), scalarF('precache_lens/scale_group/qrange', 255));
  g.initializer!.push(int64Init('precache_lens/scale_group/last_axis', [-1]), int64Init('precache_lens/scale_group/zero_axis', [0]), int64Init('precache_lens/scale_group/one_dim', [1]));

  /** The group's scale, zero point and quantised tensor for activation x at layer l (uint8, as DynamicQuantizeLinear). */
  const groupQuant = (x: string, l: number) => {
    const key = `${x}@${l}`;
    const hit = quantParams.get(key);
    if (hit) return hit;
    const p = `precache_lens/scale_group/${quantParams.size}`;
    const mask = scaleGroupInput(l);
    const mask3 = `${p}/mask3`;
    const keep = `${p}/keep`;
    added.push(node('Cast', [mask], [`${p}/keep_all`], `${p}/cast_mask`, { to: TensorType.BOOL }));
    // Behind the logits-rows Gather (the LM head of a graph variant that picks rows) the mask is picked alike.
    const picked = ix.producer.get(x)?.name === LOGIT_ROWS_GATHER;
    added.push(picked ? node('Gather', [`${p}/keep_all`, LOGIT_ROWS_INPUT], [keep], `${p}/pick_rows`, { axis: 1 }) : node('Identity', [`${p}/keep_all`], [keep], `${p}/keep`));
    // [B, T] -> x's shape with 1 features ([B, T, 1], or [B*T, 1] for a flattened activation).
    added.push(node('Shape', [x], [`${p}/x_shape`], `${p}/x_shape`));
    added.push(node('Slice', [`${p}/x_shape`, 'precache_lens/scale_group/zero_axis', 'precache_lens/scale_group/last_axis'], [`${p}/rows_shape`], `${p}/rows_shape`));
    added.push(node('Concat', [`${p}/rows_shape`, 'precache_lens/scale_group/one_dim'], [`${p}/mask_shape`], `${p}/mask_shape`, { axis: 0 }));
    added.push(node('Reshape', [keep, `${p}/mask_shape`], [mask3], `${p}/reshape_mask`));
    // min(0, min over the group's rows), max(0, max ...); scale = (max - min) / 255 (1 when max = min);
    // zero point = round_half_even(clip(0 - min / scale, 0, 255)): onnxruntime's GetQuantizationParameter.
    added.push(node('Where', [mask3, x, NEG_INF], [`${p}/for_max`], `${p}/where_max`));
    added.push(node('Where', [mask3, x, INF], [`${p}/for_min`], `${p}/where_min`));
    added.push(node('ReduceMax', [`${p}/for_max`], [`${p}/max_all`], `${p}/reduce_max`, { keepdims: 0 }));
    added.push(node('ReduceMin', [`${p}/for_min`], [`${p}/min_all`], `${p}/reduce_min`, { keepdims: 0 }));
    added.push(node('Max', [`${p}/max_all`, 'precache_lens/scale_group/zero'], [`${p}/max`], `${p}/max0`));
    added.push(node('Min', [`${p}/min_all`, 'precache_lens/scale_group/zero'], [`${p}/min`], `${p}/min0`));
    added.push(node('Sub', [`${p}/max`, `${p}/min`], [`${p}/range`], `${p}/range`));
    added.push(node('Div', [`${p}/range`, 'precache_lens/scale_group/qrange'], [`${p}/scale_raw`], `${p}/scale_div`));
    added.push(node('Equal', [`${p}/max`, `${p}/min`], [`${p}/flat`], `${p}/flat`));
    added.push(node('Where', [`${p}/flat`, 'precache_lens/scale_group/one', `${p}/scale_raw`], [`${p}/scale`], `${p}/scale`));
    added.push(node('Div', [`${p}/min`, `${p}/scale`], [`${p}/min_over_scale`], `${p}/zp_div`));
    added.push(node('Sub', ['precache_lens/scale_group/zero', `${p}/min_over_scale`], [`${p}/zp_raw`], `${p}/zp_sub`));
    added.push(node('Clip', [`${p}/zp_raw`, 'precache_lens/scale_group/zero', 'precache_lens/scale_group/qrange'], [`${p}/zp_clip`], `${p}/zp_clip`));
    added.push(node('Round', [`${p}/zp_clip`], [`${p}/zp_round`], `${p}/zp_round`));
    added.push(node('Cast', [`${p}/zp_round`], [`${p}/zp`], `${p}/zp_cast`, { to: TensorType.UINT8 }));
    added.push(node('QuantizeLinear', [x, `${p}/scale`, `${p}/zp`], [`${p}/q`], `${p}/quantize`));
    const r = { q: `${p}/q`, scale: `${p}/scale`, zp: `${p}/zp`, mask3 };
    quantParams.set(key, r);
    return r;
  };
  /** The producer of `y` now writes `<tag>/original`; y itself becomes the Where between the twin and the original. */
  const select = (mask3: string, grouped: string, y: string, producer: NodeProto, tag: string) => {
    const original = `${tag}/original`;
    producer.output = (producer.output ?? []).map((o) => (o === y ? original : o));
    added.push(node('Where', [mask3, grouped, original], [y], `${tag}/select`));
  };

  for (const n of g.node ?? []) {
    const op = n.opType ?? '';
    const x = n.input?.[0];
    if (!x || (op !== 'DynamicQuantizeLinear' && !(op === 'DynamicQuantizeMatMul' && n.domain === MS))) continue;
    const what = `${op} "${n.name ?? ''}"`;
    const rank = ctx.shapeHint(x)?.rank;
    if (rank !== undefined && rank !== 2 && rank !== 3) {
      skipped.push(`${what}: its input has rank ${rank}, not [batch, sequence, features]`);
      continue;
    }
    const l = layerOf(ix, s, x);
    if (l === null) {
      skipped.push(`${what}: not inside a layer`);
      continue;
    }
    if (op === 'DynamicQuantizeMatMul') {
      // (A, B, b_scale, b_zero_point?, bias?) -> Y
      const gq = groupQuant(x, l);
      const ins = n.input ?? [];
      const tag = `precache_lens/scale_group/${n.name || n.output![0]}`;
      added.push(onnx.NodeProto.create({ opType: 'MatMulIntegerToFloat', domain: MS, name: `${tag}/matmul`, input: [gq.q, ins[1], gq.scale, ins[2], gq.zp, ins[3] ?? '', ins[4] ?? ''], output: [`${tag}/y`] }));
      select(gq.mask3, `${tag}/y`, n.output![0], n, tag);
      layers.add(l);
      continue;
    }
    // DynamicQuantizeLinear -> (MatMulInteger -> Cast -> Mul(., Mul(x_scale, w_scale))) for every consumer.
    const [xq, xs, xzp] = n.output ?? [];
    const chains: { mmi: NodeProto; y: string; yNode: NodeProto; wScale: string }[] = [];
    let ok = true;
    for (const c of new Set([...ix.consumersOf(xq), ...ix.consumersOf(xs), ...ix.consumersOf(xzp)])) {
      if (c.opType === 'MatMulInteger' && c.input?.[0] === xq && c.input?.[2] === xzp) {
        const cast = ix.consumersOf(c.output![0]);
        const mul = cast.length === 1 && cast[0].opType === 'Cast' ? ix.consumersOf(cast[0].output![0]) : [];
        const scales = mul.length === 1 && mul[0].opType === 'Mul' ? mul[0].input!.find((i) => i !== cast[0].output![0]) : undefined;
        const sNode = scales ? ix.producer.get(scales) : undefined;
        const wScale = sNode?.opType === 'Mul' && sNode.input?.includes(xs) ? sNode.input.find((i) => i !== xs) : undefined;
        if (!wScale) {
          ok = false;
          break;
        }
        chains.push({ mmi: c, y: mul[0].output![0], yNode: mul[0], wScale });
      } else if (!(c.opType === 'Mul' && c.input?.includes(xs) && ix.consumersOf(c.output![0]).every((m) => m.opType === 'Mul'))) {
        ok = false;
        break;
      }
    }
    if (!ok || !chains.length) {
      skipped.push(`${what}: its outputs feed something other than MatMulInteger -> Cast -> Mul`);
      continue;
    }
    const gq = groupQuant(x, l);
    for (const { mmi, y, yNode, wScale } of chains) {
      const tag = `precache_lens/scale_group/${mmi.name || y}`;
      added.push(node('MatMulInteger', [gq.q, mmi.input![1], gq.zp, mmi.input![3] ?? ''], [`${tag}/int`], `${tag}/matmul`));
      added.push(node('Cast', [`${tag}/int`], [`${tag}/float`], `${tag}/cast`, { to: TensorType.FLOAT }));
      added.push(node('Mul', [gq.scale, wScale], [`${tag}/scales`], `${tag}/scales`));
      added.push(node('Mul', [`${tag}/float`, `${tag}/scales`], [`${tag}/y`], `${tag}/y`));
      select(gq.mask3, `${tag}/y`, y, yNode, tag);
    }
    layers.add(l);
  }
  if (!layers.size) return { layers: [], skipped };
  // Topological order: each added node right after the last node making one of its inputs (so every selection
  // comes before the consumers of the output it now makes).
  const order = [...(g.node ?? [])];
  const made = new Map<string, NodeProto>();
  for (const n of order) for (const o of n.output ?? []) made.set(o, n);
  for (const a of added) {
    let at = -1;
    for (const d of a.input ?? []) {
      const m = d ? made.get(d) : undefined;
      if (m) at = Math.max(at, order.indexOf(m));
    }
    order.splice(at + 1, 0, a);
    for (const o of a.output ?? []) made.set(o, a);
  }
  g.node = order;
  for (const l of [...layers].sort((a, b) => a - b)) g.input!.push(symbolicInput(scaleGroupInput(l), TensorType.FLOAT, [`scale_group_batch_${l}`, `scale_group_rows_${l}`]));
  if (!(model.opsetImport ?? []).some((o) => o.domain === MS) && added.some((a) => a.domain === MS)) model.opsetImport!.push(onnx.OperatorSetIdProto.create({ domain: MS, version: 1 }));
  return { layers: [...layers].sort((a, b) => a - b), skipped };
}

/**
 * The scale-group input of one layer from its attention bias (dims [B|1, 1, Q|1, K|1], -inf = blocked): in each
 * batch row that blocks any key column, 1 for the columns no query blocks and 0 for the blocked ones; all 0 in a row
 * (or a call) that blocks nothing, so the graph's own quantisation is used. The last T columns are the new rows.
 */
export function scaleGroupFeed(bias: { data: Float32Array; dims: readonly number[] } | undefined, B: number, K: number, T: number): { data: Float32Array; dims: number[] } {
  if (!bias) return { data: new Float32Array(B * T), dims: [B, T] };
  const [dB, , dQ, dK] = bias.dims;
  const out = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const bi = dB === 1 ? 0 : b;
    const blocked = new Uint8Array(K);
    for (let q = 0; q < dQ; q++) {
      const row = (bi * dQ + q) * dK;
      for (let j = 0; j < K; j++) if (bias.data[row + (dK === 1 ? 0 : j)] === -Infinity) blocked[j] = 1;
    }
    if (!blocked.some((v) => v === 1)) continue;
    for (let j = 0; j < T; j++) out[b * T + j] = blocked[K - T + j] ? 0 : 1;
  }
  return { data: out, dims: [B, T] };
}
