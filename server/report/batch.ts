// Batch mode: every prompt x every input analysed once, each result saved as it finishes (resumable), then one
// comparison report per input gathered into the batch report files.
import fs from 'node:fs';
import path from 'node:path';
import type { AnalysisOptions, AnalysisProgress, AnalysisResult } from '../../shared/analysis.js';
import type { EngineClient } from '../worker/engine-client.js';
import type { ModelDir } from '../model/model-dir.js';
import type { AnalyzeJobArgs } from '../worker/jobs.js';
import { buildBatchReport, parseAnalysisResult } from './build.js';
import { batchCsv, COMPARISON_TABLES } from './csv.js';
import { renderBatchHtml } from './html.js';
import { splitBlocks } from '../../shared/experiment-inputs.js';
import { writeBeside } from '../disk-space.js';

export function readBlocksFile(file: string, flag: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${flag}: cannot read ${file}`);
  }
  const blocks = splitBlocks(text);
  if (blocks.length === 0) throw new Error(`${flag}: ${file} holds no texts (separate texts with lines containing only ---)`);
  return blocks;
}

/**
 * Writes a file so that it either appears whole or not at all (rename is atomic on one file system); one that does
 * not fit is an OutOfSpaceError naming the directory, and leaves no temporary file.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array) {
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  writeBeside(file, bytes, path.basename(file), (tmp) => fs.writeFileSync(tmp, data));
}

export const pairFile = (outDir: string, p: number, i: number) => path.join(outDir, 'runs', `${p + 1}-${i + 1}.json`);

export interface BatchOptions {
  engine: EngineClient;
  md: ModelDir;
  modelId: string;
  modelHash: string;
  prompts: string[];
  inputs: string[];
  outDir: string;
  options: Partial<AnalysisOptions>;
  maxBatchMB?: number;
  /** Called when a pair starts (`cached` when its saved result is reused), on analysis progress, and when it ends. */
  onPair?: (e: { p: number; i: number; index: number; total: number; state: 'cached' | 'start' | 'done' | 'stale'; progress?: AnalysisProgress }) => void;
}

/** A saved result is reused only if it is for the same texts, model graph and explicitly chosen options. */
function reusable(file: string, o: BatchOptions, prompt: string, input: string): { result: AnalysisResult | null; stale: boolean } {
  if (!fs.existsSync(file)) return { result: null, stale: false };
  try {
    const r = parseAnalysisResult(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    const optionsMatch = Object.entries(o.options).every(([k, v]) => v === undefined || r.options[k as keyof AnalysisOptions] === v);
    if (r.prompt.raw === prompt && r.input.text === input && r.model.hash === o.modelHash && optionsMatch) return { result: r, stale: false };
  } catch {
    // Unreadable or not a result: recompute it.
  }
  return { result: null, stale: true };
}

export interface BatchOutcome {
  computed: number;
  reused: number;
  files: string[];
}

export async function runBatch(o: BatchOptions): Promise<BatchOutcome> {
  fs.mkdirSync(path.join(o.outDir, 'runs'), { recursive: true });
  const total = o.prompts.length * o.inputs.length;
  const results: AnalysisResult[][] = o.inputs.map(() => []);
  let computed = 0;
  let reused = 0;
  let index = 0;
  for (let i = 0; i < o.inputs.length; i++) {
    for (let p = 0; p < o.prompts.length; p++) {
      const file = pairFile(o.outDir, p, i);
      const saved = reusable(file, o, o.prompts[p], o.inputs[i]);
      if (saved.result) {
        results[i][p] = saved.result;
        reused++;
        o.onPair?.({ p, i, index: index++, total, state: 'cached' });
        continue;
      }
      o.onPair?.({ p, i, index, total, state: saved.stale ? 'stale' : 'start' });
      const args: AnalyzeJobArgs = { modelDir: o.md.dir, modelId: o.modelId, prompt: o.prompts[p], input: o.inputs[i], options: o.options, maxBatchMB: o.maxBatchMB };
      let result: AnalysisResult;
      try {
        result = await o.engine.task('analyze', args, (pr) => o.onPair?.({ p, i, index, total, state: 'start', progress: pr })).promise;
      } catch (e) {
        throw new Error(`prompt ${p + 1} x input ${i + 1}: ${(e as Error).message} (finished pairs are saved in ${path.join(o.outDir, 'runs')}; rerun to resume)`);
      }
      writeFileAtomic(file, JSON.stringify(result, null, 1));
      results[i][p] = result;
      computed++;
      o.onPair?.({ p, i, index: index++, total, state: 'done' });
    }
  }
  return { computed, reused, files: writeBatchReports(o.outDir, o.prompts, o.inputs, results, o.md) };
}

/** comparison.json, comparison.html, comparison.csv (summary) and comparison-<table>.csv; returns the paths. */
export function writeBatchReports(outDir: string, prompts: string[], inputs: string[], results: AnalysisResult[][], md: ModelDir | null): string[] {
  const report = buildBatchReport(prompts, inputs, results, md);
  const files: [string, string][] = [
    ['comparison.json', `${JSON.stringify(report, null, 1)}\n`],
    ['comparison.html', renderBatchHtml(report)],
    ...COMPARISON_TABLES.map((t): [string, string] => [t === 'summary' ? 'comparison.csv' : `comparison-${t}.csv`, batchCsv(report, t)]),
  ];
  return files.map(([name, data]) => {
    const file = path.join(outDir, name);
    writeFileAtomic(file, data);
    return file;
  });
}
