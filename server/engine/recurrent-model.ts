// The recurrent engine: runs an RWKV model directory's ONNX graph (tools/py/rwkv_export.py layout) from a given state.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { openModelDir, type ModelDir } from '../model/model-dir.js';
import type { EngineOptions, Tensor } from './hooked-model.js';

/** config.json `model_type`s served by this engine instead of the transformer engine. */
export const RECURRENT_MODEL_TYPES = ['rwkv5'] as const;

export function isRecurrentConfig(md: ModelDir): boolean {
  return (RECURRENT_MODEL_TYPES as readonly string[]).includes(md.config.modelType);
}

/** Graph input/output names of a recurrent export. */
export const stateIn = (l: number) => `state_in.${l}`;
export const stateOut = (l: number) => `state_out.${l}`;

/** The hooks a recurrent graph exposes (`blocks.{l}.hook_state`: [B,T,S], the state after each position). */
export type RecurrentHookKind = 'hook_resid_pre' | 'hook_resid_mid' | 'hook_resid_post' | 'hook_state';
export const recurrentHook = (l: number, kind: RecurrentHookKind) => `blocks.${l}.${kind}`;

export interface RecurrentRunRequest {
  /** Token ids, one row per batch item, all rows the same length (at least 1). */
  tokens: number[][];
  /** Initial state per layer, one [S] row per batch item ([L][B] rows); omitted: the zero state. */
  state?: Float32Array[][];
  /** Hook names (see recurrentHook) to return. */
  hooks?: string[];
  /** Return logits [B,T,V] (default true). */
  logits?: boolean;
}

export interface RecurrentRunResult {
  logits: Tensor | null;
  /** Final state per layer, [B,S] each. */
  state: Tensor[];
  cache: Map<string, Tensor>;
}

export class RecurrentModel {
  private sessionPromise: Promise<ort.InferenceSession> | null = null;
  private fileHash: string | null = null;
  readonly stateSize: number;

  private constructor(
    readonly md: ModelDir,
    private readonly opts: EngineOptions,
  ) {
    const s = md.config.raw.state_size;
    if (typeof s !== 'number' || !Number.isInteger(s) || s <= 0) throw new Error(`${md.configPath}: a recurrent model needs a positive integer "state_size"`);
    this.stateSize = s;
  }

  static load(dir: string, opts: EngineOptions = {}): RecurrentModel {
    const md = openModelDir(dir);
    if (!isRecurrentConfig(md)) throw new Error(`${md.configPath}: model_type "${md.config.modelType}" is not a recurrent model (${RECURRENT_MODEL_TYPES.join(', ')})`);
    return new RecurrentModel(md, opts);
  }

  get config() {
    return this.md.config;
  }

  get modelHash(): string {
    this.fileHash ??= crypto.createHash('sha256').update(fs.readFileSync(this.md.graphPath)).digest('hex');
    return this.fileHash;
  }

  get weightBytes(): number {
    return fs.statSync(this.md.graphPath).size;
  }

  private session(): Promise<ort.InferenceSession> {
    this.sessionPromise ??= ort.InferenceSession.create(this.md.graphPath, {
      intraOpNumThreads: this.opts.threads ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return this.sessionPromise;
  }

  /** The state after nothing: all zeros, one row per layer. */
  zeroState(): Float32Array[] {
    return Array.from({ length: this.config.nLayer }, () => new Float32Array(this.stateSize));
  }

  async run(req: RecurrentRunRequest): Promise<RecurrentRunResult> {
    const L = this.config.nLayer;
    const S = this.stateSize;
    const B = req.tokens.length;
    const T = req.tokens[0]?.length ?? 0;
    if (B < 1 || T < 1 || req.tokens.some((r) => r.length !== T)) throw new Error('RecurrentModel.run: tokens must be B >= 1 rows of one length T >= 1');
    const V = this.config.vocabSize;
    const ids = new BigInt64Array(B * T);
    req.tokens.forEach((row, b) =>
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`RecurrentModel.run: token id ${id} is outside 0..${V - 1}`);
        ids[b * T + t] = BigInt(id);
      }),
    );
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [B, T]) };
    for (let l = 0; l < L; l++) {
      const buf = new Float32Array(B * S);
      const rows = req.state?.[l];
      if (rows && rows.length !== B) throw new Error(`RecurrentModel.run: layer ${l} state has ${rows.length} rows for ${B} token rows`);
      rows?.forEach((r, b) => {
        if (r.length !== S) throw new Error(`RecurrentModel.run: layer ${l} state row has ${r.length} values, expected ${S}`);
        buf.set(r, b * S);
      });
      feeds[stateIn(l)] = new ort.Tensor('float32', buf, [B, S]);
    }
    const hooks = req.hooks ?? [];
    const fetch = [...(req.logits !== false ? ['logits'] : []), ...Array.from({ length: L }, (_, l) => stateOut(l)), ...hooks];
    const s = await this.session();
    const unknown = hooks.filter((h) => !s.outputNames.includes(h));
    if (unknown.length) throw new Error(`RecurrentModel.run: unknown hook(s) ${unknown.join(', ')}`);
    const out = await s.run(feeds, fetch);
    const tensor = (name: string): Tensor => {
      const t = out[name];
      return { data: t.data as Float32Array, dims: [...t.dims] };
    };
    return {
      logits: req.logits !== false ? tensor('logits') : null,
      state: Array.from({ length: L }, (_, l) => tensor(stateOut(l))),
      cache: new Map(hooks.map((h) => [h, tensor(h)])),
    };
  }

  async release(): Promise<void> {
    const p = this.sessionPromise;
    this.sessionPromise = null;
    if (p) await (await p).release();
  }
}

/** Row b of a [B,S] state tensor, copied (so it outlives the result it came from). */
export function stateRow(t: Tensor, b: number): Float32Array {
  const S = t.dims[1];
  return t.data.slice(b * S, (b + 1) * S);
}
