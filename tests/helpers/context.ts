// Texts sized from a model's own context and tokenizer, so that a test of "longer than the context" holds for any model.
import type { ModelDir } from '../../server/model/model-dir.js';
import { loadTokenizer } from '../../server/model/tokenizer.js';

/**
 * Words that alone fill `md`'s context on its own tokenizer (at least nCtx tokens, checked): with the BOS token, and
 * any prompt, the sequence is longer than the context.
 */
export function overflowingText(md: ModelDir): string {
  const n = md.config.nCtx;
  const text = 'word '.repeat(n);
  const count = loadTokenizer(md).encode(text).length;
  if (count < n) throw new Error(`${md.dir}: ${n} words make only ${count} tokens on its tokenizer, not the context of ${n}`);
  return text;
}
