// `npm run bench -- --search`: a prompt search of 16 template variants over 64 inputs of a bundled set on the default
// model, against one plain forward, one full analysis and the full grid of racing cells, all in one process; reported
// as numbers and ratios, never asserted (docs/search.md).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMarkedPrompt } from '../shared/metrics/spans.js';
import { expandTemplate } from '../shared/search-variants.js';
import { tInterval } from '../shared/stats/race.js';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { HookedModel } from '../server/engine/hooked-model.js';
import { ExperimentManager } from '../server/experiments/experiment-manager.js';
import { inputSets, sampleInputSet } from '../server/experiments/input-sets.js';
import { ModelRegistry } from '../server/model/registry.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { RunManager } from '../server/runs/run-manager.js';
import { raceCells } from '../server/search/race-cells.js';
import { SearchManager } from '../server/search/search-manager.js';
import { RunStore } from '../server/store/run-store.js';
import { EngineClient } from '../server/worker/engine-client.js';

export const BENCH_TEMPLATE = '{{who|The President||Mr. Speaker||Fellow-Citizens||Transcript}} {{how|addressed the Congress||said||wrote to the nation||spoke}}:\n';
const SET = 'sotu-1861-1945';
const INPUTS = 64;

export interface SearchBench {
  variants: number;
  inputs: number;
  /** Racing cells the search computed (race and held-out round). */
  cells: number;
  /** variants x inputs. */
  gridCells: number;
  /** Wall time of the search (racing and held-out cells, baselines, preflight) per racing cell. */
  msPerCell: number;
  searchMs: number;
  /** One plain forward (logits only) of [BOS] + prompt + input of the median lengths. */
  plainForwardMs: number;
  /** One full analysis (headline, depth curve, span knockouts) of one cell, median of 3. */
  analysisMsPerCell: number;
  /** The search's time against the same grid as experiment cells (gridCells x analysisMsPerCell). */
  costShareOfGrid: number;
  cellsShareOfGrid: number;
  msPerCellOverPlainForward: number;
  /** CPU time (user + system, every thread of the process) per cell and per plain forward: less moved by other work on a shared host. */
  cpuMsPerCell: number;
  plainForwardCpuMs: number;
  cpuMsPerCellOverPlainForward: number;
  winner: number;
  winnerLabel: string;
  /** The full grid of racing cells, ranked by the mean objective over all inputs. */
  gridBest: number;
  winnerRankInGrid: number;
  /** The paired interval (grid best - winner) over all inputs covers 0. */
  winnerWithinGridInterval: boolean;
  rounds: number;
  stopReason: string | null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchSearch(o: { model: string; threads: number; graphCache: string }): Promise<SearchBench> {
  const inputs = sampleInputSet(inputSets().get(SET)!, INPUTS, 1).map((p) => p.text);
  const variants = expandTemplate(BENCH_TEMPLATE);
  const gridCells = variants.length * inputs.length;
  console.log(`search bench: ${variants.length} template variants x ${inputs.length} inputs (bundled set ${SET}) = ${gridCells} grid cells, ${o.threads} ORT threads`);

  // The search, as the server runs it (engine worker thread, SQLite), after one warm-up job.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bench-search-'));
  const store = new RunStore(dataDir);
  const engine = new EngineClient({ threads: o.threads, cacheDir: o.graphCache });
  const registry = new ModelRegistry([o.model], false);
  const runs = new RunManager(store, engine, 1);
  const experiments = new ExperimentManager({ store, runs, registry, engine });
  const manager = new SearchManager({ store, registry, engine, experiments });
  let d;
  let searchMs: number;
  let searchCpuMs: number;
  try {
    const model = registry.list()[0];
    await engine.task('race', { modelDir: model.md.dir, prompts: ['Warm-up: '], inputs: ['The engine loads the model.'], natural: true, shifted: false }).promise;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const row = await manager.create({ model: model.id, variants: { template: BENCH_TEMPLATE }, inputs: { texts: inputs }, options: { explainInputs: 0, continuations: 0 } });
    await manager.idle();
    searchMs = performance.now() - t0;
    const cu = process.cpuUsage(c0);
    searchCpuMs = (cu.user + cu.system) / 1000;
    d = manager.detail(row.id)!;
    if (d.status !== 'done') throw new Error(`search ended ${d.status}: ${d.error}`);
  } finally {
    manager.close();
    experiments.close();
    await engine.close();
    store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`  search: ${(searchMs / 1000).toFixed(1)} s, ${d.cells} cells in ${d.rounds.length} rounds (${d.stopReason}); winner V${d.finalists[0].variant + 1} ${variants[d.finalists[0].variant].label}`);

  // In this process: one plain forward of the same lengths, one full analysis per cell, and the full grid.
  const m = HookedModel.load(o.model, { threads: o.threads, cacheDir: o.graphCache });
  const tok = loadTokenizer(m.md);
  try {
    const p = median(variants.map((v) => tok.encode(parseMarkedPrompt(v.text).text).length));
    const n = median(inputs.map((x) => tok.encode(x).length));
    const seq = [tok.bosId, ...Array.from({ length: p + n }, (_, k) => tok.encode(' the')[0] + (k % 7))];
    await m.run({ tokens: [seq] });
    const plain: number[] = [];
    const plainCpu: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t = performance.now();
      const c = process.cpuUsage();
      await m.run({ tokens: [seq] });
      plain.push(performance.now() - t);
      const cu = process.cpuUsage(c);
      plainCpu.push((cu.user + cu.system) / 1000);
    }
    const plainForwardMs = median(plain);
    const plainForwardCpuMs = median(plainCpu);
    const full: number[] = [];
    for (let k = 0; k < 3; k++) {
      clearRunCaches();
      const t = performance.now();
      await analyze(m, tok, { modelId: 'bench', prompt: variants[k].text, input: inputs[k] });
      full.push(performance.now() - t);
    }
    const analysisMsPerCell = median(full);
    console.log(`  plain forward of ${1 + p + n} tokens: ${plainForwardMs.toFixed(1)} ms; full analysis of one cell: ${analysisMsPerCell.toFixed(0)} ms`);

    // The whole grid with the racing cells (the cheap path): does it rank the search's winner first, or within its interval?
    const g = await raceCells(m, tok, { prompts: variants.map((v) => v.text), inputs, natural: true, shifted: false });
    const obj = variants.map((_, v) => inputs.map((_, i) => mean(g.natural![i]) - mean(g.withPrompt[v][i])));
    const means = obj.map(mean);
    const order = means.map((_, v) => v).sort((a, b) => means[b] - means[a]);
    const winner = d.finalists[0].variant;
    const gridBest = order[0];
    const diff = tInterval(
      obj[gridBest].map((x, i) => x - obj[winner][i]),
      0.95,
    );
    const out: SearchBench = {
      variants: variants.length,
      inputs: inputs.length,
      cells: d.cells,
      gridCells,
      msPerCell: searchMs / d.cells,
      searchMs,
      plainForwardMs,
      analysisMsPerCell,
      costShareOfGrid: searchMs / (gridCells * analysisMsPerCell),
      cellsShareOfGrid: d.cells / gridCells,
      msPerCellOverPlainForward: searchMs / d.cells / plainForwardMs,
      cpuMsPerCell: searchCpuMs / d.cells,
      plainForwardCpuMs,
      cpuMsPerCellOverPlainForward: searchCpuMs / d.cells / plainForwardCpuMs,
      winner,
      winnerLabel: variants[winner].label,
      gridBest,
      winnerRankInGrid: order.indexOf(winner) + 1,
      winnerWithinGridInterval: gridBest === winner || (diff !== null && diff.lo <= 0),
      rounds: d.rounds.length,
      stopReason: d.stopReason,
    };
    console.log(
      `  cells ${out.cells} of ${gridCells} (${(100 * out.cellsShareOfGrid).toFixed(1)}% [target <= 50%]); ${out.msPerCell.toFixed(1)} ms per cell = ${out.msPerCellOverPlainForward.toFixed(2)} plain forwards [target <= 1.5] (CPU time: ${out.cpuMsPerCell.toFixed(1)} ms per cell = ${out.cpuMsPerCellOverPlainForward.toFixed(2)} plain forwards); ` +
        `the search costs ${(100 * out.costShareOfGrid).toFixed(2)}% of the grid as experiment cells [target < 2%]; grid ranks the winner #${out.winnerRankInGrid}${out.winnerWithinGridInterval ? ' (within the interval of the grid best)' : ''}`,
    );
    return out;
  } finally {
    await m.release();
  }
}
