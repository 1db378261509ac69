// Runs prompt searches: races the variants over the inputs in rounds of racing cells (worker jobs), measures the
// finalists on held-out inputs, and explains them with an ordinary experiment (full analyses) and continuations.
// Everything is stored as it finishes; the race is replayed from the stored cells, so a search resumes after a restart.
import { EventEmitter } from 'node:events';
import { InputError, isCancelled } from '../../shared/errors.js';
import type { ExperimentInput } from '../../shared/experiments.js';
import { parseMarkedPrompt } from '../../shared/metrics/spans.js';
import { mulberry32 } from '../../shared/random.js';
import {
  MIN_SEARCH_INPUTS,
  searchOptionsWithDefaults,
  type CreateSearchRequest,
  type SearchDetail,
  type SearchFinalist,
  type SearchPhase,
  type SearchProgress,
  type SearchStatus,
  type SearchVariantState,
} from '../../shared/search.js';
import { searchVariants } from '../../shared/search-variants.js';
import { bootstrapRatioOfMeans } from '../../shared/stats/bootstrap.js';
import { heldOutFigures, pickFinalists, replayRace, type RaceState } from '../../shared/stats/race.js';
import type { ExperimentCell } from '../../shared/experiments.js';
import { isRecurrentConfig } from '../engine/recurrent-model.js';
import type { ExperimentManager } from '../experiments/experiment-manager.js';
import { resolveExperimentInputs } from '../experiments/experiment-manager.js';
import type { ModelRegistry, RegisteredModel } from '../model/registry.js';
import type { RunStore } from '../store/run-store.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { RaceBackend } from './race-backend.js';
import { InProcessRaceBackend } from './race-backend.js';
import { SearchStore, type SearchRow } from './search-store.js';

export type SearchEvent =
  | { type: 'progress'; progress: SearchProgress }
  | { type: 'round'; round: number }
  | { type: 'phase'; phase: SearchPhase }
  | { type: 'status'; status: SearchStatus; error: string | null };

export interface SearchDeps {
  store: RunStore;
  registry: ModelRegistry;
  engine: EngineClient;
  experiments: ExperimentManager;
  /** Where racing cells run (default: this process's engine thread). */
  race?: RaceBackend;
}

/** Race inputs per racing job: a job's cells are stored together, and a cancel waits for at most one job. */
const INPUTS_PER_JOB = 8;
const TOKENIZE_CHUNK = 64;

interface Live {
  model: RegisteredModel;
  cancelled: boolean;
  cancelJob: (() => void) | null;
  since: number;
  cellsHere: number;
  done: Promise<void>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The part of the winner's (prompt 0's) lead over finalist k read from precomputation, over the inputs where both
 * were analysed: sum (D_w(1) - D_k(1)) / sum (D_w(0) - D_k(0)), a ratio of means as pi is (DESIGN "Over many inputs").
 */
function leadShare(cells: ExperimentCell[], k: number, seed: number) {
  const curve = (p: number) => new Map(cells.filter((c) => c.prompt === p && c.model === 0 && c.status === 'done' && c.depthCurve).map((c) => [c.input, c.depthCurve!]));
  const w = curve(0);
  const o = curve(k);
  const d0: number[] = [];
  const d1: number[] = [];
  for (const [input, cw] of w) {
    const ck = o.get(input);
    if (!ck || cw.length < 2 || ck.length < 2) continue;
    d0.push(cw[0] - ck[0]);
    d1.push(cw[1] - ck[1]);
  }
  return d0.length >= 2 ? bootstrapRatioOfMeans(d1, d0, { seed }) : null;
}

export class SearchManager {
  readonly searches: SearchStore;
  private readonly events = new EventEmitter();
  private readonly live = new Map<string, Live>();
  private readonly race: RaceBackend;
  private closed = false;

  constructor(private readonly d: SearchDeps) {
    this.events.setMaxListeners(0);
    this.searches = new SearchStore(d.store.db);
    this.race = d.race ?? new InProcessRaceBackend(d.engine);
    for (const id of this.searches.running()) {
      const row = this.searches.get(id)!;
      const model = d.registry.get(row.model);
      if (!model) this.searches.setStatus(id, 'failed', `model ${row.model} is not available in this server; start it with that model to resume`);
      else this.take(id, model);
    }
  }

  /** Validates a request (throws InputError naming the field) and starts the search. */
  async create(req: CreateSearchRequest): Promise<SearchRow> {
    const options = searchOptionsWithDefaults(req.options);
    const modelId = req.model ?? this.d.registry.defaultId();
    const model = modelId ? this.d.registry.get(modelId) : undefined;
    if (!model) throw new InputError(`unknown model "${modelId}"; available: ${this.d.registry.list().map((m) => m.id).join(', ')}`, 'model');
    const variants = searchVariants(req.variants, options.seed);
    const inputs = resolveExperimentInputs(req.inputs);
    if (inputs.length < MIN_SEARCH_INPUTS) throw new InputError(`a search needs at least ${MIN_SEARCH_INPUTS} inputs (some race, some are held out); got ${inputs.length}`, 'inputs');
    // The held-out split: a seeded shuffle; the race uses the rest in that shuffled order.
    const order = inputs.map((_, i) => i);
    const rand = mulberry32(options.seed);
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    const nHeld = Math.min(inputs.length - 2, Math.max(2, Math.round(inputs.length * options.heldOut)));
    const heldOut = order.slice(0, nHeld).sort((a, b) => a - b);
    const raceInputs = order.slice(nHeld);
    const finalists = Math.min(options.finalists, variants.length);
    if (req.budget?.cells !== undefined) {
      const least = variants.length * Math.min(options.firstBatch, raceInputs.length) + finalists * nHeld;
      if (req.budget.cells < least) {
        throw new InputError(`${req.budget.cells} cells cannot pay for one round (${variants.length} variants x ${Math.min(options.firstBatch, raceInputs.length)} inputs) and the held-out round (${finalists} finalists x ${nHeld} inputs): give at least ${least}`, 'budget.cells');
      }
    }
    await this.preflight(model, variants.map((v) => v.text), inputs);
    const row = this.searches.create({
      label: req.label ?? null,
      model: model.id,
      objective: req.objective ?? 'benefit',
      budget: req.budget ?? {},
      options,
      variants,
      inputs,
      raceInputs,
      heldOut,
    });
    this.take(row.id, model);
    return row;
  }

  /** Token counts of every variant and input against the model's context, before anything runs. */
  private async preflight(model: RegisteredModel, prompts: string[], inputs: ExperimentInput[]) {
    if (isRecurrentConfig(model.md)) throw new InputError(`${model.id} is a recurrent model; prompt search runs on transformer graphs (its racing cells continue the prompt's keys/values)`, 'model');
    const info = await this.d.engine.info(model.md.dir);
    const count = async (texts: string[]) => {
      const out: number[] = [];
      for (let k = 0; k < texts.length; k += TOKENIZE_CHUNK) {
        const chunk = await Promise.all(texts.slice(k, k + TOKENIZE_CHUNK).map((text) => this.d.engine.task('tokenize', { modelDir: model.md.dir, text }).promise));
        out.push(...chunk.map((t) => t.ids.length));
      }
      return out;
    };
    const pLens = await count(prompts.map((p) => parseMarkedPrompt(p).text));
    const nLens = await count(inputs.map((x) => x.text));
    pLens.forEach((p, k) => {
      if (p === 0) throw new InputError(`variant ${k + 1} tokenizes to nothing`, 'variants');
    });
    const pMax = Math.max(...pLens);
    nLens.forEach((n, i) => {
      const field = inputs[i].source ? 'inputs.set' : `inputs.texts.${i}`;
      if (n === 0) throw new InputError(`input ${i + 1} tokenizes to nothing`, field);
      if (1 + pMax + n > info.config.nCtx) {
        throw new InputError(`input ${i + 1}: [BOS] + the longest variant (${pMax} tokens) + the input (${n} tokens) = ${1 + pMax + n} tokens, longer than the model's context of ${info.config.nCtx}`, field);
      }
    });
  }

  private take(id: string, model: RegisteredModel) {
    const L: Live = { model, cancelled: false, cancelJob: null, since: Date.now(), cellsHere: 0, done: Promise.resolve() };
    this.live.set(id, L);
    L.done = this.drive(id, L).catch((e: unknown) => {
      if (this.closed) return;
      if (L.cancelled || isCancelled(e)) return;
      this.finish(id, 'failed', (e as Error).message);
    });
  }

  /** The race replayed from the stored cells. */
  raceState(row: SearchRow, cells = this.valueTable(row)): RaceState {
    const F = Math.min(row.options.finalists, row.variants.length);
    return replayRace(
      {
        nVariants: row.variants.length,
        nRace: row.raceInputs.length,
        firstBatch: row.options.firstBatch,
        level: row.options.level,
        budgetCells: row.budget.cells,
        reserveCells: F * row.heldOut.length,
        frozen: row.frozen ?? undefined,
        halving: row.options.halving,
      },
      (v, j) => cells.get(v)?.get(row.raceInputs[j]),
    );
  }

  /** Objective per variant and input, for the cells whose baseline is known. */
  private valueTable(row: SearchRow): Map<number, Map<number, number>> {
    const base = this.searches.baselines(row.id);
    const out = new Map<number, Map<number, number>>();
    for (const c of this.searches.cells(row.id)) {
      const ref = row.objective === 'benefit' ? base.get(c.input) : (c.lossShifted ?? undefined);
      if (ref === undefined) continue;
      let m = out.get(c.variant);
      if (!m) out.set(c.variant, (m = new Map()));
      m.set(c.input, ref - c.lossWith);
    }
    return out;
  }

  private async drive(id: string, L: Live) {
    // --- the race
    for (;;) {
      if (this.closed || L.cancelled) return;
      const row = this.searches.get(id)!;
      const state = this.raceState(row);
      if (!state.need) break;
      const seconds = row.budget.seconds;
      if (seconds !== undefined && Date.now() - Date.parse(row.createdAt) > seconds * 1000) {
        this.searches.freeze(id, { rounds: state.rounds.length, reason: 'budget-seconds' });
        continue;
      }
      // The next job: from the first race input some needed variant lacks, up to INPUTS_PER_JOB inputs of the round.
      const have = this.valueTable(row);
      const lacks = (v: number, j: number) => !have.get(v)?.has(row.raceInputs[j]);
      let j0 = state.need.from;
      while (j0 < state.need.to && !state.need.variants.some((v) => lacks(v, j0))) j0++;
      const slice = Array.from({ length: Math.min(state.need.to, j0 + INPUTS_PER_JOB) - j0 }, (_, k) => j0 + k);
      const variants = state.need.variants.filter((v) => slice.some((j) => lacks(v, j)));
      const inputs = slice.map((j) => row.raceInputs[j]);
      await this.runCells(id, L, row, variants, inputs);
      const after = this.raceState(this.searches.get(id)!);
      if (after.rounds.length > state.rounds.length) this.emit(id, { type: 'round', round: after.rounds.length - 1 });
    }
    // --- the finalists on the held-out inputs
    let row = this.searches.get(id)!;
    const state = this.raceState(row);
    if (!state.rounds.length) {
      this.finish(id, 'done', 'the budget was spent before the first round finished: no finalists');
      return;
    }
    const finalists = pickFinalists(state, Math.min(row.options.finalists, row.variants.length));
    this.setPhase(id, 'held-out');
    const have = this.valueTable(row);
    const missing = row.heldOut.filter((i) => finalists.some((v) => !have.get(v)?.has(i)));
    for (let k = 0; k < missing.length; k += INPUTS_PER_JOB) {
      if (this.closed || L.cancelled) return;
      await this.runCells(id, L, row, finalists, missing.slice(k, k + INPUTS_PER_JOB));
    }
    // --- explain: an ordinary experiment (full analyses) of the finalists on held-out inputs, and continuations
    this.setPhase(id, 'explain');
    row = this.searches.get(id)!;
    const explainIdx = row.heldOut.slice(0, row.options.explainInputs);
    let experimentId = row.experimentId;
    if (!experimentId && explainIdx.length) {
      const x = await this.d.experiments.create({
        model: row.model,
        label: `${row.label ?? 'search'} · finalists`,
        prompts: finalists.map((v) => ({ label: row.variants[v].label, text: row.variants[v].text })),
        inputs: { texts: explainIdx.map((i) => row.inputs[i].text) },
        options: { spanKnockouts: false, seed: row.options.seed },
      });
      experimentId = x.id;
      this.searches.setExperiment(id, experimentId);
    }
    const extras = await Promise.all(
      finalists.map(async (v, k) => {
        if (!row.options.continuations && k > 0) return { nextTokens: [], continuations: [] };
        const job = this.race.continuations(L.model, { prompt: row.variants[v].text, count: row.options.continuations, tokens: row.options.continuationTokens, seed: row.options.seed + k, topK: 5 });
        return job.promise;
      }),
    );
    if (experimentId) await this.waitForExperiment(experimentId, L);
    if (this.closed || L.cancelled) return;
    this.searches.setFinalists(id, this.finalistsOf(this.searches.get(id)!, finalists, extras));
    this.setPhase(id, 'done');
    this.finish(id, 'done', null);
  }

  private async waitForExperiment(experimentId: string, L: Live) {
    while (!this.closed && !L.cancelled && this.d.experiments.isLive(experimentId)) await new Promise((r) => setTimeout(r, 100));
  }

  private finalistsOf(row: SearchRow, finalists: number[], extras: { nextTokens: SearchFinalist['nextTokens']; continuations: string[] }[]): SearchFinalist[] {
    const x = row.experimentId ? this.d.experiments.detail(row.experimentId) : null;
    return finalists.map((v, k) => {
      // pi over the explained inputs is the experiment's ratio of means (sum D(1) / sum D(0)) with its bootstrap interval.
      const summary = x?.summary.find((s) => s.prompt === k && s.model === 0);
      return {
        variant: v,
        heldOut: { meanBenefit: null, n: 0, vsWinner: null },
        precomputationShare: summary?.precomputationShare ?? null,
        leadPrecomputationShare: k === 0 || !x ? null : leadShare(x.cells, k, row.options.seed),
        depthCurve: summary?.depthCurve.length ? summary.depthCurve : null,
        runIds: (x?.cells ?? []).filter((c) => c.prompt === k && c.runId).map((c) => c.runId!),
        continuations: extras[k]?.continuations ?? [],
        nextTokens: extras[k]?.nextTokens ?? [],
      };
    });
  }

  /** Runs the racing cells of `variants` x `inputs` (input indices) as one job and stores them. */
  private async runCells(id: string, L: Live, row: SearchRow, variants: number[], inputs: number[]) {
    if (!variants.length || !inputs.length) return;
    const base = this.searches.baselines(id);
    const needNatural = row.objective === 'benefit' && inputs.some((i) => !base.has(i));
    const job = this.race.race(L.model, {
      prompts: variants.map((v) => row.variants[v].text),
      inputs: inputs.map((i) => row.inputs[i].text),
      natural: needNatural,
      shifted: row.objective === 'benefitAtPromptPositions',
    });
    L.cancelJob = job.cancel;
    let r;
    try {
      r = await job.promise;
    } finally {
      L.cancelJob = null;
    }
    if (this.closed || L.cancelled) return;
    const cells = variants.flatMap((v, k) =>
      inputs.map((input, i) => ({ variant: v, input, lossWith: mean(r.withPrompt[k][i]), lossShifted: r.shifted ? mean(r.shifted[k][i]) : null })),
    );
    const baselines = r.natural ? inputs.map((input, i) => ({ input, lossNatural: mean(r.natural![i]) })) : [];
    this.searches.addCells(id, cells, baselines);
    L.cellsHere += cells.length;
    this.emit(id, { type: 'progress', progress: this.progress(id) });
  }

  private setPhase(id: string, phase: SearchPhase) {
    this.searches.setPhase(id, phase);
    this.emit(id, { type: 'phase', phase });
  }

  private finish(id: string, status: SearchStatus, error: string | null) {
    this.live.delete(id);
    this.searches.setStatus(id, status, error);
    this.emit(id, { type: 'status', status, error });
  }

  private emit(id: string, e: SearchEvent) {
    this.events.emit(id, e);
  }

  progress(id: string): SearchProgress {
    const row = this.searches.get(id);
    if (!row) return { cells: 0, maxCells: 0, etaS: null };
    const cells = this.searches.cells(id).length;
    const F = Math.min(row.options.finalists, row.variants.length);
    const grid = row.variants.length * row.raceInputs.length + F * row.heldOut.length;
    const maxCells = Math.min(grid, row.budget.cells ?? grid);
    const L = this.live.get(id);
    const left = row.status === 'running' ? Math.max(0, maxCells - cells) : 0;
    const etaS = L && L.cellsHere > 0 ? Math.round(((Date.now() - L.since) / 1000 / L.cellsHere) * left) : left === 0 ? 0 : null;
    return { cells, maxCells, etaS };
  }

  isLive(id: string): boolean {
    return this.live.has(id);
  }

  /** Cancels a running search: the job in flight stops; the rounds finished so far are kept (and reported). */
  cancel(id: string): boolean {
    const L = this.live.get(id);
    if (!L) return false;
    L.cancelled = true;
    L.cancelJob?.();
    const row = this.searches.get(id)!;
    this.searches.freeze(id, { rounds: this.raceState(row).rounds.length, reason: 'cancelled' });
    if (row.experimentId && this.d.experiments.isLive(row.experimentId)) this.d.experiments.cancel(row.experimentId);
    this.finish(id, 'cancelled', 'cancelled by the user');
    return true;
  }

  /** Deletes a search (cancelling it first) and the experiment that explained its finalists. */
  delete(id: string): boolean {
    const row = this.searches.get(id);
    if (!row) return false;
    this.cancel(id);
    if (row.experimentId) this.d.experiments.delete(row.experimentId);
    return this.searches.delete(id);
  }

  subscribe(id: string, fn: (e: SearchEvent) => void): () => void {
    this.events.on(id, fn);
    return () => this.events.off(id, fn);
  }

  detail(id: string): SearchDetail | null {
    const row = this.searches.get(id);
    if (!row) return null;
    const values = this.valueTable(row);
    const state = this.raceState(row, values);
    const raceOver = state.stop !== null;
    const F = Math.min(row.options.finalists, row.variants.length);
    const finalistIdx = raceOver && state.rounds.length ? pickFinalists(state, F) : [];
    const held = finalistIdx.length ? heldOutFigures(finalistIdx, new Map(finalistIdx.map((v) => [v, row.heldOut.flatMap((i) => (values.get(v)?.has(i) ? [values.get(v)!.get(i)!] : []))])), row.options.level) : null;
    const heldComplete = held !== null && held.finalists.every((f) => f.n === row.heldOut.length);
    const droppedAt = new Map<number, number>();
    state.rounds.forEach((r, k) => r.dropped.forEach((v) => droppedAt.set(v, k)));
    const variants: SearchVariantState[] = row.variants.map((v, k) => {
      let lastRound = -1;
      state.rounds.forEach((r, j) => {
        if (r.live.includes(k)) lastRound = j;
      });
      const r = lastRound >= 0 ? state.rounds[lastRound] : null;
      return {
        text: v.text,
        label: v.label,
        status: finalistIdx.includes(k) && heldComplete ? 'finalist' : droppedAt.has(k) ? 'dropped' : 'live',
        roundDropped: droppedAt.get(k) ?? null,
        estimate: r?.estimates.get(k) ?? null,
        n: r?.inputs ?? 0,
        vsLeader: r?.vsLeader.get(k) ?? null,
      };
    });
    const stored = row.finalists;
    const finalists: SearchFinalist[] = heldComplete
      ? held.finalists.map((f, k) => ({
          ...(stored?.[k] ?? { variant: f.variant, precomputationShare: null, leadPrecomputationShare: null, depthCurve: null, runIds: [], continuations: [], nextTokens: [] }),
          variant: f.variant,
          heldOut: { meanBenefit: f.mean, n: f.n, vsWinner: f.vsWinner },
        }))
      : [];
    const cells = this.searches.cells(id).length;
    return {
      id: row.id,
      label: row.label,
      status: row.status,
      phase: row.phase,
      error: row.error,
      createdAt: row.createdAt,
      finishedAt: row.finishedAt,
      model: row.model,
      objective: row.objective,
      budget: row.budget,
      options: row.options,
      stopReason: state.stop,
      inputs: row.inputs,
      raceInputs: row.raceInputs,
      heldOutInputs: row.heldOut,
      progress: this.progress(id),
      rounds: state.rounds.map((r) => ({ inputs: r.inputs, live: r.live, leader: r.leader, dropped: r.dropped })),
      variants,
      finalists,
      lead: heldComplete ? held.lead : null,
      cells,
      gridCells: row.variants.length * row.inputs.length,
      baselines: this.searches.baselines(id).size,
      experimentId: row.experimentId,
    };
  }

  /** Resolves when no search is running in this process. */
  async idle(): Promise<void> {
    while (this.live.size) await new Promise((r) => setTimeout(r, 50));
  }

  /** Stops driving searches (they stay running in the database, to be resumed by the next process). */
  close() {
    this.closed = true;
    for (const L of this.live.values()) L.cancelJob?.();
    this.live.clear();
  }
}
