// Registers the analysis as a worker task, so analyses run off the HTTP event loop.
import { registerTask } from '../engine/tasks.js';
import { loadTokenizer, type TextTokenizer } from '../model/tokenizer.js';
import { analyze, type AnalyzeArgs } from './analyze.js';
import type { AnalysisProgress } from '../../shared/analysis.js';

const tokenizers = new Map<string, TextTokenizer>();

export interface AnalyzeTaskArgs extends AnalyzeArgs {
  modelDir: string;
}

registerTask('analyze', async (raw, ctx) => {
  const args = raw as AnalyzeTaskArgs;
  const m = ctx.model(args.modelDir);
  let tok = tokenizers.get(args.modelDir);
  if (!tok) {
    tok = loadTokenizer(m.md);
    tokenizers.set(args.modelDir, tok);
  }
  return analyze(m, tok, args, (p: AnalysisProgress) => ctx.progress(p), ctx.isCancelled);
});

registerTask('tokenize', async (raw, ctx) => {
  const { modelDir, text } = raw as { modelDir: string; text: string };
  const m = ctx.model(modelDir);
  let tok = tokenizers.get(modelDir);
  if (!tok) {
    tok = loadTokenizer(m.md);
    tokenizers.set(modelDir, tok);
  }
  const ids = tok.encode(text);
  return { ids, strings: tok.tokenStrings(ids) };
});
