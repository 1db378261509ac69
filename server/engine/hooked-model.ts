// The hooked engine: runs a model directory's ONNX graph with requested hooks exposed and attention biases fed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { TensorType, decodeModel, encodeModel, walkNodes, type ModelProto } from './onnx-graph.js';
import { externalizeWeights } from './external-data.js';
import { checkSchema, embeddingRows, prepareGraph } from './prepare-graph.js';
import { addAttentionBias, addHooks, addLogitRows, addTargetLogprobs, LOGIT_ROWS_INPUT, TARGET_IDS_INPUT, TARGET_LOGPROBS_OUTPUT, TOP_IDS_OUTPUT, TOP_K_INPUT, TOP_LOGPROBS_OUTPUT, TOP_ROWS_INPUT, analyzeModel, GraphStructureError, inputDims, type ModelStructure } from './surgery.js';
import { validateHookNames } from '../../shared/hooks.js';
import { settings } from '../settings.js';
import { writeBeside } from '../disk-space.js';
import { addScaleGroups, scaleGroupFeed, scaleGroupInput } from './scale-groups.js';
import { addLayerEntry, ENTRY_LAYER_INPUT, ENTRY_RESID_INPUT, layerEntryProblem } from './layer-entry.js';
import { openModelDir, withGraphDims, type ModelDir } from '../model/model-dir.js';
import { graphDims, type GraphDims } from '../model/graph-dims.js';

/** Bump when surgery output changes, so cached rewritten graphs from older versions are not reused. */
const SURGERY_VERSION = 10;

export interface Tensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface RunRequest {
  /** Token ids, one row per batch item; all rows the same length. */
  tokens: number[][];
  /** Position ids, same shape as tokens; defaults to 0..T-1 for every row. */
  positionIds?: number[][];
  /** Hook names (see shared/hooks.ts); only these become outputs. */
  hooks?: string[];
  /** Per layer: a bias added to that layer's pre-softmax scores, broadcastable to [B,H,T,T]. */
  attentionBias?: Record<number, Tensor>;
  /** Return logits [B,T,V] (default true). */
  logits?: boolean;
  /** Only these sequence positions get logits: the result is [B,R,V] (the hook `logits`, if asked for, too). */
  logitRows?: number[];
  /**
   * Cached keys/values of earlier positions, by the graph's past input names (`past_key_values.{l}.key|value`,
   * [B, kv heads, P, dh]); only for graphs with past inputs (see `supportsPast`). Tokens then continue at P.
   */
  past?: Record<string, Tensor>;
  /** Also return the graph's `present.*` outputs (the keys/values to pass as `past` later). */
  presents?: boolean;
  /**
   * Layer entry: compute the new columns from layer `layer` on, starting from `resid` (the residual stream entering
   * that layer, [B, T, d]); layers below are skipped (their hooks and presents come back empty). Needs a graph
   * variant with `entry` (see `layerEntryProblem`). Exact when nothing below `layer` differs from the run the
   * stream was taken from.
   */
  entry?: { layer: number; resid: Tensor };
  /**
   * Per batch row, the token id each logits row should have predicted: returns `targetLogprobs` [B,R] computed
   * inside the graph (log softmax, then the target's entry). Usually with `logits: false`.
   */
  targets?: number[][];
  /**
   * The `k` most probable next tokens at logits rows `rows` (indices into the B*R rows, batch-major), computed
   * inside the graph from its log-softmax (needs a graph variant with `targets`; with `targets` omitted, dummy ones
   * are fed). Returns `top`; the logits need not leave the runtime.
   */
  top?: { rows: number[]; k: number };
  /**
   * Run on the session of this graph variant (a superset of what the request uses) instead of the smallest one,
   * so that callers mixing kinds of calls keep one session, i.e. one copy of the weights, in memory. Inputs the
   * request does not use get neutral values (zero bias, all rows, dummy targets); only what it asks for is fetched.
   */
  variant?: GraphVariant;
}

/** What a rewritten graph offers: hook outputs, per-layer bias inputs, logits-row selection, target log-probs. */
export interface GraphVariant {
  hooks: string[];
  bias: boolean;
  rows: boolean;
  targets: boolean;
  /** Inputs `entry_layer` and `resid_entry` (server/engine/layer-entry.ts). */
  entry?: boolean;
}

export interface RunResult {
  logits: Tensor | null;
  cache: Map<string, Tensor>;
  /** `present.*` outputs by name, when asked for. */
  presents?: Map<string, Tensor>;
  /** log p(target) per batch row and logits row [B,R], when `targets` were given. */
  targetLogprobs?: Tensor;
  /** When `top` was asked: per asked row, the k largest log-probabilities (largest first) and their token ids. */
  top?: { logprobs: Float32Array; ids: Int32Array; k: number };
}

export interface EngineOptions {
  /** Threads for one ORT session's operators; default: all cores. */
  threads?: number;
  /** Where rewritten graphs are cached; default <tmp>/precache-lens-graphs. */
  cacheDir?: string;
  /**
   * Memory the runtime sessions of all models may hold, MiB (estimated at twice the weights each, the weights and
   * onnxruntime's prepacked copies, plus 4 MiB); least recently used idle sessions are released past it. At least one stays.
   * Default PRECACHE_LENS_SESSION_CACHE_MB or 1024.
   */
  sessionCacheMB?: number;
  /** Disk the rewritten graphs in `cacheDir` may take, MiB; least recently used ones are deleted past it. Default PRECACHE_LENS_GRAPH_CACHE_MB or 256. */
  graphCacheMB?: number;
}

const SCALE_GROUP_PREFIX = scaleGroupInput(0).slice(0, -1);

/** Operators that compute an activation's quantisation scale from the whole tensor at run time. */
const DYNAMIC_ACTIVATION_QUANT = new Set(['DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM']);

/** What a session holds besides the weights (graph, kernels, thread pool): measured ~3 MiB on the tiny fixtures. */
const SESSION_OVERHEAD_BYTES = 4 * 2 ** 20;

/** One cached runtime session of one graph variant of one model. */
interface SessionEntry {
  owner: HookedModel;
  key: string;
  /** What the session's graph offers, so that a request it covers can run on it instead of on a new session. */
  offers: { hooks: ReadonlySet<string>; bias: boolean; rows: boolean; targets: boolean; entry: boolean };
  bytes: number;
  promise: Promise<ort.InferenceSession>;
  /** Callers holding the session (from session() until their run ends): it is never released under them. */
  busy: number;
  evicted: boolean;
}

export class EngineInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineInputError';
  }
}

function sha256(data: Uint8Array | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export class HookedModel {
  private proto: ModelProto | null = null;
  private structure: ModelStructure | null = null;
  private readonly sessions = new Map<string, SessionEntry>();
  /** Every model's sessions in one least-recently-used order (first = oldest): the memory bound is per process. */
  private static readonly sessionLru = new Set<SessionEntry>();
  /** Graph files a session is being created from, and weights prefixes of loaded models: disk pruning skips them. */
  private static readonly graphsInUse = new Set<string>();
  private static readonly livePrefixes = new Set<string>();
  private fileHash: string | null = null;
  private weightSize: number | null = null;

  /**
   * The graph file's bytes while surgery may need them. Once a runtime session exists they are let go (with the
   * decoded graph, which points into them): the session holds its own copy of the weights, and a second copy in
   * JavaScript would be the size of the model (476 MiB for GPT-2 small). A later rewrite reads the file again.
   */
  private bytes: Uint8Array | null;

  private constructor(
    readonly md: ModelDir,
    graphBytes: Uint8Array,
    private readonly opts: EngineOptions,
  ) {
    this.bytes = graphBytes;
  }

  /** The graph file's bytes: held ones, or the file read again (and checked to be the file this model loaded). */
  private graphBytes(): Uint8Array {
    if (this.bytes) return this.bytes;
    const b = fs.readFileSync(this.md.graphPath);
    if (this.fileHash !== null && sha256(b) !== this.fileHash) {
      throw new GraphStructureError(`${this.md.graphPath}: the file changed on disk after this model was loaded; load the model again`);
    }
    this.bytes = b;
    return b;
  }

  /** Whether the graph file's bytes (and the decoded graph) are held in memory now. */
  get holdsGraphBytes(): boolean {
    return this.bytes !== null || this.proto !== null;
  }

  /**
   * Lets go of the graph file's bytes and the decoded graph, after deriving what later runs read from them (so that
   * a run never decodes the file again; a new rewrite does).
   */
  private releaseGraphBytes(): void {
    if (!this.holdsGraphBytes) return;
    try {
      this.deriveFromGraph();
    } catch {
      return; // a graph whose structure cannot be read keeps its bytes: later calls report the problem as before
    }
    this.bytes = null;
    this.proto = null;
  }

  private deriveFromGraph(): void {
    void this.modelHash;
    void this.weightBytes;
    this.pastPairs();
    this.analyze(); // and prepareProblem / prepareChanged
    this.layerEntryProblem();
    this.activationScalesPerCall();
    if (this.embeddingSize === undefined) this.embeddingSize = embeddingRows(this.model());
    for (const i of this.model().graph?.input ?? []) if (i.name) {
      this.inputDimsOf(i.name);
      this.inputTypeOf(i.name);
    }
  }

  /** Declared dims of each graph input, by name (read once). */
  private readonly dims = new Map<string, number[] | null>();

  private inputDimsOf(name: string): number[] | null {
    if (!this.dims.has(name)) this.dims.set(name, inputDims(this.model(), name) ?? null);
    return this.dims.get(name)!;
  }

  /** Declared element type of each graph input, by name (read once): exports feed ids as int64 or int32. */
  private readonly types = new Map<string, number | null>();

  private inputTypeOf(name: string): number | null {
    if (!this.types.has(name)) this.types.set(name, (this.model().graph?.input ?? []).find((i) => i.name === name)?.type?.tensorType?.elemType ?? null);
    return this.types.get(name)!;
  }

  static load(dir: string, opts: EngineOptions = {}): HookedModel {
    const opened = openModelDir(dir);
    const bytes = fs.readFileSync(opened.graphPath);
    // Every dimension the graph states wins over the config (which only fills in the rest); a contradiction is refused here.
    let dims: GraphDims;
    try {
      dims = graphDims(decodeModel(bytes));
    } catch (e) {
      throw new GraphStructureError(`${opened.graphPath}: not a readable ONNX model (${(e as Error).message})`);
    }
    return new HookedModel(withGraphDims(opened, dims), bytes, opts);
  }

  get config() {
    return this.md.config;
  }

  /**
   * Bytes of the graph file plus the external data files its initializers name: what one runtime session holds
   * of the weights (before onnxruntime's prepacked copies).
   */
  get weightBytes(): number {
    if (this.weightSize === null) {
      const dir = path.dirname(this.md.graphPath);
      const files = new Set<string>();
      for (const t of this.model().graph?.initializer ?? []) {
        const loc = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
        if (loc) files.add(path.resolve(dir, loc));
      }
      this.weightSize = fs.statSync(this.md.graphPath).size + [...files].reduce((a, f) => a + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
    }
    return this.weightSize;
  }

  /** sha256 of the graph file: identifies the exact weights in results and keys the graph cache. */
  get modelHash(): string {
    this.fileHash ??= sha256(this.graphBytes());
    return this.fileHash;
  }

  private model(): ModelProto {
    this.proto ??= this.decodePrepared();
    return this.proto;
  }

  /** Past-input names and the present-output names that feed them (Optimum's naming), or null without a KV cache. */
  pastPairs(): { past: string; present: string }[] | null {
    if (this.pairs === undefined) {
      const g = this.model().graph!;
      const ins = (g.input ?? []).map((i) => i.name ?? '').filter((n) => n.startsWith('past_key_values.'));
      const outs = new Set((g.output ?? []).map((o) => o.name ?? ''));
      const pairs = ins.map((p) => ({ past: p, present: p.replace(/^past_key_values\./, 'present.') }));
      this.pairs = ins.length && pairs.every((q) => outs.has(q.present)) ? pairs : null;
    }
    return this.pairs;
  }

  private pairs: { past: string; present: string }[] | null | undefined;

  private entryProblem: string | null | undefined;

  /**
   * Why this graph cannot take layer entry (RunRequest.entry), or null when it can: each block must be a region of
   * the graph that only the next residual stream, hooks and present outputs leave.
   */
  layerEntryProblem(): string | null {
    if (this.entryProblem === undefined) {
      const s = this.analyze();
      this.entryProblem = s.attentionProblem ?? layerEntryProblem(this.model(), s);
    }
    return this.entryProblem;
  }

  private dynQuant: string | null | undefined;

  /**
   * Set (a sentence naming the operator and a node) when the graph quantises activations at run time with one
   * scale per tensor (onnxruntime quantize_dynamic's DynamicQuantizeLinear, or its fused DynamicQuantizeMatMul):
   * each row's result then depends on every other row in the same call, so numbers change with how rows are
   * split into calls and batched. Null for float graphs and weight-only quantisation (QDQ weights, MatMulNBits).
   */
  activationScalesPerCall(): string | null {
    if (this.dynQuant === undefined) {
      let found: { op: string; name: string; count: number } | null = null;
      walkNodes(this.model().graph!, (n) => {
        if (!DYNAMIC_ACTIVATION_QUANT.has(n.opType ?? '')) return;
        if (found) found.count++;
        else found = { op: n.opType!, name: n.name ?? '', count: 1 };
      });
      const f = found as { op: string; name: string; count: number } | null;
      this.dynQuant = f ? `${this.md.graphPath}: activations are quantised at run time with one scale per tensor (${f.count} ${f.op} nodes, e.g. "${f.name}")` : null;
    }
    return this.dynQuant;
  }

  /** True when the graph takes a KV cache, so a shared prefix can be computed once and reused. */
  get supportsPast(): boolean {
    return this.pastPairs() !== null;
  }

  /** The structure surgery found (layers, hook tensors, why attention is unavailable if it is). */
  analyze(): ModelStructure {
    this.structure ??= this.analyzeProto(this.model());
    return this.structure;
  }

  private analyzeProto(m: ModelProto): ModelStructure {
    const c = this.md.config;
    const s = analyzeModel(m, { file: this.md.graphPath, nHead: c.nHead, dHead: c.dHead, nLayer: c.nLayer });
    if (this.prepareProblem) s.attentionProblem = this.prepareProblem;
    return s;
  }

  private prepareProblem: string | null = null;
  private prepareChanged = false;

  /**
   * True when the graph as exported differs from the graph surgery reads (fused ops expanded...): every session then
   * runs the prepared graph, so that plain and hooked runs compute alike and fused kernels' limits (e.g.
   * GroupQueryAttention's batch of 1 with a past) do not apply.
   */
  private get preparedDiffers(): boolean {
    if (!this.prepareKnown) this.model();
    return this.prepareChanged;
  }

  /** Whether prepareProblem / prepareChanged have been found (by any decode of the file). */
  private prepareKnown = false;

  /** The graph as surgery reads it: fused attention and norms expanded into standard ops (prepare-graph.ts). */
  private decodePrepared(): ModelProto {
    const bytes = this.graphBytes();
    const m = decodeModel(bytes);
    checkSchema(m, bytes, this.md.graphPath);
    const tied = this.md.config.raw.tie_word_embeddings;
    const r = prepareGraph(m, this.md.graphPath, { tiedEmbeddings: typeof tied === 'boolean' ? tied : null });
    this.prepareProblem = r.problem;
    this.prepareChanged = r.unfused.length > 0 || r.changes.length > 0;
    this.prepareKnown = true;
    return m;
  }

  private async session(hooks: string[], bias: boolean, rows: boolean, targets: boolean, layerEntry = false): Promise<ort.InferenceSession> {
    const key = JSON.stringify({ hooks, bias, rows, targets, ...(layerEntry ? { entry: true } : {}) });
    // One copy of the weights: a loaded session whose graph offers everything the request needs serves it (unused
    // inputs get neutral values in feeds(), only what is asked for is fetched), e.g. an attention view or an export
    // after an analysis runs on the analysis's session.
    let e = this.sessions.get(key) ?? [...this.sessions.values()].find((c) => !c.evicted && covers(c.offers, hooks, bias, rows, targets, layerEntry));
    if (!e) {
      const offers = { hooks: new Set(hooks), bias, rows, targets, entry: layerEntry };
      const entry: SessionEntry = { owner: this, key, offers, bytes: 2 * this.weightBytes + SESSION_OVERHEAD_BYTES, promise: this.createSession(hooks, bias, rows, targets, layerEntry), busy: 0, evicted: false };
      entry.promise.catch(() => this.dropSession(entry));
      this.sessions.set(key, entry);
      e = entry;
    }
    HookedModel.sessionLru.delete(e);
    HookedModel.sessionLru.add(e);
    e.busy++; // held from here, so that neither the eviction below nor a concurrent caller releases it under us
    this.evictSessions();
    let s: ort.InferenceSession;
    try {
      s = await e.promise;
    } catch (err) {
      e.busy--;
      throw err;
    }
    return this.lease(e, s);
  }

  /**
   * The session as the caller sees it: its run() keeps the entry busy until it settles. A caller that never runs
   * (an input error after choosing the session) gives it back at the next macrotask, since run() follows
   * session() without yielding to the event loop.
   */
  private lease(e: SessionEntry, s: ort.InferenceSession): ort.InferenceSession {
    let held = true;
    let started = false;
    const done = () => {
      if (!held) return;
      held = false;
      e.busy--;
      if (e.busy === 0 && e.evicted) this.releaseLater(s);
      else if (e.busy === 0) this.evictSessions();
    };
    const view = Object.create(s) as ort.InferenceSession;
    view.run = (async (...args: Parameters<ort.InferenceSession['run']>) => {
      started = true;
      try {
        return await (s.run as (...a: Parameters<ort.InferenceSession['run']>) => ReturnType<ort.InferenceSession['run']>)(...args);
      } finally {
        done();
      }
    }) as ort.InferenceSession['run'];
    setImmediate(() => {
      if (!started) done();
    });
    return view;
  }

  /** Releases idle sessions, least recently used first, until the estimate is within the bound (one always stays). */
  private evictSessions(): void {
    const lru = HookedModel.sessionLru;
    const budget = (this.opts.sessionCacheMB ?? settings().sessionCacheMB) * 2 ** 20;
    let total = 0;
    for (const e of lru) total += e.bytes;
    for (const e of [...lru]) {
      if (total <= budget || lru.size <= 1) break;
      if (e.busy > 0) continue;
      this.dropSession(e);
      total -= e.bytes;
      e.promise.then((s) => this.releaseLater(s), () => undefined);
    }
  }

  private dropSession(e: SessionEntry): void {
    e.evicted = true;
    HookedModel.sessionLru.delete(e);
    if (e.owner.sessions.get(e.key) === e) e.owner.sessions.delete(e.key);
  }

  /** After the current macrotask: the caller that just finished a run may still read the session's names. */
  private releaseLater(s: ort.InferenceSession): void {
    setImmediate(() => {
      s.release().catch(() => undefined);
    });
  }

  private sessionOptions(): ort.InferenceSession.SessionOptions {
    return {
      intraOpNumThreads: this.opts.threads ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
    };
  }

  /**
   * An onnxruntime load error for a rewritten graph, told in terms of the user's file: when onnxruntime cannot load
   * the user's own graph either, that file's own error (the rewrite is not the cause, and its cache path means
   * nothing to the user); otherwise that only the rewrite fails, with its message.
   */
  private async loadError(e: unknown, file: string): Promise<Error> {
    const msg = ((e as Error).message ?? String(e)).split(file).join('<rewritten graph>');
    let original: ort.InferenceSession | null = null;
    try {
      original = await ort.InferenceSession.create(this.md.graphPath, { ...this.sessionOptions(), intraOpNumThreads: 1 });
    } catch (own) {
      return new GraphStructureError(`${this.md.graphPath}: onnxruntime cannot load this model's graph as exported (before any rewriting): ${(own as Error).message ?? String(own)}`);
    } finally {
      await original?.release().catch(() => undefined);
    }
    return new GraphStructureError(
      `${this.md.graphPath}: onnxruntime loads this graph as exported, but not as rewritten for hooks and interventions (cached as ${path.basename(file)}): ${msg}`,
    );
  }

  private async createSession(hooks: string[], bias: boolean, rows: boolean, targets: boolean, entry: boolean): Promise<ort.InferenceSession> {
    if (hooks.length === 0 && !bias && !rows && !targets && !entry && !this.preparedDiffers) {
      let s: ort.InferenceSession;
      try {
        s = await ort.InferenceSession.create(this.md.graphPath, this.sessionOptions());
      } catch (e) {
        throw new GraphStructureError(`${this.md.graphPath}: onnxruntime cannot load this model's graph as exported (before any rewriting): ${(e as Error).message ?? String(e)}`);
      }
      this.releaseGraphBytes();
      return s;
    }
    for (let attempt = 0; ; attempt++) {
      const file = this.rewrittenGraph(hooks, bias, rows, targets, entry);
      HookedModel.graphsInUse.add(file);
      try {
        const s = await ort.InferenceSession.create(file, this.sessionOptions());
        this.releaseGraphBytes();
        return s;
      } catch (e) {
        // Another process sharing the cache may have pruned the file just now: write it again, once.
        if (attempt > 0 || fs.existsSync(file)) throw await this.loadError(e, file);
      } finally {
        HookedModel.graphsInUse.delete(file);
      }
    }
  }

  /**
   * Writes (or reuses) the rewritten graph for this hook set on disk; returns its path. The graph file is small:
   * its weights are external data in one `<model hash>.weights` file shared by every hook set of the model.
   */
  private rewrittenGraph(hooks: string[], bias: boolean, rows: boolean, targets: boolean, entry: boolean): string {
    const dir = this.opts.cacheDir ?? path.join(os.tmpdir(), 'precache-lens-graphs');
    const key = sha256(JSON.stringify({ v: SURGERY_VERSION, model: this.modelHash, hooks, bias, rows, targets, ...(entry ? { entry } : {}) })).slice(0, 32);
    const file = path.join(dir, `${this.modelHash.slice(0, 16)}-${key}.onnx`);
    HookedModel.livePrefixes.add(this.modelHash.slice(0, 16));
    if (fs.existsSync(file)) {
      const now = new Date();
      fs.utimesSync(file, now, now); // the modification time orders the cache by last use
      return file;
    }
    // Decode afresh: surgery edits the proto in place, and its structure must point into this copy.
    const m = this.decodePrepared();
    const originalNames = new Set((m.graph?.initializer ?? []).map((t) => t.name ?? ''));
    const fresh = this.analyzeProto(m);
    if (hooks.length) addHooks(m, fresh, hooks);
    if (bias) addAttentionBias(m, fresh);
    if (rows) addLogitRows(m, fresh);
    if (bias && this.activationScalesPerCall()) addScaleGroups(m, fresh);
    if (targets) addTargetLogprobs(m, fresh);
    if (entry) addLayerEntry(m, fresh);
    fs.mkdirSync(dir, { recursive: true });
    externalizeWeights(m, originalNames, path.dirname(this.md.graphPath), dir, this.modelHash.slice(0, 16));
    const bytes = encodeModel(m);
    // Atomic: a concurrent reader never sees half a file; a write that does not fit leaves no temporary file.
    writeBeside(file, bytes.length, 'the rewritten graph', (tmp) => fs.writeFileSync(tmp, bytes));
    this.pruneGraphCache(dir, file);
    return file;
  }

  /**
   * Deletes the least recently used rewritten graphs until the cache is within its disk bound, then the weights
   * files of models that no graph refers to any more (never those of a model loaded in this process).
   */
  private pruneGraphCache(dir: string, keep: string): void {
    const budget = (this.opts.graphCacheMB ?? settings().graphCacheMB) * 2 ** 20;
    const stat = (f: string) => {
      try {
        return fs.statSync(path.join(dir, f));
      } catch {
        return null; // deleted meanwhile by another process
      }
    };
    const graphs = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => ({ f, st: stat(f) }))
      .filter((g): g is { f: string; st: fs.Stats } => g.st !== null)
      .sort((a, b) => a.st.mtimeMs - b.st.mtimeMs);
    let total = graphs.reduce((a, g) => a + g.st.size, 0);
    for (const g of graphs) {
      if (total <= budget) break;
      const full = path.join(dir, g.f);
      if (full === keep || HookedModel.graphsInUse.has(full)) continue;
      fs.rmSync(full, { force: true });
      total -= g.st.size;
    }
    const prefixes = new Set(fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, 16)));
    for (const f of fs.readdirSync(dir)) {
      const prefix = f.slice(0, 16);
      if ((f.endsWith('.weights') || f.slice(16).startsWith('-ext-')) && !prefixes.has(prefix) && !HookedModel.livePrefixes.has(prefix)) fs.rmSync(path.join(dir, f), { force: true });
    }
  }

  /** Checks hook names for this model (throws EngineInputError naming the bad one); canonical order. */
  checkHooks(hooks: readonly string[]): string[] {
    try {
      return validateHookNames(hooks, this.md.config.nLayer);
    } catch (e) {
      throw new EngineInputError((e as Error).message);
    }
  }

  async run(req: RunRequest): Promise<RunResult> {
    const c = this.md.config;
    const B = req.tokens.length;
    if (B === 0) throw new EngineInputError('tokens: needs at least one row');
    const T = req.tokens[0].length;
    if (T === 0) throw new EngineInputError('tokens: rows must not be empty');
    if (req.tokens.some((r) => r.length !== T)) throw new EngineInputError('tokens: all rows must have the same length');
    for (const row of req.tokens) {
      for (const t of row) {
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new EngineInputError(`tokens: id ${t} is outside the vocabulary 0..${c.vocabSize - 1}`);
      }
    }
    const pos = req.positionIds ?? req.tokens.map(() => Array.from({ length: T }, (_, i) => i));
    if (pos.length !== B || pos.some((r) => r.length !== T)) throw new EngineInputError('positionIds: must have the same shape as tokens');
    for (const row of pos) {
      for (const p of row) {
        if (!Number.isInteger(p) || p < 0 || p >= c.nCtx) throw new EngineInputError(`positionIds: ${p} is outside the model's context 0..${c.nCtx - 1}`);
      }
    }
    const hooks = this.checkHooks(req.hooks ?? []);
    const wantLogits = req.logits !== false;
    const pastLen = this.checkPast(req.past, B);
    if (pastLen + T > c.nCtx) throw new EngineInputError(`past: ${pastLen} cached + ${T} new positions exceed the model's context of ${c.nCtx}`);
    const biasLayers = Object.keys(req.attentionBias ?? {}).map(Number);
    for (const l of biasLayers) {
      if (!Number.isInteger(l) || l < 0 || l >= c.nLayer) throw new EngineInputError(`attentionBias: layer ${l} does not exist (0..${c.nLayer - 1})`);
      const t = req.attentionBias![l];
      checkBiasShape(t, B, c.nHead, T, pastLen + T, l);
    }
    const useBias = biasLayers.length > 0;
    if (useBias || hooks.length) {
      const s = this.analyze();
      const needsAttention = useBias || hooks.some((h) => h.includes('.attn.'));
      if (needsAttention && s.attentionProblem) throw new GraphStructureError(s.attentionProblem);
    }
    const rows = req.logitRows;
    if (rows) {
      if (rows.length === 0) throw new EngineInputError('logitRows: needs at least one position');
      for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= T) throw new EngineInputError(`logitRows: ${r} is outside the sequence 0..${T - 1}`);
      if (!this.analyze().unembed) throw new EngineInputError(`logitRows: ${this.md.graphPath}: the unembedding cannot be found, so rows cannot be selected`);
    }
    const sessionHooks = hooks.filter((h) => h !== 'logits');
    const R = rows ? rows.length : T;
    const targets = req.targets;
    if (targets) {
      if (targets.length !== B || targets.some((r) => r.length !== R)) throw new EngineInputError(`targets: must be [B=${B}][R=${R}], one id per logits row`);
      for (const row of targets) for (const t of row) if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new EngineInputError(`targets: id ${t} is outside the vocabulary 0..${c.vocabSize - 1}`);
    }
    const top = req.top;
    if (top) {
      if (!Number.isInteger(top.k) || top.k < 1 || top.k > c.vocabSize) throw new EngineInputError(`top.k: ${top.k} must be an integer 1..${c.vocabSize}`);
      if (top.rows.length === 0) throw new EngineInputError('top.rows: needs at least one row');
      for (const r of top.rows) if (!Number.isInteger(r) || r < 0 || r >= B * R) throw new EngineInputError(`top.rows: ${r} is outside the ${B * R} logits rows`);
    }
    const entry = req.entry;
    if (entry) {
      if (!Number.isInteger(entry.layer) || entry.layer < 0 || entry.layer >= c.nLayer) throw new EngineInputError(`entry.layer: ${entry.layer} is not a layer (0..${c.nLayer - 1})`);
      const d = entry.resid.dims;
      if (d.length !== 3 || d[0] !== B || d[1] !== T || entry.resid.data.length !== B * T * d[2]) {
        throw new EngineInputError(`entry.resid: dims [${d.join(',')}] must be [B=${B}, T=${T}, d] (the stream entering layer ${entry.layer})`);
      }
      const problem = this.layerEntryProblem();
      if (problem) throw new GraphStructureError(`${this.md.graphPath}: layer entry is unavailable: ${problem}`);
    }
    const v = req.variant;
    let session: ort.InferenceSession;
    if (v) {
      const vHooks = this.checkHooks(v.hooks).filter((h) => h !== 'logits');
      const missing = sessionHooks.find((h) => !vHooks.includes(h));
      if (missing || (useBias && !v.bias) || (rows && !v.rows) || ((targets || top) && !v.targets) || (entry && !v.entry)) {
        throw new EngineInputError(`variant: does not include what the request uses${missing ? ` (hook ${missing})` : ''}`);
      }
      session = await this.session(vHooks, v.bias, v.rows, v.targets, !!v.entry);
    } else {
      session = await this.session(sessionHooks, useBias, !!rows, !!(targets || top), !!entry);
    }
    const feeds = this.feeds(session, req.tokens, pos, useBias ? req.attentionBias! : {}, req.past ?? {}, pastLen);
    if (session.inputNames.includes(LOGIT_ROWS_INPUT)) {
      const r = rows ?? Array.from({ length: T }, (_, i) => i);
      feeds[LOGIT_ROWS_INPUT] = new ort.Tensor('int64', BigInt64Array.from(r, (x) => BigInt(x)), [r.length]);
    }
    if (session.inputNames.includes(ENTRY_LAYER_INPUT)) {
      feeds[ENTRY_LAYER_INPUT] = new ort.Tensor('int64', BigInt64Array.from([BigInt(entry?.layer ?? 0)]), []);
      feeds[ENTRY_RESID_INPUT] = entry ? new ort.Tensor('float32', entry.resid.data, [...entry.resid.dims]) : new ort.Tensor('float32', new Float32Array(1), [1, 1, 1]);
    }
    if (session.inputNames.includes(TARGET_IDS_INPUT)) {
      feeds[TARGET_IDS_INPUT] = targets
        ? new ort.Tensor('int64', BigInt64Array.from(targets.flat(), (x) => BigInt(x)), [B, R, 1])
        : new ort.Tensor('int64', new BigInt64Array(B * R), [B, R, 1]);
    }
    if (session.inputNames.includes(TOP_ROWS_INPUT)) {
      feeds[TOP_ROWS_INPUT] = new ort.Tensor('int64', BigInt64Array.from(top?.rows ?? [0], (x) => BigInt(x)), [top?.rows.length ?? 1]);
      feeds[TOP_K_INPUT] = new ort.Tensor('int64', BigInt64Array.from([BigInt(top?.k ?? 1)]), [1]);
    }
    const presentNames = req.presents ? (this.pastPairs() ?? []).map((q) => q.present) : [];
    if (req.presents && !presentNames.length) throw new EngineInputError(`presents: ${this.md.graphPath} has no past_key_values inputs / present outputs`);
    const fetches = [...(wantLogits ? [this.logitsName(session)] : []), ...sessionHooks, ...presentNames, ...(targets ? [TARGET_LOGPROBS_OUTPUT] : []), ...(top ? [TOP_LOGPROBS_OUTPUT, TOP_IDS_OUTPUT] : [])];
    const out = await session.run(feeds, fetches);
    const toTensor = (t: ort.Tensor): Tensor => ({ data: t.data as Float32Array, dims: t.dims.map(Number) });
    const cache = new Map<string, Tensor>();
    for (const h of sessionHooks) cache.set(h, toTensor(out[h]));
    const logits = wantLogits ? toTensor(out[this.logitsName(session)]) : null;
    if (hooks.includes('logits') && logits) cache.set('logits', logits);
    const result: RunResult = { logits, cache };
    if (req.presents) result.presents = new Map(presentNames.map((n) => [n, toTensor(out[n])]));
    if (targets) result.targetLogprobs = { data: out[TARGET_LOGPROBS_OUTPUT].data as Float32Array, dims: [B, R] };
    if (top) result.top = { logprobs: out[TOP_LOGPROBS_OUTPUT].data as Float32Array, ids: Int32Array.from(out[TOP_IDS_OUTPUT].data as BigInt64Array, Number), k: top.k };
    return result;
  }

  private logitsName(session: ort.InferenceSession): string {
    return session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
  }

  /** Checks `past` against the graph's past inputs; returns the cached length P (0 without past). */
  private checkPast(past: Record<string, Tensor> | undefined, B: number): number {
    if (!past) return 0;
    const pairs = this.pastPairs();
    if (!pairs) throw new EngineInputError(`past: ${this.md.graphPath} has no past_key_values inputs`);
    let P = -1;
    for (const { past: name } of pairs) {
      const t = past[name];
      if (!t) throw new EngineInputError(`past: missing "${name}"`);
      if (t.dims.length !== 4 || t.dims[0] !== B) throw new EngineInputError(`past["${name}"]: dims [${t.dims.join(',')}] must be [B=${B}, heads, P, dh]`);
      if (P >= 0 && t.dims[2] !== P) throw new EngineInputError(`past["${name}"]: length ${t.dims[2]} differs from the other layers' ${P}`);
      P = t.dims[2];
    }
    return Math.max(0, P);
  }

  private embeddingSize: number | null | undefined;

  /**
   * Refuses token ids the graph's embedding has no row for (a tokenizer larger than the model's embedding, or a
   * config.json vocab_size larger than the graph's), which onnxruntime would report as an obscure Gather error.
   */
  private checkEmbedding(tokens: number[][]): void {
    if (this.embeddingSize === undefined) this.embeddingSize = embeddingRows(this.model());
    const rows = this.embeddingSize;
    if (rows === null) return;
    for (const row of tokens) {
      for (const t of row) {
        if (t >= rows) {
          throw new EngineInputError(
            `tokens: id ${t} has no row in the model's embedding (${rows} rows in ${this.md.graphPath}; config.json says vocab_size ${this.md.config.vocabSize}): the tokenizer's vocabulary is larger than the model's`,
          );
        }
      }
    }
  }

  private feeds(
    session: ort.InferenceSession,
    tokens: number[][],
    pos: number[][],
    bias: Record<number, Tensor>,
    past: Record<string, Tensor>,
    pastLen: number,
  ): Record<string, ort.Tensor> {
    const B = tokens.length;
    const T = tokens[0].length;
    const c = this.md.config;
    // Ids, positions and the mask in the type the graph declares (onnxruntime's GPT-2 tools export int32 ones).
    const ints = (name: string, values: number[], dims: number[]) => {
      const t = this.inputTypeOf(name);
      if (t === TensorType.INT32) return new ort.Tensor('int32', Int32Array.from(values), dims);
      if (t === TensorType.FLOAT) return new ort.Tensor('float32', Float32Array.from(values), dims);
      return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
    };
    const i64 = (name: string, rows: number[][]) => ints(name, rows.flat(), [B, T]);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      if (name === 'input_ids') {
        this.checkEmbedding(tokens);
        feeds[name] = i64(name, tokens);
      } else if (name === 'position_ids') feeds[name] = i64(name, pos);
      else if (name === 'logits_to_keep' || name === 'num_logits_to_keep') {
        // Keep every new row: exports slice hidden[:, -k:], and logits rows are picked later by surgery.
        const rank = this.inputDimsOf(name)?.length ?? 0;
        feeds[name] = new ort.Tensor('int64', BigInt64Array.from([BigInt(T)]), rank === 0 ? [] : [1]);
      }
      else if (name === 'attention_mask') feeds[name] = ints(name, new Array<number>(B * (pastLen + T)).fill(1), [B, pastLen + T]);
      else if (name === 'use_cache_branch') feeds[name] = new ort.Tensor('bool', [false], [1]);
      else if (name.startsWith('past_key_values.') || name.startsWith('past.')) {
        const given = past[name];
        if (given) {
          feeds[name] = new ort.Tensor('float32', given.data, given.dims);
          continue;
        }
        // A fresh run: past length 0. Head count and head size come from the graph where it says them.
        const dims = this.inputDimsOf(name) ?? [];
        const kv = dims[1] > 0 ? dims[1] : c.nKvHead;
        const dh = dims[3] > 0 ? dims[3] : c.dHead;
        feeds[name] = new ort.Tensor('float32', new Float32Array(0), [B, kv, 0, dh]);
      } else if (/^past_\d+$/.test(name)) {
        // onnxruntime's GPT-2 tools: keys and values packed [2, B, H, P, dh]; a fresh run has P = 0.
        const dims = this.inputDimsOf(name) ?? [];
        feeds[name] = new ort.Tensor('float32', new Float32Array(0), [2, B, dims[2] > 0 ? dims[2] : c.nKvHead, 0, dims[4] > 0 ? dims[4] : c.dHead]);
      } else if (name === LOGIT_ROWS_INPUT || name === TARGET_IDS_INPUT || name === TOP_ROWS_INPUT || name === TOP_K_INPUT || name === ENTRY_LAYER_INPUT || name === ENTRY_RESID_INPUT) {
        continue; // filled by run()
      } else if (name.startsWith(SCALE_GROUP_PREFIX)) {
        const g = scaleGroupFeed(bias[Number(name.slice(SCALE_GROUP_PREFIX.length))], B, pastLen + T, T);
        feeds[name] = new ort.Tensor('float32', g.data, g.dims);
      } else if (name.startsWith('attention_bias.')) {
        const l = Number(name.slice('attention_bias.'.length));
        const t = bias[l];
        feeds[name] = t ? new ort.Tensor('float32', t.data, t.dims) : new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
      } else {
        throw new EngineInputError(`${this.md.graphPath}: the graph needs an input "${name}" that the engine does not know how to fill`);
      }
    }
    return feeds;
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    for (const e of all) this.dropSession(e);
    for (const e of all) await (await e.promise.catch(() => null))?.release();
  }

}


/** A size in MiB from the environment (fractions allowed), or `fallback` when unset or not a positive number. */
function covers(o: SessionEntry['offers'], hooks: readonly string[], bias: boolean, rows: boolean, targets: boolean, entry: boolean): boolean {
  return hooks.every((h) => o.hooks.has(h)) && (!bias || o.bias) && (!rows || o.rows) && (!targets || o.targets) && (!entry || o.entry);
}

function checkBiasShape(t: Tensor, B: number, H: number, T: number, K: number, layer: number): void {
  const want = [B, H, T, K];
  const ok =
    t.dims.length === 4 &&
    t.dims.every((d, i) => d === 1 || d === want[i]) &&
    t.data.length === t.dims.reduce((a, b) => a * b, 1);
  if (!ok) {
    throw new EngineInputError(`attentionBias[${layer}]: shape [${t.dims.join(',')}] does not broadcast to [B,H,T,P+T] = [${want.join(',')}] (or data length mismatch)`);
  }
}
