// One validation of an analysis request, used by the HTTP API, the CLI, the web client and the analysis itself.
import { DEFAULT_ANALYSIS_OPTIONS, type AnalysisOptions } from './analysis.js';
import { InputError } from './errors.js';
import { parseMarkedPrompt, type MarkedPrompt } from './metrics/spans.js';

export interface AnalysisRequestText {
  prompt: string;
  input: string;
  options?: Partial<AnalysisOptions>;
}

export interface CheckedRequest {
  marked: MarkedPrompt;
  /** Defaults filled in: `auto` spans unless the request says otherwise. */
  options: AnalysisOptions;
}

/**
 * Checks what can be checked from the text alone (no tokenizer, no model): the prompt's span markers parse, the
 * prompt and the input are not empty, `marked` spans have segments. Throws InputError naming the field.
 */
export function checkAnalysisRequest(req: AnalysisRequestText): CheckedRequest {
  let marked: MarkedPrompt;
  try {
    marked = parseMarkedPrompt(req.prompt);
  } catch (e) {
    throw new InputError((e as Error).message, 'prompt');
  }
  if (marked.text === '') {
    throw new InputError('the prompt is empty: with no prompt there is nothing to measure (every benefit and read share would be 0)', 'prompt');
  }
  if (req.input === '') throw new InputError('the input text is empty; it needs at least one token', 'input');
  const options: AnalysisOptions = { ...DEFAULT_ANALYSIS_OPTIONS, ...req.options };
  if (options.spans === 'marked' && marked.segments.length === 0) {
    throw new InputError('span mode "marked" needs at least one {{name|text}} segment in the prompt', 'options.spans');
  }
  return { marked, options };
}

/** Checks the request's token counts and options against the model; throws InputError naming the field. */
export function checkAgainstModel(
  counts: { p: number; n: number },
  model: { nCtx: number; nLayer: number },
  options: Pick<AnalysisOptions, 'layerWindow'>,
): void {
  const { p, n } = counts;
  if (p === 0) throw new InputError('the prompt tokenizes to nothing; it needs at least one token', 'prompt');
  if (n === 0) throw new InputError('the input text tokenizes to nothing; it needs at least one token', 'input');
  const T = 1 + p + n;
  if (T > model.nCtx) {
    throw new InputError(
      `[BOS] + prompt (${p} tokens) + input (${n} tokens) = ${T} tokens, longer than the model's context of ${model.nCtx}`,
      p + 1 >= model.nCtx ? 'prompt' : 'input',
    );
  }
  const maxWindow = Math.max(0, model.nLayer - 1);
  if (options.layerWindow > maxWindow) {
    throw new InputError(`${options.layerWindow} is wider than the model needs: with ${model.nLayer} layers a radius of ${maxWindow} already blocks every layer`, 'options.layerWindow');
  }
}
