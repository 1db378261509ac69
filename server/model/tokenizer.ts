// Tokenization with Hugging Face's tokenizers for JS, from a model directory's tokenizer.json.
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelDirError, readJson, type ModelDir } from './model-dir.js';

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  /**
   * Each token's text, for labelling tokens in the UI and exports; joined, they give the decoded text. A character
   * whose bytes span several tokens (byte-level BPE: accents, emoji, CJK) is given to the token that completes it.
   */
  tokenStrings(ids: number[]): string[];
  /** The id put at position 0: the BOS token, or EOS where the model has none (reported by `bosSource`). */
  bosId: number;
  bosSource: 'bos' | 'eos';
  vocabSize: number;
}

export function loadTokenizer(md: ModelDir): TextTokenizer {
  const json = readJson(md.tokenizerPath);
  const cfg = md.tokenizerConfigPath ? readJson(md.tokenizerConfigPath) : {};
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as never, cfg as never);
  } catch (e) {
    throw new ModelDirError(`${md.tokenizerPath}: cannot build a tokenizer (${(e as Error).message})`);
  }
  const special = (key: string): number | null => {
    const v = cfg[key];
    const s = typeof v === 'string' ? v : v && typeof v === 'object' && 'content' in v ? String((v as { content: unknown }).content) : null;
    if (!s) return null;
    const id = tok.token_to_id(s);
    return typeof id === 'number' ? id : null;
  };
  const bos = md.config.bosTokenId ?? special('bos_token');
  const eos = md.config.eosTokenId ?? special('eos_token');
  if (bos === null && eos === null) {
    throw new ModelDirError(`${md.configPath}: the model has neither bos_token_id nor eos_token_id; one is needed at position 0`);
  }
  return {
    encode: (text) => (text === '' ? [] : tok.encode(text, { add_special_tokens: false }).ids),
    decode: (ids) => (ids.length === 0 ? '' : tok.decode(ids)),
    tokenStrings: (ids) => tokenTexts(ids, (part) => tok.decode(part)),
    bosId: (bos ?? eos)!,
    bosSource: bos !== null ? 'bos' : 'eos',
    vocabSize: md.config.vocabSize,
  };
}

/**
 * Token texts by incremental decoding: decoding a token alone splits a multi-byte character into U+FFFD halves, so
 * tokens are decoded in groups until the group ends on a complete character (at most 4 tokens: UTF-8's longest).
 */
export function tokenTexts(ids: readonly number[], decode: (ids: number[]) => string): string[] {
  const out: string[] = [];
  let start = 0;
  let emitted = 0;
  for (let k = 0; k < ids.length; k++) {
    const text = decode(ids.slice(start, k + 1));
    const incomplete = text.endsWith('\uFFFD') && k < ids.length - 1 && k - start < 3;
    if (incomplete) {
      // The complete characters so far belong to this token; the dangling bytes wait for the next one.
      const stable = text.replace(/\uFFFD+$/, '');
      out.push(stable.slice(emitted));
      emitted = Math.max(emitted, stable.length);
    } else {
      out.push(text.slice(emitted));
      start = k + 1;
      emitted = 0;
    }
  }
  return out;
}
