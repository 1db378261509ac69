// Brings an export into the form graph surgery reads: a merged decoder reduced to its no-cache branch, fused
// operators expanded into standard ONNX ops, and logits appended to a graph that outputs only hidden states.
import { GraphIndex, TensorType, onnx, type GraphProto, type ModelProto, type NodeProto } from './onnx-graph.js';
import { SCHEMA_IR_VERSION, unknownFields } from './onnx-schema-check.js';
import { UnfuseError, unfuseModel, type UnfusedNode } from './unfuse/index.js';
import { num } from './onnx-graph.js';

export interface PrepareOptions {
  /** config.json's tie_word_embeddings (null when it does not say): whether the embedding may serve as the unembedding. */
  tiedEmbeddings: boolean | null;
}

export interface PreparedGraph {
  /** Fused nodes replaced by their definitions. */
  unfused: UnfusedNode[];
  /** Other rewrites, in words (for logs and tests). */
  changes: string[];
  /** Why a fused node could not be expanded (names the node, the attribute and the file); the graph is then as exported. */
  problem: string | null;
}

export class PrepareError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphStructureError';
  }
}

/**
 * Edits `model` in place. Never throws for an operator it cannot expand (that is reported in `problem`); throws a
 * PrepareError when the graph cannot be used at all (no logits and no tied embedding to make them).
 */
export function prepareGraph(model: ModelProto, file: string, opts: PrepareOptions = { tiedEmbeddings: null }): PreparedGraph {
  const changes: string[] = [];
  const io = float32Interface(model);
  if (io) changes.push(io);
  const merged = inlineNoCacheBranch(model, file);
  if (merged) changes.push(merged);
  let unfused: UnfusedNode[] = [];
  let problem: string | null = null;
  try {
    unfused = unfuseModel(model, file);
  } catch (e) {
    if (!(e instanceof UnfuseError)) throw e;
    problem = e.message;
  }
  const logits = appendTiedUnembedding(model, file, opts);
  if (logits) changes.push(logits);
  return { unfused, changes, problem };
}

/**
 * Refuses a file of an IR version newer than the carried schema when it holds fields the schema does not know
 * (other than annotations): a rewritten graph would silently lose them.
 */
export function checkSchema(model: ModelProto, bytes: Uint8Array, file: string): void {
  const ir = num(model.irVersion ?? 0);
  if (ir <= SCHEMA_IR_VERSION) return;
  const lost = unknownFields(bytes);
  if (!lost.length) return;
  const what = [...new Set(lost.map((f) => f.what))].slice(0, 4).join(', ');
  throw new PrepareError(
    `${file}: IR version ${ir} is newer than the ONNX schema this build reads (IR ${SCHEMA_IR_VERSION}), and the file uses fields ` +
      `it does not know (${what}); rewriting it for hooks would drop them. Re-export with an IR version of ${SCHEMA_IR_VERSION} or older ` +
      '(e.g. onnx.version_converter / setting model.ir_version when no newer features are used)',
  );
}

// ------------------------------------------------------------------------------------------ fp16 graphs

const HALF = new Set<number>([TensorType.FLOAT16, TensorType.BFLOAT16]);

/**
 * fp16/bf16 graph inputs and outputs become float32 with a Cast at the boundary (as onnxruntime's keep_io_types
 * does), so the engine feeds and reads float32 whatever precision the graph computes in.
 */
function float32Interface(model: ModelProto): string | null {
  const g = model.graph;
  if (!g) return null;
  const changed: string[] = [];
  const cast = (from: string, to: string, type: number, name: string) =>
    onnx.NodeProto.create({ opType: 'Cast', name, input: [from], output: [to], attribute: [onnx.AttributeProto.create({ name: 'to', i: type, type: onnx.AttributeProto.AttributeType.INT })] });
  const front: NodeProto[] = [];
  for (const vi of g.input ?? []) {
    const tt = vi.type?.tensorType;
    if (!vi.name || !tt?.elemType || !HALF.has(tt.elemType)) continue;
    const inner = `precache_lens/io/${vi.name}/half`;
    for (const n of g.node ?? []) n.input = (n.input ?? []).map((i) => (i === vi.name ? inner : i));
    front.push(cast(vi.name, inner, tt.elemType, `precache_lens/io/${vi.name}/cast`));
    tt.elemType = TensorType.FLOAT;
    changed.push(vi.name);
  }
  const back: NodeProto[] = [];
  for (const vi of g.output ?? []) {
    const tt = vi.type?.tensorType;
    if (!vi.name || !tt?.elemType || !HALF.has(tt.elemType)) continue;
    const inner = `precache_lens/io/${vi.name}/half`;
    for (const n of g.node ?? []) {
      n.output = (n.output ?? []).map((o) => (o === vi.name ? inner : o));
      n.input = (n.input ?? []).map((i) => (i === vi.name ? inner : i));
    }
    back.push(cast(inner, vi.name, TensorType.FLOAT, `precache_lens/io/${vi.name}/cast`));
    tt.elemType = TensorType.FLOAT;
    changed.push(vi.name);
  }
  if (!changed.length) return null;
  g.node = [...front, ...(g.node ?? []), ...back];
  return `float32 interface for ${changed.length} fp16/bf16 inputs and outputs`;
}

// ------------------------------------------------------------------------------------------ merged decoders

function usesAny(g: GraphProto, names: ReadonlySet<string>): boolean {
  for (const n of g.node ?? []) {
    if ((n.input ?? []).some((i) => names.has(i))) return true;
    for (const a of n.attribute ?? []) for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) if (usesAny(sub, names)) return true;
  }
  return false;
}

/**
 * Optimum's decoder_model_merged.onnx wraps two decoders in `If(use_cache_branch)`: one reads past_key_values, one
 * does not. The graph keeps only the one that does not (inlined at top level), and drops the inputs it no longer
 * reads, so the engine runs it as a plain decoder (past_key_values are then not offered for reuse).
 */
function inlineNoCacheBranch(model: ModelProto, file: string): string | null {
  const g = model.graph;
  if (!g?.node) return null;
  const inputs = new Set((g.input ?? []).map((i) => i.name ?? ''));
  const at = g.node.findIndex((n) => n.opType === 'If' && !n.domain && inputs.has(n.input?.[0] ?? ''));
  if (at < 0) return null;
  const ifNode = g.node[at];
  const past = new Set([...inputs].filter((n) => n.startsWith('past_key_values.') || n.startsWith('past.')));
  if (!past.size) return null;
  const branches = (ifNode.attribute ?? []).filter((a) => (a.name === 'then_branch' || a.name === 'else_branch') && a.g).map((a) => ({ name: a.name!, g: a.g! }));
  const noCache = branches.filter((b) => !usesAny(b.g, past));
  if (branches.length !== 2 || noCache.length !== 1) {
    throw new PrepareError(`${file}: If node "${ifNode.name ?? ''}" does not look like a merged decoder (expected exactly one branch that reads no past_key_values)`);
  }
  const branch = noCache[0].g;
  const outs = branch.output ?? [];
  if (outs.length !== (ifNode.output ?? []).length) throw new PrepareError(`${file}: If node "${ifNode.name ?? ''}": its ${noCache[0].name} has ${outs.length} outputs for ${ifNode.output?.length} node outputs`);
  const renames = outs.map((o, i) => onnx.NodeProto.create({ opType: 'Identity', name: `precache_lens/merged/${i}`, input: [o.name!], output: [ifNode.output![i]] }));
  g.node.splice(at, 1, ...(branch.node ?? []), ...renames);
  g.initializer = [...(g.initializer ?? []), ...(branch.initializer ?? [])];
  g.valueInfo = [...(g.valueInfo ?? []), ...(branch.valueInfo ?? [])];
  const cond = ifNode.input![0];
  const read = new Set<string>();
  for (const n of g.node) for (const i of n.input ?? []) read.add(i);
  for (const n of g.node) for (const a of n.attribute ?? []) for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) for (const m of sub.node ?? []) for (const i of m.input ?? []) read.add(i);
  g.input = (g.input ?? []).filter((i) => read.has(i.name ?? '') || !(past.has(i.name ?? '') || i.name === cond));
  return `merged decoder: kept If "${ifNode.name ?? ''}" ${noCache[0].name} (no past)`;
}

// ------------------------------------------------------------------------------------------ hidden states only

/** Ops that carry input_ids to their Gather unchanged in value (GPT2Model reshapes them with view(-1, T) first). */
const ID_PASS = new Set(['Cast', 'Reshape', 'Identity', 'Unsqueeze', 'Squeeze', 'Flatten']);

/**
 * The token embedding: the constant [V, d] that a Gather indexes with input_ids (followed through reshapes and
 * casts), whatever the initializer is called.
 */
function embedding(g: GraphProto): { name: string; dims: number[]; type: number } | null {
  const ix = new GraphIndex(g);
  const seen = new Set<string>();
  const stack = ['input_ids'];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    for (const n of ix.consumersOf(t)) {
      if (n.opType === 'Gather' && n.input?.[1] === t && n.input[0]) {
        const dims = ix.constantDims(n.input[0]);
        if (dims?.length === 2) return { name: n.input[0], dims, type: ix.initializers.get(n.input[0])?.dataType ?? TensorType.FLOAT };
      } else if (ID_PASS.has(n.opType ?? '') && n.input?.[0] === t && n.output?.[0]) stack.push(n.output[0]);
    }
  }
  return null;
}

/** Rows of the embedding matrix Gather(input_ids) reads, or null when it cannot be found. */
export function embeddingRows(model: ModelProto): number | null {
  return model.graph ? (embedding(model.graph)?.dims[0] ?? null) : null;
}

/** Declared last dimension of a graph output, or -1. */
function lastDim(o: { type?: { tensorType?: { shape?: { dim?: { dimValue?: unknown }[] | null } | null } | null } | null }): number {
  const d = o.type?.tensorType?.shape?.dim;
  const v = d?.length ? d[d.length - 1].dimValue : null;
  return v != null && num(v) > 0 ? num(v) : -1;
}

/**
 * A graph without a `logits` output whose first output is the final hidden state (Optimum's `last_hidden_state`,
 * onnxruntime's GPT2Model export `last_state`, or any output as wide as the token embedding): appends
 * logits = hidden @ embedding^T, the tied unembedding (GPT-2 ties them), else refuses naming what is missing.
 */
function appendTiedUnembedding(model: ModelProto, file: string, opts: PrepareOptions): string | null {
  const g = model.graph;
  if (!g?.output?.length || g.output.some((o) => o.name === 'logits')) return null;
  const hidden = g.output.find((o) => o.name === 'last_hidden_state') ?? g.output[0];
  const name = hidden.name ?? '';
  const emb = embedding(g);
  const width = lastDim(hidden);
  const looksHidden = /hidden|last_state/i.test(name) || (emb !== null && width === emb.dims[1] && width !== emb.dims[0]);
  if (!looksHidden) return null;
  const why = (reason: string) =>
    new PrepareError(
      `${file}: the graph has no logits output (its output "${name}" is the hidden state) and ${reason}; export the model with its language-model head (e.g. Optimum --task text-generation, or onnxruntime's convert_to_onnx with GPT2LMHeadModel)`,
    );
  if (opts.tiedEmbeddings === false) throw why('config.json says tie_word_embeddings is false, so the unembedding is not in the graph');
  if (!emb) throw why('no token embedding was found to use as the tied unembedding (no Gather of a constant [vocab, hidden] matrix reads input_ids)');
  if (emb.type !== TensorType.FLOAT && emb.type !== TensorType.FLOAT16) {
    throw why(`the token embedding "${emb.name}" is stored as ONNX type ${emb.type} (quantised), so it cannot serve as the tied unembedding`);
  }
  const wT = 'precache_lens/tied_unembedding/weight_t';
  // The hidden state through an Identity: the output is [B, T, d] even when the export restores that shape with a
  // Reshape (GPT2Model's view(input_shape + (d,))), which surgery would otherwise take for flattened rows.
  const h = 'precache_lens/tied_unembedding/hidden';
  const nodes: NodeProto[] = [
    onnx.NodeProto.create({ opType: 'Identity', name: 'precache_lens/tied_unembedding/hidden', input: [name], output: [h] }),
    onnx.NodeProto.create({ opType: 'Transpose', name: 'precache_lens/tied_unembedding/transpose', input: [emb.name], output: [wT], attribute: [onnx.AttributeProto.create({ name: 'perm', ints: [1, 0], type: onnx.AttributeProto.AttributeType.INTS })] }),
    onnx.NodeProto.create({ opType: 'MatMul', name: 'precache_lens/tied_unembedding/matmul', input: [h, wT], output: ['logits'] }),
  ];
  g.node = [...(g.node ?? []), ...nodes];
  g.output = [
    onnx.ValueInfoProto.create({ name: 'logits', type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: emb.type }) }) }),
    ...g.output,
  ];
  return `appended logits = ${name} @ ${emb.name}^T (tied unembedding)`;
}
