// /api/compare-models: how far each metric moved between two finished runs of one prompt + input on two models.
import { Router } from 'express';
import { z } from 'zod';
import type { AnalysisResult } from '../../shared/analysis.js';
import { InputError } from '../../shared/errors.js';
import { diffAnalyses } from '../../shared/model-diff.js';
import { HttpError } from '../http-error.js';
import type { RunStore } from '../store/run-store.js';
import { parse, requireDoneRun, wrap } from './http.js';

export const CompareModelsSchema = z.object({ runs: z.tuple([z.string().uuid(), z.string().uuid()]) }).strict();

export interface CompareModelsDeps {
  store: RunStore;
}

export function compareModelsRouter(d: CompareModelsDeps): Router {
  const r = Router();
  r.post(
    '/compare-models',
    wrap(
      (req, res) => {
        const body = parse(CompareModelsSchema, req.body);
        const [a, b] = body.runs.map((id, k) => requireDoneRun(d.store, id, `runs.${k}`));
        if (a.prompt !== b.prompt || a.input !== b.input) throw new HttpError(422, 'runs: the two runs analysed different prompts or inputs; run the same prompt and input on both models', 'runs');
        const diff = diffAnalyses(a.result as AnalysisResult, b.result as AnalysisResult);
        res.json({ runs: body.runs, models: [a.modelId, b.modelId], diff });
      },
      (e) => (e instanceof InputError ? new HttpError(422, e.message, e.field) : e),
    ),
  );
  return r;
}
