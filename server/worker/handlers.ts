// What each job of the table does, inside the worker thread: the layer that wires the engine to the analysis.
import { CancelledError, InputError } from '../../shared/errors.js';
import { analyze } from '../analysis/analyze.js';
import type { HookedModel } from '../engine/hooked-model.js';
import type { RecurrentModel } from '../engine/recurrent-model.js';
import { analyzeRecurrent } from '../analysis/recurrent-analyze.js';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.js';
import { promptContinuations, raceCells } from '../search/race-cells.js';
import type { JobArgs, JobName, JobPartial, JobProgress, JobResult } from './jobs.js';

export interface JobContext<K extends JobName> {
  model(dir: string): HookedModel;
  /** The recurrent engine for a recurrent model directory (RWKV), else null: such models never reach `model`. */
  recurrent(dir: string): RecurrentModel | null;
  progress(p: JobProgress<K>): void;
  partial(p: JobPartial<K>): void;
  isCancelled(): boolean;
}

type Handlers = { [K in JobName]: (args: JobArgs<K>, ctx: JobContext<K>) => Promise<JobResult<K>> };

const tokenizers = new Map<string, TextTokenizer>();

function tokenizer(m: { md: HookedModel['md'] }): TextTokenizer {
  let tok = tokenizers.get(m.md.dir);
  if (!tok) {
    tok = loadTokenizer(m.md);
    tokenizers.set(m.md.dir, tok);
  }
  return tok;
}

export const handlers: Handlers = {
  analyze: async (args, ctx) => {
    const rnn = ctx.recurrent(args.modelDir);
    if (rnn) return analyzeRecurrent(rnn, tokenizer(rnn), args, { onProgress: ctx.progress, onStage: ctx.partial, isCancelled: ctx.isCancelled });
    const m = ctx.model(args.modelDir);
    return analyze(m, tokenizer(m), args, { onProgress: ctx.progress, onStage: ctx.partial, isCancelled: ctx.isCancelled });
  },
  race: async ({ modelDir, ...args }, ctx) => {
    if (ctx.recurrent(modelDir)) throw new InputError('prompt search runs on transformer graphs; this recurrent model is not supported yet', 'model');
    const m = ctx.model(modelDir);
    return raceCells(m, tokenizer(m), args, ctx.isCancelled);
  },
  continuations: async ({ modelDir, ...args }, ctx) => {
    if (ctx.recurrent(modelDir)) throw new InputError('prompt search runs on transformer graphs; this recurrent model is not supported yet', 'model');
    const m = ctx.model(modelDir);
    return promptContinuations(m, tokenizer(m), args, ctx.isCancelled);
  },
  tokenize: async ({ modelDir, text }, ctx) => {
    const tok = tokenizer(ctx.recurrent(modelDir) ?? ctx.model(modelDir));
    const ids = tok.encode(text);
    return { ids, strings: tok.tokenStrings(ids) };
  },
  sleep: async ({ ms }, ctx) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (ctx.isCancelled()) throw new CancelledError();
      await new Promise((r) => setTimeout(r, 10));
    }
    return { slept: ms };
  },
};
