// Runs experiments: each cell (prompt x input x model) is an ordinary run submitted through RunManager, a few at a
// time; cells are stored as they finish, so an experiment resumes after a restart without recomputing them.
import { EventEmitter } from 'node:events';
import type { AnalysisResult } from '../../shared/analysis.js';
import { checkAgainstModel, checkAnalysisRequest } from '../../shared/analysis-input.js';
import { InputError } from '../../shared/errors.js';
import {
  ExperimentOptionsSchema,
  type CreateExperimentRequest,
  type ExperimentCell,
  type ExperimentDetail,
  type ExperimentInput,
  type ExperimentOptions,
  type ExperimentProgress,
  type ExperimentStatus,
  type PairSummary,
  type PromptSummary,
  type TwinSummary,
} from '../../shared/experiments.js';
import { DEFAULT_RESAMPLES } from '../../shared/stats/index.js';
import type { ModelRegistry, RegisteredModel } from '../model/registry.js';
import { QueueFullError, type RunEvent, type RunManager } from '../runs/run-manager.js';
import type { RunStore } from '../store/run-store.js';
import type { EngineClient } from '../worker/engine-client.js';
import { isOutOfSpace } from '../disk-space.js';
import { cellMetrics, type CellMetrics } from './cell-metrics.js';
import { ExperimentStore, type CellRow, type ExperimentRow } from './experiment-store.js';
import { inputSets, sampleInputSet } from './input-sets.js';
import { pairSummaries, promptSummaries, twinSummaries, type CellGrid, type StatSettings } from './summary.js';
import { tokenizerMismatch } from '../model/tokenizer-identity.js';

export type ExperimentEvent =
  | { type: 'progress'; progress: ExperimentProgress }
  | { type: 'cell'; cell: ExperimentCell }
  | { type: 'status'; status: ExperimentStatus; error: string | null };

export interface ExperimentDeps {
  store: RunStore;
  runs: RunManager;
  registry: ModelRegistry;
  engine: EngineClient;
}

interface Live {
  models: RegisteredModel[];
  /** Run id -> cell seq, for the cells submitted and not finished. */
  outstanding: Map<string, { seq: number; unsubscribe: () => void }>;
  /** For the ETA: when this process took the experiment up, and how many cells it has finished since. */
  since: number;
  finishedHere: number;
}

const ANALYSIS_KEYS = ['spans', 'layerWindow', 'topK', 'spanKnockouts'] as const;
export const DEFAULT_STAT_SEED = 1;
const RETRY_MS = 500;
const TOKENIZE_CHUNK = 64;

/** The analysis options a cell's run gets: the experiment options without the statistics settings. */
export function analysisOptionsOf(o: ExperimentOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ANALYSIS_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

export function statSettings(o: ExperimentOptions): StatSettings {
  return { resamples: o.resamples ?? DEFAULT_RESAMPLES, seed: o.seed ?? DEFAULT_STAT_SEED, level: 0.95 };
}

export class ExperimentManager {
  readonly experiments: ExperimentStore;
  private readonly events = new EventEmitter();
  private readonly live = new Map<string, Live>();
  private readonly summaryCache = new Map<string, { key: string; at: number; ms: number; summary: PromptSummary[]; pairs: PairSummary[]; twins: TwinSummary[] | null }>();
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly d: ExperimentDeps,
    /** Cells of one experiment submitted at a time: enough to keep the queue busy, few enough to leave room in it. */
    private readonly window = 3,
  ) {
    this.events.setMaxListeners(0);
    this.experiments = new ExperimentStore(d.store.db);
    for (const id of this.experiments.running()) this.resume(id);
  }

  /** Validates a request against the models (throws InputError naming the field) and starts the experiment. */
  async create(req: CreateExperimentRequest): Promise<ExperimentRow> {
    const options = ExperimentOptionsSchema.parse(req.options ?? {});
    const baseId = req.model ?? this.d.registry.defaultId();
    const base = baseId ? this.d.registry.get(baseId) : undefined;
    if (!base) throw new InputError(`unknown model "${baseId}"; available: ${this.d.registry.list().map((m) => m.id).join(', ')}`, 'model');
    const models = [base];
    if (req.twin) {
      const twin = this.d.registry.twinOf(base.id);
      if (!twin) throw new InputError(`${base.id} has no myopic twin (a model directory named ${base.id}-myopic)`, 'twin');
      models.push(twin);
    }
    if (req.with !== undefined) {
      if (req.twin) throw new InputError('give either twin or with, not both', 'with');
      const second = this.d.registry.get(req.with);
      if (!second) throw new InputError(`unknown model "${req.with}"; available: ${this.d.registry.list().map((m) => m.id).join(', ')}`, 'with');
      if (second.id === base.id) throw new InputError(`the second model must differ from ${base.id}`, 'with');
      const mismatch = tokenizerMismatch(base, second);
      if (mismatch) throw new InputError(mismatch, 'with');
      models.push(second);
    }
    const inputs = this.resolveInputs(req.inputs);
    await this.preflight(models, req.prompts, inputs, options);
    const row = this.experiments.create({
      label: req.label ?? null,
      models: models.map((m) => m.id),
      options,
      prompts: req.prompts.map((p) => ({ label: p.label ?? null, text: p.text })),
      inputs,
    });
    this.take(row.id, models);
    return row;
  }

  private resolveInputs(inputs: CreateExperimentRequest['inputs']): ExperimentInput[] {
    return resolveExperimentInputs(inputs);
  }

  /** The checks a single run gets, for every prompt and input, before anything is queued. */
  private async preflight(models: RegisteredModel[], prompts: CreateExperimentRequest['prompts'], inputs: ExperimentInput[], options: ExperimentOptions) {
    const analysis = analysisOptionsOf(options);
    const marked = prompts.map((p, k) => {
      try {
        return checkAnalysisRequest({ prompt: p.text, input: inputs[0].text, options: analysis }).marked.text;
      } catch (e) {
        if (e instanceof InputError) throw new InputError(e.message.replace(/^prompt: /, ''), e.field === 'prompt' ? `prompts.${k}.text` : e.field);
        throw e;
      }
    });
    const checked = checkAnalysisRequest({ prompt: prompts[0].text, input: inputs[0].text, options: analysis });
    for (const m of models) {
      const info = await this.d.engine.info(m.md.dir);
      if (info.attentionProblem) throw new InputError(info.attentionProblem, 'model');
      const count = async (texts: string[]) => {
        const out: number[] = [];
        for (let k = 0; k < texts.length; k += TOKENIZE_CHUNK) {
          const chunk = await Promise.all(texts.slice(k, k + TOKENIZE_CHUNK).map((text) => this.d.engine.task('tokenize', { modelDir: m.md.dir, text }).promise));
          out.push(...chunk.map((t) => t.ids.length));
        }
        return out;
      };
      const pLens = await count(marked);
      const nLens = await count(inputs.map((x) => x.text));
      const longest = pLens.indexOf(Math.max(...pLens));
      pLens.forEach((p, k) => {
        if (p === 0) throw new InputError('tokenizes to nothing; it needs at least one token', `prompts.${k}.text`);
      });
      nLens.forEach((n, i) => {
        try {
          checkAgainstModel({ p: pLens[longest], n }, info.config, checked.options);
        } catch (e) {
          if (!(e instanceof InputError)) throw e;
          const field = e.field === 'prompt' ? `prompts.${longest}.text` : e.field === 'input' ? (inputs[i].source ? 'inputs.set' : `inputs.texts.${i}`) : e.field;
          const which = inputs[i].source ? `passage ${i} of the set: ` : '';
          throw new InputError(`${which}${e.message.replace(/^\w+(\.\w+)?: /, '')} (with prompt ${longest}, the longest)`, field);
        }
      });
    }
  }

  /** Takes up a running experiment in this process: submits its cells and follows them. */
  private take(id: string, models: RegisteredModel[]) {
    this.live.set(id, { models, outstanding: new Map(), since: Date.now(), finishedHere: 0 });
    this.pump(id);
  }

  /** After a restart: finished cells stay; cells whose run did not finish are reset and run again. */
  private resume(id: string) {
    const row = this.experiments.get(id)!;
    const models = row.models.map((m) => this.d.registry.get(m));
    const missing = row.models.find((_, k) => !models[k]);
    if (missing) {
      this.experiments.setStatus(id, 'failed', `model ${missing} is not available in this server; start it with that model to resume`);
      return;
    }
    for (const c of this.experiments.cellsWithStatus(id, ['queued', 'running'])) {
      const run = c.runId ? this.d.store.getFull(c.runId) : null;
      if (run && run.status === 'done' && run.result) {
        this.experiments.updateCell(id, c.seq, { status: 'done', metrics: cellMetrics(run.result as AnalysisResult) });
      } else {
        // The interrupted run is a failed leftover (the run store marked it so); the cell gets a fresh one.
        if (c.runId && run) this.d.store.delete(c.runId);
        this.experiments.updateCell(id, c.seq, { status: 'pending', runId: null });
      }
    }
    this.take(id, models as RegisteredModel[]);
  }

  private pump(id: string) {
    const L = this.live.get(id);
    if (!L || this.closed) return;
    const row = this.experiments.get(id)!;
    const analysis = analysisOptionsOf(row.options);
    while (L.outstanding.size < this.window) {
      const [cell] = this.experiments.cellsWithStatus(id, ['pending'], 1);
      if (!cell) break;
      const model = L.models[cell.model];
      let runId: string;
      try {
        const run = this.d.runs.submit(model, {
          prompt: row.prompts[cell.prompt].text,
          input: row.inputs[cell.input].text,
          options: analysis,
          label: `${row.label ?? 'experiment'} · P${cell.prompt + 1} × X${cell.input + 1}${row.models.length > 1 ? ` · ${model.id}` : ''}`,
        });
        runId = run.id;
      } catch (e) {
        if (e instanceof QueueFullError) {
          this.retryLater();
          break;
        }
        // A full disk is not this cell's fault: the experiment stops with that reason (see failOnFault).
        if (isOutOfSpace(e)) throw e;
        this.experiments.updateCell(id, cell.seq, { status: 'failed', error: (e as Error).message });
        this.emitCell(id, { ...cell, status: 'failed', error: (e as Error).message });
        continue;
      }
      const unsubscribe = this.d.runs.subscribe(runId, (e) => this.onRunEvent(id, runId, e));
      L.outstanding.set(runId, { seq: cell.seq, unsubscribe });
      const status = this.d.store.get(runId)?.status === 'running' ? 'running' : 'queued';
      this.experiments.updateCell(id, cell.seq, { status, runId });
      this.emitCell(id, { ...cell, status, runId });
    }
    if (L.outstanding.size === 0 && this.experiments.cellsWithStatus(id, ['pending'], 1).length === 0) this.complete(id);
  }

  /**
   * Runs a step of an experiment outside a request (a run's event, a timer); a store write that fails there (the disk
   * is full) ends the experiment as failed with that reason instead of escaping into the event loop. Finished cells stay.
   */
  private failOnFault(id: string, step: () => void) {
    try {
      step();
    } catch (e) {
      const msg = (e as Error).message;
      console.error(`experiment ${id}: ${msg}`);
      const L = this.live.get(id);
      this.live.delete(id);
      for (const [runId, o] of L?.outstanding ?? []) {
        o.unsubscribe();
        if (this.d.runs.isLive(runId)) this.d.runs.cancel(runId);
      }
      try {
        this.experiments.setStatus(id, 'failed', msg);
      } catch {
        // Recording the failure needs a little space: the run store's reserve is there for that.
        if (this.d.store.reserve.release()) {
          try {
            this.experiments.setStatus(id, 'failed', msg);
          } catch (e2) {
            console.error(`experiment ${id}: could not record its end: ${(e2 as Error).message}`);
          }
        }
      }
      this.events.emit(id, { type: 'status', status: 'failed', error: msg } satisfies ExperimentEvent);
    }
  }

  private onRunEvent(id: string, runId: string, e: RunEvent) {
    this.failOnFault(id, () => this.followRun(id, runId, e));
  }

  private followRun(id: string, runId: string, e: RunEvent) {
    if (e.type !== 'status' || this.closed) return;
    const L = this.live.get(id);
    const o = L?.outstanding.get(runId);
    if (!L || !o) return;
    if (e.status === 'running') {
      this.experiments.updateCell(id, o.seq, { status: 'running' });
      return;
    }
    if (e.status !== 'done' && e.status !== 'failed' && e.status !== 'cancelled') return;
    o.unsubscribe();
    L.outstanding.delete(runId);
    let metrics: CellMetrics | null = null;
    let status = e.status;
    let error = e.error ?? null;
    if (e.status === 'done') {
      const run = this.d.store.getFull(runId);
      if (run?.result) metrics = cellMetrics(run.result as AnalysisResult);
      else {
        status = 'failed';
        error = 'the run finished but its result is gone (deleted?)';
      }
    }
    this.experiments.updateCell(id, o.seq, { status, error, metrics });
    L.finishedHere++;
    const cell = this.experiments.cell(id, o.seq);
    if (cell) this.emitCell(id, cell);
    this.events.emit(id, { type: 'progress', progress: this.progress(id) } satisfies ExperimentEvent);
    // Submitting the next cell from inside the run manager's event would reorder its bookkeeping: do it next tick.
    setImmediate(() => this.failOnFault(id, () => this.pump(id)));
  }

  private complete(id: string) {
    this.live.delete(id);
    const c = this.experiments.counts(id);
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    const status: ExperimentStatus = c.done === 0 && c.failed > 0 ? 'failed' : 'done';
    const error = c.failed ? `${c.failed} of ${total} cells failed` : null;
    this.experiments.setStatus(id, status, error);
    this.events.emit(id, { type: 'status', status, error } satisfies ExperimentEvent);
  }

  private retryLater() {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      for (const id of [...this.live.keys()]) this.failOnFault(id, () => this.pump(id));
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private emitCell(id: string, c: CellRow) {
    this.events.emit(id, { type: 'cell', cell: toApiCell(c) } satisfies ExperimentEvent);
  }

  progress(id: string): ExperimentProgress {
    const c = this.experiments.counts(id);
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    const L = this.live.get(id);
    const left = c.pending + c.queued + c.running;
    const etaS = L && L.finishedHere > 0 ? Math.round(((Date.now() - L.since) / 1000 / L.finishedHere) * left) : left === 0 ? 0 : null;
    return { done: c.done, failed: c.failed + c.cancelled, total, etaS };
  }

  /** Cancels a running experiment: queued cells are dropped, running ones cancelled; finished cells are kept. */
  cancel(id: string): boolean {
    const L = this.live.get(id);
    if (!L) return false;
    this.live.delete(id);
    for (const [runId, o] of L.outstanding) {
      o.unsubscribe();
      if (this.d.runs.isLive(runId)) this.d.runs.cancel(runId);
    }
    this.experiments.cancelOpenCells(id);
    this.experiments.setStatus(id, 'cancelled', 'cancelled by the user');
    this.events.emit(id, { type: 'status', status: 'cancelled', error: 'cancelled by the user' } satisfies ExperimentEvent);
    return true;
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** Deletes an experiment and the runs of its cells (cancelling it first if it runs). */
  delete(id: string): boolean {
    if (!this.experiments.get(id)) return false;
    this.cancel(id);
    for (const runId of this.experiments.runIds(id)) {
      if (this.d.runs.isLive(runId)) this.d.runs.cancel(runId);
      this.d.store.delete(runId);
    }
    this.summaryCache.delete(id);
    return this.experiments.delete(id);
  }

  subscribe(id: string, fn: (e: ExperimentEvent) => void): () => void {
    this.events.on(id, fn);
    return () => this.events.off(id, fn);
  }

  /** The whole experiment with its statistics (recomputed only when more cells have finished). */
  detail(id: string): ExperimentDetail | null {
    const row = this.experiments.get(id);
    if (!row) return null;
    const cells = this.experiments.cells(id);
    const stats = statSettings(row.options);
    const done = cells.filter((c) => c.status === 'done').length;
    const key = `${done}:${cells.length}:${stats.resamples}:${stats.seed}`;
    let cached = this.summaryCache.get(id);
    // Resampling is CPU work on the event loop (resamples x inputs per statistic): while cells keep finishing, a
    // summary is recomputed at most every max(2 s, 5x its own cost), so it takes at most a sixth of the time.
    const fresh = cached && row.status === 'running' && Date.now() - cached.at < Math.max(2000, 5 * cached.ms);
    if (!cached || (cached.key !== key && !fresh)) {
      const t0 = performance.now();
      const grid: CellGrid = row.models.map(() => row.prompts.map(() => row.inputs.map(() => null)));
      for (const c of cells) if (c.status === 'done' && c.metrics) grid[c.model][c.prompt][c.input] = c.metrics;
      const computed = { summary: promptSummaries(grid, stats), pairs: pairSummaries(grid, stats), twins: row.models.length > 1 ? twinSummaries(grid, stats) : null };
      cached = { key, ...computed, at: Date.now(), ms: performance.now() - t0 };
      this.summaryCache.set(id, cached);
      if (this.summaryCache.size > 16) this.summaryCache.delete(this.summaryCache.keys().next().value!);
    }
    return {
      id: row.id,
      label: row.label,
      status: row.status,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
      error: row.error,
      models: row.models,
      options: row.options,
      statistics: stats,
      progress: this.progress(id),
      prompts: row.prompts,
      inputs: row.inputs,
      summary: cached.summary,
      pairs: cached.pairs,
      twins: cached.twins,
      cells: cells.map(toApiCell),
    };
  }

  /** Resolves when no experiment is running in this process. */
  async idle(): Promise<void> {
    while (this.live.size) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops following runs (cells stay as they are in the database, to be resumed by the next process). */
  close() {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const L of this.live.values()) for (const o of L.outstanding.values()) o.unsubscribe();
    this.live.clear();
  }
}

/** The texts of an experiment's (or a search's) inputs: pasted, or drawn from a bundled set; errors name the field. */
export function resolveExperimentInputs(inputs: CreateExperimentRequest['inputs']): ExperimentInput[] {
  if ('texts' in inputs) return inputs.texts.map((text) => ({ text }));
  const set = inputSets().get(inputs.set);
  if (!set) throw new InputError(`no bundled input set "${inputs.set}"; available: ${[...inputSets().keys()].join(', ')}`, 'inputs.set');
  if (inputs.count !== undefined && inputs.count > set.passages.length) {
    throw new InputError(`set "${set.id}" has ${set.passages.length} passages, fewer than ${inputs.count}`, 'inputs.count');
  }
  return sampleInputSet(set, inputs.count, inputs.seed ?? 1).map((p) => ({ text: p.text, source: { set: set.id, doc: p.doc, offset: p.offset } }));
}

export function toApiCell(c: CellRow): ExperimentCell {
  return {
    prompt: c.prompt,
    input: c.input,
    model: c.model,
    runId: c.runId,
    status: c.status,
    error: c.error,
    meanBenefit: c.metrics?.meanBenefit ?? null,
    meanBenefitRead: c.metrics?.meanBenefitRead ?? null,
    precomputationShare: c.metrics?.precomputationShare ?? null,
    depthCurve: c.metrics?.depthCurve ?? null,
  };
}
