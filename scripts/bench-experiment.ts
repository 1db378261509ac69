// `npm run bench -- --experiment`: an experiment of 4 prompts x N inputs (default 50) on the default model against
// the same 4N cells as separate analyses in the same process; reported as times and a ratio, never asserted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyze } from '../server/analysis/analyze.js';
import { clearRunCaches } from '../server/analysis/execute.js';
import { HookedModel } from '../server/engine/hooked-model.js';
import { ExperimentManager } from '../server/experiments/experiment-manager.js';
import { inputSets, sampleInputSet } from '../server/experiments/input-sets.js';
import { ModelRegistry } from '../server/model/registry.js';
import { loadTokenizer } from '../server/model/tokenizer.js';
import { RunManager } from '../server/runs/run-manager.js';
import { RunStore } from '../server/store/run-store.js';
import { EngineClient } from '../server/worker/engine-client.js';

export const BENCH_PROMPTS = [
  'The following is a State of the Union address by the President of the United States. ',
  'Fellow-Citizens of the Senate and House of Representatives: ',
  'Once upon a time, ',
  'Transcript: ',
];
const SET = 'sotu-1861-1945';
// Span knockouts are off in both legs: they are per-prompt work that no sharing changes, and they would triple the time.
const OPTIONS = { spanKnockouts: false };

export interface ExperimentBench {
  prompts: number;
  inputs: number;
  cells: number;
  separateMs: number;
  experimentMs: number;
  separatePerCellMs: number;
  experimentPerCellMs: number;
  speedup: number;
  /** CPU time (user + system, all threads of the process) of each leg: less moved by other work on a shared host. */
  separateCpuMs: number;
  experimentCpuMs: number;
  cpuSpeedup: number;
  maxAbsDiffMeanBenefit: number;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

export async function benchExperiment(o: { model: string; threads: number; graphCache: string; inputs: number }): Promise<ExperimentBench> {
  const inputs = sampleInputSet(inputSets().get(SET)!, o.inputs, 1).map((p) => p.text);
  const cells = BENCH_PROMPTS.length * inputs.length;
  console.log(`experiment bench: ${BENCH_PROMPTS.length} prompts x ${inputs.length} inputs (bundled set ${SET}) = ${cells} cells, options ${JSON.stringify(OPTIONS)}, ${o.threads} ORT threads`);

  // Leg 1: separate analyses, each from scratch as a lone run would be (the process-wide no-prompt cache emptied).
  const m = HookedModel.load(o.model, { threads: o.threads, cacheDir: o.graphCache });
  const tok = loadTokenizer(m.md);
  await analyze(m, tok, { modelId: 'bench', prompt: BENCH_PROMPTS[0], input: inputs[0], options: OPTIONS });
  const separate = new Map<string, number>();
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  for (let i = 0; i < inputs.length; i++) {
    for (let p = 0; p < BENCH_PROMPTS.length; p++) {
      clearRunCaches();
      const r = await analyze(m, tok, { modelId: 'bench', prompt: BENCH_PROMPTS[p], input: inputs[i], options: OPTIONS });
      separate.set(`${p}:${i}`, r.summary.meanBenefit);
    }
  }
  const separateMs = performance.now() - t1;
  const separateCpuMs = cpuMs(process.cpuUsage(c1));
  clearRunCaches();
  console.log(`  separate analyses: ${(separateMs / 1000).toFixed(1)} s`);

  // Leg 2: the same cells as one experiment (RunManager queue, engine worker, SQLite), after one warm-up run.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pl-bench-exp-'));
  const store = new RunStore(dataDir);
  const engine = new EngineClient({ threads: o.threads, cacheDir: o.graphCache });
  const registry = new ModelRegistry([o.model], false);
  const runs = new RunManager(store, engine, 1);
  const manager = new ExperimentManager({ store, runs, registry, engine });
  try {
    const model = registry.list()[0];
    const warm = runs.submit(model, { prompt: 'Warm-up: ', input: 'The engine loads the model.', options: OPTIONS });
    await new Promise<void>((resolve) => {
      const off = runs.subscribe(warm.id, (e) => {
        if (e.type === 'status' && (e.status === 'done' || e.status === 'failed')) {
          off();
          resolve();
        }
      });
    });
    const t2 = performance.now();
    const c2 = process.cpuUsage();
    const row = await manager.create({ model: model.id, prompts: BENCH_PROMPTS.map((text) => ({ text })), inputs: { texts: inputs }, options: OPTIONS });
    await manager.idle();
    const experimentMs = performance.now() - t2;
    const experimentCpuMs = cpuMs(process.cpuUsage(c2));
    const d = manager.detail(row.id)!;
    if (d.progress.done !== cells) throw new Error(`experiment finished ${d.progress.done} of ${cells} cells: ${d.error}`);
    let maxAbsDiffMeanBenefit = 0;
    for (const c of d.cells) maxAbsDiffMeanBenefit = Math.max(maxAbsDiffMeanBenefit, Math.abs(c.meanBenefit! - separate.get(`${c.prompt}:${c.input}`)!));
    console.log(`  experiment:        ${(experimentMs / 1000).toFixed(1)} s`);
    const out: ExperimentBench = {
      prompts: BENCH_PROMPTS.length,
      inputs: inputs.length,
      cells,
      separateMs,
      experimentMs,
      separatePerCellMs: separateMs / cells,
      experimentPerCellMs: experimentMs / cells,
      speedup: separateMs / experimentMs,
      separateCpuMs,
      experimentCpuMs,
      cpuSpeedup: separateCpuMs / experimentCpuMs,
      maxAbsDiffMeanBenefit,
    };
    console.log(`  per cell: separate ${out.separatePerCellMs.toFixed(0)} ms, experiment ${out.experimentPerCellMs.toFixed(0)} ms; experiment is ${out.speedup.toFixed(2)}x faster [target >= 1.5]; max |mean B difference| ${maxAbsDiffMeanBenefit.toExponential(1)}`);
    console.log(`  CPU time (all threads): separate ${(separateCpuMs / 1000).toFixed(1)} s, experiment ${(experimentCpuMs / 1000).toFixed(1)} s: ${out.cpuSpeedup.toFixed(2)}x less`);
    return out;
  } finally {
    manager.close();
    await engine.close();
    store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
