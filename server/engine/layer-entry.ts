// Layer entry: a rewritten graph can start its new columns at layer k from a given residual stream, skipping the
// computation of layers 0..k-1 (each block runs inside an If that a skipped layer does not enter).
//
// Why: a knockout that blocks edges only at layers >= k computes exactly what the unblocked run computes below k,
// so the analysis feeds the with-prompt run's `resid_pre` of layer k and lets the graph compute layers k..L-1 only.
// One graph serves every k (an int64 input), so the runtime holds one copy of the weights for all of them.
import { parseHookName } from '../../shared/hooks.js';
import { GraphIndex, TensorType, onnx, type GraphProto, type ModelProto, type NodeProto } from './onnx-graph.js';
import { floatTypeOf } from './precision.js';
import { int64Init, node, symbolicInput, type ModelStructure } from './surgery.js';

export const ENTRY_LAYER_INPUT = 'entry_layer';
export const ENTRY_RESID_INPUT = 'resid_entry';

interface Block {
  layer: number;
  nodes: NodeProto[];
  /** Tensors the block produces that are read outside it: the next stream first, then graph outputs. */
  outputs: string[];
}

/** The residual stream entering layer l (l = 0..L-1), and leaving the last layer (l = L). */
function streams(s: ModelStructure): string[] | string {
  const L = s.layers.length;
  const out: string[] = [];
  for (const layer of s.layers) {
    if (!layer.residPre) return `layer ${layer.layer}: the residual stream entering the block was not found`;
    out.push(layer.residPre);
  }
  const last = s.layers[L - 1]?.residPost;
  if (!last) return `layer ${L - 1}: the residual stream leaving the block was not found`;
  out.push(last);
  return out;
}

/** Operators that read only the shape of their input. */
const SHAPE_READERS = new Set(['Shape', 'Size']);

/** Nodes reachable from `tensor` through any consumer chain. */
function reachable(ix: GraphIndex, tensor: string): Set<NodeProto> {
  const seen = new Set<NodeProto>();
  const stack = [tensor];
  while (stack.length) {
    const t = stack.pop()!;
    for (const n of ix.consumersOf(t)) {
      if (seen.has(n)) continue;
      seen.add(n);
      for (const o of n.output ?? []) if (o) stack.push(o);
    }
  }
  return seen;
}

/** The rank of a graph output a skipped block must still produce (hooks, present keys/values), or null if unknown. */
function outputRank(name: string): number | null {
  if (/^present[._]/.test(name)) return 4;
  const ref = parseHookName(name);
  if (!ref) return null;
  switch (ref.kind) {
    case 'attn.hook_pattern':
    case 'attn.hook_v':
      return 4;
    case 'attn.hook_value_norm':
    case 'hook_resid_pre':
    case 'hook_resid_mid':
    case 'hook_resid_post':
      return 3;
    default:
      return null;
  }
}

/**
 * Why layer entry cannot be added to this (already rewritten) graph, or null when it can: each block must be a
 * region that only the next stream and graph outputs leave.
 */
export function layerEntryProblem(model: ModelProto, s: ModelStructure): string | null {
  const r = planBlocks(model, s);
  return typeof r === 'string' ? r : null;
}

function planBlocks(model: ModelProto, s: ModelStructure): Block[] | string {
  const g = model.graph!;
  const st = streams(s);
  if (typeof st === 'string') return st;
  const L = s.layers.length;
  if (L < 2) return 'a one-layer model has no layer to skip';
  const ix = new GraphIndex(g);
  const graphOutputs = new Set((g.output ?? []).map((o) => o.name ?? ''));
  const blocks: Block[] = [];
  let after = reachable(ix, st[0]);
  for (let l = 0; l < L - 1; l++) {
    const next = reachable(ix, st[l + 1]);
    // Nodes that read the stream only through its shape (mask and shape arithmetic some exports share between
    // layers) stay outside the block: they are cheap, and their values are the same for a skipped block.
    const region = (g.node ?? []).filter((n) => after.has(n) && !next.has(n));
    const computed = new Set<string>();
    const nodes = region.filter((n) => {
      const ins = (n.input ?? []).filter(Boolean) as string[];
      const dependent = ins.some((i) => computed.has(i)) || (ins.includes(st[l]) && !SHAPE_READERS.has(n.opType ?? ''));
      if (dependent) for (const o of n.output ?? []) if (o) computed.add(o);
      return dependent;
    });
    after = next;
    const inside = new Set(nodes);
    const outputs = [st[l + 1]];
    for (const n of nodes) {
      for (const o of n.output ?? []) {
        if (!o || o === st[l + 1]) continue;
        const readOutside = ix.consumersOf(o).some((c) => !inside.has(c));
        if (graphOutputs.has(o)) {
          if (outputRank(o) === null) return `layer ${l}: the graph output "${o}" is computed inside the block`;
          outputs.push(o);
        } else if (readOutside) {
          return `layer ${l}: "${o}" is computed inside the block and read outside it`;
        }
      }
    }
    if (!nodes.some((n) => (n.output ?? []).includes(st[l + 1]))) return `layer ${l}: the block does not produce the next residual stream`;
    blocks.push({ layer: l, nodes, outputs });
  }
  return blocks;
}

function typedOutput(name: string, elemType: number) {
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType }) }) });
}

/**
 * Adds the inputs `entry_layer` (int64 scalar; 0 = start at the embeddings as usual) and `resid_entry` (the stream
 * entering layer `entry_layer` for the new columns, [B,T,d]; anything broadcastable when entry_layer = 0). Layers
 * below `entry_layer` are not computed; their hooks and present outputs are then empty tensors. Throws when
 * layerEntryProblem says the graph cannot take it.
 */
export function addLayerEntry(model: ModelProto, s: ModelStructure): void {
  const blocks = planBlocks(model, s);
  if (typeof blocks === 'string') throw new Error(`layer entry: ${blocks}`);
  const g = model.graph!;
  const st = streams(s) as string[];
  const p = 'precache_lens/entry';
  const outputTypes = new Map((g.output ?? []).map((o) => [o.name ?? '', o.type?.tensorType?.elemType ?? TensorType.FLOAT]));
  // The stream's own type (float16 in fp16 graphs, whose outputs are float32 at the boundary).
  const streamType = floatTypeOf(g, st[0]);
  // The engine feeds float32; a graph computing in another type gets the given stream cast once.
  const entryStream = streamType === TensorType.FLOAT ? ENTRY_RESID_INPUT : `${p}/resid_cast`;
  const moved = new Set<NodeProto>();
  const added: NodeProto[] = [];
  if (entryStream !== ENTRY_RESID_INPUT) added.push(node('Cast', [ENTRY_RESID_INPUT], [entryStream], `${p}/cast`, { to: streamType }));
  for (const b of blocks) {
    const l = b.layer;
    const q = `${p}/${l}`;
    for (const n of b.nodes) moved.add(n);
    // Inside the branch every block output gets a private name (names are unique across nested graphs).
    const inner = (t: string) => `${t}/in_block`;
    const rename = new Map(b.outputs.map((o) => [o, inner(o)]));
    const branchNodes = b.nodes.map((n) =>
      onnx.NodeProto.create({
        ...n,
        input: (n.input ?? []).map((i) => (i && rename.has(i) ? rename.get(i)! : i)),
        output: (n.output ?? []).map((o) => (o && rename.has(o) ? rename.get(o)! : o)),
      }),
    );
    const run: GraphProto = onnx.GraphProto.create({
      name: `${q}/run`,
      node: branchNodes,
      output: b.outputs.map((o, k) => typedOutput(inner(o), k === 0 ? streamType : (outputTypes.get(o) ?? TensorType.FLOAT))),
    });
    // A skipped block passes its input stream on (it is replaced at the entry layer) and empty hooks/presents.
    const skipNodes: NodeProto[] = [node('Identity', [st[l]], [`${q}/skip/stream`], `${q}/skip/stream`)];
    b.outputs.slice(1).forEach((o, k) => {
      const rank = outputRank(o)!;
      const shape = `${q}/skip/shape${k}`;
      skipNodes.push(onnx.NodeProto.create({ opType: 'Constant', output: [shape], name: shape, attribute: [int64TensorAttr('value', new Array(rank).fill(0))] }));
      skipNodes.push(
        onnx.NodeProto.create({
          opType: 'ConstantOfShape',
          input: [shape],
          output: [`${q}/skip/out${k}`],
          name: `${q}/skip/out${k}`,
          attribute: [zeroValueAttr(outputTypes.get(o) ?? TensorType.FLOAT)],
        }),
      );
    });
    const skip: GraphProto = onnx.GraphProto.create({
      name: `${q}/skip`,
      node: skipNodes,
      output: [typedOutput(`${q}/skip/stream`, streamType), ...b.outputs.slice(1).map((o, k) => typedOutput(`${q}/skip/out${k}`, outputTypes.get(o) ?? TensorType.FLOAT))],
    });
    g.initializer!.push(int64Scalar(`${q}/index`, l));
    added.push(node('Less', [`${q}/index`, ENTRY_LAYER_INPUT], [`${q}/skipped`], `${q}/less`));
    const raw = `${st[l + 1]}/entry_raw`;
    added.push(
      onnx.NodeProto.create({
        opType: 'If',
        input: [`${q}/skipped`],
        output: [raw, ...b.outputs.slice(1)],
        name: `${q}/if`,
        attribute: [
          onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: skip }),
          onnx.AttributeProto.create({ name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: run }),
        ],
      }),
    );
    // The stream entering layer l+1: the given one when the run enters there, else what the block computed.
    g.initializer!.push(int64Scalar(`${q}/next`, l + 1));
    added.push(node('Equal', [ENTRY_LAYER_INPUT, `${q}/next`], [`${q}/enter_next`], `${q}/equal`));
    added.push(node('Where', [`${q}/enter_next`, entryStream, raw], [st[l + 1]], `${q}/where`));
  }
  const producedInside = new Set([...moved].flatMap((n) => n.output ?? []));
  g.node = [...(g.node ?? []).filter((n) => !moved.has(n)), ...added];
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !producedInside.has(v.name ?? '') || st.includes(v.name ?? ''));
  g.input!.push(symbolicInput(ENTRY_LAYER_INPUT, TensorType.INT64, []));
  g.input!.push(symbolicInput(ENTRY_RESID_INPUT, TensorType.FLOAT, ['entry_batch', 'entry_tokens', 'entry_width']));
  sortTopologically(g);
}

function int64Scalar(name: string, v: number) {
  const t = int64Init(name, [v]);
  t.dims = [];
  return t;
}

function int64TensorAttr(name: string, values: number[]) {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  const t = onnx.TensorProto.create({ dataType: TensorType.INT64, dims: [values.length], rawData: new Uint8Array(data.buffer) });
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.TENSOR, t });
}

function zeroValueAttr(elemType: number) {
  const bytes = elemType === TensorType.FLOAT16 ? 2 : elemType === TensorType.DOUBLE ? 8 : 4;
  const t = onnx.TensorProto.create({ dataType: elemType, dims: [1], rawData: new Uint8Array(bytes) });
  return onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t });
}

/** Tensors a node reads, including those its subgraphs read from the enclosing scope. */
function readsOf(n: NodeProto): string[] {
  const out = (n.input ?? []).filter(Boolean) as string[];
  for (const a of n.attribute ?? []) {
    for (const sub of [a.g, ...(a.graphs ?? [])]) {
      if (!sub) continue;
      const local = new Set((sub.node ?? []).flatMap((m) => m.output ?? []));
      for (const m of sub.node ?? []) for (const i of readsOf(m)) if (!local.has(i)) out.push(i);
    }
  }
  return out;
}

/** Reorders the graph's nodes so that each comes after the producers of what it reads (stable Kahn's algorithm). */
function sortTopologically(g: GraphProto): void {
  const nodes = g.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
  const deps = nodes.map((n) => new Set(readsOf(n).map((t) => producer.get(t)).filter((i): i is number => i !== undefined)));
  const users: number[][] = nodes.map(() => []);
  deps.forEach((ds, i) => ds.forEach((d) => users[d].push(i)));
  const pending = deps.map((d) => d.size);
  const ready: number[] = [];
  pending.forEach((c, i) => c === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(i);
    for (const u of users[i]) if (--pending[u] === 0) ready.push(u);
  }
  if (order.length !== nodes.length) throw new Error('layer entry: the rewritten graph has a cycle');
  g.node = order.map((i) => nodes[i]);
}
