// The analysis pipeline: plan -> execute -> assemble, delivering the result in stages (headline, depth, spans).
import type { AnalysisOptions, AnalysisProgress, AnalysisResult, AnalysisStage, DepthStage, HeadlineStage, PartialEvent, SpansStage } from '../../shared/analysis.js';
import { InputError } from '../../shared/errors.js';
import type { HookedModel } from '../engine/hooked-model.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import { settings } from '../settings.js';
import { assembleResult, depthStage, headlineStage, KnockoutLosses, naturalReference, spansStage, variantSummaries } from './assemble.js';
import { Executor, type WithPromptRun } from './execute.js';
import { planAnalysis, refineSpans, spanVariants, type Variant } from './plan.js';

export interface AnalyzeArgs {
  modelId: string;
  prompt: string;
  input: string;
  options?: Partial<AnalysisOptions>;
  /** Peak memory bound for one engine call, in MiB (estimated); batches are split to stay under it. */
  maxBatchMB?: number;
  /**
   * Reuse the prompt's keys/values for the knockouts when the graph takes a KV cache (default true): blocking
   * X -> P' never changes the prompt's columns, so each knockout only computes X's columns.
   */
  reusePrefix?: boolean;
  /**
   * Start each knockout at its first blocked layer from the with-prompt run's residual stream (default true, where
   * the graph allows it): below that layer nothing is blocked, so nothing there can differ.
   */
  layerEntry?: boolean;
  /** At most this many knockout variants per engine call (default: as many as the memory bound allows). */
  maxRowsPerCall?: number;
}

export interface AnalyzeHooks {
  onProgress?: (p: AnalysisProgress) => void;
  /** Called with each stage as soon as it is complete (headline, then depth, then spans). */
  onStage?: (e: PartialEvent) => void;
  isCancelled?: () => boolean;
}

export async function analyze(m: HookedModel, tok: TextTokenizer, args: AnalyzeArgs, hooks: AnalyzeHooks = {}): Promise<AnalysisResult> {
  const t0 = performance.now();
  const onProgress = hooks.onProgress ?? (() => {});
  const emit = <S extends AnalysisStage>(stage: S, data: Extract<PartialEvent, { stage: S }>['data']) => hooks.onStage?.({ stage, data } as PartialEvent);
  const c = m.config;
  const structure = m.analyze();
  if (structure.attentionProblem) throw new InputError(structure.attentionProblem, 'model');
  onProgress({ stage: 'tokenize', done: 0, total: 1 });

  const plan = planAnalysis(c, tok, args);
  const tTok = performance.now();
  const exec = new Executor(m, plan, {
    maxBatchMB: args.maxBatchMB ?? settings().maxBatchMB,
    reusePrefix: args.reusePrefix !== false,
    layerEntry: args.layerEntry !== false,
    maxRowsPerCall: args.maxRowsPerCall,
    isCancelled: hooks.isCancelled ?? (() => false),
  });
  const firstSpans = plan.hasKnockouts && plan.options.spanKnockouts ? spanVariants(plan.spans, c.nLayer) : [];
  let total = 3 + plan.depth.length + firstSpans.length;
  let done = 0;
  const step = (stage: AnalysisProgress['stage'], k = 1) => {
    done += k;
    onProgress({ stage, done, total });
  };
  onProgress({ stage: 'forward', done, total });

  // --- headline: the with-prompt run (hooks for the read shares) and the no-prompt runs
  // Held only until the headline is assembled: its attention patterns ([L][H,T,T]) and logits rows are the largest
  // tensors of an analysis, and no later stage needs them.
  let withRun: WithPromptRun | null = await exec.withPrompt();
  step('forward');
  const no = await exec.noPrompt();
  step('forward');
  const tForward = performance.now();
  const model = { id: args.modelId, name: m.md.name, hash: m.modelHash, nLayer: c.nLayer, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx, vocabSize: c.vocabSize };
  const headline: HeadlineStage = headlineStage(plan, model, tok, withRun, no);
  const lossWith = withRun.lossWith;
  withRun = null;
  emit('headline', headline);

  // --- depth: D(k) and the layer profile, then the natural-position reference run
  const ko = plan.hasKnockouts ? new KnockoutLosses(lossWith.slice(1)) : null;
  const ran: Variant[] = [];
  const runVariants = async (vs: Variant[]) => {
    if (!ko || !vs.length) return;
    ko.add(await exec.knockouts(vs, (k) => step('knockout', k)));
    ran.push(...vs);
  };
  await runVariants(plan.depth);
  const natural = naturalReference(await exec.noPromptNatural(), lossWith);
  step('knockout');
  const depth: DepthStage = depthStage(plan, ko, headline.summary.meanBenefitRead, natural);
  emit('depth', depth);

  // --- spans: the first cut, then (auto) words inside the spans that matter most
  await runVariants(firstSpans);
  let spans: SpansStage = spansStage(plan, plan.spans, ko);
  if (plan.refine && ko && firstSpans.length) {
    const words = refineSpans(plan, spans.spans);
    const more = spanVariants(words, c.nLayer, plan.spans.length);
    total += more.length;
    await runVariants(more);
    spans = spansStage(plan, [...plan.spans, ...words], ko);
  }
  emit('spans', spans);
  const tKo = performance.now();
  onProgress({ stage: 'metrics', done, total });

  const tEnd = performance.now();
  const result = assembleResult(headline, depth, spans, variantSummaries(headline, depth, ran, ko), {
    tokenizeMs: tTok - t0,
    forwardMs: tForward - tTok,
    knockoutMs: tKo - tForward,
    metricsMs: tEnd - tKo,
    totalMs: tEnd - t0,
    engineCalls: exec.calls,
  });
  onProgress({ stage: 'done', done: total, total });
  return result;
}
