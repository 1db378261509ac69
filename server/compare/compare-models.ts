// One analysis of the same prompt and input on two models (two exports of one model), and how far each metric moved.
import type { AnalysisOptions, AnalysisResult } from '../../shared/analysis.js';
import { diffAnalyses, type ModelDiff } from '../../shared/model-diff.js';
import type { RegisteredModel } from '../model/registry.js';
import type { EngineClient } from '../worker/engine-client.js';

export interface CompareModelsRequest {
  prompt: string;
  input: string;
  options?: Partial<AnalysisOptions>;
  maxBatchMB?: number;
}

export interface CompareModelsResult {
  a: AnalysisResult;
  b: AnalysisResult;
  diff: ModelDiff;
}

/**
 * Runs the analysis job (the one `precache-lens analyze` and the runs API use) on each model in turn, then diffs.
 * One after the other, so that only one model's sessions need memory at a time.
 */
export async function compareModels(engine: EngineClient, models: [RegisteredModel, RegisteredModel], req: CompareModelsRequest, onModel?: (k: 0 | 1) => void): Promise<CompareModelsResult> {
  const results: AnalysisResult[] = [];
  for (const [k, m] of models.entries()) {
    onModel?.(k as 0 | 1);
    results.push(
      await engine.task('analyze', { modelDir: m.md.dir, modelId: m.id, prompt: req.prompt, input: req.input, options: req.options ?? {}, maxBatchMB: req.maxBatchMB }).promise,
    );
  }
  const [a, b] = results;
  return { a, b, diff: diffAnalyses(a, b) };
}
